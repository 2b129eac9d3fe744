//! Watches the manifest `PATH`s (SPEC §6) and says *that* something changed, debounced; the
//! controller reloads and diffs the desired set to learn *what*. Directories are watched, never
//! single files: a `PATH` that is a file is watched through its parent directory and events are
//! filtered, so editors' rename-saves and the `..data` symlink swaps of Kubernetes ConfigMaps and
//! git-sync are seen. A watcher error rebuilds the watcher and asks for a full reload anyway
//! (after vector's `config/watcher.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Why the controller should reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Files changed under a watched path.
    Files,
    /// The watcher failed and was rebuilt; events may have been lost.
    Rebuilt,
}

/// Errors setting up a watch.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// notify could not create the watcher or add a path.
    #[error("watching {path}: {source}")]
    Watch {
        path: String,
        #[source]
        source: notify::Error,
    },
}

/// One watched root: the directory given to notify and, for a file `PATH`, the file it stands for.
#[derive(Debug, Clone)]
struct Root {
    dir: PathBuf,
    file: Option<PathBuf>,
    /// A directory `PATH` that is a symlink (git-sync's `--link`): its parent is watched too,
    /// and a swap of the link rebuilds the watch so it follows the new target.
    link: Option<PathBuf>,
}

impl Root {
    fn from_path(path: &Path) -> Root {
        if path.is_dir() {
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            Root {
                dir: path.to_path_buf(),
                file: None,
                link: is_link.then(|| path.to_path_buf()),
            }
        } else {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            Root {
                dir: parent,
                file: Some(path.to_path_buf()),
                link: None,
            }
        }
    }

    /// Whether an event path concerns this root.
    fn concerns(&self, event_path: &Path) -> bool {
        let Some(file) = &self.file else { return true };
        let name = event_path.file_name();
        // The file itself, or a `..data`-style entry whose swap changes what the file points to.
        name == file.file_name() || name.is_some_and(|n| n.to_string_lossy().starts_with(".."))
    }
}

fn relevant(kind: &EventKind) -> bool {
    !matches!(kind, EventKind::Access(_))
}

fn build(
    roots: &[Root],
    tx: mpsc::UnboundedSender<notify::Result<notify::Event>>,
) -> Result<notify::RecommendedWatcher, Error> {
    let mut watcher = notify::recommended_watcher(move |ev| {
        // The receiver only goes away at shutdown.
        let _ = tx.send(ev);
    })
    .map_err(|source| Error::Watch {
        path: String::new(),
        source,
    })?;
    for root in roots {
        let mode = if root.file.is_some() {
            RecursiveMode::NonRecursive
        } else {
            RecursiveMode::Recursive
        };
        watcher.watch(&root.dir, mode).map_err(|source| Error::Watch {
            path: root.dir.display().to_string(),
            source,
        })?;
        if let Some(link) = &root.link {
            let parent = match link.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            watcher
                .watch(&parent, RecursiveMode::NonRecursive)
                .map_err(|source| Error::Watch {
                    path: parent.display().to_string(),
                    source,
                })?;
        }
    }
    Ok(watcher)
}

/// Starts watching `paths`; each quiet period of `debounce` after one or more events yields one
/// `Change`. The task ends when the receiver is dropped.
pub fn spawn(paths: &[PathBuf], debounce: Duration) -> Result<mpsc::Receiver<Change>, Error> {
    let roots: Vec<Root> = paths.iter().map(|p| Root::from_path(p)).collect();
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel();
    // The live watcher; replaced (never left empty for long) when it fails.
    let mut watchers = vec![build(&roots, raw_tx.clone())?];
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            // Wait for the first relevant event (or an error).
            let mut change = None;
            while change.is_none() {
                let Some(ev) = raw_rx.recv().await else { return };
                change = classify(&roots, ev);
            }
            // Debounce: wait until `debounce` passes without a relevant event.
            loop {
                match tokio::time::timeout(debounce, raw_rx.recv()).await {
                    Err(_) => break,
                    Ok(None) => return,
                    Ok(Some(ev)) => {
                        if let Some(c) = classify(&roots, ev)
                            && c == Change::Rebuilt
                        {
                            change = Some(Change::Rebuilt);
                        }
                    }
                }
            }
            let change = change.unwrap_or(Change::Files);
            if change == Change::Rebuilt {
                watchers.clear();
                let mut delay = Duration::from_millis(200);
                while watchers.is_empty() {
                    match build(&roots, raw_tx.clone()) {
                        Ok(w) => watchers.push(w),
                        Err(error) => {
                            tracing::warn!(%error, "rebuilding the file watcher failed; retrying");
                            if tx.is_closed() {
                                return;
                            }
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(10));
                        }
                    }
                }
                tracing::info!("file watcher rebuilt; reloading every manifest");
            }
            if tx.send(change).await.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

fn classify(roots: &[Root], ev: notify::Result<notify::Event>) -> Option<Change> {
    match ev {
        Err(error) => {
            tracing::warn!(%error, "file watcher error");
            Some(Change::Rebuilt)
        }
        Ok(ev) => {
            if !relevant(&ev.kind) {
                return None;
            }
            // A watched directory itself removed or renamed: its watch is gone, rebuild.
            let root_gone = matches!(
                ev.kind,
                EventKind::Remove(_) | EventKind::Modify(notify::event::ModifyKind::Name(_))
            ) && ev
                .paths
                .iter()
                .any(|p| roots.iter().any(|r| r.file.is_none() && p == &r.dir));
            // A symlinked directory PATH swapped to a new target: watch the new target.
            let link_swapped = ev.paths.iter().any(|p| {
                roots.iter().any(|r| {
                    r.link
                        .as_ref()
                        .is_some_and(|l| p.file_name().is_some() && p.file_name() == l.file_name())
                })
            });
            if root_gone || link_swapped || ev.need_rescan() {
                return Some(Change::Rebuilt);
            }
            if ev.paths.is_empty() || ev.paths.iter().any(|p| roots.iter().any(|r| r.concerns(p))) {
                Some(Change::Files)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const LIMIT: Duration = Duration::from_secs(20);

    async fn expect_change(rx: &mut mpsc::Receiver<Change>, what: &str) {
        match tokio::time::timeout(LIMIT, rx.recv()).await {
            Ok(Some(_)) => {}
            other => panic!("no change seen for {what}: {other:?}"),
        }
    }

    /// Waits until the watcher reports it was rebuilt (the rebuild is done before it is reported).
    async fn expect_rebuilt(rx: &mut mpsc::Receiver<Change>, what: &str) {
        let waited = tokio::time::timeout(LIMIT, async {
            while let Some(change) = rx.recv().await {
                if change == Change::Rebuilt {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            matches!(waited, Ok(true)),
            "no rebuild seen for {what}: {waited:?}"
        );
    }

    /// Drains anything already reported (e.g. the tail of the previous step's events).
    async fn settle(rx: &mut mpsc::Receiver<Change>) {
        while tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_ok_and(|c| c.is_some())
        {}
    }

    #[tokio::test]
    async fn sees_edits_rename_saves_deletes_and_symlink_swaps() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let root = dir.path().to_path_buf();
        fs::write(root.join("a.yaml"), "a: 1\n").unwrap_or_else(|e| panic!("{e}"));
        let mut rx =
            spawn(std::slice::from_ref(&root), Duration::from_millis(50)).unwrap_or_else(|e| panic!("{e}"));

        fs::write(root.join("a.yaml"), "a: 2\n").unwrap_or_else(|e| panic!("{e}"));
        expect_change(&mut rx, "edit in place").await;
        settle(&mut rx).await;

        fs::write(root.join(".a.yaml.tmp"), "a: 3\n").unwrap_or_else(|e| panic!("{e}"));
        fs::rename(root.join(".a.yaml.tmp"), root.join("a.yaml")).unwrap_or_else(|e| panic!("{e}"));
        expect_change(&mut rx, "rename-save").await;
        settle(&mut rx).await;

        fs::create_dir(root.join("sub")).unwrap_or_else(|e| panic!("{e}"));
        settle(&mut rx).await;
        fs::write(root.join("sub/b.yaml"), "b: 1\n").unwrap_or_else(|e| panic!("{e}"));
        expect_change(&mut rx, "new file in a new subdirectory").await;
        settle(&mut rx).await;

        fs::remove_file(root.join("a.yaml")).unwrap_or_else(|e| panic!("{e}"));
        expect_change(&mut rx, "delete").await;
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn sees_a_configmap_style_data_swap_for_a_file_path() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let root = dir.path();
        let ok = |r: std::io::Result<()>| r.unwrap_or_else(|e| panic!("{e}"));
        ok(fs::create_dir(root.join("..2024_01")));
        ok(fs::write(root.join("..2024_01/m.yaml"), "v: 1\n"));
        ok(symlink("..2024_01", root.join("..data")));
        ok(symlink("..data/m.yaml", root.join("m.yaml")));
        // Watch the file PATH: its parent is watched, the swap must still be seen.
        let mut rx =
            spawn(&[root.join("m.yaml")], Duration::from_millis(50)).unwrap_or_else(|e| panic!("{e}"));

        ok(fs::create_dir(root.join("..2024_02")));
        ok(fs::write(root.join("..2024_02/m.yaml"), "v: 2\n"));
        ok(symlink("..2024_02", root.join("..data_tmp")));
        ok(fs::rename(root.join("..data_tmp"), root.join("..data")));
        expect_change(&mut rx, "..data swap").await;
        assert_eq!(
            fs::read_to_string(root.join("m.yaml")).ok().as_deref(),
            Some("v: 2\n")
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn follows_a_git_sync_style_symlinked_directory_path() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let root = dir.path();
        let ok = |r: std::io::Result<()>| r.unwrap_or_else(|e| panic!("{e}"));
        ok(fs::create_dir_all(root.join(".worktrees/one")));
        ok(fs::write(root.join(".worktrees/one/m.yaml"), "v: 1\n"));
        ok(symlink(".worktrees/one", root.join("manifests")));
        let mut rx =
            spawn(&[root.join("manifests")], Duration::from_millis(50)).unwrap_or_else(|e| panic!("{e}"));

        ok(fs::create_dir_all(root.join(".worktrees/two")));
        ok(fs::write(root.join(".worktrees/two/m.yaml"), "v: 2\n"));
        ok(symlink(".worktrees/two", root.join("manifests.tmp")));
        ok(fs::rename(root.join("manifests.tmp"), root.join("manifests")));
        // Under load the swap may first be reported as a plain change; what matters is that the
        // watch was rebuilt on the new target before the next edit.
        expect_rebuilt(&mut rx, "link swap").await;
        settle(&mut rx).await;
        // The rebuilt watch follows the new target.
        ok(fs::write(root.join(".worktrees/two/m.yaml"), "v: 3\n"));
        expect_change(&mut rx, "edit in the new target").await;
    }

    #[tokio::test]
    async fn ignores_unrelated_files_next_to_a_file_path() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let root = dir.path();
        fs::write(root.join("m.yaml"), "v: 1\n").unwrap_or_else(|e| panic!("{e}"));
        let mut rx =
            spawn(&[root.join("m.yaml")], Duration::from_millis(50)).unwrap_or_else(|e| panic!("{e}"));
        fs::write(root.join("other.txt"), "x").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            tokio::time::timeout(Duration::from_millis(500), rx.recv())
                .await
                .is_err(),
            "unrelated file"
        );
        fs::write(root.join("m.yaml"), "v: 2\n").unwrap_or_else(|e| panic!("{e}"));
        expect_change(&mut rx, "the file itself").await;
    }
}
