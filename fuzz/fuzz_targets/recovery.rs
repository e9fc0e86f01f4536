//! Issue 11's invariants over arbitrary bytes, together:
//!
//! - `recover` never removes a byte of a frame that verifies: a tail it may cut (`unproven`
//!   is `None`) holds no position where a frame with a non-empty, not all-zero payload
//!   verifies; the kept prefix reads as exactly `frames` frames.
//! - `salvage_slice` invents nothing: its output is a clean stream whose every frame is, byte
//!   for byte, a frame that verifies in the input outside the skipped ranges, in order; the
//!   skipped and zero-filled ranges are ordered, disjoint and in bounds, and each zero-filled
//!   range is all zeros inside a skipped range.
//! - `detect_checksum` never panics; a checksum it names verifies as many frames (that zero
//!   fill could not have left) as it says, anywhere in the input, and "none" reads the input
//!   to its end.
#![no_main]

mod common;

use flatstream::wire::split_frame;
use flatstream::{
    Checksum, ChecksumDeframer, SliceReader, StreamEnd, ZERO_FILL_MIN_LEN,
    detect_checksum_with_limit, recover, salvage_slice,
};
use libfuzzer_sys::fuzz_target;

/// Checksummed bytes the reference scan of a tail may spend. Inputs are at most 64 KiB, so
/// only input built to hold a long frame at nearly every position comes near it; past it the
/// scan gives up rather than turn one execution into seconds.
const SCAN_BUDGET: usize = 64 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let (checksum, limit) = common::deframer_from(selector);
    check_recover(stream, &*checksum, limit);
    check_salvage(stream, &*checksum, limit);
    check_detect(stream, limit);
});

fn check_recover(stream: &[u8], checksum: &dyn Checksum, limit: usize) {
    let deframer = ChecksumDeframer::new(checksum).with_max_frame_len(limit);
    let report = match recover(stream, deframer) {
        Ok(report) => report,
        Err(error) => {
            // Damage (including zero fill and "an intact frame follows") is located at the
            // frame where it begins: the bytes before it read cleanly as the frames before it.
            let offset = error.offset().expect("recover errors carry an offset") as usize;
            assert!(offset <= stream.len());
            let frames =
                SliceReader::new(&stream[..offset], deframer).collect::<Result<Vec<_>, _>>();
            assert_eq!(
                frames
                    .expect("the bytes before the damage read cleanly")
                    .len() as u64,
                error
                    .frame_index()
                    .expect("recover errors carry a frame index"),
                "the error's frame index counts the frames before it ({error})"
            );
            return;
        }
    };
    let good_end = report.last_good_offset as usize;
    assert_eq!(
        report.last_good_offset + report.tail_len,
        stream.len() as u64,
        "{report:?}"
    );
    assert!(!report.truncated, "recover on a reader cuts nothing");
    let frames = SliceReader::new(&stream[..good_end], deframer).collect::<Result<Vec<_>, _>>();
    assert_eq!(
        frames.expect("the kept prefix reads cleanly").len() as u64,
        report.frames
    );
    if report.tail_len == 0 {
        assert_eq!(report.end, StreamEnd::CleanEof);
        return;
    }
    // Without a checksum nothing verifies (any plausible length parses): the promise there
    // is the tail's length, which the io crate's property test holds.
    if checksum.size() > 0
        && let Some(at) = verifying_frame_in(stream, good_end, checksum, limit)
    {
        // The invariant: a tail that recover_file would cut with Truncate::Yes holds
        // nothing that verifies.
        assert!(
            report.unproven.is_some(),
            "recover would cut a frame that verifies at offset {at}: {report:?}"
        );
        // And Truncate::Force promises never to cut one either: only a tail the work budget
        // could not search may hide one.
        let reason = report.unproven.as_deref().unwrap_or_default();
        assert!(
            reason.contains("too costly"),
            "a frame verifies at offset {at} in a tail reported as torn ({reason}): {report:?}"
        );
    }
    let tail = &stream[good_end..];
    match report.end {
        StreamEnd::CleanEof => panic!("a clean end leaves no tail: {report:?}"),
        StreamEnd::TornTail { part } => {
            let error = split_frame(tail, checksum, limit).expect_err("a torn tail does not parse");
            assert!(
                error.is_torn_tail(),
                "the tail is torn, not damaged: {error}"
            );
            assert!(
                matches!(error.kind(), flatstream::ErrorKind::UnexpectedEof { part: torn, .. } if *torn == part),
                "the tail is torn in the reported part: {error}, {report:?}"
            );
        }
        StreamEnd::ZeroFilledTail => {
            // At least the last ZERO_FILL_MIN_LEN bytes are zeros (the run may begin inside the
            // last frame, whose checksum then fails).
            let zeros = tail.iter().rev().take_while(|byte| **byte == 0).count();
            assert!(
                zeros >= ZERO_FILL_MIN_LEN,
                "a zero-filled tail ends in {zeros} zeros: {report:?}"
            );
        }
    }
}

/// The first position at or after `from` where a frame with a non-empty, not all-zero
/// payload verifies, if the scan's budget reaches it.
fn verifying_frame_in(
    stream: &[u8],
    from: usize,
    checksum: &dyn Checksum,
    limit: usize,
) -> Option<usize> {
    let header_len = 4 + checksum.size();
    let mut budget = SCAN_BUDGET;
    for position in from..stream.len() {
        let rest = &stream[position..];
        let Some(length) = rest.get(..4) else { break };
        let payload_len = u32::from_le_bytes(length.try_into().unwrap()) as usize;
        if payload_len == 0 || payload_len > limit || header_len + payload_len > rest.len() {
            continue;
        }
        if rest[header_len..header_len + payload_len]
            .iter()
            .all(|byte| *byte == 0)
        {
            continue;
        }
        let Some(left) = budget.checked_sub(payload_len) else {
            return None;
        };
        budget = left;
        if let Ok(Some(frame)) = split_frame(rest, checksum, limit) {
            assert!(!frame.payload.is_empty());
            return Some(position);
        }
    }
    None
}

fn check_salvage(stream: &[u8], checksum: &dyn Checksum, limit: usize) {
    let deframer = ChecksumDeframer::new(checksum).with_max_frame_len(limit);
    let mut output = Vec::new();
    let report = match salvage_slice(stream, deframer, &mut output) {
        Ok(report) => report,
        Err(error) => {
            assert_eq!(
                checksum.size(),
                0,
                "only refused without a checksum: {error}"
            );
            return;
        }
    };
    assert_eq!(report.bytes_written, output.len() as u64);
    assert_eq!(report.input_len, stream.len() as u64);
    let frames = SliceReader::new(&output, deframer).collect::<Result<Vec<_>, _>>();
    assert_eq!(
        frames.expect("salvaged output is clean").len() as u64,
        report.frames
    );

    let mut previous_end = 0;
    for range in &report.skipped {
        assert!(
            range.start >= previous_end && range.start < range.end,
            "{:?}",
            report.skipped
        );
        assert!(range.end <= stream.len() as u64, "{:?}", report.skipped);
        previous_end = range.end;
    }
    let mut previous_end = 0;
    for range in &report.zero_filled {
        assert!(
            range.start >= previous_end && range.start < range.end,
            "{:?}",
            report.zero_filled
        );
        assert!(
            range.end - range.start >= ZERO_FILL_MIN_LEN as u64,
            "{range:?}"
        );
        assert!(
            report
                .skipped
                .iter()
                .any(|skipped| skipped.start <= range.start && range.end <= skipped.end),
            "zero fill {range:?} lies inside a skipped range: {:?}",
            report.skipped
        );
        assert!(
            stream[range.start as usize..range.end as usize]
                .iter()
                .all(|byte| *byte == 0),
            "zero fill {range:?} is all zeros"
        );
        previous_end = range.end;
    }

    // Salvage invents nothing: walking the input outside the skipped ranges meets, in order,
    // exactly the output's frames, each one verifying where it lies (a frame is rewritten with
    // the checksum it verified under, so its bytes are the same), then a torn tail or the end.
    let mut position = 0usize;
    let mut skipped = report.skipped.iter().peekable();
    let mut written = &output[..];
    let mut skip_damage = |position: &mut usize| {
        while let Some(range) = skipped.next_if(|range| range.start as usize == *position) {
            *position = range.end as usize;
        }
    };
    while !written.is_empty() {
        skip_damage(&mut position);
        let kept = split_frame(written, checksum, limit)
            .expect("salvaged output is clean")
            .expect("a frame");
        let source = split_frame(&stream[position..], checksum, limit);
        let Ok(Some(source)) = source else {
            panic!(
                "salvage kept a frame that does not verify at input offset {position}: {source:?}"
            );
        };
        assert_eq!(
            &stream[position..position + source.len],
            &written[..kept.len],
            "salvage kept a frame other than the input's at offset {position}"
        );
        position += source.len;
        written = &written[kept.len..];
    }
    skip_damage(&mut position);
    assert!(
        skipped.next().is_none(),
        "every skipped range lies between kept frames"
    );
    match report.end {
        StreamEnd::TornTail { part } => {
            let error = split_frame(&stream[position..], checksum, limit).expect_err("a torn tail");
            assert!(
                matches!(error.kind(), flatstream::ErrorKind::UnexpectedEof { part: torn, .. } if *torn == part),
                "salvage's torn tail at {position} is torn in the reported part: {error}"
            );
        }
        _ => assert_eq!(
            position,
            stream.len(),
            "salvage accounts for every input byte"
        ),
    }
}

fn check_detect(stream: &[u8], limit: usize) {
    let Ok(detected) = detect_checksum_with_limit(stream, limit) else {
        return;
    };
    let checksum = detected.checksum.checksum();
    let deframer = ChecksumDeframer::new(&*checksum).with_max_frame_len(limit);
    let frames = if checksum.size() > 0 {
        // A checksum is named for the frames that verify under it anywhere in the input,
        // past damage as salvage finds them, and that zero fill could not have left: bytes
        // after the length field not all zero (a payload with data, or a checksum that is
        // not zero: an empty frame under XXH3, zeros under CRC-32).
        let mut kept = Vec::new();
        salvage_slice(stream, deframer, &mut kept).expect("salvage with a checksum");
        SliceReader::new(&kept, deframer)
            .take(flatstream::DETECT_FRAMES as usize)
            .filter_map(Result::ok)
            .filter(|payload| {
                payload.iter().any(|byte| *byte != 0) || checksum.calculate(payload) != 0
            })
            .count() as u64
    } else {
        // "none" is named only for input that reads frame after frame to its end (or a
        // torn end: the input may be the start of a stream).
        let mut reader = SliceReader::new(stream, deframer);
        let mut frames = 0;
        for _ in 0..flatstream::DETECT_FRAMES {
            match reader.read_message() {
                Ok(Some(_)) => frames += 1,
                Ok(None) => break,
                Err(error) => {
                    assert!(
                        error.is_torn_tail(),
                        "\"none\" is named only for input that parses cleanly: {error}"
                    );
                    break;
                }
            }
        }
        frames
    };
    assert_eq!(
        frames, detected.frames_checked,
        "detect_checksum named {}",
        detected.checksum
    );
    assert!(
        frames > 0,
        "an algorithm is named only when a frame (with data, under a checksum) reads"
    );
}
