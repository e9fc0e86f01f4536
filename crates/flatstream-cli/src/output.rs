//! Where a command's output goes: files written atomically, never over the input, and
//! standard output written without panicking.
//!
//! A file is written to a temporary file beside it (same directory, so the rename is atomic),
//! synced, and renamed into place by [`AtomicFile::commit`]. Until then the target is
//! untouched, and dropping the [`AtomicFile`] (any error path) removes the temporary file, so
//! a failed run leaves neither; an interrupt (SIGINT, SIGTERM, SIGHUP) removes it too before
//! the process exits with status 130. Whether the output is the input is decided by device and
//! inode, which sees through hard links, symbolic links and `./` prefixes, where comparing
//! paths does not.

use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};

use crate::failure::Failure;

/// Names standard output in messages.
pub(crate) const STDOUT: &str = "<stdout>";

/// Writes to locked standard output with `write`, then flushes.
///
/// # Errors
///
/// A write or flush error names `<stdout>` (exit status 2); a closed pipe is
/// [`Failure::BrokenPipe`] (quiet).
pub(crate) fn print(
    write: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>,
) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(|error| Failure::output(Path::new(STDOUT), &error))
}

/// The exit of a command that printed its report (`printed`) after deciding about the data
/// (`verdict`). A closed pipe does not hide bad data: the verdict stands, quietly; any other
/// error on standard output is exit status 2.
pub(crate) fn after_printing(
    printed: Result<(), Failure>,
    verdict: Result<(), Failure>,
) -> Result<(), Failure> {
    match printed {
        Ok(()) | Err(Failure::BrokenPipe) => verdict,
        Err(failure) => Err(failure),
    }
}

/// Refuses (exit status 2) when `output` is the same file as `input`. An output that does
/// not exist yet cannot be the input.
///
/// # Errors
///
/// [`Failure::Usage`] naming `output` when both name one file.
pub(crate) fn refuse_same_file(input: &Path, output: &Path) -> Result<(), Failure> {
    let (Ok(output_meta), Ok(input_meta)) = (fs::metadata(output), fs::metadata(input)) else {
        // A missing output is a new file; a missing input fails when it is opened, with its
        // own message.
        return Ok(());
    };
    if same_file(&input_meta, &output_meta, input, output) {
        return Err(Failure::usage(
            output,
            format_args!(
                "is the input {} (the same file): write to a new file; the input is never changed",
                input.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata, _: &Path, _: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// Without device and inode numbers, the best std offers: canonical paths (which miss hard
/// links).
#[cfg(not(unix))]
fn same_file(_: &Metadata, _: &Metadata, a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Tells temporary files of one process apart.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Temporary files neither committed nor removed yet, with their targets: what an interrupt
/// removes. Each is created, renamed or removed with this lock held, so the interrupt
/// handler, which holds it until the process exits, never sees a step half done.
static PENDING: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

/// The exit status of a run ended by an interrupt, as shells report SIGINT.
const INTERRUPTED: i32 = 130;

fn pending() -> MutexGuard<'static, Vec<(PathBuf, PathBuf)>> {
    // A panic elsewhere while holding the lock leaves the list as valid as it was.
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// From the first output file on, an interrupt removes the temporary files and exits.
fn remove_temporary_files_on_interrupt() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Should the handler not install, an interrupted run leaves its temporary file, but
        // still nothing at the target.
        let _ = ctrlc::set_handler(|| {
            let pending = pending();
            let mut stderr = io::stderr().lock();
            for (temp, target) in pending.iter() {
                let _ = fs::remove_file(temp);
                // Not eprintln!: a panic here would leave the process running.
                let _ = writeln!(
                    stderr,
                    "flatstream: interrupted: {} not written",
                    target.display()
                );
            }
            std::process::exit(INTERRUPTED);
        });
    });
}

/// An output file that appears at its path, complete, only on [`commit`](Self::commit).
#[derive(Debug)]
pub(crate) struct AtomicFile {
    /// Where the output goes: the path given, or the file a symbolic link there points to.
    target: PathBuf,
    file: File,
    /// The temporary file while it is not committed; `None` once renamed, or for a target
    /// that is not a regular file (a device or a pipe such as `/dev/stdout`), which is
    /// written directly because it cannot be renamed over.
    temp: Option<PathBuf>,
}

impl AtomicFile {
    /// Creates a temporary file beside `target` (named `.NAME.flatstream-tmp-PID-N`),
    /// refusing first when `target` is `input`.
    ///
    /// An existing target keeps its permissions; a symbolic link keeps pointing at the file
    /// it names, which is the one replaced.
    ///
    /// # Errors
    ///
    /// [`Failure::Usage`] naming `target` when it is the input or the temporary file cannot
    /// be made (such as a missing directory).
    pub(crate) fn create(target: &Path, input: Option<&Path>) -> Result<Self, Failure> {
        if let Some(input) = input {
            refuse_same_file(input, target)?;
        }
        let existing = fs::metadata(target).ok();
        if existing.as_ref().is_some_and(Metadata::is_dir) {
            return Err(Failure::usage(
                target,
                "is a directory: give the output file's path",
            ));
        }
        if existing.as_ref().is_some_and(|meta| !meta.is_file()) {
            // A device or a pipe: nothing to rename over, nothing half-written to remove.
            let file = File::options()
                .write(true)
                .open(target)
                .map_err(|error| Failure::usage(target, error))?;
            return Ok(AtomicFile {
                target: target.to_owned(),
                file,
                temp: None,
            });
        }
        let target = resolve_symlink(target);
        let directory = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().ok_or_else(|| {
            Failure::usage(&target, "is not a file name: give the output file's path")
        })?;
        remove_temporary_files_on_interrupt();
        let mut pending = pending();
        let (file, temp) = loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut temp_name = std::ffi::OsString::from(".");
            temp_name.push(name);
            temp_name.push(format!(".flatstream-tmp-{}-{n}", std::process::id()));
            let temp = directory.join(temp_name);
            match File::create_new(&temp) {
                Ok(file) => {
                    pending.push((temp.clone(), target.clone()));
                    break (file, temp);
                }
                // Left by a run that was killed: take the next name.
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {}
                Err(error) => return Err(Failure::usage(&target, error)),
            }
        };
        drop(pending);
        let this = AtomicFile {
            target,
            file,
            temp: Some(temp),
        };
        if let Some(meta) = existing.filter(Metadata::is_file) {
            this.file
                .set_permissions(meta.permissions())
                .map_err(|error| Failure::usage(&this.target, error))?;
        }
        Ok(this)
    }

    /// The temporary file, while the output is not committed (`None` for a target written
    /// directly).
    pub(crate) fn temporary_path(&self) -> Option<&Path> {
        self.temp.as_deref()
    }

    /// Syncs the file and renames it over the target, then syncs the directory so that the
    /// rename survives a crash.
    ///
    /// # Errors
    ///
    /// [`Failure::Usage`] naming the target when syncing or renaming fails; the temporary
    /// file is removed then.
    pub(crate) fn commit(mut self) -> Result<(), Failure> {
        let Some(temp) = &self.temp else {
            // Written directly: flushing is all; a pipe cannot be synced.
            return self
                .file
                .flush()
                .map_err(|error| Failure::output(&self.target, &error));
        };
        // On an error below, `drop` removes the temporary file.
        self.file
            .sync_all()
            .map_err(|error| Failure::usage(&self.target, error))?;
        let mut pending = pending();
        fs::rename(temp, &self.target).map_err(|error| Failure::usage(&self.target, error))?;
        pending.retain(|(pending_temp, _)| pending_temp != temp);
        drop(pending);
        self.temp = None;
        if let Some(directory) = self.target.parent() {
            let directory = if directory.as_os_str().is_empty() {
                Path::new(".")
            } else {
                directory
            };
            // Best effort: the file is in place whatever happens here, and some file systems
            // refuse to sync a directory.
            let _ = File::open(directory).and_then(|directory| directory.sync_all());
        }
        Ok(())
    }
}

/// The file a symbolic link at `path` points to, when it resolves; `path` otherwise.
fn resolve_symlink(path: &Path) -> PathBuf {
    let is_link = fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink());
    if is_link && let Ok(resolved) = path.canonicalize() {
        return resolved;
    }
    path.to_owned()
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let mut pending = pending();
            // Nothing more can be done about a failure here: the error that got us here is
            // the one to report.
            let _ = fs::remove_file(&temp);
            pending.retain(|(pending_temp, _)| *pending_temp != temp);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    use flatstream_test_support::ScratchDir;

    fn scratch_dir(name: &str) -> ScratchDir {
        ScratchDir::new(&format!("cli-output-{name}"))
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn dropped_without_commit_leaves_nothing() {
        let dir = scratch_dir("drop");
        let mut file = AtomicFile::create(&dir.join("out.fs"), None).unwrap();
        file.write_all(b"partial").unwrap();
        assert_eq!(
            entries(&dir).len(),
            1,
            "the temporary file exists while writing"
        );
        drop(file);
        assert!(entries(&dir).is_empty());
    }

    #[test]
    fn commit_replaces_the_target_keeping_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch_dir("commit");
        let target = dir.join("out.fs");
        fs::write(&target, b"old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
        let mut file = AtomicFile::create(&target, None).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"old", "untouched until commit");
        file.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(entries(&dir), ["out.fs"]);
    }

    #[test]
    fn a_symbolic_link_keeps_pointing_at_the_replaced_file() {
        let dir = scratch_dir("symlink");
        let real = dir.join("real.fs");
        let link = dir.join("link.fs");
        fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut file = AtomicFile::create(&link, None).unwrap();
        file.write_all(b"new").unwrap();
        file.commit().unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn the_input_is_recognised_through_links_and_paths() {
        let dir = scratch_dir("same");
        let input = dir.join("in.fs");
        fs::write(&input, b"data").unwrap();
        let hard = dir.join("hard.fs");
        fs::hard_link(&input, &hard).unwrap();
        let soft = dir.join("soft.fs");
        std::os::unix::fs::symlink(&input, &soft).unwrap();
        let dotted = dir.join(".").join("in.fs");
        for output in [&input, &hard, &soft, &dotted] {
            assert!(
                matches!(refuse_same_file(&input, output), Err(Failure::Usage(_))),
                "{}",
                output.display()
            );
        }
        assert!(refuse_same_file(&input, &dir.join("new.fs")).is_ok());
        fs::write(dir.join("other.fs"), b"data").unwrap();
        assert!(refuse_same_file(&input, &dir.join("other.fs")).is_ok());
    }
}
