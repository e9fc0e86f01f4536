//! The reader's behaviour at and after bad frames.

use std::io::{self, Read};

use flatstream_core::{Error, ErrorKind, FramePart};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DefaultDeframer, DefaultFramer, StreamReader, StreamWriter,
};

use crate::common::{AnyReader, ScratchFile, checksum_by_name};

fn stream_of(checksum: &str, payloads: &[&[u8]]) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum_by_name(checksum)));
    for payload in payloads {
        writer.write_payload(payload).unwrap();
    }
    writer.into_inner()
}

#[test]
fn empty_stream_is_a_clean_end() {
    let mut reader = StreamReader::new(&[][..], DefaultDeframer::new());
    assert_eq!(reader.read_message().unwrap(), None);
    assert_eq!(reader.read_message().unwrap(), None);
    assert_eq!((reader.frames_read(), reader.position()), (0, 0));
}

#[test]
fn reading_continues_after_a_checksum_mismatch() {
    let mut stream = stream_of("crc32", &[b"first", b"second", b"third"]);
    // Frame 1 starts at 4 + 4 + 5 = 13; flip its first payload byte.
    stream[13 + 8] ^= 0xff;
    let mut reader = StreamReader::new(
        stream.as_slice(),
        ChecksumDeframer::new(checksum_by_name("crc32")),
    );
    assert_eq!(reader.read_message().unwrap(), Some(&b"first"[..]));
    let error = reader.read_message().unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::ChecksumMismatch { .. }));
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(13)));
    assert_eq!(error.frame_len(), Some(14));
    assert_eq!(reader.read_message().unwrap(), Some(&b"third"[..]));
    assert_eq!(reader.frames_read(), 3);
    assert_eq!(reader.position(), stream.len() as u64);
}

#[test]
fn torn_tail_stops_the_reader_at_the_last_good_frame() {
    let stream = stream_of("crc16", &[b"keep me", b"torn"]);
    let cut = stream.len() - 2;
    let mut reader = StreamReader::new(
        &stream[..cut],
        ChecksumDeframer::new(checksum_by_name("crc16")),
    );
    assert_eq!(reader.read_message().unwrap(), Some(&b"keep me"[..]));
    let error = reader.read_message().unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::UnexpectedEof {
            part: FramePart::Payload,
            needed: 4,
            got: 2
        }
    ));
    assert_eq!(error.offset(), Some(13));
    // The reader refuses to go on from inside a frame, and keeps pointing at it.
    let again = reader.read_message().unwrap_err();
    assert!(matches!(again.kind(), ErrorKind::InvalidFrame { .. }));
    assert_eq!((again.frame_index(), again.offset()), (Some(1), Some(13)));
    assert_eq!(reader.position(), 13);
}

#[test]
fn oversized_frame_is_refused_without_reading_it() {
    let stream = stream_of("none", &[b"small", &[0u8; 2000]]);
    let mut reader = StreamReader::new(
        stream.as_slice(),
        DefaultDeframer::new().with_max_frame_len(1000),
    );
    assert_eq!(reader.read_message().unwrap(), Some(&b"small"[..]));
    let error = reader.read_message().unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge {
            len: 2000,
            max: 1000
        }
    ));
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(9)));
    assert!(error.to_string().contains("2000"), "{error}");
}

#[test]
fn io_error_is_reported_with_its_location() {
    struct FailsAfter<'a>(&'a [u8]);
    impl Read for FailsAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "peer went away",
                ));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let stream = stream_of("none", &[b"whole", b"partial"]);
    let mut reader = StreamReader::new(FailsAfter(&stream[..12]), DefaultDeframer::new());
    assert_eq!(reader.read_message().unwrap(), Some(&b"whole"[..]));
    let error = reader.read_message().unwrap_err();
    match error.kind() {
        ErrorKind::Io(io_error) => assert_eq!(io_error.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(9)));
    let as_io: io::Error = error.into();
    assert_eq!(as_io.kind(), io::ErrorKind::ConnectionReset);
}

#[test]
fn closure_errors_are_located_at_their_frame() {
    let stream = stream_of("xxh3", &[b"a", b"bb", b"ccc"]);
    let mut reader = StreamReader::new(
        stream.as_slice(),
        ChecksumDeframer::new(checksum_by_name("xxh3")),
    );
    let error = reader
        .process_all(|payload| {
            if payload.len() == 2 {
                Err(Error::other("two bytes is one too many"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Other(_)));
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(13)));
    assert_eq!(
        error.to_string(),
        "two bytes is one too many (frame 1 at byte offset 13)"
    );
}

#[test]
fn typed_reading_rejects_a_payload_that_is_not_the_type() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    writer.write("fine").unwrap();
    writer.write_payload(&[0xff; 3]).unwrap();
    let stream = writer.into_inner();
    let mut reader = StreamReader::new(stream.as_slice(), DefaultDeframer::new());
    let mut seen = Vec::new();
    let error = reader
        .process_typed::<str, _>(|text| {
            seen.push(text.to_owned());
            Ok(())
        })
        .unwrap_err();
    assert_eq!(seen, ["fine"]);
    assert!(
        matches!(error.kind(), ErrorKind::FlatBuffers(_)),
        "{error:?}"
    );
    assert_eq!(error.frame_index(), Some(1));

    let mut reader = StreamReader::new(stream.as_slice(), DefaultDeframer::new());
    let mut typed = reader.typed_messages::<str>();
    assert_eq!(typed.next().unwrap().unwrap(), "fine");
    let error = typed.next().unwrap().unwrap_err();
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(20)));
}

#[test]
fn the_unbuffered_reader_never_reads_past_the_frame() {
    let stream = stream_of("crc32c", &[b"one", b"two"]);
    let mut reader = StreamReader::unbuffered(
        std::io::Cursor::new(stream.clone()),
        ChecksumDeframer::new(checksum_by_name("crc32c")),
    );
    reader.read_message().unwrap();
    assert_eq!(reader.get_ref().position(), 11);
    assert_eq!(reader.position(), 11);
    let mut rest = reader.into_inner();
    let mut tail = Vec::new();
    rest.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, stream[11..]);
}

#[test]
fn from_path_reads_a_file_through_a_buffer() {
    let path = ScratchFile::new("from-path");
    std::fs::write(&path, stream_of("crc32c", &[b"on", b"disk"])).unwrap();
    let mut reader =
        StreamReader::from_path(&path, ChecksumDeframer::new(checksum_by_name("crc32c"))).unwrap();
    assert_eq!(reader.read_message().unwrap(), Some(&b"on"[..]));
    assert_eq!(reader.read_message().unwrap(), Some(&b"disk"[..]));
    assert_eq!(reader.read_message().unwrap(), None);
    std::fs::remove_file(&path).unwrap();
    let missing = StreamReader::from_path(&path, DefaultDeframer::new()).unwrap_err();
    assert!(matches!(missing.kind(), ErrorKind::Io(_)));
}

#[cfg(feature = "mmap")]
#[test]
fn mmap_reader_matches_the_slice_reader() {
    use flatstream_checksum_xxh3::Xxh3;
    use flatstream_io::{MmapReader, SliceReader};
    let stream = stream_of("xxh3", &[b"one", b"", b"three"]);
    let path = ScratchFile::new("mmap");
    std::fs::write(&path, &stream).unwrap();
    // SAFETY: this test owns the file and nothing truncates or writes it while mapped.
    let map = unsafe { MmapReader::map(&path, ChecksumDeframer::new(Xxh3::new())) }.unwrap();
    assert!(map.is_mapped());
    assert_eq!(map.as_bytes(), stream.as_slice());
    let mapped: Vec<&[u8]> = map.reader().collect::<Result<_, _>>().unwrap();
    let sliced: Vec<&[u8]> = SliceReader::new(&stream, ChecksumDeframer::new(Xxh3::new()))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(mapped, sliced);
    drop(map);

    std::fs::write(&path, b"").unwrap();
    // SAFETY: as above.
    let empty = unsafe { MmapReader::map(&path, DefaultDeframer::new()) }.unwrap();
    assert_eq!(empty.reader().count(), 0);
    drop(empty);
    std::fs::remove_file(&path).unwrap();
}

#[cfg(feature = "mmap")]
#[test]
fn mmap_reader_read_gives_the_mapped_frames_without_a_map() {
    use flatstream_checksum_xxh3::Xxh3;
    use flatstream_io::MmapReader;
    let stream = stream_of("xxh3", &[b"one", b"", b"three"]);
    let path = ScratchFile::new("mmap-read");
    std::fs::write(&path, &stream).unwrap();
    let read = MmapReader::read(&path, ChecksumDeframer::new(Xxh3::new())).unwrap();
    assert!(!read.is_mapped());
    // The bytes were copied: the file may change afterwards without reaching them.
    std::fs::write(&path, b"").unwrap();
    assert_eq!(read.as_bytes(), stream.as_slice());
    let payloads: Vec<&[u8]> = read.reader().collect::<Result<_, _>>().unwrap();
    assert_eq!(payloads, [&b"one"[..], b"", b"three"]);

    let empty = MmapReader::read(&path, DefaultDeframer::new()).unwrap();
    assert_eq!(empty.reader().count(), 0);
    std::fs::remove_file(&path).unwrap();
    let missing = MmapReader::read(&path, DefaultDeframer::new()).unwrap_err();
    assert!(matches!(missing.kind(), ErrorKind::Io(_)));
}

#[cfg(feature = "mmap")]
#[test]
fn mapped_bytes_need_no_deframer() {
    use flatstream_io::MappedBytes;
    let stream = stream_of("none", &[b"bytes only"]);
    let path = ScratchFile::new("mapped");
    std::fs::write(&path, &stream).unwrap();
    // SAFETY: this test owns the file and nothing truncates or writes it while mapped.
    let bytes = unsafe { MappedBytes::map(&path) }.unwrap();
    assert_eq!(bytes.as_bytes(), stream.as_slice());
    assert_eq!(bytes.as_ref(), stream.as_slice());
    drop(bytes);
    std::fs::remove_file(&path).unwrap();
    // SAFETY: the file does not exist; nothing is mapped.
    let missing = unsafe { MappedBytes::map(&path) }.unwrap_err();
    assert!(matches!(missing.kind(), ErrorKind::Io(_)));
}

/// A "log and continue" loop over `messages()`: every payload and every error, in order.
/// Gives up (and fails the test) after `limit` items rather than spinning forever.
fn log_and_continue<R: Read>(
    reader: &mut StreamReader<R, ChecksumDeframer<Box<dyn flatstream_core::Checksum>>>,
    limit: usize,
) -> (Vec<Vec<u8>>, Vec<Error>) {
    let mut payloads = Vec::new();
    let mut errors = Vec::new();
    let mut messages = reader.messages();
    while let Some(item) = messages.next() {
        match item {
            Ok(payload) => payloads.push(payload.to_vec()),
            Err(error) => errors.push(error),
        }
        assert!(
            payloads.len() + errors.len() <= limit,
            "messages() did not end: {errors:?}"
        );
    }
    (payloads, errors)
}

#[test]
fn messages_end_after_a_torn_tail() {
    let stream = stream_of("crc32c", &[b"one", b"two", b"torn"]);
    let cut = &stream[..stream.len() - 1];
    let mut reader = StreamReader::new(cut, ChecksumDeframer::new(checksum_by_name("crc32c")));
    let (payloads, errors) = log_and_continue(&mut reader, 10);
    assert_eq!(payloads, [b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].is_torn_tail());
    assert!(!errors[0].is_resumable());
    assert_eq!(errors[0].offset(), Some(22));
    // The iterator stays ended; `read_message` still says why.
    assert!(reader.messages().next().is_none());
    let stopped = reader.read_message().unwrap_err();
    assert!(matches!(stopped.kind(), ErrorKind::InvalidFrame { .. }));
    assert!(!stopped.is_resumable());
}

#[test]
fn messages_end_after_an_oversized_frame() {
    let stream = stream_of("xxh3", &[b"small", &[7u8; 300], b"after"]);
    let mut reader = StreamReader::new(
        stream.as_slice(),
        ChecksumDeframer::new(checksum_by_name("xxh3")).with_max_frame_len(100),
    );
    let (payloads, errors) = log_and_continue(&mut reader, 10);
    assert_eq!(payloads, [b"small".to_vec()]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(matches!(
        errors[0].kind(),
        ErrorKind::FrameTooLarge { len: 300, max: 100 }
    ));
    assert!(!errors[0].is_resumable());
}

#[test]
fn messages_go_on_after_a_checksum_mismatch() {
    let mut stream = stream_of("crc32", &[b"first", b"second", b"third"]);
    stream[13 + 8] ^= 0xff;
    let mut reader = StreamReader::new(
        stream.as_slice(),
        ChecksumDeframer::new(checksum_by_name("crc32")),
    );
    let (payloads, errors) = log_and_continue(&mut reader, 10);
    assert_eq!(payloads, [b"first".to_vec(), b"third".to_vec()]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(matches!(
        errors[0].kind(),
        ErrorKind::ChecksumMismatch { .. }
    ));
    assert!(errors[0].is_resumable());
    assert_eq!(errors[0].frame_index(), Some(1));
}

#[test]
fn typed_messages_end_after_a_torn_tail_and_go_on_after_a_rejection() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    writer.write("fine").unwrap();
    writer.write_payload(&[0xff; 3]).unwrap();
    writer.write("also fine").unwrap();
    writer.write("torn").unwrap();
    let stream = writer.into_inner();
    let cut = &stream[..stream.len() - 3];
    let mut reader = StreamReader::new(cut, DefaultDeframer::new());
    let mut typed = reader.typed_messages::<str>();
    let mut texts = Vec::new();
    let mut errors = Vec::new();
    while let Some(item) = typed.next() {
        match item {
            Ok(text) => texts.push(text.to_owned()),
            Err(error) => errors.push(error),
        }
        assert!(
            texts.len() + errors.len() <= 10,
            "typed_messages() did not end"
        );
    }
    assert_eq!(texts, ["fine", "also fine"]);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(matches!(errors[0].kind(), ErrorKind::FlatBuffers(_)));
    assert!(errors[0].is_resumable());
    assert_eq!(errors[0].frame_index(), Some(1));
    assert!(errors[1].is_torn_tail());
    assert!(!errors[1].is_resumable());
    assert_eq!(errors[1].frame_index(), Some(3));
}

#[test]
fn the_buffered_reader_shows_what_it_read_ahead() {
    let stream = stream_of("crc32c", &[b"one", b"two", b"three"]);
    // A buffer of 16 bytes holds one 11-byte frame and part of the next.
    let mut reader = StreamReader::with_buffer_size(
        std::io::Cursor::new(stream.clone()),
        ChecksumDeframer::new(checksum_by_name("crc32c")),
        16,
    );
    assert_eq!(reader.read_message().unwrap(), Some(&b"one"[..]));
    assert_eq!(reader.position(), 11);
    let ahead = reader.get_ref().position() - reader.position();
    assert_eq!(ahead, reader.buffer().len() as u64);
    assert_eq!(reader.buffer(), &stream[11..16]);
    assert_eq!(reader.read_message().unwrap(), Some(&b"two"[..]));
    assert_eq!(reader.read_message().unwrap(), Some(&b"three"[..]));
    assert_eq!(reader.read_message().unwrap(), None);
    assert!(reader.buffer().is_empty());
    assert_eq!(reader.position(), stream.len() as u64);
}

/// A reader's `process_all`, called with the closure the test builds.
type ProcessAll<'r> = dyn FnMut(&mut dyn FnMut(&[u8]) -> flatstream_core::Result<()>) -> flatstream_core::Result<()>
    + 'r;
/// An error's frame index and offset.
type Located = (Option<u64>, Option<u64>);

/// `process_all` hands over the frames held in one run (the plain path): an error from the
/// closure still names the frame it was given, and reading goes on from the next one, in
/// every mode and with buffers that split the run anywhere.
#[test]
fn a_closure_error_in_a_run_of_frames_names_its_frame_in_every_mode() {
    let payloads: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; usize::from(i % 7) + 1]).collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let stream = stream_of("crc32c", &refs);
    let deframer = || ChecksumDeframer::new(checksum_by_name("crc32c"));
    let mut offsets = vec![0u64];
    for payload in &payloads {
        offsets.push(offsets.last().unwrap() + 8 + payload.len() as u64);
    }
    // Fails at frames 5 and 23; a second `process_all` goes on after each failure.
    let run = |process_all: &mut ProcessAll<'_>| {
        let mut seen = Vec::new();
        let mut errors = Vec::new();
        loop {
            let result = process_all(&mut |payload: &[u8]| {
                seen.push(payload.to_vec());
                if payload[0] == 5 || payload[0] == 23 {
                    return Err(Error::validation_failed("test", "refused"));
                }
                Ok(())
            });
            match result {
                Ok(()) => break,
                Err(error) => {
                    assert!(error.is_resumable(), "{error}");
                    errors.push((error.frame_index(), error.offset()));
                }
            }
        }
        (seen, errors)
    };
    let expected_errors = vec![(Some(5), Some(offsets[5])), (Some(23), Some(offsets[23]))];
    let check = |(seen, errors): (Vec<Vec<u8>>, Vec<Located>), what: &str| {
        assert_eq!(seen, payloads, "{what}");
        assert_eq!(errors, expected_errors, "{what}");
    };
    for buffer in [16, 50, 100, 4096] {
        let mut reader = StreamReader::with_buffer_size(stream.as_slice(), deframer(), buffer);
        check(
            run(&mut |f| reader.process_all(|p| f(p))),
            &format!("buffered {buffer}"),
        );
        assert_eq!(reader.position(), stream.len() as u64);
        let mut reader = StreamReader::in_place(
            std::io::BufReader::with_capacity(buffer, stream.as_slice()),
            deframer(),
        );
        check(
            run(&mut |f| reader.process_all(|p| f(p))),
            &format!("in place {buffer}"),
        );
        assert_eq!(reader.position(), stream.len() as u64);
    }
    let mut reader = StreamReader::unbuffered(stream.as_slice(), deframer());
    check(run(&mut |f| reader.process_all(|p| f(p))), "unbuffered");
    let mut reader = flatstream_io::SliceReader::new(&stream, deframer());
    check(run(&mut |f| reader.process_all(|p| f(p))), "slice");
}

/// A `Read` that claims to have read more bytes than it was given is refused with an
/// error, never trusted (nor a panic).
#[test]
fn a_read_that_claims_too_much_is_an_error() {
    struct Liar;
    impl Read for Liar {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            Ok(buf.len() + 10)
        }
    }
    let mut reader = StreamReader::new(Liar, ChecksumDeframer::new(checksum_by_name("none")));
    let error = reader.read_message().unwrap_err();
    assert!(
        // The first read, into the reader's first (1 KiB) buffer.
        error
            .to_string()
            .contains("returned 1034 bytes for a 1024-byte buffer"),
        "{error}"
    );
    assert_eq!(reader.position(), 0);
}

/// A source that fails with `Interrupted` now and then is read through, and one that fails
/// otherwise stops the reader at the last whole frame, naming the next.
#[test]
fn the_buffered_reader_retries_interrupted_reads_and_reports_other_errors() {
    struct Flaky<'a> {
        bytes: &'a [u8],
        calls: usize,
        fail_after: usize,
    }
    impl Read for Flaky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(2) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if !self.bytes.is_empty() && self.bytes.len() <= self.fail_after {
                return Err(io::Error::other("disk gone"));
            }
            let n = buf.len().min(7).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }
    let stream = stream_of("crc32c", &[b"one", b"two", b"three"]);
    let deframer = || ChecksumDeframer::new(checksum_by_name("crc32c"));
    let mut reader = StreamReader::new(
        Flaky {
            bytes: &stream,
            calls: 0,
            fail_after: 0,
        },
        deframer(),
    );
    let mut got = Vec::new();
    while let Some(payload) = reader.read_message().unwrap() {
        got.push(payload.to_vec());
    }
    assert_eq!(got, [&b"one"[..], b"two", b"three"]);
    // The source fails once 13 bytes remain: inside the third frame (which starts at 22).
    let mut reader = StreamReader::new(
        Flaky {
            bytes: &stream,
            calls: 0,
            fail_after: 13,
        },
        deframer(),
    );
    assert_eq!(reader.read_message().unwrap(), Some(&b"one"[..]));
    assert_eq!(reader.read_message().unwrap(), Some(&b"two"[..]));
    let error = reader.read_message().unwrap_err();
    assert!(error.to_string().contains("disk gone"), "{error}");
    assert_eq!((error.frame_index(), error.offset()), (Some(2), Some(22)));
    assert_eq!(reader.position(), 22);
    assert!(reader.read_message().is_err());
}

/// Reads to the end, showing each payload to the given function; returns the payloads.
type ReadAllWith<'r> = dyn FnMut(&mut dyn FnMut(&[u8])) -> Vec<Vec<u8>> + 'r;

/// A closure that panics in the middle of a run of frames, the panic caught: the reader
/// goes on after the frame that panicked, in every mode, and delivers none twice.
#[test]
fn a_panic_in_process_all_delivers_no_frame_twice() {
    let payloads: Vec<Vec<u8>> = (0..30u8).map(|i| vec![i; 9]).collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let stream = stream_of("crc32c", &refs);
    let deframer = || ChecksumDeframer::new(checksum_by_name("crc32c"));
    let check = |reader: &mut ReadAllWith<'_>, what: &str| {
        let mut seen = Vec::new();
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            reader(&mut |payload| {
                assert!(payload[0] != 7, "the seventh frame");
            })
        }));
        assert!(first.is_err(), "{what}: the panic reached the caller");
        seen.extend(reader(&mut |_| {}));
        let expected: Vec<Vec<u8>> = payloads[8..].to_vec();
        assert_eq!(seen, expected, "{what}");
    };
    for buffer in [16, 100, 4096] {
        let mut reader = StreamReader::with_buffer_size(stream.as_slice(), deframer(), buffer);
        check(
            &mut |f| seen_by_process_all(&mut reader, f),
            &format!("buffered {buffer}"),
        );
        let mut reader = StreamReader::in_place(
            std::io::BufReader::with_capacity(buffer, stream.as_slice()),
            deframer(),
        );
        check(
            &mut |f| seen_by_process_all(&mut reader, f),
            &format!("in place {buffer}"),
        );
    }
    let mut reader = flatstream_io::SliceReader::new(&stream, deframer());
    check(
        &mut |f| {
            let mut got = Vec::new();
            reader
                .process_all(|payload| {
                    f(payload);
                    got.push(payload.to_vec());
                    Ok(())
                })
                .unwrap();
            got
        },
        "slice",
    );
}

/// The payloads `process_all` hands over, each shown to `f` first.
fn seen_by_process_all<R, D: flatstream_core::Deframer, M: flatstream_io::ReadMode<R>>(
    reader: &mut StreamReader<R, D, M>,
    f: &mut dyn FnMut(&[u8]),
) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    reader
        .process_all(|payload| {
            f(payload);
            got.push(payload.to_vec());
            Ok(())
        })
        .unwrap();
    got
}

/// Runs of frames of one size broken by frames of others. The parse loops move to the next
/// frame by the last frame's length while the two agree (a branch the CPU predicts, instead
/// of a wait on the length just loaded) and must take the new length at every change; and
/// `process_all` keeps its counts in locals for a run of frames, written back when the run
/// ends, by an error or a panic from the closure too. In every mode, every payload comes out
/// once and in order, and the counts after an error or a panic name the frame it came from.
#[test]
fn frames_of_changing_sizes_are_counted_exactly() {
    let sizes = [
        8usize, 8, 8, 3, 3, 40, 8, 8, 0, 0, 17, 17, 17, 200, 8, 1, 1, 1, 1, 64,
    ];
    let payloads: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| vec![i as u8; n])
        .collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let stream = stream_of("crc32c", &refs);
    // Where each frame ends (8-byte header: length and CRC-32C).
    let ends: Vec<u64> = sizes
        .iter()
        .scan(0u64, |end, &n| {
            *end += 8 + n as u64;
            Some(*end)
        })
        .collect();
    assert_eq!(ends[sizes.len() - 1], stream.len() as u64);
    let check =
        |reader: &mut dyn AnyReader, what: &str| check_counts(reader, &payloads, &ends, what);
    let deframer = || ChecksumDeframer::new(checksum_by_name("crc32c"));
    check(
        &mut StreamReader::new(stream.as_slice(), deframer()),
        "buffered",
    );
    for buffer in [16, 64, 100, 4096] {
        let mut reader = StreamReader::with_buffer_size(stream.as_slice(), deframer(), buffer);
        check(&mut reader, &format!("buffered {buffer}"));
        let mut reader = StreamReader::in_place(
            std::io::BufReader::with_capacity(buffer, stream.as_slice()),
            deframer(),
        );
        check(&mut reader, &format!("in place {buffer}"));
    }
    check(
        &mut StreamReader::in_place(stream.as_slice(), deframer()),
        "in place",
    );
    check(
        &mut StreamReader::unbuffered(stream.as_slice(), deframer()),
        "unbuffered",
    );
    check(
        &mut flatstream_io::SliceReader::new(&stream, deframer()),
        "slice",
    );
}

/// [`frames_of_changing_sizes_are_counted_exactly`] for one reader: an error from the
/// closure at frame 5, a panic at frame 12, three frames one at a time, then the rest.
fn check_counts(reader: &mut dyn AnyReader, payloads: &[Vec<u8>], ends: &[u64], what: &str) {
    let (refused, panicked) = (5usize, 12usize);
    let sizes: Vec<usize> = payloads.iter().map(Vec::len).collect();
    let stream_len = ends[ends.len() - 1];
    // An error from the closure: located at its frame, reading goes on after it.
    let mut index = 0;
    let error = reader
        .process(&mut |payload| {
            assert_eq!(payload, payloads[index], "{what}: frame {index}");
            index += 1;
            if index - 1 == refused {
                return Err(Error::invalid_frame("refused by the caller"));
            }
            Ok(())
        })
        .unwrap_err();
    let refused_at = ends[refused] - (8 + sizes[refused] as u64);
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(refused as u64), Some(refused_at)),
        "{what}"
    );
    assert_eq!(
        reader.counts(),
        (refused as u64 + 1, ends[refused]),
        "{what}"
    );
    // A panic in the closure, caught: the counts include the frame it panicked on.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut index = refused + 1;
        reader.process(&mut |payload| {
            assert_eq!(payload, payloads[index], "{what}: frame {index}");
            assert!(index != panicked, "the frame that panics");
            index += 1;
            Ok(())
        })
    }));
    assert!(outcome.is_err(), "{what}: the panic reached the caller");
    assert_eq!(
        reader.counts(),
        (panicked as u64 + 1, ends[panicked]),
        "{what}"
    );
    // One frame at a time, then the rest in one call: every frame once, in order.
    for index in panicked + 1..panicked + 4 {
        assert_eq!(
            reader.next_payload().unwrap().as_ref(),
            Some(&payloads[index]),
            "{what}"
        );
        assert_eq!(reader.counts(), (index as u64 + 1, ends[index]), "{what}");
    }
    let mut index = panicked + 4;
    reader
        .process(&mut |payload| {
            assert_eq!(payload, payloads[index], "{what}: frame {index}");
            index += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(index, sizes.len(), "{what}");
    assert_eq!(reader.counts(), (sizes.len() as u64, stream_len), "{what}");
    assert_eq!(reader.next_payload().unwrap(), None, "{what}");
}
