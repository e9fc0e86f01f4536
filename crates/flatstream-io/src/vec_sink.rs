//! Frames of under 4 KiB of payload appended to a `Vec<u8>` sink (`Vec<u8>` or
//! `&mut Vec<u8>`), which [`ChecksumFramer`](crate::ChecksumFramer) recognises by type, as
//! the readers recognise bytes in memory (see `in_memory`): one capacity check for the whole
//! frame, the header's fields stored straight from registers, and the payload copied inline
//! (up to [`SHORT_PAYLOAD_MAX`] bytes) or with one call to `memcpy` (above).
//!
//! Measured on 64 B payloads into a reused `Vec`, `StreamWriter::write_payload` against the
//! minimal loop's two `write_all` calls (single-cell harness, 1 MiB of frames):
//! - through `Write`, as every other sink is written: 0.88× the loop without a checksum,
//!   0.90× with XXH3;
//! - one capacity check, with `memcpy` still called: 0.79×; with the inline copy but the
//!   header copied from its encoded bytes on the stack: XXH3 0.81× (the copy's loads spanned
//!   the two fields' stores and waited for them);
//! - this path: 1.04× without a checksum, 1.04× with XXH3.
//!
//! Payloads over [`SHORT_PAYLOAD_MAX`] and under 4 KiB take the same one step, the payload
//! copied with `memcpy`: through `Write` (the header encoded on the stack, then two
//! `extend_from_slice` calls) `write_finished` with CRC-32 at 1 KiB ran at 0.87 to 0.89×
//! the minimal loop on the 64 MiB stream, and at 1.02 to 1.10× this way (the paired bench's
//! cell, one binary per code layout, three layouts, two runs each).
#![allow(unsafe_code)]

use flatstream_core::wire::{FrameHeader, LENGTH_LEN, header_len};

/// The longest payload [`append_frame`] takes; every length up to it is copied inline.
pub(crate) const SHORT_PAYLOAD_MAX: usize = 128;
// `copy_short`'s four 32-byte moves cover 64 to 128 bytes, no more.
const _: () = assert!(SHORT_PAYLOAD_MAX <= 128);

/// `writer` as the `Vec<u8>` it is, when `W` is `Vec<u8>` or `&mut Vec<u8>` (whatever its
/// lifetime); `None` for every other type. After inlining, the comparisons are of constants.
#[inline]
pub(crate) fn vec_of<W: ?Sized>(writer: &mut W) -> Option<&mut Vec<u8>> {
    let id = typeid::of::<W>();
    let writer = std::ptr::from_mut(writer);
    if id == typeid::of::<Vec<u8>>() {
        // SAFETY: `W` is `Vec<u8>` (type ids are equal, and `Vec<u8>` has no lifetime to
        // differ in), so the pointer points to a valid `Vec<u8>`, borrowed uniquely for as
        // long as `writer` is.
        Some(unsafe { &mut *writer.cast::<Vec<u8>>() })
    } else if id == typeid::of::<&mut Vec<u8>>() {
        // SAFETY: `W` is `&'w mut Vec<u8>` for some `'w` (equal up to lifetimes), so the
        // pointer points to a valid unique reference to a `Vec<u8>`. The returned borrow is
        // reborrowed through it for the borrow of `writer` only, which `'w` outlives (the
        // caller holds a `&mut W`, so `W: 'borrow`).
        Some(unsafe { &mut **writer.cast::<&mut Vec<u8>>() })
    } else {
        None
    }
}

/// `writer` as the `Vec<u8>` it is, shared, when `W` is `Vec<u8>` or `&mut Vec<u8>`; `None`
/// for every other type (as [`vec_of`]).
#[inline]
pub(crate) fn vec_ref_of<W: ?Sized>(writer: &W) -> Option<&Vec<u8>> {
    let id = typeid::of::<W>();
    let writer = std::ptr::from_ref(writer);
    if id == typeid::of::<Vec<u8>>() {
        // SAFETY: `W` is `Vec<u8>` (type ids are equal, and `Vec<u8>` has no lifetime to
        // differ in), so the pointer points to a valid `Vec<u8>`, borrowed for as long as
        // `writer` is.
        Some(unsafe { &*writer.cast::<Vec<u8>>() })
    } else if id == typeid::of::<&mut Vec<u8>>() {
        // SAFETY: `W` is `&'w mut Vec<u8>` for some `'w` (equal up to lifetimes), so the
        // pointer points to a valid reference to a `Vec<u8>`, read here through a shared
        // borrow for the borrow of `writer` only, which `'w` outlives.
        Some(unsafe { &**writer.cast::<&mut Vec<u8>>() })
    } else {
        None
    }
}

/// Appends the frame of `payload` to `out`: `header` (its checksum `checksum_len` bytes
/// wide), then the payload, with one capacity check. A payload of up to
/// [`SHORT_PAYLOAD_MAX`] bytes is copied inline, a longer one with `memcpy`.
///
/// # Panics
///
/// If `checksum_len` exceeds the field's 8 bytes, as [`FrameHeader::encode`] does (both
/// check it in [`header_len`]).
// Always: this is the per-frame path of every writer into a `Vec`.
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn append_frame(
    out: &mut Vec<u8>,
    header: FrameHeader,
    checksum_len: usize,
    payload: &[u8],
) {
    // Checked before any arithmetic on it: `Checksum::size` is a safe method, and a width near
    // `usize::MAX` would wrap the frame's length below what `put_header` writes (found by an
    // outside attack). Known widths fold the check away.
    let header_len = header_len(checksum_len);
    let frame_len = header_len + payload.len();
    out.reserve(frame_len);
    let len = out.len();
    // SAFETY: `reserve` made room for `frame_len` bytes after `len`, so `place` and the
    // `frame_len` bytes after it are within the allocation, and the payload does not overlap
    // them (`out` is borrowed uniquely, the payload shared). The header fills the first
    // `header_len` of them and the payload the rest; after both every byte up to
    // `len + frame_len` is initialised, which `set_len` requires.
    unsafe {
        let place = out.as_mut_ptr().add(len);
        put_header(header, checksum_len, place);
        copy_short(payload, place.add(header_len));
        out.set_len(len + frame_len);
    }
}

/// Writes `header` as the wire lays it out: the length, then `checksum_len` bytes of the
/// checksum, each little-endian. The fields are stored straight from registers: copied from
/// an encoded header on the stack instead, the loads spanned the two fields' stores and
/// waited for them (XXH3 at 64 B: 0.81x the loop, against 0.90x through `write_all`).
///
/// # Safety
///
/// `place` must be valid for writes of `LENGTH_LEN + checksum_len` bytes.
#[allow(clippy::inline_always)]
#[inline(always)]
unsafe fn put_header(header: FrameHeader, checksum_len: usize, place: *mut u8) {
    let checksum = header.checksum.to_le_bytes();
    // SAFETY: every store is within the `LENGTH_LEN + checksum_len` bytes the caller vouches
    // for: the length's 4 at the start, then the checksum's `checksum_len`.
    unsafe {
        place
            .cast::<[u8; LENGTH_LEN]>()
            .write_unaligned(header.payload_len.to_le_bytes());
        let place = place.add(LENGTH_LEN);
        match checksum_len {
            0 => {}
            2 => place
                .cast::<[u8; 2]>()
                .write_unaligned([checksum[0], checksum[1]]),
            4 => place.cast::<[u8; 4]>().write_unaligned([
                checksum[0],
                checksum[1],
                checksum[2],
                checksum[3],
            ]),
            8 => place.cast::<[u8; 8]>().write_unaligned(checksum),
            // A width no checksum of this workspace has: `encode` checks it against the
            // field's 8 bytes (and panics past them) and lays it out.
            _ => {
                let encoded = header.encode(checksum_len);
                std::ptr::copy_nonoverlapping(
                    encoded.as_bytes()[LENGTH_LEN..].as_ptr(),
                    place,
                    checksum_len,
                );
            }
        }
    }
}

/// Copies `src` to `dst`; up to [`SHORT_PAYLOAD_MAX`] bytes without calling `memcpy` (overlapping fixed-size
/// moves, which compile to a few vector loads and stores), longer ones with it.
///
/// # Safety
///
/// `dst` must be valid for writes of `src.len()` bytes and must not overlap `src`.
#[allow(clippy::inline_always)]
#[inline(always)]
unsafe fn copy_short(src: &[u8], dst: *mut u8) {
    /// Copies `N` bytes of `src` from `at` to `dst + at` (`at + N <= src.len()`, checked).
    #[inline(always)]
    unsafe fn move_n<const N: usize>(src: &[u8], dst: *mut u8, at: usize) {
        let bytes: [u8; N] = *src[at..]
            .first_chunk()
            .expect("the caller keeps `at + N` within `src`");
        // SAFETY: the caller's contract covers `src.len()` bytes at `dst`, and `at + N` is
        // within them (the slice above checked it against `src`).
        unsafe { dst.add(at).cast::<[u8; N]>().write_unaligned(bytes) };
    }
    let n = src.len();
    // SAFETY (every arm): each move is of `N` bytes at an offset from 0 to `n - N`, so
    // within `src` and, by the contract, within `dst`; overlapping moves write the same
    // bytes twice. The tests are ordered for the common sizes: 32 to 128 bytes take two
    // branches (a ladder from the smallest sizes up ran 0.68 to 0.78x where this ran 1.0x).
    unsafe {
        if n <= 64 {
            if n >= 32 {
                move_n::<32>(src, dst, 0);
                move_n::<32>(src, dst, n - 32);
            } else if n >= 16 {
                move_n::<16>(src, dst, 0);
                move_n::<16>(src, dst, n - 16);
            } else if n >= 8 {
                move_n::<8>(src, dst, 0);
                move_n::<8>(src, dst, n - 8);
            } else if n >= 4 {
                move_n::<4>(src, dst, 0);
                move_n::<4>(src, dst, n - 4);
            } else if n > 0 {
                // First, middle and last byte: every byte of 1, 2 or 3.
                move_n::<1>(src, dst, 0);
                move_n::<1>(src, dst, n / 2);
                move_n::<1>(src, dst, n - 1);
            }
        } else if n <= SHORT_PAYLOAD_MAX {
            move_n::<32>(src, dst, 0);
            move_n::<32>(src, dst, 32);
            move_n::<32>(src, dst, n - 64);
            move_n::<32>(src, dst, n - 32);
        } else {
            std::ptr::copy_nonoverlapping(src.as_ptr(), dst, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// The frame as `write_all` of the encoded header and the payload lays it out.
    fn expected_frame(header: FrameHeader, checksum_len: usize, payload: &[u8]) -> Vec<u8> {
        let mut frame = header.encode(checksum_len).as_bytes().to_vec();
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn every_short_length_is_copied_exactly_and_nothing_past_it() {
        // Under Miri too: every branch of `copy_short`, into spare capacity that is otherwise
        // uninitialised, with every header width; the bytes already in the vector are kept.
        let every_length = (0..=140).map(|n| (8, n));
        let every_width = [0, 2, 4, 3]
            .into_iter()
            .flat_map(|width| [0, 1, 5, 17, 63, 64, 129, 140].map(|n| (width, n)));
        for (checksum_len, n) in every_length.chain(every_width) {
            let payload = bytes(n, 7);
            let header = FrameHeader {
                payload_len: n as u32,
                checksum: 0x0102_0304_0506_0708,
            };
            // Room for the frame and 64 bytes past it, all set to 0x55 before the frame.
            let mut out = vec![0x55; 3 + LENGTH_LEN + checksum_len + n + 64];
            out.truncate(3);
            out.fill(0xAA);
            append_frame(&mut out, header, checksum_len, &payload);
            assert_eq!(out[..3], [0xAA; 3], "length {n}, width {checksum_len}");
            assert_eq!(
                out[3..],
                expected_frame(header, checksum_len, &payload)[..],
                "length {n}, width {checksum_len}"
            );
            // SAFETY: the spare bytes were initialised (to 0x55) before `truncate`, and
            // nothing de-initialises bytes of a `Vec`'s allocation.
            let past = out
                .spare_capacity_mut()
                .iter()
                .map(|byte| unsafe { byte.assume_init() });
            assert!(
                past.take(64).all(|byte| byte == 0x55),
                "a byte past the frame was written: length {n}, width {checksum_len}"
            );
        }
    }

    #[test]
    fn frames_append_after_each_other_as_the_vector_grows() {
        let mut out = Vec::new();
        let mut expected = Vec::new();
        for (i, n) in [0, 1, 5, 64, 129, 3, 200, 31, 4096].into_iter().enumerate() {
            let header = FrameHeader {
                payload_len: n as u32,
                checksum: u64::MAX - i as u64,
            };
            let payload = bytes(n, i as u8);
            append_frame(&mut out, header, 8, &payload);
            expected.extend(expected_frame(header, 8, &payload));
        }
        assert_eq!(out, expected);
    }

    #[test]
    #[should_panic(expected = "exceeds 8 bytes")]
    fn a_checksum_wider_than_the_field_panics_as_encoding_it_does() {
        let header = FrameHeader {
            payload_len: 0,
            checksum: 0,
        };
        append_frame(
            &mut Vec::new(),
            header,
            flatstream_core::wire::MAX_CHECKSUM_LEN + 1,
            &[],
        );
    }

    #[test]
    fn only_a_vector_of_bytes_or_a_unique_borrow_of_one_is_recognised() {
        let mut vec = vec![1u8];
        assert!(vec_of(&mut vec).is_some());
        let mut borrowed = &mut vec;
        vec_of(&mut borrowed).expect("a &mut Vec<u8>").push(2);
        assert_eq!(vec, [1, 2]);
        assert!(vec_of(&mut std::io::Cursor::new(Vec::<u8>::new())).is_none());
        assert!(vec_of(&mut Vec::<u16>::new()).is_none());
        assert!(vec_of(&mut std::io::BufWriter::new(Vec::<u8>::new())).is_none());
        let mut boxed: Box<Vec<u8>> = Box::default();
        assert!(vec_of(&mut boxed).is_none());
        // The shared view recognises the same two types, and nothing else.
        assert_eq!(vec_ref_of(&vec).map(Vec::len), Some(2));
        assert_eq!(vec_ref_of(&&mut vec).map(Vec::len), Some(2));
        assert!(vec_ref_of(&&vec).is_none(), "&Vec<u8>");
        assert!(vec_ref_of(&boxed).is_none(), "Box<Vec<u8>>");
        assert!(vec_ref_of(&Vec::<u16>::new()).is_none(), "Vec<u16>");
        assert!(vec_ref_of(&std::io::Cursor::new(Vec::<u8>::new())).is_none());
    }

    #[test]
    fn close_relatives_of_the_two_types_are_not_recognised() {
        // Each of these is a `Write` (or close to one) with a `Vec<u8>` inside or the same
        // bytes, and none may be taken for one: a shared borrow above all.
        struct Wrapper(#[allow(dead_code)] Vec<u8>);
        let mut vec = vec![1u8];
        assert!(vec_of(&mut &vec).is_none(), "&Vec<u8>");
        let mut once = &mut vec;
        assert!(vec_of(&mut &mut once).is_none(), "&mut &mut Vec<u8>");
        assert!(vec_of(&mut Vec::<i8>::new()).is_none(), "Vec<i8>");
        assert!(vec_of(&mut &mut Vec::<i8>::new()).is_none(), "&mut Vec<i8>");
        assert!(vec_of(&mut &mut [0u8; 4][..]).is_none(), "&mut [u8]");
        assert!(vec_of(&mut [0u8; 4][..]).is_none(), "[u8]");
        assert!(vec_of(&mut Wrapper(Vec::new())).is_none(), "a wrapper");
        let mut manually = std::mem::ManuallyDrop::new(Vec::<u8>::new());
        assert!(vec_of(&mut manually).is_none(), "ManuallyDrop<Vec<u8>>");
        let mut dynamic: Box<dyn std::io::Write> = Box::new(Vec::<u8>::new());
        assert!(vec_of(&mut *dynamic).is_none(), "dyn Write");
        assert!(vec_of(&mut dynamic).is_none(), "Box<dyn Write>");
        // A short-lived `&mut Vec<u8>`: the vector is usable again once it is gone.
        {
            let mut short = &mut vec;
            vec_of(&mut short).expect("a &mut Vec<u8>").push(3);
        }
        vec.push(4);
        assert_eq!(vec, [1, 3, 4]);
    }

    #[test]
    fn zero_capacity_and_exactly_full_vectors_take_every_short_frame() {
        // The reserve is the only growth: from no allocation at all, and from a vector with
        // no spare byte. Each of `copy_short`'s branches at both of its ends (every length is
        // in the test above; this one runs under Miri too, where each frame costs).
        for n in [0, 1, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 65, 127, 128, 129] {
            for checksum_len in [0, 2, 4, 8] {
                let payload = bytes(n, 3);
                let header = FrameHeader {
                    payload_len: n as u32,
                    checksum: 0xF0E1_D2C3_B4A5_9687,
                };
                let expected = expected_frame(header, checksum_len, &payload);
                let mut empty = Vec::new();
                append_frame(&mut empty, header, checksum_len, &payload);
                assert_eq!(empty, expected, "length {n}, width {checksum_len}");
                let mut full = vec![0xAA; 5];
                full.shrink_to_fit();
                assert_eq!(full.len(), full.capacity());
                append_frame(&mut full, header, checksum_len, &payload);
                assert_eq!(full[..5], [0xAA; 5]);
                assert_eq!(full[5..], expected[..], "length {n}, width {checksum_len}");
            }
        }
    }

    // Found by an outside attack, fixed since: the width was checked only after
    // `LENGTH_LEN + checksum_len` had been computed, so without overflow checks (the default
    // release profile) a width of `usize::MAX - 2` made the frame 1 byte, `reserve(1)` left
    // room for 1 byte, and `put_header` stored the 4-byte length field 3 bytes past the
    // allocation (Miri: `CARGO_PROFILE_DEV_OVERFLOW_CHECKS=false cargo +nightly miri test`).
    // The expected message is the width check's, not the addition's overflow panic, so this
    // fails in a debug build too if the check goes.
    #[test]
    #[should_panic(expected = "exceeds 8 bytes")]
    fn a_width_that_wraps_the_frame_length_panics_before_writing() {
        // One spare byte, which is all `reserve(1)` asks for.
        let mut out = Vec::with_capacity(8);
        out.resize(7, 0x11);
        assert_eq!(out.capacity(), 8);
        let header = FrameHeader {
            payload_len: 0,
            checksum: 0,
        };
        append_frame(&mut out, header, usize::MAX - 2, &[]);
    }
}
