//! The tokio decoder fed arbitrary bytes in arbitrary chunks yields exactly the frames and
//! the errors of the blocking reader, going on after the same (resumable) errors and
//! stopping at the same one.
#![no_main]

mod common;

use bytes::BytesMut;
use flatstream::{ChecksumDeframer, FlatstreamCodec, StreamReader};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Some((&chunk, stream)) = rest.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let (checksum, limit) = common::deframer_from(selector);

    let mut reader = StreamReader::new(stream, ChecksumDeframer::new(&*checksum).with_max_frame_len(limit));
    let mut expected = Vec::new();
    let expected_error = loop {
        match reader.read_message() {
            Ok(Some(payload)) => expected.push(Ok(payload.to_vec())),
            Ok(None) => break None,
            Err(error) if error.is_resumable() => expected.push(Err(error.to_string())),
            Err(error) => break Some(error.to_string()),
        }
    };

    let mut codec = FlatstreamCodec::new(&*checksum).with_max_frame_len(limit);
    let mut buffer = BytesMut::new();
    let mut decoded = Vec::new();
    let mut error = None;
    let mut pieces = stream.chunks(chunk).peekable();
    'feed: while let Some(piece) = pieces.next() {
        buffer.extend_from_slice(piece);
        let at_end = pieces.peek().is_none();
        loop {
            let result = if at_end { codec.decode_eof(&mut buffer) } else { codec.decode(&mut buffer) };
            match result {
                Ok(Some(payload)) => decoded.push(Ok(payload.to_vec())),
                Ok(None) => break,
                Err(failure) if failure.is_resumable() => decoded.push(Err(failure.to_string())),
                Err(failure) => {
                    error = Some(failure.to_string());
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(decoded, expected);
    assert_eq!(error, expected_error);
    assert_eq!(codec.decoded_bytes(), reader.position());
});
