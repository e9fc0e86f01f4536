//! The wire format's primitives: the one place that encodes and decodes a frame header.
//!
//! ```text
//! +----------------+------------------------+-------------------+
//! | length: u32 LE | checksum: 0/2/4/8 B LE | payload: length B |
//! +----------------+------------------------+-------------------+
//! ```
//!
//! Every reader (blocking, slice, async) and every writer goes through these functions, so
//! the format is defined once.

use std::ops::Range;

use crate::checksum::Checksum;
use crate::error::{Error, FramePart, Result};

/// Width of the length field.
pub const LENGTH_LEN: usize = 4;

/// Widest checksum field the format allows.
pub const MAX_CHECKSUM_LEN: usize = 8;

/// Longest frame header: the length and the widest checksum.
pub const MAX_HEADER_LEN: usize = LENGTH_LEN + MAX_CHECKSUM_LEN;

/// The default limit on a payload's declared length when reading: 64 MiB.
pub const DEFAULT_MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

/// The header of one frame: the payload's length and the checksum stored for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length in bytes.
    pub payload_len: u32,
    /// The checksum of the payload (0 when the checksum is zero-width).
    pub checksum: u64,
}

impl FrameHeader {
    /// The header for `payload` under `checksum`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidFrame`](crate::ErrorKind::InvalidFrame) when the payload is longer
    /// than the 4-byte length field can say (4 GiB - 1).
    #[inline]
    pub fn for_payload<C: Checksum + ?Sized>(checksum: &C, payload: &[u8]) -> Result<Self> {
        let Ok(payload_len) = u32::try_from(payload.len()) else {
            return Err(payload_too_long(payload.len()));
        };
        Ok(FrameHeader {
            payload_len,
            checksum: checksum.calculate(payload),
        })
    }

    /// Encodes the header with a checksum field `checksum_len` bytes wide.
    ///
    /// # Panics
    ///
    /// If `checksum_len` exceeds [`MAX_CHECKSUM_LEN`]: a [`Checksum`] implementation reported
    /// an impossible width.
    #[inline]
    pub fn encode(&self, checksum_len: usize) -> EncodedHeader {
        let header_len = header_len(checksum_len);
        // Field by field, as a hand-written loop writes it: with the writers' `write_all`
        // inlined, LLVM stores the two fields straight into the output (a 4-byte and an
        // 8-byte store) and the length's store need not wait for the checksum. Built as one
        // `u128` in a register instead (which an older writer needed, against a store-
        // forwarding stall), it cost three shifts and ors on the checksum's path: XXH3 at
        // 64 B, `write_payload` 0.87 -> 0.91x the loop (single-cell harness), 0.85 -> 0.90x
        // paired. Bytes past the checksum's width are never written out (`as_bytes`).
        let mut bytes = [0u8; MAX_HEADER_LEN];
        bytes[..LENGTH_LEN].copy_from_slice(&self.payload_len.to_le_bytes());
        bytes[LENGTH_LEN..].copy_from_slice(&self.checksum.to_le_bytes());
        EncodedHeader {
            bytes,
            len: header_len as u8,
        }
    }

    /// Decodes a header from exactly `LENGTH_LEN + checksum width` bytes.
    ///
    /// # Panics
    ///
    /// If `header` is shorter than [`LENGTH_LEN`] or longer than [`MAX_HEADER_LEN`].
    #[inline]
    pub fn decode(header: &[u8]) -> Self {
        let (length, checksum) = header.split_at(LENGTH_LEN);
        FrameHeader {
            payload_len: u32::from_le_bytes([length[0], length[1], length[2], length[3]]),
            checksum: decode_checksum(checksum),
        }
    }

    /// The payload length as a `usize`, once it is checked against `max_frame_len`.
    ///
    /// Call this before sizing anything from the header: it is what keeps a hostile length
    /// from allocating.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::FrameTooLarge`](crate::ErrorKind::FrameTooLarge) when the declared length
    /// exceeds `max_frame_len`.
    #[inline]
    pub fn checked_payload_len(&self, max_frame_len: usize) -> Result<usize> {
        let payload_len = self.payload_len as usize;
        if payload_len > max_frame_len {
            Err(Error::frame_too_large(
                u64::from(self.payload_len),
                max_frame_len,
            ))
        } else {
            Ok(payload_len)
        }
    }

    /// Bytes of the whole frame on the wire, with a checksum field `checksum_len` bytes wide.
    #[inline]
    pub fn frame_len(&self, checksum_len: usize) -> usize {
        LENGTH_LEN + checksum_len + self.payload_len as usize
    }

    /// Checks `payload` against the stored checksum.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ChecksumMismatch`](crate::ErrorKind::ChecksumMismatch), with the frame's
    /// length recorded: the frame was read whole and the stream can go on.
    #[inline]
    pub fn verify<C: Checksum + ?Sized>(&self, checksum: &C, payload: &[u8]) -> Result<()> {
        checksum
            .verify(self.checksum, payload)
            .map_err(|error| error.with_frame_len(self.frame_len(checksum.size()) as u64))
    }
}

/// The payload length declared by the frame that begins `input`, or `None` when `input`
/// is shorter than the length field.
///
/// Unchecked: pass it through [`FrameHeader::checked_payload_len`] before sizing anything
/// from it.
#[inline]
pub fn declared_len(input: &[u8]) -> Option<u32> {
    input
        .first_chunk::<LENGTH_LEN>()
        .map(|field| u32::from_le_bytes(*field))
}

/// How many bytes the frame at the start of `input` spans on the wire, header included,
/// with a checksum field `checksum_len` bytes wide: what a reader that gathers bytes must
/// hold before it can parse the frame.
///
/// Returns `None` while `input` is shorter than the length field.
///
/// # Errors
///
/// [`FrameTooLarge`](crate::ErrorKind::FrameTooLarge) as soon as the length field is whole,
/// before anything is sized from it.
#[inline]
pub fn peek_frame_len(
    input: &[u8],
    checksum_len: usize,
    max_frame_len: usize,
) -> Result<Option<usize>> {
    let Some(payload_len) = declared_len(input) else {
        return Ok(None);
    };
    let payload_len = FrameHeader {
        payload_len,
        checksum: 0,
    }
    .checked_payload_len(max_frame_len)?;
    Ok(Some(LENGTH_LEN + checksum_len + payload_len))
}

/// The length of a frame header whose checksum field is `checksum_len` bytes wide:
/// [`LENGTH_LEN`] + `checksum_len`, computed only once the width is known to fit the field
/// (a [`Checksum`] may report any width, and a width near `usize::MAX` would wrap).
///
/// # Panics
///
/// If `checksum_len` exceeds [`MAX_CHECKSUM_LEN`]: a [`Checksum`] implementation reported
/// an impossible width.
#[inline]
pub fn header_len(checksum_len: usize) -> usize {
    assert!(
        checksum_len <= MAX_CHECKSUM_LEN,
        "checksum width {checksum_len} exceeds {MAX_CHECKSUM_LEN} bytes"
    );
    LENGTH_LEN + checksum_len
}

/// Parses the header at the start of `bytes`, which holds what the stream had of it: the
/// whole header, or less when the stream ended inside it.
///
/// Returns `None` for an empty `bytes` (a clean end between frames). The declared length is
/// checked against `max_frame_len` as soon as the length field is whole, before anything
/// is sized from it, and before a torn checksum field is reported.
///
/// # Errors
///
/// [`UnexpectedEof`](crate::ErrorKind::UnexpectedEof) in the length or checksum field;
/// [`FrameTooLarge`](crate::ErrorKind::FrameTooLarge).
///
/// # Panics
///
/// If `checksum_len` exceeds [`MAX_CHECKSUM_LEN`].
#[inline]
pub fn parse_header(
    bytes: &[u8],
    checksum_len: usize,
    max_frame_len: usize,
) -> Result<Option<FrameHeader>> {
    let header_len = header_len(checksum_len);
    let Some(payload_len) = declared_len(bytes) else {
        return if bytes.is_empty() {
            Ok(None)
        } else {
            Err(Error::unexpected_eof(
                FramePart::Length,
                LENGTH_LEN,
                bytes.len(),
            ))
        };
    };
    let header = FrameHeader {
        payload_len,
        checksum: 0,
    };
    header.checked_payload_len(max_frame_len)?;
    if bytes.len() < header_len {
        return Err(Error::unexpected_eof(
            FramePart::Checksum,
            checksum_len,
            bytes.len() - LENGTH_LEN,
        ));
    }
    Ok(Some(FrameHeader {
        checksum: decode_checksum(&bytes[LENGTH_LEN..header_len]),
        ..header
    }))
}

/// A frame found whole in a byte slice by [`split_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The payload, borrowed from the input.
    pub payload: &'a [u8],
    /// Bytes of the whole frame, header included: where the next frame begins.
    pub len: usize,
}

/// Parses and verifies the frame at the start of `input`: the parser of every reader that
/// holds its bytes in memory (slices, memory maps, async buffers).
///
/// Returns `None` for an empty `input`. Input that ends inside a frame is a torn frame.
///
/// # Errors
///
/// As [`parse_header`], plus [`UnexpectedEof`](crate::ErrorKind::UnexpectedEof) in the
/// payload and [`ChecksumMismatch`](crate::ErrorKind::ChecksumMismatch) (with the frame's
/// length recorded).
#[inline]
pub fn split_frame<'a, C: Checksum + ?Sized>(
    input: &'a [u8],
    checksum: &C,
    max_frame_len: usize,
) -> Result<Option<Frame<'a>>> {
    let header_len = LENGTH_LEN + checksum.size();
    let header_bytes = &input[..input.len().min(header_len)];
    let Some(header) = parse_header(header_bytes, checksum.size(), max_frame_len)? else {
        return Ok(None);
    };
    let payload_len = header.payload_len as usize;
    let available = input.len() - header_len;
    if available < payload_len {
        return Err(Error::unexpected_eof(
            FramePart::Payload,
            payload_len,
            available,
        ));
    }
    let payload = &input[header_len..header_len + payload_len];
    header.verify(checksum, payload)?;
    Ok(Some(Frame {
        payload,
        len: header_len + payload_len,
    }))
}

/// A frame whose payload passes through unchanged, found whole at the start of an input by
/// [`split_plain`] (or [`Deframer::parse_plain`](crate::Deframer::parse_plain)): where its
/// payload lies in that input, and the frame's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainFrame {
    /// The payload's place in the input.
    pub payload: Range<usize>,
    /// Bytes of the whole frame, header included: where the next frame begins.
    pub len: usize,
}

/// [`split_frame`] for the per-frame path of readers that hold bytes in memory: the frame
/// at the start of `input` when it lies there whole, within `max_frame_len`, and its
/// checksum matches; `None` for anything else (too short, too long, a mismatch), which the
/// caller then parses with [`split_frame`] to learn what it is. No error is built, and
/// nothing else is done: asking twice gives the same answer.
// Always: as `ChecksumDeframer::parse_plain`, which is this function.
#[allow(clippy::inline_always)]
#[inline(always)]
pub fn split_plain<C: Checksum + ?Sized>(
    input: &[u8],
    checksum: &C,
    max_frame_len: usize,
) -> Option<PlainFrame> {
    let payload_len = declared_len(input)? as usize;
    let header_len = LENGTH_LEN + checksum.size();
    if payload_len > max_frame_len || payload_len > input.len().checked_sub(header_len)? {
        return None;
    }
    let payload = header_len..header_len + payload_len;
    let stored = decode_checksum(&input[LENGTH_LEN..header_len]);
    checksum.verify(stored, &input[payload.clone()]).ok()?;
    Some(PlainFrame {
        len: payload.end,
        payload,
    })
}

/// The error for a payload the length field cannot carry; out of line, so that the
/// formatting stays off the writers' hot path.
#[cold]
#[inline(never)]
fn payload_too_long(len: usize) -> Error {
    Error::invalid_frame(format!(
        "payload of {len} bytes does not fit the 32-bit length field"
    ))
}

/// Little-endian checksum of 0 to 8 bytes.
#[inline]
fn decode_checksum(bytes: &[u8]) -> u64 {
    // One load of the field's own width for each width the format allows: copied into a
    // zeroed `[u8; 8]` and loaded whole, the load spans two stores and stalls on store
    // forwarding.
    if let Ok(two) = <[u8; 2]>::try_from(bytes) {
        return u64::from(u16::from_le_bytes(two));
    }
    if let Ok(four) = <[u8; 4]>::try_from(bytes) {
        return u64::from(u32::from_le_bytes(four));
    }
    if let Ok(eight) = <[u8; 8]>::try_from(bytes) {
        return u64::from_le_bytes(eight);
    }
    let mut wide = [0u8; 8];
    wide[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(wide)
}

/// An encoded frame header, on the stack.
#[derive(Debug, Clone, Copy)]
pub struct EncodedHeader {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl EncodedHeader {
    /// The header's bytes, ready to write before the payload.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, FramePart, NoChecksum};

    struct Fixed(u64, usize);

    impl Checksum for Fixed {
        fn size(&self) -> usize {
            self.1
        }
        fn calculate(&self, _payload: &[u8]) -> u64 {
            self.0
        }
        fn name(&self) -> &'static str {
            "fixed"
        }
    }

    #[test]
    fn header_len_adds_the_width_once_it_fits_the_field() {
        assert_eq!(header_len(0), LENGTH_LEN);
        assert_eq!(header_len(MAX_CHECKSUM_LEN), MAX_HEADER_LEN);
    }

    #[test]
    #[should_panic(expected = "exceeds 8 bytes")]
    fn header_len_refuses_a_width_that_would_wrap() {
        let _ = header_len(usize::MAX);
    }

    #[test]
    fn encodes_length_then_checksum_little_endian() {
        let checksum = Fixed(0x0807_0605_0403_0201, 8);
        let header = FrameHeader::for_payload(&checksum, b"abc").unwrap();
        assert_eq!(
            header.encode(8).as_bytes(),
            [3, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
        );
        let two_bytes = Fixed(0xbeef, 2);
        let header = FrameHeader::for_payload(&two_bytes, &[0; 258]).unwrap();
        assert_eq!(header.encode(2).as_bytes(), [2, 1, 0, 0, 0xef, 0xbe]);
    }

    #[test]
    fn no_checksum_header_is_the_length_alone() {
        let header = FrameHeader::for_payload(&NoChecksum, b"abc").unwrap();
        assert_eq!(header.encode(0).as_bytes(), [3, 0, 0, 0]);
    }

    #[test]
    fn decode_inverts_encode_for_every_width() {
        for width in [0, 2, 4, 8] {
            let value = 0x1122_3344_5566_7788_u64 & (u64::MAX >> (64 - 8 * width.max(1)));
            let value = if width == 0 { 0 } else { value };
            let header = FrameHeader {
                payload_len: 0xdead_beef,
                checksum: value,
            };
            assert_eq!(FrameHeader::decode(header.encode(width).as_bytes()), header);
        }
    }

    #[test]
    fn parse_header_names_the_torn_part() {
        assert_eq!(parse_header(&[], 4, 100).unwrap(), None);
        let error = parse_header(&[1, 0], 4, 100).unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::UnexpectedEof {
                part: FramePart::Length,
                needed: 4,
                got: 2
            }
        ));
        let error = parse_header(&[1, 0, 0, 0, 9], 4, 100).unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::UnexpectedEof {
                part: FramePart::Checksum,
                needed: 4,
                got: 1
            }
        ));
        // The limit is checked before a torn checksum is reported.
        let error = parse_header(&[200, 0, 0, 0, 9], 4, 100).unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::FrameTooLarge { len: 200, max: 100 }
        ));
        let header = parse_header(&[5, 0, 0, 0, 1, 2], 2, 100).unwrap().unwrap();
        assert_eq!((header.payload_len, header.checksum), (5, 0x0201));
        assert_eq!(header.frame_len(2), 11);
    }

    #[test]
    fn peek_frame_len_needs_only_the_length_field_and_checks_the_limit_first() {
        assert_eq!(peek_frame_len(&[], 8, 100).unwrap(), None);
        assert_eq!(peek_frame_len(&[3, 0, 0], 8, 100).unwrap(), None);
        assert_eq!(peek_frame_len(&[3, 0, 0, 0], 8, 100).unwrap(), Some(15));
        assert_eq!(
            peek_frame_len(&[3, 0, 0, 0, 9, 9], 0, 100).unwrap(),
            Some(7)
        );
        let error = peek_frame_len(&[0xff, 0xff, 0xff, 0xff], 4, 100).unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::FrameTooLarge {
                len: 0xffff_ffff,
                max: 100
            }
        ));
        assert_eq!(declared_len(&[1, 2, 0, 0, 7]), Some(0x0201));
        assert_eq!(declared_len(&[1, 2, 0]), None);
    }

    #[test]
    fn verify_records_the_whole_frame_length() {
        let header = FrameHeader {
            payload_len: 3,
            checksum: 1,
        };
        let error = header.verify(&Fixed(2, 4), b"abc").unwrap_err();
        assert_eq!(error.frame_len(), Some(11));
        header.verify(&Fixed(1, 4), b"abc").unwrap();
    }

    #[test]
    fn split_frame_borrows_the_payload_and_reports_torn_payloads() {
        let input = [3, 0, 0, 0, b'a', b'b', b'c', 1, 0];
        let frame = split_frame(&input, &NoChecksum, 100).unwrap().unwrap();
        assert_eq!(
            frame,
            Frame {
                payload: b"abc",
                len: 7
            }
        );
        let error = split_frame(&input[7..], &NoChecksum, 100).unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::UnexpectedEof {
                part: FramePart::Length,
                ..
            }
        ));
        let error = split_frame(&input[..6], &NoChecksum, 100).unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::UnexpectedEof {
                part: FramePart::Payload,
                needed: 3,
                got: 2
            }
        ));
        assert_eq!(split_frame(&[], &NoChecksum, 100).unwrap(), None);
    }

    #[test]
    fn split_frame_mismatch_records_the_frame_length() {
        let checksum = Fixed(7, 4);
        let input = [1, 0, 0, 0, 8, 0, 0, 0, b'x'];
        let error = split_frame(&input, &checksum, 100).unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::ChecksumMismatch {
                expected: 8,
                calculated: 7
            }
        ));
        assert_eq!(error.frame_len(), Some(9));
    }

    #[test]
    fn length_over_limit_is_rejected_with_both_numbers() {
        let header = FrameHeader {
            payload_len: 1025,
            checksum: 0,
        };
        assert_eq!(header.checked_payload_len(1025).unwrap(), 1025);
        let error = header.checked_payload_len(1024).unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::FrameTooLarge {
                len: 1025,
                max: 1024
            }
        ));
    }
}
