//! Round trips for every algorithm and many sizes, and the readers' equivalent paths.

use std::io::Cursor;

use flatstream_core::Checksum;
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamReader, StreamWriter};

use crate::common::{ALGORITHMS, ShortReads, checksum_by_name, data_dir, payload_of};

/// 0, 1, and 2^k - 1, 2^k, 2^k + 1 for every k up to 1 MiB.
fn sizes() -> Vec<usize> {
    let mut sizes = vec![0, 1];
    for k in 1..=20 {
        let power = 1usize << k;
        sizes.extend([power - 1, power, power + 1]);
    }
    sizes
}

fn write_all(checksum: &dyn Checksum, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum));
    for payload in payloads {
        writer.write_payload(payload).unwrap();
    }
    assert_eq!(writer.frames_written(), payloads.len() as u64);
    assert_eq!(writer.position(), writer.get_ref().len() as u64);
    writer.into_inner()
}

fn read_all(checksum: &dyn Checksum, reader: impl std::io::Read) -> Vec<Vec<u8>> {
    let mut reader = StreamReader::new(reader, ChecksumDeframer::new(checksum));
    crate::common::collected(|each| reader.process_all(each))
}

#[test]
fn every_algorithm_round_trips_every_size() {
    let payloads: Vec<Vec<u8>> = sizes()
        .into_iter()
        .enumerate()
        .map(|(i, len)| payload_of(len, i as u8))
        .collect();
    for name in ALGORITHMS {
        let checksum = checksum_by_name(name);
        let stream = write_all(&*checksum, &payloads);
        let expected_len: usize = payloads.iter().map(|p| 4 + checksum.size() + p.len()).sum();
        assert_eq!(stream.len(), expected_len, "{name}");
        assert_eq!(
            read_all(&*checksum, Cursor::new(&stream)),
            payloads,
            "{name}"
        );
    }
}

#[test]
fn short_and_interrupted_reads_give_the_same_frames() {
    let bytes = std::fs::read(data_dir().join("wire-vectors/crc32c-mixed.bin")).unwrap();
    let checksum = checksum_by_name("crc32c");
    let expected = read_all(&*checksum, Cursor::new(&bytes));
    assert_eq!(expected.len(), 47);
    for chunk in [1, 2, 3, 5, 4096] {
        let payloads = read_all(&*checksum, ShortReads::new(&bytes, chunk));
        assert_eq!(payloads, expected, "chunk {chunk}");
    }
}

#[test]
fn write_batch_equals_repeated_write() {
    let texts: Vec<String> = (0..500).map(|i| format!("message number {i}")).collect();
    let mut batch = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum_by_name("xxh3")));
    batch.write_batch(&texts).unwrap();
    let mut single = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum_by_name("xxh3")));
    for text in &texts {
        single.write(text).unwrap();
    }
    assert_eq!(batch.frames_written(), 500);
    assert_eq!(batch.into_inner(), single.into_inner());
}

#[test]
fn messages_and_typed_messages_agree_with_process_typed() {
    let texts = ["one", "", "three", "a somewhat longer fourth message"];
    let checksum = checksum_by_name("crc64");
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(&*checksum));
    writer.write_batch(&texts).unwrap();
    let stream = writer.into_inner();

    let mut reader = StreamReader::new(stream.as_slice(), ChecksumDeframer::new(&*checksum));
    let mut typed = reader.typed_messages::<str>();
    let mut seen = Vec::new();
    while let Some(text) = typed.next() {
        seen.push(text.unwrap().to_owned());
    }
    assert_eq!(seen, texts);

    let mut reader = StreamReader::new(stream.as_slice(), ChecksumDeframer::new(&*checksum));
    let mut messages = reader.messages();
    let mut raw = Vec::new();
    while let Some(payload) = messages.next() {
        raw.push(payload.unwrap().to_vec());
    }
    assert_eq!(raw.len(), 4);
    for (payload, text) in raw.iter().zip(texts) {
        assert_eq!(flatbuffers::root::<&str>(payload).unwrap(), text);
    }
    assert_eq!(reader.frames_read(), 4);
    assert_eq!(reader.position(), stream.len() as u64);
}
