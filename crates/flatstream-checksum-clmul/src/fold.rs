//! The folding itself (x86-64). Every intrinsic here is safe to call inside these
//! `#[target_feature]` functions, and the input is read with slice indexing: the crate has
//! no `unsafe`. Callers reach [`fold_to_block`] from a `#[target_feature]` function of their
//! own, after [`has_features`].

use std::arch::x86_64::{
    __m128i, _mm_clmulepi64_si128, _mm_set_epi64x, _mm_shuffle_epi8, _mm_xor_si128,
};

use flatstream_core::CpuCheck;

/// Whether the CPU has what [`fold_to_block`] is compiled for: PCLMULQDQ, SSSE3 and SSE4.1
/// (SSE2 is x86-64's baseline). Detected once, then one load.
#[inline]
pub fn has_features() -> bool {
    static FEATURES: CpuCheck = CpuCheck::new();
    FEATURES.holds(|| {
        std::arch::is_x86_feature_detected!("pclmulqdq")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1")
    })
}

/// `pshufb` masks: the 16 bytes from `s` shift a register `16 - s` bytes towards its high
/// end, zero-filling; from `16 + s`, `s` bytes towards its low end.
const SHIFTS: [u8; 48] = {
    let mut table = [0x80; 48];
    let mut i = 16;
    while i < 32 {
        table[i] = (i - 16) as u8;
        i += 1;
    }
    table
};

/// 16 bytes as a register, the first in its lowest byte.
#[inline]
#[target_feature(enable = "sse2")]
fn load(bytes: &[u8; 16]) -> __m128i {
    let value = u128::from_le_bytes(*bytes);
    // The halves' bits, as `_mm_set_epi64x` takes them.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    _mm_set_epi64x((value >> 64) as i64, value as i64)
}

/// The 16 bytes of `bytes` from `start` (which the callers keep within it), as a register.
#[inline]
#[target_feature(enable = "sse2")]
fn load_at(bytes: &[u8], start: usize) -> __m128i {
    load(bytes[start..start + 16].try_into().expect("16 bytes"))
}

/// `x` multiplied by `t^(128k)` mod P, for the constants of distance k (a pair of
/// [`reflected_fold_constants`](crate::reflected_fold_constants)).
#[inline]
#[target_feature(enable = "pclmulqdq,sse2")]
fn fold(x: __m128i, [low, high]: [i64; 2]) -> __m128i {
    let constants = _mm_set_epi64x(high, low);
    _mm_xor_si128(
        _mm_clmulepi64_si128::<0x00>(x, constants),
        _mm_clmulepi64_si128::<0x11>(x, constants),
    )
}

/// `data`, a message of 16 to `16 × constants.len()` bytes (up to 128 with 8 constants, 256
/// with 16), folded to one 16-byte block congruent to it mod P: the CRC of that block
/// from a register of zero is `data`'s, once `init_len` bytes of ones (the CRC's initial
/// value, its width in bytes) are applied to `data`'s first bytes here.
///
/// The first block holds the bytes left over after whole blocks at the end (1 to 16),
/// padded with zeros in front; every other block is folded straight to the end by its
/// distance's constants, side by side. It cannot check `constants` or `init_len` against
/// the CRC: a table for another polynomial, or an initial value of another width, gives a
/// wrong block, not a panic. (`constants[0]` is not used here.)
///
/// # Safety
///
/// Safe to call from a function compiled with the same features (`#[target_feature(enable
/// = "pclmulqdq,sse2,ssse3,sse4.1")]`); anywhere else, only once [`has_features`] said the
/// CPU has them (calling it then takes `unsafe`).
///
/// # Panics
///
/// When `data` is shorter than 16 bytes or longer than the constants reach, and when
/// `init_len` is over 8 (slice and table bounds, checked).
#[inline]
#[target_feature(enable = "pclmulqdq,sse2,ssse3,sse4.1")]
pub fn fold_to_block(data: &[u8], constants: &[[i64; 2]], init_len: usize) -> __m128i {
    let len = data.len();
    let blocks = len.div_ceil(16);
    assert!(
        (16..=16 * constants.len()).contains(&len) && init_len <= 8,
        "fold_to_block takes 16 to {} bytes and an initial value of up to 8, not {len} and \
         {init_len}",
        16 * constants.len()
    );
    let first = ((len - 1) & 15) + 1;
    let (towards_high, towards_low) = (load_at(&SHIFTS, first), load_at(&SHIFTS, 16 + first));
    // The initial value, all ones, goes onto the message's first `init_len` bytes.
    let ones = if init_len == 8 {
        -1
    } else {
        (1i64 << (8 * init_len)) - 1
    };
    let init = _mm_set_epi64x(0, ones);
    let head = _mm_shuffle_epi8(_mm_xor_si128(load_at(data, 0), init), towards_high);
    if blocks == 1 {
        return head;
    }
    // The whole blocks after the first, each folded by its distance from the end, side by
    // side: the last as it is, the others by their constants.
    let mut acc = load_at(data, len - 16);
    for (distance, block) in data[first..len - 16].rchunks_exact(16).enumerate() {
        let bytes = load(block.try_into().expect("16 bytes"));
        acc = _mm_xor_si128(acc, fold(bytes, constants[distance + 1]));
    }
    acc = _mm_xor_si128(acc, fold(head, constants[blocks - 1]));
    // The initial value's bytes past the first block (when it holds fewer than `init_len`)
    // belong to the second, `blocks - 2` from the end.
    if first < init_len {
        let spill = _mm_shuffle_epi8(init, towards_low);
        let term = if blocks == 2 {
            spill
        } else {
            fold(spill, constants[blocks - 2])
        };
        acc = _mm_xor_si128(acc, term);
    }
    acc
}
