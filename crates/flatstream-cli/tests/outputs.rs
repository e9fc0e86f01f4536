//! What the commands report and write: `--json` counts the bytes actually read.

use std::fs;

use serde_json::Value;

use crate::{flatstream_with_input, stderr, vector};

/// A CRC-32C stream of 47 frames.
fn good_stream() -> Vec<u8> {
    fs::read(vector("crc32c-mixed.bin")).unwrap()
}

#[test]
fn json_bytes_are_the_bytes_read() {
    // Read through a pipe, whose size at open is 0.
    for (name, checksum) in [
        ("crc32c-mixed.bin", "crc32c"),
        ("xxh3-truncated-in-payload.bin", "xxh3"),
    ] {
        let stream = fs::read(vector(name)).unwrap();
        for command in ["verify", "stats"] {
            let run =
                flatstream_with_input(&[command, "/dev/stdin", "--json", "-c", checksum], &stream);
            let report: Value = serde_json::from_slice(&run.stdout)
                .unwrap_or_else(|error| panic!("{command} {name}: {error}: {}", stderr(&run)));
            assert_eq!(report["bytes"], stream.len(), "{command} {name}");
            assert!(
                report["bytes"].as_u64() >= report["last_good_offset"].as_u64(),
                "{command} {name}"
            );
        }
    }
    let stream = good_stream();
    let text = flatstream_with_input(&["verify", "/dev/stdin"], &stream);
    assert!(
        String::from_utf8_lossy(&text.stdout)
            .contains(&format!("ok: 47 frames, {} bytes", stream.len())),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
}
