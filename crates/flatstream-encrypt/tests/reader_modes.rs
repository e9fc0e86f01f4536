//! `StreamReader::new` (the buffered mode) with decrypting deframers: every buffer size,
//! short reads, `process_all` mixed with `read_message`, against `unbuffered` (one frame at
//! a time) and the in-memory readers.

use std::io::{self, Read};

use crate::common::*;
use flatstream_core::{Deframer, Error};
use flatstream_encrypt::Cipher;
use flatstream_io::{ReadMode, SliceReader, StreamReader};

struct Short<'a> {
    bytes: &'a [u8],
    chunk: usize,
    interrupt: bool,
}

impl Read for Short<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = self.chunk.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fn describe(error: &Error) -> String {
    format!(
        "err[{error}] idx={:?} off={:?} res={}",
        error.frame_index(),
        error.offset(),
        error.is_resumable()
    )
}

/// Alternates `read_message` and `process_all`, the trace with the counters after each.
fn drive<R, D: Deframer, M: ReadMode<R>>(
    reader: &mut StreamReader<R, D, M>,
    mix: bool,
) -> Vec<String> {
    let mut trace = Vec::new();
    for step in 0..200 {
        let (entry, end) = if mix && step % 2 == 1 {
            let mut seen = Vec::new();
            let result = reader.process_all(|p| {
                seen.push(format!("msg {}", p.len()));
                if p.len() % 3 == 0 {
                    return Err(Error::validation_failed("t", "closure"));
                }
                Ok(())
            });
            trace.extend(seen);
            match result {
                Ok(()) => ("pa ok".to_string(), true),
                Err(e) => (describe(&e), !e.is_resumable()),
            }
        } else {
            match reader.read_message() {
                Ok(Some(p)) => (format!("msg {}", p.len()), false),
                Ok(None) => ("none".to_string(), true),
                Err(e) => (describe(&e), !e.is_resumable()),
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

fn drive_slice<D: Deframer>(reader: &mut SliceReader<'_, D>) -> Vec<String> {
    let mut trace = Vec::new();
    for _ in 0..200 {
        let mut seen = Vec::new();
        let result = reader.process_all(|p| {
            seen.push(format!("msg {}", p.len()));
            if p.len() % 3 == 0 {
                return Err(Error::validation_failed("t", "closure"));
            }
            Ok(())
        });
        trace.extend(seen);
        let (entry, end) = match result {
            Ok(()) => ("pa ok".to_string(), true),
            Err(e) => (describe(&e), !e.is_resumable()),
        };
        trace.push(format!(
            "{entry} pos={} n={}",
            SliceReader::position(reader),
            SliceReader::frames_read(reader)
        ));
        if end {
            break;
        }
    }
    trace
}

fn streams() -> Vec<(String, Vec<u8>)> {
    let payloads = payloads(9);
    let clean = encrypted_stream(&key(7), Cipher::default(), &payloads, true);
    let frames = sealed_frames(&clean);
    let mut streams: Vec<(String, Vec<u8>)> = vec![("clean".into(), clean.clone())];
    let mut after = clean.clone();
    after.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    streams.push(("damaged after final".into(), after));
    let mut torn_after = clean.clone();
    torn_after.extend_from_slice(&[3, 0, 0]);
    streams.push(("torn after final".into(), torn_after));
    let mut replayed = frames.clone();
    replayed.push(frames[1].clone());
    streams.push(("one after final".into(), reframe(&replayed)));
    let mut second = clean.clone();
    second.extend_from_slice(&encrypted_stream(
        &key(7),
        Cipher::default(),
        &payloads[..3],
        true,
    ));
    streams.push(("second stream after final".into(), second));
    let mut dropped = frames.clone();
    dropped.remove(2);
    streams.push(("dropped 2".into(), reframe(&dropped)));
    streams.push(("no final".into(), reframe(&frames[..frames.len() - 1])));
    let mut flipped = clean.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    streams.push(("flip mid".into(), flipped));
    for cut in (0..clean.len()).step_by(7) {
        streams.push((format!("cut {cut}"), clean[..cut].to_vec()));
    }
    streams
}

#[test]
fn buffered_decrypting_reader_agrees_with_unbuffered_at_every_buffer_size() {
    let mut failures = Vec::new();
    for (name, stream) in streams() {
        for require_final in [false, true] {
            let d = || deframer(&key(7), Cipher::default()).require_final(require_final);
            for mix in [false, true] {
                let want = drive(&mut StreamReader::unbuffered(&stream[..], d()), mix);
                let mut check = |what: String, got: Vec<String>| {
                    if got != want && failures.len() < 6 {
                        let at = want.iter().zip(&got).position(|(a, b)| a != b).unwrap_or(0);
                        failures.push(format!(
                            "{name} require_final={require_final} mix={mix} {what} at {at}:\n want {:?}\n got  {:?}",
                            &want[at.saturating_sub(2)..(at + 3).min(want.len())],
                            &got[at.saturating_sub(2)..(at + 3).min(got.len())]
                        ));
                    }
                };
                for size in [1usize, 16, 17, 30, 40, 50, 64, 100, 300, 65600] {
                    check(
                        format!("buffered {size}"),
                        drive(
                            &mut StreamReader::with_buffer_size(&stream[..], d(), size),
                            mix,
                        ),
                    );
                    let short = Short {
                        bytes: &stream,
                        chunk: 5,
                        interrupt: false,
                    };
                    check(
                        format!("buffered {size} short"),
                        drive(&mut StreamReader::with_buffer_size(short, d(), size), mix),
                    );
                }
                for cap in [1usize, 16, 50, 4096] {
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
                if mix {
                    // SliceReader only through process_all (its read_message cannot decrypt).
                    let want_all = drive(&mut StreamReader::unbuffered(&stream[..], d()), true);
                    let _ = want_all;
                    let slice = drive_slice(&mut SliceReader::new(&stream, d()));
                    let buffered = {
                        let mut r = StreamReader::with_buffer_size(&stream[..], d(), 17);
                        let mut t = Vec::new();
                        for _ in 0..200 {
                            let mut seen = Vec::new();
                            let result = r.process_all(|p| {
                                seen.push(format!("msg {}", p.len()));
                                if p.len() % 3 == 0 {
                                    return Err(Error::validation_failed("t", "closure"));
                                }
                                Ok(())
                            });
                            t.extend(seen);
                            let (entry, end) = match result {
                                Ok(()) => ("pa ok".to_string(), true),
                                Err(e) => (describe(&e), !e.is_resumable()),
                            };
                            t.push(format!(
                                "{entry} pos={} n={}",
                                r.position(),
                                r.frames_read()
                            ));
                            if end {
                                break;
                            }
                        }
                        t
                    };
                    if slice != buffered && failures.len() < 6 {
                        failures.push(format!("{name} require_final={require_final}: slice vs buffered process_all\n {slice:?}\n {buffered:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
