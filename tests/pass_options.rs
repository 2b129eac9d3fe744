//! `diff` takes `--timeout` and `--concurrency` like `reconcile` (issue 18): a transient failure is
//! retried until `--timeout`, then reported; a concurrency out of range is a usage error.

use std::time::Duration;

mod common;

/// The binary with test credentials (a clean environment otherwise), killed and failing after
/// `limit`, so a flag that is ignored (diff used to wait 300 s) fails the test instead of hanging it.
fn run_within(args: &[&str], limit: Duration) -> std::process::Output {
    let cwd = tempfile::tempdir().unwrap();
    let creds = [("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")];
    common::run_clean(cwd.path(), args, &creds, limit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_retries_until_its_timeout_then_reports_the_failure() {
    let sb = common::Sandbox::start().await;
    let url = sb.url();
    sb.faults(serde_json::json!({"throttle": 1.0, "operations": ["GetRestApis"]}))
        .await;
    let manifests = format!("{}/manifests", env!("CARGO_MANIFEST_DIR"));
    let args = [
        "diff",
        manifests.as_str(),
        "--endpoint-url",
        url.as_str(),
        "--region",
        "us-east-1",
        "--timeout",
        "2s",
        "--concurrency",
        "1",
        "-o",
        "json",
        "-q",
    ];
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_within(&args, Duration::from_secs(120))
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = common::report(&out);
    let api = common::entry(&report, "RestApi");
    assert_eq!(api["status"], "Failed");
    let message = api["message"].as_str().unwrap();
    assert!(
        message.contains("ThrottlingException") || message.contains("TooManyRequests"),
        "{message}"
    );
    let counts: serde_json::Value = reqwest::get(format!("{url}/_sandbox/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tries = counts["apigateway"]["GetRestApis"].as_u64().unwrap();
    assert!(
        tries >= 2,
        "retried until the timeout, not given up at once: {counts}"
    );
}

#[test]
fn a_concurrency_out_of_range_is_a_usage_error() {
    for args in [
        &["diff", "--concurrency", "0"][..],
        &["reconcile", "--once", "--concurrency", "300"],
    ] {
        let out = run_within(args, Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--concurrency"),
            "{args:?}"
        );
    }
}
