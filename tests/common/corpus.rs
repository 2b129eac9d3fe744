//! The real-world corpus of `../shared/corpus` (174 definitions AWS accepted, and an invalid
//! one), loaded for the tests that use it (`asl_corpus`, `pictures`).
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The corpus of `../shared/corpus`, vendored in `tests/corpus` (MIT-0, see its README) so that a
/// clone of this repository alone runs every test.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// One definition file, JSON or YAML (panics naming the file when it does not parse).
pub fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    } else {
        serde_saphyr::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Every definition of `asl/`, in file name order.
pub fn corpus() -> Vec<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir().join("asl"))
        .expect("read corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().contains(".asl."))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let v = load(&p);
            (p, v)
        })
        .collect()
}
