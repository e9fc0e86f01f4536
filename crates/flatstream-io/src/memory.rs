//! [`MemoryPolicy`]: giving memory back after a spike.

/// When a reader's payload buffer or a writer's builders give memory back.
///
/// Buffers grow to the largest message and are reused, so steady state allocates nothing.
/// One huge message would then pin that much memory for good; the policy shrinks the buffer
/// back to [`retain`](Self::retain) bytes once [`after`](Self::after) messages in a row have
/// fit in that size again. A stream whose messages are all large never shrinks (no message
/// fits), so it never reallocates either. A reader counts every message it delivers, through
/// `read_message` or `process_all`, and a read that found no message (a poll at the end of
/// a file still being written) as one that fits.
///
/// What is compared with `retain` is the buffer's capacity, not the largest message: a
/// writer's builder grows by doubling, so a message that fits in `retain` can leave it
/// holding up to twice that, and it is shrunk back as well. A writer decides after each
/// frame is written, so the message just framed is never in a buffer it gives back.
///
/// `StreamWriter::new` has two builders, which build the messages in turn (see its docs):
/// the policy applies to each on its own, so each may keep `retain` bytes, and each counts
/// the messages it builds (about `2 * after` of the writer's messages).
///
/// The default keeps 1 MiB and shrinks after 1024 small messages in a row.
///
/// ```
/// use flatstream_io::{DefaultDeframer, MemoryPolicy, StreamReader};
///
/// let policy = MemoryPolicy::new().retain(64 * 1024).after(100);
/// let reader = StreamReader::new(&[][..], DefaultDeframer::new()).with_memory_policy(policy);
/// # let _ = reader;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryPolicy {
    retain: usize,
    after: u32,
}

impl MemoryPolicy {
    /// Keep 1 MiB; shrink after 1024 messages in a row that fit in it.
    pub const fn new() -> Self {
        MemoryPolicy {
            retain: 1024 * 1024,
            after: 1024,
        }
    }

    /// Never give memory back.
    pub const fn never_shrink() -> Self {
        MemoryPolicy {
            retain: usize::MAX,
            after: u32::MAX,
        }
    }

    /// Sets the capacity to shrink back to, in bytes (default 1 MiB).
    #[must_use]
    pub const fn retain(mut self, bytes: usize) -> Self {
        self.retain = bytes;
        self
    }

    /// Sets how many messages in a row must fit in the retained size before shrinking
    /// (default 1024; at least 1).
    #[must_use]
    pub const fn after(mut self, messages: u32) -> Self {
        self.after = if messages == 0 { 1 } else { messages };
        self
    }

    /// The capacity kept after shrinking.
    pub const fn retained(&self) -> usize {
        self.retain
    }
}

impl Default for MemoryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts messages that fit the retained size, to decide when to shrink.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ShrinkTracker {
    small_in_a_row: u32,
}

impl ShrinkTracker {
    /// Records a message of `message_len` bytes held in a buffer of `capacity` bytes; true
    /// when the buffer should shrink now.
    #[inline]
    pub(crate) fn observe(
        &mut self,
        policy: &MemoryPolicy,
        message_len: usize,
        capacity: usize,
    ) -> bool {
        // The everyday case, one comparison: the buffer is within the retained size. The
        // count needs no reset here, since the buffer only gets small again by shrinking,
        // which resets it.
        if capacity <= policy.retain {
            return false;
        }
        self.observe_large(policy, message_len)
    }

    /// Records `messages` in a row that did not use the buffer (the frames a run of
    /// `process_all` handed over where they lie), in a buffer of `capacity` bytes; true when
    /// the buffer should shrink now. Once per run, not per frame.
    #[inline]
    pub(crate) fn observe_run(
        &mut self,
        policy: &MemoryPolicy,
        messages: u64,
        capacity: usize,
    ) -> bool {
        if capacity <= policy.retain || messages == 0 {
            return false;
        }
        self.count_small(policy, messages)
    }

    #[cold]
    fn observe_large(&mut self, policy: &MemoryPolicy, message_len: usize) -> bool {
        if message_len > policy.retain {
            self.small_in_a_row = 0;
            return false;
        }
        self.count_small(policy, 1)
    }

    /// Counts `messages` more that fit, in a row; true, and the count starts over, once
    /// there are as many as the policy asks for.
    #[cold]
    fn count_small(&mut self, policy: &MemoryPolicy, messages: u64) -> bool {
        let messages = u32::try_from(messages).unwrap_or(u32::MAX);
        self.small_in_a_row = self.small_in_a_row.saturating_add(messages);
        if self.small_in_a_row >= policy.after {
            self.small_in_a_row = 0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_counts_as_that_many_small_messages() {
        let policy = MemoryPolicy::new().retain(100).after(10);
        let mut tracker = ShrinkTracker::default();
        assert!(!tracker.observe_run(&policy, 9, 1000));
        assert!(tracker.observe_run(&policy, 1, 1000));
        // Within the retained size nothing is counted.
        assert!(!tracker.observe_run(&policy, 1000, 100));
        // A large message between runs starts the count over.
        assert!(!tracker.observe_run(&policy, 9, 1000));
        assert!(!tracker.observe(&policy, 500, 1000));
        assert!(!tracker.observe_run(&policy, 9, 1000));
        assert!(tracker.observe_run(&policy, 1, 1000));
        // A run longer than the count can hold.
        assert!(tracker.observe_run(&policy, u64::MAX, 1000));
    }

    #[test]
    fn shrinks_only_after_enough_small_messages() {
        let policy = MemoryPolicy::new().retain(100).after(3);
        let mut tracker = ShrinkTracker::default();
        assert!(!tracker.observe(&policy, 10, 1000));
        assert!(!tracker.observe(&policy, 10, 1000));
        assert!(tracker.observe(&policy, 10, 1000));
        // A large message resets the count.
        assert!(!tracker.observe(&policy, 10, 1000));
        assert!(!tracker.observe(&policy, 500, 1000));
        assert!(!tracker.observe(&policy, 10, 1000));
        assert!(!tracker.observe(&policy, 10, 1000));
        assert!(tracker.observe(&policy, 10, 1000));
    }

    #[test]
    fn small_buffers_and_large_streams_never_shrink() {
        let policy = MemoryPolicy::new().retain(100).after(1);
        let mut tracker = ShrinkTracker::default();
        assert!(!tracker.observe(&policy, 10, 100));
        for _ in 0..10 {
            assert!(!tracker.observe(&policy, 200, 1000));
        }
        let never = MemoryPolicy::never_shrink();
        assert!(!tracker.observe(&never, 1, usize::MAX - 1));
        assert_eq!(MemoryPolicy::new().after(0), MemoryPolicy::new().after(1));
    }
}
