//! Finding manifest files under the command-line paths (SPEC §2).

use std::path::{Path, PathBuf};

/// A manifest file and the canonical root of the `PATH` it was found under (`definitionFile`s must
/// stay inside it).
#[derive(Debug, Clone)]
pub struct Found {
    pub file: PathBuf,
    pub root: PathBuf,
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

/// Walks `paths`: directories recursively in name order (entries starting with `.` skipped, links
/// followed); a file named explicitly is loaded whatever its name. Errors are `(path, message)`.
pub fn walk(paths: &[PathBuf]) -> (Vec<Found>, Vec<(PathBuf, String)>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                errors.push((path.clone(), format!("cannot read path: {e}")));
                continue;
            }
        };
        if meta.is_dir() {
            match std::fs::canonicalize(path) {
                Ok(root) => walk_dir(path, &root, 0, &mut found, &mut errors),
                Err(e) => errors.push((path.clone(), format!("cannot resolve path: {e}"))),
            }
        } else {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            match std::fs::canonicalize(&parent) {
                Ok(root) => found.push(Found {
                    file: path.clone(),
                    root,
                }),
                Err(e) => errors.push((path.clone(), format!("cannot resolve path: {e}"))),
            }
        }
    }
    (found, errors)
}

/// Directory links can loop; this bounds the walk.
const MAX_DIR_DEPTH: usize = 64;

fn walk_dir(
    dir: &Path,
    root: &Path,
    depth: usize,
    found: &mut Vec<Found>,
    errors: &mut Vec<(PathBuf, String)>,
) {
    if depth > MAX_DIR_DEPTH {
        errors.push((
            dir.to_path_buf(),
            format!("directories nested deeper than {MAX_DIR_DEPTH} levels (a link loop?)"),
        ));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push((dir.to_path_buf(), format!("cannot read directory: {e}")));
            return;
        }
    };
    let mut names: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    names.sort();
    for (name, path) in names {
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk_dir(&path, root, depth + 1, found, errors),
            Ok(m) if m.is_file() => {
                if is_manifest_name(&name) {
                    found.push(Found {
                        file: path,
                        root: root.to_path_buf(),
                    });
                }
            }
            Ok(_) => {}
            Err(e) => {
                if is_manifest_name(&name) {
                    errors.push((path, format!("cannot read file: {e}")));
                }
            }
        }
    }
}
