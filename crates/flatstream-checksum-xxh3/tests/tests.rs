//! Known-answer tests for flatstream-checksum-xxh3.

use flatstream_checksum_xxh3::Xxh3;

flatstream_core::known_answer_test!(xxh3_64, Xxh3::new());
