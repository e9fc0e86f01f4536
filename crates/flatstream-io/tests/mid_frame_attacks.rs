//! Attacks on the one-step append of every payload under 4 KiB into a `Vec<u8>` sink
//! (`vec_sink::append_frame`, taken by `ChecksumFramer` since payloads of 129 to 4095 bytes
//! stopped going through two `write_all` calls): every frame is compared with one built by
//! hand here (`len.to_le_bytes()`, the checksum's low bytes, the payload), not with another
//! path of the framer, at every payload length to 4200, every checksum width, into every kind
//! of sink; through `StreamWriter` and `FrameBuffer`; with the allocations counted; and with
//! checksums that report odd widths or panic.

use std::io::{self, Cursor, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use flatbuffers::FlatBufferBuilder;
use flatstream_checksum_crc16::Crc16;
use flatstream_checksum_crc32::Crc32;
use flatstream_checksum_crc32c::Crc32c;
use flatstream_checksum_crc64::Crc64;
use flatstream_checksum_xxh3::Xxh3;
use flatstream_core::{Checksum, Deframer, Framer, NoChecksum, StreamSerialize};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamReader, StreamWriter};
use flatstream_test_support::allocations_during;

use crate::common::{Unrecognised, checksum_by_name, hand_frame, payload_of};

/// Every length from 0 to 4200 (the inline copies, `memcpy` from 129, the vectored path from
/// 4096); under Miri, the ends of every branch only.
fn lengths() -> Vec<usize> {
    if cfg!(miri) {
        vec![
            0, 1, 3, 31, 64, 65, 127, 128, 129, 130, 131, 255, 256, 257, 1000, 1024, 4095, 4096,
            4097,
        ]
    } else {
        (0..=4200).collect()
    }
}

/// A checksum of any width (odd ones included) whose value sets all 64 bits and depends on
/// every byte, so a byte stored from past the width, or a payload byte missed, shows.
#[derive(Debug, Clone, Copy)]
struct Wide(usize);

impl Checksum for Wide {
    fn size(&self) -> usize {
        self.0
    }

    fn calculate(&self, payload: &[u8]) -> u64 {
        // FNV-1a, then a final mix that sets the high bytes.
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for &byte in payload {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash | 0xF000_0000_0000_000F
    }

    fn name(&self) -> &'static str {
        "wide"
    }

    /// Only the stored width is compared: the field keeps the value's low bytes.
    fn verify(&self, expected: u64, payload: &[u8]) -> flatstream_core::Result<()> {
        let mask = u64::MAX
            .checked_shl(8 * self.0 as u32)
            .map_or(u64::MAX, |m| !m);
        let calculated = self.calculate(payload) & mask;
        if calculated == expected {
            Ok(())
        } else {
            Err(flatstream_core::Error::checksum_mismatch(
                expected, calculated,
            ))
        }
    }
}

/// Reads the `n` bytes after `v`'s length, which the caller initialised before truncating.
fn spare_bytes(v: &mut Vec<u8>, n: usize) -> Vec<u8> {
    v.spare_capacity_mut()[..n]
        .iter()
        // SAFETY: the caller set these bytes (by `vec![..]`, then `truncate`), and nothing
        // de-initialises the bytes of a `Vec`'s allocation.
        .map(|byte| unsafe { byte.assume_init() })
        .collect()
}

/// `payload` through every sink: a fresh `Vec`, a `&mut Vec`, a `Vec` holding bytes with
/// spare capacity past the frame, a `Vec` with no spare byte, a `Vec` of exactly the frame's
/// capacity, a `Cursor` and an unrecognised `Write`. All must hold `expected` after what
/// they held, return its length, and the `Vec`s with room must not reallocate.
fn every_sink<C: Checksum + Clone>(checksum: &C, payload: &[u8], expected: &[u8], what: &str) {
    let mut framer = ChecksumFramer::new(checksum.clone());
    let n = expected.len();

    let mut fresh = Vec::new();
    let allocations = allocations_during(|| {
        assert_eq!(
            framer.frame_and_write(&mut fresh, payload).unwrap(),
            n,
            "{what}: fresh"
        );
    });
    assert_eq!(fresh, expected, "{what}: fresh Vec");
    assert!(
        allocations <= 1,
        "{what}: fresh Vec allocated {allocations} times"
    );

    let mut borrowed = vec![0xC3; 3];
    let written = framer.frame_and_write(&mut &mut borrowed, payload).unwrap();
    assert_eq!(written, n, "{what}: &mut Vec");
    assert_eq!(borrowed[..3], [0xC3; 3], "{what}: &mut Vec prefix");
    assert_eq!(borrowed[3..], *expected, "{what}: &mut Vec");

    // Room for the frame and 32 sentinel bytes past it.
    let mut roomy = vec![0x5A; 7 + n + 32];
    roomy.truncate(7);
    roomy.fill(0xA5);
    let (ptr, cap) = (roomy.as_ptr(), roomy.capacity());
    let allocations = allocations_during(|| {
        assert_eq!(framer.frame_and_write(&mut roomy, payload).unwrap(), n);
    });
    assert_eq!(allocations, 0, "{what}: a Vec with room allocated");
    assert_eq!(
        (roomy.as_ptr(), roomy.capacity()),
        (ptr, cap),
        "{what}: moved"
    );
    assert_eq!(roomy[..7], [0xA5; 7], "{what}: roomy prefix");
    assert_eq!(roomy[7..], *expected, "{what}: roomy Vec");
    assert_eq!(
        spare_bytes(&mut roomy, 32),
        [0x5A; 32],
        "{what}: wrote past the frame"
    );

    let mut full = vec![0x11; 13];
    full.shrink_to_fit();
    assert_eq!(full.len(), full.capacity());
    let allocations = allocations_during(|| {
        assert_eq!(framer.frame_and_write(&mut full, payload).unwrap(), n);
    });
    assert!(
        allocations <= 1,
        "{what}: a full Vec allocated {allocations} times"
    );
    assert_eq!(full[..13], [0x11; 13], "{what}: full prefix");
    assert_eq!(full[13..], *expected, "{what}: full Vec");

    let mut exact = Vec::with_capacity(n);
    let (ptr, cap) = (exact.as_ptr(), exact.capacity());
    assert_eq!(framer.frame_and_write(&mut exact, payload).unwrap(), n);
    assert_eq!(
        (exact.as_ptr(), exact.capacity()),
        (ptr, cap),
        "{what}: exact moved"
    );
    assert_eq!(exact, expected, "{what}: exact Vec");

    let mut cursor = Cursor::new(vec![9u8; 5]);
    cursor.set_position(5);
    assert_eq!(framer.frame_and_write(&mut cursor, payload).unwrap(), n);
    let cursor = cursor.into_inner();
    assert_eq!(cursor[..5], [9; 5], "{what}: cursor prefix");
    assert_eq!(cursor[5..], *expected, "{what}: Cursor");

    let mut opaque = Unrecognised::default();
    assert_eq!(framer.frame_and_write(&mut opaque, payload).unwrap(), n);
    assert_eq!(opaque.0, expected, "{what}: unrecognised Write");
}

/// Every length through every sink under `checksum`, then the whole stream (appended to one
/// `Vec`) read back by `StreamReader` and by the deframer directly.
fn every_length<C: Checksum + Clone>(checksum: &C, width: usize, name: &str) {
    assert_eq!(checksum.size(), width, "{name}: width");
    let mut framer = ChecksumFramer::new(checksum.clone());
    let mut stream = vec![0xEE];
    let mut expected_stream = vec![0xEE];
    let mut payloads = Vec::new();
    for len in lengths() {
        let payload = payload_of(len, (len % 251) as u8);
        let expected = hand_frame(width, checksum.calculate(&payload), &payload);
        every_sink(
            checksum,
            &payload,
            &expected,
            &format!("{name}, length {len}"),
        );
        assert_eq!(
            framer.frame_and_write(&mut stream, &payload).unwrap(),
            expected.len()
        );
        expected_stream.extend_from_slice(&expected);
        payloads.push(payload);
    }
    assert!(stream == expected_stream, "{name}: the appended stream");

    let mut reader = StreamReader::new(&stream[1..], ChecksumDeframer::new(checksum.clone()));
    for (index, payload) in payloads.iter().enumerate() {
        assert_eq!(
            reader.read_message().unwrap(),
            Some(&payload[..]),
            "{name}: frame {index}"
        );
    }
    assert_eq!(reader.read_message().unwrap(), None, "{name}: the end");

    let mut deframer = ChecksumDeframer::new(checksum.clone());
    let mut cursor = Cursor::new(&stream[1..]);
    let mut got = Vec::new();
    for (index, payload) in payloads.iter().enumerate() {
        let frame_len = deframer.read_frame(&mut cursor, &mut got).unwrap();
        assert_eq!(
            frame_len,
            Some(4 + width + payload.len()),
            "{name}: {index}"
        );
        assert!(
            got == *payload,
            "{name}: frame {index} read by the deframer"
        );
    }
    assert_eq!(deframer.read_frame(&mut cursor, &mut got).unwrap(), None);
}

#[test]
fn mid_every_length_without_a_checksum_matches_the_hand_built_frame() {
    every_length(&NoChecksum, 0, "none");
}

#[test]
fn mid_every_length_with_crc16_matches_the_hand_built_frame() {
    every_length(&Crc16, 2, "crc16");
}

#[test]
fn mid_every_length_with_crc32_and_crc32c_matches_the_hand_built_frame() {
    // The checksums themselves against their published check values, so that the hand-built
    // frames rest on known numbers.
    assert_eq!(Crc32.calculate(b"123456789"), 0xCBF43926);
    assert_eq!(Crc32c.calculate(b"123456789"), 0xE3069283);
    every_length(&Crc32, 4, "crc32");
    every_length(&Crc32c, 4, "crc32c");
}

#[test]
fn mid_every_length_with_crc64_and_xxh3_matches_the_hand_built_frame() {
    every_length(&Crc64, 8, "crc64");
    every_length(&Xxh3, 8, "xxh3");
}

#[test]
fn mid_every_length_with_every_width_including_odd_ones() {
    // Widths no algorithm has (1, 3, 5, 6, 7) take `put_header`'s fallback; the value sets
    // every bit, so a byte from past the width shows.
    for width in 0..=8 {
        every_length(&Wide(width), width, &format!("wide {width}"));
    }
}

/// A `StreamSerialize` message whose finished data grows with `len`.
struct Blob(Vec<u8>);

impl StreamSerialize for Blob {
    fn serialize<'fbb, A: flatbuffers::Allocator + 'fbb>(
        &self,
        builder: &mut FlatBufferBuilder<'fbb, A>,
    ) -> flatstream_core::Result<()> {
        let vector = builder.create_vector(&self.0);
        builder.finish_minimal(vector);
        Ok(())
    }
}

fn finished_data(bytes: &[u8]) -> Vec<u8> {
    let mut builder = FlatBufferBuilder::new();
    let vector = builder.create_vector(bytes);
    builder.finish_minimal(vector);
    builder.finished_data().to_vec()
}

/// Lengths for the writer tests: dense from 100 to 4200 (sparse under Miri).
fn writer_lengths() -> Vec<usize> {
    if cfg!(miri) {
        vec![100, 128, 129, 130, 1000, 4092, 4095, 4096, 4097]
    } else {
        (100..=4200).collect()
    }
}

const NAMES: [(&str, usize); 6] = [
    ("none", 0),
    ("crc16", 2),
    ("crc32", 4),
    ("crc32c", 4),
    ("crc64", 8),
    ("xxh3", 8),
];

#[test]
fn mid_stream_writer_every_method_writes_the_hand_built_frames() {
    for (name, width) in NAMES {
        let checksum = checksum_by_name(name);
        let framer = || ChecksumFramer::new(checksum_by_name(name));
        let mut owned = StreamWriter::new(Vec::new(), framer());
        let mut borrowed_vec = vec![0x77; 2];
        let mut borrowed = StreamWriter::new(&mut borrowed_vec, framer());
        let mut opaque = StreamWriter::new(Unrecognised::default(), framer());
        let mut expected = Vec::new();
        let mut payloads = Vec::new();
        for (i, len) in writer_lengths().into_iter().enumerate() {
            let bytes = payload_of(len, i as u8);
            // Each method in turn: the raw payload, a finished builder, a message.
            let payload = match i % 3 {
                0 => {
                    owned.write_payload(&bytes).unwrap();
                    borrowed.write_payload(&bytes).unwrap();
                    opaque.write_payload(&bytes).unwrap();
                    bytes
                }
                1 => {
                    let mut builder = FlatBufferBuilder::new();
                    let vector = builder.create_vector(&bytes);
                    builder.finish_minimal(vector);
                    owned.write_finished(&mut builder).unwrap();
                    borrowed.write_finished(&mut builder).unwrap();
                    opaque.write_finished(&mut builder).unwrap();
                    builder.finished_data().to_vec()
                }
                _ => {
                    let blob = Blob(bytes);
                    owned.write(&blob).unwrap();
                    borrowed.write(&blob).unwrap();
                    opaque.write(&blob).unwrap();
                    finished_data(&blob.0)
                }
            };
            expected.extend(hand_frame(width, checksum.calculate(&payload), &payload));
            payloads.push(payload);
            for (what, position, frames) in [
                ("Vec", owned.position(), owned.frames_written()),
                ("&mut Vec", borrowed.position(), borrowed.frames_written()),
                ("Write", opaque.position(), opaque.frames_written()),
            ] {
                assert_eq!(position, expected.len() as u64, "{name} {what}: position");
                assert_eq!(frames, payloads.len() as u64, "{name} {what}: frames");
            }
        }
        drop(borrowed);
        let owned = owned.into_inner();
        assert!(owned == expected, "{name}: StreamWriter over a Vec");
        assert_eq!(borrowed_vec[..2], [0x77; 2], "{name}: prefix");
        assert!(borrowed_vec[2..] == expected, "{name}: over a &mut Vec");
        assert!(opaque.into_inner().0 == expected, "{name}: over a Write");

        let mut reader =
            StreamReader::new(&owned[..], ChecksumDeframer::new(checksum_by_name(name)));
        for (index, payload) in payloads.iter().enumerate() {
            assert_eq!(
                reader.read_message().unwrap(),
                Some(&payload[..]),
                "{name}: {index}"
            );
        }
        assert_eq!(reader.read_message().unwrap(), None);
    }
}

/// Accepts at most `chunk` bytes per call (and at most `limit` in all, then fails).
struct Stingy {
    bytes: Vec<u8>,
    chunk: usize,
    limit: usize,
}

impl Write for Stingy {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.limit - self.bytes.len();
        if room == 0 && !buf.is_empty() {
            return Err(io::Error::other("full"));
        }
        let n = buf.len().min(self.chunk).min(room);
        self.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Payload lengths around the buffer's size and around 4096, among short ones.
fn buffered_lengths(size: usize) -> Vec<usize> {
    let mut lengths = vec![0, 1, 129, 200, 3000];
    let around = |at: usize, lengths: &mut Vec<usize>| {
        let span = if cfg!(miri) { 2 } else { 80 };
        for len in at.saturating_sub(span)..=at + span {
            lengths.push(len);
            lengths.push(len % 7 * 20);
        }
    };
    around(size, &mut lengths);
    around(4096, &mut lengths);
    lengths
}

#[test]
fn mid_buffered_writer_writes_the_hand_built_stream_at_odd_sizes() {
    let sizes: &[usize] = if cfg!(miri) {
        &[16, 1000]
    } else {
        &[
            16, 100, 127, 128, 129, 1000, 4095, 4096, 4100, 4160, 4161, 5000,
        ]
    };
    for (name, width) in NAMES {
        let checksum = checksum_by_name(name);
        for &size in sizes {
            let lengths = buffered_lengths(size);
            let payloads: Vec<Vec<u8>> = lengths
                .iter()
                .enumerate()
                .map(|(i, &len)| payload_of(len, i as u8))
                .collect();
            let expected: Vec<u8> = payloads
                .iter()
                .flat_map(|p| hand_frame(width, checksum.calculate(p), p))
                .collect();
            let what = format!("{name}, buffer {size}");

            let framer = || ChecksumFramer::new(checksum_by_name(name));
            let mut into_vec = StreamWriter::buffered(Vec::new(), framer(), size);
            let mut into_write = StreamWriter::buffered(Unrecognised::default(), framer(), size);
            let stingy = Stingy {
                bytes: Vec::new(),
                chunk: 37,
                limit: usize::MAX,
            };
            let mut into_stingy = StreamWriter::buffered(stingy, framer(), size);
            let mut position = 0;
            for payload in &payloads {
                into_vec.write_payload(payload).unwrap();
                into_write.write_payload(payload).unwrap();
                into_stingy.write_payload(payload).unwrap();
                position += 4 + width + payload.len();
                assert_eq!(into_vec.position(), position as u64, "{what}");
                let buffer = into_vec.get_ref();
                assert_eq!(
                    buffer.bytes_written() as usize + buffer.buffer().len(),
                    position,
                    "{what}: written and buffered"
                );
                assert!(
                    buffer.buffer().len() <= size.max(128),
                    "{what}: the buffer holds {} bytes",
                    buffer.buffer().len()
                );
            }
            into_vec.flush().unwrap();
            into_write.flush().unwrap();
            into_stingy.flush().unwrap();
            assert_eq!(into_vec.get_ref().bytes_written(), expected.len() as u64);
            let bytes = into_vec.into_inner().into_inner().unwrap();
            assert!(bytes == expected, "{what}: into a Vec");
            let bytes = into_write.into_inner().into_inner().unwrap().0;
            assert!(bytes == expected, "{what}: into a Write");
            let bytes = into_stingy.into_inner().into_inner().unwrap().bytes;
            assert!(bytes == expected, "{what}: into short writes");

            let mut reader =
                StreamReader::new(&bytes[..], ChecksumDeframer::new(checksum_by_name(name)));
            for (index, payload) in payloads.iter().enumerate() {
                assert_eq!(
                    reader.read_message().unwrap(),
                    Some(&payload[..]),
                    "{what}: {index}"
                );
            }
            assert_eq!(reader.read_message().unwrap(), None);
        }
    }
}

#[test]
fn mid_buffered_writer_over_a_failing_writer_delivers_an_exact_prefix() {
    // The inner writer takes some bytes, 53 at a time, then fails: what it took is the stream's
    // first bytes, and the buffer's count says how many.
    let payloads: Vec<Vec<u8>> = [130, 700, 4095, 129, 4096, 2000, 3999, 17, 4100, 1500]
        .iter()
        .enumerate()
        .map(|(i, &len)| payload_of(len, i as u8))
        .collect();
    let limits: Vec<usize> = if cfg!(miri) {
        vec![0, 135, 4000]
    } else {
        (0..20_000).step_by(331).collect()
    };
    for size in [100, 1000, 4100, 5000] {
        let expected: Vec<u8> = payloads
            .iter()
            .flat_map(|p| hand_frame(4, Crc32.calculate(p), p))
            .collect();
        for &limit in &limits {
            let inner = Stingy {
                bytes: Vec::new(),
                chunk: 53,
                limit,
            };
            let mut writer = StreamWriter::buffered(inner, ChecksumFramer::new(Crc32), size);
            let result = payloads
                .iter()
                .try_for_each(|p| writer.write_payload(p))
                .and_then(|()| writer.flush());
            let what = format!("buffer {size}, limit {limit}");
            assert_eq!(result.is_err(), limit < expected.len(), "{what}");
            let written = writer.get_ref().bytes_written();
            let (inner, buffered) = writer.into_inner().into_parts();
            assert_eq!(written, inner.bytes.len() as u64, "{what}: count");
            assert!(
                inner.bytes[..] == expected[..inner.bytes.len()],
                "{what}: prefix"
            );
            // What is still buffered continues the stream where the writer stopped.
            let end = inner.bytes.len() + buffered.len();
            assert!(end <= expected.len(), "{what}: more than the stream");
            assert!(
                buffered[..] == expected[inner.bytes.len()..end],
                "{what}: buffer"
            );
        }
    }
}

#[test]
fn mid_frames_into_a_frame_buffer_never_reallocate_it() {
    // Steady state into a sink that keeps nothing: every buffered frame fits the buffer's
    // allocation, so no frame allocates, and the buffer never moves.
    for size in [128, 1000, 4100, 5000, 64 * 1024] {
        let mut writer = StreamWriter::buffered(io::sink(), ChecksumFramer::new(Xxh3), size);
        let ptr = writer.get_ref().buffer().as_ptr();
        let lengths: Vec<usize> = if cfg!(miri) {
            vec![129, 1000, 4095, 4096]
        } else {
            (0..5000).step_by(7).collect()
        };
        let payloads: Vec<Vec<u8>> = lengths.iter().map(|&len| payload_of(len, 1)).collect();
        let allocations = allocations_during(|| {
            for payload in &payloads {
                writer.write_payload(payload).unwrap();
                assert_eq!(
                    writer.get_ref().buffer().as_ptr(),
                    ptr,
                    "buffer {size} moved"
                );
            }
            writer.flush().unwrap();
        });
        assert_eq!(allocations, 0, "buffer {size}");
    }
}

#[test]
fn mid_a_vec_with_room_takes_many_frames_without_moving() {
    let lengths: Vec<usize> = if cfg!(miri) {
        vec![129, 4095, 200, 4096]
    } else {
        (120..4200).step_by(13).collect()
    };
    let payloads: Vec<Vec<u8>> = lengths.iter().map(|&len| payload_of(len, 2)).collect();
    let total: usize = payloads.iter().map(|p| 8 + p.len()).sum();
    let mut out = Vec::with_capacity(total);
    let ptr = out.as_ptr();
    let mut framer = ChecksumFramer::new(Crc32c);
    let allocations = allocations_during(|| {
        for payload in &payloads {
            framer.frame_and_write(&mut out, payload).unwrap();
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(
        (out.as_ptr(), out.len(), out.capacity()),
        (ptr, total, total)
    );
    let expected: Vec<u8> = payloads
        .iter()
        .flat_map(|p| hand_frame(4, Crc32c.calculate(p), p))
        .collect();
    assert!(out == expected);
}

/// A checksum that panics in `size` or in `calculate`, or reports `width`.
#[derive(Debug, Clone, Copy)]
struct Faulty {
    width: usize,
    size_panics: bool,
    calculate_panics: bool,
}

impl Checksum for Faulty {
    fn size(&self) -> usize {
        assert!(!self.size_panics, "size panicked");
        self.width
    }

    fn calculate(&self, payload: &[u8]) -> u64 {
        assert!(!self.calculate_panics, "calculate panicked");
        Wide(8).calculate(payload)
    }

    fn name(&self) -> &'static str {
        "faulty"
    }
}

fn panicked(write: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(write)).is_err()
}

#[test]
fn mid_a_panicking_or_too_wide_checksum_leaves_the_vec_as_it_was() {
    let faults = [
        Faulty {
            width: 4,
            size_panics: true,
            calculate_panics: false,
        },
        Faulty {
            width: 3,
            size_panics: false,
            calculate_panics: true,
        },
        Faulty {
            width: 9,
            size_panics: false,
            calculate_panics: false,
        },
        Faulty {
            width: usize::MAX - 3,
            size_panics: false,
            calculate_panics: false,
        },
    ];
    let lengths: &[usize] = if cfg!(miri) {
        &[0, 129, 4095, 4096]
    } else {
        &[0, 1, 128, 129, 130, 1000, 4094, 4095, 4096, 4097]
    };
    for fault in faults {
        for &len in lengths {
            let payload = payload_of(len, 4);
            let what = format!("{fault:?}, length {len}");

            // Spare capacity for the frame, so a partial frame would land without a move.
            let mut vec = Vec::with_capacity(len + 64);
            vec.extend_from_slice(b"kept");
            assert!(panicked(|| {
                let _ = ChecksumFramer::new(fault).frame_and_write(&mut vec, &payload);
            }));
            assert_eq!(vec, b"kept", "{what}: Vec");

            let mut borrowed = b"kept".to_vec();
            assert!(panicked(|| {
                let _ = ChecksumFramer::new(fault).frame_and_write(&mut &mut borrowed, &payload);
            }));
            assert_eq!(borrowed, b"kept", "{what}: &mut Vec");

            let mut writer = StreamWriter::new(b"kept".to_vec(), ChecksumFramer::new(fault));
            assert!(panicked(|| {
                let _ = writer.write_payload(&payload);
            }));
            assert_eq!(writer.position(), 0, "{what}: position");
            assert_eq!(writer.into_inner(), b"kept", "{what}: StreamWriter");

            // A buffered frame first, then the faulty one: the buffer keeps the first only.
            let mut buffered = StreamWriter::buffered(Vec::new(), ChecksumFramer::new(fault), 8192);
            assert!(panicked(|| {
                let _ = buffered.write_payload(&payload);
            }));
            assert!(
                buffered.get_ref().buffer().is_empty(),
                "{what}: FrameBuffer"
            );
            let (inner, frames) = buffered.into_inner().into_parts();
            assert!(
                inner.is_empty() && frames.is_empty(),
                "{what}: FrameBuffer parts"
            );
        }
    }
}

#[test]
fn mid_a_checksum_panicking_after_good_frames_keeps_them_intact_in_a_frame_buffer() {
    /// Reports 8 bytes and panics on the payload that starts with 0xFF.
    #[derive(Debug, Clone, Copy)]
    struct PanicsOnFf;
    impl Checksum for PanicsOnFf {
        fn size(&self) -> usize {
            8
        }
        fn calculate(&self, payload: &[u8]) -> u64 {
            assert_ne!(payload.first(), Some(&0xFF), "the poisoned payload");
            Wide(8).calculate(payload)
        }
        fn name(&self) -> &'static str {
            "panics-on-ff"
        }
    }
    for len in [129, 1000, 2000, 4095] {
        let good = payload_of(len, 0);
        let mut poisoned = payload_of(len, 0);
        poisoned[0] = 0xFF;
        let mut writer =
            StreamWriter::buffered(Vec::new(), ChecksumFramer::new(PanicsOnFf), 16 * 1024);
        writer.write_payload(&good).unwrap();
        let expected = hand_frame(8, Wide(8).calculate(&good), &good);
        assert_eq!(writer.get_ref().buffer(), expected, "length {len}");
        assert!(panicked(|| {
            let _ = writer.write_payload(&poisoned);
        }));
        assert_eq!(
            writer.get_ref().buffer(),
            expected,
            "length {len}: after the panic"
        );
        let mut vec = expected.clone();
        assert!(panicked(|| {
            let _ = ChecksumFramer::new(PanicsOnFf).frame_and_write(&mut vec, &poisoned);
        }));
        assert_eq!(vec, expected, "length {len}: Vec after the panic");
    }
}
