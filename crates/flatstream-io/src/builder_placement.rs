//! Builders whose small messages do not straddle a page.
//!
//! A `FlatBufferBuilder` builds each message at the end of its buffer, so where that buffer
//! ends decides whether every message built in it straddles a page boundary. When it does,
//! building and copying out each message cost far more: `write` of 64 B messages into a
//! `Vec` ran at 0.57x its speed (29.5 against 51.6 M msg/s, AMD EPYC Zen 3), 128 B
//! messages at about 0.65x, 256 B at 0.70x, in every run, for as long as the builder lived.
//!
//! Where a buffer ends is the allocator's choice, and glibc makes it a bad one for every
//! large power of two: while it serves a size from fresh pages (128 KiB and more, until its
//! threshold rises), it puts the buffer 16 bytes into the first, so a buffer of a whole
//! number of pages, such as `FlatBufferBuilder::with_capacity(1 << 20)`, ends 16 bytes into
//! a page and every message of up to 4 KiB built in it straddles one. A `StreamWriter`'s own builder reached such a
//! size after one message of 300 KiB to 1 MiB, and after the memory policy shrank it back to
//! 1 MiB following a larger one. Smaller buffers lie wherever the heap has room: about one
//! in sixteen ends within 256 bytes of a page's start.

use flatbuffers::{FLATBUFFERS_MAX_BUFFER_SIZE, FlatBufferBuilder};

/// The page size whose boundaries a message should not straddle.
const PAGE: usize = 4096;

/// How far into a page a builder's buffer may not end: messages of up to this many bytes
/// never straddle a page in a buffer placed by [`placed_buffer`].
pub(crate) const PAGE_GUARD: usize = 256;

/// A [`FlatBufferBuilder`] with room for `capacity` bytes, placed so that messages of up to
/// 256 bytes never straddle a page boundary.
///
/// Use it where you would use `FlatBufferBuilder::with_capacity` for a builder you hand to
/// [`StreamWriter::write_finished`](crate::StreamWriter::write_finished),
/// [`StreamWriter::with_builders`](crate::StreamWriter::with_builders) or
/// [`StreamWriter::with_builder`](crate::StreamWriter::with_builder). A builder builds each
/// message at the end of its buffer, and `with_capacity(1 << 20)` (with glibc, any whole
/// number of pages from 128 KiB up) ends that buffer 16 bytes into a page, so that every
/// small message straddles the boundary: 64 B messages were then built and written at
/// 0.57x the speed (AMD EPYC Zen 3). The buffer returned here holds between `capacity` and
/// `capacity + 255` bytes and ends at least 256 bytes into a page (or at its very end).
///
/// The placement holds while the builder keeps its buffer: a builder that grows (a message
/// larger than its buffer) gets a new one wherever the allocator puts it, and a writer never
/// moves a builder you supplied. [`StreamWriter::new`](crate::StreamWriter::new)'s own
/// builders are placed this way, and again whenever they grow or shrink.
///
/// Where you write from a function that is not inlined into your loop, keep two builders
/// and use them in turn, calling `reset` on the one you just wrote rather than the one you
/// are about to build in: `reset` stores the builder's fields in a way the next build's
/// loads wait for when the two are compiled together. 64 B messages built and handed to
/// `write_finished` from such a function ran at 36 M msg/s with one builder reset before
/// each message and 51 M with two in turn (AMD EPYC Zen 3, harness outside the
/// repository). `StreamWriter::new` and `with_builders` do this for `write`.
///
/// # Panics
///
/// When `capacity` is over the 2 GiB a FlatBuffer can be (as `with_capacity` panics).
///
/// ```
/// use flatstream_io::{DefaultFramer, StreamWriter, placed_builder};
///
/// let mut builder = placed_builder(1 << 20);
/// let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
/// for reading in [20.5_f64, 21.0] {
///     builder.reset();
///     let note = builder.create_string(&format!("{reading}"));
///     builder.finish(note, None);
///     writer.write_finished(&mut builder)?;
/// }
/// # Ok::<(), flatstream_core::Error>(())
/// ```
pub fn placed_builder(capacity: usize) -> FlatBufferBuilder<'static> {
    assert!(
        capacity <= FLATBUFFERS_MAX_BUFFER_SIZE,
        "cannot make a FlatBufferBuilder of {capacity} bytes: a FlatBuffer is at most 2 GiB"
    );
    FlatBufferBuilder::from_vec(placed_buffer(capacity, usize::MAX))
}

/// A zeroed buffer of `capacity` bytes, or close to it, that does not end within the first
/// [`PAGE_GUARD`] bytes of a page, to build messages in. `capacity` is at most the 2 GiB a
/// FlatBuffer can be.
///
/// It is allocated `PAGE_GUARD` bytes larger than `capacity`. Where `capacity` bytes would
/// end `e` bytes into a page, it is lengthened to end `PAGE_GUARD` bytes in, unless that
/// would make it longer than `at_most` or than 2 GiB (a memory policy's limit, which a
/// longer buffer would exceed and be shrunk again and again, or the builder's); it is then
/// shortened by `e` to end where the page begins, unless that leaves it under half of
/// `capacity`, when it keeps `capacity` and its place.
pub(crate) fn placed_buffer(capacity: usize, at_most: usize) -> Vec<u8> {
    debug_assert!(capacity <= FLATBUFFERS_MAX_BUFFER_SIZE);
    let mut buffer = vec![0; capacity.saturating_add(PAGE_GUARD)];
    let len = placed_len(buffer.as_ptr().addr(), capacity, at_most);
    buffer.truncate(len);
    buffer
}

/// The length of a buffer at `start` to be used for `capacity` bytes (see
/// [`placed_buffer`]): `capacity` itself, or up to `PAGE_GUARD` bytes more or fewer.
fn placed_len(start: usize, capacity: usize, at_most: usize) -> usize {
    let into_page = start.wrapping_add(capacity) % PAGE;
    if !ends_near_page_start(into_page) {
        return capacity;
    }
    let at_most = at_most.min(FLATBUFFERS_MAX_BUFFER_SIZE);
    let longer = capacity.saturating_add(PAGE_GUARD - into_page);
    if longer <= at_most {
        return longer;
    }
    match capacity.checked_sub(into_page) {
        Some(shorter) if shorter >= capacity / 2 => shorter,
        _ => capacity,
    }
}

/// Whether a buffer whose end lies `into_page` bytes into a page (`end % PAGE`) ends too
/// close to the page's start: small messages built at its end straddle the boundary.
fn ends_near_page_start(into_page: usize) -> bool {
    into_page != 0 && into_page < PAGE_GUARD
}

/// Whether the buffer that `buffer` is (a builder's, from `mut_finished_buffer`) ends too
/// close to a page's start.
pub(crate) fn straddles_small_messages(buffer: &[u8]) -> bool {
    let end = buffer.as_ptr().addr().wrapping_add(buffer.len());
    ends_near_page_start(end % PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where a buffer of `len` bytes starting at `start` ends within its page.
    fn end_in_page(start: usize, len: usize) -> usize {
        (start + len) % PAGE
    }

    #[test]
    fn a_buffer_ending_just_past_a_page_start_is_lengthened_to_the_guard() {
        // glibc's large allocations: 16 bytes into a page, so a power of two ends 16 bytes
        // into one.
        let start = 7 * PAGE + 16;
        let len = placed_len(start, 1 << 20, usize::MAX);
        assert_eq!(len, (1 << 20) + PAGE_GUARD - 16);
        assert_eq!(end_in_page(start, len), PAGE_GUARD);
    }

    #[test]
    fn a_buffer_ending_elsewhere_keeps_its_length() {
        for into_page in [0, PAGE_GUARD, PAGE_GUARD + 16, PAGE - 16] {
            let start = 3 * PAGE + into_page;
            assert_eq!(placed_len(start, 4 * PAGE, usize::MAX), 4 * PAGE);
        }
    }

    #[test]
    fn under_a_limit_the_buffer_ends_where_the_page_begins_instead() {
        let start = 5 * PAGE + 16;
        let capacity = 1 << 20;
        // Lengthened it would be over the policy's limit of exactly its capacity.
        let len = placed_len(start, capacity, capacity);
        assert_eq!(len, capacity - 16);
        assert_eq!(end_in_page(start, len), 0);
        // A buffer that would lose more than half keeps its length and place: 100 bytes
        // ending 60 into a page, and 10 ending 60 in (shorter than what it would lose).
        assert_eq!(placed_len(PAGE - 40, 100, 100), 100);
        assert_eq!(placed_len(PAGE + 50, 10, 10), 10);
    }

    #[test]
    fn a_buffer_is_never_lengthened_past_what_a_flatbuffer_can_be() {
        let start = 9 * PAGE + 16;
        let capacity = FLATBUFFERS_MAX_BUFFER_SIZE;
        // Ending 16 bytes into a page, it may only be shortened.
        let len = placed_len(start, capacity, usize::MAX);
        assert_eq!(len, capacity - 16);
    }

    #[test]
    #[should_panic(expected = "a FlatBuffer is at most 2 GiB")]
    fn a_placed_builder_over_2_gib_is_refused_before_anything_is_allocated() {
        drop(placed_builder(FLATBUFFERS_MAX_BUFFER_SIZE + 1));
    }

    #[test]
    fn every_start_gives_a_buffer_that_does_not_end_near_a_page_start() {
        for capacity in [0, 1, 100, 128, 1000, 4096, 1 << 17] {
            for start in (0..2 * PAGE).step_by(8) {
                let len = placed_len(start, capacity, usize::MAX);
                assert!(len >= capacity && len < capacity + PAGE_GUARD);
                assert!(
                    !ends_near_page_start(end_in_page(start, len)),
                    "capacity {capacity} at {start}: ends {} into a page",
                    end_in_page(start, len)
                );
            }
        }
    }

    #[test]
    fn placed_buffers_are_zeroed_and_placed() {
        // Miri's interpreter reads a megabyte byte by byte for minutes.
        let capacities: &[usize] = if cfg!(miri) {
            &[64, 1000]
        } else {
            &[64, 1000, 1 << 17, 1 << 20]
        };
        for &capacity in capacities {
            let buffer = placed_buffer(capacity, usize::MAX);
            assert!(buffer.len() >= capacity);
            assert!(buffer.iter().all(|&byte| byte == 0));
            assert!(!straddles_small_messages(&buffer));
        }
    }

    #[test]
    fn a_placed_builder_builds_small_messages_within_a_page() {
        let mut builder = placed_builder(if cfg!(miri) { 8192 } else { 1 << 20 });
        let note = builder.create_string("a reading of 64 bytes, near enough, for the check");
        builder.finish(note, None);
        let payload = builder.finished_data();
        let start = payload.as_ptr().addr();
        assert_eq!(start / PAGE, (start + payload.len() - 1) / PAGE);
    }
}
