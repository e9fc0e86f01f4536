//! [`SliceReader`]: frames read in place from bytes already in memory.

use flatstream_core::{Deframer, Result, StreamDeserialize};

use crate::progress::Progress;

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
}

impl<'a, D: Deframer> SliceReader<'a, D> {
    /// A reader of the frames in `input`.
    pub fn new(input: &'a [u8], deframer: D) -> Self {
        SliceReader {
            input,
            deframer,
            progress: Progress::default(),
        }
    }

    /// Parses the next frame and returns its payload, or `None` at the end of the input.
    ///
    /// # Errors
    ///
    /// As [`StreamReader::read_message`](crate::StreamReader::read_message), without I/O.
    #[inline]
    pub fn read_message(&mut self) -> Result<Option<&'a [u8]>> {
        self.progress.check_usable()?;
        let rest = &self.input[self.progress.position as usize..];
        match self.deframer.parse_frame(rest) {
            Ok(Some(frame)) => {
                self.progress.advance(frame.len);
                Ok(Some(frame.payload))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(self.progress.fail(error)),
        }
    }

    /// Calls `process` with every payload until the end of the input.
    ///
    /// # Errors
    ///
    /// The first read error, or the first error `process` returns (located at its frame
    /// when it carries no location).
    pub fn process_all<F>(&mut self, mut process: F) -> Result<()>
    where
        F: FnMut(&'a [u8]) -> Result<()>,
    {
        while let Some(payload) = self.read_message()? {
            if let Err(error) = process(payload) {
                return Err(self.progress.locate_delivered(error));
            }
        }
        Ok(())
    }

    /// Calls `process` with the typed view of every payload, as
    /// [`StreamReader::process_typed`](crate::StreamReader::process_typed) does.
    ///
    /// # Errors
    ///
    /// The first read error, payload that `T` rejects, or error from `process`.
    pub fn process_typed<T, F>(&mut self, mut process: F) -> Result<()>
    where
        T: StreamDeserialize<'a> + ?Sized,
        F: FnMut(T::Root) -> Result<()>,
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

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.progress.is_failed() {
            return None;
        }
        self.read_message().transpose()
    }
}
