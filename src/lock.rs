//! Exclusive advisory locks on a file, held for a process's life, with the holder's pid and host
//! (and what it is doing) written into it so a refused second process can say who holds it: one
//! daemon per manifest set (SPEC §6), one sandbox per state file (SPEC §7).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds it.
    #[error("another sfn-operator {what} holds the lock {path} ({holder}); {rule}")]
    Held {
        /// `daemon` or `sandbox`.
        what: &'static str,
        path: PathBuf,
        holder: String,
        /// Why there may be only one.
        rule: &'static str,
    },
    /// The lock file could not be created or locked.
    #[error("lock file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A held lock; released when dropped (or when the process exits).
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rewrites the holder line with `detail` (e.g. the address a sandbox listens on), for the
    /// message a refused second process prints. Best effort: the lock itself is what counts.
    pub fn describe(&mut self, detail: &str) {
        let line = format!("{} ({detail})", holder_line());
        let _ = self.file.set_len(0);
        let _ = self.file.seek(SeekFrom::Start(0));
        let _ = writeln!(self.file, "{line}");
        let _ = self.file.flush();
    }
}

/// Takes the daemon's exclusive lock at `path` (creating it and its directory), or says who holds it.
pub fn acquire(path: &Path) -> Result<Lock, Error> {
    acquire_for(path, "daemon", "one daemon per set of manifests")
}

/// Takes an exclusive lock at `path` for a `what` (`daemon`, `sandbox`), or says who holds it and
/// the `rule` that allows only one.
pub fn acquire_for(path: &Path, what: &'static str, rule: &'static str) -> Result<Lock, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() {
                "holder unknown".to_owned()
            } else {
                holder.to_owned()
            };
            return Err(Error::Held {
                what,
                path: path.to_path_buf(),
                holder,
                rule,
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", holder_line()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(Lock {
        file,
        path: path.to_path_buf(),
    })
}

/// `pid N on host H`.
fn holder_line() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    format!("pid {} on host {host}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join(".sfn-operator/lock");
        let first = acquire(&path).unwrap_or_else(|e| panic!("{e}"));
        match acquire(&path) {
            Err(e @ Error::Held { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&path.display().to_string()), "{msg}");
                assert!(msg.contains(&format!("pid {}", std::process::id())), "{msg}");
            }
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        assert!(acquire(&path).is_ok(), "released on drop");
    }
}
