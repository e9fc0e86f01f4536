//! Sources that keep to the letter of `BufRead` but not its spirit: found by an outside
//! attack on the in-place reader.

use std::io::{self, BufRead, Read};

use flatstream_io::{DefaultDeframer, DefaultFramer, StreamReader, StreamWriter};

use crate::common::read_via_fill_buf;

/// A `BufRead` whose `fill_buf`, called again without a `consume`, returns a shorter view of
/// the same buffer (same address): every other call shows at most 3 bytes.
struct Shrinking {
    data: Vec<u8>,
    pos: usize,
    calls: usize,
}

impl Read for Shrinking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_via_fill_buf(self, buf)
    }
}

impl BufRead for Shrinking {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.calls += 1;
        let rest = &self.data[self.pos..];
        let len = if self.calls % 2 == 1 {
            rest.len()
        } else {
            rest.len().min(3)
        };
        Ok(&rest[..len])
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt;
    }
}

/// It once indexed past the shorter view and panicked. Now a frame is delivered only from a
/// view that holds all of it (the reader asks the source again to borrow the payload, and
/// the view it gets then depends on this source's count of calls), or refused with an I/O
/// error that says what the source did: never a panic, never bytes from past the view.
#[test]
fn a_fill_buf_that_shrinks_without_a_consume_is_an_error_not_a_panic() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
    writer.write_payload(b"hello world").unwrap();
    writer.write_payload(b"second").unwrap();
    let data = writer.into_inner();
    for calls in 0..4 {
        let source = Shrinking {
            data: data.clone(),
            pos: 0,
            calls,
        };
        let mut reader = StreamReader::in_place(source, DefaultDeframer::new());
        let mut delivered = Vec::new();
        let outcome = loop {
            match reader.read_message() {
                Ok(Some(payload)) => delivered.push(payload.to_vec()),
                Ok(None) => break None,
                Err(error) => break Some(error),
            }
        };
        let expected: [&[u8]; 2] = [b"hello world", b"second"];
        assert_eq!(delivered, expected[..delivered.len()], "calls {calls}");
        match outcome {
            None => assert_eq!(delivered.len(), 2, "calls {calls}"),
            Some(error) => {
                assert!(
                    error
                        .to_string()
                        .contains("different buffer without a consume"),
                    "calls {calls}: {error}"
                );
                let index = delivered.len() as u64;
                let offset = [0u64, 15, 25][delivered.len()];
                assert_eq!(
                    (error.frame_index(), error.offset()),
                    (Some(index), Some(offset)),
                    "calls {calls}"
                );
            }
        }
    }
}

/// A `BufRead` whose `fill_buf` shows everything at the first look after a `consume` and at
/// most 3 bytes at every look after that, until the next `consume`.
struct ShrinksOnceLooked {
    data: Vec<u8>,
    pos: usize,
    looked: bool,
}

impl Read for ShrinksOnceLooked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_via_fill_buf(self, buf)
    }
}

impl BufRead for ShrinksOnceLooked {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let rest = &self.data[self.pos..];
        let len = if self.looked {
            rest.len().min(3)
        } else {
            rest.len()
        };
        self.looked = true;
        Ok(&rest[..len])
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt;
        self.looked = false;
    }
}

/// The payload is borrowed from a second look at the buffer; a source whose second look is
/// shorter than the first is refused with an error at the frame, not indexed past.
#[test]
fn a_fill_buf_shorter_at_every_second_look_is_an_error() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
    writer.write_payload(b"hello world").unwrap();
    let source = ShrinksOnceLooked {
        data: writer.into_inner(),
        pos: 0,
        looked: false,
    };
    let mut reader = StreamReader::in_place(source, DefaultDeframer::new());
    let error = reader.read_message().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("different buffer without a consume"),
        "{error}"
    );
    assert_eq!((error.frame_index(), error.offset()), (Some(0), Some(0)));
}

/// How a [`LyingPlain`] bends the frame `parse_plain` found at the start of an input of the
/// given length.
type Lie = fn(
    flatstream_core::PlainFrame,
    usize,
) -> flatstream_core::Result<Option<flatstream_core::PlainFrame>>;

/// A deframer whose `parse_plain` breaks the method's contract in one way, the rest of it
/// that of `DefaultDeframer`.
struct LyingPlain {
    inner: DefaultDeframer,
    lie: Lie,
}

impl flatstream_core::Deframer for LyingPlain {
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> flatstream_core::Result<Option<usize>> {
        self.inner.read_frame(reader, payload)
    }
    fn parse_frame<'a>(
        &mut self,
        input: &'a [u8],
    ) -> flatstream_core::Result<Option<flatstream_core::wire::Frame<'a>>> {
        self.inner.parse_frame(input)
    }
    fn peek_frame_len(&self, input: &[u8]) -> flatstream_core::Result<Option<usize>> {
        self.inner.peek_frame_len(input)
    }
    fn parse_plain(
        &self,
        input: &[u8],
    ) -> flatstream_core::Result<Option<flatstream_core::PlainFrame>> {
        match self.inner.parse_plain(input)? {
            Some(frame) => (self.lie)(frame, input.len()),
            None => Ok(None),
        }
    }
}

/// A rejection a reader cannot place: no frame length, or one that is 0 or past the input.
fn unplaced_rejection(frame_len: Option<u64>) -> flatstream_core::Error {
    let error = flatstream_core::Error::validation_failed("lying", "rejected");
    match frame_len {
        Some(frame_len) => error.with_frame_len(frame_len),
        None => error,
    }
}

/// The ways [`LyingPlain`] breaks `parse_plain`'s contract.
fn lies() -> [(&'static str, Lie); 10] {
    use flatstream_core::PlainFrame;
    [
        ("payload past the frame", |f, _| {
            Ok(Some(PlainFrame {
                payload: f.payload.start..f.payload.end + 8,
                ..f
            }))
        }),
        ("frame past the input", |f, _| {
            Ok(Some(PlainFrame {
                len: f.len + 100_000,
                ..f
            }))
        }),
        ("a frame of no bytes", |f, _| {
            Ok(Some(PlainFrame { len: 0, ..f }))
        }),
        ("an empty frame with an empty payload", |_, _| {
            Ok(Some(PlainFrame {
                payload: 0..0,
                len: 0,
            }))
        }),
        ("payload reversed", |f, _| {
            Ok(Some(PlainFrame {
                payload: f.payload.end..f.payload.start,
                ..f
            }))
        }),
        ("payload start past its end", |f, _| {
            Ok(Some(PlainFrame {
                payload: f.len + 1..f.len,
                ..f
            }))
        }),
        ("a rejection without a frame length", |_, _| {
            Err(unplaced_rejection(None))
        }),
        ("a rejection of no bytes", |_, _| {
            Err(unplaced_rejection(Some(0)))
        }),
        ("a rejection past the input", |_, len| {
            Err(unplaced_rejection(Some(len as u64 + 1)))
        }),
        ("a rejection of 2^64 - 1 bytes", |_, _| {
            Err(unplaced_rejection(Some(u64::MAX)))
        }),
    ]
}

/// 300 payloads of 3, 60, 0 and 700 bytes in turn, and their stream without a checksum:
/// what the [`LyingPlain`] tests read.
fn lied_about() -> (Vec<Vec<u8>>, Vec<u8>) {
    let payloads: Vec<Vec<u8>> = (0..300u32)
        .map(|i| vec![i as u8; [3, 60, 0, 700][i as usize % 4]])
        .collect();
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    for payload in &payloads {
        writer.write_payload(payload).unwrap();
    }
    (payloads, writer.into_inner())
}

/// A `Deframer` from outside the workspace whose `parse_plain` describes a frame that does
/// not lie in its input (found by an outside attack: the buffered reader's fast path
/// panicked on the slice, its general path returned stale bytes past the frame), or rejects
/// a frame with a length that does not lie there, is neither trusted nor a panic or a hang:
/// every reader, `SliceReader` too, takes those frames the general way and delivers what
/// the deframer's own `decode_frame` parses.
#[test]
fn a_parse_plain_that_breaks_its_contract_is_not_trusted() {
    use flatstream_io::ReadMode;
    fn by_message<R, M: ReadMode<R>>(
        mut reader: StreamReader<R, LyingPlain, M>,
        expected: &[Vec<u8>],
        case: &str,
    ) {
        let mut got = Vec::new();
        while let Some(payload) = reader.read_message().unwrap() {
            got.push(payload.to_vec());
        }
        assert_eq!(got, expected, "{case}");
    }
    fn by_run<R, M: ReadMode<R>>(
        mut reader: StreamReader<R, LyingPlain, M>,
        expected: &[Vec<u8>],
        case: &str,
    ) {
        assert_eq!(
            crate::common::collected(|each| reader.process_all(each)),
            expected,
            "{case}, process_all"
        );
    }

    let (payloads, stream) = lied_about();
    for (name, lie) in lies() {
        let deframer = || LyingPlain {
            inner: DefaultDeframer::new(),
            lie,
        };
        let opaque = || crate::common::Opaque(stream.as_slice());
        let buffered = || StreamReader::with_buffer_size(opaque(), deframer(), 1024);
        by_message(buffered(), &payloads, &format!("{name}, buffered"));
        by_run(buffered(), &payloads, &format!("{name}, buffered"));
        let in_memory = || StreamReader::new(stream.as_slice(), deframer());
        by_message(in_memory(), &payloads, &format!("{name}, in memory"));
        by_run(in_memory(), &payloads, &format!("{name}, in memory"));
        let in_place =
            || StreamReader::in_place(io::BufReader::with_capacity(1024, opaque()), deframer());
        by_message(in_place(), &payloads, &format!("{name}, in place"));
        by_run(in_place(), &payloads, &format!("{name}, in place"));
        let mut slice = flatstream_io::SliceReader::new(&stream, deframer());
        let mut got = Vec::new();
        while let Some(payload) = slice.read_message().unwrap() {
            got.push(payload.to_vec());
        }
        assert_eq!(got, payloads, "{name}, SliceReader");
        let mut slice = flatstream_io::SliceReader::new(&stream, deframer());
        let got = crate::common::collected(|each| slice.process_all(each));
        assert_eq!(got, payloads, "{name}, SliceReader::process_all");
    }
}

/// A validator over a [`LyingPlain`]: the frames it describes wrongly are neither shown to
/// the validator on the fast path (which would judge bytes that are not the payload, and
/// have its rejection trusted) nor asked about twice: every reader delivers what the
/// deframer's own `decode_frame` parses, the validator asked once per frame. (Review 19:
/// with a payload 8 bytes past its frame, the 700-byte payloads were reported rejected; with
/// a frame of no bytes, the validator was asked up to three times per frame.)
#[test]
fn a_validator_over_a_parse_plain_that_breaks_its_contract_is_asked_once() {
    use std::cell::Cell;

    use flatstream_io::{DeframerExt, ReadMode, ValidatingDeframer};

    /// Accepts payloads of at most 700 bytes; counts its calls.
    struct AtMost700(Cell<usize>);
    impl flatstream_core::Validator for AtMost700 {
        fn validate(&self, payload: &[u8]) -> flatstream_core::Result<()> {
            self.0.set(self.0.get() + 1);
            if payload.len() > 700 {
                Err(flatstream_core::Error::validation_failed(
                    self.name(),
                    "long",
                ))
            } else {
                Ok(())
            }
        }
        fn name(&self) -> &'static str {
            "at-most-700"
        }
    }
    type Validated<'v> = ValidatingDeframer<LyingPlain, &'v AtMost700>;
    fn by_message<R, M: ReadMode<R>>(
        mut reader: StreamReader<R, Validated<'_>, M>,
    ) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while let Some(payload) = reader.read_message().unwrap() {
            got.push(payload.to_vec());
        }
        got
    }
    fn by_run<R, M: ReadMode<R>>(mut reader: StreamReader<R, Validated<'_>, M>) -> Vec<Vec<u8>> {
        crate::common::collected(|each| reader.process_all(each))
    }

    let (payloads, stream) = lied_about();
    for (name, lie) in lies() {
        let validator = AtMost700(Cell::new(0));
        let deframer = || {
            LyingPlain {
                inner: DefaultDeframer::new(),
                lie,
            }
            .with_validator(&validator)
        };
        let opaque = || crate::common::Opaque(stream.as_slice());
        let check = |got: Vec<Vec<u8>>, case: &str| {
            assert_eq!(got, payloads, "{name}, {case}");
            assert_eq!(
                validator.0.replace(0),
                payloads.len(),
                "{name}, {case}: asked"
            );
        };
        let buffered = || StreamReader::with_buffer_size(opaque(), deframer(), 1024);
        check(by_message(buffered()), "buffered");
        check(by_run(buffered()), "buffered, process_all");
        let in_memory = || StreamReader::new(stream.as_slice(), deframer());
        check(by_message(in_memory()), "in memory");
        check(by_run(in_memory()), "in memory, process_all");
        let in_place =
            || StreamReader::in_place(io::BufReader::with_capacity(1024, opaque()), deframer());
        check(by_message(in_place()), "in place");
        check(by_run(in_place()), "in place, process_all");
        let mut slice = flatstream_io::SliceReader::new(&stream, deframer());
        check(
            crate::common::collected(|each| slice.process_all(each)),
            "SliceReader::process_all",
        );
    }
}
