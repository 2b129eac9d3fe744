//! `ApiIntegration.spec.rollout` end to end on the sandbox (SPEC §9 "One rollout for the API and
//! the workflow"): a changed integration goes to the stage's canary at `percent` instead of
//! replacing the stage's deployment; `reconcile --once --wait` follows it to its promotion after the
//! bake; an alarm in `ALARM` removes the canary at once and holds (`Degraded`). The AWS CLI is the
//! observer of every step (get-stage), the invoke URL shows which deployment serves, and the pass
//! after each end writes nothing (the sandbox's own request counts). Lost answers (the sandbox's
//! `lost` fault) on the canary's CreateDeployment and on UpdateStage make no second deployment.

use std::process::Output;

use common::{ManifestDir, Sandbox, aws_cli, entry, report, run_binary_async};
use serde_json::Value;

mod common;
#[path = "common/rollout.rs"]
mod rollout;

const ALARM: &str = "orders-api-canary";

/// The machine, the API and the integration whose response says `version`.
fn manifests(version: &str) -> String {
    rollout::shop_manifests(
        version,
        &format!("type: Canary, percent: 20, interval: 2s, alarms: [{ALARM}]"),
    )
}

fn cli(url: &str, args: &[&str]) -> Value {
    aws_cli(url, args).unwrap_or_else(|e| panic!("aws {args:?}: {e}"))
}

fn api_id(url: &str) -> String {
    let apis = cli(url, &["apigateway", "get-rest-apis"]);
    apis["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "shop")
        .and_then(|a| a["id"].as_str())
        .unwrap()
        .to_owned()
}

fn stage(url: &str, api: &str) -> Value {
    cli(
        url,
        &[
            "apigateway",
            "get-stage",
            "--rest-api-id",
            api,
            "--stage-name",
            "prod",
        ],
    )
}

fn description(url: &str, api: &str, deployment: &str) -> String {
    let d = cli(
        url,
        &[
            "apigateway",
            "get-deployment",
            "--rest-api-id",
            api,
            "--deployment-id",
            deployment,
        ],
    );
    d["description"].as_str().unwrap_or_default().to_owned()
}

async fn pass(sandbox: &Sandbox, dir: &ManifestDir, args: &[&str], code: i32) -> Value {
    let mut all = vec!["reconcile", "--once"];
    all.extend_from_slice(args);
    let out: Output = run_binary_async(dir.path(), &sandbox.url(), &all).await;
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report(&out)
}

/// The versions 100 invokes of the stage answered: (on "1", on "2").
async fn versions(url: &str, api: &str) -> (u32, u32) {
    let http = reqwest::Client::new();
    let (mut one, mut two) = (0, 0);
    for _ in 0..100 {
        let r = http
            .post(format!("{url}/restapis/{api}/prod/_user_request_/orders"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap_or_else(|e| panic!("invoke: {e}"));
        let body: Value = r.json().await.unwrap_or(Value::Null);
        match body["version"].as_str() {
            Some("1") => one += 1,
            Some("2") => two += 1,
            _ => panic!("unexpected answer {body}"),
        }
    }
    (one, two)
}

fn put_alarm(url: &str) {
    cli(
        url,
        &[
            "cloudwatch",
            "put-metric-alarm",
            "--alarm-name",
            ALARM,
            "--namespace",
            "AWS/States",
            "--metric-name",
            "ExecutionsFailed",
            "--statistic",
            "Sum",
            "--period",
            "60",
            "--evaluation-periods",
            "1",
            "--threshold",
            "1",
            "--comparison-operator",
            "GreaterThanOrEqualToThreshold",
            "--treat-missing-data",
            "notBreaching",
            "--dimensions",
            "Name=StateMachineArn,Value=arn:aws:states:us-east-1:123456789012:stateMachine:orders",
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_integration_goes_to_the_stage_canary_and_is_promoted_after_the_bake() {
    sfn_operator::sandbox::seed_dice(11);
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    put_alarm(&url);
    let dir = ManifestDir::new();
    dir.write("shop.yaml", &manifests("1"));
    let r = pass(&sandbox, &dir, &[], 0).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Synced", "{r}");
    let api = api_id(&url);
    let first = stage(&url, &api);
    let base = first["deploymentId"].as_str().unwrap().to_owned();
    assert!(
        first.get("canarySettings").is_none(),
        "a new stage is deployed at once: {first}"
    );
    assert_eq!(versions(&url, &api).await, (100, 0));

    // The changed response goes to the canary at 20 %; the stage keeps its deployment. `diff`
    // shows it pending and writes nothing.
    dir.write("shop.yaml", &manifests("2"));
    sandbox.reset().await;
    let out: Output = run_binary_async(dir.path(), &sandbox.url(), &["diff"]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let e = entry(&r, "ApiIntegration");
    assert_eq!(e["status"], "Pending", "{r}");
    assert!(
        e.to_string()
            .contains("a canary deployment of the current configuration at 20 %"),
        "{e}"
    );
    assert_eq!(sandbox.requests().await.writes(), 0, "diff wrote: {r}");
    let r = pass(&sandbox, &dir, &[], 0).await;
    let e = entry(&r, "ApiIntegration");
    assert_eq!(e["status"], "Progressing", "{r}");
    assert_eq!(e["rollouts"][0]["alias"], "stage prod", "{r}");
    let s = stage(&url, &api);
    assert_eq!(s["deploymentId"], base.as_str(), "{s}");
    assert_eq!(s["canarySettings"]["percentTraffic"], 20.0, "{s}");
    let canary = s["canarySettings"]["deploymentId"].as_str().unwrap().to_owned();
    assert_ne!(canary, base);
    assert_ne!(description(&url, &api, &canary), description(&url, &api, &base));
    let tags = cli(
        &url,
        &[
            "apigateway",
            "get-tags",
            "--resource-arn",
            &format!("arn:aws:apigateway:us-east-1::/restapis/{api}"),
        ],
    );
    let progress = tags["tags"]["sfn-operator.dev/rollout.stage.prod"]
        .as_str()
        .unwrap_or_default();
    assert!(progress.contains("phase=progressing"), "{tags}");
    let (one, two) = versions(&url, &api).await;
    println!("during the canary: {one} on version 1, {two} on version 2");
    assert!(two > 0 && one > two, "({one}, {two})");

    // --wait follows the bake to the promotion: the canary's deployment is the stage's.
    let r = pass(&sandbox, &dir, &["--wait"], 0).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Synced", "{r}");
    let s = stage(&url, &api);
    assert_eq!(s["deploymentId"], canary.as_str(), "{s}");
    assert!(s.get("canarySettings").is_none(), "{s}");
    assert_eq!(versions(&url, &api).await, (0, 100));

    // The pass after writes nothing.
    sandbox.reset().await;
    let r = pass(&sandbox, &dir, &[], 0).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Synced", "{r}");
    assert_eq!(sandbox.requests().await.writes(), 0, "{r}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_removes_the_stage_canary_at_once_and_holds() {
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    put_alarm(&url);
    let dir = ManifestDir::new();
    dir.write("shop.yaml", &manifests("1"));
    pass(&sandbox, &dir, &[], 0).await;
    let api = api_id(&url);
    let base = stage(&url, &api)["deploymentId"].as_str().unwrap().to_owned();
    dir.write("shop.yaml", &manifests("2"));
    let r = pass(&sandbox, &dir, &[], 0).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Progressing", "{r}");
    assert!(stage(&url, &api).get("canarySettings").is_some());

    cli(
        &url,
        &[
            "cloudwatch",
            "set-alarm-state",
            "--alarm-name",
            ALARM,
            "--state-value",
            "ALARM",
            "--state-reason",
            "test",
        ],
    );
    let r = pass(&sandbox, &dir, &[], 1).await;
    let e = entry(&r, "ApiIntegration");
    assert_eq!(e["status"], "Degraded", "{r}");
    let message = e["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(ALARM) && message.contains("stage prod"),
        "{message}"
    );
    let s = stage(&url, &api);
    assert!(s.get("canarySettings").is_none(), "{s}");
    assert_eq!(s["deploymentId"], base.as_str(), "{s}");
    assert_eq!(versions(&url, &api).await, (100, 0));

    // Held: the next pass writes nothing and does not start the same configuration again.
    sandbox.reset().await;
    let r = pass(&sandbox, &dir, &[], 1).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Degraded", "{r}");
    assert_eq!(sandbox.requests().await.writes(), 0, "{r}");
    assert!(stage(&url, &api).get("canarySettings").is_none());
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_to_the_canary_deployment_makes_one_canary_only() {
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    put_alarm(&url);
    let dir = ManifestDir::new();
    dir.write("shop.yaml", &manifests("1"));
    pass(&sandbox, &dir, &[], 0).await;
    let api = api_id(&url);
    let before = cli(&url, &["apigateway", "get-deployments", "--rest-api-id", &api]);
    assert_eq!(before["items"].as_array().map(Vec::len), Some(1), "{before}");

    // Every canary CreateDeployment is carried out and its answer dropped.
    sandbox
        .faults(
            serde_json::json!({"lost": 1.0, "operations": ["CreateDeployment"], "match": "canarySettings"}),
        )
        .await;
    sandbox.reset().await;
    dir.write("shop.yaml", &manifests("2"));
    let r = pass(&sandbox, &dir, &[], 0).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Progressing", "{r}");
    let counts = sandbox.requests().await;
    assert_eq!(
        counts.count("CreateDeployment"),
        1,
        "the lost create was found, not repeated"
    );
    assert!(counts.injected() >= 1, "the fault was injected");
    let after = cli(&url, &["apigateway", "get-deployments", "--rest-api-id", &api]);
    assert_eq!(after["items"].as_array().map(Vec::len), Some(2), "{after}");
    let s = stage(&url, &api);
    assert_eq!(s["canarySettings"]["percentTraffic"], 20.0, "{s}");

    // Half the UpdateStage answers lost (seed 5) while --wait follows it to the promotion.
    sandbox
        .faults(serde_json::json!({"lost": 0.5, "seed": 5, "operations": ["UpdateStage"]}))
        .await;
    let r = pass(&sandbox, &dir, &["--wait"], 0).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Synced", "{r}");
    sandbox.faults(serde_json::json!({})).await;
    let s = stage(&url, &api);
    assert!(s.get("canarySettings").is_none(), "{s}");
    let after = cli(&url, &["apigateway", "get-deployments", "--rest-api-id", &api]);
    assert_eq!(
        after["items"].as_array().map(Vec::len),
        Some(2),
        "no deployment beyond the canary: {after}"
    );
    assert_eq!(versions(&url, &api).await, (0, 100));
    sandbox.shutdown().await;
}
