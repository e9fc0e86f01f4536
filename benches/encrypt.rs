//! Encryption: write and read of 64 B and 64 KiB payloads with XChaCha20-Poly1305 and
//! AES-256-GCM, beside the unencrypted path in the same run. All streams are CRC-32C framed.
//!
//! Benchmark ids are `encrypt_write/<cipher>/<payload size>` and
//! `encrypt_read/<cipher>/<payload size>` (`<cipher>` `plain` for none); throughput counts
//! messages and payload bytes. `FLATSTREAM_BENCH_QUICK=1` shortens the measurements.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flatstream::encrypt::{Cipher, DecryptDeframerExt, EncryptFramerExt, Key};
use flatstream::{ChecksumDeframer, ChecksumFramer, Crc32c, StreamReader, StreamWriter};

#[path = "group.rs"]
mod group;

use group::configure;

/// Payload sizes, and how many of each make one stream (about 1 to 4 MiB).
const SIZES: [(usize, usize); 2] = [(64, 20_000), (64 * 1024, 64)];

fn ciphers() -> [(&'static str, Option<Cipher>); 3] {
    [
        ("plain", None),
        ("xchacha20poly1305", Some(Cipher::XChaCha20Poly1305)),
        ("aes256gcm", Some(Cipher::Aes256Gcm)),
    ]
}

fn payloads(size: usize, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|index| (0..size).map(|at| (index * 31 + at * 7) as u8).collect())
        .collect()
}

fn write_stream(key: &Key, cipher: Option<Cipher>, payloads: &[Vec<u8>], out: Vec<u8>) -> Vec<u8> {
    let framer = ChecksumFramer::new(Crc32c::new());
    match cipher {
        None => {
            let mut writer = StreamWriter::new(out, framer);
            for payload in payloads {
                writer.write_payload(payload).unwrap();
            }
            writer.into_inner()
        }
        Some(cipher) => {
            let mut writer = StreamWriter::new(out, framer.encrypted_with(key, cipher).unwrap());
            for payload in payloads {
                writer.write_payload(payload).unwrap();
            }
            writer.finish().unwrap();
            writer.into_inner()
        }
    }
}

/// Reads every message and returns the bytes seen (so nothing is optimised away).
fn read_stream(key: &Key, cipher: Option<Cipher>, stream: &[u8]) -> usize {
    let deframer = ChecksumDeframer::new(Crc32c::new());
    let mut bytes = 0;
    match cipher {
        None => {
            let mut reader = StreamReader::new(stream, deframer);
            while let Some(payload) = reader.read_message().unwrap() {
                bytes += payload.len();
            }
        }
        Some(cipher) => {
            let deframer = deframer.decrypted_with(key, cipher).require_final(true);
            let mut reader = StreamReader::new(stream, deframer);
            while let Some(payload) = reader.read_message().unwrap() {
                bytes += payload.len();
            }
        }
    }
    bytes
}

fn encryption(criterion: &mut Criterion) {
    let key = Key::from_bytes([0x42; 32]);
    for (size, count) in SIZES {
        let payloads = payloads(size, count);
        let throughput = Throughput::ElementsAndBytes {
            elements: count as u64,
            bytes: (size * count) as u64,
        };
        let streams: Vec<Vec<u8>> = ciphers()
            .iter()
            .map(|(_, cipher)| write_stream(&key, *cipher, &payloads, Vec::new()))
            .collect();

        let mut group = configure(criterion, "encrypt_write");
        group.throughput(throughput.clone());
        for ((name, cipher), stream) in ciphers().into_iter().zip(&streams) {
            let mut out = Vec::with_capacity(stream.len());
            group.bench_function(format!("{name}/{size}"), |b| {
                b.iter(|| {
                    out.clear();
                    out =
                        write_stream(&key, cipher, black_box(&payloads), std::mem::take(&mut out));
                    out.len()
                });
            });
        }
        group.finish();

        let mut group = configure(criterion, "encrypt_read");
        group.throughput(throughput);
        for ((name, cipher), stream) in ciphers().into_iter().zip(&streams) {
            group.bench_function(format!("{name}/{size}"), |b| {
                b.iter(|| read_stream(&key, cipher, black_box(stream)));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, encryption);
criterion_main!(benches);
