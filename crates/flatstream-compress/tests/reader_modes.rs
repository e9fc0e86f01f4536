//! `StreamReader::new` (the buffered mode) with per-frame decompression: every buffer size,
//! corrupt and cut streams, `process_all` mixed in, against `unbuffered` and `in_place`.

use flatstream_checksum_crc32c::Crc32c;
use flatstream_compress::{CompressFramerExt, DecompressDeframerExt, Lz4};
use flatstream_core::{Deframer, Error};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, ReadMode, StreamReader, StreamWriter};

fn drive<R, D: Deframer, M: ReadMode<R>>(
    reader: &mut StreamReader<R, D, M>,
    mix: bool,
) -> Vec<String> {
    let mut trace = Vec::new();
    for step in 0..300 {
        let (entry, end) = if mix && step % 2 == 1 {
            let mut seen = Vec::new();
            let result = reader.process_all(|p| {
                seen.push(format!("msg {} {:?}", p.len(), p.first()));
                if p.len() % 5 == 0 {
                    return Err(Error::validation_failed("t", "closure"));
                }
                Ok(())
            });
            trace.extend(seen);
            match result {
                Ok(()) => ("pa ok".to_string(), true),
                Err(e) => (
                    format!("err[{e}] {:?} {:?}", e.frame_index(), e.offset()),
                    !e.is_resumable(),
                ),
            }
        } else {
            match reader.read_message() {
                Ok(Some(p)) => (format!("msg {} {:?}", p.len(), p.first()), false),
                Ok(None) => ("none".to_string(), true),
                Err(e) => (
                    format!("err[{e}] {:?} {:?}", e.frame_index(), e.offset()),
                    !e.is_resumable(),
                ),
            }
        };
        trace.push(format!(
            "{entry} pos={} n={}",
            reader.position(),
            reader.frames_read()
        ));
        if end {
            break;
        }
    }
    trace
}

#[test]
fn buffered_decompressing_reader_agrees_with_unbuffered_at_every_buffer_size() {
    let mut writer = StreamWriter::new(
        Vec::new(),
        ChecksumFramer::new(Crc32c::new()).compressed(Lz4::new()),
    );
    for i in 0..30usize {
        let len = (i * 37) % 400;
        let payload: Vec<u8> = (0..len).map(|j| ((j * i) % 7) as u8 + (i as u8)).collect();
        writer.write_payload(&payload).unwrap();
    }
    let clean = writer.into_inner();
    let mut streams = vec![clean.clone()];
    for at in (0..clean.len()).step_by(clean.len() / 25) {
        let mut flipped = clean.clone();
        flipped[at] ^= 0x10;
        streams.push(flipped);
        streams.push(clean[..at].to_vec());
    }
    let d = || {
        ChecksumDeframer::new(Crc32c::new())
            .decompressed(Lz4::new())
            .with_max_frame_len(300)
    };
    let mut failures = Vec::new();
    for (index, stream) in streams.iter().enumerate() {
        for mix in [false, true] {
            let want = drive(&mut StreamReader::unbuffered(&stream[..], d()), mix);
            let mut check = |what: String, got: Vec<String>| {
                if got != want && failures.len() < 5 {
                    let at = want.iter().zip(&got).position(|(a, b)| a != b).unwrap_or(0);
                    failures.push(format!(
                        "stream {index} mix={mix} {what} at {at}:\n want {:?}\n got  {:?}",
                        &want[at.saturating_sub(2)..(at + 3).min(want.len())],
                        &got[at.saturating_sub(2)..(at + 3).min(got.len())]
                    ));
                }
            };
            for size in [1usize, 16, 17, 40, 100, 250, 4096] {
                check(
                    format!("buffered {size}"),
                    drive(
                        &mut StreamReader::with_buffer_size(&stream[..], d(), size),
                        mix,
                    ),
                );
            }
            for cap in [1usize, 40, 4096] {
                check(
                    format!("in_place {cap}"),
                    drive(
                        &mut StreamReader::in_place(
                            std::io::BufReader::with_capacity(cap, &stream[..]),
                            d(),
                        ),
                        mix,
                    ),
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
