//! The follower against files that grow, break and change underneath it: one test binary,
//! its modules by theme.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use flatstream_checksum_crc32c::Crc32c;
use flatstream_follow::{Deframer, Follow, FollowConfig};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamWriter};
use flatstream_test_support::ScratchFile;

mod allocation;
mod changes;
mod growing;

/// Long enough never to pass on a loaded machine while a frame is on its way; the tests
/// that wait this long fail rather than hang.
const PATIENCE: Duration = Duration::from_secs(20);

/// A new, empty file of its own for each test, `name` alone in a directory of its own,
/// removed with it when the returned guard is dropped (see [`ScratchFile`]).
fn fresh_file(name: &str) -> ScratchFile {
    let file = ScratchFile::new(name);
    File::create(&*file).unwrap();
    file
}

fn appender(path: &Path) -> File {
    OpenOptions::new().append(true).open(path).unwrap()
}

fn deframer() -> ChecksumDeframer<Crc32c> {
    ChecksumDeframer::new(Crc32c::new())
}

/// Payloads of varied lengths (0 to 299 bytes), each telling its index.
fn payload(index: usize) -> Vec<u8> {
    let len = (index * 37) % 300;
    (0..len)
        .map(|at| (index.wrapping_mul(31) + at) as u8)
        .collect()
}

/// `payload` framed with CRC-32C.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
    writer.write_payload(payload).unwrap();
    writer.into_inner()
}

/// The follower in both ways of waiting.
fn configs() -> [(&'static str, FollowConfig); 2] {
    [
        ("notify", FollowConfig::new()),
        (
            "polling",
            FollowConfig::new()
                .notify(false)
                .poll_interval(Duration::from_millis(5)),
        ),
    ]
}

/// Appends `bytes` and makes sure they reached the file.
fn append(file: &mut File, bytes: &[u8]) {
    file.write_all(bytes).unwrap();
    file.flush().unwrap();
}

/// The next payload, which must arrive within [`PATIENCE`].
fn expect_frame<D: Deframer>(follow: &mut Follow<D>) -> Vec<u8> {
    match follow.next(PATIENCE) {
        Ok(Some(payload)) => payload.to_vec(),
        Ok(None) => panic!(
            "no frame within {PATIENCE:?}: frame {} at byte offset {}, {} bytes pending",
            follow.frames_read(),
            follow.position(),
            follow.pending_len()
        ),
        Err(error) => panic!("{error}"),
    }
}
