//! Issue 10, point 6 (SPEC §7): two sandboxes on one state file never lose each other's writes;
//! the second refuses to start, naming the holder. Also for `--sandbox` (the in-process sandbox
//! and its `.sfn-operator/sandbox.json`). The real binary, as a user runs it.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `command` to its end; a process still running after 30 s (a second sandbox that started
/// serving instead of refusing) is killed and fails the test instead of hanging it.
fn output_within_30_s(command: &mut Command) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after 30 s: it started instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `sfn-operator sandbox --state FILE` in `cwd`; returns it and the URL it printed.
fn sandbox(cwd: &Path, state: &Path) -> (Kill, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .current_dir(cwd)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--state"])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    (Kill(child), url.trim().to_owned())
}

#[test]
fn a_second_sandbox_on_one_state_file_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let (first, url) = sandbox(dir.path(), &state);

    let second = output_within_30_s(
        Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
            .args(["sandbox", "--listen", "127.0.0.1:0", "--state"])
            .arg(&state),
    );
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(second.stdout.is_empty(), "the second one never served");
    let addr = url.trim_start_matches("http://");
    for expected in [
        format!("{}.lock", state.display()),
        format!("pid {}", first.0.id()),
        format!("sandbox on {addr}"),
        "one sandbox per state file".to_owned(),
    ] {
        assert!(err.contains(&expected), "{expected:?} missing in: {err}");
    }

    // The holder gone (even killed), the state file is free again.
    drop(first);
    let (_again, _) = sandbox(dir.path(), &state);
}

#[test]
fn two_in_process_sandboxes_in_one_directory_are_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    // A running `--sandbox` daemon holds .sfn-operator/sandbox.json; a `reconcile --once --sandbox`
    // beside it must not write the same file.
    let (holder, url) = sandbox(dir.path(), Path::new(".sfn-operator/sandbox.json"));
    let out = output_within_30_s(
        Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
            .current_dir(dir.path())
            .args(["reconcile", "--once", "--sandbox"])
            .arg(&manifests),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(".sfn-operator/sandbox.json.lock")
            && err.contains(&format!("pid {}", holder.0.id()))
            && err.contains(url.trim_start_matches("http://")),
        "{err}"
    );
}
