//! Where a reader stands in its stream, shared by every reader so that all of them count
//! frames and locate errors the same way.

use flatstream_core::Error;

/// Where a reader stands in its stream: frames consumed, the offset of the next frame, and
/// whether an error stopped it.
///
/// Every reader engine keeps one (the blocking, slice and memory-map readers here, the async
/// reader and the codec in `flatstream-tokio`), so that all of them count frames, locate
/// errors and stop after a torn frame the same way:
///
/// ```
/// use flatstream_core::{Error, FramePart};
/// use flatstream_io::Progress;
///
/// let mut progress = Progress::default();
/// progress.advance(10); // a 10-byte frame delivered
/// let error = progress.fail(Error::unexpected_eof(FramePart::Payload, 8, 3));
/// assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(10)));
/// assert!(progress.check_usable().is_err()); // a torn frame stops the reader
/// assert_eq!(progress.position(), 10); // where the last good frame ended
/// ```
#[derive(Clone, Copy, Default)]
pub struct Progress {
    /// Frames consumed whole (delivered, or rejected after being read in full).
    pub(crate) frames_read: u64,
    /// Bytes of those frames: where the next frame begins.
    pub(crate) position: u64,
    /// Where the last delivered frame began.
    pub(crate) last_frame_offset: u64,
    /// [`FAILED`] once an error left the stream inside a frame; [`UPKEEP_DUE`] while a
    /// `StreamReader` has its own bookkeeping to do before the next frame. Zero on the path
    /// of a frame after a frame read in place: one test of one byte.
    state: u8,
}

/// [`Progress::state`]: an error left the stream inside a frame.
const FAILED: u8 = 1;
/// [`Progress::state`]: a `StreamReader`'s upkeep is due (see [`Progress::upkeep_due`]).
const UPKEEP_DUE: u8 = 2;

// By hand: the upkeep bit is a `StreamReader`'s own business, not part of where a reader
// stands, so `state` shows as the failure alone.
#[allow(clippy::missing_fields_in_debug)]
impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("frames_read", &self.frames_read)
            .field("position", &self.position)
            .field("last_frame_offset", &self.last_frame_offset)
            .field("failed", &self.is_failed())
            .finish()
    }
}

impl Progress {
    /// Frames consumed whole (delivered, or rejected after being read in full): the index
    /// of the next frame.
    #[inline]
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// Bytes of whole frames consumed: the offset where the next frame begins, and after an
    /// error that stopped the reader, where the last good frame ended.
    #[inline]
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Refuses to go on after an error that left the stream inside a frame.
    ///
    /// # Errors
    ///
    /// [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame) located where the reader
    /// stopped, once [`fail`](Self::fail) has stopped it.
    #[inline]
    pub fn check_usable(&self) -> Result<(), Error> {
        if self.state & FAILED != 0 {
            Err(Error::invalid_frame(
                "the reader stopped at an earlier error in this frame; frames after it cannot \
                 be located",
            )
            .at_frame(self.frames_read, self.position))
        } else {
            Ok(())
        }
    }

    /// Records a frame of `frame_len` bytes delivered whole.
    #[inline]
    pub fn advance(&mut self, frame_len: usize) {
        self.last_frame_offset = self.position;
        self.frames_read += 1;
        self.position += frame_len as u64;
    }

    /// Records `len` bytes consumed that held no message (an encrypted stream's final frame):
    /// the position moves on, the frame count and the last message's offset do not.
    #[inline]
    pub fn skip(&mut self, len: usize) {
        self.position += len as u64;
    }

    /// Locates a reading error at the current frame, and moves past the frame when it was
    /// consumed whole; otherwise stops the reader.
    #[cold]
    pub fn fail(&mut self, error: Error) -> Error {
        let error = error.at_frame(self.frames_read, self.position);
        if let Some(frame_len) = error.frame_len() {
            self.frames_read += 1;
            self.position += frame_len;
        } else {
            self.state |= FAILED;
        }
        error
    }

    /// Locates an error from caller code (or a typed view's rejection) at the frame it was
    /// handed, unless it has a place. That frame was consumed whole, so the error records its
    /// length and is [resumable](Error::is_resumable).
    #[cold]
    pub fn locate_delivered(&self, error: Error) -> Error {
        if error.frame_index().is_some() {
            error
        } else {
            error
                .at_frame(self.frames_read - 1, self.last_frame_offset)
                .with_frame_len(self.position - self.last_frame_offset)
        }
    }

    /// Whether an error stopped the reader.
    pub fn is_failed(&self) -> bool {
        self.state & FAILED != 0
    }

    /// Whether a `StreamReader` must do its upkeep before the next frame: refuse to read
    /// after a failure, apply the memory policy to its payload buffer and empty it. Not
    /// due between frames read in place (from its buffer or the caller's bytes) while the
    /// payload buffer is empty and within the size the policy keeps: then the only test
    /// on a frame's path is this one (measured, with the buffered mode's payload sliced from
    /// the bytes it parsed: `read_message` of 64 B frames through the buffer went from 0.89
    /// to 0.96x the minimal buffered loop without a checksum, paired bench).
    #[inline]
    pub(crate) fn upkeep_due(&self) -> bool {
        self.state != 0
    }

    /// Makes the upkeep due before the next frame: after any path that may have left a
    /// payload, or a larger payload buffer, behind (a frame read through `Read`, a payload
    /// an adapter transformed, the end of the stream), and whenever the policy changes.
    #[inline]
    pub(crate) fn schedule_upkeep(&mut self) {
        self.state |= UPKEEP_DUE;
    }

    /// The upkeep is done: frames read in place need none until the next
    /// [`schedule_upkeep`](Self::schedule_upkeep) (a failure stays).
    #[inline]
    pub(crate) fn upkeep_done(&mut self) {
        self.state &= !UPKEEP_DUE;
    }
}

/// Where a writer stands in its stream: frames and bytes written whole, and the I/O error
/// that stopped it, once one did.
///
/// Every writer engine keeps one (the blocking `StreamWriter`, through it the async writer,
/// and the codec's encoder in `flatstream-tokio`), so that all of them count frames, locate
/// errors and stop after an I/O error the same way:
///
/// ```
/// use flatstream_core::Error;
/// use flatstream_io::WriteProgress;
///
/// let mut progress = WriteProgress::default();
/// progress.advance(10);
/// let error = progress.fail(Error::from(std::io::Error::other("disk full")));
/// assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(10)));
/// // The stream may end in a partial frame: every later write is refused, naming why.
/// let refusal = progress.check_usable().unwrap_err();
/// assert!(refusal.to_string().contains("disk full"));
/// ```
#[derive(Debug, Clone, Default)]
// In this order, kept apart: side by side, LLVM merged the two counters' updates into one
// 16-byte vector load, add and store per frame, which cost `write_payload` of 64 B frames
// about a fifth of its speed (0.67 to 0.85 to 0.90x the minimal loop, paired bench).
#[repr(C)]
pub struct WriteProgress {
    frames_written: u64,
    /// The I/O error that stopped the writer, kept to name it in every later refusal.
    failure: Option<String>,
    position: u64,
}

impl WriteProgress {
    /// Frames written whole: the index of the next one.
    #[inline]
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// Bytes of whole frames written: the offset where the next frame begins.
    #[inline]
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Records a frame of `frame_len` bytes written whole.
    #[inline]
    pub fn advance(&mut self, frame_len: usize) {
        self.frames_written += 1;
        self.position += frame_len as u64;
    }

    /// Records a frame written whole whose bytes are counted another way: a `Vec` sink's
    /// length, which a [`StreamWriter`](crate::StreamWriter) brings into the position with
    /// [`add_position`](Self::add_position) when it is asked for.
    #[inline]
    pub(crate) fn count_frame(&mut self) {
        self.frames_written += 1;
    }

    /// Adds `bytes` of whole frames counted another way (see
    /// [`count_frame`](Self::count_frame)).
    #[inline]
    pub(crate) fn add_position(&mut self, bytes: usize) {
        self.position += bytes as u64;
    }

    /// Checks that the writer can still write.
    ///
    /// # Errors
    ///
    /// Once an I/O error stopped it, an
    /// [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame) that names that error and
    /// says where the last whole frame ended.
    #[inline]
    pub fn check_usable(&self) -> Result<(), Error> {
        match &self.failure {
            None => Ok(()),
            Some(failure) => Err(self.refusal(failure)),
        }
    }

    /// Locates an error at the frame being written without stopping the writer (a message
    /// that would not serialize, a payload a validator refused).
    #[cold]
    pub fn locate(&self, error: Error) -> Error {
        error.at_frame(self.frames_written, self.position)
    }

    /// Locates a writing error at its frame; an I/O error also stops the writer.
    #[cold]
    pub fn fail(&mut self, error: Error) -> Error {
        let error = self.locate(error);
        if matches!(error.kind(), flatstream_core::ErrorKind::Io(_)) {
            self.stop(&error);
        }
        error
    }

    /// Stops the writer after `error`, as an I/O error does.
    #[cold]
    pub fn stop(&mut self, error: &Error) {
        self.failure = Some(error.to_string());
    }

    /// Whether an I/O error stopped the writer.
    #[inline]
    pub fn is_stopped(&self) -> bool {
        self.failure.is_some()
    }

    /// The error that stopped the writer, as text, once one did.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    #[cold]
    fn refusal(&self, failure: &str) -> Error {
        Error::invalid_frame(format!(
            "the writer stopped after an earlier i/o error ({failure}); the stream may end in \
             a partial frame that begins at or before this offset (before it, when a buffer \
             had not written out every whole frame)"
        ))
        .at_frame(self.frames_written, self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flatstream_core::FramePart;

    #[test]
    fn debug_shows_the_failure_and_not_the_upkeep() {
        let mut progress = Progress::default();
        progress.advance(10);
        progress.schedule_upkeep();
        assert_eq!(
            format!("{progress:?}"),
            "Progress { frames_read: 1, position: 10, last_frame_offset: 0, failed: false }"
        );
        let _ = progress.fail(Error::unexpected_eof(FramePart::Payload, 8, 3));
        assert!(format!("{progress:?}").ends_with("failed: true }"));
        assert!(progress.upkeep_due() && progress.is_failed());
        progress.upkeep_done();
        assert!(progress.upkeep_due(), "a failure keeps the upkeep due");
    }
}
