//! Steady state allocates nothing per frame, and a huge declared length costs only the bytes
//! that arrived: counted per thread by this binary's global allocator.

use std::time::Duration;

use flatstream_follow::FollowConfig;

use flatstream_test_support::{CountingAllocator, allocations, largest_allocation_during};

use crate::{append, appender, deframer, frame, fresh_file, payload};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn steady_state_allocates_nothing_per_frame() {
    for notify in [true, false] {
        let path = fresh_file(&format!("allocation-{notify}.fs"));
        let mut file = appender(&path);
        let mut follow = FollowConfig::new()
            .notify(notify)
            .open(&path, deframer())
            .unwrap();
        let frames: Vec<Vec<u8>> = (0..64).map(|index| frame(&payload(index))).collect();
        let mut run = |rounds: usize| {
            for round in 0..rounds {
                for frame in &frames {
                    // Half a frame (a torn tail, nothing delivered), then the rest.
                    let cut = (round * 7) % frame.len();
                    append(&mut file, &frame[..cut]);
                    if cut > 0 {
                        assert_eq!(follow.next(Duration::ZERO).unwrap(), None);
                    }
                    append(&mut file, &frame[cut..]);
                    let payload = follow.next(Duration::ZERO).unwrap().unwrap();
                    assert_eq!(payload.len(), frame.len() - 8);
                }
            }
        };
        run(2); // warm-up: the buffer reaches its size
        let before = allocations();
        run(20);
        assert_eq!(
            allocations() - before,
            0,
            "notify {notify}: {} frames",
            20 * frames.len()
        );
    }
}

#[test]
fn a_huge_declared_length_allocates_only_what_arrived() {
    let path = fresh_file("allocation-huge.fs");
    let mut file = appender(&path);
    // 60 MiB declared under the default 64 MiB limit, 10 bytes of it written.
    append(&mut file, &(60u32 << 20).to_le_bytes());
    append(&mut file, &[0; 14]);
    let largest = largest_allocation_during(|| {
        let mut follow = FollowConfig::new()
            .notify(false)
            .open(&path, deframer())
            .unwrap();
        assert_eq!(follow.next(Duration::ZERO).unwrap(), None);
        assert_eq!(follow.pending_len(), 18);
    });
    assert!(largest < 1 << 20, "largest allocation {largest} bytes");
}
