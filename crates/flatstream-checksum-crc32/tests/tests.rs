//! Known-answer tests for flatstream-checksum-crc32.

use flatstream_checksum_crc32::Crc32;

flatstream_core::known_answer_test!(crc32_iso_hdlc, Crc32::new());

mod clmul_attacks;
mod short_inputs;
