//! The framers and deframers of the wire format, with and without a checksum.

use std::io::{self, IoSlice, Read, Write};

use crate::vec_sink::{append_frame, vec_of};
use flatstream_core::wire::{
    Frame, FrameHeader, LENGTH_LEN, MAX_HEADER_LEN, PlainFrame, parse_header, peek_frame_len,
    split_frame, split_plain,
};
use flatstream_core::{
    Checksum, DEFAULT_MAX_FRAME_LEN, Deframer, Error, FramePart, Framer, NoChecksum, Result,
};

/// Writes frames whose checksum field holds `C` over the payload.
///
/// ```text
/// [u32 LE payload length][C::size() bytes of checksum, LE][payload]
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ChecksumFramer<C> {
    checksum: C,
}

impl<C: Checksum> ChecksumFramer<C> {
    /// A framer that stores `checksum` of each payload.
    pub fn new(checksum: C) -> Self {
        ChecksumFramer { checksum }
    }

    /// The checksum in use.
    pub fn checksum(&self) -> &C {
        &self.checksum
    }
}

impl<C: Checksum> Framer for ChecksumFramer<C> {
    // Always: left to `#[inline]`, LLVM kept this out of callers' per-message loops
    // (measured on the `everyday` bench cells with 64 B frames).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        // Asked once per frame, so the header written and the length returned agree. Nothing
        // is computed from it before `encode` or `append_frame` has checked it against the
        // field's 8 bytes: a `Checksum` may report any width.
        let checksum_len = self.checksum.size();
        if payload.len() < VECTORED_MIN_PAYLOAD {
            // The length fits the field without a check.
            #[allow(clippy::cast_possible_truncation)] // Under 4096.
            let header = FrameHeader {
                payload_len: payload.len() as u32,
                checksum: self.checksum.calculate(payload),
            };
            if let Some(out) = vec_of(writer) {
                // A `Vec`: the whole frame in one step (`vec_sink`), the payload copied
                // inline up to 128 bytes and with `memcpy` above.
                append_frame(out, header, checksum_len, payload);
            } else {
                // Two plain writes, which buffered writers absorb more cheaply than
                // `IoSlice`s.
                let header = header.encode(checksum_len);
                writer.write_all(header.as_bytes())?;
                writer.write_all(payload)?;
            }
        } else {
            let header = FrameHeader::for_payload(&self.checksum, payload)?.encode(checksum_len);
            write_vectored_frame(writer, header.as_bytes(), payload)?;
        }
        Ok(LENGTH_LEN + checksum_len + payload.len())
    }
}

/// Writes frames with no checksum: `[u32 LE payload length][payload]`.
///
/// A unit struct, so the value is spelled `DefaultFramer` as well as `DefaultFramer::new()`:
///
/// ```
/// use flatstream_io::{DefaultFramer, StreamWriter};
///
/// let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
/// writer.write_payload(b"hi")?;
/// assert_eq!(writer.into_inner(), b"\x02\0\0\0hi");
/// # Ok::<(), flatstream_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultFramer;

impl DefaultFramer {
    /// A framer that writes the length and the payload; the same value as `DefaultFramer`.
    pub fn new() -> Self {
        DefaultFramer
    }
}

impl Framer for DefaultFramer {
    // Always, as the framer it wraps: left to `#[inline]`, LLVM called this once per frame
    // from a `write_finished` loop (found with callgrind; the bench had measured
    // `ChecksumFramer<NoChecksum>`, which was inlined).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        // `ChecksumFramer<NoChecksum>` is zero-sized: one place writes a frame header.
        ChecksumFramer::new(NoChecksum).frame_and_write(writer, payload)
    }
}

/// Reads frames whose checksum field holds `C`, verifying every payload.
///
/// A declared payload length above [`max_frame_len`](Self::with_max_frame_len) is refused
/// before any buffer is sized from it.
#[derive(Debug, Clone, Copy)]
pub struct ChecksumDeframer<C> {
    checksum: C,
    max_frame_len: usize,
}

impl<C: Checksum> ChecksumDeframer<C> {
    /// A deframer that verifies `checksum`, with the default limit of 64 MiB per payload.
    pub fn new(checksum: C) -> Self {
        ChecksumDeframer {
            checksum,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
        }
    }

    /// Sets the largest payload length accepted when reading (default 64 MiB). A frame that
    /// declares more is a [`FrameTooLarge`](flatstream_core::ErrorKind::FrameTooLarge) error.
    #[must_use]
    pub fn with_max_frame_len(mut self, max_frame_len: usize) -> Self {
        self.max_frame_len = max_frame_len;
        self
    }

    /// The largest payload length accepted.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// The checksum in use.
    pub fn checksum(&self) -> &C {
        &self.checksum
    }

    /// Consumes the deframer, returning its checksum.
    pub fn into_checksum(self) -> C {
        self.checksum
    }
}

impl<C: Checksum + Default> Default for ChecksumDeframer<C> {
    fn default() -> Self {
        Self::new(C::default())
    }
}

impl<C: Checksum> Deframer for ChecksumDeframer<C> {
    // Always: left to `#[inline]`, LLVM kept this out of callers' per-message loops
    // (measured on the `everyday` bench cells with 64 B frames).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        let mut header_bytes = [0u8; MAX_HEADER_LEN];
        let header_bytes = &mut header_bytes[..LENGTH_LEN + self.checksum.size()];
        let got = read_full(reader, header_bytes)?;
        let Some(header) = parse_header(
            &header_bytes[..got],
            self.checksum.size(),
            self.max_frame_len,
        )?
        else {
            return Ok(None);
        };
        let payload_len = header.payload_len as usize;
        let got = read_payload(reader, payload, payload_len)?;
        if got < payload_len {
            return Err(Error::unexpected_eof(FramePart::Payload, payload_len, got));
        }
        header.verify(&self.checksum, payload)?;
        Ok(Some(header.frame_len(self.checksum.size())))
    }

    #[inline]
    fn parse_frame<'a>(&mut self, input: &'a [u8]) -> Result<Option<Frame<'a>>> {
        split_frame(input, &self.checksum, self.max_frame_len)
    }

    #[inline]
    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>> {
        peek_frame_len(input, self.checksum.size(), self.max_frame_len)
    }

    // Always: with a checksum that is not inlined itself (XXH3), LLVM kept this out of the
    // buffered reader's `process_all` loop (0.69 to 0.80x the minimal buffered loop, 64 B).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn parse_plain(&self, input: &[u8]) -> Result<Option<PlainFrame>> {
        Ok(split_plain(input, &self.checksum, self.max_frame_len))
    }
}

/// Reads frames with no checksum: `[u32 LE payload length][payload]`.
#[derive(Debug, Clone, Copy)]
pub struct DefaultDeframer {
    inner: ChecksumDeframer<NoChecksum>,
}

impl DefaultDeframer {
    /// A deframer with the default limit of 64 MiB per payload.
    pub fn new() -> Self {
        DefaultDeframer {
            inner: ChecksumDeframer::new(NoChecksum),
        }
    }

    /// Sets the largest payload length accepted when reading (default 64 MiB).
    #[must_use]
    pub fn with_max_frame_len(self, max_frame_len: usize) -> Self {
        DefaultDeframer {
            inner: self.inner.with_max_frame_len(max_frame_len),
        }
    }

    /// The largest payload length accepted.
    pub fn max_frame_len(&self) -> usize {
        self.inner.max_frame_len()
    }
}

impl Default for DefaultDeframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deframer for DefaultDeframer {
    // Always, as the deframer it wraps (see `DefaultFramer::frame_and_write`).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        self.inner.read_frame(reader, payload)
    }

    #[inline]
    fn parse_frame<'a>(&mut self, input: &'a [u8]) -> Result<Option<Frame<'a>>> {
        self.inner.parse_frame(input)
    }

    #[inline]
    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>> {
        self.inner.peek_frame_len(input)
    }

    // Always, as the deframer it wraps (see `DefaultFramer::frame_and_write`).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn parse_plain(&self, input: &[u8]) -> Result<Option<PlainFrame>> {
        self.inner.parse_plain(input)
    }
}

/// Payloads from this size go out with their header in one vectored write: an unbuffered
/// file or socket takes the frame in one system call, and a `BufWriter` hands a payload larger
/// than its buffer straight to the inner writer without copying it. Smaller frames are
/// appended to a `Vec` sink (and so to a `FrameBuffer`) in one step, and take two plain
/// writes into any other `Write`, which buffered writers absorb more cheaply than building
/// the `IoSlice`s.
const VECTORED_MIN_PAYLOAD: usize = 4096;

/// Writes a large frame's header and payload whole, retrying `Interrupted`. Out of line:
/// inlined, its loop kept the small-frame path from being inlined into the writer (measured
/// with `perf`).
#[inline(never)]
fn write_vectored_frame<W: Write + ?Sized>(
    writer: &mut W,
    header: &[u8],
    payload: &[u8],
) -> io::Result<()> {
    let mut slices = [IoSlice::new(header), IoSlice::new(payload)];
    let mut remaining = &mut slices[..];
    while !remaining.is_empty() {
        match writer.write_vectored(remaining) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut remaining, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Payloads up to this size are read into a buffer sized up front; larger ones that do not
/// fit the buffer's capacity grow it as bytes arrive, so a torn frame that declares a large
/// length allocates only what the stream really holds.
const PRESIZE_LIMIT: usize = 1 << 20;

/// Reads `payload_len` bytes into `payload`, returning how many arrived before end of stream.
// Always inline: out of line, the payload's new length went through memory and the caller's
// load of the payload slice stalled on store forwarding (measured: ~30% of a 64 B read in
// `perf`); left to `#[inline]`, LLVM outlined it once the crate grew (+18 instructions per
// 64 B frame, counted with callgrind).
#[allow(clippy::inline_always)]
#[inline(always)]
fn read_payload<R: Read + ?Sized>(
    reader: &mut R,
    payload: &mut Vec<u8>,
    payload_len: usize,
) -> Result<usize> {
    // Frames of one size after another: the buffer is already the right length, and is left
    // as it is (the store of an unchanged length made the caller's load of the payload slice
    // stall on store forwarding, measured with `perf`).
    if payload.len() != payload_len {
        if payload_len <= payload.capacity() || payload_len <= PRESIZE_LIMIT {
            // Truncate or extend: only newly exposed bytes are zeroed, so a reused buffer
            // costs nothing per frame.
            payload.resize(payload_len, 0);
        } else {
            return read_growing(reader, payload, payload_len);
        }
    }
    Ok(read_full(reader, payload)?)
}

/// A payload larger than the buffer and [`PRESIZE_LIMIT`]: the buffer grows as bytes arrive.
#[cold]
#[inline(never)]
fn read_growing<R: Read + ?Sized>(
    reader: &mut R,
    payload: &mut Vec<u8>,
    payload_len: usize,
) -> Result<usize> {
    payload.clear();
    let mut filled = 0;
    while filled < payload_len {
        // Grow by as much as has arrived (8 KiB at first), never past the declared length:
        // memory follows the bytes that came, not the length the header claims.
        let step = filled.max(8 * 1024).min(payload_len - filled);
        payload.resize(filled + step, 0);
        // `read_full` checks every count a reader returns (`Read::take` and `read_to_end`
        // panic on a reader that claims more than it was given).
        let got = read_full(reader, &mut payload[filled..])?;
        filled += got;
        if got < step {
            payload.truncate(filled);
            break;
        }
    }
    Ok(filled)
}

/// Fills `buf` from `reader`, stopping early only at end of stream; returns the bytes read.
/// `Interrupted` is retried, as `read_exact` does.
#[inline]
fn read_full<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    // A slice, a cursor or a buffered reader fills `buf` in one call: keep that inline.
    match reader.read(buf) {
        Ok(n) if n == buf.len() => Ok(n),
        first => read_rest(reader, buf, first),
    }
}

/// [`read_full`] after a first read that did not fill `buf`.
#[cold]
#[inline(never)]
fn read_rest<R: Read + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    first: io::Result<usize>,
) -> io::Result<usize> {
    let mut filled = match first {
        // End of stream: read no further, as the loop below would not.
        Ok(0) => return Ok(0),
        Ok(n) if n <= buf.len() => n,
        Ok(n) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reader returned {n} bytes for a {}-byte buffer", buf.len()),
            ));
        }
        Err(error) if error.kind() == io::ErrorKind::Interrupted => 0,
        Err(error) => return Err(error),
    };
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) if n <= buf.len() - filled => filled += n,
            Ok(n) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "reader returned {n} bytes for a {}-byte buffer",
                        buf.len() - filled
                    ),
                ));
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flatstream_core::ErrorKind;
    use std::io::Cursor;

    #[test]
    fn default_framer_writes_length_then_payload() {
        let mut out = Vec::new();
        let written = DefaultFramer::new()
            .frame_and_write(&mut out, b"abc")
            .unwrap();
        assert_eq!(written, 7);
        assert_eq!(out, [3, 0, 0, 0, b'a', b'b', b'c']);
    }

    /// A checksum of 8 bytes that is not a hash: the payload's length and first byte, so
    /// that the expected header can be written out by hand.
    #[derive(Debug, Clone, Copy)]
    struct LengthSum;

    impl Checksum for LengthSum {
        fn size(&self) -> usize {
            8
        }

        fn calculate(&self, payload: &[u8]) -> u64 {
            ((payload.len() as u64) << 8) | u64::from(payload.first().copied().unwrap_or(0))
        }

        fn name(&self) -> &'static str {
            "length-sum"
        }
    }

    #[test]
    fn every_sink_gets_the_same_bytes_at_every_path_length() {
        // A `Vec` takes frames under 4 KiB in one step (inline up to 128 bytes, `memcpy`
        // above), any other `Write` takes two writes, and 4 KiB and up go vectored: the
        // bytes must not depend on the path. Under Miri too (the `Vec` path's copies).
        for len in [0, 1, 63, 64, 127, 128, 129, 200, 1024, 4095, 4096, 4097] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut expected = (len as u32).to_le_bytes().to_vec();
            expected.extend_from_slice(&LengthSum.calculate(&payload).to_le_bytes());
            expected.extend_from_slice(&payload);

            let mut framer = ChecksumFramer::new(LengthSum);
            let mut vec = vec![0xEE];
            let written = framer.frame_and_write(&mut vec, &payload).unwrap();
            assert_eq!(written, 12 + len, "length {len}");
            assert_eq!(vec[0], 0xEE, "length {len}: the bytes before the frame");
            assert_eq!(vec[1..], expected[..], "Vec, length {len}");

            let mut borrowed = Vec::new();
            framer
                .frame_and_write(&mut &mut borrowed, &payload)
                .unwrap();
            assert_eq!(borrowed, expected, "&mut Vec, length {len}");

            let mut cursor = Cursor::new(Vec::new());
            framer.frame_and_write(&mut cursor, &payload).unwrap();
            assert_eq!(cursor.into_inner(), expected, "Cursor, length {len}");
        }
    }

    #[test]
    fn deframer_stops_exactly_at_the_frame_end() {
        let mut stream = Vec::new();
        let mut framer = DefaultFramer::new();
        framer.frame_and_write(&mut stream, b"one").unwrap();
        framer.frame_and_write(&mut stream, b"three").unwrap();
        let mut cursor = Cursor::new(stream);
        let mut payload = Vec::new();
        let mut deframer = DefaultDeframer::new();
        assert_eq!(
            deframer.read_frame(&mut cursor, &mut payload).unwrap(),
            Some(7)
        );
        assert_eq!(payload, b"one");
        assert_eq!(cursor.position(), 7);
        assert_eq!(
            deframer.read_frame(&mut cursor, &mut payload).unwrap(),
            Some(9)
        );
        assert_eq!(payload, b"three");
        assert_eq!(
            deframer.read_frame(&mut cursor, &mut payload).unwrap(),
            None
        );
    }

    #[test]
    fn limit_is_checked_before_the_buffer_is_sized() {
        // 4 GiB - 1 declared, nothing behind it.
        let mut cursor = Cursor::new(vec![0xff, 0xff, 0xff, 0xff]);
        let mut payload = Vec::new();
        let error = DefaultDeframer::new()
            .with_max_frame_len(1024)
            .read_frame(&mut cursor, &mut payload)
            .unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::FrameTooLarge {
                len: 0xffff_ffff,
                max: 1024
            }
        ));
        assert_eq!(payload.capacity(), 0);
    }

    #[test]
    fn large_torn_frame_allocates_only_what_arrived() {
        // Declares 60 MiB (under the default limit) but holds 10 bytes.
        let mut stream = (60u32 << 20).to_le_bytes().to_vec();
        stream.extend_from_slice(&[7; 10]);
        let mut payload = Vec::new();
        let error = DefaultDeframer::new()
            .read_frame(&mut Cursor::new(stream), &mut payload)
            .unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::UnexpectedEof {
                part: FramePart::Payload,
                needed: 62_914_560,
                got: 10
            }
        ));
        assert!(payload.capacity() < 1 << 20, "{}", payload.capacity());
    }

    #[test]
    fn vectored_frames_survive_partial_writes() {
        /// Takes at most 1000 bytes per call, across slices.
        struct Trickle(Vec<u8>);
        impl Write for Trickle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().min(1000);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                let mut budget = 1000;
                for buf in bufs {
                    let n = buf.len().min(budget);
                    self.0.extend_from_slice(&buf[..n]);
                    budget -= n;
                    if budget == 0 {
                        break;
                    }
                }
                Ok(1000 - budget)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        /// Accepts nothing.
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut trickle = Trickle(Vec::new());
        let mut plain = Vec::new();
        let mut framer = DefaultFramer::new();
        framer.frame_and_write(&mut trickle, &payload).unwrap();
        framer.frame_and_write(&mut plain, &payload).unwrap();
        assert_eq!(trickle.0, plain);

        let error = framer.frame_and_write(&mut Full, &payload).unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::Io(e) if e.kind() == io::ErrorKind::WriteZero));
    }

    #[test]
    fn over_reporting_reader_is_an_error_not_a_panic() {
        struct Liar;
        impl Read for Liar {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                Ok(buf.len() + 1)
            }
        }
        let mut payload = Vec::new();
        let error = DefaultDeframer::new()
            .read_frame(&mut Liar, &mut payload)
            .unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::Io(_)));
    }
}
