//! The state file: loading, atomic saving, and the group commit of changes (the journal).
//!
//! Writes are group-committed: a handler that changed the state records the change (a generation
//! number, taken under the state's write lock) and waits for the flush that covers it; one writer
//! task saves the whole state per flush. Concurrent writes therefore share one serialization and
//! one fsync instead of each rewriting the file, yet a response still goes out only once its
//! change is on disk (acknowledged ⇒ durable), and the file is always a complete state.
//!
//! Must not: know what the records mean (that is the handlers'), or answer requests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::SandboxState;
use crate::sandbox::Error;

/// Loads the state file; a missing file is an empty state, an unreadable or corrupt one an error.
pub fn load(path: &Path) -> Result<SandboxState, Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| Error::CorruptState {
            path: path.to_path_buf(),
            source,
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(SandboxState::default()),
        Err(source) => Err(Error::StateFile {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the state durably: temp file in the same directory, fsync, rename over, fsync the directory.
pub fn save(path: &Path, state: &SandboxState) -> Result<(), Error> {
    write_atomically(path, &encode(path, state)?)
}

fn file_error(path: &Path, source: std::io::Error) -> Error {
    Error::StateFile {
        path: path.to_path_buf(),
        source,
    }
}

fn encode(path: &Path, state: &SandboxState) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(state).map_err(|e| file_error(path, std::io::Error::other(e)))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = |source| file_error(path, source);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp"));
    {
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Ok(dir) = std::fs::File::open(&dir) {
        dir.sync_all().map_err(io)?;
    }
    Ok(())
}

/// The group commit of one state file (see the module docs).
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    /// The generation of the latest change, bumped with the state's write lock held.
    changed: watch::Sender<u64>,
    /// What the latest flush covered and how it went.
    flushed: watch::Sender<Flush>,
    /// Flushes attempted (each one a whole-file write and fsync).
    flushes: AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct Flush {
    generation: u64,
    error: Option<Arc<Error>>,
}

/// The writer task of a [`Journal`].
#[derive(Debug)]
pub(crate) struct Writer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Writer {
    /// Saves whatever is still pending, then stops the task.
    pub(crate) async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl Journal {
    /// Starts the writer task that saves `state` to `path` after changes. Generation 0 is the
    /// state as loaded, already on disk (or empty).
    pub(crate) fn start(path: PathBuf, state: Arc<RwLock<SandboxState>>) -> (Arc<Journal>, Writer) {
        let journal = Arc::new(Journal {
            path,
            changed: watch::Sender::new(0),
            flushed: watch::Sender::new(Flush::default()),
            flushes: AtomicU64::new(0),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(write_loop(state, Arc::clone(&journal), stopped));
        (journal, Writer { stop, task })
    }

    /// Records a change and returns its generation. Call it with the state's write lock held, so
    /// that a snapshot taken under the read lock holds exactly the changes up to [`Self::current`].
    pub(crate) fn record_change(&self) -> u64 {
        let mut generation = 0;
        self.changed.send_modify(|g| {
            *g += 1;
            generation = *g;
        });
        generation
    }

    /// The generation of the latest change.
    pub(crate) fn current(&self) -> u64 {
        *self.changed.borrow()
    }

    /// Flushes attempted so far.
    pub(crate) fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// Waits for the flush that covers `generation`: `Ok` once that change is on disk, the
    /// flush's error if it failed.
    pub(crate) async fn committed(&self, generation: u64) -> Result<(), Arc<Error>> {
        let mut flushed = self.flushed.subscribe();
        match flushed.wait_for(|f| f.generation >= generation).await {
            Ok(flush) => flush.error.clone().map_or(Ok(()), Err),
            // Unreachable while `self` holds the sender; answer as a failed flush, never hang.
            Err(_) => Err(Arc::new(file_error(
                &self.path,
                std::io::Error::other("the state writer stopped"),
            ))),
        }
    }
}

/// Waits for changes newer than the last flush and saves them, many at a time; on stop, saves
/// what is pending and returns.
async fn write_loop(
    state: Arc<RwLock<SandboxState>>,
    journal: Arc<Journal>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut changes = journal.changed.subscribe();
    let mut saved = 0;
    loop {
        let stopping = tokio::select! {
            pending = changes.wait_for(|g| *g > saved) => pending.is_err(),
            _ = &mut stop => true,
        };
        if journal.current() > saved {
            saved = flush(&state, &journal).await;
        }
        if stopping {
            return;
        }
    }
}

/// Saves one snapshot off the async threads, publishes the outcome, returns the generation it covered.
async fn flush(state: &Arc<RwLock<SandboxState>>, journal: &Arc<Journal>) -> u64 {
    let (state, snapshot_journal) = (Arc::clone(state), Arc::clone(journal));
    let (generation, outcome) = tokio::task::spawn_blocking(move || save_snapshot(&state, &snapshot_journal))
        .await
        .unwrap_or_else(|join| {
            let error = file_error(&journal.path, std::io::Error::other(join.to_string()));
            (journal.current(), Err(error))
        });
    journal.flushes.fetch_add(1, Ordering::Relaxed);
    if let Err(error) = &outcome {
        tracing::error!(%error, "saving the sandbox state failed");
    }
    journal.flushed.send_replace(Flush {
        generation,
        error: outcome.err().map(Arc::new),
    });
    generation
}

/// Serializes the state under its read lock (so no change is half in), then writes it out.
fn save_snapshot(state: &RwLock<SandboxState>, journal: &Journal) -> (u64, Result<(), Error>) {
    let path = &journal.path;
    let snapshot = match state.read() {
        Ok(state) => (journal.current(), encode(path, &state)),
        Err(_) => (
            journal.current(),
            Err(file_error(
                path,
                std::io::Error::other("sandbox state lock poisoned"),
            )),
        ),
    };
    match snapshot {
        (generation, Ok(bytes)) => (generation, write_atomically(path, &bytes)),
        (generation, Err(error)) => (generation, Err(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corrupt_file_is_an_error_naming_it() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.json");
        assert_eq!(load(&path)?, SandboxState::default());
        let mut state = SandboxState::default();
        state.sfn.next_revision = 9;
        save(&path, &state)?;
        assert_eq!(load(&path)?, state);
        std::fs::write(&path, b"{not json")?;
        let err = load(&path).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("state.json"), "{err}");
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_changes_share_flushes_and_each_is_on_disk_once_committed()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.json");
        let state = Arc::new(RwLock::new(SandboxState::default()));
        let (journal, writer) = Journal::start(path.clone(), Arc::clone(&state));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let (state, journal, path) = (Arc::clone(&state), Arc::clone(&journal), path.clone());
            tasks.spawn(async move {
                let (mine, generation) = {
                    let mut state = state.write().map_err(|_| "poisoned")?;
                    state.sfn.next_revision += 1;
                    (state.sfn.next_revision, journal.record_change())
                };
                journal.committed(generation).await.map_err(|e| e.to_string())?;
                let on_disk = load(&path).map_err(|e| e.to_string())?.sfn.next_revision;
                if on_disk < mine {
                    return Err(format!("change {mine} committed but the file has {on_disk}"));
                }
                Ok::<(), String>(())
            });
        }
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        assert_eq!(journal.current(), 200);
        let flushes = journal.flushes();
        assert!(
            (1..=100).contains(&flushes),
            "200 concurrent changes took {flushes} flushes"
        );
        writer.finish().await;
        let in_memory = state.read().map_err(|_| "poisoned")?.clone();
        assert_eq!(load(&path)?, in_memory);
        Ok(())
    }

    #[tokio::test]
    async fn finish_saves_a_change_nobody_waited_for() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.json");
        let state = Arc::new(RwLock::new(SandboxState::default()));
        let (journal, writer) = Journal::start(path.clone(), Arc::clone(&state));
        {
            let mut state = state.write().map_err(|_| "poisoned")?;
            state.sfn.next_revision = 7;
            journal.record_change();
        }
        writer.finish().await;
        assert_eq!(load(&path)?.sfn.next_revision, 7);
        Ok(())
    }
}
