//! What the rollout tests read and set through the AWS CLI (the independent observer): an alias's
//! routing, a machine's versions, an `AWS/States` `ExecutionsFailed` alarm and its state.
#![allow(dead_code)]

use serde_json::Value;

/// The AWS CLI at `url`; panics with its stderr when it fails.
pub fn cli(url: &str, args: &[&str]) -> Value {
    crate::common::aws_cli(url, args).unwrap_or_else(|e| panic!("aws {args:?}: {e}"))
}

/// The alias's routing as the CLI reads it: (version, weight), highest weight first.
pub fn routing(url: &str, alias_arn: &str) -> Vec<(u32, u64)> {
    alias_state(url, alias_arn).0
}

/// The alias's routing (as [`routing`]) and its `updateDate` (Unix seconds: AWS CLI v1 prints
/// the number), from one `describe-state-machine-alias`.
pub fn alias_state(url: &str, alias_arn: &str) -> (Vec<(u32, u64)>, f64) {
    let alias = cli(
        url,
        &[
            "stepfunctions",
            "describe-state-machine-alias",
            "--state-machine-alias-arn",
            alias_arn,
        ],
    );
    let mut r: Vec<(u32, u64)> = alias["routingConfiguration"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let arn = i["stateMachineVersionArn"].as_str().unwrap();
            (
                arn.rsplit(':').next().unwrap().parse().unwrap(),
                i["weight"].as_u64().unwrap(),
            )
        })
        .collect();
    r.sort_by_key(|x| std::cmp::Reverse(x.1));
    let updated = alias["updateDate"]
        .as_f64()
        .unwrap_or_else(|| panic!("updateDate: {alias}"));
    (r, updated)
}

/// The version numbers the CLI lists for a machine, in order.
pub fn versions(url: &str, machine_arn: &str) -> Vec<u32> {
    let v = cli(
        url,
        &[
            "stepfunctions",
            "list-state-machine-versions",
            "--state-machine-arn",
            machine_arn,
        ],
    );
    let mut n: Vec<u32> = v["stateMachineVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let arn = v["stateMachineVersionArn"].as_str().unwrap();
            arn.rsplit(':').next().unwrap().parse().unwrap()
        })
        .collect();
    n.sort_unstable();
    n
}

/// An alarm on `AWS/States` `ExecutionsFailed` (Sum ≥ 1 over `period` seconds, `evaluation_periods`
/// of them), with `extra` CLI arguments (`--dimensions ...`, `--datapoints-to-alarm N`).
pub fn put_failed_alarm(url: &str, name: &str, period: u32, evaluation_periods: u32, extra: &[&str]) {
    let (period, evaluation_periods) = (period.to_string(), evaluation_periods.to_string());
    let mut args = vec![
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
        &period,
        "--evaluation-periods",
        &evaluation_periods,
        "--threshold",
        "1",
        "--comparison-operator",
        "GreaterThanOrEqualToThreshold",
    ];
    args.extend_from_slice(extra);
    cli(url, &args);
}

/// `set-alarm-state`.
pub fn set_alarm(url: &str, name: &str, state: &str) {
    cli(
        url,
        &[
            "cloudwatch",
            "set-alarm-state",
            "--alarm-name",
            name,
            "--state-value",
            state,
            "--state-reason",
            "test",
        ],
    );
}

/// The alarm's `StateValue`.
pub fn alarm_state(url: &str, name: &str) -> String {
    let a = cli(url, &["cloudwatch", "describe-alarms", "--alarm-names", name]);
    a["MetricAlarms"][0]["StateValue"].as_str().unwrap().to_owned()
}

/// A machine's tags as the CLI lists them.
pub fn tags(url: &str, arn: &str) -> std::collections::BTreeMap<String, String> {
    let t = cli(
        url,
        &["stepfunctions", "list-tags-for-resource", "--resource-arn", arn],
    );
    t["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_owned(),
                t["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The definition of version `n` of a machine, as the CLI describes it.
pub fn version_definition(url: &str, machine_arn: &str, n: u32) -> String {
    let d = cli(
        url,
        &[
            "stepfunctions",
            "describe-state-machine",
            "--state-machine-arn",
            &format!("{machine_arn}:{n}"),
        ],
    );
    d["definition"].as_str().unwrap().to_owned()
}

/// An EXPRESS `StateMachine` manifest `name` whose one state `Work` is `work` (YAML flow style),
/// behind alias `live` with `rollout` (the flow-style fields inside `{...}`), and `extra` spec
/// lines (two-space indented, each ending with a newline).
pub fn machine_manifest(name: &str, work: &str, rollout: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: {name}
spec:
  type: EXPRESS
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: Work
    States:
      Work: {work}
{extra}  aliases:
    - name: live
      rollout: {{{rollout}}}
"#
    )
}

/// The machine `orders` (one Pass state), the REST API `shop` and the integration `start-orders`
/// on `POST /orders`, whose response says `{"version": VERSION}`, deployed to stage `prod` with
/// `rollout` (the flow-style fields inside `{...}`).
pub fn shop_manifests(version: &str, rollout: &str) -> String {
    format!(
        r#"apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata: {{name: orders}}
spec:
  type: EXPRESS
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: Work
    States:
      Work: {{Type: Pass, End: true}}
---
apiVersion: sfn-operator.dev/v1alpha1
kind: RestApi
metadata: {{name: shop}}
spec: {{name: shop}}
---
apiVersion: sfn-operator.dev/v1alpha1
kind: ApiIntegration
metadata: {{name: start-orders}}
spec:
  restApi: {{ref: shop}}
  path: /orders
  httpMethod: POST
  integration:
    service: states
    action: StartSyncExecution
    credentials: arn:aws:iam::123456789012:role/IntegrationIamRole
  stateMachineRef: orders
  responses:
    - statusCode: "200"
      responseTemplates:
        application/json: '{{"version": "{version}"}}'
  stage: prod
  rollout: {{{rollout}}}
"#
    )
}
