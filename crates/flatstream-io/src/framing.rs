//! The framers and deframers of the wire format, with and without a checksum.

use std::io::{self, Read, Write};

use flatstream_core::wire::{FrameHeader, LENGTH_LEN, MAX_HEADER_LEN};
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
    #[inline]
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        let header =
            FrameHeader::for_payload(&self.checksum, payload)?.encode(self.checksum.size());
        writer.write_all(header.as_bytes())?;
        writer.write_all(payload)?;
        Ok(header.as_bytes().len() + payload.len())
    }
}

/// Writes frames with no checksum: `[u32 LE payload length][payload]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultFramer {
    inner: ChecksumFramer<NoChecksum>,
}

impl DefaultFramer {
    /// A framer that writes the length and the payload.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Framer for DefaultFramer {
    #[inline]
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        self.inner.frame_and_write(writer, payload)
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
}

impl<C: Checksum + Default> Default for ChecksumDeframer<C> {
    fn default() -> Self {
        Self::new(C::default())
    }
}

impl<C: Checksum> Deframer for ChecksumDeframer<C> {
    #[inline]
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        let header_len = LENGTH_LEN + self.checksum.size();
        let mut header_bytes = [0u8; MAX_HEADER_LEN];
        let header_bytes = &mut header_bytes[..header_len];
        let got = read_full(reader, header_bytes)?;
        if got == 0 {
            return Ok(None);
        }
        if got < LENGTH_LEN {
            return Err(Error::unexpected_eof(FramePart::Length, LENGTH_LEN, got));
        }
        let header = FrameHeader::decode(&header_bytes[..got.min(header_len)]);
        let payload_len = header.checked_payload_len(self.max_frame_len)?;
        if got < header_len {
            let checksum_len = header_len - LENGTH_LEN;
            return Err(Error::unexpected_eof(
                FramePart::Checksum,
                checksum_len,
                got - LENGTH_LEN,
            ));
        }
        let got = read_payload(reader, payload, payload_len)?;
        if got < payload_len {
            return Err(Error::unexpected_eof(FramePart::Payload, payload_len, got));
        }
        let frame_len = header_len + payload_len;
        self.checksum
            .verify(header.checksum, payload)
            .map_err(|error| error.with_frame_len(frame_len as u64))?;
        Ok(Some(frame_len))
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
    #[inline]
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        self.inner.read_frame(reader, payload)
    }
}

/// Payloads up to this size are read into a buffer sized up front; larger ones that do not
/// fit the buffer's capacity grow it as bytes arrive, so a torn frame that declares a large
/// length allocates only what the stream really holds.
const PRESIZE_LIMIT: usize = 1 << 20;

/// Reads `payload_len` bytes into `payload`, returning how many arrived before end of stream.
fn read_payload<R: Read + ?Sized>(
    reader: &mut R,
    payload: &mut Vec<u8>,
    payload_len: usize,
) -> Result<usize> {
    if payload_len <= payload.capacity() || payload_len <= PRESIZE_LIMIT {
        // Truncate or extend: only newly exposed bytes are zeroed, so a reused buffer
        // costs nothing per frame.
        payload.resize(payload_len, 0);
        Ok(read_full(reader, payload)?)
    } else {
        payload.clear();
        Ok(reader.take(payload_len as u64).read_to_end(payload)?)
    }
}

/// Fills `buf` from `reader`, stopping early only at end of stream; returns the bytes read.
/// `Interrupted` is retried, as `read_exact` does.
fn read_full<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
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
