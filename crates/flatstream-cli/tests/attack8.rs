//! Findings of the eighth outsider attack.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::edges::{dir, frame, noise, payloads};

/// 240 000 frames of 16-byte payloads under CRC-32 (5.76 MB); every other frame's length
/// field is damaged so that it covers the next frame too (16 -> 40: the frame ends exactly
/// on the header after next, so its checksum fails but the chain of headers goes on). After
/// each damaged frame salvage finds the next frame, which is not on the chain kept from the
/// last search (that chain jumped over it), so the chain is walked again from it to the end
/// of the input: one walk per damaged region, quadratic. In release: 1.2 MB 0.13 s, 4.8 MB
/// 1.9 s, 9.6 MB 7.2 s, 19.2 MB 31 s. Salvage must cost O(input): well under 5 s here.
#[test]
fn salvage_with_lengths_that_skip_one_frame_is_linear() {
    let dir = dir("attack8-skip-lengths");
    let count = 240_000u64;
    let mut bytes = Vec::new();
    for index in 0..count {
        let mut framed = frame("crc32", &noise(index + 1, 16));
        if index % 2 == 0 && index + 2 < count {
            framed[..4].copy_from_slice(&(16u32 + 8 + 16).to_le_bytes());
        }
        bytes.extend(framed);
    }
    let input = dir.join("damaged.fs");
    let output = dir.join("salvaged.fs");
    std::fs::write(&input, &bytes).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flatstream"))
        .args([
            "salvage",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "-c",
            "crc32",
            "-q",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(5) {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = status.expect(
        "salvage of 5.8 MB with 120 000 damaged regions whose lengths skip one frame: still \
         running after 5 s",
    );
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        payloads("crc32", &std::fs::read(&output).unwrap()).len(),
        120_001
    );
}
