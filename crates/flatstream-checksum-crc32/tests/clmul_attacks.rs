//! Outside attack on the carry-less-multiply path (`src/clmul.rs`), which
//! `Crc32::calculate` takes for 20 to 127 bytes on x86-64 with PCLMULQDQ and SSE4.1 (the
//! table or `crc32fast` below 20, `crc32fast` from 128): every result is compared with a CRC written
//! here from the definition, bit by bit, and with `crc32fast`.

use flatstream_checksum_crc32::{Checksum, Crc32};
use flatstream_test_support::{ReflectedCrc, pseudo_random_bytes};

/// CRC-32/ISO-HDLC from its definition, one bit at a time: reflected poly 0xEDB88320,
/// init and xorout 0xFFFFFFFF.
fn bitwise(data: &[u8]) -> u32 {
    flatstream_test_support::bitwise_crc32(0xedb8_8320, data)
}

/// The same CRC a byte at a time, its table built from the bit-by-bit step
/// (`flatstream_test_support::ReflectedCrc`): fast enough to check tens of thousands of
/// inputs in a debug build.
struct Reference(ReflectedCrc);

impl Reference {
    fn new() -> Self {
        Reference(ReflectedCrc::new(0xedb8_8320, 32))
    }

    fn crc(&self, data: &[u8]) -> u32 {
        let crc = self.0.crc(data);
        u32::try_from(crc).unwrap_or_else(|_| panic!("{crc:#x} is wider than 32 bits"))
    }
}

/// `Crc32::calculate`, checked against the reference (and `crc32fast`): panics with the
/// length, the case and both values on a difference.
fn check(reference: &Reference, data: &[u8], case: &str) {
    let got = Crc32::new().calculate(data);
    let want = reference.crc(data);
    assert_eq!(
        got,
        u64::from(want),
        "{case}: {} bytes: got {got:#010x}, want {want:#010x}",
        data.len()
    );
    assert_eq!(
        want,
        crc32fast::hash(data),
        "{case}: reference vs crc32fast"
    );
}

/// The lengths whose first block holds fewer than 4 bytes, so the initial value spills
/// into the second block (17 to 19, 33 to 35, ... 113 to 115).
fn spill_lengths() -> impl Iterator<Item = usize> {
    (16..128).filter(|len| {
        let first = ((len - 1) % 16) + 1;
        *len > 16 && first < 4
    })
}

#[test]
fn the_references_agree_with_each_other_and_the_check_value() {
    let reference = Reference::new();
    assert_eq!(bitwise(b"123456789"), 0xcbf4_3926);
    assert_eq!(bitwise(b""), 0);
    let data = pseudo_random_bytes(300, 0x1234_5678_9abc_def1);
    for len in 0..=300 {
        assert_eq!(reference.crc(&data[..len]), bitwise(&data[..len]), "{len}");
    }
}

#[test]
fn every_length_to_300_at_every_offset_to_63() {
    let reference = Reference::new();
    let data = pseudo_random_bytes(64 + 300, 0x9e37_79b9_7f4a_7c15);
    for start in 0..64 {
        for len in 0..=300 {
            check(
                &reference,
                &data[start..start + len],
                &format!("offset {start}"),
            );
        }
    }
}

#[test]
fn random_contents_from_many_seeds() {
    let reference = Reference::new();
    for seed in 1..=400u64 {
        let data = pseudo_random_bytes(160, seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        for len in 14..=160 {
            check(&reference, &data[..len], &format!("seed {seed}"));
        }
    }
}

#[test]
fn all_zero_and_all_ones_at_every_length() {
    let reference = Reference::new();
    let zeros = [0u8; 300];
    let ones = [0xffu8; 300];
    for len in 0..=300 {
        check(&reference, &zeros[..len], "zeros");
        check(&reference, &ones[..len], "0xFF");
    }
    // Known answers from zlib for the all-zero inputs the short path takes at its ends.
    assert_eq!(Crc32::new().calculate(&[0u8; 32]), 0x190a_55ad);
    assert_eq!(
        Crc32::new().calculate(&[0u8; 127]),
        u64::from(bitwise(&[0u8; 127]))
    );
}

#[test]
fn a_single_bit_at_every_position_from_16_to_128_bytes() {
    let reference = Reference::new();
    let crc = Crc32::new();
    for len in 16..=128 {
        let zero = crc.calculate(&vec![0; len]);
        let mut data = vec![0u8; len];
        for bit in 0..8 * len {
            data[bit / 8] = 1 << (bit % 8);
            let got = crc.calculate(&data);
            assert_eq!(
                got,
                u64::from(reference.crc(&data)),
                "{len} bytes, bit {bit} set"
            );
            // Every single-bit error is detected: the CRC moved.
            assert_ne!(got, zero, "{len} bytes, bit {bit} set: same CRC as zeros");
            data[bit / 8] = 0;
        }
    }
}

#[test]
fn the_crc_is_affine_over_xor_at_every_length() {
    // crc(a ^ b ^ c) == crc(a) ^ crc(b) ^ crc(c) for inputs of one length: a check of the
    // implementation against itself that needs no reference.
    let crc = Crc32::new();
    for seed in 1..=20u64 {
        let a = pseudo_random_bytes(300, seed);
        let b = pseudo_random_bytes(300, seed + 1000);
        let c = pseudo_random_bytes(300, seed + 2000);
        for len in 0..=300 {
            let mixed: Vec<u8> = (0..len).map(|i| a[i] ^ b[i] ^ c[i]).collect();
            assert_eq!(
                crc.calculate(&mixed),
                crc.calculate(&a[..len]) ^ crc.calculate(&b[..len]) ^ crc.calculate(&c[..len]),
                "seed {seed}, {len} bytes"
            );
        }
    }
}

#[test]
fn initial_value_spill_lengths_with_every_mix_of_first_bytes() {
    // The first four bytes take the initial value; for these lengths some of them sit in
    // the second block. Bytes of 0xFF there cancel it to zeros, which a CRC is blind to.
    let reference = Reference::new();
    let values = [0x00, 0xff, 0x01, 0x80, 0xfe, 0x7f];
    let tail = pseudo_random_bytes(128, 0x5151_5151_5151_5151);
    let lengths: Vec<usize> = spill_lengths().collect();
    assert_eq!(lengths.len(), 7 * 3, "{lengths:?}");
    for len in lengths
        .into_iter()
        .chain([16, 20, 32, 36, 48, 112, 116, 127])
    {
        let mut data = tail[..len].to_vec();
        for pattern in 0..values.len().pow(4) {
            let mut rest = pattern;
            for byte in &mut data[..4] {
                *byte = values[rest % values.len()];
                rest /= values.len();
            }
            check(
                &reference,
                &data,
                &format!("first bytes {:02x?}", &data[..4]),
            );
        }
    }
}

#[test]
fn block_boundaries_and_the_ends_of_the_short_path() {
    // Lengths at each multiple of 16 and around it, and the path's ends: 31/32 (from the
    // table) and 127/128 (to crc32fast), with contents that differ in every block.
    let reference = Reference::new();
    let data = pseudo_random_bytes(200, 0x0bad_cafe_dead_beef);
    for block in 1..=9 {
        for len in [16 * block - 1, 16 * block, 16 * block + 1] {
            check(&reference, &data[..len], "around a multiple of 16");
            check(
                &reference,
                &data[200 - len..],
                "around a multiple of 16, at the end",
            );
        }
    }
    for len in [31, 32, 33, 126, 127, 128, 129] {
        for seed in 1..=64u64 {
            check(&reference, &pseudo_random_bytes(len, seed), "path ends");
        }
    }
}

#[test]
fn inputs_that_end_at_the_end_of_their_allocation() {
    // Exactly as long as their allocation: a read past the end would leave the allocation
    // (only Miri or a guard page would see it, but the results must hold here too).
    let reference = Reference::new();
    for len in 0..=300 {
        let exact: Box<[u8]> = pseudo_random_bytes(len.max(1), len as u64 + 1)[..len].into();
        assert_eq!(exact.len(), len);
        check(&reference, &exact, "exact allocation");
    }
    // The last bytes of a large allocation, and the first.
    let large: Box<[u8]> = pseudo_random_bytes(1 << 20, 0x7777_1111_3333_5555).into_boxed_slice();
    for len in 0..=300 {
        check(&reference, &large[large.len() - len..], "end of 1 MiB");
        check(&reference, &large[..len], "start of 1 MiB");
    }
}

#[test]
fn inputs_across_page_and_cache_line_boundaries() {
    let reference = Reference::new();
    let data = pseudo_random_bytes(3 * 4096, 0x0123_4567_89ab_cdef);
    // The first page boundary inside the buffer, found from its address.
    let address = data.as_ptr() as usize;
    let boundary = address.next_multiple_of(4096) - address + 4096;
    for len in 16..=130 {
        for before in 0..=len {
            let start = boundary - before;
            check(&reference, &data[start..start + len], "across a page");
        }
    }
    let line = address.next_multiple_of(64) - address + 64;
    for len in 16..=130 {
        for before in 0..=len.min(64) {
            let start = line - before;
            check(&reference, &data[start..start + len], "across a cache line");
        }
    }
}

#[test]
fn many_threads_first_use_at_once() {
    // The feature detection is cached in a static with relaxed ordering; whichever thread
    // comes first (in this process: whichever test), every thread must agree.
    let reference = Reference::new();
    let data = pseudo_random_bytes(200, 0x4242_4242_4242_4242);
    let answers: Vec<u32> = (0..=200).map(|len| reference.crc(&data[..len])).collect();
    let barrier = std::sync::Barrier::new(16);
    std::thread::scope(|scope| {
        for thread in 0..16 {
            let (barrier, data, answers) = (&barrier, &data, &answers);
            scope.spawn(move || {
                barrier.wait();
                for round in 0..20 {
                    for len in (0..=200).rev() {
                        assert_eq!(
                            Crc32::new().calculate(&data[..len]),
                            u64::from(answers[len]),
                            "thread {thread}, round {round}, {len} bytes"
                        );
                    }
                }
            });
        }
    });
}

#[test]
fn verify_takes_the_right_value_and_rejects_every_single_bit_flip() {
    let reference = Reference::new();
    let crc = Crc32::new();
    for len in [
        16, 17, 19, 31, 32, 33, 35, 47, 48, 49, 64, 100, 113, 127, 128,
    ] {
        let mut data = pseudo_random_bytes(len, len as u64 + 99);
        let expected = u64::from(reference.crc(&data));
        crc.verify(expected, &data).expect("the right value");
        assert!(
            crc.verify(expected ^ 1, &data).is_err(),
            "{len}: wrong value"
        );
        for bit in 0..8 * len {
            data[bit / 8] ^= 1 << (bit % 8);
            assert!(
                crc.verify(expected, &data).is_err(),
                "{len} bytes, bit {bit} flipped, still verifies"
            );
            data[bit / 8] ^= 1 << (bit % 8);
        }
    }
}

/// The frames of a wire vector, `[u32 LE length][u32 LE CRC][payload]`, as
/// (checksum, payload); a torn tail is left off.
fn split_frames(bytes: &[u8]) -> Vec<(u64, &[u8])> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 8 {
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        let checksum = u64::from(u32::from_le_bytes(rest[4..8].try_into().unwrap()));
        let Some(payload) = rest.get(8..8 + len) else {
            break;
        };
        frames.push((checksum, payload));
        rest = &rest[8 + len..];
    }
    frames
}

fn wire_vector(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/wire-vectors")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_conformance_vectors_verify_frame_by_frame() {
    let crc = Crc32::new();
    let mixed = wire_vector("crc32-mixed.bin");
    let frames = split_frames(&mixed);
    // The lengths the manifest lists for crc32-mixed.
    let lengths: Vec<usize> = frames.iter().map(|(_, payload)| payload.len()).collect();
    assert_eq!(
        lengths,
        [
            0, 3, 9, 36, 80, 88, 96, 104, 72, 80, 88, 96, 104, 72, 80, 88, 96, 104, 72, 0, 1, 3, 7,
            8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 1000, 1024, 4095,
            4096, 65535, 65536, 65537, 1048583
        ]
    );
    for (index, (checksum, payload)) in frames.iter().enumerate() {
        crc.verify(*checksum, payload)
            .unwrap_or_else(|e| panic!("frame {index} ({} bytes): {e}", payload.len()));
        assert_eq!(*checksum, u64::from(bitwise(payload)), "frame {index}");
    }
    // A corrupt payload and a corrupt checksum: the ninth frame (72 bytes, the short
    // path's) after eight good ones; the payload vector has one good frame after it.
    for (name, count) in [
        ("crc32-corrupt-payload.bin", 10),
        ("crc32-corrupt-checksum.bin", 9),
    ] {
        let bytes = wire_vector(name);
        let frames = split_frames(&bytes);
        assert_eq!(frames.len(), count, "{name}");
        for (index, (checksum, payload)) in frames.iter().enumerate() {
            let verified = crc.verify(*checksum, payload);
            assert_eq!(verified.is_ok(), index != 8, "{name}: frame {index}");
            assert_eq!(
                verified.is_ok(),
                *checksum == u64::from(bitwise(payload)),
                "{name}: frame {index}"
            );
        }
    }
}
