//! Chunked reading over arbitrary bytes: no panic, message indexes rising within a chunk,
//! every error located; and arbitrary messages written in chunks read back exactly.
#![no_main]

use flatstream::{DefaultDeframer, DefaultFramer};
use flatstream_compress::{AnyCodec, ChunkReader, ChunkWriter, Lz4, Zstd};
use libfuzzer_sys::fuzz_target;

/// Bit 0 of the selector picks the codec; bit 1 a small chunk limit (1 KiB).
fn codec_from(selector: u8) -> (AnyCodec, usize) {
    let codec: AnyCodec = if selector & 1 == 0 {
        Zstd::new(1).into()
    } else {
        Lz4::new().into()
    };
    let limit = if selector & 0x02 != 0 { 1024 } else { 1 << 20 };
    (codec, limit)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let (codec, limit) = codec_from(selector);

    // Hostile stream: every frame is taken as a chunk.
    let mut reader =
        ChunkReader::new(stream, DefaultDeframer::new(), codec.clone()).with_max_chunk_len(limit);
    let mut errors = 0;
    loop {
        match reader.read_indexed_message() {
            Ok(Some((_, message))) => assert!(message.len() <= limit),
            Ok(None) => break,
            Err(error) => {
                assert!(error.offset().is_some(), "errors carry the chunk's offset");
                errors += 1;
                // Errors inside a chunk leave the reader able to go on; outer ones may not.
                if error.is_torn_tail() || errors > 64 {
                    break;
                }
            }
        }
    }

    // Round trip: the input split at zero bytes into messages, in small chunks.
    let messages: Vec<&[u8]> = stream.split(|byte| *byte == 0).collect();
    let chunk_len = 16 + usize::from(selector);
    let mut writer =
        ChunkWriter::new(Vec::new(), DefaultFramer::new(), codec.clone()).with_chunk_len(chunk_len);
    for message in &messages {
        writer.write_payload(message).expect("writes");
    }
    let written = writer.finish().expect("finishes");
    let mut reader = ChunkReader::new(&written[..], DefaultDeframer::new(), codec);
    for (expected_index, expected) in messages.iter().enumerate() {
        let (index, message) = reader
            .read_indexed_message()
            .expect("reads")
            .expect("a message");
        assert_eq!(index, expected_index as u64);
        assert_eq!(message, *expected);
    }
    assert!(reader.read_message().expect("clean end").is_none());
});
