//! Finding manifest files under the command-line paths (SPEC §2).
//!
//! The walk is bounded by the tree, never by its links: each directory is walked at most once
//! (recognised by device and inode, so a link loop or a second link to the same directory is
//! named once instead of being walked again and again), nesting stops at [`MAX_DIR_DEPTH`], and a
//! manifest that is not a regular file (a FIFO, a socket, a device) is refused by name, never
//! opened, so nothing here can block.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A manifest file, the canonical root of the `PATH` it was found under (`definitionFile`s must
/// stay inside it), and which `PATH` that was (its index on the command line).
#[derive(Debug, Clone)]
pub struct Found {
    pub file: PathBuf,
    pub root: PathBuf,
    pub origin: usize,
}

/// `*.asl.yaml`, `*.asl.yml` and `*.asl.json` are definition files, not manifests.
pub fn is_definition_file(name: &str) -> bool {
    [".asl.yaml", ".asl.yml", ".asl.json"]
        .iter()
        .any(|s| name.ends_with(s))
}

fn is_manifest_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".yaml") || name.ends_with(".yml")) && !is_definition_file(name)
}

/// Deepest directory nesting walked.
pub const MAX_DIR_DEPTH: usize = 64;

/// What identifies a directory however it is reached: (device, inode) on Unix, the canonical
/// path elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum DirId {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg(not(unix))]
    Canonical(PathBuf),
}

fn dir_id(path: &Path, meta: &std::fs::Metadata) -> Option<DirId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = path;
        Some(DirId::Inode(meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        std::fs::canonicalize(path).ok().map(DirId::Canonical)
    }
}

/// A short name for a file type that is neither a regular file nor a directory.
pub fn odd_file_type(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    let _ = meta;
    "a special file"
}

struct Walk {
    found: Vec<Found>,
    errors: Vec<(PathBuf, String)>,
    /// Every directory walked in this load, with the path it was first reached by.
    seen: BTreeMap<DirId, PathBuf>,
}

/// Walks `paths`: directories recursively in name order (entries starting with `.` skipped, links
/// followed, each directory once); a file named explicitly is loaded whatever its name, if it is a
/// regular file. Errors are `(path, message)`.
pub fn walk(paths: &[PathBuf]) -> (Vec<Found>, Vec<(PathBuf, String)>) {
    let mut w = Walk {
        found: Vec::new(),
        errors: Vec::new(),
        seen: BTreeMap::new(),
    };
    for (origin, path) in paths.iter().enumerate() {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                w.errors.push((path.clone(), format!("cannot read path: {e}")));
                continue;
            }
        };
        if meta.is_dir() {
            match std::fs::canonicalize(path) {
                Ok(root) => w.dir(path, &meta, &root, origin, 0),
                Err(e) => w.errors.push((path.clone(), format!("cannot resolve path: {e}"))),
            }
        } else if meta.is_file() {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            match std::fs::canonicalize(&parent) {
                Ok(root) => w.found.push(Found {
                    file: path.clone(),
                    root,
                    origin,
                }),
                Err(e) => w.errors.push((path.clone(), format!("cannot resolve path: {e}"))),
            }
        } else {
            w.errors.push((
                path.clone(),
                format!(
                    "cannot read path: {} is {}, not a file or directory; refused",
                    path.display(),
                    odd_file_type(&meta)
                ),
            ));
        }
    }
    (w.found, w.errors)
}

impl Walk {
    fn dir(&mut self, dir: &Path, meta: &std::fs::Metadata, root: &Path, origin: usize, depth: usize) {
        if let Some(id) = dir_id(dir, meta) {
            if let Some(first) = self.seen.get(&id) {
                self.errors.push((
                    dir.to_path_buf(),
                    format!(
                        "directory reached twice through links: {} is {} again (a link loop?); walked once",
                        dir.display(),
                        first.display()
                    ),
                ));
                return;
            }
            self.seen.insert(id, dir.to_path_buf());
        }
        if depth > MAX_DIR_DEPTH {
            self.errors.push((
                dir.to_path_buf(),
                format!("directories nested deeper than {MAX_DIR_DEPTH} levels; not walked further"),
            ));
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.errors
                    .push((dir.to_path_buf(), format!("cannot read directory: {e}")));
                return;
            }
        };
        let mut names: Vec<(String, PathBuf)> = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => names.push((e.file_name().to_string_lossy().into_owned(), e.path())),
                Err(e) => self
                    .errors
                    .push((dir.to_path_buf(), format!("cannot read directory: {e}"))),
            }
        }
        names.retain(|(name, _)| !name.starts_with('.'));
        names.sort();
        for (name, path) in names {
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => self.dir(&path, &m, root, origin, depth + 1),
                Ok(m) if m.is_file() => {
                    if is_manifest_name(&name) {
                        self.found.push(Found {
                            file: path,
                            root: root.to_path_buf(),
                            origin,
                        });
                    }
                }
                Ok(m) => {
                    if is_manifest_name(&name) {
                        let what = odd_file_type(&m);
                        self.errors.push((
                            path,
                            format!("cannot read file: it is {what}, not a regular file; refused"),
                        ));
                    }
                }
                Err(e) => {
                    if is_manifest_name(&name) {
                        self.errors.push((path, format!("cannot read file: {e}")));
                    }
                }
            }
        }
    }
}
