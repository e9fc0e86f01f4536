//! Waiting for a file to change: woken by the operating system's change notification
//! (`notify`), or polling.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use notify::event::AccessKind;
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// How a follower waits.
pub(crate) enum Waiter {
    /// Woken when the watcher sees the file change, and at the poll interval in any case.
    Notified {
        /// Kept alive: dropping it stops the watch.
        _watcher: RecommendedWatcher,
        /// One pending wake-up at most: many changes before a read need one read.
        wakeups: Receiver<()>,
    },
    /// Looks again at every poll interval.
    Polling,
}

impl Waiter {
    /// Watches the directory holding `path` for changes to it (its directory, so that a
    /// file created or renamed over the path is seen too); polls when that cannot be set up.
    pub(crate) fn watching(path: &Path) -> Self {
        let (sender, wakeups) = sync_channel(1);
        match watch(path, sender) {
            Ok(watcher) => Waiter::Notified {
                _watcher: watcher,
                wakeups,
            },
            Err(_) => Waiter::Polling,
        }
    }

    /// Forgets wake-ups received so far: the read that follows sees their changes.
    pub(crate) fn clear(&mut self) {
        if let Waiter::Notified { wakeups, .. } = self {
            while wakeups.try_recv().is_ok() {}
        }
    }

    /// Waits for a change, or `poll_interval`, whichever comes first, but not past
    /// `deadline` (none: no limit). Returns `false` without waiting once the deadline has
    /// passed.
    pub(crate) fn wait(&mut self, deadline: Option<Instant>, poll_interval: Duration) -> bool {
        let nap = match deadline {
            Some(deadline) => {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return false;
                }
                remaining.min(poll_interval)
            }
            None => poll_interval,
        };
        match self {
            Waiter::Notified { wakeups, .. } => match wakeups.recv_timeout(nap) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                // The watcher's thread ended: poll from now on.
                Err(RecvTimeoutError::Disconnected) => {
                    *self = Waiter::Polling;
                    std::thread::sleep(nap);
                }
            },
            Waiter::Polling => std::thread::sleep(nap),
        }
        true
    }
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Waiter::Notified { .. } => "Notified",
            Waiter::Polling => "Polling",
        })
    }
}

fn watch(path: &Path, sender: SyncSender<()>) -> notify::Result<RecommendedWatcher> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(ToOwned::to_owned);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        let relevant = match &event {
            // Opening the file changes nothing; anything else about it (or an event that
            // names no path, or an error) is worth a look.
            Ok(event) => {
                !matches!(event.kind, EventKind::Access(AccessKind::Open(_)))
                    && (event.paths.is_empty()
                        || event
                            .paths
                            .iter()
                            .any(|changed| changed.file_name() == name.as_deref()))
            }
            Err(_) => true,
        };
        if relevant {
            // Full: a wake-up is pending already. Disconnected: the follower is gone.
            let _: Result<(), TrySendError<()>> = sender.try_send(());
        }
    })?;
    watcher.watch(&directory, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}
