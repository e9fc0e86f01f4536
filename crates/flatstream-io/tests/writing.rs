//! The writer's behaviour with failing sinks and failing messages.

use std::io::{self, Write};

use flatbuffers::{Allocator, FlatBufferBuilder};
use flatstream_core::{Error, ErrorKind, Result, StreamSerialize};
use flatstream_io::{DefaultFramer, StreamWriter};

use crate::common::hand_frame;

/// Accepts `budget` bytes, then fails every write.
struct FailsAfter {
    written: Vec<u8>,
    budget: usize,
}

impl Write for FailsAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        let n = buf.len().min(self.budget);
        self.written.extend_from_slice(&buf[..n]);
        self.budget -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::other("flush failed"))
    }
}

/// Writes at most 3 bytes per call and returns `Interrupted` before every other call.
#[derive(Default)]
struct Stuttering {
    written: Vec<u8>,
    interrupt_next: bool,
}

impl Write for Stuttering {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.interrupt_next = !self.interrupt_next;
        if self.interrupt_next {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(3);
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn io_failure_is_reported_and_the_writer_stops() {
    let sink = FailsAfter {
        written: Vec::new(),
        budget: 7 + 5,
    };
    let mut writer = StreamWriter::new(sink, DefaultFramer::new());
    writer.write_payload(b"abc").unwrap();
    let error = writer.write_payload(b"defghij").unwrap_err();
    match error.kind() {
        ErrorKind::Io(io_error) => assert_eq!(io_error.kind(), io::ErrorKind::StorageFull),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(7)));
    // A half frame may be on disk: nothing more goes after it, and the writer says where
    // the last whole frame ended.
    let refused = writer.write_payload(b"k").unwrap_err();
    assert!(matches!(refused.kind(), ErrorKind::InvalidFrame { .. }));
    assert_eq!(refused.offset(), Some(7));
    assert_eq!((writer.frames_written(), writer.position()), (1, 7));
    let flush = writer.flush().unwrap_err();
    assert!(flush.to_string().contains("flush failed"), "{flush}");
}

#[test]
fn short_and_interrupted_writes_still_write_whole_frames() {
    let mut writer = StreamWriter::new(Stuttering::default(), DefaultFramer::new());
    writer.write_payload(b"hello, world").unwrap();
    writer.write("text").unwrap();
    let mut plain = StreamWriter::new(Vec::new(), DefaultFramer::new());
    plain.write_payload(b"hello, world").unwrap();
    plain.write("text").unwrap();
    assert_eq!(writer.into_inner().written, plain.into_inner());
}

struct Refuses;

impl StreamSerialize for Refuses {
    fn serialize<'fbb, A: Allocator + 'fbb>(
        &self,
        _builder: &mut FlatBufferBuilder<'fbb, A>,
    ) -> Result<()> {
        Err(Error::other("not today"))
    }
}

#[test]
fn failed_serialization_writes_nothing_and_the_writer_goes_on() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    writer.write("before").unwrap();
    let position = writer.position();
    let error = writer.write(&Refuses).unwrap_err();
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(1), Some(position))
    );
    assert_eq!(writer.get_ref().len() as u64, position);
    writer.write("after").unwrap();
    assert_eq!(writer.frames_written(), 2);
}

#[test]
fn payload_beyond_the_length_field_is_an_invalid_frame() {
    // 4 GiB of zeroed pages: reserved, never touched, since the length check comes first.
    let huge = vec![0u8; (u32::MAX as usize) + 1];
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    let error = writer.write_payload(&huge).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::InvalidFrame { .. }),
        "{error:?}"
    );
    assert!(writer.get_ref().is_empty());
    let as_io: io::Error = error.into();
    assert_eq!(as_io.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn custom_builder_is_used_for_simple_writes() {
    let builder = FlatBufferBuilder::with_capacity(4096);
    let mut writer = StreamWriter::with_builder(Vec::new(), DefaultFramer::new(), builder);
    writer.write("from a preallocated builder").unwrap();
    assert_eq!(writer.frames_written(), 1);
}

/// Accepts every write; every flush fails.
struct FlushFails(Vec<u8>);

impl Write for FlushFails {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "flush failed"))
    }
}

#[test]
fn failed_flush_behind_a_buf_writer_stops_the_writer() {
    let mut writer = StreamWriter::buffered(FlushFails(Vec::new()), DefaultFramer::new(), 64);
    writer.write_payload(b"abc").unwrap();
    let flush = writer.flush().unwrap_err();
    match flush.kind() {
        ErrorKind::Io(io_error) => assert_eq!(io_error.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!((flush.frame_index(), flush.offset()), (Some(1), Some(7)));
    // Every later write is refused, naming the failure that stopped the writer.
    for _ in 0..2 {
        let refused = writer.write_payload(b"defg").unwrap_err();
        assert!(
            matches!(refused.kind(), ErrorKind::InvalidFrame { .. }),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("flush failed"), "{refused}");
        assert!(!refused.is_resumable());
        assert_eq!(refused.offset(), Some(7));
    }
    let refused = writer.write("text").unwrap_err();
    assert!(refused.to_string().contains("flush failed"), "{refused}");
    let mut builder = FlatBufferBuilder::new();
    let payload = builder.create_vector(b"xyz");
    builder.finish_minimal(payload);
    let refused = writer.write_finished(&mut builder).unwrap_err();
    assert!(refused.to_string().contains("flush failed"), "{refused}");
    // Refused before the builder is read: an unfinished one, which `finished_data` asserts
    // against in debug builds, is refused too.
    let refused = writer
        .write_finished(&mut FlatBufferBuilder::new())
        .unwrap_err();
    assert!(refused.to_string().contains("flush failed"), "{refused}");
    assert_eq!((writer.frames_written(), writer.position()), (1, 7));
    assert_eq!(
        writer.into_inner().into_inner().unwrap().0,
        b"\x03\0\0\0abc"
    );
}

#[test]
fn refusal_after_a_failed_write_names_that_failure() {
    let sink = FailsAfter {
        written: Vec::new(),
        budget: 2,
    };
    let mut writer = StreamWriter::new(sink, DefaultFramer::new());
    let error = writer.write_payload(b"abc").unwrap_err();
    assert!(error.to_string().contains("disk full"), "{error}");
    let refused = writer.write_payload(b"abc").unwrap_err();
    assert!(refused.to_string().contains("disk full"), "{refused}");
}

/// Closes its streams with a 3-byte trailer frame (`[3, 0, 0, 0, b'e', b'n', b'd']`).
struct Trailing(DefaultFramer);

impl flatstream_core::Framer for Trailing {
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        self.0.frame_and_write(writer, payload)
    }

    fn finish<W: Write + ?Sized>(&mut self, writer: &mut W) -> Result<usize> {
        self.0.frame_and_write(writer, b"end")
    }
}

#[test]
fn finish_writes_what_the_framer_closes_with_and_counts_it() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    writer.write_payload(b"ab").unwrap();
    writer.finish().unwrap();
    assert_eq!(
        writer.frames_written(),
        1,
        "a plain framer closes with nothing"
    );
    assert_eq!(writer.into_inner(), [2, 0, 0, 0, b'a', b'b']);

    let mut writer = StreamWriter::new(Vec::new(), Trailing(DefaultFramer::new()));
    writer.write_payload(b"ab").unwrap();
    writer.finish().unwrap();
    assert_eq!((writer.frames_written(), writer.position()), (2, 13));
    assert_eq!(
        writer.into_inner(),
        [2, 0, 0, 0, b'a', b'b', 3, 0, 0, 0, b'e', b'n', b'd']
    );

    // Through an adapter, and a flush that fails is reported with the offset.
    let mut writer = StreamWriter::new(
        FailsAfter {
            written: Vec::new(),
            budget: 100,
        },
        flatstream_io::FramerExt::bounded(Trailing(DefaultFramer::new()), 10),
    );
    let error = writer.finish().unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Io(_)), "{error}");
    assert_eq!(writer.get_ref().written, [3, 0, 0, 0, b'e', b'n', b'd']);
}

/// Writes the header of a payload `b"torn"` and then fails (with an I/O error for
/// `b"torn io"`), or of `b"panic"` and then panics, leaving a partial frame behind; frames
/// other payloads as `DefaultFramer`, and closes a stream with a frame of `b"end"`.
#[derive(Debug)]
struct TearsOnCue;

impl flatstream_core::Framer for TearsOnCue {
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        if payload == b"panic" {
            writer.write_all(&(payload.len() as u32).to_le_bytes())?;
            panic!("the framer panics part-way through a frame");
        }
        if payload.starts_with(b"torn") {
            writer.write_all(&(payload.len() as u32).to_le_bytes())?;
            return Err(if payload == b"torn io" {
                Error::from(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            } else {
                Error::invalid_frame("refused after its header")
            });
        }
        DefaultFramer::new().frame_and_write(writer, payload)
    }

    fn finish<W: Write + ?Sized>(&mut self, writer: &mut W) -> Result<usize> {
        DefaultFramer::new().frame_and_write(writer, b"end")
    }
}

/// A `Write` that is not a `Vec`, so the writer counts each frame's bytes itself.
#[derive(Debug, Default)]
struct NotAVec(Vec<u8>);

impl Write for NotAVec {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// After one write: frames written, the position, and the error's frame index and offset.
type Seen = (u64, u64, Option<(Option<u64>, Option<u64>)>);

/// What a script of writes saw, write by write.
fn position_script<W: flatstream_io::FrameSink + std::fmt::Debug>(
    mut writer: StreamWriter<W, TearsOnCue>,
    lend: impl Fn(&mut W),
) -> Vec<Seen> {
    let mut seen = Vec::new();
    let step = |seen: &mut Vec<Seen>, writer: &mut StreamWriter<W, TearsOnCue>, payload: &[u8]| {
        let error = writer.write_payload(payload).err();
        seen.push((
            writer.frames_written(),
            writer.position(),
            error.map(|error| (error.frame_index(), error.offset())),
        ));
    };
    step(&mut seen, &mut writer, b"ab");
    step(&mut seen, &mut writer, b"cde");
    lend(writer.get_mut());
    step(&mut seen, &mut writer, b"f");
    // A partial frame refused: located at its start, not counted, the writer goes on.
    step(&mut seen, &mut writer, b"torn");
    step(&mut seen, &mut writer, b"gh");
    lend(writer.get_mut());
    lend(writer.get_mut());
    step(&mut seen, &mut writer, b"ij");
    // A message that does not serialize: located at the next frame, nothing written.
    let refused = writer.write(&Refuses).unwrap_err();
    let place = Some((refused.frame_index(), refused.offset()));
    seen.push((writer.frames_written(), writer.position(), place));
    // A framer that panics part-way through a frame (the panic caught): nothing counted.
    panics_part_way(&mut writer);
    seen.push((writer.frames_written(), writer.position(), None));
    step(&mut seen, &mut writer, b"mn");
    // The framer's closing frame.
    writer.finish().unwrap();
    seen.push((writer.frames_written(), writer.position(), None));
    assert!(format!("{writer:?}").contains(&format!("position: {}", writer.position())));
    // A partial frame and an I/O error: the writer stops where the last whole frame ended.
    step(&mut seen, &mut writer, b"torn io");
    lend(writer.get_mut());
    step(&mut seen, &mut writer, b"kl");
    assert!(writer.is_stopped());
    assert!(format!("{writer:?}").contains("disk full"), "{writer:?}");
    seen
}

#[test]
fn a_vec_sinks_position_counts_this_writers_whole_frames_as_other_sinks_do() {
    // Counted frame by frame, into a `Write` that is not a `Vec`.
    let expected = position_script(StreamWriter::new(NotAVec::default(), TearsOnCue), |_| {});
    assert_eq!(
        expected,
        [
            (1, 6, None),
            (2, 13, None),
            (3, 18, None),
            (3, 18, Some((Some(3), Some(18)))),
            (4, 24, None),
            (5, 30, None),
            (5, 30, Some((Some(5), Some(30)))),
            (5, 30, None),
            (6, 36, None),
            (7, 43, None),
            (7, 43, Some((Some(7), Some(43)))),
            (7, 43, Some((Some(7), Some(43)))),
        ]
    );
    // Taken from a `Vec`'s length, with bytes there before the writer, a `Vec` drained,
    // swapped for another and grown by hand while lent out, and a `&mut Vec`.
    let lends: [fn(&mut Vec<u8>); 3] = [
        |out| out.clear(),
        |out| *out = b"other bytes".to_vec(),
        |out| out.extend_from_slice(b"by hand"),
    ];
    for lend in lends {
        assert_eq!(
            position_script(StreamWriter::new(b"kept".to_vec(), TearsOnCue), lend),
            expected
        );
        let mut borrowed = b"kept".to_vec();
        assert_eq!(
            position_script(StreamWriter::new(&mut borrowed, TearsOnCue), |out| lend(
                out
            )),
            expected
        );
    }
    // Without lending: the `Vec` holds what was there and the whole frames; the bytes a
    // refused frame left are taken out again, as a `FrameBuffer` takes them out.
    let mut writer = StreamWriter::new(b"kept".to_vec(), TearsOnCue);
    writer.write_payload(b"ab").unwrap();
    writer.write_payload(b"torn").unwrap_err();
    writer.write_payload(b"c").unwrap();
    assert_eq!(writer.position(), 11);
    assert_eq!(
        writer.into_inner(),
        b"kept\x02\x00\x00\x00ab\x01\x00\x00\x00c"
    );
    // After an I/O error too: the writer stops, and the `Vec` ends in the last whole frame.
    let mut writer = StreamWriter::new(Vec::new(), TearsOnCue);
    writer.write_payload(b"ab").unwrap();
    writer.write_payload(b"torn io").unwrap_err();
    assert!(writer.is_stopped());
    assert_eq!(writer.position(), 6);
    assert_eq!(writer.into_inner(), b"\x02\x00\x00\x00ab");
}

#[test]
fn cut_partial_frame_takes_out_what_a_framers_caught_panic_left() {
    // Left alone, the panicked frame's 4 header bytes stay between the whole frames.
    let mut writer = StreamWriter::new(b"kept".to_vec(), TearsOnCue);
    writer.write_payload(b"ab").unwrap();
    panics_part_way(&mut writer);
    writer.write_payload(b"c").unwrap();
    assert_eq!(
        writer.into_inner(),
        b"kept\x02\x00\x00\x00ab\x05\x00\x00\x00\x01\x00\x00\x00c"
    );
    // Cut before the next frame: the `Vec` holds what was there and whole frames only, and
    // the position still counts this writer's frames.
    let mut writer = StreamWriter::new(b"kept".to_vec(), TearsOnCue);
    writer.write_payload(b"ab").unwrap();
    assert_eq!(
        writer.cut_partial_frame(),
        0,
        "nothing past the last whole frame"
    );
    panics_part_way(&mut writer);
    assert_eq!(writer.cut_partial_frame(), 4);
    assert_eq!(writer.cut_partial_frame(), 0);
    writer.write_payload(b"c").unwrap();
    assert_eq!((writer.frames_written(), writer.position()), (2, 11));
    assert_eq!(
        writer.get_ref().as_slice(),
        b"kept\x02\x00\x00\x00ab\x01\x00\x00\x00c"
    );
    // A `Vec` drained through `get_mut` is shorter, not longer: nothing to cut, and the
    // next frame is counted as before.
    writer.get_mut().clear();
    assert_eq!(writer.cut_partial_frame(), 0);
    writer.write_payload(b"d").unwrap();
    assert_eq!((writer.get_ref().len(), writer.position()), (5, 16));
    // Stopped by an I/O error: nothing is cut (the writer refuses every write anyway).
    writer.write_payload(b"torn io").unwrap_err();
    writer.get_mut().extend_from_slice(b"later");
    assert_eq!(writer.cut_partial_frame(), 0);
    // Another sink: nothing to cut.
    let mut writer = StreamWriter::new(NotAVec::default(), TearsOnCue);
    panics_part_way(&mut writer);
    assert_eq!(writer.cut_partial_frame(), 0);
}

/// Writes a frame whose framer panics after its header, and catches the panic.
fn panics_part_way<W: flatstream_io::FrameSink>(writer: &mut StreamWriter<W, TearsOnCue>) {
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = writer.write_payload(b"panic");
    }));
    assert!(panicked.is_err());
}

/// The bytes of `payload`'s frame without a checksum.
fn plain_frame(payload: &[u8]) -> Vec<u8> {
    hand_frame(0, 0, payload)
}

#[test]
fn a_frame_torn_right_after_the_vec_changed_leaves_the_vec_as_it_was() {
    // The first frame after the `Vec` was changed behind the writer's back (cleared, swapped,
    // grown by hand, or left holding a panicked frame's bytes) is torn by its framer: the
    // writer finds where that frame began from the `Vec` as it then was, and takes out only
    // the torn frame's bytes.
    type Change = fn(&mut StreamWriter<Vec<u8>, TearsOnCue>);
    let changes: [(&str, Change); 4] = [
        ("cleared", |writer| writer.get_mut().clear()),
        ("swapped", |writer| {
            *writer.get_mut() = b"other bytes".to_vec();
        }),
        ("grown by hand", |writer| {
            writer.get_mut().extend_from_slice(b"by hand");
        }),
        ("left with a panicked frame's bytes", panics_part_way),
    ];
    for (how, change) in changes {
        let mut writer = StreamWriter::new(b"kept".to_vec(), TearsOnCue);
        writer.write_payload(b"ab").unwrap();
        change(&mut writer);
        let before = writer.get_ref().clone();
        let (frames, position) = (writer.frames_written(), writer.position());
        let error = writer.write_payload(b"torn").unwrap_err();
        assert_eq!(*writer.get_ref(), before, "{how}");
        assert_eq!(
            (error.frame_index(), error.offset()),
            (Some(frames), Some(position)),
            "{how}"
        );
        assert_eq!(
            (writer.frames_written(), writer.position()),
            (frames, position),
            "{how}"
        );
        writer.write_payload(b"cd").unwrap();
        let mut expected = before;
        expected.extend_from_slice(&plain_frame(b"cd"));
        assert_eq!(*writer.get_ref(), expected, "{how}");
        assert_eq!(writer.position(), position + 6, "{how}");
    }
}

/// Frames as `DefaultFramer`, and closes a stream with the header of a frame and an error.
struct TornClose;

impl flatstream_core::Framer for TornClose {
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        DefaultFramer::new().frame_and_write(writer, payload)
    }

    fn finish<W: Write + ?Sized>(&mut self, writer: &mut W) -> Result<usize> {
        writer.write_all(&3u32.to_le_bytes())?;
        Err(Error::invalid_frame(
            "the closing frame is refused after its header",
        ))
    }
}

#[test]
fn a_closing_frame_torn_by_its_framer_is_taken_out_of_the_vec() {
    let mut writer = StreamWriter::new(Vec::new(), TornClose);
    writer.write_payload(b"ab").unwrap();
    let error = writer.finish().unwrap_err();
    assert_eq!(*writer.get_ref(), plain_frame(b"ab"));
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(6)));
    // And right after the `Vec` was cleared behind the writer's back.
    writer.get_mut().clear();
    let error = writer.finish().unwrap_err();
    assert!(writer.get_ref().is_empty());
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(6)));
    writer.write_payload(b"cd").unwrap();
    assert_eq!(*writer.get_ref(), plain_frame(b"cd"));
}
