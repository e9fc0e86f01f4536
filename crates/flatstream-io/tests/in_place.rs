//! `StreamReader::in_place`: frames parsed where they lie in a `BufRead`'s buffer read the
//! same as frames copied through `Read`: same payloads, same errors at the same places, and
//! the source stands after the last frame delivered.

use std::io::{BufReader, Cursor, Read};

use flatstream_core::{Checksum, ErrorKind, FramePart};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DefaultDeframer, DeframerExt, StreamReader, StreamWriter,
};
use flatstream_validate::SizeValidator;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use crate::common::{ALGORITHMS, ScratchFile, ShortReads, checksum_by_name, drain};

fn encode(checksum: &dyn Checksum, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum));
    for payload in payloads {
        writer.write_payload(payload).unwrap();
    }
    writer.into_inner()
}

/// Every payload and every error of a log-and-continue loop over `messages()`, with the
/// position after each item.
type Items = Vec<(Result<Vec<u8>, String>, u64)>;

fn items<R, M>(mut reader: StreamReader<R, ChecksumDeframer<&dyn Checksum>, M>) -> Items
where
    M: flatstream_io::ReadMode<R>,
{
    let mut items = Vec::new();
    let mut messages = reader.messages();
    while let Some(item) = messages.next() {
        let item = item.map(<[u8]>::to_vec).map_err(|error| error.to_string());
        items.push(item);
        assert!(items.len() < 100, "did not end");
    }
    let position = reader.position();
    items.into_iter().map(|item| (item, position)).collect()
}

fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(256),
        rng_seed: RngSeed::Fixed(0x0069_6e70_6c61_6365),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any payloads, any buffer size (frames straddle it or not), any damage: in place and
    /// copied agree on every item, error and position.
    #[test]
    fn in_place_reads_as_copying_does(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..12),
        algorithm in 0..ALGORITHMS.len(),
        capacity in 1usize..300,
        flip in any::<Option<prop::sample::Index>>(),
        cut in any::<Option<prop::sample::Index>>(),
        limit in 50usize..400,
    ) {
        let checksum = checksum_by_name(ALGORITHMS[algorithm]);
        let checksum: &dyn Checksum = &*checksum;
        let mut stream = encode(checksum, &payloads);
        if let (Some(flip), false) = (flip, stream.is_empty()) {
            let at = flip.index(stream.len());
            stream[at] ^= 0x20;
        }
        if let (Some(cut), false) = (cut, stream.is_empty()) {
            stream.truncate(cut.index(stream.len()));
        }
        let deframer = || ChecksumDeframer::new(checksum).with_max_frame_len(limit);
        let copied = items(StreamReader::new(stream.as_slice(), deframer()));
        let buffered = BufReader::with_capacity(capacity, stream.as_slice());
        let in_place = items(StreamReader::in_place(buffered, deframer()));
        prop_assert_eq!(&in_place, &copied);
        let whole = items(StreamReader::in_place(Cursor::new(&stream[..]), deframer()));
        prop_assert_eq!(&whole, &copied);
    }
}

#[test]
fn frames_straddling_the_buffer_are_copied_and_the_rest_borrowed() {
    let payloads: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; usize::from(i) * 7]).collect();
    for name in ALGORITHMS {
        let checksum = checksum_by_name(name);
        let stream = encode(&*checksum, &payloads);
        let buffered = BufReader::with_capacity(256, stream.as_slice());
        let mut reader = StreamReader::in_place(buffered, ChecksumDeframer::new(&*checksum));
        let (read, end) = drain(|| reader.read_message().map(|p| p.map(<[u8]>::to_vec)));
        assert!(end.is_none(), "{name}: {end:?}");
        assert_eq!(read, payloads, "{name}");
        assert_eq!(reader.position(), stream.len() as u64);
        // Frames over 256 bytes never fit: only those went through the reader's buffer.
        assert!(reader.buffer_capacity() >= 257, "{name}");
    }
}

#[test]
fn source_stands_after_the_last_frame_delivered() {
    let stream = encode(
        &flatstream_core::NoChecksum,
        &[b"one".to_vec(), b"two".to_vec()],
    );
    let mut reader = StreamReader::in_place(Cursor::new(&stream[..]), DefaultDeframer::new());
    assert_eq!(reader.read_message().unwrap(), Some(&b"one"[..]));
    assert_eq!(reader.read_message().unwrap(), Some(&b"two"[..]));
    // The second payload still borrows the cursor's buffer until asked for the source.
    assert_eq!(reader.get_mut().position(), 14);
    assert_eq!(reader.read_message().unwrap(), None);
    let mut reader = StreamReader::in_place(Cursor::new(&stream[..]), DefaultDeframer::new());
    reader.read_message().unwrap();
    let mut rest = reader.into_inner();
    assert_eq!(rest.position(), 7);
    let mut tail = Vec::new();
    rest.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, stream[7..]);
}

#[test]
fn rejected_frames_are_consumed_and_reading_goes_on() {
    let payloads = [b"ok".to_vec(), vec![1; 40], b"ok again".to_vec()];
    let stream = encode(&flatstream_core::NoChecksum, &payloads);
    let deframer = DefaultDeframer::new().with_validator(SizeValidator::at_most(10));
    let mut reader = StreamReader::in_place(stream.as_slice(), deframer);
    assert_eq!(reader.read_message().unwrap(), Some(&b"ok"[..]));
    let error = reader.read_message().unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::ValidationFailed { .. }));
    assert!(error.is_resumable());
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(6)));
    assert_eq!(reader.read_message().unwrap(), Some(&b"ok again"[..]));
    assert_eq!(reader.read_message().unwrap(), None);
    assert_eq!(reader.frames_read(), 3);
}

#[test]
fn torn_tail_in_place_names_the_torn_part() {
    let stream = encode(
        &flatstream_core::NoChecksum,
        &[b"whole".to_vec(), vec![9; 30]],
    );
    let cut = &stream[..stream.len() - 10];
    let mut reader = StreamReader::in_place(cut, DefaultDeframer::new());
    assert_eq!(reader.read_message().unwrap(), Some(&b"whole"[..]));
    let error = reader.read_message().unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::UnexpectedEof {
            part: FramePart::Payload,
            needed: 30,
            got: 20
        }
    ));
    assert_eq!(error.offset(), Some(9));
    assert!(reader.messages().next().is_none());
}

#[test]
fn interrupted_and_short_reads_behind_a_buffer() {
    let payloads: Vec<Vec<u8>> = (0..30u8).map(|i| vec![i; usize::from(i) * 3]).collect();
    let checksum = checksum_by_name("crc32c");
    let stream = encode(&*checksum, &payloads);
    let source = BufReader::with_capacity(64, ShortReads::new(&stream, 5));
    let mut reader = StreamReader::in_place(source, ChecksumDeframer::new(&*checksum));
    let (read, end) = drain(|| reader.read_message().map(|p| p.map(<[u8]>::to_vec)));
    assert!(end.is_none(), "{end:?}");
    assert_eq!(read, payloads);
}

/// `from_path` reads the file through its own buffer (the mode of `new`), frames parsed
/// where they lie there.
#[test]
fn from_path_reads_in_place_in_its_buffer() {
    let path = ScratchFile::new("in-place");
    let payloads: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 100]).collect();
    std::fs::write(&path, encode(&flatstream_core::NoChecksum, &payloads)).unwrap();
    let mut reader: StreamReader<std::fs::File, _, flatstream_io::Buffered> =
        StreamReader::from_path(&path, DefaultDeframer::new()).unwrap();
    let mut count = 0;
    reader
        .process_all(|payload| {
            assert_eq!(payload, payloads[count]);
            count += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(count, 100);

    // Frames across its 256 KiB buffer's end and one larger than the buffer, then a torn
    // tail: every payload, then the tail reported where the last good frame ended, and the
    // bytes after that position given back by `into_parts` with the file.
    let payloads: Vec<Vec<u8>> = (0..40u32)
        .map(|i| vec![i as u8; [100, 30_000, 7, 300_000][i as usize % 4]])
        .collect();
    let mut bytes = encode(&flatstream_core::NoChecksum, &payloads);
    let good_len = bytes.len() as u64;
    bytes.extend_from_slice(&50u32.to_le_bytes());
    bytes.extend_from_slice(&[1; 20]);
    std::fs::write(&path, &bytes).unwrap();
    let mut reader = StreamReader::from_path(&path, DefaultDeframer::new()).unwrap();
    for (i, expected) in payloads.iter().enumerate() {
        assert_eq!(
            reader.read_message().unwrap(),
            Some(&expected[..]),
            "frame {i}"
        );
    }
    let error = reader.read_message().unwrap_err();
    assert!(error.is_torn_tail(), "{error}");
    assert_eq!((reader.frames_read(), reader.position()), (40, good_len));
    let (mut file, mut rest) = reader.into_parts();
    file.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, bytes[good_len as usize..]);
    std::fs::remove_file(&path).unwrap();
}
