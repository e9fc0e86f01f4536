//! One suite, both worlds: every conformance vector and a set of damaged streams, read by
//! the blocking readers (copying and in place) and by the async reader and the codec, with
//! plain checksums and through adapters. Every payload and every error (its text names the
//! frame and the offset) must be the same, in the same order, and each reader must stop or
//! go on after the same errors.

use std::io::BufReader;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use flatstream_checksum_crc32c::Crc32c;
use flatstream_compress::{CompressFramerExt, DecompressDeframerExt, Lz4};
use flatstream_core::Deframer;
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DEFAULT_BUFFER_SIZE, DeframerExt, ReadMode, StreamReader,
    StreamWriter,
};
use flatstream_tokio::{AsyncStreamReader, FrameDecoder};
use flatstream_validate::SizeValidator;
use serde_json::Value;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::codec::Decoder;

use flatstream_test_support::pseudo_random_bytes;

use crate::common::{algorithms, checksum_by_name};

/// What one read gave: a payload, or an error's text and whether reading went on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Payload(Vec<u8>),
    Error { text: String, resumable: bool },
}

/// Everything a reader made of a stream, and where it stood at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reading {
    outcomes: Vec<Outcome>,
    position: u64,
    frames_read: u64,
}

/// Collects outcomes until a clean end or an error that stops the reader.
fn collect(
    mut next: impl FnMut() -> Option<Result<Vec<u8>, flatstream_core::Error>>,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    while let Some(result) = next() {
        match result {
            Ok(payload) => outcomes.push(Outcome::Payload(payload)),
            Err(error) => {
                let resumable = error.is_resumable();
                outcomes.push(Outcome::Error {
                    text: error.to_string(),
                    resumable,
                });
                if !resumable {
                    break;
                }
            }
        }
        assert!(outcomes.len() < 1_000_000, "a reader that never ends");
    }
    outcomes
}

/// Everything a blocking reader of any mode gives, to its end.
fn blocking<R, D: Deframer, M: ReadMode<R>>(mut reader: StreamReader<R, D, M>) -> Reading {
    let outcomes = collect(|| {
        reader
            .read_message()
            .map(|p| p.map(<[u8]>::to_vec))
            .transpose()
    });
    Reading {
        outcomes,
        position: reader.position(),
        frames_read: reader.frames_read(),
    }
}

/// The reference: one frame at a time, each payload copied.
fn blocking_copying<D: Deframer>(bytes: &[u8], deframer: D) -> Reading {
    blocking(StreamReader::unbuffered(bytes, deframer))
}

fn blocking_in_place<D: Deframer>(bytes: &[u8], deframer: D, capacity: usize) -> Reading {
    blocking(StreamReader::in_place(
        BufReader::with_capacity(capacity, bytes),
        deframer,
    ))
}

/// The everyday reader (`StreamReader::new`, its own buffer), fed by a source that hands
/// out pseudo-random pieces of 1 to 1000 bytes, as a pipe or a socket does.
fn blocking_buffered<D: Deframer>(bytes: &[u8], deframer: D, buffer: usize, seed: u64) -> Reading {
    blocking(StreamReader::with_buffer_size(
        Pieces::new(bytes, seed),
        deframer,
        buffer,
    ))
}

/// A `Read` and an `AsyncRead` that hands out its bytes in pseudo-random pieces of 1 to 1000 bytes, the
/// way a socket does.
struct Pieces<'a> {
    rest: &'a [u8],
    /// Two random bytes per piece.
    sizes: Vec<u8>,
    next: usize,
}

impl<'a> Pieces<'a> {
    fn new(bytes: &'a [u8], seed: u64) -> Self {
        Pieces {
            rest: bytes,
            sizes: pseudo_random_bytes(2 * bytes.len() + 2, seed | 1),
            next: 0,
        }
    }

    fn next_len(&mut self) -> usize {
        let at = self.next % (self.sizes.len() - 1);
        self.next += 2;
        usize::from(u16::from_le_bytes([self.sizes[at], self.sizes[at + 1]])) % 1000 + 1
    }
}

impl std::io::Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let take = self.next_len().min(self.rest.len()).min(buf.len());
        buf[..take].copy_from_slice(&self.rest[..take]);
        self.rest = &self.rest[take..];
        Ok(take)
    }
}

impl AsyncRead for Pieces<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let take = self.next_len().min(self.rest.len()).min(buf.remaining());
        buf.put_slice(&self.rest[..take]);
        self.rest = &self.rest[take..];
        Poll::Ready(Ok(()))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}

fn async_reader<D: Deframer>(bytes: &[u8], deframer: D, seed: u64) -> Reading {
    runtime().block_on(async {
        let mut reader = AsyncStreamReader::new(Pieces::new(bytes, seed), deframer);
        let mut outcomes = Vec::new();
        loop {
            match reader.read_message().await {
                Ok(Some(payload)) => outcomes.push(Outcome::Payload(payload.to_vec())),
                Ok(None) => break,
                Err(error) => {
                    let resumable = error.is_resumable();
                    outcomes.push(Outcome::Error {
                        text: error.to_string(),
                        resumable,
                    });
                    if !resumable {
                        break;
                    }
                }
            }
        }
        Reading {
            outcomes,
            position: reader.position(),
            frames_read: reader.frames_read(),
        }
    })
}

/// The codec's decoder fed the bytes in pseudo-random pieces, `decode_eof` at the end.
fn codec<D: Deframer>(bytes: &[u8], deframer: D, seed: u64) -> Reading {
    let mut decoder = FrameDecoder::new(deframer);
    let mut pieces = Pieces::new(bytes, seed);
    let mut buffer = BytesMut::new();
    let mut outcomes = Vec::new();
    'feed: loop {
        let take = pieces.next_len().min(pieces.rest.len());
        buffer.extend_from_slice(&pieces.rest[..take]);
        pieces.rest = &pieces.rest[take..];
        let at_end = pieces.rest.is_empty();
        loop {
            let next = if at_end {
                decoder.decode_eof(&mut buffer)
            } else {
                decoder.decode(&mut buffer)
            };
            match next {
                Ok(Some(payload)) => outcomes.push(Outcome::Payload(payload.to_vec())),
                Ok(None) if at_end => break 'feed,
                Ok(None) => break,
                Err(error) => {
                    let resumable = error.is_resumable();
                    outcomes.push(Outcome::Error {
                        text: error.to_string(),
                        resumable,
                    });
                    if !resumable {
                        break 'feed;
                    }
                }
            }
        }
    }
    Reading {
        outcomes,
        position: decoder.position(),
        frames_read: decoder.frames_read(),
    }
}

/// Reads `bytes` in every world with deframers from `make`, and checks they all agree with
/// the blocking copying reader. Returns that reading.
fn agree<D: Deframer>(what: &str, bytes: &[u8], make: impl Fn() -> D) -> Reading {
    let expected = blocking_copying(bytes, make());
    for capacity in [7, 64, 8192] {
        assert_eq!(
            blocking_in_place(bytes, make(), capacity),
            expected,
            "{what}: in place, buffer of {capacity}"
        );
    }
    for (buffer, seed) in [(16, 3), (64, 5), (8192, 7), (DEFAULT_BUFFER_SIZE, 11)] {
        assert_eq!(
            blocking_buffered(bytes, make(), buffer, seed),
            expected,
            "{what}: buffered, buffer of {buffer}, seed {seed}"
        );
    }
    assert_eq!(
        blocking(StreamReader::new(bytes, make())),
        expected,
        "{what}: buffered, whole slice"
    );
    for seed in [1, 99] {
        assert_eq!(
            async_reader(bytes, make(), seed),
            expected,
            "{what}: async, seed {seed}"
        );
        assert_eq!(
            codec(bytes, make(), seed),
            expected,
            "{what}: codec, seed {seed}"
        );
    }
    expected
}

fn vectors() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/wire-vectors")
}

#[test]
fn every_conformance_vector_reads_the_same_in_both_worlds() {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors().join("manifest.json")).unwrap())
            .unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    let mut errors = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let bytes = std::fs::read(vectors().join(case["file"].as_str().unwrap())).unwrap();
        let limit = case["max_frame_len"]
            .as_u64()
            .map_or(64 << 20, |max| max as usize);
        let checksum = case["checksum"].as_str().unwrap();
        let reading = agree(name, &bytes, || {
            ChecksumDeframer::new(checksum_by_name(checksum)).with_max_frame_len(limit)
        });
        let frames = case["frames"].as_array().map_or(0, Vec::len);
        let payloads = reading
            .outcomes
            .iter()
            .filter(|outcome| matches!(outcome, Outcome::Payload(_)))
            .count();
        if case["expect"] == "ok" {
            assert_eq!(payloads, frames, "{name}");
        } else {
            errors += 1;
        }
    }
    assert!(cases.len() >= 40, "the vectors are all there");
    assert!(errors > 0, "the vectors hold damaged streams too");
}

/// A stream of `count` frames of varied sizes under `checksum`.
fn stream(checksum: &str, count: usize) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum_by_name(checksum)));
    for i in 0..count {
        let payload: Vec<u8> = (0..(i * 37) % 300).map(|b| (b * 31 + i) as u8).collect();
        writer.write_payload(&payload).unwrap();
    }
    writer.into_inner()
}

/// The offsets where each frame of `bytes` begins.
fn frame_starts(bytes: &[u8], checksum_width: usize) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        starts.push(at);
        at +=
            4 + checksum_width + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    }
    starts
}

#[test]
fn damaged_streams_read_the_same_in_both_worlds() {
    for name in algorithms() {
        let good = stream(name, 12);
        let width = checksum_by_name(name).size();
        let make = || ChecksumDeframer::new(checksum_by_name(name)).with_max_frame_len(1 << 20);
        let starts = frame_starts(&good, width);
        let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
        // Every bit of the length field of frames 0, 5 and the last.
        for &frame in &[0, 5, starts.len() - 1] {
            for bit in 0..32 {
                let mut bytes = good.clone();
                bytes[starts[frame] + bit / 8] ^= 1 << (bit % 8);
                cases.push((format!("{name}: length bit {bit} of frame {frame}"), bytes));
            }
        }
        // A flipped payload byte in each frame that has one, and a flipped checksum byte.
        for (frame, &start) in starts.iter().enumerate() {
            let mut bytes = good.clone();
            let end = starts.get(frame + 1).copied().unwrap_or(good.len());
            let at = (start + 4 + width + end) / 2;
            if at < end {
                bytes[at] ^= 0x40;
                cases.push((format!("{name}: payload byte of frame {frame}"), bytes));
            }
            if width > 0 {
                let mut bytes = good.clone();
                bytes[start + 4] ^= 1;
                cases.push((format!("{name}: checksum of frame {frame}"), bytes));
            }
        }
        // Cut at every offset.
        for cut in 0..good.len() {
            cases.push((format!("{name}: cut at {cut}"), good[..cut].to_vec()));
        }
        // A block of zeros over the middle, and zeros appended.
        let mut bytes = good.clone();
        let middle = good.len() / 3;
        bytes[middle..middle + 600.min(good.len() - middle)].fill(0);
        cases.push((format!("{name}: zeroed block"), bytes));
        let mut bytes = good.clone();
        bytes.extend_from_slice(&[0; 4096]);
        cases.push((format!("{name}: zeros appended"), bytes));
        for (what, bytes) in &cases {
            agree(what, bytes, make);
        }
    }
}

#[test]
fn adapters_read_the_same_in_both_worlds() {
    // A validator that rejects some frames (reading goes on), a bound that stops at one,
    // and per-frame decompression with a frame that does not decompress.
    let good = stream("crc32c", 30);
    let reading = agree("validator", &good, || {
        ChecksumDeframer::new(Crc32c::new()).with_validator(SizeValidator::at_most(150))
    });
    assert!(
        reading.outcomes.iter().any(|o| matches!(
            o,
            Outcome::Error {
                resumable: true,
                ..
            }
        )),
        "the validator rejected something"
    );
    let reading = agree("bound", &good, || {
        ChecksumDeframer::new(Crc32c::new()).bounded(200)
    });
    assert!(matches!(
        reading.outcomes.last(),
        Some(Outcome::Error {
            resumable: false,
            ..
        })
    ));
    let mut seen = 0;
    agree("observer", &good, || {
        ChecksumDeframer::new(Crc32c::new()).observe(|_: &[u8]| {})
    });
    let mut counting = ChecksumDeframer::new(Crc32c::new()).observe(|_: &[u8]| seen += 1);
    let _ = async_reader(&good, &mut counting, 5);
    assert_eq!(seen, 30, "the observer saw every payload read async");

    let mut writer = StreamWriter::new(
        Vec::new(),
        ChecksumFramer::new(Crc32c::new()).compressed(Lz4::new()),
    );
    for i in 0..40u32 {
        let payload: Vec<u8> = (0..i * 50).map(|b| (b % 7) as u8).collect();
        writer.write_payload(&payload).unwrap();
    }
    let mut compressed = writer.into_inner();
    let mut plain = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
    plain.write_payload(b"\xff\xff\xff\xff not lz4").unwrap();
    compressed.extend_from_slice(&plain.into_inner());
    compressed.extend_from_slice(&stream("crc32c", 0));
    let reading = agree("lz4", &compressed, || {
        ChecksumDeframer::new(Crc32c::new()).decompressed(Lz4::new())
    });
    assert_eq!(reading.frames_read, 41);
    assert!(matches!(
        reading.outcomes.last(),
        Some(Outcome::Error {
            resumable: true,
            ..
        })
    ));
    for cut in (0..compressed.len()).step_by(97) {
        agree(&format!("lz4 cut at {cut}"), &compressed[..cut], || {
            ChecksumDeframer::new(Crc32c::new()).decompressed(Lz4::new())
        });
    }
}
