//! A canary rolled back by real failures, end to end on the sandbox (SPEC §9): the operator
//! publishes version 2 and routes 10 % of the alias to it; executions started through the alias
//! (1,000 `StartSyncExecution` through the SDK) land on version 2 10 % ± 3 % of the time and fail
//! there;
//! the sandbox's CloudWatch counts them under the version's `StateMachineArn` dimension, the alarm
//! on it goes to `ALARM`, and the next pass rolls the alias back to version 1. The AWS CLI is the
//! observer of every step (routing, alarm state, versions); the pass after the roll back writes
//! nothing (the sandbox's own request counts).

use std::process::Output;

use common::{ManifestDir, Sandbox, entry, report, run_binary_async};
use rollout::{alarm_state, put_failed_alarm, routing, set_alarm, versions};
use serde_json::Value;

mod common;
#[path = "common/host_prefix.rs"]
mod host_prefix;
#[path = "common/rollout.rs"]
mod rollout;

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:checkout";
const ALARM: &str = "checkout-v2-failed";

/// The machine with a `Work` state that passes (`good`) or fails, behind a canary alias.
fn manifest(good: bool) -> String {
    let work = if good {
        r#"{Type: Pass, Result: "ok", End: true}"#
    } else {
        r#"{Type: Fail, Error: Checkout.Broken, Cause: "version 2 is broken"}"#
    };
    format!(
        r#"apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: checkout
spec:
  type: EXPRESS
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: Work
    States:
      Work: {work}
  aliases:
    - name: live
      rollout: {{type: Canary, percent: 10, interval: 1h, alarms: [{ALARM}]}}
"#
    )
}

async fn pass(sandbox: &Sandbox, dir: &ManifestDir, code: i32) -> Value {
    let out: Output = run_binary_async(dir.path(), &sandbox.url(), &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(code));
    report(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_that_fails_in_the_sandbox_trips_its_alarm_and_is_rolled_back() {
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    let dir = ManifestDir::new();
    dir.write("checkout.yaml", &manifest(true));
    let r = pass(&sandbox, &dir, 0).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Synced", "{r}");
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(1, 100)]);

    // The alarm on version 2's failures: one failure in any of the last six 10 s periods (the
    // period in progress alone would be empty right after a period boundary: INSUFFICIENT_DATA).
    put_failed_alarm(
        &url,
        ALARM,
        10,
        6,
        &[
            "--datapoints-to-alarm",
            "1",
            "--dimensions",
            &format!("Name=StateMachineArn,Value={MACHINE}:2"),
        ],
    );

    // The broken definition: version 2, 10 % of the alias.
    dir.write("checkout.yaml", &manifest(false));
    let r = pass(&sandbox, &dir, 0).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Progressing", "{r}");
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(1, 90), (2, 10)]);
    assert_ne!(alarm_state(&url, ALARM), "ALARM", "nothing ran version 2 yet");

    // 1,000 callers through the alias: the canary serves about one in ten, and fails each time.
    let sfn = host_prefix::sfn_client(&url);
    let (mut succeeded, mut failed) = (0u32, 0u32);
    for _ in 0..1000 {
        let e = sfn
            .start_sync_execution()
            .state_machine_arn(format!("{MACHINE}:live"))
            .input("{}")
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "StartSyncExecution: {}",
                    aws_sdk_sfn::error::DisplayErrorContext(e)
                )
            });
        match e.status().as_str() {
            "SUCCEEDED" => succeeded += 1,
            "FAILED" => {
                assert_eq!(e.error(), Some("Checkout.Broken"));
                failed += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    eprintln!("through a 10 % canary: {failed} of 1000 ran version 2 ({succeeded} version 1)");
    assert!(
        (70..=130).contains(&failed),
        "10 % ± 3 % of 1000 should run version 2, {failed} did"
    );
    assert_eq!(alarm_state(&url, ALARM), "ALARM");

    // The next pass rolls back: version 1 serves everything, the resource is Degraded with the
    // alarm named.
    let r = pass(&sandbox, &dir, 1).await;
    let e = entry(&r, "StateMachine");
    assert_eq!(e["status"], "Degraded", "{r}");
    assert!(e["message"].as_str().unwrap().contains(ALARM), "{e}");
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(1, 100)]);

    // Held: the pass after it writes nothing and publishes no version 3.
    sandbox.reset().await;
    let r = pass(&sandbox, &dir, 1).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Degraded");
    assert_eq!(sandbox.requests().await.writes(), 0);
    assert_eq!(versions(&url, MACHINE), [1, 2]);
    sandbox.shutdown().await;
}

/// Lost answers (the sandbox carries the call out and drops the connection): every answer of the
/// update that publishes, then half of the alias and tag writes' (seeded). Passes repeated until
/// the rollout is where it should be publish exactly one version for the change, and the alias
/// goes 90/10 then 100 % as if nothing had been lost.
#[tokio::test(flavor = "multi_thread")]
async fn lost_answers_on_publish_update_and_alias_writes_publish_one_version_per_change() {
    let seed: u64 = std::env::var("ROLLOUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("ROLLOUT_SEED={seed}");
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    let dir = ManifestDir::new();
    let manifest =
        |good: bool, interval: &str| manifest(good).replace("interval: 1h", &format!("interval: {interval}"));
    dir.write("checkout.yaml", &manifest(true, "1h"));
    pass(&sandbox, &dir, 0).await;
    put_failed_alarm(&url, ALARM, 60, 1, &[]);
    // Every answer of the writes that publish is lost: the update that publishes version 2, and
    // any publish after it.
    sandbox
        .faults(serde_json::json!({
            "lost": 1,
            "operations": ["UpdateStateMachine", "PublishStateMachineVersion"]
        }))
        .await;

    // A definition change (the good one: only the lost answers are in the way).
    dir.write(
        "checkout.yaml",
        &manifest(true, "1h").replace(r#"Result: "ok""#, r#"Result: "ok, v2""#),
    );
    let mut passes = 0;
    while routing(&url, &format!("{MACHINE}:live")) != vec![(1, 90), (2, 10)] {
        passes += 1;
        assert!(passes <= 20, "no canary after 20 passes (seed {seed})");
        let _ = run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    }
    assert_eq!(versions(&url, MACHINE), [1, 2], "one change, one version");
    let injected = sandbox.requests().await.injected();
    assert!(injected >= 1, "the publishing update's answer was not lost");
    eprintln!("canary live after {passes} passes, {injected} answers lost");

    // Half the answers of the alias and tag writes lost (seeded) while the rollout finishes.
    sandbox
        .faults(serde_json::json!({
            "lost": 0.5,
            "seed": seed,
            "operations": ["UpdateStateMachineAlias", "TagResource"]
        }))
        .await;

    // A short bake: the same under lost answers, to 100 % on version 2, still two versions.
    dir.write(
        "checkout.yaml",
        &manifest(true, "1s").replace(r#"Result: "ok""#, r#"Result: "ok, v2""#),
    );
    let mut passes = 0;
    while routing(&url, &format!("{MACHINE}:live")) != vec![(2, 100)] {
        passes += 1;
        assert!(passes <= 20, "not promoted after 20 passes (seed {seed})");
        let _ = run_binary_async(dir.path(), &url, &["reconcile", "--once", "--wait"]).await;
    }
    assert_eq!(
        versions(&url, MACHINE),
        [1, 2],
        "the promotion published nothing (seed {seed})"
    );
    assert!(
        sandbox.requests().await.injected() > 0,
        "no answer was lost: the test proved nothing (seed {seed})"
    );

    // Faults off: in sync, nothing to write.
    sandbox.faults(serde_json::json!({})).await;
    let r = pass(&sandbox, &dir, 0).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Synced", "{r}");
    sandbox.reset().await;
    pass(&sandbox, &dir, 0).await;
    assert_eq!(sandbox.requests().await.writes(), 0);
    sandbox.shutdown().await;
}

/// `reconcile --once [--wait]` killed (SIGKILL) while the sandbox holds its `operation` call (3 s
/// of latency, so the call has reached the sandbox and its write has not been made).
async fn kill_during(sandbox: &Sandbox, dir: &ManifestDir, operation: &str, wait: bool) {
    sandbox
        .faults(serde_json::json!({"latencyMs": 3000, "operations": [operation]}))
        .await;
    sandbox.reset().await;
    let mut args = vec!["reconcile", "--once"];
    if wait {
        args.push("--wait");
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args(&args)
        .arg(dir.path())
        .args(["--endpoint-url", &sandbox.url(), "--region", "us-east-1", "-q"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while sandbox.requests().await.count(operation) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the process ended before it called {operation}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{operation} never called"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    sandbox.faults(serde_json::json!({})).await;
}

/// kill -9 in the middle of each step, then a fresh run: the publish (the update that publishes),
/// the promotion, the first shift of the next rollout and its roll back. Each time no second version
/// is published for the change, and the fresh run finishes the step as if nothing had happened.
#[tokio::test(flavor = "multi_thread")]
async fn killed_in_the_middle_of_each_step_a_fresh_run_finishes_it_with_one_version_per_change() {
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    let dir = ManifestDir::new();
    let with = |result: &str, interval: &str| {
        manifest(true)
            .replace(r#"Result: "ok""#, &format!("Result: {result:?}"))
            .replace("interval: 1h", &format!("interval: {interval}"))
    };
    put_failed_alarm(&url, ALARM, 60, 1, &[]);
    dir.write("checkout.yaml", &with("v1", "2s"));
    pass(&sandbox, &dir, 0).await;
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(1, 100)]);

    // Publish: killed while the update that publishes version 2 is held.
    dir.write("checkout.yaml", &with("v2", "2s"));
    kill_during(&sandbox, &dir, "UpdateStateMachine", false).await;
    let r = pass(&sandbox, &dir, 0).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Progressing", "{r}");
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(1, 90), (2, 10)]);
    assert_eq!(versions(&url, MACHINE), [1, 2]);

    // Promote: killed while the alias update to 100 % is held (after the 2 s bake).
    kill_during(&sandbox, &dir, "UpdateStateMachineAlias", true).await;
    let out = run_binary_async(dir.path(), &url, &["reconcile", "--once", "--wait"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(2, 100)]);
    assert_eq!(versions(&url, MACHINE), [1, 2]);

    // Shift: the next change, killed while its first step's alias update is held.
    dir.write("checkout.yaml", &with("v3", "1h"));
    kill_during(&sandbox, &dir, "UpdateStateMachineAlias", false).await;
    assert_eq!(
        versions(&url, MACHINE),
        [1, 2, 3],
        "version 3 was published before the shift"
    );
    let r = pass(&sandbox, &dir, 0).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Progressing", "{r}");
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(2, 90), (3, 10)]);

    // Roll back: the alarm fires; killed while the alias update back to version 2 is held.
    set_alarm(&url, ALARM, "ALARM");
    kill_during(&sandbox, &dir, "UpdateStateMachineAlias", false).await;
    let r = pass(&sandbox, &dir, 1).await;
    let e = entry(&r, "StateMachine");
    assert_eq!(e["status"], "Degraded", "{r}");
    assert!(e["message"].as_str().unwrap().contains(ALARM), "{e}");
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(2, 100)]);
    assert_eq!(versions(&url, MACHINE), [1, 2, 3]);
    sandbox.reset().await;
    pass(&sandbox, &dir, 1).await;
    assert_eq!(sandbox.requests().await.writes(), 0, "held after the roll back");
    sandbox.shutdown().await;
}
