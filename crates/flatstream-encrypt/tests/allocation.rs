//! Steady state allocates nothing per message, writing and reading, with either cipher.
//! Counted by this binary's global allocator, per thread, so tests running in parallel do
//! not mix.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use flatstream_checksum_crc32c::Crc32c;
use flatstream_encrypt::EncryptFramerExt;
use flatstream_io::{ChecksumFramer, StreamReader, StreamWriter};

use crate::common::{CIPHERS, deframer, key, payloads};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// const-initialised thread-local with no destructor, so touching it never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(work: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn writing_and_reading_allocate_nothing_per_message() {
    let payloads = payloads(4000);
    for cipher in CIPHERS {
        let framer = ChecksumFramer::new(Crc32c::new())
            .encrypted_with(&key(7), cipher)
            .expect("framer");
        let mut writer = StreamWriter::new(Vec::with_capacity(1 << 20), framer);
        for payload in &payloads[..1000] {
            writer.write_payload(payload).expect("writes");
        }
        let steady = allocations_during(|| {
            for payload in &payloads[1000..] {
                writer.write_payload(payload).expect("writes");
            }
        });
        assert_eq!(steady, 0, "writing {cipher}");
        writer.finish().expect("finishes");
        let stream = writer.into_inner();

        let mut reader = StreamReader::new(&stream[..], deframer(&key(7), cipher));
        for _ in 0..1000 {
            reader.read_message().expect("reads").expect("a message");
        }
        let mut read = 0;
        let steady = allocations_during(|| {
            while reader.read_message().expect("reads").is_some() {
                read += 1;
            }
        });
        assert_eq!(read, 3000, "{cipher}");
        assert_eq!(steady, 0, "reading {cipher}");
    }
}
