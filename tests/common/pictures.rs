//! What the picture tests share (`pictures`, `console_browser`): running the binary in a
//! directory, the `diff -o markdown` comment of a definition change, and where scripts/test.sh
//! installed the npm `mermaid` package.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `sfn-operator ARGS` in `dir` (no colour), echoing its output to stderr.
pub fn sfn(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run sfn-operator");
    eprintln!(
        "{args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// `diff --sandbox -o markdown` (exit 2, changes pending) in a copy of the reference manifests
/// under `dir`, reconciled into the in-process sandbox, after one change: the Lambda result the
/// SumValues branch keeps (`sum.$: $.Payload.sum` → `$.Payload.total`).
pub fn diff_comment_after_change(dir: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join("manifests"), &dir.join("manifests"));
    let out = sfn(dir, &["reconcile", "--once", "--sandbox", "-q"]);
    assert_eq!(out.status.code(), Some(0));
    let asl = dir.join("manifests/parallel-processing.asl.yaml");
    let text = std::fs::read_to_string(&asl).unwrap();
    let changed = text.replace("sum.$: $.Payload.sum", "sum.$: $.Payload.total");
    assert_ne!(changed, text, "the reference definition has the line to change");
    std::fs::write(&asl, changed).unwrap();
    let out = sfn(dir, &["diff", "--sandbox", "-q", "-o", "markdown"]);
    assert_eq!(out.status.code(), Some(2), "changes pending");
    String::from_utf8(out.stdout).unwrap()
}

/// The (first) Mermaid block of a Markdown comment.
pub fn mermaid_block(md: &str) -> &str {
    md.split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("no mermaid block:\n{md}"))
}

/// Where scripts/test.sh installs `scripts/mermaid/package.json` (Mermaid, jsdom, marked): the
/// peers venv's `mermaid/` (`SFN_OPERATOR_PEERS_VENV`, else `.venv-peers`). Panics, saying how to
/// install it, when it is not there.
pub fn mermaid_dir() -> PathBuf {
    let venv = std::env::var_os("SFN_OPERATOR_PEERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-peers"));
    let dir = venv.join("mermaid");
    assert!(
        dir.join("node_modules/mermaid").is_dir(),
        "{} has no mermaid: run scripts/test.sh (it installs scripts/mermaid/package.json there)",
        dir.display()
    );
    dir
}
