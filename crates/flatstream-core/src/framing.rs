//! The [`Framer`] and [`Deframer`] traits: one frame out, one frame in.

use std::io::{Read, Write};

use crate::error::Result;
use crate::wire::{Frame, PlainFrame};

/// Writes payloads as frames.
///
/// The framer owns the header and its checksum; the writer engine owns the builder, the
/// counters and error context. Implementations must write the whole frame or return an
/// error: a frame is never half-written without the caller hearing of it.
pub trait Framer {
    /// Writes one frame holding `payload` and returns how many bytes it wrote in all.
    ///
    /// # Errors
    ///
    /// The writer's I/O errors; [`ErrorKind::InvalidFrame`](crate::ErrorKind::InvalidFrame)
    /// for a payload the format cannot carry (over 4 GiB - 1); whatever an adapter (a
    /// validator, a size bound) rejects.
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize>;

    /// Writes whatever closes the stream, and returns how many bytes that was: nothing for
    /// most framers (the default), an encrypting framer's authenticated final frame. After
    /// it the framer may refuse to write more. Adapters forward it to the framer they wrap.
    ///
    /// # Errors
    ///
    /// The writer's I/O errors, and the framer's own.
    fn finish<W: Write + ?Sized>(&mut self, writer: &mut W) -> Result<usize> {
        let _ = writer;
        Ok(0)
    }
}

impl<F: Framer + ?Sized> Framer for &mut F {
    #[inline]
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        (**self).frame_and_write(writer, payload)
    }

    #[inline]
    fn finish<W: Write + ?Sized>(&mut self, writer: &mut W) -> Result<usize> {
        (**self).finish(writer)
    }
}

/// Reads frames, one at a time, into a reusable buffer.
///
/// A deframer never reads past the end of the frame it is reading: after each call the
/// underlying reader stands exactly at the next frame (or wherever the stream ended), so a
/// caller always knows where each frame ended.
pub trait Deframer {
    /// Reads the next frame's payload into `payload`, replacing its contents.
    ///
    /// Returns the frame's length on the wire (header and payload), or `None` when the
    /// stream ends cleanly before the first byte of a frame. The buffer keeps its capacity
    /// between calls, so reading allocates only when a payload is larger than any before.
    ///
    /// # Errors
    ///
    /// - [`UnexpectedEof`](crate::ErrorKind::UnexpectedEof) naming the torn part, when the
    ///   stream ends inside a frame;
    /// - [`FrameTooLarge`](crate::ErrorKind::FrameTooLarge) when the declared length exceeds
    ///   the limit (checked before the buffer is sized);
    /// - [`ChecksumMismatch`](crate::ErrorKind::ChecksumMismatch), and whatever an adapter
    ///   rejects; these consume the frame whole and say so with
    ///   [`Error::frame_len`](crate::Error::frame_len), so the next call reads the next frame;
    /// - [`Io`](crate::ErrorKind::Io) for the reader's own errors.
    ///
    /// Errors carry no location: the reader engine that counts frames adds it.
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>>;

    /// Parses the frame at the start of `input`, for readers that hold the stream in memory:
    /// the payload borrows `input`, nothing is copied.
    ///
    /// Returns `None` for an empty `input`; input that ends inside a frame is a torn frame.
    ///
    /// # Errors
    ///
    /// As [`read_frame`](Self::read_frame), without I/O errors.
    fn parse_frame<'a>(&mut self, input: &'a [u8]) -> Result<Option<Frame<'a>>>;

    /// Parses the frame at the start of `input` as [`parse_frame`](Self::parse_frame) does,
    /// for a deframer of any kind: one that passes payloads through borrows `input`; one that
    /// transforms them (decompression, decryption) writes the payload into `scratch`, which
    /// the caller keeps between calls so that steady state allocates nothing.
    ///
    /// Every reader that holds bytes in memory (slices, memory maps, a `BufRead`'s buffer,
    /// the async reader's buffer) reads through this method, so every adapter works with
    /// every reader. The default passes the frame through `parse_frame`; a transforming
    /// adapter overrides it.
    ///
    /// Returns `None` for an empty `input`, the clean end (a deframer that requires the
    /// stream to end in a certain way reports an error instead), and for a whole frame that
    /// carries no message but marks the end of the stream (an encrypted stream's final
    /// frame): the reader counts that frame's bytes ([`peek_frame_len`](Self::peek_frame_len))
    /// in its position and reads on, so that anything after it is still found.
    ///
    /// # Errors
    ///
    /// As [`parse_frame`](Self::parse_frame); a payload the adapter cannot transform (corrupt
    /// compressed bytes, a failed authentication) consumes the frame whole and records its
    /// length.
    #[inline]
    fn decode_frame<'a>(
        &mut self,
        input: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<Frame<'a>>> {
        let _ = scratch;
        self.parse_frame(input)
    }

    /// How many bytes the frame at the start of `input` spans on the wire, header included:
    /// what a reader that gathers bytes (the async decoder, a buffered reader) must hold
    /// before [`decode_frame`](Self::decode_frame) can parse the frame.
    ///
    /// Returns `None` while `input` is too short to tell (shorter than the length field).
    ///
    /// # Errors
    ///
    /// [`FrameTooLarge`](crate::ErrorKind::FrameTooLarge) as soon as the length is known,
    /// before anything is sized from it: the same limit `read_frame` applies.
    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>>;

    /// The per-frame fast path of the readers that hold bytes in memory: the frame at the
    /// start of `input` if it lies there whole and [`decode_frame`](Self::decode_frame)
    /// would return it with its payload borrowed from `input`, unchanged, and would do
    /// nothing else. The reader then delivers that payload and does not call
    /// `decode_frame` for the frame.
    ///
    /// `Ok(None)` says only "take the general path": the reader calls
    /// [`peek_frame_len`](Self::peek_frame_len) and `decode_frame`, which report what the
    /// frame is (torn, too long, a mismatch, transformed). So it must have no effect of its
    /// own. The plain deframers implement it, so does a bound on the length, which only
    /// reads the length field, and so does a validator, which asks its validator here about
    /// a whole frame instead of in `decode_frame` (accepted, `Ok(Some)`; rejected, `Err`). A
    /// deframer whose `decode_frame` transforms payloads or counts frames keeps the default,
    /// `Ok(None)`.
    ///
    /// # Errors
    ///
    /// The error `decode_frame` would return for a frame that lies whole at the start of
    /// `input`, was parsed, and was then rejected (a validator's verdict): it must carry
    /// the frame's length ([`Error::with_frame_len`](crate::Error::with_frame_len)). The
    /// reader reports it as it would `decode_frame`'s, moves past the frame, and does not
    /// call `decode_frame` for it, so that a validator (the caller's code) is asked once per
    /// frame. An error without a frame length, or with one of 0 or past `input`, is not
    /// trusted: the reader takes the general path.
    #[inline]
    fn parse_plain(&self, input: &[u8]) -> Result<Option<PlainFrame>> {
        let _ = input;
        Ok(None)
    }

    /// Bytes of frames without a message (an encrypted stream's final frame) that
    /// [`read_frame`](Self::read_frame) consumed since the last call, and forgets them.
    ///
    /// A reader of `Read` sources adds them to its position after each `read_frame`, before
    /// it counts the frame read or locates an error, so that its offsets match the
    /// in-memory readers' (which skip such frames themselves, see
    /// [`decode_frame`](Self::decode_frame)). The default is 0; adapters forward it.
    #[inline]
    fn take_skipped(&mut self) -> usize {
        0
    }
}

impl<D: Deframer + ?Sized> Deframer for &mut D {
    #[inline]
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        (**self).read_frame(reader, payload)
    }

    #[inline]
    fn parse_frame<'a>(&mut self, input: &'a [u8]) -> Result<Option<Frame<'a>>> {
        (**self).parse_frame(input)
    }

    #[inline]
    fn decode_frame<'a>(
        &mut self,
        input: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<Frame<'a>>> {
        (**self).decode_frame(input, scratch)
    }

    #[inline]
    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>> {
        (**self).peek_frame_len(input)
    }

    #[inline]
    fn parse_plain(&self, input: &[u8]) -> Result<Option<PlainFrame>> {
        (**self).parse_plain(input)
    }

    #[inline]
    fn take_skipped(&mut self) -> usize {
        (**self).take_skipped()
    }
}
