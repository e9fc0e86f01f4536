//! Known-answer tests for flatstream-checksum-crc64.

use flatstream_checksum_crc64::Crc64;

flatstream_core::known_answer_test!(crc64_xz, Crc64::new());
