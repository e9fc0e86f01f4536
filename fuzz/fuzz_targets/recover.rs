//! Recovery over arbitrary bytes: the reported `last_good_offset` lies on a frame boundary
//! (the bytes before it read back as exactly `frames` whole frames), and a torn tail is all
//! that follows it.
#![no_main]

mod common;

use flatstream::{ChecksumDeframer, SliceReader, StreamEnd, recover};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else { return };
    let (checksum, limit) = common::deframer_from(selector);
    let deframer = ChecksumDeframer::new(&*checksum).with_max_frame_len(limit);
    match recover(stream, deframer) {
        Ok(report) => {
            let good = &stream[..report.last_good_offset as usize];
            let frames = SliceReader::new(good, deframer).collect::<Result<Vec<_>, _>>();
            assert_eq!(frames.expect("the good prefix reads cleanly").len() as u64, report.frames);
            assert_eq!(report.last_good_offset + report.tail_len, stream.len() as u64);
            assert_eq!(report.end == StreamEnd::CleanEof, report.tail_len == 0);
        }
        Err(error) => {
            // Damage inside a frame: it is located at a frame boundary too.
            let offset = error.offset().expect("located") as usize;
            let frames = SliceReader::new(&stream[..offset], deframer).collect::<Result<Vec<_>, _>>();
            assert_eq!(frames.expect("the prefix reads cleanly").len() as u64, error.frame_index().unwrap());
        }
    }
});
