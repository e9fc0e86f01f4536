//! `salvage` reads its input through a memory map. When the file shrinks while it is mapped
//! (a writer truncating or rotating it) or its storage fails a read, touching the lost pages
//! raises SIGBUS, which would kill the process and leave the temporary output behind.
//! [`SigbusGuard`] turns that into an I/O error exit (status 2) that says what happened and
//! removes the temporary file first.
//!
//! The handler cannot return (the faulting load would run again) and may only call
//! async-signal-safe functions: it writes a fixed message with `write(2)`, removes the
//! temporary file with `unlink(2)` through a path prepared beforehand, and ends the process
//! with `_exit(2)`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// The temporary output file to remove on SIGBUS, as a C string; null when there is none.
static TEMPORARY: AtomicPtr<libc::c_char> = AtomicPtr::new(ptr::null_mut());

/// What the handler writes to standard error.
const MESSAGE: &[u8] = b"flatstream: salvage: the input could not be read through its memory \
    map (SIGBUS): the file shrank while salvage read it, or its storage failed a read; no \
    output was written\n";

/// The exit status: an I/O error.
const STATUS: libc::c_int = 2;

/// While alive, SIGBUS ends the process with [`MESSAGE`] and status 2, after removing the
/// temporary file given; dropping it restores the previous action.
pub(crate) struct SigbusGuard {
    previous: SigAction,
}

impl SigbusGuard {
    /// Installs the handler, which removes `temporary` (salvage's uncommitted output) when
    /// it runs.
    ///
    /// # Errors
    ///
    /// When the handler cannot be installed: the caller goes on without it (a shrinking
    /// input then crashes the command, as the documentation warns).
    pub(crate) fn install(temporary: Option<&Path>) -> nix::Result<Self> {
        let path = temporary
            .and_then(|path| CString::new(path.as_os_str().as_bytes()).ok())
            .map_or(ptr::null_mut(), CString::into_raw);
        let old = TEMPORARY.swap(path, Ordering::SeqCst);
        free(old);
        let action = SigAction::new(
            SigHandler::Handler(on_sigbus),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: `on_sigbus` calls only async-signal-safe functions (`write`, `unlink`,
        // `_exit`) on data prepared before it was installed (a constant message and a C
        // string leaked until the guard is dropped), and never returns.
        #[allow(unsafe_code)]
        let previous = unsafe { sigaction(Signal::SIGBUS, &action) }?;
        Ok(SigbusGuard { previous })
    }
}

impl Drop for SigbusGuard {
    fn drop(&mut self) {
        // SAFETY: restores the action that was in place before `install`.
        #[allow(unsafe_code)]
        let _ = unsafe { sigaction(Signal::SIGBUS, &self.previous) };
        free(TEMPORARY.swap(ptr::null_mut(), Ordering::SeqCst));
    }
}

/// Frees a path that [`SigbusGuard::install`] leaked, once no handler can read it.
fn free(path: *mut libc::c_char) {
    if !path.is_null() {
        // SAFETY: `path` came from `CString::into_raw` in `install`, and was swapped out of
        // `TEMPORARY`, so nothing else frees or reads it.
        #[allow(unsafe_code)]
        drop(unsafe { CString::from_raw(path) });
    }
}

extern "C" fn on_sigbus(_signal: libc::c_int) {
    // SAFETY: async-signal-safe calls only: `write` of a static buffer, `unlink` of a
    // NUL-terminated path that stays allocated while the handler is installed, `_exit`.
    #[allow(unsafe_code)]
    unsafe {
        let _ = libc::write(libc::STDERR_FILENO, MESSAGE.as_ptr().cast(), MESSAGE.len());
        let temporary = TEMPORARY.load(Ordering::SeqCst);
        if !temporary.is_null() {
            let _ = libc::unlink(temporary);
        }
        libc::_exit(STATUS);
    }
}
