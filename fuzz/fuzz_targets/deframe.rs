//! Every deframer over arbitrary bytes: the blocking readers (`new`, which reads bytes in
//! memory where they lie; buffered, with the default buffer and a small one; unbuffered)
//! and the slice reader agree exactly, one frame at a time and through `process_all` (with
//! the in-place reader over a small `BufReader` too), and what they deliver re-encodes to
//! exactly the input's prefix up to where reading stopped.
#![no_main]

mod common;

use flatstream::{
    ChecksumDeframer, ChecksumFramer, Deframer, ReadMode, SliceReader, StreamReader, StreamWriter,
};
use libfuzzer_sys::fuzz_target;

/// Payloads, the error's text and the final position of a blocking reader read to its end.
fn drain<R, D: Deframer, M: ReadMode<R>>(
    mut reader: StreamReader<R, D, M>,
) -> (Vec<Vec<u8>>, Option<String>, u64) {
    let mut payloads = Vec::new();
    let error = loop {
        match reader.read_message() {
            Ok(Some(payload)) => payloads.push(payload.to_vec()),
            Ok(None) => break None,
            Err(error) => break Some(error.to_string()),
        }
    };
    (payloads, error, reader.position())
}

/// The same through `process_all`, which stops at the first error.
fn drain_all<R, D: Deframer, M: ReadMode<R>>(
    mut reader: StreamReader<R, D, M>,
) -> (Vec<Vec<u8>>, Option<String>, u64) {
    let (payloads, error) = collect_all(|each| reader.process_all(each));
    (payloads, error, reader.position())
}

/// The closure a `process_all` call takes.
type Each<'a> = &'a mut dyn FnMut(&[u8]) -> flatstream::Result<()>;

/// The payloads one `process_all` call hands its closure, and the text of its error.
fn collect_all(
    process_all: impl FnOnce(Each<'_>) -> flatstream::Result<()>,
) -> (Vec<Vec<u8>>, Option<String>) {
    let mut payloads = Vec::new();
    let error = process_all(&mut |payload| {
        payloads.push(payload.to_vec());
        Ok(())
    })
    .err()
    .map(|error| error.to_string());
    (payloads, error)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let (checksum, limit) = common::deframer_from(selector);
    let deframer = ChecksumDeframer::new(&*checksum).with_max_frame_len(limit);

    let mut reader = StreamReader::new(stream, deframer);
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    let error = loop {
        match reader.read_message() {
            Ok(Some(payload)) => payloads.push(payload.to_vec()),
            Ok(None) => break None,
            Err(error) => break Some(error),
        }
    };
    // Through a small buffer (frames straddle it, or do not fit), and one frame at a time:
    // the same payloads, error text and position.
    let small = 16 + usize::from(selector) % 50;
    let expected = (
        payloads.clone(),
        error.as_ref().map(ToString::to_string),
        reader.position(),
    );
    // `new` reads these bytes where they lie; the default buffer reads them through it.
    let default_buffer = drain(StreamReader::with_buffer_size(
        stream,
        deframer,
        flatstream::DEFAULT_BUFFER_SIZE,
    ));
    assert_eq!(default_buffer, expected, "the default buffer disagrees");
    let small_buffer = drain(StreamReader::with_buffer_size(stream, deframer, small));
    assert_eq!(
        small_buffer, expected,
        "a buffer of {small} bytes disagrees"
    );
    assert_eq!(
        drain(StreamReader::unbuffered(stream, deframer)),
        expected,
        "unbuffered disagrees"
    );
    assert_eq!(
        drain_all(StreamReader::new(stream, deframer)),
        expected,
        "process_all disagrees"
    );
    assert_eq!(
        drain_all(StreamReader::with_buffer_size(stream, deframer, small)),
        expected,
        "process_all through a buffer of {small} bytes disagrees"
    );
    let in_place =
        StreamReader::in_place(std::io::BufReader::with_capacity(small, stream), deframer);
    assert_eq!(
        drain_all(in_place),
        expected,
        "process_all in place disagrees"
    );
    let mut slice = SliceReader::new(stream, deframer);
    let mut borrowed = Vec::new();
    let slice_error = loop {
        match slice.read_message() {
            Ok(Some(payload)) => borrowed.push(payload),
            Ok(None) => break None,
            Err(error) => break Some(error),
        }
    };
    assert!(
        borrowed.iter().eq(payloads.iter()),
        "readers disagree on payloads"
    );
    let mut slice_all = SliceReader::new(stream, deframer);
    let (all, all_error) = collect_all(|each| slice_all.process_all(each));
    assert_eq!(
        (all, all_error, slice_all.position()),
        expected,
        "the slice reader's process_all disagrees"
    );
    assert_eq!(
        error.as_ref().map(ToString::to_string),
        slice_error.as_ref().map(ToString::to_string),
        "readers disagree on the error"
    );
    let good_end = match &error {
        Some(error) => error.offset().expect("reader errors carry an offset"),
        None => reader.position(),
    };
    assert!(good_end as usize <= stream.len());
    if error.is_none() {
        assert_eq!(
            good_end as usize,
            stream.len(),
            "a clean end consumes everything"
        );
    }
    // What was delivered re-encodes to exactly the bytes it came from.
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(&*checksum));
    for payload in &payloads {
        writer.write_payload(payload).unwrap();
    }
    assert_eq!(writer.get_ref().as_slice(), &stream[..good_end as usize]);
    // Nothing delivered is over the limit.
    assert!(payloads.iter().all(|payload| payload.len() <= limit));
});
