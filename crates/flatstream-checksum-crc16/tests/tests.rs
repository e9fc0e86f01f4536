//! Known-answer tests for flatstream-checksum-crc16.

use flatstream_checksum_crc16::Crc16;

flatstream_core::known_answer_test!(crc16_xmodem, Crc16::new());
