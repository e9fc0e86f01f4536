//! A reflected CRC written from its definition, and the checks the CRC crates' short paths
//! are attacked with: every result compared with it, at every length, offset, fill and
//! single-bit flip, and the CRC's linearity.
// The checks' job is to panic (an assertion) on a wrong CRC: each says so in its first line.
#![allow(clippy::missing_panics_doc)]

use crate::pseudo_random_bytes;

/// The register after `data` from `register`, a bit at a time, with no initial value or
/// final xor, for a reflected CRC with polynomial `reflected_poly` (bit-reversed).
pub fn bitwise_raw(reflected_poly: u64, mut register: u64, data: &[u8]) -> u64 {
    for &byte in data {
        register ^= u64::from(byte);
        for _ in 0..8 {
            register = if register & 1 == 1 {
                (register >> 1) ^ reflected_poly
            } else {
                register >> 1
            };
        }
    }
    register
}

/// A reflected CRC of 32 or 64 bits, initial value and final xor all ones, a byte at a time
/// through a table built from [`bitwise_raw`].
///
/// ```
/// use flatstream_test_support::ReflectedCrc;
///
/// assert_eq!(ReflectedCrc::new(0x82f6_3b78, 32).crc(b"123456789"), 0xe306_9283);
/// assert_eq!(ReflectedCrc::new(0xc96c_5795_d787_0f42, 64).crc(b"123456789"), 0x995d_c9bb_df19_39fa);
/// ```
#[derive(Debug, Clone)]
pub struct ReflectedCrc {
    table: [u64; 256],
    reflected_poly: u64,
    /// All ones over the CRC's width: its initial value and final xor.
    ones: u64,
    width: u32,
}

impl ReflectedCrc {
    /// The CRC of `width` bits (32 or 64) with polynomial `reflected_poly`, bit-reversed
    /// (0x82F63B78 for CRC-32C, 0xC96C5795D7870F42 for CRC-64/XZ).
    pub fn new(reflected_poly: u64, width: u32) -> Self {
        let mut table = [0; 256];
        for (byte, entry) in (0u8..=255).zip(table.iter_mut()) {
            *entry = bitwise_raw(reflected_poly, 0, &[byte]);
        }
        let ones = if width == 64 {
            u64::MAX
        } else {
            (1 << width) - 1
        };
        ReflectedCrc {
            table,
            reflected_poly,
            ones,
            width,
        }
    }

    /// The register after `data` from `register`, with no initial value or final xor.
    pub fn raw(&self, register: u64, data: &[u8]) -> u64 {
        data.iter().fold(register, |register, &byte| {
            #[allow(clippy::cast_possible_truncation)] // The register's low byte.
            let low = register as u8;
            (register >> 8) ^ self.table[usize::from(low ^ byte)]
        })
    }

    /// The CRC of `data`.
    pub fn crc(&self, data: &[u8]) -> u64 {
        self.raw(self.ones, data) ^ self.ones
    }

    /// The CRC of `data` from its definition, a bit at a time.
    pub fn bitwise(&self, data: &[u8]) -> u64 {
        bitwise_raw(self.reflected_poly, self.ones, data) ^ self.ones
    }

    /// Asserts that `calculate` gives this CRC of `data`, naming `case`, the length and both
    /// values on a difference.
    pub fn check(&self, calculate: impl Fn(&[u8]) -> u64, data: &[u8], case: &str) {
        let (got, want) = (calculate(data), self.crc(data));
        let digits = 2 + self.width as usize / 4;
        assert_eq!(
            got,
            want,
            "{case}: {} bytes: got {got:#0digits$x}, want {want:#0digits$x}",
            data.len()
        );
    }

    /// Checks `calculate` at every length to `max_len` at every offset below `offsets`, over
    /// random bytes from each of `seeds`.
    pub fn check_every_length_and_offset(
        &self,
        calculate: impl Fn(&[u8]) -> u64,
        max_len: usize,
        offsets: usize,
        seeds: &[u64],
    ) {
        for &seed in seeds {
            let data = pseudo_random_bytes(max_len + offsets, seed);
            for len in 0..=max_len {
                for start in 0..offsets {
                    let case = format!("seed {seed:#x} offset {start}");
                    self.check(&calculate, &data[start..start + len], &case);
                }
            }
        }
    }

    /// Checks `calculate` over runs of each of `fills` at every length to `max_len`, from
    /// each of `starts` (below 64), also against [`bitwise`](Self::bitwise).
    pub fn check_fills(
        &self,
        calculate: impl Fn(&[u8]) -> u64,
        fills: &[u8],
        starts: &[usize],
        max_len: usize,
    ) {
        for &fill in fills {
            let data = vec![fill; max_len + 64];
            for len in 0..=max_len {
                for &start in starts {
                    let input = &data[start..start + len];
                    self.check(&calculate, input, &format!("fill {fill:#04x} at {start}"));
                    assert_eq!(
                        calculate(input),
                        self.bitwise(input),
                        "bitwise, {len} bytes"
                    );
                }
            }
        }
    }

    /// Checks `calculate` over allocations exactly as long as their input (a boxed slice, a
    /// `Vec` of that capacity) at every length to `max_len`, and over the last bytes of each,
    /// to the allocation's very end, cutting up to `tail_cuts` bytes off the front.
    pub fn check_exact_allocations(
        &self,
        calculate: impl Fn(&[u8]) -> u64,
        max_len: usize,
        tail_cuts: usize,
    ) {
        for len in 0..=max_len {
            let boxed: Box<[u8]> = pseudo_random_bytes(len, 77 + len as u64).into_boxed_slice();
            self.check(&calculate, &boxed, "boxed");
            let mut exact = Vec::with_capacity(len);
            #[allow(clippy::cast_possible_truncation)] // Patterned bytes.
            exact.extend((0..len).map(|i| (i * 131 + len) as u8));
            assert_eq!(exact.capacity(), len);
            self.check(&calculate, &exact, "exact vec");
            for cut in 0..len.min(tail_cuts) {
                self.check(&calculate, &exact[cut..], "tail of an exact vec");
            }
        }
    }

    /// Checks `calculate` at each of `lengths` at every offset below 64.
    pub fn check_lengths_at_every_offset(
        &self,
        calculate: impl Fn(&[u8]) -> u64,
        lengths: &[usize],
    ) {
        let longest = lengths.iter().copied().max().unwrap_or(0);
        let data = pseudo_random_bytes(longest + 64, 0x1234_5678);
        for &len in lengths {
            for start in 0..64 {
                self.check(
                    &calculate,
                    &data[start..start + len],
                    &format!("offset {start}"),
                );
            }
        }
    }

    /// Every single-bit flip of every input shorter than `max_len`: the change in the CRC
    /// must be the raw CRC of the lone bit followed by the bytes after it (precomputed from
    /// this reference), and the unflipped input is checked directly.
    pub fn check_single_bit_flips(&self, calculate: impl Fn(&[u8]) -> u64, max_len: usize) {
        // delta[z][bit]: the raw register (from zero) after the byte `1 << bit` then `z`
        // zeros.
        let mut delta = vec![[0u64; 8]; max_len];
        for bit in 0..8 {
            let mut register = self.raw(0, &[1 << bit]);
            for entry in &mut delta {
                entry[bit] = register;
                register = self.raw(register, &[0]);
            }
        }
        let digits = 2 + self.width as usize / 4;
        let data = pseudo_random_bytes(max_len, 0x0bad_5eed);
        let mut input = Vec::with_capacity(max_len);
        for len in 0..max_len {
            input.clear();
            input.extend_from_slice(&data[..len]);
            let base = calculate(&input);
            assert_eq!(base, self.crc(&input), "{len} bytes unflipped");
            for byte in 0..len {
                for (bit, &want) in delta[len - 1 - byte].iter().enumerate() {
                    input[byte] ^= 1 << bit;
                    let got = calculate(&input) ^ base;
                    input[byte] ^= 1 << bit;
                    assert_eq!(
                        got, want,
                        "{len} bytes, bit {bit} of byte {byte} flipped: the CRC changed by \
                         {got:#0digits$x}, not {want:#0digits$x}"
                    );
                }
            }
        }
    }
}

/// A CRC is affine: over inputs of one length, `crc(a ^ b ^ c) = crc(a) ^ crc(b) ^ crc(c)`,
/// and an input's inverse has `crc(a) ^ crc(ones) ^ crc(zeros)`. Checks `calculate` so at
/// every length to `max_len`, at several offsets; needs no reference.
pub fn check_linearity(calculate: impl Fn(&[u8]) -> u64, max_len: usize) {
    let a = pseudo_random_bytes(max_len + 8, 3);
    let b = pseudo_random_bytes(max_len + 8, 5);
    let c = pseudo_random_bytes(max_len + 8, 7);
    for len in 0..=max_len {
        for start in [0, 1, 5, 8] {
            let (a, b, c) = (
                &a[start..start + len],
                &b[..len],
                &c[8 - start..8 - start + len],
            );
            let xored: Vec<u8> = a
                .iter()
                .zip(b)
                .zip(c)
                .map(|((a, b), c)| a ^ b ^ c)
                .collect();
            assert_eq!(
                calculate(&xored),
                calculate(a) ^ calculate(b) ^ calculate(c),
                "{len} bytes at {start}"
            );
            let zeros = vec![0; len];
            let ones = vec![0xff; len];
            let inverse: Vec<u8> = a.iter().map(|x| !x).collect();
            assert_eq!(
                calculate(&inverse),
                calculate(a) ^ calculate(&ones) ^ calculate(&zeros),
                "{len} bytes at {start}, inverted"
            );
        }
    }
}
