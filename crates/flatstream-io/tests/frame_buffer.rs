//! `StreamWriter::buffered`'s `FrameBuffer`: the same bytes and counts as writing each frame
//! straight to the sink, whatever the buffer size and however the sink takes them; writes
//! out no larger than the buffer; and after a failing, short, refusing or panicking sink,
//! an exact count of the bytes that reached it, with nothing lost or written twice.

use std::cell::Cell;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use flatstream_core::{Error, ErrorKind, Framer, Result};
use flatstream_io::{ChecksumFramer, DefaultFramer, FrameBuffer, IntoInnerError, StreamWriter};

use crate::common::{ALGORITHMS, Rng, Unrecognised, checksum_by_name, payload_of, rounds};

/// Buffer sizes around the smallest (128) and the payload sizes written.
const CAPACITIES: [usize; 6] = [0, 128, 200, 1000, 4096, 65536];

/// Payloads mostly short, sometimes as large as or larger than the buffers.
fn payloads(rng: &mut Rng, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let len = match rng.below(10) {
                0..=6 => rng.below(130),
                7 => rng.below(1100),
                8 => rng.below(5000),
                _ => [0, 63, 64, 65, 127, 128, 4095, 4096, 70_000][rng.below(9)],
            };
            payload_of(len, i as u8)
        })
        .collect()
}

/// The stream, frame counts and positions of writing `payloads` straight to a sink the
/// framers do not recognise.
fn unbuffered(name: &str, payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<(u64, u64)>) {
    let mut writer = StreamWriter::new(
        Unrecognised::default(),
        ChecksumFramer::new(checksum_by_name(name)),
    );
    let counts = payloads
        .iter()
        .map(|payload| {
            writer.write_payload(payload).unwrap();
            (writer.frames_written(), writer.position())
        })
        .collect();
    (writer.into_inner().0, counts)
}

/// A sink that records the size of every write, takes at most `per_call` bytes of each, and
/// fails with `Interrupted` every `interrupt_every`-th call.
#[derive(Debug, Default)]
struct Recording {
    bytes: Vec<u8>,
    writes: Vec<usize>,
    per_call: usize,
    interrupt_every: usize,
    calls: usize,
}

impl Write for Recording {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.interrupt_every != 0 && self.calls.is_multiple_of(self.interrupt_every) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(self.per_call);
        self.bytes.extend_from_slice(&buf[..n]);
        self.writes.push(n);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn buffered_writes_the_bytes_and_counts_of_unbuffered_writes() {
    let mut rng = Rng(0x5EED_F4A3_0001);
    for round in 0..rounds(6) {
        let payloads = payloads(&mut rng, 300);
        for name in ALGORITHMS {
            let (expected, expected_counts) = unbuffered(name, &payloads);
            for capacity in CAPACITIES {
                let context = format!("round {round}, {name}, buffer {capacity}");
                let mut writer = StreamWriter::buffered(
                    Vec::new(),
                    ChecksumFramer::new(checksum_by_name(name)),
                    capacity,
                );
                for (payload, expected) in payloads.iter().zip(&expected_counts) {
                    writer.write_payload(payload).unwrap();
                    assert_eq!(
                        (writer.frames_written(), writer.position()),
                        *expected,
                        "{context}"
                    );
                }
                writer.flush().unwrap();
                let buffer = writer.into_inner();
                assert_eq!(buffer.bytes_written(), expected.len() as u64, "{context}");
                assert!(buffer.buffer().is_empty(), "{context}");
                assert_eq!(buffer.into_inner().unwrap(), expected, "{context}");
            }
        }
    }
}

#[test]
fn short_and_interrupted_writes_lose_and_repeat_nothing() {
    let mut rng = Rng(0x5EED_F4A3_0002);
    let payloads = payloads(&mut rng, 400);
    let (expected, _) = unbuffered("crc32c", &payloads);
    for (per_call, interrupt_every) in [(1, 0), (7, 3), (4096, 2), (usize::MAX, 5)] {
        let sink = Recording {
            per_call,
            interrupt_every,
            ..Recording::default()
        };
        let mut writer =
            StreamWriter::buffered(sink, ChecksumFramer::new(checksum_by_name("crc32c")), 1000);
        for payload in &payloads {
            writer.write_payload(payload).unwrap();
        }
        writer.flush().unwrap();
        let (sink, rest) = writer.into_inner().into_parts();
        assert!(rest.is_empty());
        assert_eq!(sink.bytes, expected, "{per_call} bytes a call");
    }
}

#[test]
fn writes_out_no_more_than_the_buffer_except_frames_too_large_for_it() {
    let capacity = 1000;
    let mut writer = StreamWriter::buffered(
        Recording {
            per_call: usize::MAX,
            ..Recording::default()
        },
        DefaultFramer,
        capacity,
    );
    // 100-byte frames (96 B payloads): nothing reaches the sink until the buffer is full.
    for _ in 0..9 {
        writer.write_payload(&[7; 96]).unwrap();
    }
    assert!(writer.get_ref().get_ref().writes.is_empty());
    assert_eq!(writer.get_ref().buffer().len(), 900);
    for _ in 0..91 {
        writer.write_payload(&[7; 96]).unwrap();
    }
    let sizes = writer.get_ref().get_ref().writes.clone();
    assert!(!sizes.is_empty());
    assert!(sizes.iter().all(|&n| n <= capacity), "{sizes:?}");
    // Whole frames only: every write out ends at a frame boundary.
    assert!(sizes.iter().all(|&n| n % 100 == 0), "{sizes:?}");
    // A payload as large as the buffer goes past it, after the frames buffered before it.
    let large = payload_of(capacity, 9);
    writer.write_payload(&large).unwrap();
    writer.flush().unwrap();
    let (sink, _) = writer.into_inner().into_parts();
    let mut expected = Vec::new();
    for _ in 0..100 {
        expected.extend_from_slice(&96u32.to_le_bytes());
        expected.extend_from_slice(&[7; 96]);
    }
    expected.extend_from_slice(&(capacity as u32).to_le_bytes());
    expected.extend_from_slice(&large);
    assert_eq!(sink.bytes, expected);
}

/// A sink that accepts `budget` bytes, then fails every write as a full disk does.
#[derive(Debug)]
struct Full {
    bytes: Vec<u8>,
    budget: usize,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"));
        }
        let n = buf.len().min(self.budget);
        self.budget -= n;
        self.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn is_storage_full(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::Io(e) if e.kind() == io::ErrorKind::StorageFull)
}

#[test]
fn a_full_sink_stops_the_writer_and_says_how_much_reached_it() {
    let mut rng = Rng(0x5EED_F4A3_0003);
    let payloads = payloads(&mut rng, 200);
    let (expected, _) = unbuffered("xxh3", &payloads);
    for budget in [
        0,
        1,
        11,
        999,
        1000,
        4097,
        expected.len() / 2,
        expected.len() - 1,
    ] {
        let mut writer = StreamWriter::buffered(
            Full {
                bytes: Vec::new(),
                budget,
            },
            ChecksumFramer::new(checksum_by_name("xxh3")),
            1000,
        );
        let (index, error) = payloads
            .iter()
            .enumerate()
            .find_map(|(index, payload)| writer.write_payload(payload).err().map(|e| (index, e)))
            .unwrap_or_else(|| (payloads.len(), writer.flush().unwrap_err()));
        assert!(is_storage_full(&error), "budget {budget}: {error}");
        // The error names the frame being written when the buffer could not be written out.
        assert_eq!(error.frame_index(), Some(index as u64), "budget {budget}");
        assert!(writer.is_stopped());
        let refusal = writer.write_payload(b"more").unwrap_err();
        assert!(refusal.to_string().contains("no space left"), "{refusal}");

        let buffer = writer.into_inner();
        // The sink holds exactly the bytes counted, and they are the stream's first bytes.
        let reached = buffer.bytes_written();
        assert_eq!(
            reached,
            budget.min(expected.len()) as u64,
            "budget {budget}"
        );
        // And so does the error, beside its frame's offset (which counts frames handed to
        // the buffer, not bytes at the sink), and the refusals after it.
        assert_eq!(error.bytes_delivered(), Some(reached), "budget {budget}");
        let delivered = format!("{reached} bytes of the stream had reached the destination");
        assert!(error.to_string().contains(&delivered), "{error}");
        assert!(refusal.to_string().contains(&delivered), "{refusal}");
        assert_eq!(buffer.get_ref().bytes, expected[..reached as usize]);
        // What it did not take is still buffered: the stream continues there.
        let held = buffer.buffer().to_vec();
        assert_eq!(
            held,
            expected[reached as usize..reached as usize + held.len()],
            "budget {budget}"
        );
        if held.is_empty() {
            // A frame written straight to the sink failed: nothing left to write out.
            assert_eq!(buffer.into_inner().unwrap().bytes.len() as u64, reached);
            continue;
        }
        // `into_inner` fails the same way and gives the buffer back whole.
        let refused = buffer.into_inner().unwrap_err();
        assert_eq!(refused.error().kind(), io::ErrorKind::StorageFull);
        assert!(refused.to_string().contains("left unwritten"), "{refused}");
        let (_, buffer) = refused.into_parts();
        assert_eq!(buffer.buffer(), held);
        let (sink, rest) = buffer.into_parts();
        assert_eq!(rest, held);
        assert_eq!(sink.bytes.len() as u64, reached);
    }
}

#[test]
fn a_frame_too_large_for_the_buffer_that_fails_part_way_is_counted() {
    let (expected, _) = unbuffered("crc32", &[payload_of(10, 1), payload_of(5000, 2)]);
    let mut writer = StreamWriter::buffered(
        Full {
            bytes: Vec::new(),
            budget: 3000,
        },
        ChecksumFramer::new(checksum_by_name("crc32")),
        1000,
    );
    writer.write_payload(&payload_of(10, 1)).unwrap();
    let error = writer.write_payload(&payload_of(5000, 2)).unwrap_err();
    assert!(is_storage_full(&error), "{error}");
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(18)));
    assert_eq!(error.bytes_delivered(), Some(3000));
    let buffer = writer.into_inner();
    assert_eq!(buffer.bytes_written(), 3000);
    assert!(buffer.buffer().is_empty());
    assert_eq!(buffer.get_ref().bytes, expected[..3000]);
}

#[test]
fn a_sink_that_takes_nothing_is_an_error_not_a_hang() {
    struct Zero;
    impl Write for Zero {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Ok(0)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut writer = StreamWriter::buffered(Zero, DefaultFramer, 128);
    writer.write_payload(b"abc").unwrap();
    let error = writer.flush().unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Io(e) if e.kind() == io::ErrorKind::WriteZero),
        "{error}"
    );
    assert_eq!(writer.get_ref().buffer().len(), 7);
}

#[test]
fn dropping_the_writer_writes_the_buffer_out() {
    let mut sink = Vec::new();
    {
        let mut writer = StreamWriter::buffered(&mut sink, DefaultFramer, 4096);
        writer.write_payload(b"abc").unwrap();
        writer.write_payload(b"").unwrap();
    }
    assert_eq!(sink, b"\x03\0\0\0abc\0\0\0\0");
    // `into_parts` writes nothing, and gives the frames back instead.
    let mut writer = StreamWriter::buffered(Vec::new(), DefaultFramer, 4096);
    writer.write_payload(b"abc").unwrap();
    let (sink, frames) = writer.into_inner().into_parts();
    assert!(sink.is_empty());
    assert_eq!(frames, b"\x03\0\0\0abc");
}

/// A framer that writes part of a frame, then fails: a broken adapter.
struct Torn;

impl Framer for Torn {
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        if payload == b"refuse" {
            writer.write_all(b"GARBAGE")?;
            return Err(Error::invalid_frame(
                "refused after writing part of the frame",
            ));
        }
        DefaultFramer.frame_and_write(writer, payload)
    }
    fn finish<W: Write + ?Sized>(&mut self, writer: &mut W) -> Result<usize> {
        writer.write_all(b"END")?;
        Ok(3)
    }
}

#[test]
fn a_refused_frame_leaves_nothing_of_itself_in_the_buffer() {
    for capacity in [128, 4096] {
        let mut writer = StreamWriter::buffered(Vec::new(), Torn, capacity);
        writer.write_payload(b"abc").unwrap();
        let error = writer.write_payload(b"refuse").unwrap_err();
        assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(7)));
        // Not an I/O error: the writer goes on, and the stream has no trace of the refusal.
        writer.write_payload(b"de").unwrap();
        writer.finish().unwrap();
        assert_eq!(writer.position(), 13 + 3);
        let stream = writer.into_inner().into_inner().unwrap();
        assert_eq!(stream, b"\x03\0\0\0abc\x02\0\0\0deEND");
    }
}

#[test]
fn a_panicking_sink_is_not_written_again_on_drop() {
    struct Panics(Rc<Cell<usize>>);
    impl Write for Panics {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            self.0.set(self.0.get() + 1);
            panic!("the sink panicked");
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let calls = Rc::new(Cell::new(0));
    let mut writer = StreamWriter::buffered(Panics(Rc::clone(&calls)), DefaultFramer, 128);
    writer.write_payload(b"abc").unwrap();
    let panicked = catch_unwind(AssertUnwindSafe(|| writer.flush()));
    assert!(panicked.is_err());
    assert_eq!(calls.get(), 1);
    drop(writer);
    assert_eq!(calls.get(), 1, "written again on drop after a panic");
}

#[test]
fn a_frame_buffer_alone_reports_its_size_and_contents() {
    let buffer = FrameBuffer::new(Vec::<u8>::new());
    assert_eq!(buffer.capacity(), flatstream_io::DEFAULT_FRAME_BUFFER_SIZE);
    assert_eq!(
        FrameBuffer::with_capacity(1, Vec::<u8>::new()).capacity(),
        128
    );
    let mut writer = StreamWriter::new(buffer, DefaultFramer);
    writer.write_payload(b"xy").unwrap();
    let debug = format!("{:?}", writer.get_ref());
    assert!(debug.contains("buffered: 6"), "{debug}");
    // Errors convert for `?` in either error type.
    let refused = refused_write_out(b"frame");
    assert_eq!(io::Error::from(refused).kind(), io::ErrorKind::StorageFull);
}

/// The error of writing out a `FrameBuffer` over a full sink that holds the frame of
/// `payload`.
fn refused_write_out(payload: &[u8]) -> IntoInnerError<Full> {
    let full = FrameBuffer::with_capacity(
        128,
        Full {
            bytes: Vec::new(),
            budget: 0,
        },
    );
    let mut writer = StreamWriter::new(full, DefaultFramer);
    writer.write_payload(payload).unwrap();
    writer.into_inner().into_inner().unwrap_err()
}

#[test]
fn writers_one_after_another_share_a_borrowed_buffer() {
    let mut buffer = FrameBuffer::with_capacity(4096, Vec::new());
    for text in ["first", "second"] {
        let mut writer = StreamWriter::new(&mut buffer, DefaultFramer);
        writer.write_payload(text.as_bytes()).unwrap();
        // Dropping a writer over a borrowed buffer writes nothing out: the buffer holds it.
    }
    assert!(buffer.get_ref().is_empty());
    assert_eq!(buffer.buffer(), b"\x05\0\0\0first\x06\0\0\0second");
    // The error gives the buffer back, holding the frame.
    assert_eq!(
        refused_write_out(b"x").into_inner().buffer(),
        b"\x01\0\0\0x"
    );
    assert_eq!(
        buffer.into_inner().unwrap(),
        b"\x05\0\0\0first\x06\0\0\0second"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn dev_full_is_reported_at_flush_and_at_drop_is_ignored() {
    let dev_full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let mut writer = StreamWriter::buffered(dev_full(), DefaultFramer, 4096);
    writer.write_payload(b"abc").unwrap();
    let error = writer.flush().unwrap_err();
    assert!(is_storage_full(&error), "{error}");
    assert_eq!(writer.get_ref().bytes_written(), 0);
    assert_eq!(error.bytes_delivered(), Some(0));
    // Unbuffered, the offset is what reached the file: nothing more to say.
    let mut writer = StreamWriter::new(dev_full(), DefaultFramer);
    let error = writer.write_payload(b"abc").unwrap_err();
    assert!(is_storage_full(&error), "{error}");
    assert_eq!(error.bytes_delivered(), None);
    let mut writer = StreamWriter::buffered(dev_full(), DefaultFramer, 4096);
    writer.write_payload(b"abc").unwrap();
    drop(writer); // Must not panic.
}

#[test]
fn a_sink_that_overstates_what_it_wrote_is_an_error_not_a_panic() {
    /// Says it wrote one byte more than it was given.
    struct Overstates;
    impl Write for Overstates {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len() + 1)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    for payload_len in [3, 5000] {
        let mut writer = StreamWriter::buffered(Overstates, DefaultFramer, 128);
        let error = writer
            .write_payload(&payload_of(payload_len, 1))
            .and_then(|()| writer.flush())
            .unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::Io(e) if e.kind() == io::ErrorKind::InvalidData),
            "{payload_len}: {error}"
        );
        assert!(writer.is_stopped());
    }
}
