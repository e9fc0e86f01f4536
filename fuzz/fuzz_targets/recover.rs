//! Recovery over arbitrary bytes: the reported `last_good_offset` lies on a frame boundary
//! (the bytes before it read back as exactly `frames` whole frames), and what follows it is
//! the tail the report names: nothing (a clean end), a frame torn in the reported part, or a
//! run of at least `ZERO_FILL_MIN_LEN` zeros reaching the end. Damage (a failed frame, zero
//! fill mid-stream, an intact frame after what looked like a torn tail) is an error located
//! at the frame where it begins. The `recovery` target checks what the tail may not hold.
#![no_main]

mod common;

use flatstream::wire::split_frame;
use flatstream::{ChecksumDeframer, ErrorKind, SliceReader, StreamEnd, ZERO_FILL_MIN_LEN, recover};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let (checksum, limit) = common::deframer_from(selector);
    let deframer = ChecksumDeframer::new(&*checksum).with_max_frame_len(limit);
    match recover(stream, deframer) {
        Ok(report) => {
            let good = &stream[..report.last_good_offset as usize];
            let frames = SliceReader::new(good, deframer).collect::<Result<Vec<_>, _>>();
            assert_eq!(
                frames.expect("the good prefix reads cleanly").len() as u64,
                report.frames
            );
            assert_eq!(
                report.last_good_offset + report.tail_len,
                stream.len() as u64
            );
            assert!(!report.truncated, "recover on a reader cuts nothing");
            let tail = &stream[report.last_good_offset as usize..];
            match report.end {
                StreamEnd::CleanEof => assert!(tail.is_empty(), "{report:?}"),
                StreamEnd::TornTail { part } => {
                    let error = split_frame(tail, &*checksum, limit).expect_err("a torn tail");
                    assert!(
                        matches!(error.kind(), ErrorKind::UnexpectedEof { part: torn, .. } if *torn == part),
                        "the tail is torn in the reported part: {error}, {report:?}"
                    );
                }
                StreamEnd::ZeroFilledTail => {
                    let zeros = tail.iter().rev().take_while(|byte| **byte == 0).count();
                    assert!(
                        zeros >= ZERO_FILL_MIN_LEN,
                        "{zeros} zeros end the tail: {report:?}"
                    );
                }
            }
        }
        Err(error) => {
            // Damage inside the stream: it is located at a frame boundary too.
            let offset = error.offset().expect("located") as usize;
            let frames =
                SliceReader::new(&stream[..offset], deframer).collect::<Result<Vec<_>, _>>();
            assert_eq!(
                frames.expect("the prefix reads cleanly").len() as u64,
                error.frame_index().unwrap()
            );
            if let ErrorKind::ZeroFilled { len } = *error.kind() {
                assert!(len >= ZERO_FILL_MIN_LEN as u64, "{error}");
                let zeros = stream
                    .get(offset..offset + len as usize)
                    .expect("the run lies in the input");
                assert!(zeros.iter().all(|byte| *byte == 0), "{error}");
            }
        }
    }
});
