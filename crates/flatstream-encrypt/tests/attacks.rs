//! Found by an outside attack: all readers agree on error offsets and end positions around
//! the final frame, not only on frame indices; the async writer finishes a stream; a refused
//! payload leaves no gap.

use crate::common::*;
use flatstream_core::Error;
use flatstream_encrypt::Cipher;
use flatstream_io::{SliceReader, StreamReader};
use flatstream_tokio::AsyncStreamReader;

#[derive(Debug, PartialEq, Eq, Clone)]
enum Out {
    P(usize),
    E(String, Option<u64>, Option<u64>),
}

fn e(error: &Error) -> Out {
    Out::E(kind_name(error.kind()), error.frame_index(), error.offset())
}

fn drain(mut next: impl FnMut() -> flatstream_core::Result<Option<usize>>) -> Vec<Out> {
    let mut out = Vec::new();
    for _ in 0..100 {
        match next() {
            Ok(Some(n)) => out.push(Out::P(n)),
            Ok(None) => return out,
            Err(error) => {
                out.push(e(&error));
                if !error.is_resumable() {
                    return out;
                }
            }
        }
    }
    out
}

fn report(stream: &[u8]) -> Vec<(String, Vec<Out>, u64)> {
    let d = deframer(&key(7), Cipher::default());
    let mut all = Vec::new();
    let mut r = StreamReader::unbuffered(stream, d.clone());
    let o = drain(|| r.read_message().map(|p| p.map(<[u8]>::len)));
    all.push(("copying".to_owned(), o, r.position()));
    for size in [16, 60, 100, 1 << 20] {
        let mut r = StreamReader::with_buffer_size(stream, d.clone(), size);
        let o = drain(|| r.read_message().map(|p| p.map(<[u8]>::len)));
        all.push((format!("buffered {size}"), o, r.position()));
    }
    for cap in [16, 60, 100, 1 << 20] {
        let mut r =
            StreamReader::in_place(std::io::BufReader::with_capacity(cap, stream), d.clone());
        let o = drain(|| r.read_message().map(|p| p.map(<[u8]>::len)));
        all.push((format!("in_place {cap}"), o, r.position()));
    }
    let mut r = SliceReader::new(stream, d.clone());
    let mut o = Vec::new();
    loop {
        match r.process_all(|p| {
            o.push(Out::P(p.len()));
            Ok(())
        }) {
            Ok(()) => break,
            Err(error) => {
                o.push(e(&error));
                if !error.is_resumable() {
                    break;
                }
            }
        }
    }
    all.push(("slice".to_owned(), o, r.position()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (o, pos) = rt.block_on(async {
        let mut r = AsyncStreamReader::new(stream, d.clone());
        let mut o = Vec::new();
        loop {
            match r.read_message().await {
                Ok(Some(p)) => o.push(Out::P(p.len())),
                Ok(None) => break,
                Err(error) => {
                    o.push(e(&error));
                    if !error.is_resumable() {
                        break;
                    }
                }
            }
        }
        (o, r.position())
    });
    all.push(("async".to_owned(), o, pos));
    all
}

fn check(name: &str, stream: &[u8]) {
    let all = report(stream);
    let mut differ = false;
    for (reader, outs, pos) in &all {
        eprintln!("{name}: {reader:>14}: pos {pos:>4} {outs:?}");
        differ |= (outs, pos) != (&all[0].1, &all[0].2);
    }
    assert!(!differ, "{name}: readers disagree (see stderr)");
}

#[test]
fn every_reader_locates_a_frame_after_the_final_frame_alike() {
    let payloads = payloads(2);
    let stream = encrypted_stream(&key(7), Cipher::default(), &payloads, true);
    let mut frames = sealed_frames(&stream);
    frames.push(frames[0].clone());
    check("authentic frame after final", &reframe(&frames));
}

#[test]
fn every_reader_locates_a_damaged_frame_after_the_final_frame_alike() {
    let payloads = payloads(2);
    let mut stream = encrypted_stream(&key(7), Cipher::default(), &payloads, true);
    stream.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    check("damaged frame after final", &stream);
}

#[test]
fn every_reader_ends_a_finished_stream_at_its_last_byte() {
    let payloads = payloads(2);
    let stream = encrypted_stream(&key(7), Cipher::default(), &payloads, true);
    check("clean", &stream);
}

/// `AsyncStreamWriter::finish` writes the final frame (it had none: an encrypted stream
/// written async could never carry it, and a reader that requires it, the CLI's default, called
/// every such stream cut short).
#[test]
fn an_async_writer_finishes_an_encrypted_stream() {
    use flatstream_checksum_crc32c::Crc32c;
    use flatstream_encrypt::EncryptFramerExt;
    use flatstream_io::ChecksumFramer;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let framer = ChecksumFramer::new(Crc32c::new())
            .encrypted(&key(7))
            .unwrap();
        let mut w = flatstream_tokio::AsyncStreamWriter::new(Vec::new(), framer);
        w.write_payload(b"hello").await.unwrap();
        w.finish().await.unwrap();
        w.shutdown().await.unwrap();
        w.into_inner()
    });
    let mut r = StreamReader::new(
        &stream[..],
        deframer(&key(7), Cipher::default()).require_final(true),
    );
    assert_eq!(r.read_message().unwrap().map(<[u8]>::len), Some(5));
    let end = r.read_message();
    assert_eq!(
        end.map_err(|error| error.to_string()),
        Ok(None),
        "the final frame is there"
    );
}

/// The codec fed one byte at a time agrees with it fed the whole stream.
#[test]
fn the_decoder_fed_byte_by_byte_agrees_with_it_fed_whole() {
    use bytes::BytesMut;
    use flatstream_tokio::FrameDecoder;
    use tokio_util::codec::Decoder;
    fn run(stream: &[u8], step: usize, require_final: bool) -> Vec<Out> {
        let mut dec =
            FrameDecoder::new(deframer(&key(7), Cipher::default()).require_final(require_final));
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in stream.chunks(step) {
            buf.extend_from_slice(chunk);
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(p)) => out.push(Out::P(p.len())),
                    Ok(None) => break,
                    Err(error) => {
                        out.push(e(&error));
                        if !error.is_resumable() {
                            return out;
                        }
                    }
                }
            }
        }
        loop {
            match dec.decode_eof(&mut buf) {
                Ok(Some(p)) => out.push(Out::P(p.len())),
                Ok(None) => return out,
                Err(error) => {
                    out.push(e(&error));
                    if !error.is_resumable() {
                        return out;
                    }
                }
            }
        }
    }
    let payloads = payloads(3);
    let clean = encrypted_stream(&key(7), Cipher::default(), &payloads, true);
    let mut after = clean.clone();
    after.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    let unfinished = encrypted_stream(&key(7), Cipher::default(), &payloads, false);
    let mut torn = clean.clone();
    torn.truncate(clean.len() - 5);
    for (name, s) in [
        ("clean", &clean),
        ("after", &after),
        ("unfinished", &unfinished),
        ("torn final", &torn),
    ] {
        for rf in [false, true] {
            let whole = run(s, s.len(), rf);
            for step in 1..12 {
                assert_eq!(
                    run(s, step, rf),
                    whole,
                    "{name} require_final={rf} step {step}"
                );
            }
            eprintln!("{name} rf={rf}: {whole:?}");
        }
    }
}

/// A payload the writer refuses before anything reaches the wire (a size bound inside the
/// encrypting framer) gives its sequence number back: the writer carries on, and readers see
/// no gap (it once used the number up, and every reader withheld the next, intact frame as
/// "1 frames missing").
#[test]
fn a_payload_refused_before_writing_leaves_no_gap() {
    use flatstream_checksum_crc32c::Crc32c;
    use flatstream_encrypt::EncryptFramerExt;
    use flatstream_io::{ChecksumFramer, FramerExt, StreamWriter};
    let framer = ChecksumFramer::new(Crc32c::new())
        .bounded(100)
        .encrypted(&key(7))
        .unwrap();
    let mut w = StreamWriter::new(Vec::new(), framer);
    w.write_payload(b"first").unwrap();
    assert!(
        w.write_payload(&[0u8; 200]).is_err(),
        "too large: refused, nothing written"
    );
    w.write_payload(b"second").unwrap(); // the writer is still usable
    w.finish().unwrap();
    let stream = w.into_inner();
    let mut r = StreamReader::new(&stream[..], deframer(&key(7), Cipher::default()));
    let mut seen = Vec::new();
    loop {
        match r.read_message() {
            Ok(Some(p)) => seen.push(Out::P(p.len())),
            Ok(None) => break,
            Err(error) => seen.push(e(&error)),
        }
    }
    assert_eq!(
        seen,
        vec![Out::P(5), Out::P(6)],
        "the intact frame 'second' is read"
    );
}

/// Outcomes (payloads, error kinds and frame indices) of the in-place reader at every buffer
/// capacity agree with the copying reader's, for damaged encrypted streams.
#[test]
fn in_place_readers_of_every_buffer_capacity_agree_with_the_copying_reader() {
    let payloads = payloads(4);
    let clean = encrypted_stream(&key(7), Cipher::default(), &payloads, true);
    let frames = sealed_frames(&clean);
    let mut streams: Vec<(String, Vec<u8>)> = vec![("clean".into(), clean.clone())];
    let mut after = clean.clone();
    after.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    streams.push(("damaged after final".into(), after));
    let mut replayed = frames.clone();
    replayed.push(frames[1].clone());
    replayed.push(frames[2].clone());
    streams.push(("two after final".into(), reframe(&replayed)));
    let mut dropped = frames.clone();
    dropped.remove(1);
    streams.push(("dropped 1".into(), reframe(&dropped)));
    streams.push(("no final".into(), reframe(&frames[..frames.len() - 1])));
    let mut zeros = reframe(&frames[..frames.len() - 1]);
    zeros.extend_from_slice(&[0; 64]);
    streams.push(("zeros".into(), zeros));
    for require_final in [false, true] {
        for (name, stream) in &streams {
            let deframer = deframer(&key(7), Cipher::default()).require_final(require_final);
            let mut copying = StreamReader::unbuffered(&stream[..], deframer.clone());
            let want = drain(|| copying.read_message().map(|p| p.map(<[u8]>::len)));
            for capacity in 1..=stream.len() + 1 {
                let source = std::io::BufReader::with_capacity(capacity, &stream[..]);
                let mut in_place = StreamReader::in_place(source, deframer.clone());
                let got = drain(|| in_place.read_message().map(|p| p.map(<[u8]>::len)));
                assert_eq!(
                    (got, in_place.position()),
                    (want.clone(), copying.position()),
                    "{name} require_final={require_final} capacity {capacity}"
                );
            }
        }
    }
}
