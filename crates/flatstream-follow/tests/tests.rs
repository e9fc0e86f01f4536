//! The follower against files that grow, break and change underneath it: one test binary,
//! its modules by theme.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flatstream_checksum_crc32c::Crc32c;
use flatstream_follow::{Deframer, Follow, FollowConfig};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamWriter};

mod allocation;
mod changes;
mod growing;

/// Long enough never to pass on a loaded machine while a frame is on its way; the tests
/// that wait this long fail rather than hang.
const PATIENCE: Duration = Duration::from_secs(20);

/// A test's file, alone in a directory of its own under the system's temporary directory,
/// which is removed with everything in it when this is dropped: when the test returns, and
/// when a failed assertion unwinds through it. A test binds it to a name that lives to its
/// end (`_` would drop it at once). It dereferences to the file's path.
struct ScratchFile {
    dir: PathBuf,
    path: PathBuf,
}

impl Deref for ScratchFile {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for ScratchFile {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        // Nothing more can be done about a failure here, and a panic while a failed
        // assertion unwinds would abort the test binary.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new, empty file of its own for each test: `name` in
/// `flatstream-follow-tests-{process id}-{n}`, where `n` counts the files this process has
/// made, so that tests running at once never share one. Whatever an earlier process of the
/// same id left there is removed first.
fn fresh_file(name: &str) -> ScratchFile {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "flatstream-follow-tests-{}-{}",
        std::process::id(),
        MADE.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let file = ScratchFile { dir, path };
    File::create(&file.path).unwrap();
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
