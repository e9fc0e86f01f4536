//! Steady state allocates nothing per message, writing and reading, with either cipher.
//! Counted by this binary's global allocator, per thread, so tests running in parallel do
//! not mix.

use flatstream_checksum_crc32c::Crc32c;
use flatstream_encrypt::EncryptFramerExt;
use flatstream_io::{ChecksumFramer, StreamReader, StreamWriter};

use flatstream_test_support::{CountingAllocator, allocations_during};

use crate::common::{CIPHERS, deframer, key, payloads};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

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
