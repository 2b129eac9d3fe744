//! `sfn-operator rollout status|abort|retry|promote` on the sandbox (SPEC §9), for an alias and for
//! an API stage canary (`ApiIntegration.spec.rollout`): each command's effect is read with the
//! AWS CLI (`describe-state-machine-alias`, `get-stage`), each turn it makes is posted to
//! `--notify` (SPEC §12: `rollout_rolled_back` for an abort, with "aborted" in its message,
//! `rollout_started` for a retry, `rollout_promoted`), and the pass after an abort writes
//! nothing (held).

use common::{ManifestDir, Sandbox, aws_cli, entry, report, run_binary_async};
use rollout::{machine_manifest, put_failed_alarm, routing, shop_manifests, versions};
use serde_json::Value;

mod common;
#[path = "common/receiver.rs"]
mod receiver;
#[path = "common/rollout.rs"]
mod rollout;

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:checkout";
const ALARM: &str = "checkout-failed";

/// The machine passing `result`, behind a canary alias with an hour's bake.
fn machine(result: &str) -> String {
    machine_manifest(
        "checkout",
        &format!("{{Type: Pass, Result: {result:?}, End: true}}"),
        &format!("type: Canary, percent: 10, interval: 1h, alarms: [{ALARM}]"),
        "",
    )
}

/// Runs the binary; asserts its exit code; its JSON output.
async fn run(sandbox: &Sandbox, dir: &ManifestDir, args: &[&str], code: i32) -> Value {
    let out = run_binary_async(dir.path(), &sandbox.url(), args).await;
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    report(&out)
}

/// The events the receiver got since `from`: (type, resource, message).
fn told(hook: &receiver::Receiver, from: usize) -> Vec<(String, String, String)> {
    hook.delivered()
        .iter()
        .skip(from)
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("type"), s("resource"), s("message"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn abort_retry_and_promote_an_alias_and_tell_each_turn() {
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    let hook = receiver::Receiver::start(0).await;
    put_failed_alarm(&url, ALARM, 600, 1, &[]);
    let dir = ManifestDir::new();
    dir.write("checkout.yaml", &machine("v1"));
    run(&sandbox, &dir, &["reconcile", "--once"], 0).await;
    dir.write("checkout.yaml", &machine("v2"));
    run(&sandbox, &dir, &["reconcile", "--once"], 0).await;
    let alias = format!("{MACHINE}:live");
    assert_eq!(routing(&url, &alias), [(1, 90), (2, 10)]);

    let s = run(&sandbox, &dir, &["rollout", "status"], 0).await;
    let r = &s["rollouts"][0];
    assert_eq!(
        (&r["kind"], &r["name"], &r["phase"]),
        (&"StateMachine".into(), &"checkout".into(), &"Progressing".into()),
        "{s}"
    );

    // Abort: back on version 1 at once, held, and told as a roll back that says it was aborted.
    let s = run(
        &sandbox,
        &dir,
        &["rollout", "abort", "checkout", "--notify", &hook.url],
        1,
    )
    .await;
    assert_eq!(s["rollouts"][0]["phase"], "Aborted", "{s}");
    assert_eq!(routing(&url, &alias), [(1, 100)]);
    let events = told(&hook, 0);
    assert_eq!(events.len(), 1, "{events:?}");
    let (kind, resource, message) = &events[0];
    assert_eq!(
        (kind.as_str(), resource.as_str()),
        ("rollout_rolled_back", "StateMachine/checkout")
    );
    assert!(message.contains("aborted at step 1"), "{message}");
    sandbox.reset().await;
    let r = run(&sandbox, &dir, &["reconcile", "--once"], 1).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Degraded", "{r}");
    assert_eq!(sandbox.requests().await.writes(), 0, "held after the abort");

    // Retry: the canary again, told as a start; promote: 100 %, told.
    run(
        &sandbox,
        &dir,
        &["rollout", "retry", "checkout", "--notify", &hook.url],
        0,
    )
    .await;
    assert_eq!(routing(&url, &alias), [(1, 90), (2, 10)]);
    run(
        &sandbox,
        &dir,
        &["rollout", "promote", "checkout", "--notify", &hook.url],
        0,
    )
    .await;
    assert_eq!(routing(&url, &alias), [(2, 100)]);
    let kinds: Vec<String> = told(&hook, 1).into_iter().map(|e| e.0).collect();
    assert_eq!(kinds, ["rollout_started", "rollout_promoted"]);
    assert_eq!(versions(&url, MACHINE), [1, 2], "steering publishes nothing");
    sandbox.shutdown().await;
}

/// The machine, the API and an integration answering `version`, with a stage canary.
fn api(version: &str) -> String {
    shop_manifests(
        version,
        &format!("type: Canary, percent: 20, interval: 1h, alarms: [{ALARM}]"),
    )
}

/// The stage `prod` of the API `shop`, as `get-stage` answers.
fn stage(url: &str) -> Value {
    let apis = aws_cli(url, &["apigateway", "get-rest-apis"]).unwrap();
    let id = apis["items"][0]["id"].as_str().unwrap().to_owned();
    aws_cli(
        url,
        &[
            "apigateway",
            "get-stage",
            "--rest-api-id",
            &id,
            "--stage-name",
            "prod",
        ],
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn abort_retry_and_promote_an_api_stage_canary_and_tell_each_turn() {
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    let hook = receiver::Receiver::start(0).await;
    put_failed_alarm(&url, ALARM, 600, 1, &[]);
    let dir = ManifestDir::new();
    dir.write("shop.yaml", &api("1"));
    run(&sandbox, &dir, &["reconcile", "--once"], 0).await;
    let base = stage(&url)["deploymentId"].as_str().unwrap().to_owned();
    dir.write("shop.yaml", &api("2"));
    let r = run(&sandbox, &dir, &["reconcile", "--once", "--notify", &hook.url], 0).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Progressing", "{r}");
    let s = stage(&url);
    assert_eq!(s["canarySettings"]["percentTraffic"], 20.0, "{s}");
    assert!(s["canarySettings"]["deploymentId"].is_string(), "{s}");
    assert_eq!(
        told(&hook, 0)[0].0,
        "rollout_started",
        "a stage canary's start is told"
    );

    let st = run(&sandbox, &dir, &["rollout", "status"], 0).await;
    let r = &st["rollouts"][0];
    assert_eq!(
        (&r["kind"], &r["name"], &r["alias"]),
        (
            &"ApiIntegration".into(),
            &"start-orders".into(),
            &"stage prod".into()
        ),
        "{st}"
    );

    // Abort: the canary removed, the stage on its own deployment, held, told.
    let s = run(
        &sandbox,
        &dir,
        &["rollout", "abort", "start-orders", "--notify", &hook.url],
        1,
    )
    .await;
    assert_eq!(s["rollouts"][0]["phase"], "Aborted", "{s}");
    let live = stage(&url);
    assert!(live.get("canarySettings").is_none(), "{live}");
    assert_eq!(live["deploymentId"], base.as_str());
    let events = told(&hook, 1);
    assert_eq!(events.len(), 1, "{events:?}");
    let (kind, resource, message) = &events[0];
    assert_eq!(
        (kind.as_str(), resource.as_str()),
        ("rollout_rolled_back", "ApiIntegration/start-orders")
    );
    assert!(message.contains("aborted at step 1"), "{message}");
    sandbox.reset().await;
    let r = run(&sandbox, &dir, &["reconcile", "--once"], 1).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Degraded", "{r}");
    assert_eq!(sandbox.requests().await.writes(), 0, "held after the abort");

    // Retry: a canary again at 20 %; promote: its deployment serves the stage, no canary left.
    run(
        &sandbox,
        &dir,
        &["rollout", "retry", "start-orders", "--notify", &hook.url],
        0,
    )
    .await;
    let live = stage(&url);
    assert_eq!(live["canarySettings"]["percentTraffic"], 20.0, "{live}");
    assert_eq!(live["deploymentId"], base.as_str());
    let again = live["canarySettings"]["deploymentId"]
        .as_str()
        .unwrap()
        .to_owned();
    run(
        &sandbox,
        &dir,
        &["rollout", "promote", "start-orders", "--notify", &hook.url],
        0,
    )
    .await;
    let live = stage(&url);
    assert!(live.get("canarySettings").is_none(), "{live}");
    assert_eq!(live["deploymentId"], again.as_str());
    let kinds: Vec<String> = told(&hook, 2).into_iter().map(|e| e.0).collect();
    assert_eq!(kinds, ["rollout_started", "rollout_promoted"]);
    sandbox.reset().await;
    let r = run(&sandbox, &dir, &["reconcile", "--once"], 0).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Synced", "{r}");
    assert_eq!(
        sandbox.requests().await.writes(),
        0,
        "nothing left to do after the promotion"
    );
    sandbox.shutdown().await;
}
