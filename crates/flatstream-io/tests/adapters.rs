//! The validating, observing and bounding adapters, and how they compose.

use std::cell::{Cell, RefCell};

use flatstream_checksum_crc32c::Crc32c;
use flatstream_core::wire::{Frame, PlainFrame};
use flatstream_core::{Deframer, ErrorKind, StreamDeserialize, Validator};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DefaultDeframer, DefaultFramer, DeframerExt, FramerExt,
    SliceReader, StreamReader, StreamWriter,
};
use flatstream_telemetry_schema::{EventRoot, TelemetryEvent};
use flatstream_validate::{SizeValidator, StructuralValidator};

use crate::common::Opaque;

fn stream_with_a_bad_frame() -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
    writer.write(&TelemetryEvent::nth(1)).unwrap();
    writer.write_payload(b"not a flatbuffer at all").unwrap();
    writer.write(&TelemetryEvent::nth(3)).unwrap();
    writer.into_inner()
}

#[test]
fn reader_goes_on_after_a_rejected_frame() {
    let stream = stream_with_a_bad_frame();
    let deframer = ChecksumDeframer::new(Crc32c::new())
        .with_max_frame_len(1 << 20)
        .with_validator(StructuralValidator::new());
    let mut reader = StreamReader::new(stream.as_slice(), deframer);
    let first = reader.read_message().unwrap().unwrap().to_vec();
    let first_len = 8 + first.len() as u64;
    assert_eq!(EventRoot::from_payload(&first).unwrap().id(), 1);

    let error = reader.read_message().unwrap_err();
    match error.kind() {
        ErrorKind::ValidationFailed { validator, reason } => {
            assert_eq!(validator, "structural");
            assert_eq!(reason.trim_end(), reason, "no trailing whitespace");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(1), Some(first_len))
    );
    assert_eq!(error.frame_len(), Some(8 + 23));

    let third = reader.read_message().unwrap().unwrap();
    assert_eq!(EventRoot::from_payload(third).unwrap().id(), 3);
    assert_eq!(reader.read_message().unwrap(), None);
    assert_eq!(reader.frames_read(), 3);
    assert_eq!(reader.position(), stream.len() as u64);
}

#[test]
fn validating_writer_writes_nothing_for_a_rejected_payload() {
    let framer = DefaultFramer::new().with_validator(SizeValidator::at_most(8));
    let mut writer = StreamWriter::new(Vec::new(), framer);
    writer.write_payload(b"short").unwrap();
    let error = writer.write_payload(b"far too long").unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::ValidationFailed { .. }));
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(9)));
    assert_eq!(writer.get_ref().len(), 9);
    // Not an I/O failure: the writer goes on.
    writer.write_payload(b"ok again").unwrap();
    assert_eq!(writer.frames_written(), 2);
    assert_eq!(writer.framer().validator().max(), 8);
}

#[test]
fn outermost_adapter_acts_first() {
    let payload = [7u8; 20]; // over the bound of 10 and over the validator's 5
    let mut validator_outside = DefaultFramer::new()
        .bounded(10)
        .with_validator(SizeValidator::at_most(5));
    let mut bound_outside = DefaultFramer::new()
        .with_validator(SizeValidator::at_most(5))
        .bounded(10);
    let mut sink = Vec::new();
    let error =
        flatstream_core::Framer::frame_and_write(&mut validator_outside, &mut sink, &payload)
            .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::ValidationFailed { .. }),
        "{error:?}"
    );
    let error = flatstream_core::Framer::frame_and_write(&mut bound_outside, &mut sink, &payload)
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::FrameTooLarge { len: 20, max: 10 }),
        "{error:?}"
    );
    assert!(sink.is_empty());
}

#[test]
fn bounded_framer_refuses_oversized_payloads_before_writing() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new().bounded(4));
    writer.write_payload(b"1234").unwrap();
    let error = writer.write_payload(b"12345").unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 5, max: 4 }
    ));
    assert_eq!(error.frame_index(), Some(1));
    assert_eq!(writer.get_ref().len(), 8);
    assert_eq!(writer.framer().max_frame_len(), 4);
}

#[test]
fn default_framer_is_a_value() {
    let mut by_value = StreamWriter::new(Vec::new(), DefaultFramer);
    let mut by_new = StreamWriter::new(Vec::new(), DefaultFramer::new());
    by_value.write_payload(b"same").unwrap();
    by_new.write_payload(b"same").unwrap();
    assert_eq!(by_value.into_inner(), by_new.into_inner());
    assert_eq!(DefaultFramer, DefaultFramer::new());
    assert_eq!(std::mem::size_of::<DefaultFramer>(), 0);
}

/// A reader that hands out one byte per call, so a length field arrives in four reads.
struct ByteByByte<'a>(&'a [u8]);

impl std::io::Read for ByteByByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some((first, rest)) = self.0.split_first() else {
            return Ok(0);
        };
        match buf.first_mut() {
            Some(slot) => {
                *slot = *first;
                self.0 = rest;
                Ok(1)
            }
            None => Ok(0),
        }
    }
}

#[test]
fn bounded_deframer_reads_frames_within_the_bound() {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
    for payload in [&b"1234"[..], b"", b"12"] {
        writer.write_payload(payload).unwrap();
    }
    let stream = writer.into_inner();
    let deframer = ChecksumDeframer::new(Crc32c::new()).bounded(4);
    assert_eq!(deframer.max_frame_len(), 4);

    let sliced: Vec<&[u8]> = SliceReader::new(&stream, deframer)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sliced, [&b"1234"[..], b"", b"12"]);

    let mut reader = StreamReader::new(ByteByByte(&stream), deframer);
    let mut read = Vec::new();
    while let Some(payload) = reader.read_message().unwrap() {
        read.push(payload.to_vec());
    }
    assert_eq!(read, [b"1234".to_vec(), b"".to_vec(), b"12".to_vec()]);
}

#[test]
fn bounded_deframer_refuses_a_long_frame_before_reading_its_payload() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
    writer.write_payload(b"1234").unwrap();
    writer.write_payload(b"12345").unwrap();
    let stream = writer.into_inner();

    // In place: the second frame is refused where it starts.
    let mut sliced = SliceReader::new(&stream, DefaultDeframer::new().bounded(4));
    assert_eq!(sliced.next().unwrap().unwrap(), b"1234");
    let error = sliced.next().unwrap().unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::FrameTooLarge { len: 5, max: 4 }),
        "{error:?}"
    );
    assert_eq!(error.frame_index(), Some(1));
    assert_eq!(error.offset(), Some(8));

    // Through `Read`, with the length field split over four reads: the same error.
    let mut reader = StreamReader::new(ByteByByte(&stream), DefaultDeframer::new().bounded(4));
    assert_eq!(reader.read_message().unwrap().unwrap(), b"1234");
    let error = reader.read_message().unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::FrameTooLarge { len: 5, max: 4 }),
        "{error:?}"
    );
    assert_eq!(error.frame_index(), Some(1));

    // A length of 4 GiB - 1 with no payload behind it: refused by its length, not torn,
    // and nothing was sized for it.
    let hostile = u32::MAX.to_le_bytes();
    let mut reader = StreamReader::new(&hostile[..], DefaultDeframer::new().bounded(1 << 20));
    let error = reader.read_message().unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::FrameTooLarge {
                len: 0xFFFF_FFFF,
                max: 0x10_0000
            }
        ),
        "{error:?}"
    );
    assert!(reader.buffer_capacity() < 1 << 20);
}

#[test]
fn the_tighter_of_two_bounds_applies() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
    writer.write_payload(b"123456").unwrap();
    let stream = writer.into_inner();
    let inner_tighter = DefaultDeframer::new().with_max_frame_len(4).bounded(8);
    let error = SliceReader::new(&stream, inner_tighter)
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 6, max: 4 }
    ));
    let outer_tighter = DefaultDeframer::new().with_max_frame_len(8).bounded(4);
    let error = SliceReader::new(&stream, outer_tighter)
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 6, max: 4 }
    ));
}

#[test]
fn observers_see_exactly_the_frames_that_passed() {
    let written = RefCell::new(Vec::new());
    let framer = DefaultFramer::new()
        .with_validator(SizeValidator::at_most(5))
        .observe(|payload: &[u8]| written.borrow_mut().push(payload.to_vec()));
    let mut writer = StreamWriter::new(Vec::new(), framer);
    writer.write_payload(b"one").unwrap();
    writer.write_payload(b"too long").unwrap_err();
    writer.write_payload(b"three").unwrap();
    let stream = writer.into_inner();
    assert_eq!(*written.borrow(), [b"one".to_vec(), b"three".to_vec()]);

    let mut seen = Vec::new();
    let deframer = DefaultDeframer::new()
        .with_validator(SizeValidator::at_most(3))
        .observe(|payload: &[u8]| seen.push(payload.to_vec()));
    let mut reader = StreamReader::new(stream.as_slice(), deframer);
    assert!(reader.read_message().unwrap().is_some());
    assert!(reader.read_message().is_err()); // "three" is over 3 bytes
    assert_eq!(reader.read_message().unwrap(), None);
    drop(reader);
    assert_eq!(seen, [b"one".to_vec()]);
}

/// Counts the general path's calls to the deframer it wraps (`read_frame`, `parse_frame`,
/// `decode_frame` of some bytes); its plain path (`parse_plain`) is passed through uncounted.
struct CountsGeneralPath<'c, D> {
    inner: D,
    calls: &'c Cell<usize>,
}

impl<D: Deframer> Deframer for CountsGeneralPath<'_, D> {
    fn read_frame<R: std::io::Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> flatstream_core::Result<Option<usize>> {
        self.calls.set(self.calls.get() + 1);
        self.inner.read_frame(reader, payload)
    }

    fn parse_frame<'a>(&mut self, input: &'a [u8]) -> flatstream_core::Result<Option<Frame<'a>>> {
        self.calls.set(self.calls.get() + 1);
        self.inner.parse_frame(input)
    }

    fn decode_frame<'a>(
        &mut self,
        input: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> flatstream_core::Result<Option<Frame<'a>>> {
        // Not the end's look at no bytes, which every reader makes once.
        if !input.is_empty() {
            self.calls.set(self.calls.get() + 1);
        }
        self.inner.decode_frame(input, scratch)
    }

    fn peek_frame_len(&self, input: &[u8]) -> flatstream_core::Result<Option<usize>> {
        self.inner.peek_frame_len(input)
    }

    fn parse_plain(&self, input: &[u8]) -> flatstream_core::Result<Option<PlainFrame>> {
        self.inner.parse_plain(input)
    }
}

/// Rejects payloads that begin with its byte, noting each payload it is asked about.
struct RejectsPrefix {
    prefix: u8,
    asked: RefCell<Vec<Vec<u8>>>,
}

impl RejectsPrefix {
    fn with_prefix(prefix: u8) -> Self {
        RejectsPrefix {
            prefix,
            asked: RefCell::default(),
        }
    }

    /// How many times it was asked about `payload`.
    fn asked_about(&self, payload: &[u8]) -> usize {
        self.asked.borrow().iter().filter(|p| *p == payload).count()
    }
}

impl Validator for RejectsPrefix {
    fn validate(&self, payload: &[u8]) -> flatstream_core::Result<()> {
        self.asked.borrow_mut().push(payload.to_vec());
        if payload.first() == Some(&self.prefix) {
            Err(flatstream_core::Error::validation_failed(
                self.name(),
                "begins with its byte",
            ))
        } else {
            Ok(())
        }
    }

    fn name(&self) -> &'static str {
        "rejects-a-prefix"
    }
}

/// Where an error says it happened: its frame index and byte offset.
type Location = (Option<u64>, Option<u64>);

/// What a reader gave until the end: the payloads, and each error as its location.
type Transcript = (Vec<Vec<u8>>, Vec<Location>);

/// Every message and error `read_message` gives until the end (going on after each
/// error, all of them validation failures), each error as its location.
fn read_through(
    mut read_message: impl FnMut() -> flatstream_core::Result<Option<Vec<u8>>>,
) -> Transcript {
    let (mut payloads, mut errors) = (Vec::new(), Vec::new());
    loop {
        match read_message() {
            Ok(Some(payload)) => payloads.push(payload),
            Ok(None) => return (payloads, errors),
            Err(error) => {
                assert!(
                    matches!(error.kind(), ErrorKind::ValidationFailed { .. }),
                    "{error}"
                );
                errors.push((error.frame_index(), error.offset()));
            }
        }
    }
}

/// The payloads of [`x_stream`]: those beginning with `x` are the ones to reject.
const X_PAYLOADS: [&str; 6] = ["a1", "x2", "a3", "a4", "x5", "a6"];

/// The frames of [`X_PAYLOADS`] (6 bytes each, no checksum); what a reader rejecting the
/// `x` ones delivers; and where it reports them (the second and the fifth frame).
fn x_stream() -> (Vec<u8>, Transcript) {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    for payload in X_PAYLOADS {
        writer.write_payload(payload.as_bytes()).unwrap();
    }
    let accepted = ["a1", "a3", "a4", "a6"].map(Vec::from).to_vec();
    let rejected = vec![(Some(1), Some(6)), (Some(4), Some(24))];
    (writer.into_inner(), (accepted, rejected))
}

#[test]
fn validators_alone_or_nested_are_asked_once_about_each_frame() {
    let (stream, expected) = x_stream();
    let payloads = X_PAYLOADS;
    for source in SOURCES {
        for nested in [false, true] {
            // The inner validator rejects nothing; the outer one (or the only one) what
            // begins with `x`.
            let (inner, outer) = (
                RejectsPrefix::with_prefix(b'#'),
                RejectsPrefix::with_prefix(b'x'),
            );
            let read = if nested {
                let deframer = DefaultDeframer::new()
                    .with_validator(&inner)
                    .with_validator(&outer);
                read_with(source, &stream, deframer)
            } else {
                read_with(
                    source,
                    &stream,
                    DefaultDeframer::new().with_validator(&outer),
                )
            };
            assert_eq!(read, expected, "{source}");
            for payload in payloads {
                let asked = (
                    inner.asked_about(payload.as_bytes()),
                    outer.asked_about(payload.as_bytes()),
                );
                let expected = (usize::from(nested), 1);
                assert_eq!(asked, expected, "{source}, nested {nested}: {payload}");
            }
        }
    }
}

/// The readers [`read_with`] knows: by `read_message`, then by `process_all`. The small
/// buffers (16 bytes) make frames of 6 bytes straddle their ends.
const SOURCES: [&str; 11] = [
    "in memory",
    "only Read",
    "only Read, small buffer",
    "in place",
    "in place, small BufReader",
    "slice",
    "in memory, process_all",
    "only Read, small buffer, process_all",
    "in place, process_all",
    "in place, small BufReader, process_all",
    "slice, process_all",
];

/// Every message and error of `stream` read through `deframer` by the reader `source`
/// names (one of [`SOURCES`]), going on after each error, each error as its location.
fn read_with<D: Deframer>(source: &str, stream: &[u8], deframer: D) -> Transcript {
    let owned = |read: flatstream_core::Result<Option<&[u8]>>| read.map(|p| p.map(<[u8]>::to_vec));
    let small = || std::io::BufReader::with_capacity(16, Opaque(stream));
    macro_rules! each_way {
        ($reader:expr) => {{
            let mut reader = $reader;
            if source.ends_with("process_all") {
                all_through(|got| {
                    reader.process_all(|payload| {
                        got.push(payload.to_vec());
                        Ok(())
                    })
                })
            } else {
                read_through(|| owned(reader.read_message()))
            }
        }};
    }
    match source.trim_end_matches(", process_all") {
        "in memory" => each_way!(StreamReader::new(stream, deframer)),
        "only Read" => each_way!(StreamReader::new(Opaque(stream), deframer)),
        "only Read, small buffer" => {
            each_way!(StreamReader::with_buffer_size(Opaque(stream), deframer, 16))
        }
        "in place" => each_way!(StreamReader::in_place(stream, deframer)),
        "in place, small BufReader" => each_way!(StreamReader::in_place(small(), deframer)),
        "slice" => each_way!(SliceReader::new(stream, deframer)),
        other => panic!("no reader {other}"),
    }
}

/// Every message and error `process_all` gives until the end, as [`read_through`]: the
/// payloads collected into the `Vec` it is handed, `process_all` called again after each
/// error.
fn all_through(
    mut process_all: impl FnMut(&mut Vec<Vec<u8>>) -> flatstream_core::Result<()>,
) -> Transcript {
    let (mut payloads, mut errors) = (Vec::new(), Vec::new());
    while let Err(error) = process_all(&mut payloads) {
        assert!(
            matches!(error.kind(), ErrorKind::ValidationFailed { .. }),
            "{error}"
        );
        errors.push((error.frame_index(), error.offset()));
    }
    (payloads, errors)
}

/// A validator, alone or nested under another, rejects frames on the readers' plain path,
/// not only accepts them: no frame takes the general path (`read_frame`, `parse_frame`,
/// `decode_frame` of the deframer under it) where all the frames lie whole in the bytes
/// held, and the rejected frames are located as the general path locates them. (Before, a
/// validator's deframer kept `parse_plain`'s default and sent every frame the general way:
/// 0.43x the unvalidated reader.)
#[test]
fn validated_frames_take_the_plain_path_accepted_or_rejected() {
    let (stream, expected) = x_stream();
    // The readers that hold every frame whole; `SliceReader::read_message` parses each with
    // `parse_frame`, its own one path.
    let whole = [
        "in memory",
        "only Read",
        "in place",
        "in memory, process_all",
        "in place, process_all",
        "slice, process_all",
    ];
    for source in whole {
        for nested in [false, true] {
            let general = Cell::new(0);
            let counted = CountsGeneralPath {
                inner: DefaultDeframer::new(),
                calls: &general,
            };
            let outer = RejectsPrefix::with_prefix(b'x');
            let read = if nested {
                let inner = RejectsPrefix::with_prefix(b'#');
                read_with(
                    source,
                    &stream,
                    counted.with_validator(inner).with_validator(&outer),
                )
            } else {
                read_with(source, &stream, counted.with_validator(&outer))
            };
            assert_eq!(read, expected, "{source}");
            assert_eq!(
                general.get(),
                0,
                "{source}, nested {nested}: general path taken"
            );
            assert_eq!(outer.asked.borrow().len(), X_PAYLOADS.len(), "{source}");
        }
    }
}

#[test]
fn bounded_frames_take_the_plain_path_up_to_the_bound_and_a_longer_one_is_reported() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    for payload in ["1234", "12", "12345", "123"] {
        writer.write_payload(payload.as_bytes()).unwrap();
    }
    let stream = writer.into_inner();
    let general = Cell::new(0);
    let deframer = CountsGeneralPath {
        inner: DefaultDeframer::new(),
        calls: &general,
    }
    .bounded(4);
    let mut reader = StreamReader::new(stream.as_slice(), deframer);
    assert_eq!(reader.read_message().unwrap(), Some(&b"1234"[..]));
    assert_eq!(reader.read_message().unwrap(), Some(&b"12"[..]));
    // The first two at and under the bound came the plain way.
    assert_eq!(general.get(), 0);
    let error = reader.read_message().unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 5, max: 4 }
    ));
    assert_eq!((error.frame_index(), error.offset()), (Some(2), Some(14)));
}
