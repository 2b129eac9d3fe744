//! Issue 25, point 1: no silent waits on an unreachable endpoint. A refused connection to an
//! endpoint the user named fails within seconds with a hint; an endpoint that accepts and never
//! answers is retried until `--timeout`, with WARN lines naming the URL and the attempt. The real
//! binary, its stderr read as a user would.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

mod common;

/// [`common::run_clean`] with test credentials and a minute's limit.
fn run(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec![("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")];
    all.extend_from_slice(env);
    common::run_clean(cwd, args, &all, Duration::from_secs(60))
}

fn manifests(dir: &Path) {
    std::fs::write(
        dir.join("m.yaml"),
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: ok\nspec:\n  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole\n  definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}\n",
    )
    .unwrap();
}

/// A port nobody listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

#[test]
fn a_refused_explicit_endpoint_fails_at_once_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path());
    let url = format!("http://127.0.0.1:{}", closed_port());
    for (args, env) in [
        (vec!["diff", "m.yaml", "--endpoint-url", url.as_str()], vec![]),
        (
            vec!["reconcile", "--once", "m.yaml", "--endpoint-url", url.as_str()],
            vec![],
        ),
        (vec!["diff", "m.yaml"], vec![("AWS_ENDPOINT_URL", url.as_str())]),
    ] {
        let out = run(dir.path(), &args, &env);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or_default();
        assert!(
            last.starts_with("error: cannot reach AWS: ConnectionFailure: "),
            "{last}"
        );
        assert!(last.contains("(GetCallerIdentity)"), "{last}");
        assert!(
            last.contains(&format!("is the sandbox running at {url}?")) && last.contains("--sandbox"),
            "the hint: {last}"
        );
        // Each retry said so, naming the endpoint and the attempt.
        assert!(
            err.lines()
                .any(|l| l.contains("WARN") && l.contains(&url) && l.contains("attempt=1")),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn an_endpoint_that_never_answers_is_retried_with_warnings_until_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path());
    // Accepts connections, reads what comes, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    let out = run(
        dir.path(),
        &["diff", "m.yaml", "--endpoint-url", &url, "--timeout", "15s"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("WARN") && l.contains(&url) && l.contains("attempt="))
        .collect();
    assert!(
        !warnings.is_empty(),
        "WARN lines naming {url} and the attempt:\n{err}"
    );
    assert!(warnings.iter().all(|l| l.contains("GetCallerIdentity")), "{err}");
    // Not refused: no sandbox hint, the timeout's error.
    assert!(!err.contains("is the sandbox running"), "{err}");
}
