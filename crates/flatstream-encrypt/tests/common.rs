//! Streams to test with, and the frame surgery an attacker (or a salvage) performs.

use flatstream_checksum_crc32c::Crc32c;
use flatstream_core::{ErrorKind, Framer};
use flatstream_encrypt::{Cipher, DecryptDeframerExt, DecryptingDeframer, EncryptFramerExt, Key};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamReader, StreamWriter};

pub(crate) const CIPHERS: [Cipher; 2] = [Cipher::XChaCha20Poly1305, Cipher::Aes256Gcm];

pub(crate) fn key(fill: u8) -> Key {
    Key::from_bytes([fill; 32])
}

pub(crate) fn payloads(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|index| format!("message {index}: {}", "x".repeat(index % 13)).into_bytes())
        .collect()
}

/// An encrypted, CRC-32C framed stream of `payloads`, finished (with its final frame) or not.
pub(crate) fn encrypted_stream(
    key: &Key,
    cipher: Cipher,
    payloads: &[Vec<u8>],
    finish: bool,
) -> Vec<u8> {
    let framer = ChecksumFramer::new(Crc32c::new())
        .encrypted_with(key, cipher)
        .expect("a stream id from the OS");
    let mut writer = StreamWriter::new(Vec::new(), framer);
    for payload in payloads {
        writer.write_payload(payload).expect("writes");
    }
    if finish {
        writer.finish().expect("finishes");
    }
    writer.into_inner()
}

/// The sealed payloads of a stream's frames, as they are on the wire (checksums verified).
pub(crate) fn sealed_frames(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut reader = StreamReader::new(stream, ChecksumDeframer::new(Crc32c::new()));
    let mut frames = Vec::new();
    reader
        .process_all(|payload| {
            frames.push(payload.to_vec());
            Ok(())
        })
        .expect("an intact stream");
    frames
}

/// A stream of `frames` framed anew, checksums recomputed: what an attacker who can write to
/// the file produces.
pub(crate) fn reframe(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut checksum_framer = ChecksumFramer::new(Crc32c::new());
    let mut stream = Vec::new();
    for frame in frames {
        checksum_framer
            .frame_and_write(&mut stream, frame)
            .expect("frames");
    }
    stream
}

/// What a reader saw: a payload, or an error's kind name with its frame index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    Payload(Vec<u8>),
    Error { kind: String, frame: u64 },
}

pub(crate) fn kind_name(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::AuthenticationFailed => "authentication failed".to_owned(),
        ErrorKind::FramesMissing { count, .. } => format!("{count} missing"),
        ErrorKind::OutOfSequence { .. } => "out of sequence".to_owned(),
        ErrorKind::ChecksumMismatch { .. } => "checksum mismatch".to_owned(),
        ErrorKind::InvalidFrame { .. } => "invalid frame".to_owned(),
        other => format!("{other}"),
    }
}

pub(crate) fn deframer(key: &Key, cipher: Cipher) -> DecryptingDeframer<ChecksumDeframer<Crc32c>> {
    ChecksumDeframer::new(Crc32c::new()).decrypted_with(key, cipher)
}

/// Reads `stream` to its end, going on after every resumable error.
pub(crate) fn read_all(
    stream: &[u8],
    deframer: DecryptingDeframer<ChecksumDeframer<Crc32c>>,
) -> Vec<Seen> {
    let mut reader = StreamReader::new(stream, deframer);
    let mut seen = Vec::new();
    let mut messages = reader.messages();
    while let Some(outcome) = messages.next() {
        seen.push(match outcome {
            Ok(payload) => Seen::Payload(payload.to_vec()),
            Err(error) => Seen::Error {
                kind: kind_name(error.kind()),
                frame: error.frame_index().expect("located"),
            },
        });
    }
    seen
}

pub(crate) fn delivered(payloads: &[Vec<u8>]) -> Vec<Seen> {
    payloads.iter().cloned().map(Seen::Payload).collect()
}

pub(crate) fn error(kind: &str, frame: u64) -> Seen {
    Seen::Error {
        kind: kind.to_owned(),
        frame,
    }
}
