//! Issue 10, points 5 and 7: what a user sees when things go wrong. No credentials is one line
//! naming where the chain looked, at once, exit 1 (with and without `--account-id`); AWS errors are
//! `Code: message (Operation)`, never the SDK's Debug output; `-q` means errors only; colour only
//! on a terminal, never with `NO_COLOR`. The real binary, its stderr read as a user would.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sfn_operator::sandbox::{SandboxConfig, start};

mod common;

/// [`common::run_clean`] with a minute's limit (the old behaviour: retrying for --timeout).
fn run_clean(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    common::run_clean(cwd, args, env, Duration::from_secs(60))
}

/// Debug output of SDK types, which a user should never see.
fn assert_no_debug(text: &str) {
    for marker in ["Some(", "ConnectorError", " { ", "ProviderError(", "\\\""] {
        assert!(!text.contains(marker), "Debug output ({marker:?}) in:\n{text}");
    }
}

fn manifests(dir: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    let dst = dir.join("manifests");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
}

#[test]
fn no_credentials_is_one_line_naming_where_it_looked_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path());
    // A profile that does not exist makes the SDK's chain log a warning of its own: -q (and the
    // default level) must not show it beside our one line.
    let missing_profile = [("AWS_PROFILE", "nope")];
    for (args, env) in [
        (&["reconcile", "--once"][..], &[][..]),
        (&["reconcile", "--once", "--account-id", "123456789012"], &[]),
        (&["diff", "--account-id", "123456789012"], &[]),
        (&["reconcile", "--once", "-q"], &[]),
        (&["reconcile", "--once", "-q"], &missing_profile),
        (&["diff"], &missing_profile),
    ] {
        let out = run_clean(dir.path(), args, env);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, got:\n{err}");
        let line = lines[0];
        for expected in [
            "no AWS credentials found",
            "AWS_ACCESS_KEY_ID",
            "~/.aws/credentials",
            "instance metadata",
            "(LoadCredentials)",
        ] {
            assert!(
                line.contains(expected),
                "{args:?}: {expected:?} missing in {line}"
            );
        }
        assert_no_debug(line);
        assert!(out.stdout.is_empty(), "no report when nothing was reached");
    }
}

#[test]
fn connection_failures_are_code_message_operation_never_debug() {
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path());
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = run_clean(
        dir.path(),
        &[
            "reconcile",
            "--once",
            "--endpoint-url",
            &url,
            "--account-id",
            "123456789012",
            "--timeout",
            "1s",
            "-o",
            "json",
        ],
        &[("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let machine = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "StateMachine")
        .unwrap()
        .clone();
    let msg = machine["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("ConnectionFailure: ") && msg.ends_with("(DescribeStateMachine)"),
        "{msg}"
    );
    assert_no_debug(msg);
    assert_no_debug(&String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_errors_name_code_and_operation_and_quiet_means_errors_only() {
    let state = tempfile::tempdir().unwrap();
    let sb = start(SandboxConfig {
        state_file: Some(state.path().join("s.json")),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = sb.endpoint_url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    std::fs::write(
        d.join("m.yaml"),
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: ok\nspec:\n  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole\n  definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}\n---\napiVersion: sfn-operator.dev/v1alpha1\nkind: ApiIntegration\nmetadata:\n  name: nowhere\nspec:\n  restApi: {id: doesnotexist}\n  path: /x\n  httpMethod: POST\n  integration: {service: states, action: StartExecution, credentials: arn:aws:iam::123456789012:role/IntegrationIamRole}\n",
    )
    .unwrap();
    let creds = [("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")];
    let base = ["reconcile", "--once", "--endpoint-url", &url, "-o", "json"];
    let (d2, url2) = (d.clone(), base.map(str::to_owned));
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = url2.iter().map(String::as_str).chain(["m.yaml"]).collect();
        run_clean(&d2, &args, &creds)
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "nowhere")
        .unwrap()
        .clone();
    let msg = failed["message"].as_str().unwrap_or_default();
    assert!(msg.contains("NotFoundException: ") && msg.ends_with(')'), "{msg}");
    assert!(msg.contains("(GetResources)"), "{msg}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("INFO"),
        "the default level logs progress:\n{stderr}"
    );

    // -q: errors only. The same run logs its failure, nothing else.
    let (d2, url2) = (d.clone(), base.map(str::to_owned));
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = url2.iter().map(String::as_str).chain(["m.yaml", "-q"]).collect();
        run_clean(&d2, &args, &creds)
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("INFO") && !stderr.contains("WARN"),
        "-q:\n{stderr}"
    );
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.contains("ERROR") || line.starts_with("error"),
            "not an error: {line}"
        );
    }
}

/// Colour only on a terminal: none when stderr is a pipe or a file, and none on a terminal with
/// `NO_COLOR` set. The terminal is a pty from `script(1)`.
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path());
    let once = ["reconcile", "--once", "--sandbox", "manifests"];
    // stderr a pipe: no escape codes.
    let out = run_clean(dir.path(), &once, &[]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("INFO"), "{err}");
    assert!(!err.contains('\u{1b}'), "ANSI codes on a pipe:\n{err}");

    let script = Path::new("/usr/bin/script");
    assert!(
        script.exists(),
        "script(1) is needed to give the binary a terminal"
    );
    let pty = |no_color: bool| {
        let cmd = format!(
            "{} reconcile --once --sandbox manifests -o json 2>&1 >/dev/null",
            env!("CARGO_BIN_EXE_sfn-operator")
        );
        let mut c = Command::new(script);
        c.current_dir(dir.path())
            .args(["-qec", &cmd, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("TERM", "xterm")
            .stdin(Stdio::null());
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = c.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = pty(false);
    assert!(coloured.contains("INFO"), "{coloured}");
    assert!(coloured.contains('\u{1b}'), "colour on a terminal:\n{coloured}");
    let plain = pty(true);
    assert!(plain.contains("INFO"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR set:\n{plain}");
}
