//! Where a reader stands in its stream, shared by every reader so that all of them count
//! frames and locate errors the same way.

use flatstream_core::Error;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Progress {
    /// Frames consumed whole (delivered, or rejected after being read in full).
    pub(crate) frames_read: u64,
    /// Bytes of those frames: where the next frame begins.
    pub(crate) position: u64,
    /// Where the last delivered frame began.
    pub(crate) last_frame_offset: u64,
    /// Whether an error left the stream inside a frame.
    failed: bool,
}

impl Progress {
    /// Refuses to go on after an error that left the stream inside a frame.
    #[inline]
    pub(crate) fn check_usable(&self) -> Result<(), Error> {
        if self.failed {
            Err(Error::invalid_frame(
                "the reader stopped at an earlier error in this frame; frames after it cannot \
                 be located",
            )
            .at_frame(self.frames_read, self.position))
        } else {
            Ok(())
        }
    }

    /// Records a frame delivered whole.
    #[inline]
    pub(crate) fn advance(&mut self, frame_len: usize) {
        self.last_frame_offset = self.position;
        self.frames_read += 1;
        self.position += frame_len as u64;
    }

    /// Locates a reading error at the current frame, and moves past the frame when it was
    /// consumed whole; otherwise stops the reader.
    #[cold]
    pub(crate) fn fail(&mut self, error: Error) -> Error {
        let error = error.at_frame(self.frames_read, self.position);
        if let Some(frame_len) = error.frame_len() {
            self.frames_read += 1;
            self.position += frame_len;
        } else {
            self.failed = true;
        }
        error
    }

    /// Locates an error from caller code (or a typed view's rejection) at the frame it was
    /// handed, unless it has a place. That frame was consumed whole, so the error records its
    /// length and is [resumable](Error::is_resumable).
    #[cold]
    pub(crate) fn locate_delivered(&self, error: Error) -> Error {
        if error.frame_index().is_some() {
            error
        } else {
            error
                .at_frame(self.frames_read - 1, self.last_frame_offset)
                .with_frame_len(self.position - self.last_frame_offset)
        }
    }

    /// Whether an error stopped the reader.
    pub(crate) fn is_failed(&self) -> bool {
        self.failed
    }
}
