//! Steady state allocates nothing per message, reading and writing, per frame and chunked;
//! a hostile length allocates nothing large. Counted by this binary's global allocator, per
//! thread, so tests running in parallel do not mix.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use flatstream_checksum_crc32c::Crc32c;
use flatstream_compress::{
    AnyCodec, ChunkReader, ChunkWriter, Codec, CompressFramerExt, DecompressDeframerExt, Lz4, Zstd,
};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamReader, StreamWriter};

use crate::common::{telemetry_dictionary, telemetry_payloads};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// const-initialised thread-locals with no destructor, so touching them never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        LARGEST.with(|largest| largest.set(largest.get().max(layout.size())));
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        LARGEST.with(|largest| largest.set(largest.get().max(layout.size())));
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        LARGEST.with(|largest| largest.set(largest.get().max(new_size)));
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

// zstd's C library allocates through malloc, not Rust's allocator: its contexts are made
// once per codec (counted here through the Rust-side `Compressor`/`Decompressor` boxes
// only), and it keeps them for the codec's life.
fn codecs() -> Vec<AnyCodec> {
    vec![
        Zstd::new(3).into(),
        Zstd::with_dictionary(3, telemetry_dictionary())
            .expect("dictionary")
            .into(),
        Lz4::new().into(),
    ]
}

#[test]
fn per_frame_writing_and_reading_allocate_nothing_per_message() {
    let payloads = telemetry_payloads(4000);
    for codec in codecs() {
        let framer = ChecksumFramer::new(Crc32c::new()).compressed(codec.clone());
        let mut writer = StreamWriter::new(Vec::with_capacity(1 << 20), framer);
        for payload in &payloads[..1000] {
            writer.write_payload(payload).expect("writes");
        }
        let steady = allocations_during(|| {
            for payload in &payloads[1000..] {
                writer.write_payload(payload).expect("writes");
            }
        });
        assert_eq!(steady, 0, "writing {codec:?}");
        let stream = writer.into_inner();

        let deframer = ChecksumDeframer::new(Crc32c::new()).decompressed(codec.clone());
        let mut reader = StreamReader::new(&stream[..], deframer);
        for _ in 0..1000 {
            reader.read_message().expect("reads").expect("a message");
        }
        let steady =
            allocations_during(|| while reader.read_message().expect("reads").is_some() {});
        assert_eq!(steady, 0, "reading {codec:?}");

        // The readers of bytes in memory decode into one reused buffer too.
        let deframer = ChecksumDeframer::new(Crc32c::new()).decompressed(codec.clone());
        let mut reader = StreamReader::in_place(&stream[..], deframer);
        for _ in 0..1000 {
            reader.read_message().expect("reads").expect("a message");
        }
        let steady =
            allocations_during(|| while reader.read_message().expect("reads").is_some() {});
        assert_eq!(steady, 0, "reading {codec:?} in place");
        let deframer = ChecksumDeframer::new(Crc32c::new()).decompressed(codec.clone());
        let mut reader = flatstream_io::SliceReader::new(&stream, deframer);
        let mut seen = 0;
        let mut steady = 0;
        reader
            .process_all(|_| {
                seen += 1;
                if seen == 1000 {
                    steady = ALLOCATIONS.with(Cell::get);
                }
                Ok(())
            })
            .expect("reads the slice");
        assert_eq!(seen, 4000);
        assert_eq!(
            ALLOCATIONS.with(Cell::get) - steady,
            0,
            "SliceReader::process_all of {codec:?}"
        );
    }
}

#[test]
fn chunked_writing_and_reading_allocate_nothing_per_message() {
    let payloads = telemetry_payloads(40_000);
    for codec in codecs() {
        let mut writer = ChunkWriter::new(
            Vec::with_capacity(4 << 20),
            ChecksumFramer::new(Crc32c::new()),
            codec.clone(),
        );
        for payload in &payloads[..10_000] {
            writer.write_payload(payload).expect("writes");
        }
        let steady = allocations_during(|| {
            for payload in &payloads[10_000..] {
                writer.write_payload(payload).expect("writes");
            }
        });
        assert_eq!(steady, 0, "writing {codec:?}");
        let stream = writer.finish().expect("finishes");

        let mut reader = ChunkReader::new(&stream[..], ChecksumDeframer::new(Crc32c::new()), codec);
        for _ in 0..10_000 {
            reader.read_message().expect("reads").expect("a message");
        }
        let steady =
            allocations_during(|| while reader.read_message().expect("reads").is_some() {});
        assert_eq!(steady, 0, "reading chunks");
    }
}

#[test]
fn hostile_lengths_allocate_nothing_large() {
    let mut hostile = u32::MAX.to_le_bytes().to_vec();
    hostile.extend_from_slice(&[0; 16]);
    let mut stream = Vec::new();
    let mut framer_writer = StreamWriter::new(&mut stream, flatstream_io::DefaultFramer::new());
    framer_writer.write_payload(&hostile).expect("writes");
    LARGEST.with(|largest| largest.set(0));
    let deframer = flatstream_io::DefaultDeframer::new().decompressed(Lz4::new());
    let mut reader = StreamReader::new(&stream[..], deframer);
    assert!(reader.read_message().is_err());
    assert!(
        LARGEST.with(Cell::get) < 4096,
        "{}",
        LARGEST.with(Cell::get)
    );
    let _ = Lz4::new().id();
}
