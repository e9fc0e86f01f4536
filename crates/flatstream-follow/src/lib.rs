#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flatstream_core::wire::LENGTH_LEN;
pub use flatstream_core::{Deframer, Error, ErrorKind, Result};
use flatstream_io::{PayloadPlace, Progress, address_range};

mod wait;

use wait::Waiter;

/// How many bytes a read asks for at least: enough to catch up on a file written faster than
/// it is followed in few reads, little enough that a torn frame of a huge declared length
/// costs no more memory than the bytes that have arrived.
const READ_LEN: usize = 64 * 1024;

/// How a [`Follow`] waits for bytes: a small `Copy` builder, opened with
/// [`open`](Self::open).
///
/// ```no_run
/// use std::time::Duration;
/// use flatstream_follow::FollowConfig;
/// use flatstream_io::DefaultDeframer;
///
/// let follow = FollowConfig::new()
///     .poll_interval(Duration::from_millis(20))
///     .notify(false) // poll only: a file system that sends no change events
///     .open("capture.fs", DefaultDeframer::new())?;
/// # Ok::<(), flatstream_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowConfig {
    poll_interval: Duration,
    notify: bool,
}

impl Default for FollowConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl FollowConfig {
    /// The defaults: change notification on, polled every 100 ms as well.
    pub const fn new() -> Self {
        FollowConfig {
            poll_interval: Duration::from_millis(100),
            notify: true,
        }
    }

    /// The longest a follower waits before looking at the file again (default 100 ms).
    ///
    /// Without change notification this is the polling period, so it bounds the delay
    /// between a write and its delivery. With notification it is a safety net for changes
    /// that send no event (writes through a memory map, network file systems) and the
    /// longest a truncation or replacement goes unnoticed. Must be more than zero.
    #[must_use]
    pub const fn poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// Whether to wait for change notification from the operating system (default `true`).
    ///
    /// When the watcher cannot be set up (no inotify instances left, an unsupported file
    /// system), the follower polls instead; [`Follow::is_notified`] tells which.
    #[must_use]
    pub const fn notify(mut self, notify: bool) -> Self {
        self.notify = notify;
        self
    }

    /// Opens the file at `path` to follow it from its first byte, reading frames with
    /// `deframer`.
    ///
    /// # Errors
    ///
    /// [`Io`](ErrorKind::Io) when the file cannot be opened or is not a regular file (a pipe
    /// or a device cannot be watched for growth), or when the poll interval is zero
    /// ([`io::ErrorKind::InvalidInput`]).
    pub fn open<D: Deframer>(self, path: impl AsRef<Path>, deframer: D) -> Result<Follow<D>> {
        if self.poll_interval.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the poll interval must be more than zero",
            )
            .into());
        }
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path)?;
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is not a regular file: only a file can be followed as it grows",
                    path.display()
                ),
            )
            .into());
        }
        let waiter = if self.notify {
            Waiter::watching(&path)
        } else {
            Waiter::Polling
        };
        Ok(Follow {
            identity: Identity::of(&metadata),
            path,
            file,
            deframer,
            progress: Progress::default(),
            buffer: Vec::new(),
            start: 0,
            bytes_read: 0,
            scratch: Vec::new(),
            waiter,
            config: self,
        })
    }
}

/// Follows a file that another process is still writing, delivering each frame once, in
/// order, as soon as it is whole.
///
/// At the clean end of the file, or in a frame whose bytes have not all arrived, it waits
/// (see [`FollowConfig`]) and goes on from [`position`](Self::position). Frames are counted
/// and errors located by [`Progress`], the engine of every flatstream reader: a checksum
/// mismatch names its frame and offset and reading goes on at the next frame; an oversized
/// length, a truncated or replaced file, or an I/O error stops the follower.
pub struct Follow<D> {
    path: PathBuf,
    file: File,
    /// Device and inode of the file opened, to tell when the path names another.
    identity: Identity,
    deframer: D,
    progress: Progress,
    /// Bytes read from the file and not yet consumed begin at `start`; a payload lent by
    /// [`next`](Follow::next) borrows them until the next call.
    buffer: Vec<u8>,
    start: usize,
    /// Bytes read from the file in all: `position()` plus the bytes waiting in `buffer`.
    bytes_read: u64,
    /// Where a transforming deframer (decompression) puts payloads.
    scratch: Vec<u8>,
    waiter: Waiter,
    config: FollowConfig,
}

impl<D: fmt::Debug> fmt::Debug for Follow<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follow")
            .field("path", &self.path)
            .field("deframer", &self.deframer)
            .field("progress", &self.progress)
            .field("bytes_read", &self.bytes_read)
            .field("pending_len", &self.pending_len())
            .field("notified", &self.is_notified())
            .finish_non_exhaustive()
    }
}

impl<D: Deframer> Follow<D> {
    /// Follows the file at `path` from its first byte with the default [`FollowConfig`].
    ///
    /// # Errors
    ///
    /// As [`FollowConfig::open`].
    pub fn new(path: impl AsRef<Path>, deframer: D) -> Result<Self> {
        FollowConfig::new().open(path, deframer)
    }

    /// The next frame's payload, as soon as the frame is whole in the file; `Ok(None)` when
    /// `timeout` passes first (a zero timeout looks once, without waiting).
    ///
    /// The payload is lent from a buffer the follower reuses (or, for a deframer that
    /// transforms payloads, its scratch buffer), so steady state allocates nothing. Call
    /// again after `Ok(None)` or a resumable error: the follower goes on from
    /// [`position`](Self::position). A frame that holds no message (an encrypted stream's
    /// final frame) is consumed, its bytes counted in the position, and not delivered.
    ///
    /// # Errors
    ///
    /// Each located at the frame (index and byte offset) where it happened:
    /// - a checksum mismatch, or a payload an adapter rejects: the frame is consumed whole
    ///   ([`Error::is_resumable`]) and the next call reads the next frame;
    /// - [`FrameTooLarge`](ErrorKind::FrameTooLarge), as soon as the length field arrives;
    /// - [`Truncated`](ErrorKind::Truncated): the file is shorter than the bytes read;
    /// - [`Replaced`](ErrorKind::Replaced): the path names another file, or none (checked on
    ///   unix by device and inode, elsewhere only for removal), once every byte of the
    ///   file opened has been read;
    /// - [`Io`](ErrorKind::Io) for the file's own errors.
    ///
    /// All but the first stop the follower: later calls return an error naming where it
    /// stopped.
    pub fn next(&mut self, timeout: Duration) -> Result<Option<&[u8]>> {
        self.progress.check_usable()?;
        // A timeout too long to add is no deadline at all.
        let deadline = Instant::now().checked_add(timeout);
        let payload = loop {
            let Some(frame_len) = self.whole_frame(deadline)? else {
                return Ok(None);
            };
            if let Some(payload) = self.decode(frame_len)? {
                break payload;
            }
            // A frame that holds no message (an encrypted stream's final frame): read on.
        };
        Ok(Some(match payload {
            Lent::Buffer { start, len } => &self.buffer[start..start + len],
            Lent::Scratch { start, len } => &self.scratch[start..start + len],
        }))
    }

    /// The length of the frame at `start` once it is whole in the buffer, reading and
    /// waiting until then; `None` when `deadline` passes first.
    fn whole_frame(&mut self, deadline: Option<Instant>) -> Result<Option<usize>> {
        loop {
            let pending = &self.buffer[self.start..];
            match self.deframer.peek_frame_len(pending) {
                Ok(Some(frame_len)) if frame_len <= pending.len() => return Ok(Some(frame_len)),
                Ok(needed) => {
                    // An adapter may want more than the length field before it can tell.
                    let wanted = needed.unwrap_or(LENGTH_LEN).saturating_sub(pending.len());
                    if self.fill(wanted)? == 0 {
                        // Everything written so far has been read: the file must still be
                        // the one opened, and at least as long, before waiting for more.
                        self.check_file()?;
                        if !self.waiter.wait(deadline, self.config.poll_interval) {
                            return Ok(None);
                        }
                    }
                }
                Err(error) => return Err(self.progress.fail(error)),
            }
        }
    }

    /// Decodes the whole frame of `frame_len` bytes at `start` and consumes it; says where
    /// its payload lies (`None` for a frame that holds no message).
    fn decode(&mut self, frame_len: usize) -> Result<Option<Lent>> {
        let input = &self.buffer[self.start..self.start + frame_len];
        let input_at = input.as_ptr().addr();
        let lent = match self.deframer.decode_frame(input, &mut self.scratch) {
            Ok(Some(frame)) => {
                let (at, len) = (frame.payload.as_ptr().addr(), frame.payload.len());
                let input = input_at..input_at + frame_len;
                let scratch = address_range(&self.scratch);
                match PayloadPlace::locate(at, len, input, scratch, frame_len) {
                    Ok(PayloadPlace::Input(start)) => Lent::Buffer {
                        start: self.start + start,
                        len,
                    },
                    Ok(PayloadPlace::Scratch(start)) => Lent::Scratch { start, len },
                    Err(error) => {
                        self.start += frame_len;
                        return Err(self.progress.fail(error));
                    }
                }
            }
            Ok(None) => {
                self.start += frame_len;
                self.progress.skip(frame_len);
                return Ok(None);
            }
            Err(error) => {
                let error = self.progress.fail(error);
                if error.is_resumable() {
                    // Consumed whole: the next call begins at the next frame.
                    self.start += frame_len;
                }
                return Err(error);
            }
        };
        self.start += frame_len;
        self.progress.advance(frame_len);
        Ok(Some(lent))
    }

    /// Reads what the file holds past the bytes read, at least `wanted` bytes' worth if
    /// there are so many; returns how many bytes were read.
    fn fill(&mut self, wanted: usize) -> Result<usize> {
        // Wake-ups for writes before this read are spent by it; any later write sends
        // another, so none is lost between this read and the wait.
        self.waiter.clear();
        // Keep only the unread tail (less than a frame), at the front.
        self.buffer.drain(..self.start);
        self.start = 0;
        // Reserve no more than a read's worth: a huge declared length costs memory only as
        // its bytes arrive.
        self.buffer.reserve(READ_LEN);
        let limit = wanted.max(READ_LEN) as u64;
        match (&mut self.file).take(limit).read_to_end(&mut self.buffer) {
            Ok(read) => {
                self.bytes_read += read as u64;
                Ok(read)
            }
            Err(error) => Err(self.progress.fail(error.into())),
        }
    }

    /// Checks that the file is still the one opened and no shorter than what was read.
    fn check_file(&mut self) -> Result<()> {
        let len = match self.file.metadata() {
            Ok(metadata) => metadata.len(),
            Err(error) => return Err(self.progress.fail(error.into())),
        };
        if len < self.bytes_read {
            return Err(self.progress.fail(Error::truncated(len, self.bytes_read)));
        }
        let replaced = match fs::metadata(&self.path) {
            Ok(metadata) if Identity::of(&metadata) == self.identity => return Ok(()),
            Ok(_) => Error::replaced(format!(
                "{} now names another file (rotated or re-created)",
                self.path.display()
            )),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Error::replaced(format!(
                "{} names no file any more (removed or renamed)",
                self.path.display()
            )),
            Err(error) => error.into(),
        };
        Err(self.progress.fail(replaced))
    }
}

impl<D> Follow<D> {
    /// Frames consumed whole (delivered, or rejected after being read in full): the index
    /// of the next frame.
    pub fn frames_read(&self) -> u64 {
        self.progress.frames_read()
    }

    /// Bytes of whole frames consumed: the offset of the next frame, and after an error that
    /// stopped the follower, where the last good frame ended.
    pub fn position(&self) -> u64 {
        self.progress.position()
    }

    /// Bytes read from the file in all: [`position`](Self::position) plus
    /// [`pending_len`](Self::pending_len).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Bytes read past the last whole frame: a frame still being written (or a torn tail
    /// that will never be finished; a follower cannot tell them apart).
    pub fn pending_len(&self) -> usize {
        self.buffer.len() - self.start
    }

    /// Whether the follower waits for change notification (`false`: it polls).
    pub fn is_notified(&self) -> bool {
        matches!(self.waiter, Waiter::Notified { .. })
    }

    /// Whether an error stopped the follower.
    pub fn is_stopped(&self) -> bool {
        self.progress.is_failed()
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The deframer in use.
    pub fn deframer(&self) -> &D {
        &self.deframer
    }

    /// Returns the deframer; the follower's place in the file is dropped.
    pub fn into_deframer(self) -> D {
        self.deframer
    }
}

/// Where a delivered payload lies, without borrowing it: the borrow is taken once the
/// follower has stopped changing its state.
#[derive(Debug, Clone, Copy)]
enum Lent {
    Buffer { start: usize, len: usize },
    Scratch { start: usize, len: usize },
}

/// What tells two files apart: device and inode on unix; elsewhere nothing (only removal is
/// seen there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    #[cfg(unix)]
    device_inode: (u64, u64),
}

impl Identity {
    #[cfg(unix)]
    fn of(metadata: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Identity {
            device_inode: (metadata.dev(), metadata.ino()),
        }
    }

    #[cfg(not(unix))]
    fn of(_: &Metadata) -> Self {
        Identity {}
    }
}
