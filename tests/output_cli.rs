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
    assert!(
        text.starts_with("+ StateMachine/m create Pending (Missing)\n"),
        "{text}"
    );
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

#[test]
fn every_subcommand_help_ends_with_examples() {
    let dir = dir();
    for sub in ["validate", "diff", "reconcile", "test", "sandbox", "completions"] {
        let out = sfn(dir.path(), &[sub, "--help"], &[]);
        assert_eq!(out.status.code(), Some(0), "{sub}");
        let text = String::from_utf8_lossy(&out.stdout);
        let examples = text.split("Examples:").nth(1).unwrap_or_default();
        let n = examples
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("sfn-operator {sub}")))
            .count();
        assert!((2..=3).contains(&n), "{sub}: {text}");
    }
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let dir = dir();
    for shell in ["bash", "zsh", "fish"] {
        let out = sfn(dir.path(), &["completions", shell], &[]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["sfn-operator", "reconcile", "endpoint-url", "completions"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    // The bash script is valid bash.
    let out = sfn(dir.path(), &["completions", "bash"], &[]);
    let path = dir.path().join("sfn-operator.bash");
    std::fs::write(&path, &out.stdout).unwrap();
    if let Ok(check) = Command::new("bash").arg("-n").arg(&path).output() {
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    let out = sfn(dir.path(), &["completions", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(64), "an unknown shell is a usage error");
}

/// `sandbox --state` alone serves `.sfn-operator/sandbox.json`, the state `--sandbox` runs
/// leave: what `reconcile --once --sandbox` made, `diff` against it finds in sync. Nothing lands
/// in the working directory itself.
#[test]
fn sandbox_state_alone_serves_what_sandbox_runs_left() {
    use std::io::BufRead as _;
    let dir = dir();
    let creds = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let out = sfn(dir.path(), &["reconcile", "--once", "--sandbox", "m.yaml"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .current_dir(dir.path())
        .args(["sandbox", "--state", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_owned();
    let diff = sfn(
        dir.path(),
        &["diff", "m.yaml", "--endpoint-url", &url, "--no-rate-limits"],
        &creds,
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(diff.status.code(), Some(0), "in sync with what --sandbox made");
    assert!(dir.path().join(".sfn-operator/sandbox.json").is_file());
    assert!(!dir.path().join("sandbox.json").exists());
}
