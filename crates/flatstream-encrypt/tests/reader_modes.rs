//! `StreamReader::new` (the buffered mode) with decrypting deframers: every buffer size,
//! short reads, `process_all` mixed with `read_message`, against `unbuffered` (one frame at
//! a time) and the in-memory readers.

use std::io::{self, Read};

use crate::common::*;
use flatstream_core::{Deframer, Error, Result};
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

/// A reader whose `process_all` the tests drive: every blocking mode, and `SliceReader`.
trait ProcessAll {
    fn process_all(&mut self, process: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()>;
    /// Position and frames read.
    fn counters(&self) -> (u64, u64);
}

impl<R, D: Deframer, M: ReadMode<R>> ProcessAll for StreamReader<R, D, M> {
    fn process_all(&mut self, process: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        StreamReader::process_all(self, process)
    }
    fn counters(&self) -> (u64, u64) {
        (self.position(), self.frames_read())
    }
}

impl<D: Deframer> ProcessAll for SliceReader<'_, D> {
    fn process_all(&mut self, process: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        SliceReader::process_all(self, process)
    }
    fn counters(&self) -> (u64, u64) {
        (self.position(), self.frames_read())
    }
}

/// One `process_all` whose closure refuses payloads of a length divisible by 3: the
/// payloads seen, then the outcome; whether the reader is done.
fn process_all_step(reader: &mut dyn ProcessAll, trace: &mut Vec<String>) -> (String, bool) {
    let result = reader.process_all(&mut |p| {
        trace.push(format!("msg {}", p.len()));
        if p.len() % 3 == 0 {
            return Err(Error::validation_failed("t", "closure"));
        }
        Ok(())
    });
    match result {
        Ok(()) => ("pa ok".to_string(), true),
        Err(e) => (describe(&e), !e.is_resumable()),
    }
}

/// Records `entry` with the counters after it.
fn record(trace: &mut Vec<String>, entry: &str, (position, frames): (u64, u64)) {
    trace.push(format!("{entry} pos={position} n={frames}"));
}

/// Alternates `read_message` and `process_all`, the trace with the counters after each.
fn drive<R, D: Deframer, M: ReadMode<R>>(
    reader: &mut StreamReader<R, D, M>,
    mix: bool,
) -> Vec<String> {
    let mut trace = Vec::new();
    for step in 0..200 {
        let (entry, end) = if mix && step % 2 == 1 {
            process_all_step(reader, &mut trace)
        } else {
            match reader.read_message() {
                Ok(Some(p)) => (format!("msg {}", p.len()), false),
                Ok(None) => ("none".to_string(), true),
                Err(e) => (describe(&e), !e.is_resumable()),
            }
        };
        record(&mut trace, &entry, ProcessAll::counters(reader));
        if end {
            break;
        }
    }
    trace
}

/// `process_all` again and again, the trace with the counters after each.
fn drive_process_all(reader: &mut dyn ProcessAll) -> Vec<String> {
    let mut trace = Vec::new();
    for _ in 0..200 {
        let (entry, end) = process_all_step(reader, &mut trace);
        record(&mut trace, &entry, reader.counters());
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
                    let slice = drive_process_all(&mut SliceReader::new(&stream, d()));
                    let buffered = drive_process_all(&mut StreamReader::with_buffer_size(
                        &stream[..],
                        d(),
                        17,
                    ));
                    if slice != buffered && failures.len() < 6 {
                        failures.push(format!("{name} require_final={require_final}: slice vs buffered process_all\n {slice:?}\n {buffered:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
