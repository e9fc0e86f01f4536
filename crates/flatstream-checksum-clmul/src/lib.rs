#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(target_arch = "x86_64")]
mod fold;

#[cfg(target_arch = "x86_64")]
pub use fold::{fold_to_block, has_features};

/// `t^n mod P` for a CRC of `width` bits (32 or 64) whose polynomial is `t^width + poly`:
/// the remainder's coefficients, bit d for `t^d`.
pub const fn t_pow_mod(poly: u64, width: u32, n: u32) -> u64 {
    let top = 1u64 << (width - 1);
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let mut remainder: u64 = 1;
    let mut i = 0;
    while i < n {
        let carry = remainder & top != 0;
        remainder = (remainder << 1) & mask;
        if carry {
            remainder ^= poly;
        }
        i += 1;
    }
    remainder
}

/// The fold constants of a reflected CRC of `width` bits with polynomial `t^width + poly`,
/// for [`fold_to_block`]: at index `k` (1 to `BLOCKS - 1`), the pair that multiplies a
/// block's two 64-bit halves by `t^(128k)` (`t^(128k + 63)` for the low lane, `t^(128k - 1)`
/// for the high one: a carry-less product of reflected values carries one extra factor t),
/// each reflected into a 64-bit lane. Index 0 holds `t^63`, which folds a low lane into the
/// high one (a 32-bit CRC's reduction from 128 bits to 64).
pub const fn reflected_fold_constants<const BLOCKS: usize>(
    poly: u64,
    width: u32,
) -> [[i64; 2]; BLOCKS] {
    let mut table = [[0; 2]; BLOCKS];
    table[0] = [reflected(poly, width, 63), 0];
    let mut k = 1;
    while k < BLOCKS {
        #[allow(clippy::cast_possible_truncation)] // At most a few dozen blocks.
        let k32 = k as u32;
        table[k] = [
            reflected(poly, width, 128 * k32 + 63),
            reflected(poly, width, 128 * k32 - 1),
        ];
        k += 1;
    }
    table
}

/// `t^n mod P` as a multiplier of bit-reflected data: its coefficient of `t^d` at bit
/// `63 - d` of the lane.
#[allow(clippy::cast_possible_wrap)] // The bits, as `_mm_set_epi64x` takes them.
const fn reflected(poly: u64, width: u32, n: u32) -> i64 {
    t_pow_mod(poly, width, n).reverse_bits() as i64
}

/// Slice-by-`N` tables of a reflected CRC register's update, of type `$register` (`u32`,
/// `u64`), with no initial value or final xor, built at compile time: `TABLES[k][b]` is byte
/// `b` followed by `k` zero bytes. `$reflected_poly` is the polynomial bit-reversed
/// (0xEDB88320 for CRC-32/ISO-HDLC). The CRC crates finish [`fold_to_block`]'s block with
/// them.
///
/// ```
/// static TABLES: [[u32; 256]; 8] = flatstream_checksum_clmul::reflected_slice_tables!(u32, 8, 0xedb8_8320);
/// // One byte from a register of zero: the classic CRC-32 table.
/// assert_eq!(TABLES[0][1], 0x7707_3096);
/// assert_eq!(TABLES[1][0], 0);
/// ```
#[macro_export]
macro_rules! reflected_slice_tables {
    ($register:ty, $n:expr, $reflected_poly:expr) => {{
        let mut tables: [[$register; 256]; $n] = [[0; 256]; $n];
        let mut byte = 0;
        while byte < 256 {
            let mut register = byte as $register;
            let mut bit = 0;
            while bit < 8 {
                register = if register & 1 == 0 {
                    register >> 1
                } else {
                    (register >> 1) ^ $reflected_poly
                };
                bit += 1;
            }
            tables[0][byte] = register;
            byte += 1;
        }
        let mut k = 1;
        while k < $n {
            let mut byte = 0;
            while byte < 256 {
                let previous = tables[k - 1][byte];
                tables[k][byte] = (previous >> 8) ^ tables[0][(previous & 0xff) as usize];
                byte += 1;
            }
            k += 1;
        }
        tables
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_t_wrap_at_the_polynomial() {
        // Below the width, t^n is itself; at the width, the polynomial's low terms.
        assert_eq!(t_pow_mod(0x04c1_1db7, 32, 31), 1 << 31);
        assert_eq!(t_pow_mod(0x04c1_1db7, 32, 32), 0x04c1_1db7);
        assert_eq!(
            t_pow_mod(0x42f0_e1eb_a9ea_3693, 64, 64),
            0x42f0_e1eb_a9ea_3693
        );
        // t^33 = t · (t^32 mod P), reduced once more when its top bit carries out.
        let t32 = 0x04c1_1db7u64;
        assert_eq!(t_pow_mod(0x04c1_1db7, 32, 33), (t32 << 1) & 0xffff_ffff);
    }

    #[test]
    fn constants_are_reflected_powers() {
        const FOLD: [[i64; 2]; 3] = reflected_fold_constants(0x04c1_1db7, 32);
        #[allow(clippy::cast_possible_wrap)]
        let reflected = |n| (t_pow_mod(0x04c1_1db7, 32, n).reverse_bits()) as i64;
        assert_eq!(FOLD[0], [reflected(63), 0]);
        assert_eq!(FOLD[1], [reflected(191), reflected(127)]);
        assert_eq!(FOLD[2], [reflected(319), reflected(255)]);
    }
}
