//! The error type shared by every flatstream crate.

use std::borrow::Cow;
use std::fmt;
use std::io;

/// A `Result` whose error is flatstream's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The part of a frame in which a stream ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FramePart {
    /// The 4-byte little-endian payload length.
    Length,
    /// The checksum field after the length.
    Checksum,
    /// The payload itself.
    Payload,
}

impl fmt::Display for FramePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FramePart::Length => "length field",
            FramePart::Checksum => "checksum field",
            FramePart::Payload => "payload",
        })
    }
}

/// What went wrong, without where; [`Error::kind`] returns it for matching.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading from or writing to the underlying stream failed.
    #[error("i/o error: {0}")]
    Io(io::Error),
    /// The checksum stored in the frame differs from the one calculated over its payload.
    #[error("checksum mismatch: expected {expected:#x}, calculated {calculated:#x}")]
    ChecksumMismatch {
        /// The checksum stored in the frame.
        expected: u64,
        /// The checksum calculated over the payload as read.
        calculated: u64,
    },
    /// The stream ended inside a frame (a torn tail).
    #[error("unexpected end of stream in the {part}: needed {needed} bytes, got {got}")]
    UnexpectedEof {
        /// The part of the frame that was torn.
        part: FramePart,
        /// How many bytes that part needed.
        needed: u64,
        /// How many bytes of it were there.
        got: u64,
    },
    /// The frame declares a payload longer than the reader's limit.
    #[error("frame too large: declared payload length {len} exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The payload length the frame declares.
        len: u64,
        /// The limit in force (`max_frame_len`).
        max: u64,
    },
    /// The frame cannot be read or written for another reason.
    #[error("invalid frame: {reason}")]
    InvalidFrame {
        /// Why the frame is invalid.
        reason: Cow<'static, str>,
    },
    /// A validator rejected the payload.
    #[error("validation failed: {validator}: {reason}")]
    ValidationFailed {
        /// The name of the validator that rejected the payload.
        validator: Cow<'static, str>,
        /// Why it rejected it.
        reason: Cow<'static, str>,
    },
    /// The payload is not a valid FlatBuffer of the expected type.
    #[error("invalid flatbuffer: {0}")]
    FlatBuffers(flatbuffers::InvalidFlatbuffer),
    /// A run of zero bytes that reads as empty frames: space a file system allocated but never
    /// wrote (a crash before the data reached the disk), not data. Under every CRC here the
    /// empty payload's checksum is 0, so such a run would otherwise read as valid frames.
    #[error("zero-filled damage: {len} bytes of zeros read as empty frames")]
    ZeroFilled {
        /// How many zero bytes the run held when it was reported (it may go on).
        len: u64,
    },
    /// The file a follower reads is shorter than the bytes it has read: it was truncated
    /// underneath the reader, so what was read may no longer be what the file holds.
    #[error("file truncated underneath the reader: it is {len} bytes long, {read} bytes were read")]
    Truncated {
        /// The file's length now.
        len: u64,
        /// How many bytes of it the follower had read.
        read: u64,
    },
    /// The path a follower reads no longer names the file it opened (another device or
    /// inode, or no file at all): the file was replaced, renamed or removed.
    #[error("file replaced underneath the reader: {reason}")]
    Replaced {
        /// What the path names now.
        reason: Cow<'static, str>,
    },
    /// An encrypted frame failed authentication: a wrong key or cipher, or a changed byte.
    #[error("authentication failed: wrong key or cipher, or the frame was changed")]
    AuthenticationFailed,
    /// An authentic encrypted frame whose sequence number jumped forward: the frames between
    /// are missing (as after a salvage), though none was found changed.
    #[error(
        "{count} frames missing before this one (sequence number {found}, expected {expected})"
    )]
    FramesMissing {
        /// How many sequence numbers were skipped.
        count: u64,
        /// The sequence number expected.
        expected: u64,
        /// The frame's sequence number.
        found: u64,
    },
    /// An authentic encrypted frame out of its place: repeated, reordered, from another
    /// stream, after the final frame, or a stream that ends without the final frame required.
    #[error("frame out of sequence: {reason}")]
    OutOfSequence {
        /// What is out of place.
        reason: Cow<'static, str>,
    },
    /// An error raised by caller code, such as a `process_all` closure.
    #[error("{0}")]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// A flatstream error: an [`ErrorKind`] plus where in the stream it happened.
///
/// Readers attach the index of the frame and the byte offset at which that frame began, so
/// a message reads like `checksum mismatch: expected 0x1, calculated 0x2 (frame 8 at byte
/// offset 1412)`. The offset of a torn or oversized frame is also where the last good frame
/// ended: the length to truncate a damaged file to.
///
/// The error is one pointer wide, so `Result<&[u8]>` stays small on the hot path; the
/// details are boxed and only allocated when something goes wrong.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    location: Option<Location>,
    frame_len: Option<u64>,
    /// For a buffering writer: bytes of the stream its destination had taken.
    delivered: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Location {
    frame_index: u64,
    offset: u64,
}

impl Error {
    /// Creates an error of the given kind with no location yet.
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                location: None,
                frame_len: None,
                delivered: None,
            }),
        }
    }

    /// A checksum mismatch.
    pub fn checksum_mismatch(expected: u64, calculated: u64) -> Self {
        Self::new(ErrorKind::ChecksumMismatch {
            expected,
            calculated,
        })
    }

    /// A stream that ended `got` bytes into a `needed`-byte part of a frame.
    pub fn unexpected_eof(part: FramePart, needed: usize, got: usize) -> Self {
        Self::new(ErrorKind::UnexpectedEof {
            part,
            needed: needed as u64,
            got: got as u64,
        })
    }

    /// A frame whose declared payload length `len` exceeds `max`.
    pub fn frame_too_large(len: u64, max: usize) -> Self {
        Self::new(ErrorKind::FrameTooLarge {
            len,
            max: max as u64,
        })
    }

    /// An invalid frame, for the given reason.
    pub fn invalid_frame(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidFrame {
            reason: reason.into(),
        })
    }

    /// A payload that the named validator rejected.
    pub fn validation_failed(
        validator: impl Into<Cow<'static, str>>,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(ErrorKind::ValidationFailed {
            validator: validator.into(),
            reason: reason.into(),
        })
    }

    /// A run of `len` zero bytes that reads as empty frames.
    pub fn zero_filled(len: u64) -> Self {
        Self::new(ErrorKind::ZeroFilled { len })
    }

    /// A followed file `len` bytes long after `read` bytes of it were read.
    pub fn truncated(len: u64, read: u64) -> Self {
        Self::new(ErrorKind::Truncated { len, read })
    }

    /// A followed file whose path now names another file, or none, for the given reason.
    pub fn replaced(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Replaced {
            reason: reason.into(),
        })
    }

    /// Wraps an error from caller code, for closures passed to `process_all` and friends.
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::new(ErrorKind::Other(error.into()))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// Consumes the error and returns what went wrong.
    pub fn into_kind(self) -> ErrorKind {
        self.inner.kind
    }

    /// The zero-based index of the frame the error is about, when a reader or writer set it.
    pub fn frame_index(&self) -> Option<u64> {
        self.inner.location.map(|location| location.frame_index)
    }

    /// The byte offset in the stream at which that frame began, when a reader or writer set it.
    pub fn offset(&self) -> Option<u64> {
        self.inner.location.map(|location| location.offset)
    }

    /// How many bytes the frame occupied on the wire, when it was consumed whole.
    ///
    /// It is set for errors that leave a reader at the next frame boundary (a checksum
    /// mismatch, a rejected payload), so the reader can go on to the next frame. It is
    /// `None` for torn and oversized frames, after which the stream cannot be resumed.
    pub fn frame_len(&self) -> Option<u64> {
        self.inner.frame_len
    }

    /// Records which frame the error is about and the byte offset where that frame began.
    ///
    /// Readers and writers call this; a location set earlier is replaced.
    #[must_use]
    pub fn at_frame(mut self, frame_index: u64, offset: u64) -> Self {
        self.inner.location = Some(Location {
            frame_index,
            offset,
        });
        self
    }

    /// Records that the frame was consumed whole and occupied `frame_len` bytes.
    #[must_use]
    pub fn with_frame_len(mut self, frame_len: u64) -> Self {
        self.inner.frame_len = Some(frame_len);
        self
    }

    /// Records that the first `bytes` of the stream had reached the writer's destination when
    /// the error happened (for a `FrameBuffer` shared by writers one after another, counted
    /// from the buffer's first byte, not this writer's).
    ///
    /// A writer that buffers frames (`StreamWriter::buffered`) sets it on its I/O errors: their
    /// location names the frame being handed to the buffer, and the bytes before that offset
    /// may still have been in the buffer, not at the destination. The destination ends after
    /// these bytes, possibly inside a frame.
    #[must_use]
    pub fn with_bytes_delivered(mut self, bytes: u64) -> Self {
        self.inner.delivered = Some(bytes);
        self
    }

    /// How many bytes of the stream had reached the writer's destination, when a buffering
    /// writer recorded it ([`with_bytes_delivered`](Self::with_bytes_delivered)).
    ///
    /// ```
    /// use flatstream_core::Error;
    ///
    /// let full = std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full");
    /// let error = Error::from(full).at_frame(56, 4032).with_bytes_delivered(0);
    /// assert_eq!(error.bytes_delivered(), Some(0));
    /// assert_eq!(
    ///     error.to_string(),
    ///     "i/o error: disk full (frame 56 at byte offset 4032; 0 bytes of the stream had \
    ///      reached the destination)"
    /// );
    /// ```
    pub fn bytes_delivered(&self) -> Option<u64> {
        self.inner.delivered
    }

    /// Whether this error is a torn tail: the stream ended inside a frame.
    pub fn is_torn_tail(&self) -> bool {
        matches!(self.kind(), ErrorKind::UnexpectedEof { .. })
    }

    /// Whether a reader that returned this error can go on to the next frame.
    ///
    /// True when the frame was consumed whole and only its contents were bad: a checksum
    /// mismatch, a payload a validator or a typed view rejected, an error from the caller's
    /// closure (the reader records the frame's length, see [`frame_len`](Self::frame_len)).
    /// False when the reader stopped: a torn frame, an oversized one, an I/O error, or the
    /// error a stopped reader returns when asked for more. A "log and continue" loop goes
    /// on while this is true and stops when it is false.
    ///
    /// ```
    /// use flatstream_core::{Error, FramePart};
    ///
    /// assert!(Error::checksum_mismatch(1, 2).with_frame_len(20).is_resumable());
    /// assert!(!Error::unexpected_eof(FramePart::Payload, 10, 3).is_resumable());
    /// ```
    pub fn is_resumable(&self) -> bool {
        self.inner.frame_len.is_some()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug.field("kind", &self.inner.kind);
        if let Some(location) = self.inner.location {
            debug
                .field("frame_index", &location.frame_index)
                .field("offset", &location.offset);
        }
        if let Some(frame_len) = self.inner.frame_len {
            debug.field("frame_len", &frame_len);
        }
        if let Some(delivered) = self.inner.delivered {
            debug.field("bytes_delivered", &delivered);
        }
        debug.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner.kind)?;
        let Inner {
            location,
            delivered,
            ..
        } = *self.inner;
        if location.is_none() && delivered.is_none() {
            return Ok(());
        }
        f.write_str(" (")?;
        if let Some(location) = location {
            write!(
                f,
                "frame {} at byte offset {}",
                location.frame_index, location.offset
            )?;
        }
        if let Some(bytes) = delivered {
            let between = if location.is_some() { "; " } else { "" };
            write!(
                f,
                "{between}{bytes} bytes of the stream had reached the destination"
            )?;
        }
        f.write_str(")")
    }
}

// The wrapped I/O, FlatBuffers and caller errors are already part of `Display`, so they are
// not repeated as a `source()` (error reporters would print them twice).
impl std::error::Error for Error {}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::new(ErrorKind::Io(error))
    }
}

impl From<flatbuffers::InvalidFlatbuffer> for Error {
    fn from(error: flatbuffers::InvalidFlatbuffer) -> Self {
        Error::new(ErrorKind::FlatBuffers(error))
    }
}

/// For I/O-shaped callers: an I/O failure keeps its [`io::ErrorKind`]; anything else about
/// the data becomes [`io::ErrorKind::InvalidData`] (reading) or
/// [`io::ErrorKind::InvalidInput`] (an invalid frame or a caller error). The flatstream
/// error, with its location, is the `io::Error`'s inner error.
impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match error.kind() {
            ErrorKind::Io(io_error) => io_error.kind(),
            ErrorKind::InvalidFrame { .. } | ErrorKind::Other(_) => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(size_of::<Error>(), size_of::<usize>());
        assert_eq!(size_of::<Result<&[u8]>>(), 2 * size_of::<usize>());
    }

    #[test]
    fn display_names_frame_and_offset() {
        let error = Error::checksum_mismatch(0x1234, 0xabcd).at_frame(8, 1412);
        assert_eq!(
            error.to_string(),
            "checksum mismatch: expected 0x1234, calculated 0xabcd (frame 8 at byte offset 1412)"
        );
        assert_eq!(error.frame_index(), Some(8));
        assert_eq!(error.offset(), Some(1412));
    }

    #[test]
    fn display_without_location_has_no_suffix() {
        let error = Error::unexpected_eof(FramePart::Checksum, 4, 1);
        assert_eq!(
            error.to_string(),
            "unexpected end of stream in the checksum field: needed 4 bytes, got 1"
        );
        assert!(error.is_torn_tail());
        assert_eq!(error.frame_index(), None);
    }

    #[test]
    fn converts_to_io_error_with_matching_kind() {
        let torn: io::Error = Error::unexpected_eof(FramePart::Payload, 10, 3).into();
        assert_eq!(torn.kind(), io::ErrorKind::InvalidData);
        let invalid: io::Error = Error::invalid_frame("too long").into();
        assert_eq!(invalid.kind(), io::ErrorKind::InvalidInput);
        let broken_pipe: io::Error = Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).into();
        assert_eq!(broken_pipe.kind(), io::ErrorKind::BrokenPipe);
        let inner = torn.into_inner().expect("flatstream error inside");
        assert!(inner.downcast_ref::<Error>().is_some());
    }

    #[test]
    fn only_errors_that_consumed_their_frame_are_resumable() {
        assert!(
            Error::checksum_mismatch(1, 2)
                .with_frame_len(20)
                .at_frame(3, 60)
                .is_resumable()
        );
        assert!(
            Error::validation_failed("size", "too small")
                .with_frame_len(9)
                .is_resumable()
        );
        assert!(!Error::unexpected_eof(FramePart::Payload, 10, 3).is_resumable());
        assert!(!Error::frame_too_large(9, 8).at_frame(0, 0).is_resumable());
        assert!(!Error::from(io::Error::from(io::ErrorKind::ConnectionReset)).is_resumable());
        assert!(!Error::invalid_frame("the reader stopped").is_resumable());
    }

    #[test]
    fn frame_len_is_recorded() {
        let error = Error::checksum_mismatch(1, 2).with_frame_len(20);
        assert_eq!(error.frame_len(), Some(20));
        assert_eq!(Error::frame_too_large(9, 8).frame_len(), None);
    }
}
