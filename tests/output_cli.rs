//! Issue 25, point 10: what a newcomer reads. Colour only on a terminal and never with
//! `NO_COLOR` (piped output has no escape codes); test failures labelled with every difference.
//! The real binary.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn sfn(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sfn-operator"));
    c.current_dir(cwd)
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    eprintln!(
        "{args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const MANIFESTS: &str = "apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: m
spec:
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: P
    States:
      P: {Type: Pass, Result: {a: 1, b: 2}, End: true}
---
apiVersion: sfn-operator.dev/v1alpha1
kind: WorkflowTest
metadata:
  name: t
spec:
  stateMachineRef: m
  cases:
    - name: ok
      input: {}
      expect: {output: {a: 1, b: 2}}
    - name: wrong
      input: {}
      expect: {status: FAILED, output: {a: 2, b: 3}}
";

fn dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), MANIFESTS).unwrap();
    dir
}

#[test]
fn a_failing_case_lists_every_difference_labelled() {
    let dir = dir();
    let out = sfn(dir.path(), &["test", "m.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b'), "piped: no escape codes:\n{text}");
    assert!(
        text.contains(
            "      differences (3):\n        status: expected FAILED, got SUCCEEDED\n        output.a: expected 2, got 1\n        output.b: expected 3, got 2\n"
        ),
        "{text}"
    );
    let out = sfn(dir.path(), &["test", "m.yaml", "-o", "json"], &[]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let case = &report["cases"][1];
    // The first difference, as before, and every one.
    assert_eq!(case["failure"]["path"], "status");
    let paths: Vec<&str> = case["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["path"].as_str())
        .collect();
    assert_eq!(paths, ["status", "output.a", "output.b"]);
    assert_eq!(
        case["differences"][0]["message"],
        "status: expected FAILED, got SUCCEEDED"
    );
    assert_eq!(report["cases"][0]["differences"], serde_json::json!([]));
}

#[test]
fn piped_plans_have_no_escape_codes() {
    let dir = dir();
    let out = sfn(dir.path(), &["diff", "m.yaml", "--sandbox"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("+ StateMachine/m create Pending\n"), "{text}");
    assert!(!text.contains('\x1b'), "{text}");
}

/// On a terminal (a pseudo-terminal from util-linux `script`, where available): coloured, unless
/// `NO_COLOR` is set.
#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("no `script` here: skipped");
        return;
    }
    let dir = dir();
    let bin = env!("CARGO_BIN_EXE_sfn-operator");
    let on_tty = |env: &[(&str, &str)]| {
        let mut c = Command::new("script");
        c.current_dir(dir.path())
            .args(["-qec", &format!("{bin} test m.yaml"), "/dev/null"])
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    };
    let coloured = on_tty(&[]);
    assert!(coloured.contains("\x1b[32mPASS\x1b[0m  t/ok"), "{coloured:?}");
    assert!(coloured.contains("\x1b[31mFAIL\x1b[0m  t/wrong"), "{coloured:?}");
    let plain = on_tty(&[("NO_COLOR", "1")]);
    assert!(plain.contains("PASS  t/ok"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "{plain:?}");
}
