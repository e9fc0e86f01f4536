//! Per-frame decompression over arbitrary bytes: no panic, nothing over the limit handed
//! out, every error located; and any bytes compress and decompress back to themselves.
#![no_main]

use std::sync::OnceLock;

use flatstream::{DefaultDeframer, StreamReader};
use flatstream_compress::{AnyCodec, Codec, DecompressDeframerExt, Lz4, Zstd};
use libfuzzer_sys::fuzz_target;

/// A dictionary trained once, on telemetry-like samples.
fn dictionary() -> &'static [u8] {
    static DICTIONARY: OnceLock<Vec<u8>> = OnceLock::new();
    DICTIONARY.get_or_init(|| {
        let samples: Vec<Vec<u8>> = (0..2000u32)
            .map(|i| format!("sensor-{} value {} at {}", i % 13, i * 7, i * 1000).into_bytes())
            .collect();
        Zstd::train(&samples, 4096).expect("trains")
    })
}

/// Bits 0-1 of the selector pick the codec; bit 2 a small limit (256 bytes).
fn codec_from(selector: u8) -> (AnyCodec, usize) {
    let codec: AnyCodec = match selector % 4 {
        0 => Zstd::new(1).into(),
        1 => Zstd::with_dictionary(3, dictionary())
            .expect("dictionary")
            .into(),
        2 => Zstd::new(3).into(),
        _ => Lz4::new().into(),
    };
    let limit = if selector & 0x04 != 0 { 256 } else { 1 << 20 };
    (codec, limit)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let (mut codec, limit) = codec_from(selector);

    // Hostile stream: the frames' payloads are taken as compressed bytes.
    let deframer = DefaultDeframer::new()
        .decompressed(codec.clone())
        .with_max_frame_len(limit);
    let mut reader = StreamReader::new(stream, deframer);
    loop {
        match reader.read_message() {
            Ok(Some(payload)) => assert!(payload.len() <= limit, "over the limit"),
            Ok(None) => break,
            Err(error) => {
                assert!(error.offset().is_some(), "reader errors carry an offset");
                if error.frame_len().is_none() {
                    break;
                }
            }
        }
    }

    // Round trip: the input itself, compressed and back.
    let mut compressed = Vec::new();
    codec.compress(stream, &mut compressed).expect("compresses");
    let mut decompressed = Vec::new();
    codec
        .decompress(&compressed, &mut decompressed, stream.len())
        .expect("decompresses");
    assert_eq!(decompressed, stream);
});
