//! [`SliceReader`]: frames read in place from bytes already in memory.

use flatstream_core::{Deframer, Result, StreamDeserialize};

use crate::progress::Progress;
use crate::reader::{Stride, process_plain_frames};

/// Reads frames from a byte slice; each payload borrows the slice itself.
///
/// Nothing is copied: a payload is `&'a [u8]` into the input, so a caller may keep several
/// at once, collect them, or hand them to other threads while reading goes on. Use it for
/// streams already in memory (a received buffer, a memory-mapped file).
///
/// ```
/// use flatstream_io::{DefaultDeframer, DefaultFramer, SliceReader, StreamWriter};
///
/// let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
/// writer.write_payload(b"first")?;
/// writer.write_payload(b"second")?;
/// let stream = writer.into_inner();
///
/// let reader = SliceReader::new(&stream, DefaultDeframer::new());
/// let payloads: Vec<&[u8]> = reader.collect::<Result<_, _>>()?; // all borrowed, none copied
/// assert_eq!(payloads, [&b"first"[..], &b"second"[..]]);
/// # Ok::<(), flatstream_core::Error>(())
/// ```
///
/// Errors and positions follow [`StreamReader`](crate::StreamReader): every error names its
/// frame and offset, a checksum mismatch or rejected payload can be stepped over, and a
/// torn or oversized frame stops the reader at the offset where the last good frame ended.
/// As an [`Iterator`] it yields each error once and ends after one that stops it.
#[derive(Debug, Clone)]
pub struct SliceReader<'a, D> {
    input: &'a [u8],
    deframer: D,
    progress: Progress,
    /// Where a deframer that transforms payloads (decompression) puts them.
    scratch: Vec<u8>,
    /// The last frame's length, which `read_message` moves on by when the next frame's is
    /// the same (see [`Stride`]).
    stride: Stride,
}

impl<'a, D: Deframer> SliceReader<'a, D> {
    /// A reader of the frames in `input`.
    pub fn new(input: &'a [u8], deframer: D) -> Self {
        SliceReader {
            input,
            deframer,
            progress: Progress::default(),
            scratch: Vec::new(),
            stride: Stride::default(),
        }
    }

    /// Parses the next frame and returns its payload, or `None` at the end of the input.
    ///
    /// The payload borrows the input, so a deframer that transforms payloads (decompression,
    /// decryption) cannot be read this way (or as an iterator): its
    /// [`parse_frame`](Deframer::parse_frame) reports an error; read it with
    /// [`process_all`](Self::process_all).
    ///
    /// # Errors
    ///
    /// As [`StreamReader::read_message`](crate::StreamReader::read_message), without I/O.
    // Always, as `StreamReader::read_message`: left to `#[inline]`, LLVM kept it out of a
    // caller's loop over 64 B frames, which read 1.45 to 1.5x as many frames a second once
    // it was inlined (harness outside the repository, AMD EPYC Zen 3).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn read_message(&mut self) -> Result<Option<&'a [u8]>> {
        self.progress.check_usable()?;
        let rest = &self.input[self.progress.position as usize..];
        match self.deframer.parse_frame(rest) {
            Ok(Some(frame)) => {
                self.progress.advance(self.stride.next(frame.len));
                Ok(Some(frame.payload))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(self.progress.fail(error)),
        }
    }

    /// Calls `process` with every payload until the end of the input.
    ///
    /// This is the one way to read with a deframer that transforms payloads (decompression,
    /// decryption): their payloads are not in the input, so they go through one reused
    /// buffer of the reader's and are lent to `process` for the call. Other deframers' payloads
    /// borrow the input, as with [`read_message`](Self::read_message).
    ///
    /// # Errors
    ///
    /// The first read error, or the first error `process` returns (located at its frame
    /// when it carries no location).
    #[inline]
    pub fn process_all<F>(&mut self, mut process: F) -> Result<()>
    where
        F: FnMut(&[u8]) -> Result<()>,
    {
        self.progress.check_usable()?;
        loop {
            // The plain frames in one run, then one frame the general way.
            let start = self.progress.position as usize;
            let mut used = 0;
            process_plain_frames(
                &self.input[start..],
                &mut used,
                &self.deframer,
                &mut self.progress,
                &mut process,
            )?;
            let rest = &self.input[start + used..];
            match self.deframer.decode_frame(rest, &mut self.scratch) {
                Ok(Some(frame)) => {
                    self.progress.advance(frame.len);
                    if let Err(error) = process(frame.payload) {
                        return Err(self.progress.locate_delivered(error));
                    }
                }
                Ok(None) => match self.deframer.peek_frame_len(rest) {
                    // A frame that ends the stream without a message: past it, read on.
                    Ok(Some(marker)) if marker > 0 && marker <= rest.len() => {
                        self.progress.skip(marker);
                    }
                    _ => return Ok(()),
                },
                Err(error) => return Err(self.progress.fail(error)),
            }
        }
    }

    /// Calls `process` with the typed view of every payload, as
    /// [`StreamReader::process_typed`](crate::StreamReader::process_typed) does.
    ///
    /// # Errors
    ///
    /// The first read error, payload that `T` rejects, or error from `process`.
    pub fn process_typed<T, F>(&mut self, mut process: F) -> Result<()>
    where
        T: for<'b> StreamDeserialize<'b> + ?Sized,
        F: for<'b> FnMut(<T as StreamDeserialize<'b>>::Root) -> Result<()>,
    {
        self.process_all(|payload| process(T::from_payload(payload)?))
    }

    /// How many frames were consumed whole: also the index of the next frame.
    pub fn frames_read(&self) -> u64 {
        self.progress.frames_read
    }

    /// Bytes of whole frames consumed: the offset where the next frame begins.
    pub fn position(&self) -> u64 {
        self.progress.position
    }

    /// The bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        &self.input[self.progress.position as usize..]
    }

    /// The deframer in use.
    pub fn deframer(&self) -> &D {
        &self.deframer
    }
}

impl<'a, D: Deframer> Iterator for SliceReader<'a, D> {
    type Item = Result<&'a [u8]>;

    // Always, as `read_message`: left to `#[inline]`, LLVM kept it out of `map`/`sum` over
    // the reader in functions of their own (`cargo xtask inlining`).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.progress.is_failed() {
            return None;
        }
        self.read_message().transpose()
    }
}
