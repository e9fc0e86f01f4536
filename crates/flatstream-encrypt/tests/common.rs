//! Streams to test with, and the frame surgery an attacker (or a salvage) performs.

use flatstream_checksum_crc32c::Crc32c;
use flatstream_core::{ErrorKind, Framer};
use flatstream_encrypt::{Cipher, DecryptDeframerExt, DecryptingDeframer, EncryptFramerExt, Key};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, SliceReader, StreamReader, StreamWriter};
use flatstream_tokio::AsyncStreamReader;

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
/// What every reader makes of `stream`, checked to be the same: the copying `StreamReader`
/// (through `read_frame`), the in-place one with a buffer smaller than a frame and one
/// holding the whole stream, `SliceReader::process_all` and the async reader (through
/// `decode_frame`). Each reads on after an error that consumed its frame, and stops at one
/// that did not.
pub(crate) fn read_all(
    stream: &[u8],
    deframer: DecryptingDeframer<ChecksumDeframer<Crc32c>>,
) -> Vec<Seen> {
    let seen = read_copying(stream, deframer.clone());
    for size in [16, 100] {
        let mut reader = StreamReader::with_buffer_size(stream, deframer.clone(), size);
        let buffered = collect(|| reader.read_message().map(|p| p.map(<[u8]>::to_vec)));
        assert_eq!(buffered, seen, "buffered, buffer of {size}");
    }
    for capacity in [16, 1 << 20] {
        let mut reader = StreamReader::in_place(
            std::io::BufReader::with_capacity(capacity, stream),
            deframer.clone(),
        );
        let in_place = collect(|| reader.read_message().map(|p| p.map(<[u8]>::to_vec)));
        assert_eq!(in_place, seen, "in place, buffer of {capacity}");
    }
    let mut reader = SliceReader::new(stream, deframer.clone());
    let mut slice = Vec::new();
    loop {
        let result = reader.process_all(|payload| {
            slice.push(Seen::Payload(payload.to_vec()));
            Ok(())
        });
        match result {
            Ok(()) => break,
            Err(error) => {
                let resumable = error.is_resumable();
                slice.push(seen_error(&error));
                if !resumable {
                    break;
                }
            }
        }
    }
    assert_eq!(slice, seen, "SliceReader::process_all");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let read_async = runtime.block_on(async {
        let mut reader = AsyncStreamReader::new(stream, deframer);
        let mut outcomes = Vec::new();
        loop {
            match reader.read_message().await {
                Ok(Some(payload)) => outcomes.push(Seen::Payload(payload.to_vec())),
                Ok(None) => break,
                Err(error) => {
                    outcomes.push(seen_error(&error));
                    if !error.is_resumable() {
                        break;
                    }
                }
            }
        }
        outcomes
    });
    assert_eq!(read_async, seen, "AsyncStreamReader");
    seen
}

fn read_copying(
    stream: &[u8],
    deframer: DecryptingDeframer<ChecksumDeframer<Crc32c>>,
) -> Vec<Seen> {
    let mut reader = StreamReader::unbuffered(stream, deframer);
    collect(|| reader.read_message().map(|p| p.map(<[u8]>::to_vec)))
}

/// Outcomes until a clean end or an error that stops the reader.
fn collect(mut next: impl FnMut() -> flatstream_core::Result<Option<Vec<u8>>>) -> Vec<Seen> {
    let mut seen = Vec::new();
    loop {
        match next() {
            Ok(Some(payload)) => seen.push(Seen::Payload(payload)),
            Ok(None) => return seen,
            Err(error) => {
                seen.push(seen_error(&error));
                if !error.is_resumable() {
                    return seen;
                }
            }
        }
    }
}

fn seen_error(error: &flatstream_core::Error) -> Seen {
    Seen::Error {
        kind: kind_name(error.kind()),
        frame: error.frame_index().expect("located"),
    }
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
