//! CRC-32C of short inputs with the SSE4.2 `crc32` instruction (x86-64), eight bytes a step.
//!
//! `crc-fast` runs long inputs faster (several `crc32` streams side by side, folded with
//! carry-less multiplies), but its dispatch and setup cost more than a short input's
//! checksum. Measured against `crc_fast::checksum(Crc32Iscsi, ..)` over 1 MiB of inputs of one
//! size, in one process, on an AMD EPYC (family 26; a scratch harness, not in the tree):
//! 1 B 2.7×, 16 B 2.9×, 32 B 2.7×, 64 B 1.9×, 100 B 2.0×, 128 B 1.5×, 256 B 1.3×, 384 B 1.2×;
//! at 416 B the two are even, at 448 B `crc-fast` leads 1.3×, at 1 KiB 2.6×. Below 32 bytes
//! it also beats the slice-by-16 table (16 B: 626 against about 245 M/s).
//!
//! The one `unsafe` is the call into the `#[target_feature]` function, after the CPU was
//! checked for SSE4.2 ([`crc32c`]); the intrinsics are safe inside it.
#![allow(unsafe_code)]

use std::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u16, _mm_crc32_u32, _mm_crc32_u64};

use flatstream_core::CpuCheck;

/// One past the longest input this path takes: from here `crc-fast` is as fast or faster.
pub(crate) const MAX_LEN: usize = 416;

/// CRC-32C of `data` (shorter than [`MAX_LEN`]) when the CPU has SSE4.2; `None` on one
/// without it.
#[inline]
pub(crate) fn crc32c(data: &[u8]) -> Option<u32> {
    static SSE42: CpuCheck = CpuCheck::new();
    if SSE42.holds(|| std::arch::is_x86_feature_detected!("sse4.2")) {
        // SAFETY: the CPU has SSE4.2, the one feature `crc32c_sse42` is compiled for. It
        // reads `data` only through bounds-checked slices.
        Some(unsafe { crc32c_sse42(data) })
    } else {
        None
    }
}

#[target_feature(enable = "sse4.2")]
fn crc32c_sse42(data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(8);
    let mut wide = u64::from(u32::MAX);
    for chunk in &mut chunks {
        wide = _mm_crc32_u64(wide, u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
    }
    // The register is 32 bits wide: the instruction's upper half is zero.
    #[allow(clippy::cast_possible_truncation)]
    let mut crc = wide as u32;
    let mut rest = chunks.remainder();
    if let Some((four, after)) = rest.split_first_chunk::<4>() {
        crc = _mm_crc32_u32(crc, u32::from_le_bytes(*four));
        rest = after;
    }
    if let Some((two, after)) = rest.split_first_chunk::<2>() {
        crc = _mm_crc32_u16(crc, u16::from_le_bytes(*two));
        rest = after;
    }
    if let Some(&byte) = rest.first() {
        crc = _mm_crc32_u8(crc, byte);
    }
    !crc
}
