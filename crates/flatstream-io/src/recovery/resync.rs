//! Finding where intact frames begin again after damage: shared by `salvage` (to step over
//! damage) and `recover` (to prove that a tail it would cut holds no intact frame).
//!
//! A *candidate* is a position whose length field describes a frame that fits in the input.
//! Checking one means checksumming its payload, so a naive search costs up to
//! `max_frame_len` bytes per position: quadratic on input that is not frames at all (random
//! bytes, a foreign file). The search here costs O(input) whatever the input:
//!
//! - salvage first looks for the next trustworthy frame like the ones already seen: no
//!   longer than twice the largest payload seen, clamped to 256 bytes .. 64 KiB (*near*
//!   candidates), under a budget of `64 MiB + 16 × input` bytes of its own. Damage whose
//!   length fields describe larger frames (foreign binary data, tables of small integers)
//!   cannot spend it, so the frames after one damaged region are found whatever the region
//!   cost; that is the first *anchor*;
//! - then, before that anchor only, for the other candidates of at most 64 KiB (a budget of
//!   `64 MiB + 16 × input`), the earliest becoming the anchor; then for larger frames before
//!   the anchor. A large candidate whose chain of headers lands exactly on the anchor (or
//!   the end) is checked first, under its own budget of `64 MiB + 16 × input` bytes: real
//!   frames do, random bytes almost never. Any other candidate over 64 KiB must be followed
//!   by two plausible headers (the end, a torn tail or a length within the limit; one random
//!   length in 64 is, under the default limit); last, before whatever was found, the large
//!   candidates those filters passed over (a large frame with damage right after it) that end
//!   before it or on the chain of headers from it (a frame whose payload holds frames) are
//!   checked under a budget of their own, `64 MiB + 4 × input`. The chain walked is kept, so
//!   that many damaged regions on one chain cost one walk;
//! - under a 2-byte checksum (CRC-16) a match is a chance once in 65 536: salvage trusts one
//!   only when another intact frame, a torn tail or the end follows it, or its payload is
//!   frames end to end, and counts the others (*unconfirmed*: an intact frame between two
//!   damaged regions is one);
//! - outside salvage's near pass, candidates no longer than `max(2 × the largest payload
//!   seen, 64 KiB)` (*small*) are checked against a budget of `64 MiB + 16 × input`
//!   checksummed bytes; larger ones share a budget of `64 MiB + 4 × input` bytes.
//!
//! `recover` must never cut a frame that verifies, whatever follows it, so it takes the
//! filters only for a cheap first pass; if that finds nothing, a second pass checks every
//! candidate, as far as the budget goes.
//!
//! A candidate the budget cannot pay for is *unchecked*: counted, never trusted. `salvage`
//! reports the count; `recover` refuses to call a tail torn while any candidate in it went
//! unchecked.

use flatstream_core::Deframer;
use flatstream_core::wire::LENGTH_LEN;

/// A run of at least this many zero bytes that reads as empty frames is zero-filled damage,
/// not data.
pub const ZERO_FILL_MIN_LEN: usize = 64;

/// Payloads up to this size are always worth checking after damage.
const SMALL_FLOOR: usize = 64 * 1024;
/// The smallest limit of salvage's near pass (frames like the ones seen), before any frame
/// was seen.
const NEAR_FLOOR: usize = 256;
/// Frames of the chain of headers walked from a position found after damage: a payload
/// holding up to this many frames is recognised around them.
const CHAIN_HOPS: usize = 1 << 20;
/// Frames of the chain of headers after a large candidate that may lead to its target.
const LANDING_HOPS: usize = 64;
/// Checksummed bytes every search may spend before the per-byte allowance.
const BASE_BUDGET: u64 = 64 * 1024 * 1024;
const SMALL_PER_INPUT_BYTE: u64 = 16;
const LARGE_PER_INPUT_BYTE: u64 = 4;

/// The resync search, with its budgets; one per salvage run or tail scan.
#[derive(Debug)]
pub(crate) struct Resync {
    header_len: usize,
    checksum_len: usize,
    max_frame_len: usize,
    /// Salvage's shortcuts: a large candidate must be followed by a plausible header before
    /// it is checked, and with a 2-byte checksum a match must be followed by another intact
    /// frame. `recover` takes neither: it must never cut a frame that verifies, whatever
    /// follows it, so for it any match is evidence.
    salvaging: bool,
    largest_payload_seen: usize,
    /// Salvage's near pass: frames like the ones seen, out of reach of larger candidates.
    near_budget: u64,
    small_budget: u64,
    large_budget: u64,
    /// For large candidates whose chain of headers lands exactly on the next small intact
    /// frame (or the end): real frames do, random bytes almost never.
    anchored_budget: u64,
    /// Salvage's last pass: large candidates that neither land on the anchor nor are
    /// followed by plausible headers (a large frame with damage right after it).
    unfiltered_budget: u64,
    /// The last chain of frame headers walked (its header positions, ascending) and where it
    /// broke: a later search from a position on it reuses the walk, so that damage which
    /// leaves the lengths intact (a flipped payload byte in every other frame) does not
    /// cost a walk to the end of the input per damaged frame.
    chain: Vec<usize>,
    chain_break: usize,
    /// The positions walked from the last search's start until they joined `chain`
    /// (ascending): damage that makes a frame cover the next one starts a walk off the kept
    /// chain that joins it a frame later.
    branch: Vec<usize>,
    /// Header positions walked in all: the walks' work, which tests hold to the input.
    walked: u64,
    /// Candidates the budget could not pay for.
    pub(crate) unchecked: u64,
    /// Candidates that verified under a checksum narrower than 4 bytes but were not
    /// followed by an intact frame, a torn tail or the end: possibly chance matches (1 in
    /// 65 536), not trusted.
    pub(crate) unconfirmed: u64,
}

impl Resync {
    pub(crate) fn new(
        input_len: usize,
        checksum_len: usize,
        max_frame_len: usize,
        salvaging: bool,
    ) -> Self {
        let input_len = input_len as u64;
        // Each search's allowance: a base, and so many checksummed bytes per input byte.
        let budget = |per_input_byte: u64| {
            BASE_BUDGET.saturating_add(input_len.saturating_mul(per_input_byte))
        };
        Resync {
            header_len: LENGTH_LEN + checksum_len,
            checksum_len,
            max_frame_len,
            salvaging,
            largest_payload_seen: 0,
            near_budget: budget(SMALL_PER_INPUT_BYTE),
            small_budget: budget(SMALL_PER_INPUT_BYTE),
            large_budget: budget(LARGE_PER_INPUT_BYTE),
            anchored_budget: budget(SMALL_PER_INPUT_BYTE),
            unfiltered_budget: budget(LARGE_PER_INPUT_BYTE),
            chain: Vec::new(),
            chain_break: 0,
            branch: Vec::new(),
            walked: 0,
            unchecked: 0,
            unconfirmed: 0,
        }
    }

    /// Records an intact frame's payload length: frames like it are cheap to look for.
    pub(crate) fn saw_payload(&mut self, payload_len: usize) {
        self.largest_payload_seen = self.largest_payload_seen.max(payload_len);
    }

    /// The first position in `from..input.len()` where a trustworthy frame begins: one that
    /// verifies, whose payload is not empty and whose checksum and payload are not all zero
    /// bytes. When salvaging, a
    /// candidate over 64 KiB must also be followed by a plausible header, and with a checksum
    /// narrower than 4 bytes (a chance match in 65 536) a match must be followed by another
    /// intact frame, a torn tail or the end. When proving (`recover`), a first pass with those
    /// filters looks for the likely frames cheaply; if it finds none, a second checks every
    /// candidate, as far as the budget goes. `on_progress` hears the position now and then.
    pub(crate) fn find<D: Deframer>(
        &mut self,
        input: &[u8],
        from: usize,
        deframer: &mut D,
        on_progress: &mut dyn FnMut(u64),
    ) -> Option<usize> {
        if self.salvaging {
            // The anchor: the first intact frame like the ones seen (cheap to look for, and
            // under a budget that larger candidates in the damage cannot spend), or an
            // earlier one of at most 64 KiB. Then the larger frames before it, those whose
            // chain of headers lands exactly on the anchor (or on the end) first: a real
            // frame's does.
            let near_limit = self
                .largest_payload_seen
                .saturating_mul(2)
                .clamp(NEAR_FLOOR, SMALL_FLOOR)
                .min(self.max_frame_len);
            let near = self.pass(
                input,
                from,
                deframer,
                Which::Near { limit: near_limit },
                on_progress,
            );
            let near_end = near.unwrap_or(input.len());
            let small = if near_limit < SMALL_FLOOR.min(self.max_frame_len) {
                let which = Which::Small {
                    above: near_limit,
                    end: near_end,
                };
                self.pass(input, from, deframer, which, on_progress)
            } else {
                None
            };
            let anchor = small.or(near);
            let target = anchor.unwrap_or(input.len());
            let large = self.pass(input, from, deframer, Which::Large { target }, on_progress);
            let found = large.filter(|large| *large < target).or(anchor);
            // Last, before whatever was found: the large candidates the filters passed over
            // unchecked (a large frame with damage right after it), under a budget of their
            // own: those that end before it, and those that end on the chain of headers from
            // it (a large frame whose payload holds frames, found inside it).
            let before = found.unwrap_or(input.len());
            self.walk_chain(input, before);
            let which = Which::LargeUnfiltered { target: before };
            let unfiltered = self.pass(input, from, deframer, which, on_progress);
            return unfiltered.or(found);
        }
        let found = self.pass(input, from, deframer, Which::Filtered, on_progress);
        if found.is_some() {
            return found;
        }
        self.pass(input, from, deframer, Which::All, on_progress)
    }

    fn pass<D: Deframer>(
        &mut self,
        input: &[u8],
        from: usize,
        deframer: &mut D,
        which: Which,
        on_progress: &mut dyn FnMut(u64),
    ) -> Option<usize> {
        let end = match which {
            Which::Large { target }
            | Which::LargeUnfiltered { target }
            | Which::Small { end: target, .. } => target.min(input.len()),
            _ => input.len(),
        };
        let small_limit = self
            .largest_payload_seen
            .saturating_mul(2)
            .max(SMALL_FLOOR)
            .min(self.max_frame_len);
        let mut next_report = from;
        for candidate in from..end {
            if candidate >= next_report {
                on_progress(candidate as u64);
                next_report = candidate + (1 << 20);
            }
            if self.is_trustworthy(input, candidate, small_limit, which, deframer) {
                return Some(candidate);
            }
        }
        None
    }

    fn is_trustworthy<D: Deframer>(
        &mut self,
        input: &[u8],
        candidate: usize,
        small_limit: usize,
        which: Which,
        deframer: &mut D,
    ) -> bool {
        // Most positions fail on the length alone: rule them out before the parser, which
        // would build an error for each.
        let rest = &input[candidate..];
        let Some(payload_len) = read_length(rest) else {
            return false;
        };
        if payload_len == 0
            || payload_len > self.max_frame_len
            || payload_len > rest.len() - self.header_len.min(rest.len())
        {
            return false;
        }
        let over_floor = payload_len > SMALL_FLOOR;
        let frame_end = candidate + self.header_len + payload_len;
        let anchored = match which {
            Which::Near { limit } if payload_len > limit => return false,
            Which::Small { above, .. } if over_floor || payload_len <= above => return false,
            Which::Large { .. } | Which::LargeUnfiltered { .. } if !over_floor => return false,
            Which::Large { target } => self.lands_on(input, frame_end, target, LANDING_HOPS),
            // Only what the filtered pass passed over (it checked the others), and of those
            // only the ones that end before the target, or on the chain of headers from it
            // (a frame whose payload holds frames, found inside it): most random lengths
            // reach past both, and checking them would cost the input's length each.
            Which::LargeUnfiltered { target }
                if self.lands_on(input, frame_end, target, LANDING_HOPS)
                    || self.plausible_header_at(input, frame_end, 2)
                    || (frame_end > target && !self.on_chain(frame_end)) =>
            {
                return false;
            }
            _ => false,
        };
        let filtered = !matches!(which, Which::All | Which::LargeUnfiltered { .. });
        if over_floor && filtered && !anchored && !self.plausible_header_at(input, frame_end, 2) {
            return false;
        }
        let budget = if anchored {
            &mut self.anchored_budget
        } else if matches!(which, Which::LargeUnfiltered { .. }) {
            &mut self.unfiltered_budget
        } else if matches!(which, Which::Near { .. }) {
            &mut self.near_budget
        } else if payload_len > small_limit {
            &mut self.large_budget
        } else {
            &mut self.small_budget
        };
        let Some(left) = budget.checked_sub(payload_len as u64) else {
            self.unchecked += 1;
            return false;
        };
        *budget = left;
        let Ok(Some(frame)) = deframer.parse_frame(rest) else {
            return false;
        };
        // Zeros where a checksum and payload should be: what a zeroed block leaves of a
        // frame, which verifies under a checksum that maps zeros to 0 (CRC-16/XMODEM). A
        // payload of zeros with its own non-zero checksum is an intact frame.
        if frame.payload.is_empty() || is_all_zero(&rest[LENGTH_LEN..frame.len]) {
            return false;
        }
        // A chance match is 1 in 65 536 under a 2-byte checksum: the frame must be followed
        // by another intact frame, a torn tail or the end (but for `recover`'s thorough
        // pass, which takes any match as evidence). Salvage counts the ones it leaves out.
        if self.checksum_len >= 4 || which == Which::All {
            return true;
        }
        // Or its payload (not empty: checked above) is frames end to end (a stream held in a
        // message): a chance match never is, and its frames must not be taken for the
        // stream's.
        let confirmed = match deframer.parse_frame(&input[candidate + frame.len..]) {
            Ok(_) => true,
            Err(error) => error.is_torn_tail(),
        } || self.lands_on(
            input,
            candidate + self.header_len,
            candidate + frame.len,
            CHAIN_HOPS,
        );
        if !confirmed && self.salvaging {
            self.unconfirmed += 1;
        }
        confirmed
    }

    /// Whether the chain of frame headers from `position` lands exactly on `target` (within
    /// `hops` frames), each length within the limit.
    fn lands_on(&self, input: &[u8], mut position: usize, target: usize, hops: usize) -> bool {
        for _ in 0..hops {
            if position == target {
                return true;
            }
            if position > target {
                return false;
            }
            match read_length(&input[position..]) {
                Some(payload_len) if payload_len <= self.max_frame_len => {
                    position += self.header_len + payload_len;
                }
                _ => return false,
            }
        }
        false
    }

    /// Walks the chain of frame headers from `start` (lengths only, no checksum) until a
    /// header is torn, over the limit or runs past the end, or for `CHAIN_HOPS` frames; or
    /// until it joins the chain walked before, whose walk then serves for the rest. Each
    /// header position is walked once however many searches start on or near the chain.
    fn walk_chain(&mut self, input: &[u8], start: usize) {
        self.branch.clear();
        let mut position = start;
        loop {
            if self.chain.binary_search(&position).is_ok() {
                return; // Joined: the kept chain's break is this one's.
            }
            self.branch.push(position);
            self.walked += 1;
            if self.branch.len() >= CHAIN_HOPS {
                break;
            }
            let Some(payload_len) = input.get(position..).and_then(read_length) else {
                break;
            };
            let next = position
                .saturating_add(self.header_len)
                .saturating_add(payload_len);
            if payload_len > self.max_frame_len || next > input.len() {
                break;
            }
            position = next;
        }
        std::mem::swap(&mut self.chain, &mut self.branch);
        self.branch.clear();
        self.chain_break = position;
    }

    /// Whether `position` begins a header of the chain walked last (or of the branch that
    /// joined it), or is where it broke.
    fn on_chain(&self, position: usize) -> bool {
        position == self.chain_break
            || self.chain.binary_search(&position).is_ok()
            || self.branch.binary_search(&position).is_ok()
    }

    /// Whether a frame header could begin at `position`: the end of the input, a torn
    /// length field, or a length within the limit.
    ///
    /// With `hops` > 1 the frame that header describes, when it ends inside the input, must
    /// be followed by a plausible header too: one random length in 64 is under the default
    /// limit, so two in a row rule out all but one position in 4096 of random bytes.
    fn plausible_header_at(&self, input: &[u8], position: usize, hops: u32) -> bool {
        let Some(rest) = input.get(position..) else {
            return false;
        };
        let Some(payload_len) = read_length(rest) else {
            return true; // The end, or a torn length field.
        };
        if payload_len > self.max_frame_len {
            return false;
        }
        let next = position + self.header_len + payload_len;
        hops <= 1 || next >= input.len() || self.plausible_header_at(input, next, hops - 1)
    }
}

/// Which candidates a pass of the search checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// Every candidate, unfiltered (`recover`'s thorough pass).
    All,
    /// Every candidate, with salvage's filters (`recover`'s cheap pass).
    Filtered,
    /// Candidates of at most `limit` bytes (frames like the ones seen), filtered, under a
    /// budget of their own: salvage's first anchor.
    Near { limit: usize },
    /// Candidates over `above` and of at most 64 KiB before `end` (the near anchor, or the
    /// end), filtered: an earlier anchor.
    Small { above: usize, end: usize },
    /// Candidates over 64 KiB before `target` (the anchor, or the end), filtered unless
    /// their chain of headers lands exactly on it.
    Large { target: usize },
    /// The candidates over 64 KiB before `target` that `Large` passed over unchecked (no
    /// plausible headers after them, no chain landing on its target) and that end before
    /// `target` or on the chain of headers from it ([`Resync::walk_chain`]).
    LargeUnfiltered { target: usize },
}

/// The little-endian length field at the start of `bytes`, if it is whole.
fn read_length(bytes: &[u8]) -> Option<usize> {
    flatstream_core::wire::declared_len(bytes).map(|len| len as usize)
}

/// Whether every byte is zero (true for an empty slice).
pub(crate) fn is_all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|byte| *byte == 0)
}

/// How many zero bytes `bytes` starts with.
pub(crate) fn leading_zeros(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flatstream_core::NoChecksum;

    use crate::ChecksumDeframer;

    /// A checksum that only accepts payloads starting with b'!', so tests can plant frames.
    #[derive(Debug)]
    struct Bang;

    impl flatstream_core::Checksum for Bang {
        fn size(&self) -> usize {
            4
        }
        fn calculate(&self, payload: &[u8]) -> u64 {
            u64::from(payload.first() == Some(&b'!'))
        }
        fn name(&self) -> &'static str {
            "bang"
        }
    }

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut bytes = (payload.len() as u32).to_le_bytes().to_vec();
        bytes.extend_from_slice(&u32::from(payload.first() == Some(&b'!')).to_le_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn finds_the_first_trustworthy_frame_and_skips_zero_payloads() {
        let mut input = vec![0xee; 7];
        input.extend(frame(&[0, 0, 0])); // all zero: never trusted
        let at = input.len();
        input.extend(frame(b"!ok"));
        let mut deframer = ChecksumDeframer::new(Bang);
        let mut resync = Resync::new(input.len(), 4, 1024, true);
        assert_eq!(resync.find(&input, 0, &mut deframer, &mut |_| {}), Some(at));
        assert_eq!(resync.unchecked, 0);
    }

    #[test]
    fn an_exhausted_budget_counts_candidates_instead_of_checking_them() {
        let mut input = Vec::new();
        for _ in 0..4 {
            input.extend(frame(b"!a frame"));
        }
        let mut resync = Resync::new(input.len(), 4, 1024, true);
        // Smaller than any payload.
        resync.near_budget = 3;
        resync.small_budget = 3;
        let mut deframer = ChecksumDeframer::new(Bang);
        assert_eq!(resync.find(&input, 0, &mut deframer, &mut |_| {}), None);
        // The four real frames at least (other positions hold small lengths too).
        assert!(resync.unchecked >= 4, "{}", resync.unchecked);
        let mut paid = Resync::new(input.len(), 4, 1024, true);
        assert_eq!(paid.find(&input, 0, &mut deframer, &mut |_| {}), Some(0));
    }

    #[test]
    fn damage_of_larger_candidates_cannot_spend_the_budget_of_frames_like_those_seen() {
        // Damage whose every 4-byte word reads as a 2000-byte candidate (never verifying),
        // then frames like the ones seen before it (8-byte payloads).
        let mut input = Vec::new();
        for _ in 0..500 {
            input.extend_from_slice(&2000u32.to_le_bytes());
        }
        let at = input.len();
        for _ in 0..3 {
            input.extend(frame(b"!a frame"));
        }
        input.extend(vec![0xee; 2100]); // room for the candidates to fit
        let mut deframer = ChecksumDeframer::new(Bang);
        let mut resync = Resync::new(input.len(), 4, 4096, true);
        resync.saw_payload(8);
        // Enough for a handful of the 2000-byte candidates, not for the 500 of them.
        resync.small_budget = 10_000;
        assert_eq!(resync.find(&input, 0, &mut deframer, &mut |_| {}), Some(at));
        assert!(
            resync.unchecked > 0,
            "the damage's candidates went unchecked"
        );

        // A frame unlike those seen (300 bytes) before the frames like them is still found,
        // while the budget for it lasts.
        let mut input = vec![0xee; 5];
        let medium = input.len();
        let mut payload = vec![b'!'; 300];
        payload[1] = 7;
        input.extend(frame(&payload));
        input.extend(frame(b"!a frame"));
        let mut resync = Resync::new(input.len(), 4, 4096, true);
        resync.saw_payload(8);
        assert_eq!(
            resync.find(&input, 0, &mut deframer, &mut |_| {}),
            Some(medium)
        );
    }

    #[test]
    fn a_large_frame_with_damage_after_it_is_found_last() {
        // A 70 000-byte frame (over the 64 KiB floor) followed by a huge length field: the
        // filtered pass passes over it (no plausible header after it), the last pass checks
        // it; `recover` checks every candidate anyway.
        let mut payload = vec![b'!'; 70_000];
        payload[1] = 1;
        let mut input = frame(&payload);
        input.extend_from_slice(&[0xff; 8]);
        let mut deframer = ChecksumDeframer::new(Bang).with_max_frame_len(100_000);
        let mut salvage = Resync::new(input.len(), 4, 100_000, true);
        assert_eq!(salvage.find(&input, 0, &mut deframer, &mut |_| {}), Some(0));
        assert_eq!((salvage.unchecked, salvage.unconfirmed), (0, 0));
        let mut recover = Resync::new(input.len(), 4, 100_000, false);
        assert_eq!(recover.find(&input, 0, &mut deframer, &mut |_| {}), Some(0));
        // A large candidate that reaches past the target and off the chain of headers from it
        // breaks is not checked at all (random lengths do): not even counted.
        let mut input = vec![0xee; 3];
        input.extend_from_slice(&90_000u32.to_le_bytes());
        input.extend_from_slice(&[0xee; 4]);
        let small = input.len();
        input.extend(frame(b"!small"));
        input.extend(vec![0xee; 90_000]);
        let mut salvage = Resync::new(input.len(), 4, 100_000, true);
        assert_eq!(
            salvage.find(&input, 0, &mut deframer, &mut |_| {}),
            Some(small)
        );
        assert_eq!(salvage.unchecked, 0);
    }

    /// What salvage does with `input`: after each position where no frame is whole and
    /// verifies, a search from the next byte; the walks' work, in header positions.
    fn walked_by_salvage(input: &[u8]) -> u64 {
        let mut deframer = ChecksumDeframer::new(Bang).with_max_frame_len(1 << 20);
        let mut resync = Resync::new(input.len(), 4, 1 << 20, true);
        let mut position = 0;
        while position < input.len() {
            match deframer.parse_frame(&input[position..]) {
                Ok(Some(frame)) => position += frame.len,
                Ok(None) => break,
                Err(_) => {
                    let found = resync.find(input, position + 1, &mut deframer, &mut |_| {});
                    position = found.unwrap_or(input.len());
                }
            }
        }
        resync.walked
    }

    #[test]
    fn the_chain_is_walked_once_however_many_regions_are_damaged() {
        // 20 000 frames, every other one damaged: its checksum (the chain of lengths goes
        // on), or its length made to cover the next frame too (the chain skips the frame
        // found next). Each search used to walk the chain to the end of the input again:
        // 10^8 positions here; quadratic (46 s for 7.7 MB of such input).
        // Under Miri, fewer: the property is the same at any size.
        let count = if cfg!(miri) { 200 } else { 20_000 };
        for damage in ["checksum", "length"] {
            let mut input = Vec::new();
            for index in 0..count {
                let mut framed = frame(format!("!{index:015}").as_bytes());
                if index % 2 == 0 && index + 2 < count {
                    match damage {
                        "checksum" => framed[4] ^= 1,
                        _ => framed[..4].copy_from_slice(&(16u32 + 8 + 16).to_le_bytes()),
                    }
                }
                input.extend(framed);
            }
            let walked = walked_by_salvage(&input);
            assert!(
                walked <= 4 * count,
                "{damage}: {walked} header positions walked for {count} frames"
            );
        }
    }

    #[test]
    fn zero_helpers() {
        assert!(is_all_zero(&[]));
        assert!(is_all_zero(&[0, 0]));
        assert!(!is_all_zero(&[0, 1]));
        assert_eq!(leading_zeros(&[0, 0, 5, 0]), 2);
        assert_eq!(leading_zeros(&[0, 0]), 2);
        let _ = NoChecksum;
    }
}
