//! Scratch directories and files for tests, removed when the test ends.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory of its own under the system's temporary directory for one test's files,
/// removed with everything in it when dropped: when the test returns, and when a failed
/// assertion unwinds through it. Bind it to a name that lives to the test's end (`_` would
/// drop it at once). It dereferences to its path.
///
/// ```
/// use flatstream_test_support::ScratchDir;
///
/// let dir = ScratchDir::new("doc-example");
/// std::fs::write(dir.join("frames.fs"), b"bytes").unwrap();
/// let path = dir.to_path_buf();
/// drop(dir);
/// assert!(!path.exists());
/// ```
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// `flatstream-{name}-{process id}-{n}`, where `n` counts the directories this process
    /// has made: unique to one test however many run at once, whatever name they give.
    /// Whatever an earlier process of the same id left there is removed first.
    ///
    /// # Panics
    ///
    /// When the directory cannot be made.
    pub fn new(name: &str) -> ScratchDir {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "flatstream-{name}-{}-{}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }
}

impl Deref for ScratchDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Nothing more can be done about a failure here, and a panic while a failed
        // assertion unwinds would abort the test binary.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A path for one test's file, `name`, alone in a [`ScratchDir`] of its own: removed with
/// its directory when dropped. The file itself is the test's to create. It dereferences to
/// the file's path.
#[derive(Debug)]
pub struct ScratchFile {
    path: PathBuf,
    // Dropped after `path` is no longer needed; removes the file with the directory.
    _dir: ScratchDir,
}

impl ScratchFile {
    /// The path of `name` in a new [`ScratchDir`] named after it.
    ///
    /// # Panics
    ///
    /// When the directory cannot be made.
    pub fn new(name: &str) -> ScratchFile {
        let dir = ScratchDir::new(name);
        ScratchFile {
            path: dir.join(name),
            _dir: dir,
        }
    }
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
