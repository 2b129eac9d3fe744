//! One rollout for the API and the workflow, end to end on the sandbox (SPEC §9): the machine
//! behind `stateMachineAlias` changes, its alias rolls out as a canary, and the API stage follows
//! in the same pass: the stage's own deployment starts the old version (a stage variable), its
//! canary (the variable overridden) starts the new one at the alias's share. Every request the
//! canary serves runs the new version and every other one the old (observed per request through
//! the invoke URL); `--wait` promotes both together; the integration's alarm rolls both back
//! together. The AWS CLI
//! reads the stage and the alias at each step; the pass after each end writes nothing.

use std::process::Output;

use common::{ManifestDir, Sandbox, entry, report, run_binary_async};
use rollout::{cli, routing};
use serde_json::Value;

mod common;
#[path = "common/rollout.rs"]
mod rollout;

const ALARM: &str = "orders-canary";
/// The integration's own alarm: it watches the alias too, so it rolls both back.
const API_ALARM: &str = "orders-api-canary";
const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:orders";
const VAR: &str = "sfn_orders_live";

/// The machine answering `result`, its canary alias, the API starting the alias.
fn manifests(result: &str) -> String {
    format!(
        r#"apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: orders
spec:
  type: EXPRESS
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: Work
    States:
      Work: {{Type: Pass, Result: "{result}", End: true}}
  aliases:
    - name: live
      rollout: {{type: Canary, percent: 20, interval: 2s, alarms: [{ALARM}]}}
---
apiVersion: sfn-operator.dev/v1alpha1
kind: RestApi
metadata:
  name: shop
spec:
  name: shop
---
apiVersion: sfn-operator.dev/v1alpha1
kind: ApiIntegration
metadata:
  name: start-orders
spec:
  restApi: {{ref: shop}}
  path: /orders
  httpMethod: POST
  integration:
    service: states
    action: StartSyncExecution
    credentials: arn:aws:iam::123456789012:role/IntegrationIamRole
  stateMachineRef: orders
  stateMachineAlias: live
  responses:
    - statusCode: "200"
      responseTemplates:
        application/json: '{{"canary": $context.isCanaryRequest, "output": $input.json(''$.output'')}}'
  stage: prod
  rollout: {{type: Canary, percent: 20, interval: 2s, alarms: [{API_ALARM}]}}
"#
    )
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

/// `n` invokes: (canary requests, others), asserting that each canary request ran `new` and each
/// other one ran `old`.
async fn invokes(url: &str, api: &str, n: usize, old: &str, new: &str) -> (u32, u32) {
    let http = reqwest::Client::new();
    let (mut canary, mut base) = (0, 0);
    for _ in 0..n {
        let r = http
            .post(format!("{url}/restapis/{api}/prod/_user_request_/orders"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap_or_else(|e| panic!("invoke: {e}"));
        let text = r.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let output = body["output"]
            .as_str()
            .unwrap_or_else(|| panic!("no output: {body}"));
        if body["canary"] == true {
            canary += 1;
            assert_eq!(
                output,
                format!("\"{new}\""),
                "a canary request ran another version: {body}"
            );
        } else {
            base += 1;
            assert_eq!(
                output,
                format!("\"{old}\""),
                "a stage request ran another version: {body}"
            );
        }
    }
    (canary, base)
}

fn put_alarm(url: &str, name: &str) {
    cli(
        url,
        &[
            "cloudwatch",
            "put-metric-alarm",
            "--alarm-name",
            name,
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
            &format!("Name=StateMachineArn,Value={MACHINE}"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stage_canary_follows_the_alias_and_each_request_runs_its_deployments_version() {
    sfn_operator::sandbox::seed_dice(23);
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    put_alarm(&url, ALARM);
    put_alarm(&url, API_ALARM);
    let dir = ManifestDir::new();
    dir.write("orders.yaml", &manifests("v1"));
    let r = pass(&sandbox, &dir, &[], 0).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Synced", "{r}");
    let api = api_id(&url);
    let base = stage(&url, &api)["deploymentId"].as_str().unwrap().to_owned();
    // No variable yet: the template starts the alias (100 % version 1).
    assert_eq!(invokes(&url, &api, 20, "v1", "-").await, (0, 20));

    // Version 2: the alias routes 20 % to it and the stage follows in the same pass.
    dir.write("orders.yaml", &manifests("v2"));
    let r = pass(&sandbox, &dir, &[], 0).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Progressing", "{r}");
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Progressing", "{r}");
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(1, 80), (2, 20)]);
    let s = stage(&url, &api);
    assert_eq!(s["deploymentId"], base.as_str(), "{s}");
    assert_eq!(s["variables"][VAR], "1", "{s}");
    assert_eq!(s["canarySettings"]["percentTraffic"], 20.0, "{s}");
    assert_eq!(s["canarySettings"]["stageVariableOverrides"][VAR], "2", "{s}");
    let (canary, others) = invokes(&url, &api, 200, "v1", "v2").await;
    println!("{canary} canary requests (all ran v2), {others} stage requests (all ran v1)");
    assert!(canary > 0 && others > canary, "({canary}, {others})");

    // --wait: after the bake both are promoted together.
    let r = pass(&sandbox, &dir, &["--wait"], 0).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Synced", "{r}");
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Synced", "{r}");
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(2, 100)]);
    let s = stage(&url, &api);
    assert!(s.get("canarySettings").is_none(), "{s}");
    assert_eq!(s["variables"][VAR], "2", "{s}");
    assert_eq!(invokes(&url, &api, 20, "v2", "-").await, (0, 20));
    sandbox.reset().await;
    let r = pass(&sandbox, &dir, &[], 0).await;
    assert_eq!(sandbox.requests().await.writes(), 0, "{r}");

    // Version 3 and the integration's alarm: both roll back together.
    dir.write("orders.yaml", &manifests("v3"));
    let r = pass(&sandbox, &dir, &[], 0).await;
    assert_eq!(entry(&r, "ApiIntegration")["status"], "Progressing", "{r}");
    assert_eq!(
        stage(&url, &api)["canarySettings"]["stageVariableOverrides"][VAR],
        "3"
    );
    cli(
        &url,
        &[
            "cloudwatch",
            "set-alarm-state",
            "--alarm-name",
            API_ALARM,
            "--state-value",
            "ALARM",
            "--state-reason",
            "test",
        ],
    );
    let r = pass(&sandbox, &dir, &[], 1).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Degraded", "{r}");
    let e = entry(&r, "ApiIntegration");
    assert_eq!(e["status"], "Degraded", "{r}");
    assert!(
        e["message"].as_str().unwrap_or_default().contains(API_ALARM),
        "{e}"
    );
    assert_eq!(routing(&url, &format!("{MACHINE}:live")), vec![(2, 100)]);
    let s = stage(&url, &api);
    assert!(s.get("canarySettings").is_none(), "{s}");
    assert_eq!(s["variables"][VAR], "2", "{s}");
    assert_eq!(invokes(&url, &api, 20, "v2", "-").await, (0, 20));
    sandbox.reset().await;
    pass(&sandbox, &dir, &[], 1).await;
    assert_eq!(sandbox.requests().await.writes(), 0, "held: nothing written");
    sandbox.shutdown().await;
}
