//! Vectors made by an independent implementation (`tests/data/make_vectors.py`, with Python's
//! `cryptography` package): this crate must decrypt them, and write the same bytes given the
//! same key and stream id. Each test is named for its data file.

use flatstream_checksum_crc32c::Crc32c;
use flatstream_encrypt::{Cipher, EncryptingFramer, Key, StreamId};
use flatstream_io::{ChecksumFramer, StreamWriter};

use crate::common::{deframer, delivered, read_all, sealed_frames};

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "hex of odd length");
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex digits"))
        .collect()
}

fn field<'a>(vector: &'a serde_json::Value, name: &str) -> &'a str {
    vector[name]
        .as_str()
        .unwrap_or_else(|| panic!("field {name}"))
}

fn check(stem: &str, cipher: Cipher) {
    let path = format!("{}/tests/data/{stem}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    let vector: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(field(&vector, "cipher"), cipher.name(), "{stem}");
    let key = Key::from_slice(&hex(field(&vector, "key"))).expect("32-byte key");
    let stream_id = StreamId(
        hex(field(&vector, "stream_id"))
            .try_into()
            .expect("16-byte id"),
    );
    let payloads: Vec<Vec<u8>> = vector["payloads"]
        .as_array()
        .expect("payloads")
        .iter()
        .map(|payload| hex(payload.as_str().expect("hex")))
        .collect();
    let stream = hex(field(&vector, "stream"));

    // Decrypts what the independent implementation wrote, final frame required.
    let seen = read_all(&stream, deframer(&key, cipher).require_final(true));
    assert_eq!(seen, delivered(&payloads), "{stem}: decrypting the vector");

    // Writes the same bytes, frame by frame and whole.
    let framer = EncryptingFramer::with_stream_id(
        ChecksumFramer::new(Crc32c::new()),
        &key,
        cipher,
        stream_id,
    );
    let mut writer = StreamWriter::new(Vec::new(), framer);
    for payload in &payloads {
        writer.write_payload(payload).expect("writes");
    }
    writer.finish().expect("finishes");
    let written = writer.into_inner();
    let mut expected_frames: Vec<Vec<u8>> = vector["sealed"]
        .as_array()
        .expect("sealed")
        .iter()
        .map(|sealed| hex(sealed.as_str().expect("hex")))
        .collect();
    expected_frames.push(hex(field(&vector, "final")));
    for (index, (ours, theirs)) in sealed_frames(&written)
        .iter()
        .zip(&expected_frames)
        .enumerate()
    {
        assert_eq!(ours, theirs, "{stem}: sealed frame {index}");
    }
    assert_eq!(written, stream, "{stem}: the whole stream");
}

#[test]
fn xchacha20poly1305() {
    check("xchacha20poly1305", Cipher::XChaCha20Poly1305);
}

#[test]
fn aes256gcm() {
    check("aes256gcm", Cipher::Aes256Gcm);
}
