//! Known-answer tests for flatstream-checksum-crc32c.

use flatstream_checksum_crc32c::Crc32c;

flatstream_core::known_answer_test!(crc32c_iscsi, Crc32c::new());
