//! Progressive delivery (SPEC §9) against moto server, driving the real binary, with the AWS CLI
//! reading moto directly as the independent observer: a canary that is promoted, one that an alarm
//! set with `aws cloudwatch set-alarm-state` rolls back, and a process killed (-9) mid-bake whose
//! successor neither restarts nor skips the bake. The operator reaches moto through the test fault
//! proxy, which turns the SDK's CBOR CloudWatch calls into the JSON moto serves.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{ManifestDir, entry, peers_bin, report, start_moto};
use fault_proxy::FaultProxy;
use rollout::{put_failed_alarm, routing, set_alarm};
use serde_json::Value;

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/receiver.rs"]
mod receiver;
#[path = "common/rollout.rs"]
mod rollout;

const ALARM: &str = "checkout-errors";

fn manifest(pass_value: &str, interval: &str) -> String {
    format!(
        r#"apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: checkout
spec:
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: Work
    States:
      Work: {{Type: Pass, Result: "{pass_value}", End: true}}
  aliases:
    - name: live
      rollout: {{type: Canary, percent: 10, interval: {interval}, alarms: [{ALARM}]}}
"#
    )
}

/// The AWS CLI against moto itself (not through the proxy): the observer.
fn aws(moto: &str, args: &[&str]) -> Value {
    let out = Command::new(peers_bin("aws"))
        .args([
            "--endpoint-url",
            moto,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run the AWS CLI");
    assert!(
        out.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:checkout";

/// Whether version `n` exists (moto answers DescribeStateMachine on a version ARN).
fn version_exists(moto: &str, n: u32) -> bool {
    Command::new(peers_bin("aws"))
        .args(["--endpoint-url", moto, "--region", "us-east-1"])
        .args([
            "stepfunctions",
            "describe-state-machine",
            "--state-machine-arn",
            &format!("{MACHINE}:{n}"),
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap()
        .status
        .success()
}

fn run(dir: &Path, url: &str, args: &[&str]) -> Output {
    common::run_binary(dir, url, args)
}

fn status(out: &Output) -> String {
    entry(&report(out), "StateMachine")["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// moto, the proxy in front of it, the alarm (OK), and version 1 live on the alias.
async fn setup(interval: &str) -> (common::Moto, FaultProxy, ManifestDir) {
    let moto = start_moto().await;
    let proxy = FaultProxy::start(&moto.url).await;
    put_failed_alarm(&moto.url, ALARM, 60, 1, &[]);
    set_alarm(&moto.url, ALARM, "OK");
    let dir = ManifestDir::new();
    dir.write("checkout.yaml", &manifest("v1", interval));
    let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(routing(&moto.url, &format!("{MACHINE}:live")), vec![(1, 100)]);
    (moto, proxy, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_is_promoted_and_the_next_one_is_rolled_back_by_its_alarm() {
    let (moto, proxy, dir) = setup("2s").await;
    // A webhook receiver: each turn of a rollout is told (SPEC §12 notifications).
    let hook = receiver::Receiver::start(0).await;
    let told = || -> Vec<String> {
        hook.delivered()
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    };

    // A definition change: exactly one new version, 10 % on it.
    dir.write("checkout.yaml", &manifest("v2", "2s"));
    let out = run(
        dir.path(),
        &proxy.url,
        &["reconcile", "--once", "--notify", &hook.url],
    );
    assert_eq!(told(), ["rollout_started"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "--once exits 0 while a rollout progresses"
    );
    assert_eq!(status(&out), "Progressing");
    assert_eq!(
        routing(&moto.url, &format!("{MACHINE}:live")),
        vec![(1, 90), (2, 10)]
    );
    assert!(version_exists(&moto.url, 2) && !version_exists(&moto.url, 3));

    // --wait follows it to the end: 100 % on version 2.
    let out = run(
        dir.path(),
        &proxy.url,
        &["reconcile", "--once", "--wait", "--notify", &hook.url],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(told(), ["rollout_started", "rollout_promoted"]);
    assert_eq!(status(&out), "Synced");
    assert_eq!(routing(&moto.url, &format!("{MACHINE}:live")), vec![(2, 100)]);

    // The pass after a finished rollout writes nothing, and diff is clean.
    proxy.reset();
    let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        proxy.writes(),
        vec![],
        "a pass after a finished rollout must not write"
    );
    assert_eq!(run(dir.path(), &proxy.url, &["diff"]).status.code(), Some(0));

    // The next change: its canary goes live, then the alarm fires.
    dir.write("checkout.yaml", &manifest("v3", "1h"));
    let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]);
    assert_eq!(status(&out), "Progressing");
    assert_eq!(
        routing(&moto.url, &format!("{MACHINE}:live")),
        vec![(2, 90), (3, 10)]
    );
    set_alarm(&moto.url, ALARM, "ALARM");
    let out = run(
        dir.path(),
        &proxy.url,
        &["reconcile", "--once", "--wait", "--notify", &hook.url],
    );
    assert_eq!(out.status.code(), Some(1), "a roll back exits 1 with --wait");
    let events = hook.delivered();
    let last = events.last().unwrap();
    assert_eq!(last["type"], "rollout_rolled_back", "{events:?}");
    assert!(last["summary"].as_str().unwrap().contains("2 → 3"), "{last}");
    let e = entry(&report(&out), "StateMachine").clone();
    assert_eq!(e["status"], "Degraded");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains(ALARM) && message.contains("step 1"), "{message}");
    assert_eq!(routing(&moto.url, &format!("{MACHINE}:live")), vec![(2, 100)]);

    // Held: not tried again (no write even once the alarm is OK), and diff says why.
    set_alarm(&moto.url, ALARM, "OK");
    proxy.reset();
    let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(status(&out), "Degraded");
    assert_eq!(proxy.writes(), vec![]);
    let out = run(dir.path(), &proxy.url, &["diff"]);
    assert_eq!(out.status.code(), Some(2));
    let e = entry(&report(&out), "StateMachine").clone();
    assert_eq!(e["status"], "Pending");
    assert!(e["message"].as_str().unwrap().contains(ALARM));
    assert_eq!(routing(&moto.url, &format!("{MACHINE}:live")), vec![(2, 100)]);
    assert!(
        !version_exists(&moto.url, 4),
        "no version published for a held configuration"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_killed_mid_bake_is_resumed_without_restarting_the_bake() {
    let (moto, proxy, dir) = setup("1h").await;
    dir.write("checkout.yaml", &manifest("v2", "1h"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args(["reconcile", "--once", "--wait"])
        .arg(dir.path())
        .args(["--endpoint-url", &proxy.url, "--region", "us-east-1", "-q"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Baking: the canary is live (read by the CLI), then the process dies without a word.
    let started = std::time::Instant::now();
    while routing(&moto.url, &format!("{MACHINE}:live")) != vec![(1, 90), (2, 10)] {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the canary never went live"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let tags = aws(
        &moto.url,
        &[
            "stepfunctions",
            "list-tags-for-resource",
            "--resource-arn",
            MACHINE,
        ],
    );
    let progress = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "sfn-operator.dev/rollout.live")
        .map(|t| t["value"].as_str().unwrap().to_owned())
        .expect("the rollout's progress is on the machine");
    let since: u64 = progress
        .split(' ')
        .find_map(|p| p.strip_prefix("at="))
        .unwrap()
        .parse()
        .unwrap();

    // A new process resumes: same step, the bake's end where the first one put it, no new version.
    let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    let e = entry(&report(&out), "StateMachine").clone();
    assert_eq!(e["status"], "Progressing");
    let view = &e["rollouts"][0];
    assert_eq!(view["step"], 1);
    assert_eq!(view["nextStepAt"].as_u64(), Some(since + 3600), "{view}");
    assert_eq!(
        routing(&moto.url, &format!("{MACHINE}:live")),
        vec![(1, 90), (2, 10)]
    );
    assert!(!version_exists(&moto.url, 3));

    // `rollout promote` ends the bake by hand; the CLI sees 100 % on version 2.
    let out = run(dir.path(), &proxy.url, &["rollout", "promote", "checkout"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(routing(&moto.url, &format!("{MACHINE}:live")), vec![(2, 100)]);
}
