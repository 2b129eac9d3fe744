//! `sandbox --aws-quotas`: AWS's default quotas enforced server-side. A create pass of a few more
//! machines than `CreateStateMachine`'s burst (100, then 1 a second) converges, paced, and says
//! so in its report; an in-sync pass reads tags in bulk (Tagging API) and writes nothing. With
//! the client-side limits off, AWS's throttling is retried and reported, never a failure. And an
//! IAM policy without `tag:GetResources` falls back to reading tags one machine at a time.

use std::path::Path;

use serde_json::Value;
use sfn_operator::sandbox::{FaultConfig, SandboxConfig, SandboxHandle, start};

mod common;
use common::{report, run_binary_async};

async fn quota_sandbox() -> SandboxHandle {
    start(SandboxConfig {
        aws_quotas: true,
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

fn write_machines(dir: &Path, n: usize) {
    for i in 0..n {
        let text = format!(
            "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: m{i}\nspec:\n  \
             roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole\n  definition:\n    StartAt: A\n    \
             States:\n      A: {{Type: Pass, End: true}}\n"
        );
        std::fs::write(dir.join(format!("m{i}.yaml")), text).unwrap_or_else(|e| panic!("{e}"));
    }
}

async fn get(url: &str, path: &str) -> Value {
    reqwest::get(format!("{url}{path}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The report's `rateLimited` entry of one operation.
fn paced<'a>(r: &'a Value, operation: &str) -> &'a Value {
    r["rateLimited"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p["operation"] == operation))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_pass_is_paced_by_the_create_quota_and_the_in_sync_pass_reads_tags_in_bulk() {
    let sandbox = quota_sandbox().await;
    let url = sandbox.endpoint_url();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Four over CreateStateMachine's burst of 100: four seconds of waiting, nothing fails.
    let n = 104;
    write_machines(dir.path(), n);

    // --endpoint-url keeps the client-side limits on (only --sandbox and --no-rate-limits turn them off).
    let out = run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    assert_eq!(r["summary"]["create"], n);
    assert_eq!(r["summary"]["failed"], 0);
    let create = paced(&r, "CreateStateMachine");
    assert_eq!(create["service"], "states", "{r}");
    let retried = create["throttled"].as_u64().unwrap_or(0);
    assert_eq!(
        create["calls"],
        n as u64 + retried,
        "every throttled call was sent again: {create}"
    );
    let waited = create["waitedSeconds"].as_f64().unwrap_or(0.0);
    assert!(
        waited >= 3.0,
        "104 creates wait ~4 s for the quota in all: {create}"
    );
    // The client-side buckets are the server's, so AWS (next to) never has to throttle: only
    // requests that overtake each other in flight by more than the refill slack can find a bucket
    // empty, and the report counts exactly what the server refused.
    let quotas = get(&url, "/_sandbox/quotas").await;
    assert_eq!(quotas["enabled"], true);
    let refused: u64 = quotas["throttled"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    let reported: u64 = r["rateLimited"]
        .as_array()
        .map(|l| l.iter().filter_map(|p| p["throttled"].as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(reported, refused, "{quotas} {r}");
    assert!(
        refused <= 3,
        "the client kept under the server's quotas: {quotas}"
    );
    assert_eq!(quotas["admitted"]["states:CreateStateMachine"], n);

    common::reset_requests(&url).await;
    let out = run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    assert_eq!(r["summary"]["noop"], n);
    let c = get(&url, "/_sandbox/requests").await;
    assert_eq!(c["writes"], 0, "an in-sync pass writes nothing: {c}");
    assert_eq!(
        c["tagging"]["GetResources"], 2,
        "104 machines: two pages of 100: {c}"
    );
    assert!(
        c["sfn"].get("ListTagsForResource").is_none(),
        "no per-machine tag read: {c}"
    );
    let quotas = get(&url, "/_sandbox/quotas").await;
    assert_eq!(quotas["admitted"]["states:DescribeStateMachine"], n);
    assert_eq!(
        quotas["floorSeconds"], 0.0,
        "104 describes fit in the burst of 200"
    );
    assert!(r.get("rateLimited").is_none(), "nothing waited: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_client_side_limits_aws_throttling_is_retried_and_reported() {
    let sandbox = quota_sandbox().await;
    let url = sandbox.endpoint_url();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let n = 102;
    write_machines(dir.path(), n);
    let out = run_binary_async(dir.path(), &url, &["reconcile", "--once", "--no-rate-limits"]).await;
    assert_eq!(out.status.code(), Some(0), "throttling is pacing, not failure");
    let r = report(&out);
    assert_eq!(r["summary"]["create"], n);
    assert_eq!(r["summary"]["failed"], 0);
    let create = paced(&r, "CreateStateMachine");
    let throttled = create["throttled"].as_u64().unwrap_or(0);
    assert!(
        throttled >= 1,
        "two creates over the burst are throttled at least once: {r}"
    );
    let quotas = get(&url, "/_sandbox/quotas").await;
    assert_eq!(
        quotas["throttled"]["states:CreateStateMachine"], throttled,
        "{quotas}"
    );
    assert_eq!(quotas["admitted"]["states:CreateStateMachine"], n);
    let again = run_binary_async(dir.path(), &url, &["diff", "--no-rate-limits"]).await;
    assert_eq!(
        again.status.code(),
        Some(0),
        "in sync after the throttled create pass"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tag_get_resources_the_pass_reads_tags_one_machine_at_a_time() {
    let (_state, sandbox) = common::sandbox().await;
    let url = sandbox.endpoint_url();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_machines(dir.path(), 3);
    let out = run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));

    // An IAM policy from before the Tagging API: tag:GetResources is denied.
    let faults = FaultConfig {
        operations: vec!["GetResources".into()],
        error_code: Some("AccessDeniedException".into()),
        match_text: Some("states:stateMachine".into()),
        ..FaultConfig::default()
    };
    let r = reqwest::Client::new()
        .post(format!("{url}/_sandbox/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success());
    common::reset_requests(&url).await;
    let out = run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(report(&out)["summary"]["noop"], 3);
    let c = get(&url, "/_sandbox/requests").await;
    assert_eq!(c["injectedFaults"]["errorCode"], 1, "{c}");
    assert_eq!(c["sfn"]["ListTagsForResource"], 3, "{c}");
    assert_eq!(c["writes"], 0, "{c}");
}
