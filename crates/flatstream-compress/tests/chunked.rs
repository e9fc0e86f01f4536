//! Chunked compression: messages back with their indexes; the outer stream is ordinary.

use flatstream_checksum_crc32c::Crc32c;
use flatstream_compress::chunk::ChunkHeader;
use flatstream_compress::{
    AnyCodec, ChunkReader, ChunkWriter, Codec, CodecId, Lz4, Zstd, is_chunk,
};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, SliceReader, salvage_slice};
use flatstream_telemetry_schema::TelemetryEvent;

use crate::common::{telemetry_dictionary, telemetry_payloads};

fn codecs() -> Vec<AnyCodec> {
    vec![
        Zstd::new(1).into(),
        Zstd::new(3).into(),
        Zstd::with_dictionary(3, telemetry_dictionary())
            .expect("dictionary")
            .into(),
        Lz4::new().into(),
    ]
}

fn write_chunked<C: Codec>(codec: C, chunk_len: usize, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = ChunkWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()), codec)
        .with_chunk_len(chunk_len);
    for payload in payloads {
        writer.write_payload(payload).expect("writes");
    }
    writer.finish().expect("finishes")
}

/// Every message with its index, as read back.
fn read_chunked<C: Codec>(codec: C, stream: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut reader = ChunkReader::new(stream, ChecksumDeframer::new(Crc32c::new()), codec);
    let mut messages = Vec::new();
    while let Some(message) = reader.read_message().expect("reads") {
        let message = message.to_vec();
        messages.push((reader.message_index(), message));
    }
    messages
}

fn indexed(payloads: &[Vec<u8>]) -> Vec<(u64, Vec<u8>)> {
    payloads
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, p)| (i as u64, p))
        .collect()
}

#[test]
fn round_trips_every_codec_and_chunk_len_with_original_indexes() {
    let mut payloads = telemetry_payloads(3000);
    payloads.insert(10, Vec::new());
    payloads.insert(20, vec![3; 200_000]);
    for codec in codecs() {
        for chunk_len in [1, 100, 4096, 64 * 1024, 1 << 20] {
            let stream = write_chunked(codec.clone(), chunk_len, &payloads);
            assert_eq!(
                read_chunked(codec.clone(), &stream),
                indexed(&payloads),
                "{codec:?} {chunk_len}"
            );
        }
    }
}

#[test]
fn empty_writer_writes_nothing() {
    assert!(write_chunked(Lz4::new(), 1024, &[]).is_empty());
}

#[test]
fn typed_messages_are_written_through_the_builder() {
    let mut writer = ChunkWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()), Lz4::new());
    for index in 0..100 {
        writer.write(&TelemetryEvent::nth(index)).expect("writes");
    }
    assert_eq!(writer.messages_written(), 100);
    let stream = writer.finish().expect("finishes");
    assert_eq!(
        read_chunked(Lz4::new(), &stream),
        indexed(&telemetry_payloads(100))
    );
}

#[test]
fn chunks_are_written_when_full_and_on_flush() {
    let payloads = telemetry_payloads(2000);
    let mut writer = ChunkWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()), Lz4::new())
        .with_chunk_len(16 * 1024);
    for payload in &payloads[..1000] {
        writer.write_payload(payload).expect("writes");
    }
    let full_chunks = writer.chunks_written();
    assert!(full_chunks >= 3, "{full_chunks}");
    writer.flush().expect("flushes");
    assert_eq!(writer.chunks_written(), full_chunks + 1);
    // What a crash right now would leave: every message given before the flush.
    let snapshot = writer.get_ref().clone();
    assert_eq!(
        read_chunked(Lz4::new(), &snapshot),
        indexed(&payloads[..1000])
    );
    writer.flush().expect("an empty chunk is not written");
    assert_eq!(writer.chunks_written(), full_chunks + 1);
}

#[test]
fn outer_stream_is_ordinary_frames_of_chunks() {
    let payloads = telemetry_payloads(5000);
    let stream = write_chunked(Zstd::new(3), 64 * 1024, &payloads);
    let mut first_index = 0;
    for chunk in SliceReader::new(&stream, ChecksumDeframer::new(Crc32c::new())) {
        let chunk = chunk.expect("every outer frame verifies");
        assert!(is_chunk(chunk));
        let header = ChunkHeader::decode(chunk).expect("a chunk header");
        assert_eq!(header.codec, CodecId::Zstd);
        assert_eq!(header.first_message_index, first_index);
        assert!(header.uncompressed_len as usize <= 64 * 1024);
        first_index += u64::from(header.message_count);
    }
    assert_eq!(first_index, 5000);
}

#[test]
fn salvage_loses_only_the_damaged_chunk_and_indexes_stay_right() {
    let payloads = telemetry_payloads(5000);
    let stream = write_chunked(Zstd::new(3), 16 * 1024, &payloads);
    let frames: Vec<usize> = {
        let mut reader = SliceReader::new(&stream, ChecksumDeframer::new(Crc32c::new()));
        let mut offsets = vec![0];
        while reader.read_message().expect("reads").is_some() {
            offsets.push(reader.position() as usize);
        }
        offsets
    };
    assert!(frames.len() > 5);
    let mut damaged = stream.clone();
    damaged[frames[2] + 40] ^= 0xff; // inside the third chunk's compressed bytes
    let mut rescued = Vec::new();
    salvage_slice(&damaged, ChecksumDeframer::new(Crc32c::new()), &mut rescued).expect("salvages");
    let messages = read_chunked(Zstd::new(3), &rescued);
    let header = ChunkHeader::decode(&stream[frames[2] + 8..]).expect("header");
    let lost =
        header.first_message_index..header.first_message_index + u64::from(header.message_count);
    let expected: Vec<_> = indexed(&payloads)
        .into_iter()
        .filter(|(index, _)| !lost.contains(index))
        .collect();
    assert_eq!(messages, expected);
}

#[test]
fn telemetry_chunks_of_64_kib_are_five_times_smaller() {
    let payloads = telemetry_payloads(100_000);
    let plain: usize = payloads.iter().map(|payload| payload.len() + 8).sum();
    let stream = write_chunked(Zstd::new(3), 64 * 1024, &payloads);
    assert!(
        plain >= 5 * stream.len(),
        "{plain} bytes to {}",
        stream.len()
    );
}

#[test]
fn chunk_layout_matches_the_wire_format_example() {
    let mut writer = ChunkWriter::new(Vec::new(), flatstream_io::DefaultFramer::new(), Lz4::new());
    writer.write_payload(b"abc").expect("writes");
    writer.write_payload(b"de").expect("writes");
    let stream = writer.finish().expect("finishes");
    // docs/wire-format.md, "Compressed chunks": the header, then the lz4 length prefix.
    assert_eq!(
        stream[4..32],
        [
            0xf5, 0x43, 0x48, 0x4b, 0x01, 0x02, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0,
            0x0d, 0, 0, 0, 0x0d, 0, 0, 0
        ]
    );
    let mut inner = Vec::new();
    Lz4::new()
        .decompress(&stream[28..], &mut inner, 100)
        .expect("decompresses");
    assert_eq!(inner, b"\x03\x00\x00\x00abc\x02\x00\x00\x00de");
}

#[test]
fn the_level_reaches_zstd() {
    let payloads = telemetry_payloads(20_000);
    let fast = write_chunked(Zstd::new(-5), 64 * 1024, &payloads).len();
    let small = write_chunked(Zstd::new(19), 64 * 1024, &payloads).len();
    assert!(small < fast, "level 19: {small} bytes, level -5: {fast}");
}
