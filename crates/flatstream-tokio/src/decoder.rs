//! [`FrameDecoder`]: the read half of the codec, and the one engine of every async reader.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use flatstream_core::wire::MAX_HEADER_LEN;
use flatstream_core::{Deframer, Error, Result};
use flatstream_io::{PayloadPlace, Progress, address_range};
use tokio_util::codec::Decoder;

/// Decodes frames with any [`Deframer`] (checksums, validators, bounds, observers,
/// decompression: every adapter of the blocking readers) from a byte buffer that fills as
/// bytes arrive: a `tokio_util` [`Decoder`] of [`Bytes`] payloads, and the engine of
/// [`AsyncStreamReader`](crate::AsyncStreamReader).
///
/// Like tokio-util's `LengthDelimitedCodec`, it keeps the frame length it has read between
/// calls, so a frame that arrives in many pieces has its header parsed once. The length is
/// checked against the deframer's limit (and any [`bounded`](flatstream_io::DeframerExt::bounded)
/// adapter) as soon as the length field has arrived, before the buffer is reserved for the
/// frame. Frames are counted and errors located by the same [`Progress`] as the blocking
/// readers', so errors carry the same frame index and byte offset.
///
/// A payload the deframer passes through is split from the read buffer without a copy; one
/// it transforms (decompression) is decoded into a reused buffer, and as a [`Bytes`] item it
/// is copied out of it (the async reader's [`read_message`](crate::AsyncStreamReader::read_message)
/// lends it instead, and allocates nothing).
pub struct FrameDecoder<D> {
    deframer: D,
    progress: Progress,
    /// The length of the frame being gathered, once its length field has arrived.
    state: DecodeState,
    /// Where a transforming deframer puts payloads.
    scratch: Vec<u8>,
}

/// The most the decoder reserves in the read buffer at a time for a frame still arriving.
const RESERVE_STEP: usize = 64 * 1024;

/// What the decoder knows of the frame it is gathering, kept between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DecodeState {
    /// Waiting for the length field.
    Head,
    /// The frame spans this many bytes on the wire, header included.
    Data(usize),
    /// An error stopped the decoder inside a frame.
    Stopped,
}

/// Where a decoded frame's payload lies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoded {
    /// Whether the frame holds a message; if not (an encrypted stream's final frame), it is
    /// consumed and reading goes on.
    pub(crate) message: bool,
    /// In the read buffer (the frame is not consumed yet), or in the decoder's scratch buffer
    /// (the frame can be consumed at once).
    pub(crate) in_buffer: bool,
    pub(crate) start: usize,
    pub(crate) len: usize,
    /// Bytes of the frame on the wire: what to consume from the read buffer.
    pub(crate) frame_len: usize,
}

/// A failed frame: the error, located, and how many bytes of the read buffer it consumed
/// (the whole frame when reading can go on, none when it stopped the decoder).
pub(crate) struct Failed {
    pub(crate) error: Error,
    pub(crate) consumed: usize,
}

impl<D: fmt::Debug> fmt::Debug for FrameDecoder<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("deframer", &self.deframer)
            .field("progress", &self.progress)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<D: Deframer> FrameDecoder<D> {
    /// A decoder of the frames `deframer` reads.
    pub fn new(deframer: D) -> Self {
        FrameDecoder {
            deframer,
            progress: Progress::default(),
            state: DecodeState::Head,
            scratch: Vec::new(),
        }
    }

    /// Frames decoded whole (delivered, or rejected after being read in full): the index of
    /// the next one.
    pub fn frames_read(&self) -> u64 {
        self.progress.frames_read()
    }

    /// Bytes of whole frames decoded: the offset of the next frame in the input, and after
    /// an error that stopped the decoder, where the last good frame ended.
    pub fn position(&self) -> u64 {
        self.progress.position()
    }

    /// The deframer in use.
    pub fn deframer(&self) -> &D {
        &self.deframer
    }

    /// Returns the deframer; the decoder's place in the stream is dropped.
    pub fn into_deframer(self) -> D {
        self.deframer
    }

    /// Bytes the buffer must hold before the next frame can be decoded: the whole frame
    /// once its length is known, else the longest header.
    pub(crate) fn needed(&self) -> usize {
        match self.state {
            DecodeState::Head | DecodeState::Stopped => MAX_HEADER_LEN,
            DecodeState::Data(frame_len) => frame_len,
        }
    }

    /// The payload of a frame decoded into the scratch buffer.
    pub(crate) fn scratch(&self, decoded: Decoded) -> &[u8] {
        &self.scratch[decoded.start..decoded.start + decoded.len]
    }

    /// Decodes the frame at the start of `input` if it has arrived whole; `Ok(None)` when
    /// more bytes are needed. Consumes nothing: the caller drops `frame_len` (or, after an
    /// error, `consumed`) bytes from its buffer.
    // Always: the per-frame work of every async read; measured against the codec it replaced
    // (64 B frames, paired rounds).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub(crate) fn next_frame(
        &mut self,
        input: &[u8],
    ) -> std::result::Result<Option<Decoded>, Failed> {
        let frame_len = match self.state {
            DecodeState::Head => match self.deframer.peek_frame_len(input) {
                Ok(Some(frame_len)) if frame_len <= input.len() => frame_len,
                Ok(Some(frame_len)) => {
                    // Kept, so the header is parsed once however many pieces the frame
                    // comes in.
                    self.state = DecodeState::Data(frame_len);
                    return Ok(None);
                }
                Ok(None) => return Ok(None),
                Err(error) => return Err(self.fail(error)),
            },
            DecodeState::Data(frame_len) if frame_len <= input.len() => {
                self.state = DecodeState::Head;
                frame_len
            }
            DecodeState::Data(_) => return Ok(None),
            DecodeState::Stopped => return Err(self.refusal()),
        };
        let input_at = input.as_ptr().addr();
        match self
            .deframer
            .decode_frame(&input[..frame_len], &mut self.scratch)
        {
            Ok(Some(frame)) => {
                let (at, len, frame_len) = (
                    frame.payload.as_ptr().addr(),
                    frame.payload.len(),
                    frame.len,
                );
                let input = input_at..input_at + frame_len;
                let scratch = address_range(&self.scratch);
                let (in_buffer, start) =
                    match PayloadPlace::locate(at, len, input, scratch, frame_len) {
                        Ok(PayloadPlace::Input(start)) => (true, start),
                        Ok(PayloadPlace::Scratch(start)) => (false, start),
                        Err(error) => return Err(self.fail(error)),
                    };
                self.progress.advance(frame_len);
                Ok(Some(Decoded {
                    message: true,
                    in_buffer,
                    start,
                    len,
                    frame_len,
                }))
            }
            // A frame that ends the stream without a message: counted, and reading goes on.
            Ok(None) => {
                self.progress.skip(frame_len);
                Ok(Some(Decoded {
                    message: false,
                    in_buffer: false,
                    start: 0,
                    len: 0,
                    frame_len,
                }))
            }
            Err(error) => Err(self.fail(error)),
        }
    }

    /// The error for bytes left at the end of the stream that are not a whole frame: the
    /// deframer's own parse of them names the torn part.
    pub(crate) fn torn_tail(&mut self, rest: &[u8]) -> Error {
        let error = match self.deframer.decode_frame(rest, &mut self.scratch) {
            Err(error) => error,
            Ok(_) => Error::invalid_frame("a whole frame was left undecoded at end of stream"),
        };
        // A torn frame stops the decoder where the last good frame ended.
        let error = self.progress.fail(error);
        self.state = if self.progress.is_failed() {
            DecodeState::Stopped
        } else {
            DecodeState::Head
        };
        error
    }

    /// At a clean end of the input (no bytes left): lets the deframer say whether the stream
    /// may end here (a stream required to end with its final frame may not).
    pub(crate) fn end_of_stream(&mut self) -> Result<()> {
        match self.deframer.decode_frame(&[], &mut self.scratch) {
            Ok(_) => Ok(()),
            Err(error) => Err(self.fail(error).error),
        }
    }

    /// Locates an I/O error of the source at the frame being read, and stops the decoder.
    pub(crate) fn io_error(&mut self, error: std::io::Error) -> Error {
        self.fail(Error::from(error)).error
    }

    /// Locates an error from caller code at the frame it was handed.
    pub(crate) fn locate_delivered(&self, error: Error) -> Error {
        self.progress.locate_delivered(error)
    }

    /// A payload that is not in the read buffer (transformed into the scratch buffer), or a
    /// frame without a message, which is skipped: decoding goes on after it.
    fn decode_from_scratch(
        &mut self,
        src: &mut BytesMut,
        mut decoded: Decoded,
    ) -> Result<Option<Bytes>> {
        loop {
            src.advance(decoded.frame_len);
            if decoded.message {
                return Ok(Some(Bytes::copy_from_slice(self.scratch(decoded))));
            }
            decoded = match self.next_frame(src) {
                Ok(Some(next)) if next.in_buffer => return Ok(Some(split_payload(src, next))),
                Ok(Some(next)) => next,
                Ok(None) => return Ok(self.wait(src)),
                Err(failed) => return Err(consume_failed(src, failed)),
            };
        }
    }

    /// Reserves room for what the frame being gathered needs, 64 KiB at most at a time (a
    /// header that declares a large frame costs memory only as its bytes arrive); nothing to
    /// hand out yet.
    fn wait(&self, src: &mut BytesMut) -> Option<Bytes> {
        src.reserve(self.needed().saturating_sub(src.len()).min(RESERVE_STEP));
        None
    }

    /// The error of a decoder that an earlier error stopped.
    #[cold]
    fn refusal(&self) -> Failed {
        let error = match self.progress.check_usable() {
            Err(error) => error,
            Ok(()) => Error::invalid_frame("the decoder stopped at an earlier error"),
        };
        Failed { error, consumed: 0 }
    }

    #[cold]
    fn fail(&mut self, error: Error) -> Failed {
        let error = self.progress.fail(error);
        if self.progress.is_failed() {
            self.state = DecodeState::Stopped;
        }
        let consumed = error.frame_len().map_or(0, |frame_len| frame_len as usize);
        Failed { error, consumed }
    }
}

impl<D: Deframer> Decoder for FrameDecoder<D> {
    type Item = Bytes;
    type Error = Error;

    #[inline]
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>> {
        match self.next_frame(src) {
            Ok(Some(decoded)) if decoded.in_buffer => Ok(Some(split_payload(src, decoded))),
            Ok(Some(decoded)) => self.decode_from_scratch(src, decoded),
            Ok(None) => Ok(self.wait(src)),
            Err(failed) => Err(consume_failed(src, failed)),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>> {
        if let Some(payload) = self.decode(src)? {
            return Ok(Some(payload));
        }
        if src.is_empty() {
            self.end_of_stream()?;
            return Ok(None);
        }
        let error = self.torn_tail(src);
        src.clear();
        Err(error)
    }
}

/// The payload of a frame that lies in the read buffer, split from it without a copy.
#[inline]
fn split_payload(src: &mut BytesMut, decoded: Decoded) -> Bytes {
    let frame = src.split_to(decoded.frame_len).freeze();
    frame.slice(decoded.start..decoded.start + decoded.len)
}

/// Drops what a failed frame consumed from the read buffer, and returns its error.
fn consume_failed(src: &mut BytesMut, failed: Failed) -> Error {
    src.advance(failed.consumed);
    failed.error
}
