//! [`StreamReader`]: frames in, borrowed payloads out.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flatstream_core::{Deframer, Result, StreamDeserialize};

use crate::memory::{MemoryPolicy, ShrinkTracker};
use crate::progress::Progress;

/// Reads frames from `R` and hands out each payload as a slice of one reused buffer.
///
/// Payloads are zero-copy from the reader's buffer: [`read_message`](Self::read_message)
/// returns `&[u8]` borrowing it until the next call, and the buffer only grows, so steady
/// state allocates nothing.
///
/// The reader does not buffer `R` itself (the deframer reads exactly one frame at a time, so
/// the reader always knows where each frame ended): wrap files in a [`std::io::BufReader`].
///
/// Every error names the index of the frame and the byte offset where it began. After a
/// checksum mismatch or a rejected payload the frame was consumed whole and reading can go
/// on with the next frame. After a torn frame, an oversized one or an I/O error the stream
/// cannot be resumed: [`position`](Self::position) stays at the start of that frame (where
/// the last good frame ended) and further reads return an error.
#[derive(Debug)]
pub struct StreamReader<R, D> {
    reader: R,
    deframer: D,
    payload: Vec<u8>,
    progress: Progress,
    memory: MemoryPolicy,
    shrink: ShrinkTracker,
}

/// Buffer size of [`StreamReader::from_path`].
const FILE_BUFFER_SIZE: usize = 256 * 1024;

impl<D: Deframer> StreamReader<BufReader<File>, D> {
    /// Opens the file at `path` for reading through a 256 KiB buffer.
    ///
    /// # Errors
    ///
    /// The error of opening the file.
    pub fn from_path(path: impl AsRef<Path>, deframer: D) -> Result<Self> {
        let file = File::open(path)?;
        Ok(Self::new(
            BufReader::with_capacity(FILE_BUFFER_SIZE, file),
            deframer,
        ))
    }
}

impl<R: Read, D: Deframer> StreamReader<R, D> {
    /// A reader of `reader`'s frames, parsed by `deframer`.
    pub fn new(reader: R, deframer: D) -> Self {
        Self::with_capacity(reader, deframer, 0)
    }

    /// A reader whose payload buffer starts with `capacity` bytes.
    pub fn with_capacity(reader: R, deframer: D, capacity: usize) -> Self {
        StreamReader {
            reader,
            deframer,
            payload: Vec::with_capacity(capacity),
            progress: Progress::default(),
            memory: MemoryPolicy::default(),
            shrink: ShrinkTracker::default(),
        }
    }

    /// Sets when the payload buffer gives memory back after a spike (default: keep 1 MiB,
    /// shrink after 1024 messages that fit in it).
    #[must_use]
    pub fn with_memory_policy(mut self, policy: MemoryPolicy) -> Self {
        self.memory = policy;
        self
    }

    /// The payload buffer's capacity: the memory the reader holds between messages.
    pub fn buffer_capacity(&self) -> usize {
        self.payload.capacity()
    }

    /// Reads the next frame and returns its payload, or `None` at a clean end of stream.
    ///
    /// # Errors
    ///
    /// Whatever the deframer reports (torn frame, oversized frame, checksum mismatch, I/O),
    /// with the frame index and byte offset.
    #[inline]
    pub fn read_message(&mut self) -> Result<Option<&[u8]>> {
        self.progress.check_usable()?;
        // The previous payload is no longer borrowed: shrink now if the policy says so.
        if self
            .shrink
            .observe(&self.memory, self.payload.len(), self.payload.capacity())
        {
            self.payload.clear();
            self.payload.shrink_to(self.memory.retained());
        }
        match self
            .deframer
            .read_frame(&mut self.reader, &mut self.payload)
        {
            Ok(Some(frame_len)) => {
                self.progress.advance(frame_len);
                Ok(Some(&self.payload))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(self.progress.fail(error)),
        }
    }

    /// Calls `process` with every payload until the end of the stream.
    ///
    /// # Errors
    ///
    /// The first read error, or the first error `process` returns; an error from `process`
    /// that carries no location gets the frame index and offset of the payload it was given.
    pub fn process_all<F>(&mut self, mut process: F) -> Result<()>
    where
        F: FnMut(&[u8]) -> Result<()>,
    {
        while let Some(payload) = self.read_message()? {
            if let Err(error) = process(payload) {
                return Err(self.progress.locate_delivered(error));
            }
        }
        Ok(())
    }

    /// Calls `process` with the typed view of every payload until the end of the stream.
    ///
    /// `T` is the marker type of a [`StreamDeserialize`] implementation; each payload is
    /// checked by it before `process` sees it.
    ///
    /// # Errors
    ///
    /// The first read error, the first payload that `T` rejects, or the first error
    /// `process` returns, each with the frame index and offset.
    pub fn process_typed<T, F>(&mut self, mut process: F) -> Result<()>
    where
        T: for<'a> StreamDeserialize<'a> + ?Sized,
        F: for<'a> FnMut(<T as StreamDeserialize<'a>>::Root) -> Result<()>,
    {
        self.process_all(|payload| process(T::from_payload(payload)?))
    }

    /// A lending iterator over payloads: call its `next()` in a `while let` loop.
    pub fn messages(&mut self) -> Messages<'_, R, D> {
        Messages { reader: self }
    }

    /// A lending iterator over the typed views of payloads (see
    /// [`process_typed`](Self::process_typed)).
    pub fn typed_messages<T>(&mut self) -> TypedMessages<'_, R, D, T>
    where
        T: for<'a> StreamDeserialize<'a> + ?Sized,
    {
        TypedMessages {
            reader: self,
            marker: std::marker::PhantomData,
        }
    }

    /// How many frames were consumed whole: delivered, or rejected for a checksum or
    /// validation failure. It is also the index of the next frame.
    pub fn frames_read(&self) -> u64 {
        self.progress.frames_read
    }

    /// How many bytes of whole frames were consumed: the offset where the next frame begins.
    /// After a torn tail this is where the last good frame ended.
    pub fn position(&self) -> u64 {
        self.progress.position
    }

    /// The deframer in use.
    pub fn deframer(&self) -> &D {
        &self.deframer
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The underlying reader, mutably. Reading from it directly loses frame alignment.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// Returns the underlying reader, positioned after the last frame read.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

/// A lending iterator over a [`StreamReader`]'s payloads, from
/// [`StreamReader::messages`].
///
/// ```
/// # use flatstream_io::{DefaultDeframer, StreamReader};
/// # fn count(mut reader: StreamReader<&[u8], DefaultDeframer>) -> flatstream_core::Result<usize> {
/// let mut messages = reader.messages();
/// let mut bytes = 0;
/// while let Some(payload) = messages.next() {
///     bytes += payload?.len();
/// }
/// # Ok(bytes) }
/// ```
#[derive(Debug)]
pub struct Messages<'r, R, D> {
    reader: &'r mut StreamReader<R, D>,
}

impl<R: Read, D: Deframer> Messages<'_, R, D> {
    /// The next payload, `None` at a clean end of stream, or an error.
    ///
    /// After an error that stops the reader (a torn or oversized frame, an I/O error) the
    /// next call returns `None`, so a loop that logs errors and goes on still ends; after a
    /// [resumable](flatstream_core::Error::is_resumable) one (a checksum mismatch, a rejected
    /// payload) the next call reads the next frame.
    #[allow(clippy::should_implement_trait)] // Lending: the item borrows the iterator.
    pub fn next(&mut self) -> Option<Result<&[u8]>> {
        if self.reader.progress.is_failed() {
            return None;
        }
        self.reader.read_message().transpose()
    }
}

/// A lending iterator over typed views of a [`StreamReader`]'s payloads, from
/// [`StreamReader::typed_messages`].
#[derive(Debug)]
pub struct TypedMessages<'r, R, D, T: ?Sized> {
    reader: &'r mut StreamReader<R, D>,
    marker: std::marker::PhantomData<fn() -> Box<T>>,
}

impl<R, D, T> TypedMessages<'_, R, D, T>
where
    R: Read,
    D: Deframer,
    T: for<'a> StreamDeserialize<'a> + ?Sized,
{
    /// The next typed view, `None` at a clean end of stream, or an error. A payload that `T`
    /// rejects is reported with its frame index and offset, and reading goes on; after an
    /// error that stops the reader the next call returns `None`, as
    /// [`Messages::next`] does.
    #[allow(clippy::should_implement_trait)] // Lending: the item borrows the iterator.
    pub fn next(&mut self) -> Option<Result<<T as StreamDeserialize<'_>>::Root>> {
        let reader = &mut *self.reader;
        if reader.progress.is_failed() {
            return None;
        }
        match reader.read_message() {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(error) => return Some(Err(error)),
        }
        // Re-borrow the payload after the counters were updated, so a rejection can be
        // located without holding two borrows of the reader.
        let progress = reader.progress;
        Some(T::from_payload(&reader.payload).map_err(|error| progress.locate_delivered(error)))
    }
}
