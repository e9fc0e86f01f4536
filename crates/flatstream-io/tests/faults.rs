//! Fault injection: writers and readers that fail, short-write or short-read, and return
//! `Interrupted`, at chosen points. No failure goes unreported, `Interrupted` is retried,
//! and every frame before a fault survives.

use std::io::{self, Read, Write};

use flatstream_core::{ErrorKind, FramePart};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, SliceReader, StreamReader, StreamWriter};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use crate::common::{ALGORITHMS, checksum_by_name, drain};

fn config() -> Config {
    Config {
        // More with PROPTEST_CASES=N for a deeper local run; the seed stays fixed.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(200),
        rng_seed: RngSeed::Fixed(0x6661_756c_7473),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A writer that accepts at most `chunk` bytes a call, returns `Interrupted` every
/// `interrupt_every` calls, and fails for good once `fail_after` bytes were written.
struct FaultyWriter {
    written: Vec<u8>,
    chunk: usize,
    interrupt_every: usize,
    fail_after: usize,
    calls: usize,
}

impl Write for FaultyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(self.interrupt_every) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let room = self.fail_after - self.written.len();
        if room == 0 {
            return Err(io::Error::other("device failed"));
        }
        let n = buf.len().min(self.chunk).min(room);
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader with the same kinds of fault.
struct FaultyReader<'a> {
    bytes: &'a [u8],
    consumed: usize,
    chunk: usize,
    interrupt_every: usize,
    fail_after: usize,
    calls: usize,
}

impl Read for FaultyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(self.interrupt_every) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.consumed >= self.fail_after {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "link dropped",
            ));
        }
        let n = buf
            .len()
            .min(self.chunk)
            .min(self.fail_after - self.consumed)
            .min(self.bytes.len() - self.consumed.min(self.bytes.len()));
        buf[..n].copy_from_slice(&self.bytes[self.consumed..self.consumed + n]);
        self.consumed += n;
        Ok(n)
    }
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..5000), 1..12)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn writer_reports_every_failure_and_keeps_whole_frames(
        payloads in payloads(),
        algorithm in 0..ALGORITHMS.len(),
        chunk in 1usize..700,
        interrupt_every in 2usize..9,
        fail_per_mille in 0usize..1200,
    ) {
        let checksum = checksum_by_name(ALGORITHMS[algorithm]);
        let total: usize = payloads.iter().map(|p| 4 + checksum.size() + p.len()).sum();
        let fail_after = total * fail_per_mille / 1000;
        let sink = FaultyWriter { written: Vec::new(), chunk, interrupt_every, fail_after, calls: 0 };
        let mut writer = StreamWriter::new(sink, ChecksumFramer::new(&*checksum));
        let mut failed_at = None;
        for (index, payload) in payloads.iter().enumerate() {
            if let Err(error) = writer.write_payload(payload) {
                prop_assert!(matches!(error.kind(), ErrorKind::Io(_)), "{:?}", error);
                prop_assert_eq!(error.frame_index(), Some(index as u64));
                prop_assert_eq!(error.offset(), Some(writer.position()));
                failed_at = Some(index);
                break;
            }
        }
        let position = writer.position() as usize;
        let frames_written = writer.frames_written() as usize;
        let written = writer.into_inner().written;
        match failed_at {
            // Interrupted and short writes were all absorbed.
            None => {
                prop_assert!(fail_after >= total);
                prop_assert_eq!(written.len(), total);
            }
            Some(index) => {
                prop_assert!(fail_after < total);
                prop_assert_eq!(frames_written, index);
                prop_assert!(written.len() >= position);
            }
        }
        // Whatever reached the device reads back as every whole frame, then at most a torn one.
        let mut reader = SliceReader::new(&written, ChecksumDeframer::new(&*checksum));
        let (read, end) = drain(|| reader.read_message().map(|payload| payload.map(<[u8]>::to_vec)));
        prop_assert_eq!(&read[..], &payloads[..frames_written]);
        if let Some(error) = end {
            prop_assert!(error.is_torn_tail(), "{:?}", error);
        }
    }

    #[test]
    fn reader_keeps_every_frame_before_a_fault(
        payloads in payloads(),
        algorithm in 0..ALGORITHMS.len(),
        chunk in 1usize..700,
        interrupt_every in 2usize..9,
        fail_per_mille in 0usize..1200,
    ) {
        let checksum = checksum_by_name(ALGORITHMS[algorithm]);
        let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(&*checksum));
        let mut boundaries = vec![0usize];
        for payload in &payloads {
            writer.write_payload(payload).unwrap();
            boundaries.push(writer.position() as usize);
        }
        let stream = writer.into_inner();
        let fail_after = stream.len() * fail_per_mille / 1000;
        let source = FaultyReader { bytes: &stream, consumed: 0, chunk, interrupt_every, fail_after, calls: 0 };
        let mut reader = StreamReader::new(source, ChecksumDeframer::new(&*checksum));
        let (read, end) = drain(|| reader.read_message().map(|payload| payload.map(<[u8]>::to_vec)));
        let whole = boundaries.iter().filter(|boundary| **boundary <= fail_after.min(stream.len())).count() - 1;
        prop_assert_eq!(&read[..], &payloads[..whole.min(read.len())]);
        match end {
            None => prop_assert_eq!(read.len(), payloads.len()),
            Some(error) => {
                prop_assert!(matches!(error.kind(), ErrorKind::Io(e) if e.kind() == io::ErrorKind::ConnectionReset), "{:?}", error);
                prop_assert_eq!(read.len(), whole);
                prop_assert_eq!(error.offset(), Some(boundaries[whole] as u64));
            }
        }
    }
}

#[test]
fn torn_payload_after_interrupted_reads_is_still_torn_not_io() {
    let checksum = checksum_by_name("crc32c");
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(&*checksum));
    writer.write_payload(&[9; 100]).unwrap();
    let stream = writer.into_inner();
    let source = FaultyReader {
        bytes: &stream[..60],
        consumed: 0,
        chunk: 7,
        interrupt_every: 2,
        fail_after: usize::MAX,
        calls: 0,
    };
    let error = StreamReader::new(source, ChecksumDeframer::new(&*checksum))
        .read_message()
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::UnexpectedEof {
                part: FramePart::Payload,
                needed: 100,
                got: 52
            }
        ),
        "{error:?}"
    );
}
