//! [`EncryptingFramer`] and [`DecryptingDeframer`], made by [`EncryptFramerExt::encrypted`]
//! and [`DecryptDeframerExt::decrypted`].
//!
//! They wrap a framer or deframer as the io crate's adapters do. Writing, the payload is
//! sealed before the inner framer checksums and writes it; reading, the inner deframer reads
//! and verifies the frame as it is on the wire, then the payload is opened:
//!
//! ```text
//! write: payload -> [compress] -> encrypt -> checksum + header -> wire
//! read:  wire -> header + checksum -> decrypt -> [decompress] -> payload
//! ```
//!
//! So a flipped bit is a checksum error before any decryption, and `verify`, `recover` and
//! `salvage` work on the stream without the key.

use std::io::{Read, Write};

use flatstream_core::wire::Frame;
use flatstream_core::{Deframer, Error, ErrorKind, Framer, Result};

use crate::key::{Cipher, Key, STREAM_ID_LEN, StreamId};
use crate::seal::{FINAL_FLAG, HEADER_LEN, MAX_SEQUENCE, OVERHEAD, StreamCipher, header};

/// Encrypts every payload before the inner framer checksums and writes it, and closes the
/// stream with an authenticated final frame on [`finish`](Framer::finish).
///
/// Each frame's nonce is the stream id and the frame's sequence number, so no two frames
/// under one key share a nonce while stream ids do not repeat (128 random bits). The
/// sequence number advances even when the inner framer fails (an I/O error may have left
/// part of the frame on the wire, and it is never sealed again under the same nonce), except
/// for a payload the inner framer refused before writing anything (a size bound, a
/// validator: `FrameTooLarge`, `ValidationFailed`), whose number is given back so that
/// readers see no gap.
///
/// The sealed bytes go to one buffer that is reused, so steady state allocates nothing.
pub struct EncryptingFramer<F> {
    inner: F,
    cipher: StreamCipher,
    stream_id: StreamId,
    next_sequence: u64,
    finished: bool,
    sealed: Vec<u8>,
}

impl<F: std::fmt::Debug> std::fmt::Debug for EncryptingFramer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptingFramer")
            .field("inner", &self.inner)
            .field("cipher", &self.cipher.cipher())
            .field("stream_id", &self.stream_id)
            .field("next_sequence", &self.next_sequence)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<F: Framer> EncryptingFramer<F> {
    /// Wraps `inner`, encrypting with `cipher` under `key` as a new stream with a random id.
    ///
    /// # Errors
    ///
    /// The operating system's random source failing, as an I/O error.
    pub fn new(inner: F, key: &Key, cipher: Cipher) -> Result<Self> {
        Ok(Self::with_stream_id(
            inner,
            key,
            cipher,
            StreamId::generate()?,
        ))
    }

    /// Wraps `inner`, encrypting as the stream `stream_id`: for reproducible test vectors.
    /// **An id must never be used twice under one key**: frames of two such streams would
    /// share nonces, which breaks both ciphers. Use [`new`](Self::new) otherwise.
    pub fn with_stream_id(inner: F, key: &Key, cipher: Cipher, stream_id: StreamId) -> Self {
        EncryptingFramer {
            inner,
            cipher: StreamCipher::new(key, cipher, stream_id),
            stream_id,
            next_sequence: 0,
            finished: false,
            sealed: Vec::new(),
        }
    }

    /// The cipher in use.
    pub fn cipher(&self) -> Cipher {
        self.cipher.cipher()
    }

    /// The stream's id, which every frame carries.
    pub fn stream_id(&self) -> StreamId {
        self.stream_id
    }

    /// The wrapped framer.
    pub fn into_inner(self) -> F {
        self.inner
    }

    fn write_sealed<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
        flags: u64,
    ) -> Result<usize> {
        if self.finished {
            return Err(Error::invalid_frame(
                "the encrypted stream is finished: its final frame was written",
            ));
        }
        let sequence = self.next_sequence;
        if sequence > MAX_SEQUENCE {
            return Err(Error::invalid_frame(
                "the encrypted stream has used every sequence number",
            ));
        }
        self.next_sequence += 1;
        self.sealed.clear();
        self.cipher.seal(
            &header(self.stream_id, sequence | flags),
            payload,
            &mut self.sealed,
        )?;
        self.inner
            .frame_and_write(writer, &self.sealed)
            .inspect_err(|error| {
                // A payload the inner framer refused before writing (a size bound, a
                // validator) gives its number back, so readers see no gap. Any other error
                // may have left part of the frame on the wire: its nonce stays used.
                if matches!(
                    error.kind(),
                    ErrorKind::FrameTooLarge { .. } | ErrorKind::ValidationFailed { .. }
                ) {
                    self.next_sequence = sequence;
                }
            })
    }
}

impl<F: Framer> Framer for EncryptingFramer<F> {
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        self.write_sealed(writer, payload, 0)
    }

    /// Writes the final frame (an empty payload sealed with the final flag and the next
    /// sequence number, so it also attests how many frames came before it), then finishes
    /// the inner framer. A second call writes nothing.
    fn finish<W: Write + ?Sized>(&mut self, writer: &mut W) -> Result<usize> {
        if self.finished {
            return Ok(0);
        }
        let final_len = self.write_sealed(writer, &[], FINAL_FLAG)?;
        self.finished = true;
        Ok(final_len + self.inner.finish(writer)?)
    }
}

/// What opening a frame found.
enum Opened {
    /// A payload, now in the plaintext buffer.
    Message,
    /// The final frame.
    Final,
}

/// Decrypts every payload the inner deframer reads, and checks that each frame belongs to
/// the stream, in its place.
///
/// The first frame that authenticates sets the stream id (unless
/// [`expect_stream_id`](Self::expect_stream_id) did); each frame's sequence number must be
/// the one after the last authentic frame's. Every error consumes its frame whole, so the
/// reader can go on with the next:
///
/// - a frame that does not authenticate (wrong key or cipher, changed bytes):
///   [`AuthenticationFailed`](ErrorKind::AuthenticationFailed);
/// - an authentic frame whose sequence number jumped forward past frames that were not read
///   at all (as after a salvage): [`FramesMissing`](ErrorKind::FramesMissing) with the
///   count, and the frame is withheld unless [`accept_gaps`](Self::accept_gaps) is set.
///   Frames that failed to authenticate fill the gap they leave, so a changed frame is
///   reported once, not again as missing;
/// - a repeated or earlier sequence number, a frame of another stream, a frame after the
///   final frame: [`OutOfSequence`](ErrorKind::OutOfSequence).
///
/// With [`require_final`](Self::require_final), a stream that ends without its final frame
/// (cut at a frame boundary) ends in an `OutOfSequence` error instead of a clean end.
///
/// The wire bytes are read into a buffer of the adapter's own and decrypted into the
/// reader's payload buffer: both keep their capacity, so steady state allocates nothing.
///
/// Every reader can decrypt: [`read_frame`](Deframer::read_frame) for readers of `Read`
/// sources, [`decode_frame`](Deframer::decode_frame) (into the reader's reused buffer) for
/// readers of bytes in memory or in a buffer (`StreamReader::new`, `from_path` and
/// `in_place`, `SliceReader` and `MmapReader`'s `process_all`, the async reader). Only
/// [`parse_frame`](Deframer::parse_frame), whose payload must borrow the input, returns an
/// error. The final frame carries no message: the readers skip it. The in-memory readers
/// count its bytes in their position; the copying reader's position stops before it at a
/// clean end.
///
/// A clone reads the same stream afresh from its own place: it carries the place in the
/// sequence reached so far, so clone a new deframer for each stream.
///
/// Put adapters that check frames on the wire (`bounded`, a validator of sealed bytes)
/// *inside* this one: `read_frame` reads the frame after a final frame in the same call, so
/// an adapter outside it sees one length field per call, and that frame is held only to the
/// wrapped deframer's own `max_frame_len` (found by an outside attack; the in-memory readers
/// check it either way).
#[derive(Clone)]
pub struct DecryptingDeframer<D> {
    inner: D,
    opener: Opener,
    /// The sealed payload as the inner deframer read it.
    wire: Vec<u8>,
    /// Bytes of final frames `read_frame` consumed, until the reader takes them
    /// (`take_skipped`).
    unreported_final_len: usize,
    require_final: bool,
}

/// The key and the reader's place in the stream: everything [`Opener::open`] needs, apart
/// from the buffers, so that it can be called while the sealed payload borrows one of them.
#[derive(Clone)]
struct Opener {
    key: Key,
    cipher: Cipher,
    /// The cipher keyed for the last stream id tried, with that id.
    keyed: Option<(StreamId, StreamCipher)>,
    sequence: SequenceCheck,
    accept_gaps: bool,
}

impl<D: std::fmt::Debug> std::fmt::Debug for DecryptingDeframer<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptingDeframer")
            .field("inner", &self.inner)
            .field("cipher", &self.opener.cipher)
            .field("stream_id", &self.opener.sequence.stream_id)
            .field("next_sequence", &self.opener.sequence.next)
            .field("frames_missing", &self.opener.sequence.frames_missing)
            .field("require_final", &self.require_final)
            .field("accept_gaps", &self.opener.accept_gaps)
            .finish_non_exhaustive()
    }
}

/// Where the reader stands in the stream's sequence.
#[derive(Debug, Clone, Copy, Default)]
struct SequenceCheck {
    stream_id: Option<StreamId>,
    /// The sequence number expected next.
    next: u64,
    /// Frames consumed since the last authentic one without authenticating: they may hold
    /// the sequence numbers a gap skips.
    unauthenticated: u64,
    frames_missing: u64,
    saw_final: bool,
}

impl<D: Deframer> DecryptingDeframer<D> {
    /// Wraps `inner`, decrypting payloads sealed with `cipher` under `key`.
    pub fn new(inner: D, key: &Key, cipher: Cipher) -> Self {
        DecryptingDeframer {
            inner,
            opener: Opener {
                key: key.clone(),
                cipher,
                keyed: None,
                sequence: SequenceCheck::default(),
                accept_gaps: false,
            },
            wire: Vec::new(),
            unreported_final_len: 0,
            require_final: false,
        }
    }

    /// Requires the stream to end with its final frame (default: no): a stream without it
    /// was cut short. Reading only.
    #[must_use]
    pub fn require_final(mut self, require_final: bool) -> Self {
        self.require_final = require_final;
        self
    }

    /// Delivers the authentic frame after a gap in sequence numbers, counting the gap in
    /// [`frames_missing`](Self::frames_missing), instead of reporting it as an error
    /// (default: report). For a salvaged stream whose losses are known. Reading only.
    #[must_use]
    pub fn accept_gaps(mut self, accept_gaps: bool) -> Self {
        self.opener.accept_gaps = accept_gaps;
        self
    }

    /// Accepts only frames of the stream `stream_id` (default: the first frame that
    /// authenticates sets it). Binds a stream to what the caller knows of it, so that one
    /// stream wholly replaced by another under the same key is found. Reading only.
    #[must_use]
    pub fn expect_stream_id(mut self, stream_id: StreamId) -> Self {
        self.opener.sequence.stream_id = Some(stream_id);
        self
    }

    /// The stream's id, once a frame authenticated (or as expected).
    pub fn stream_id(&self) -> Option<StreamId> {
        self.opener.sequence.stream_id
    }

    /// How many sequence numbers were skipped by gaps so far.
    pub fn frames_missing(&self) -> u64 {
        self.opener.sequence.frames_missing
    }

    /// Whether the final frame was read.
    pub fn saw_final(&self) -> bool {
        self.opener.sequence.saw_final
    }

    /// The cipher in use.
    pub fn cipher(&self) -> Cipher {
        self.opener.cipher
    }

    /// The wrapped deframer.
    pub fn into_inner(self) -> D {
        self.inner
    }

    /// Counts a frame the inner deframer consumed and rejected (a checksum mismatch) as one
    /// that may hold a sequence number a later gap skips: it was reported already.
    fn rejected_by_inner(&mut self, error: Error) -> Error {
        if error.frame_len().is_some() {
            self.opener.sequence.unauthenticated += 1;
        }
        error
    }
}

impl Opener {
    /// Opens one frame's payload as it was on the wire (`sealed`) into `plaintext`, and
    /// checks its place in the stream. The one decryption path of every reader.
    fn open(&mut self, sealed: &[u8], plaintext: &mut Vec<u8>) -> Result<Opened> {
        plaintext.clear();
        let sequence = &mut self.sequence;
        if sequence.saw_final {
            return Err(out_of_sequence("a frame after the final frame"));
        }
        let Some((header, body)) = sealed.split_first_chunk::<HEADER_LEN>() else {
            sequence.unauthenticated += 1;
            return Err(too_short(sealed.len()));
        };
        if body.len() < OVERHEAD - HEADER_LEN {
            sequence.unauthenticated += 1;
            return Err(too_short(sealed.len()));
        }
        let (id, word) = header.split_at(STREAM_ID_LEN);
        let stream_id = StreamId(id.try_into().expect("split at the id's length"));
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes after the id"));
        let cipher = match &self.keyed {
            Some((keyed_id, cipher)) if *keyed_id == stream_id => cipher,
            _ => {
                let cipher = StreamCipher::new(&self.key, self.cipher, stream_id);
                &self.keyed.insert((stream_id, cipher)).1
            }
        };
        if let Err(error) = cipher.open(header, body, plaintext) {
            sequence.unauthenticated += 1;
            return Err(error);
        }
        // Only an authentic frame can be from another stream: a changed id fails above.
        match sequence.stream_id {
            Some(expected) if expected != stream_id => {
                plaintext.clear();
                return Err(out_of_sequence(format!(
                    "a frame of another stream ({stream_id}, not {expected})"
                )));
            }
            _ => sequence.stream_id = Some(stream_id),
        }
        let is_final = word & FINAL_FLAG != 0;
        let number = word & MAX_SEQUENCE;
        let expected = sequence.next;
        if number < expected {
            plaintext.clear();
            return Err(out_of_sequence(format!(
                "sequence number {number} repeats or goes back (expected {expected})"
            )));
        }
        // Frames that failed to authenticate may be the ones skipped: each is reported already.
        let missing = (number - expected).saturating_sub(sequence.unauthenticated);
        sequence.unauthenticated = 0;
        sequence.next = number + 1;
        sequence.frames_missing += missing;
        if is_final {
            sequence.saw_final = true;
            if !plaintext.is_empty() {
                plaintext.clear();
                return Err(Error::invalid_frame("a final frame with a payload"));
            }
        }
        if missing > 0 && !self.accept_gaps {
            plaintext.clear();
            return Err(Error::new(ErrorKind::FramesMissing {
                count: missing,
                expected,
                found: number,
            }));
        }
        Ok(if is_final {
            Opened::Final
        } else {
            Opened::Message
        })
    }
}

impl<D: Deframer> Deframer for DecryptingDeframer<D> {
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        loop {
            let read = self.inner.read_frame(reader, &mut self.wire);
            let Some(frame_len) = read.map_err(|error| self.rejected_by_inner(error))? else {
                if self.require_final && !self.opener.sequence.saw_final {
                    return Err(out_of_sequence(
                        "the stream ends without its final frame: it was cut short",
                    ));
                }
                return Ok(None);
            };
            // The final frame is not handed on: its bytes wait for the reader's
            // `take_skipped`, which counts them before the frame after it (or the end).
            match self.opener.open(&self.wire, payload) {
                Ok(Opened::Message) => return Ok(Some(frame_len)),
                Ok(Opened::Final) => self.unreported_final_len += frame_len,
                Err(error) => return Err(error.with_frame_len(frame_len as u64)),
            }
        }
    }

    fn parse_frame<'a>(&mut self, _input: &'a [u8]) -> Result<Option<Frame<'a>>> {
        Err(Error::invalid_frame(
            "a decrypting deframer's payloads are not in its input: read them with \
             process_all (SliceReader, MmapReader) or a StreamReader",
        ))
    }

    fn decode_frame<'a>(
        &mut self,
        input: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<Frame<'a>>> {
        let decoded = self.inner.decode_frame(input, &mut self.wire);
        let frame = match decoded {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                if self.require_final && !self.opener.sequence.saw_final {
                    return Err(out_of_sequence(
                        "the stream ends without its final frame: it was cut short",
                    ));
                }
                return Ok(None);
            }
            Err(error) => return Err(self.rejected_by_inner(error)),
        };
        let len = frame.len;
        match self.opener.open(frame.payload, scratch) {
            Ok(Opened::Message) => Ok(Some(Frame {
                payload: scratch,
                len,
            })),
            // The final frame ends the stream without a message: the reader consumes it
            // (`peek_frame_len` gives its length) and reads on, so bytes after it are found.
            Ok(Opened::Final) => Ok(None),
            Err(error) => Err(error.with_frame_len(len as u64)),
        }
    }

    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>> {
        self.inner.peek_frame_len(input)
    }

    #[inline]
    fn take_skipped(&mut self) -> usize {
        std::mem::take(&mut self.unreported_final_len)
    }
}

fn out_of_sequence(reason: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::OutOfSequence {
        reason: reason.into(),
    })
}

fn too_short(len: usize) -> Error {
    Error::invalid_frame(format!(
        "an encrypted payload of {len} bytes is shorter than its {OVERHEAD}-byte header and tag"
    ))
}

/// [`encrypted`](Self::encrypted) for every [`Framer`].
pub trait EncryptFramerExt: Framer + Sized {
    /// Encrypts each payload with XChaCha20-Poly1305 under `key`, as a new stream with a
    /// random id, before this framer checksums and writes it.
    ///
    /// # Errors
    ///
    /// The operating system's random source failing, as an I/O error.
    fn encrypted(self, key: &Key) -> Result<EncryptingFramer<Self>> {
        EncryptingFramer::new(self, key, Cipher::XChaCha20Poly1305)
    }

    /// As [`encrypted`](Self::encrypted), with the cipher given.
    ///
    /// # Errors
    ///
    /// The operating system's random source failing, as an I/O error.
    fn encrypted_with(self, key: &Key, cipher: Cipher) -> Result<EncryptingFramer<Self>> {
        EncryptingFramer::new(self, key, cipher)
    }
}

impl<F: Framer> EncryptFramerExt for F {}

/// [`decrypted`](Self::decrypted) for every [`Deframer`].
pub trait DecryptDeframerExt: Deframer + Sized {
    /// Decrypts each payload sealed with XChaCha20-Poly1305 under `key`, after this deframer
    /// reads and verifies it.
    fn decrypted(self, key: &Key) -> DecryptingDeframer<Self> {
        DecryptingDeframer::new(self, key, Cipher::XChaCha20Poly1305)
    }

    /// As [`decrypted`](Self::decrypted), with the cipher given.
    fn decrypted_with(self, key: &Key, cipher: Cipher) -> DecryptingDeframer<Self> {
        DecryptingDeframer::new(self, key, cipher)
    }
}

impl<D: Deframer> DecryptDeframerExt for D {}
