//! Salvage over arbitrary bytes: the output is a clean stream of exactly the frames it
//! reports, every kept payload verifies, and skipped ranges are ordered, disjoint and inside
//! the input.
#![no_main]

mod common;

use flatstream::{ChecksumDeframer, SliceReader, salvage_slice};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else { return };
    let (checksum, limit) = common::deframer_from(selector);
    let deframer = ChecksumDeframer::new(&*checksum).with_max_frame_len(limit);
    let mut output = Vec::new();
    let Ok(report) = salvage_slice(stream, deframer, &mut output) else {
        // Only refused for damage without a checksum.
        assert_eq!(checksum.size(), 0);
        return;
    };
    assert_eq!(report.bytes_written, output.len() as u64);
    let frames = SliceReader::new(&output, deframer).collect::<Result<Vec<_>, _>>();
    assert_eq!(frames.expect("salvaged output is clean").len() as u64, report.frames);
    let mut previous_end = 0;
    for range in &report.skipped {
        assert!(range.start >= previous_end && range.start < range.end);
        assert!(range.end <= stream.len() as u64);
        previous_end = range.end;
    }
});
