//! Steady state allocates nothing per message, reading and writing, per frame and chunked;
//! a hostile length allocates nothing large. Counted by this binary's global allocator, per
//! thread, so tests running in parallel do not mix.

use flatstream_checksum_crc32c::Crc32c;
use flatstream_compress::{
    AnyCodec, ChunkReader, ChunkWriter, Codec, CompressFramerExt, DecompressDeframerExt, Lz4, Zstd,
};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamReader, StreamWriter};

use flatstream_test_support::{
    CountingAllocator, allocations, allocations_during, largest_allocation_during,
};

use crate::common::{telemetry_dictionary, telemetry_payloads};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

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
                    steady = allocations();
                }
                Ok(())
            })
            .expect("reads the slice");
        assert_eq!(seen, 4000);
        assert_eq!(
            allocations() - steady,
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
    let deframer = flatstream_io::DefaultDeframer::new().decompressed(Lz4::new());
    // A small read buffer, so that the reader's own buffer (64 KiB by default) does not hide
    // an allocation sized from the hostile length.
    let mut reader = StreamReader::with_buffer_size(&stream[..], deframer, 256);
    let largest = largest_allocation_during(|| assert!(reader.read_message().is_err()));
    assert!(largest < 4096, "{largest}");
    let _ = Lz4::new().id();
}
