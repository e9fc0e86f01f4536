//! [`CountingAllocator`]: a global allocator for allocation tests, counting per thread so
//! that tests running in parallel do not mix. A test binary installs it:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: flatstream_test_support::CountingAllocator =
//!     flatstream_test_support::CountingAllocator;
//! ```
//!
//! The one `unsafe` of the test helpers: every call is forwarded unchanged to the system
//! allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Forwards every call to [`System`], counting on the calling thread the allocations
/// (`alloc`, `alloc_zeroed`, `realloc`), the largest of them and the bytes live.
#[derive(Debug, Clone, Copy)]
pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
}

/// Allocation sizes never reach `i64::MAX`; saturate rather than wrap if one did.
fn signed(size: usize) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

fn counted(size: usize, live_change: i64) {
    ALLOCATIONS.with(|count| count.set(count.get() + 1));
    LARGEST.with(|largest| largest.set(largest.get().max(size)));
    LIVE_BYTES.with(|live| live.set(live.get() + live_change));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// const-initialised thread-locals with no destructor, so touching them never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted(layout.size(), signed(layout.size()));
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted(layout.size(), signed(layout.size()));
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted(new_size, signed(new_size) - signed(layout.size()));
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.with(|live| live.set(live.get() - signed(layout.size())));
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations made by this thread so far (with [`CountingAllocator`] installed).
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Allocations made by this thread during `work`.
pub fn allocations_during(work: impl FnOnce()) -> u64 {
    let before = allocations();
    work();
    allocations() - before
}

/// The largest single allocation or reallocation this thread made during `work`.
pub fn largest_allocation_during(work: impl FnOnce()) -> usize {
    LARGEST.with(|largest| largest.set(0));
    work();
    LARGEST.with(Cell::get)
}

/// Bytes this thread allocated and has not freed (negative when it frees what another
/// thread allocated).
pub fn live_bytes() -> i64 {
    LIVE_BYTES.with(Cell::get)
}
