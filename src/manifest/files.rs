//! Finding manifest files under the command-line paths (SPEC §2), and reading them bounded.
//!
//! The walk is bounded by the tree, never by its links: each directory is walked at most once
//! (recognised by device and inode, so a link loop or a second link to the same directory is
//! named once instead of being walked again and again), nesting stops at [`MAX_DIR_DEPTH`], and a
//! manifest that is not a regular file (a FIFO, a socket, a device) is refused by name, never
//! opened, so nothing here can block.

//!
//! Must not: parse or interpret what it reads.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Files larger than this are refused unread.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// `O_NONBLOCK` (not in std; the value differs between kernels).
#[cfg(any(target_os = "linux", target_os = "android"))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const O_NONBLOCK: i32 = 0x0004;

/// Reads a regular file of at most [`MAX_FILE_BYTES`], never more. A FIFO or device is refused,
/// never read: it is opened non-blocking (so even one swapped in after the walk cannot stall the
/// open) and checked before a byte is read.
pub(super) fn read_bounded(path: &Path) -> Result<String, String> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| format!("cannot read file: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read file: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "cannot read file: it is {}, not a regular file; refused",
            odd_file_type(&meta)
        ));
    }
    let len = meta.len();
    let too_big = || format!("file too large: more than {MAX_FILE_BYTES} bytes");
    if len > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut buf = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read file: {e}"))?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    String::from_utf8(buf).map_err(|_| "file is not UTF-8".to_string())
}

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

#[cfg(unix)]
#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::time::Duration;

    /// Runs `f` on a thread and fails (instead of hanging the suite) if it takes longer than a
    /// minute: the walk's guarantee is "never stalls", whatever the tree.
    fn within_a_minute<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{what} did not finish within a minute (a hang)"))
    }

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mkfifo {}", path.display());
    }

    fn manifest(name: &str) -> String {
        format!(
            "apiVersion: sfn-operator.dev/v1alpha1\nkind: RestApi\nmetadata:\n  name: {name}\nspec: {{}}\n"
        )
    }

    #[test]
    fn link_loops_are_walked_once_and_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().to_path_buf();
        let ok = |r: std::io::Result<()>| r.unwrap_or_else(|e| panic!("{e}"));
        ok(std::fs::write(root.join("a.yaml"), manifest("a")));
        // Two `-> .` links (exponential on the old walk), one back up from a subdirectory, and a
        // second link to a real directory.
        ok(symlink(".", root.join("l1")));
        ok(symlink(".", root.join("l2")));
        ok(std::fs::create_dir(root.join("sub")));
        ok(std::fs::write(root.join("sub/b.yaml"), manifest("b")));
        ok(symlink("..", root.join("sub/up")));
        ok(symlink("sub", root.join("sub-again")));
        let paths = vec![root.clone()];
        let (found, errors) = within_a_minute("the walk", move || walk(&paths));
        let files: Vec<PathBuf> = found.iter().map(|f| f.file.clone()).collect();
        assert_eq!(files, [root.join("a.yaml"), root.join("sub/b.yaml")]);
        let named: Vec<PathBuf> = errors.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(
            named,
            [
                root.join("l1"),
                root.join("l2"),
                root.join("sub/up"),
                root.join("sub-again")
            ]
        );
        for (p, m) in &errors {
            assert!(
                m.contains("reached twice") && m.contains(&root.display().to_string()),
                "{}: {m}",
                p.display()
            );
        }
    }

    #[test]
    fn fifos_and_other_special_files_are_refused_never_opened() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().to_path_buf();
        mkfifo(&root.join("pipe.yaml"));
        mkfifo(&root.join("ignored.txt"));
        let explicit = root.join("pipe.yaml");
        // In a directory and named explicitly as a PATH; also through the loader, which reads.
        let paths = vec![root.clone(), explicit.clone()];
        let loaded = within_a_minute("loading a FIFO", move || {
            crate::manifest::load(&crate::manifest::LoadOptions {
                paths,
                ..Default::default()
            })
        });
        let messages: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages
                .iter()
                .all(|m| m.contains("FIFO") && m.contains("pipe.yaml") && m.contains("refused")),
            "{messages:?}"
        );
    }

    #[test]
    fn dangling_and_looping_links_with_manifest_names_are_errors() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().to_path_buf();
        let ok = |r: std::io::Result<()>| r.unwrap_or_else(|e| panic!("{e}"));
        ok(symlink("nowhere.yaml", root.join("dangling.yaml")));
        ok(symlink("b.yaml", root.join("a.yaml")));
        ok(symlink("a.yaml", root.join("b.yaml")));
        ok(symlink("nowhere", root.join("not-a-manifest")));
        let (found, errors) = walk(std::slice::from_ref(&root));
        assert!(found.is_empty());
        let named: Vec<PathBuf> = errors.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(
            named,
            [
                root.join("a.yaml"),
                root.join("b.yaml"),
                root.join("dangling.yaml")
            ]
        );
    }

    #[test]
    fn deep_nesting_stops_with_a_message() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut deep = dir.path().to_path_buf();
        for i in 0..(MAX_DIR_DEPTH + 3) {
            deep.push(format!("d{i}"));
        }
        std::fs::create_dir_all(&deep).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(deep.join("m.yaml"), manifest("m")).unwrap_or_else(|e| panic!("{e}"));
        let (found, errors) = walk(&[dir.path().to_path_buf()]);
        assert!(found.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].1.contains("deeper than 64"), "{errors:?}");
    }

    /// The fuzz run: generated trees of directories, manifests, links (to `.`, `..`, siblings,
    /// the root, dangling, to themselves), FIFOs, unreadable entries and deep chains. The walk and
    /// the loader never hang or panic, each directory is walked at most once, and what they return
    /// is bounded by the tree. The seed is printed; `SFN_OPERATOR_FUZZ_SEED=N` replays one.
    #[test]
    fn fuzz_the_walker_over_generated_trees() {
        use proptest::strategy::{Strategy, ValueTree};
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

        #[derive(Debug, Clone)]
        enum Entry {
            Dir,
            Manifest,
            Empty,
            Other,
            /// A link to the n-th entry made before it (modulo), or to `.`/`..`/the root/nothing.
            Link(u8, u8),
            Fifo,
            Unreadable,
            Chain(u8),
        }
        let entry = proptest::prop_oneof![
            3 => proptest::strategy::Just(Entry::Dir),
            3 => proptest::strategy::Just(Entry::Manifest),
            1 => proptest::strategy::Just(Entry::Empty),
            1 => proptest::strategy::Just(Entry::Other),
            4 => (0u8..6, proptest::num::u8::ANY).prop_map(|(k, n)| Entry::Link(k, n)),
            1 => proptest::strategy::Just(Entry::Fifo),
            1 => proptest::strategy::Just(Entry::Unreadable),
            1 => (1u8..100).prop_map(Entry::Chain),
        ];
        // Each entry goes into the n-th directory made so far.
        let tree = proptest::collection::vec((entry, proptest::num::u8::ANY), 1..40);

        let seed: u64 = std::env::var("SFN_OPERATOR_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| fastrand::u64(..));
        eprintln!(
            "fuzz_the_walker_over_generated_trees: seed {seed} (replay with SFN_OPERATOR_FUZZ_SEED={seed})"
        );
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        let cases: usize = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(24);
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        for case in 0..cases {
            let entries = tree
                .new_tree(&mut runner)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"))
                .current();
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let root = dir.path().join("root");
            std::fs::create_dir(&root).unwrap_or_else(|e| panic!("{e}"));
            let mut dirs = vec![root.clone()];
            let mut made: Vec<PathBuf> = vec![root.clone()];
            let mut files = 0usize;
            let mut unreadable = Vec::new();
            for (i, (e, at)) in entries.iter().enumerate() {
                let parent = dirs[usize::from(*at) % dirs.len()].clone();
                let path = parent.join(format!("e{i}.yaml"));
                let r = match e {
                    Entry::Dir => std::fs::create_dir(parent.join(format!("d{i}"))).map(|()| {
                        dirs.push(parent.join(format!("d{i}")));
                    }),
                    Entry::Manifest => {
                        files += 1;
                        std::fs::write(&path, manifest(&format!("m{i}")))
                    }
                    Entry::Empty => {
                        files += 1;
                        std::fs::write(&path, "")
                    }
                    Entry::Other => std::fs::write(parent.join(format!("e{i}.txt")), "x"),
                    Entry::Link(kind, n) => {
                        let target: PathBuf = match kind {
                            0 => ".".into(),
                            1 => "..".into(),
                            2 => root.clone(),
                            3 => made[usize::from(*n) % made.len()].clone(),
                            4 => format!("e{i}").into(),
                            _ => "missing".into(),
                        };
                        let name = if n % 2 == 0 {
                            format!("e{i}")
                        } else {
                            format!("e{i}.yaml")
                        };
                        symlink(target, parent.join(name))
                    }
                    Entry::Fifo => {
                        mkfifo(&path);
                        Ok(())
                    }
                    Entry::Unreadable => {
                        use std::os::unix::fs::PermissionsExt;
                        let sub = parent.join(format!("d{i}"));
                        std::fs::create_dir(&sub)
                            .and_then(|()| std::fs::write(sub.join("m.yaml"), manifest(&format!("u{i}"))))
                            .and_then(|()| {
                                std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o000))
                            })
                            .map(|()| {
                                files += 1;
                                unreadable.push(sub);
                            })
                    }
                    Entry::Chain(depth) => {
                        let mut p = parent.join(format!("c{i}"));
                        for j in 0..*depth {
                            p.push(format!("{j}"));
                        }
                        files += 1;
                        std::fs::create_dir_all(&p)
                            .and_then(|()| std::fs::write(p.join("deep.yaml"), manifest("deep")))
                    }
                };
                r.unwrap_or_else(|err| panic!("seed {seed} case {case}: building {e:?}: {err}"));
                made.push(match e {
                    Entry::Dir | Entry::Unreadable => parent.join(format!("d{i}")),
                    Entry::Chain(_) => parent.join(format!("c{i}")),
                    Entry::Link(_, n) if n % 2 == 0 => parent.join(format!("e{i}")),
                    _ => path.clone(),
                });
            }
            let paths = vec![root.clone()];
            let (found, errors) = within_a_minute(&format!("seed {seed} case {case}: the walk"), {
                let paths = paths.clone();
                move || walk(&paths)
            });
            // Each directory is walked at most once: what is found is bounded by the files made
            // plus the links (a link named `*.yaml` to a file is found once more), never by the
            // number of ways through the links.
            let links = entries
                .iter()
                .filter(|(e, _)| matches!(e, Entry::Link(..)))
                .count();
            assert!(found.len() <= files + links, "seed {seed} case {case}: {found:?}");
            let mut distinct: Vec<&PathBuf> = found.iter().map(|f| &f.file).collect();
            distinct.sort();
            distinct.dedup();
            assert_eq!(
                distinct.len(),
                found.len(),
                "seed {seed} case {case}: a path found twice"
            );
            assert!(
                errors.len() <= 2 * entries.len() + 2,
                "seed {seed} case {case}: {errors:?}"
            );
            // The loader reads what the walk found (FIFOs included): it must not stall either.
            let loaded = within_a_minute(&format!("seed {seed} case {case}: the load"), move || {
                crate::manifest::load(&crate::manifest::LoadOptions {
                    paths,
                    ..Default::default()
                })
            });
            assert!(
                loaded.desired.resources.len() <= files + links,
                "seed {seed} case {case}"
            );
            for sub in unreadable {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755));
            }
        }
    }
}
