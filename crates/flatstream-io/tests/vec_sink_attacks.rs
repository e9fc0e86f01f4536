//! Attacks on the `Vec<u8>` sink's one-step append (`vec_sink`, used by `ChecksumFramer` for
//! payloads up to 128 bytes into a `Vec<u8>` or a `&mut Vec<u8>`): everything it writes is
//! compared byte for byte, and in the writer's counts, against a sink the framers do not
//! recognise, which goes through `Write` as every other sink does.

use std::cell::Cell;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use flatbuffers::FlatBufferBuilder;
use flatstream_core::{Checksum, Framer, StreamSerialize};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DefaultDeframer, DefaultFramer, StreamReader, StreamWriter,
};

use crate::common::{ALGORITHMS, Unrecognised, checksum_by_name, payload_of};

/// A small deterministic generator (xorshift64*), so no new dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }

    /// Mostly short payloads around the one-step path's limits, sometimes longer ones.
    fn length(&mut self) -> usize {
        match self.below(10) {
            0..=5 => self.below(140),
            6 => 124 + self.below(10),
            7 => self.below(301),
            8 => self.below(5000),
            _ => [
                0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 65, 127, 128, 129,
            ][self.below(17)],
        }
    }
}

fn framer(name: &str) -> ChecksumFramer<Box<dyn Checksum>> {
    ChecksumFramer::new(checksum_by_name(name))
}

/// Reads `bytes` back under `name`, checking every payload and the clean end.
fn reads_back(bytes: &[u8], name: &str, expected: &[Vec<u8>]) {
    let mut reader = StreamReader::new(bytes, ChecksumDeframer::new(checksum_by_name(name)));
    for (index, payload) in expected.iter().enumerate() {
        assert_eq!(
            reader.read_message().unwrap(),
            Some(&payload[..]),
            "{name}: frame {index}"
        );
    }
    assert_eq!(reader.read_message().unwrap(), None, "{name}: clean end");
}

/// One call on a `StreamWriter`.
#[derive(Debug, Clone)]
enum Op {
    Payload(Vec<u8>),
    /// `write_finished` of a builder whose root is a vector of these bytes.
    Finished(Vec<u8>),
    /// `write` of a string.
    Message(String),
    /// `write_batch` of strings.
    Batch(Vec<String>),
}

fn finished_builder(bytes: &[u8]) -> FlatBufferBuilder<'static> {
    let mut builder = FlatBufferBuilder::new();
    let vector = builder.create_vector(bytes);
    builder.finish_minimal(vector);
    builder
}

fn serialized(message: &str) -> Vec<u8> {
    let mut builder = FlatBufferBuilder::new();
    message.serialize(&mut builder).unwrap();
    builder.finished_data().to_vec()
}

impl Op {
    fn random(rng: &mut Rng, seed: u8) -> Op {
        let text = |rng: &mut Rng| -> String {
            let n = rng.length().min(300);
            (0..n)
                .map(|i| char::from(b'a' + ((i + n) % 26) as u8))
                .collect()
        };
        match rng.below(4) {
            0 => Op::Payload(payload_of(rng.length(), seed)),
            1 => Op::Finished(payload_of(rng.length(), seed)),
            2 => Op::Message(text(rng)),
            _ => Op::Batch((0..rng.below(5)).map(|_| text(rng)).collect()),
        }
    }

    /// The payloads this call writes, as frames.
    fn payloads(&self) -> Vec<Vec<u8>> {
        match self {
            Op::Payload(payload) => vec![payload.clone()],
            Op::Finished(bytes) => vec![finished_builder(bytes).finished_data().to_vec()],
            Op::Message(message) => vec![serialized(message)],
            Op::Batch(messages) => messages.iter().map(|m| serialized(m)).collect(),
        }
    }

    fn apply<W: Write, F: Framer>(&self, writer: &mut StreamWriter<W, F>) {
        match self {
            Op::Payload(payload) => writer.write_payload(payload).unwrap(),
            Op::Finished(bytes) => writer.write_finished(&mut finished_builder(bytes)).unwrap(),
            Op::Message(message) => writer.write(message.as_str()).unwrap(),
            Op::Batch(messages) => writer.write_batch(messages).unwrap(),
        }
    }
}

/// Runs `ops` on `writer`, returning its counts after every call and the writer.
fn run<W: Write, F: Framer>(mut writer: StreamWriter<W, F>, ops: &[Op]) -> (Vec<(u64, u64)>, W) {
    let counts = ops
        .iter()
        .map(|op| {
            op.apply(&mut writer);
            (writer.frames_written(), writer.position())
        })
        .collect();
    (counts, writer.into_inner())
}

/// `ops` through a `Vec<u8>`, a `&mut Vec<u8>`, a `&mut &mut Vec<u8>` (not recognised) and
/// the unrecognised wrapper, each after `prefix`: the same bytes and counts everywhere, and
/// the frames read back.
fn all_sinks_agree(name: &str, prefix: &[u8], ops: &[Op]) {
    let (reference_counts, reference) = run(
        StreamWriter::new(Unrecognised(prefix.to_vec()), framer(name)),
        ops,
    );
    let reference = reference.0;

    let (counts, owned) = run(StreamWriter::new(prefix.to_vec(), framer(name)), ops);
    assert_eq!(counts, reference_counts, "{name}: Vec<u8> counts");
    assert_eq!(owned, reference, "{name}: Vec<u8> bytes");

    let mut borrowed = prefix.to_vec();
    let (counts, _) = run(StreamWriter::new(&mut borrowed, framer(name)), ops);
    assert_eq!(counts, reference_counts, "{name}: &mut Vec<u8> counts");
    assert_eq!(borrowed, reference, "{name}: &mut Vec<u8> bytes");

    let mut twice = prefix.to_vec();
    let mut once = &mut twice;
    let (counts, _) = run(StreamWriter::new(&mut once, framer(name)), ops);
    assert_eq!(counts, reference_counts, "{name}: &mut &mut Vec<u8> counts");
    assert_eq!(twice, reference, "{name}: &mut &mut Vec<u8> bytes");

    let expected: Vec<Vec<u8>> = ops.iter().flat_map(Op::payloads).collect();
    assert_eq!(
        reference_counts.last().map_or(0, |&(frames, _)| frames),
        expected.len() as u64,
        "{name}: frames"
    );
    reads_back(&reference[prefix.len()..], name, &expected);
}

#[test]
fn vec_sink_every_length_to_300_matches_write_for_every_checksum() {
    let ops: Vec<Op> = (0..=300)
        .map(|n| Op::Payload(payload_of(n, n as u8)))
        .collect();
    for name in ALGORITHMS {
        all_sinks_agree(name, &[], &ops);
        all_sinks_agree(name, &[0xEE; 5], &ops);
    }
}

#[test]
fn vec_sink_every_length_through_write_finished_write_and_write_batch() {
    let mut ops = Vec::new();
    for n in 0..=300 {
        ops.push(Op::Finished(payload_of(n, 3)));
        ops.push(Op::Message("x".repeat(n)));
    }
    // Strings of 0 to 300 bytes in batches of growing size.
    let mut n = 0;
    let mut size = 0;
    while n <= 300 {
        let batch: Vec<String> = (n..=300.min(n + size)).map(|k| "y".repeat(k)).collect();
        n += batch.len();
        size += 1;
        ops.push(Op::Batch(batch));
    }
    ops.push(Op::Batch(Vec::new()));
    for name in ALGORITHMS {
        all_sinks_agree(name, &[1, 2, 3], &ops);
    }
}

#[test]
fn vec_sink_random_mixes_of_sizes_and_calls_match_write() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..24 {
        let ops: Vec<Op> = (0..40).map(|i| Op::random(&mut rng, i)).collect();
        let prefix = payload_of(rng.below(20), round);
        for name in ALGORITHMS {
            all_sinks_agree(name, &prefix, &ops);
        }
    }
}

#[test]
fn vec_sink_framers_used_directly_return_and_write_what_write_does() {
    fn direct<F: Framer>(mut framer: impl FnMut() -> F, name: &str) {
        let lengths = (0..=300).chain([4095, 4096, 4097]);
        let payloads: Vec<Vec<u8>> = lengths.map(|n| payload_of(n, 11)).collect();
        let mut reference = Unrecognised(vec![7]);
        let mut owned = vec![7];
        let mut borrowed_bytes = vec![7];
        let mut borrowed = &mut borrowed_bytes;
        let mut dynamic = vec![7];
        let (mut a, mut b, mut c, mut d) = (framer(), framer(), framer(), framer());
        for payload in &payloads {
            let want = a.frame_and_write(&mut reference, payload).unwrap();
            // `W = Vec<u8>`.
            assert_eq!(b.frame_and_write(&mut owned, payload).unwrap(), want);
            // `W = &mut Vec<u8>`.
            assert_eq!(c.frame_and_write(&mut borrowed, payload).unwrap(), want);
            // `W = dyn Write`: not recognised.
            let sink: &mut dyn Write = &mut dynamic;
            assert_eq!(d.frame_and_write(sink, payload).unwrap(), want);
        }
        assert_eq!(owned, reference.0, "{name}: Vec<u8>");
        assert_eq!(borrowed_bytes, reference.0, "{name}: &mut Vec<u8>");
        assert_eq!(dynamic, reference.0, "{name}: dyn Write");
        reads_back(&reference.0[1..], name, &payloads);
    }
    for name in ALGORITHMS {
        direct(|| framer(name), name);
    }
    direct(|| DefaultFramer, "none");
    direct(
        || ChecksumFramer::new(flatstream_checksum_crc16::Crc16::new()),
        "crc16",
    );
    direct(
        || ChecksumFramer::new(flatstream_checksum_crc32c::Crc32c::new()),
        "crc32c",
    );
    direct(
        || ChecksumFramer::new(flatstream_checksum_crc64::Crc64::new()),
        "crc64",
    );
    direct(
        || ChecksumFramer::new(flatstream_checksum_xxh3::Xxh3::new()),
        "xxh3",
    );
}

#[test]
fn vec_sink_zero_capacity_and_exactly_full_vectors() {
    for name in ALGORITHMS {
        for n in (0..=140).chain([255, 256]) {
            let payload = payload_of(n, 5);
            let mut reference = Unrecognised::default();
            framer(name)
                .frame_and_write(&mut reference, &payload)
                .unwrap();

            // No allocation at all.
            let mut empty = Vec::new();
            assert_eq!(empty.capacity(), 0);
            framer(name).frame_and_write(&mut empty, &payload).unwrap();
            assert_eq!(empty, reference.0, "{name}, {n}: zero capacity");

            // Full to its capacity, of every size around the frame's.
            for held in [1, 3, 4, 7, 8, 16, 17, n, n + 12] {
                let mut full = Vec::with_capacity(held);
                full.resize(held, 0xAB);
                full.shrink_to_fit();
                assert_eq!(full.len(), full.capacity());
                let mut borrowed = &mut full;
                framer(name)
                    .frame_and_write(&mut borrowed, &payload)
                    .unwrap();
                assert_eq!(full[..held], vec![0xAB; held][..], "{name}, {n}: kept");
                assert_eq!(full[held..], reference.0[..], "{name}, {n}: full, {held}");
            }

            // Room for exactly the frame: no reallocation, and the bytes are right.
            let mut exact = Vec::with_capacity(2 + reference.0.len());
            exact.extend_from_slice(&[1, 2]);
            let (pointer, capacity) = (exact.as_ptr(), exact.capacity());
            framer(name).frame_and_write(&mut exact, &payload).unwrap();
            assert_eq!(exact[2..], reference.0[..], "{name}, {n}: exact room");
            assert_eq!(exact.len(), capacity);
            if n <= 128 {
                // The one-step path reserves nothing more than the frame.
                assert_eq!(exact.as_ptr(), pointer, "{name}, {n}: moved");
            }

            // One byte short of the frame: grows once, bytes right.
            let mut short = Vec::with_capacity(reference.0.len() - 1);
            framer(name).frame_and_write(&mut short, &payload).unwrap();
            assert_eq!(short, reference.0, "{name}, {n}: one byte short");
        }
    }
}

#[test]
fn vec_sink_vector_swapped_through_get_mut_between_writes() {
    for name in ALGORITHMS {
        let payloads: Vec<Vec<u8>> = [0, 5, 64, 128, 129, 3, 4096, 17]
            .into_iter()
            .map(|n| payload_of(n, n as u8))
            .collect();

        let mut vec = StreamWriter::new(vec![9], framer(name));
        let mut other = StreamWriter::new(Unrecognised(vec![9]), framer(name));
        let mut swapped_vec = Vec::new();
        let mut swapped_other = Vec::new();
        for (i, payload) in payloads.iter().enumerate() {
            vec.write_payload(payload).unwrap();
            other.write_payload(payload).unwrap();
            // Every other write, a different vector: zero capacity, exactly full, or holding
            // bytes with room to spare.
            let replacement = match i % 3 {
                0 => Vec::new(),
                1 => {
                    let mut full = vec![0xCD; 3];
                    full.shrink_to_fit();
                    full
                }
                _ => {
                    let mut roomy = Vec::with_capacity(1000);
                    roomy.push(0x42);
                    roomy
                }
            };
            swapped_vec.push(std::mem::replace(vec.get_mut(), replacement.clone()));
            swapped_other.push(std::mem::replace(&mut other.get_mut().0, replacement));
            assert_eq!(vec.frames_written(), other.frames_written(), "{name}");
            assert_eq!(vec.position(), other.position(), "{name}");
        }
        assert_eq!(swapped_vec, swapped_other, "{name}");
        vec.write_payload(b"last").unwrap();
        other.write_payload(b"last").unwrap();
        assert_eq!(vec.position(), other.position(), "{name}");
        assert_eq!(vec.into_inner(), other.into_inner().0, "{name}");
    }
}

#[test]
fn vec_sink_borrowed_vector_rebound_through_get_mut() {
    for name in ALGORITHMS {
        let (mut first, mut second) = (vec![1], vec![2, 2]);
        let (mut first_ref, mut second_ref) = (Unrecognised(vec![1]), Unrecognised(vec![2, 2]));
        {
            let mut vec = StreamWriter::new(&mut first, framer(name));
            let mut other = StreamWriter::new(&mut first_ref, framer(name));
            vec.write_payload(b"one").unwrap();
            other.write_payload(b"one").unwrap();
            *vec.get_mut() = &mut second;
            *other.get_mut() = &mut second_ref;
            vec.write_payload(&[3; 128]).unwrap();
            other.write_payload(&[3; 128]).unwrap();
            assert_eq!(vec.position(), other.position());
            assert_eq!(vec.frames_written(), 2);
        }
        assert_eq!(first, first_ref.0, "{name}");
        assert_eq!(second, second_ref.0, "{name}");
    }
}

/// A checksum of any width, stateless: the sum of the payload's bytes and its length, in
/// the low `width` bytes (so that a deframer of the same width verifies it).
struct Width(usize);

impl Checksum for Width {
    fn size(&self) -> usize {
        self.0
    }
    fn calculate(&self, payload: &[u8]) -> u64 {
        let sum = payload.iter().fold(
            0x0102_0304_0506_0708_u64 ^ payload.len() as u64,
            |sum, &b| sum.rotate_left(5) ^ u64::from(b),
        );
        if self.0 >= 8 {
            sum
        } else {
            sum & ((1 << (8 * self.0)) - 1)
        }
    }
    fn name(&self) -> &'static str {
        "width"
    }
}

#[test]
fn vec_sink_checksum_widths_no_algorithm_has_match_write() {
    // 1, 3, 5, 6 and 7 bytes take the one-step path's fallback arm; 0, 2, 4 and 8 the fixed
    // stores, here with a width known only at run time.
    for width in 0..=8 {
        let payloads: Vec<Vec<u8>> = (0..=140)
            .chain([200, 4096])
            .map(|n| payload_of(n, width as u8))
            .collect();
        let mut vec = StreamWriter::new(vec![0xFF], ChecksumFramer::new(Width(width)));
        let mut other =
            StreamWriter::new(Unrecognised(vec![0xFF]), ChecksumFramer::new(Width(width)));
        for payload in &payloads {
            vec.write_payload(payload).unwrap();
            other.write_payload(payload).unwrap();
        }
        assert_eq!(vec.position(), other.position(), "width {width}");
        let bytes = vec.into_inner();
        assert_eq!(bytes, other.into_inner().0, "width {width}");
        let mut reader = StreamReader::new(&bytes[1..], ChecksumDeframer::new(Width(width)));
        for payload in &payloads {
            assert_eq!(reader.read_message().unwrap(), Some(&payload[..]));
        }
        assert_eq!(reader.read_message().unwrap(), None);
    }
}

/// Runs `write` and returns whether it panicked.
fn panics(write: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(write)).is_err()
}

/// The message `write` panicked with, if it did.
fn panic_message(write: impl FnOnce()) -> Option<String> {
    let payload = catch_unwind(AssertUnwindSafe(write)).err()?;
    Some(match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast::<&str>()
            .map_or_else(|_| String::new(), |message| (*message).to_owned()),
    })
}

#[test]
fn vec_sink_a_checksum_wider_than_the_field_panics_on_both_paths_writing_nothing() {
    for width in [9, 16, 1000] {
        for n in [0, 1, 64, 128, 129] {
            let payload = payload_of(n, 1);
            let mut vec = StreamWriter::new(vec![5; 3], ChecksumFramer::new(Width(width)));
            let mut other =
                StreamWriter::new(Unrecognised(vec![5; 3]), ChecksumFramer::new(Width(width)));
            assert!(
                panics(|| vec.write_payload(&payload).unwrap()),
                "{width}, {n}"
            );
            assert!(
                panics(|| other.write_payload(&payload).unwrap()),
                "{width}, {n}"
            );
            assert_eq!(vec.frames_written(), 0);
            assert_eq!(vec.position(), other.position());
            assert_eq!(vec.get_ref(), &other.get_ref().0, "{width}, {n}");
            assert_eq!(vec.into_inner(), [5; 3], "{width}, {n}");
        }
    }
}

/// Reports a width that wraps `LENGTH_LEN + width` round to a small number.
struct AbsurdWidth(usize);

impl Checksum for AbsurdWidth {
    fn size(&self) -> usize {
        self.0
    }
    fn calculate(&self, _payload: &[u8]) -> u64 {
        0
    }
    fn name(&self) -> &'static str {
        "absurd"
    }
}

// Found by this attack, fixed since: the one-step path computed `LENGTH_LEN + checksum_len`
// before it checked the width, so in builds without overflow checks (the default release
// profile) `size() == usize::MAX - 2` made the frame "1 byte + payload", `reserve` made room
// for that, and `put_header` stored the 4-byte length field past the allocation: an
// out-of-bounds heap write from safe code (Miri-confirmed; SIGSEGV in release with
// `Vec::new()`). Now the width is checked first, with `encode`'s message, which this test
// asserts: in a debug build, where the addition would panic too, a different message shows
// the check is gone.
#[test]
fn vec_sink_a_width_that_wraps_the_header_length_panics_without_writing() {
    for wrap in [1, 2, 3, 4] {
        // `LENGTH_LEN + width` wraps to `4 - wrap`.
        let width = usize::MAX - wrap + 1;
        let mut vec = Vec::with_capacity(16);
        vec.resize(15, 0x77);
        let mut writer = StreamWriter::new(&mut vec, ChecksumFramer::new(AbsurdWidth(width)));
        let message = panic_message(|| writer.write_payload(&[]).unwrap());
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains("exceeds 8 bytes")),
            "{wrap}: {message:?}"
        );
        let mut other = StreamWriter::new(
            Unrecognised(vec![0x77; 15]),
            ChecksumFramer::new(AbsurdWidth(width)),
        );
        assert!(panics(|| other.write_payload(&[]).unwrap()), "{wrap}");
        assert_eq!(writer.frames_written(), 0);
        drop(writer);
        assert_eq!(vec, [0x77; 15], "{wrap}");
    }
}

#[test]
fn vec_sink_default_framer_and_deframer_round_trip_every_short_length() {
    let mut vec = Vec::new();
    let mut writer = StreamWriter::new(&mut vec, DefaultFramer);
    for n in 0..=300 {
        writer.write_payload(&payload_of(n, 9)).unwrap();
    }
    assert_eq!(writer.frames_written(), 301);
    drop(writer);
    let mut reader = StreamReader::new(&vec[..], DefaultDeframer::new());
    for n in 0..=300 {
        assert_eq!(reader.read_message().unwrap(), Some(&payload_of(n, 9)[..]));
    }
    assert_eq!(reader.read_message().unwrap(), None);
}

/// The conformance vectors' good streams, written again through every sink.
#[test]
fn vec_sink_conformance_vectors_rewritten_through_every_sink() {
    let dir = crate::common::data_dir().join("wire-vectors");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut checked = 0;
    for case in manifest["cases"].as_array().unwrap() {
        if case["expect"] != "ok" {
            continue;
        }
        let name = case["checksum"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(case["file"].as_str().unwrap())).unwrap();
        let mut reader =
            StreamReader::new(&bytes[..], ChecksumDeframer::new(checksum_by_name(name)));
        let mut ops = Vec::new();
        while let Some(payload) = reader.read_message().unwrap() {
            ops.push(Op::Payload(payload.to_vec()));
        }
        let mut owned = StreamWriter::new(Vec::new(), framer(name));
        let mut borrowed_bytes = Vec::new();
        let mut borrowed = StreamWriter::new(&mut borrowed_bytes, framer(name));
        for op in &ops {
            op.apply(&mut owned);
            op.apply(&mut borrowed);
        }
        assert_eq!(owned.position(), bytes.len() as u64);
        assert_eq!(owned.into_inner(), bytes, "{}", case["name"]);
        drop(borrowed);
        assert_eq!(borrowed_bytes, bytes, "{}", case["name"]);
        all_sinks_agree(name, &[], &ops);
        checked += 1;
    }
    assert!(checked >= 12, "{checked} vectors");
}

/// A checksum whose width changes between calls: the framer asks twice per frame (for the
/// count it returns and for the header it writes). Memory-safe either way; the two paths must
/// at least agree with each other.
struct Fickle(Cell<usize>);

impl Checksum for Fickle {
    fn size(&self) -> usize {
        let calls = self.0.get();
        self.0.set(calls + 1);
        [8, 0, 2, 4, 0, 8][calls % 6]
    }
    fn calculate(&self, _payload: &[u8]) -> u64 {
        u64::MAX
    }
    fn name(&self) -> &'static str {
        "fickle"
    }
}

#[test]
fn vec_sink_a_checksum_whose_width_changes_gets_what_write_gets() {
    let mut vec = StreamWriter::new(Vec::new(), ChecksumFramer::new(Fickle(Cell::new(0))));
    let mut other = StreamWriter::new(
        Unrecognised::default(),
        ChecksumFramer::new(Fickle(Cell::new(0))),
    );
    for n in [0, 1, 17, 64, 128, 3, 100, 0, 9] {
        let payload = payload_of(n, 2);
        vec.write_payload(&payload).unwrap();
        other.write_payload(&payload).unwrap();
        assert_eq!(vec.position(), other.position());
    }
    assert_eq!(vec.into_inner(), other.into_inner().0);
}
