//! Field coverage (SPEC §12) of a REST API's stages (`RestApi.spec.stages.NAME`): description,
//! variables, tracing, method settings, access logs. Each set by the operator and read back by
//! the AWS CLI, changed out of band by the CLI, found by `diff` at its path, reverted, the next
//! pass writing nothing; a stage-only change applied without a deployment, an API change with one;
//! the sandbox's throttling on the invoke URL and its stage variables in mapping templates.
//! Against the sandbox (write counts from `/_sandbox/requests`) and moto (write counts from a
//! proxy in front of it, tests/common/fault_proxy.rs).

use std::path::Path;

use common::{ManifestDir, Sandbox, aws_cli, entry, paths, report, start_moto};
use fault_proxy::FaultProxy;
use serde_json::Value;

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;

async fn run(dir: &Path, url: &str, args: &[&str]) -> std::process::Output {
    common::run_binary_async(dir, url, args).await
}

fn cli(url: &str, args: &[&str]) -> Value {
    aws_cli(url, args).unwrap_or_else(|e| panic!("aws {args:?}: {e}"))
}

const LOG_GROUP: &str = "arn:aws:logs:us-east-1:123456789012:log-group:api-access";

/// A RestApi with `stages` (YAML, indented under `spec:`), and a `GET /status` integration
/// deployed to `prod` whose response template shows `$stageVariables.env` and `template`.
fn manifests(dir: &ManifestDir, stages: &str, template: &str) {
    dir.write(
        "api.yaml",
        &format!(
            "apiVersion: sfn-operator.dev/v1alpha1
kind: RestApi
metadata:
  name: staged
spec:
  name: staged-api
{stages}---
apiVersion: sfn-operator.dev/v1alpha1
kind: ApiIntegration
metadata:
  name: status
spec:
  restApi:
    ref: staged
  path: /status
  httpMethod: GET
  integration:
    type: AWS
    service: states
    action: DescribeExecution
    credentials: arn:aws:iam::123456789012:role/IntegrationIamRole
  responses:
    - statusCode: \"200\"
      responseTemplates:
        application/json: '{{\"env\": \"$stageVariables.env\", \"t\": \"{template}\"}}'
  stage: prod
"
        ),
    );
}

const STAGES: &str = "  stages:
    prod:
      description: Production
      variables:
        env: production
      tracingEnabled: true
      methodSettings:
        \"*/*\":
          throttlingBurstLimit: 40
          throttlingRateLimit: 20.5
          loggingLevel: INFO
          metricsEnabled: true
          dataTraceEnabled: true
      accessLogSettings:
        destinationArn: arn:aws:logs:us-east-1:123456789012:log-group:api-access
        format: '{\"id\":\"$context.requestId\"}'
";

/// The paths every field of [`STAGES`] shows in a diff.
const STAGE_PATHS: [&str; 10] = [
    "stages.prod.description",
    "stages.prod.variables.env",
    "stages.prod.tracingEnabled",
    "stages.prod.methodSettings[\"*/*\"].throttlingBurstLimit",
    "stages.prod.methodSettings[\"*/*\"].throttlingRateLimit",
    "stages.prod.methodSettings[\"*/*\"].loggingLevel",
    "stages.prod.methodSettings[\"*/*\"].metricsEnabled",
    "stages.prod.methodSettings[\"*/*\"].dataTraceEnabled",
    "stages.prod.accessLogSettings.destinationArn",
    "stages.prod.accessLogSettings.format",
];

/// Every field of [`STAGES`] as the CLI reads it.
fn assert_stage_as_declared(stage: &Value) {
    assert_eq!(stage["description"], "Production", "{stage}");
    assert_eq!(stage["variables"]["env"], "production", "{stage}");
    assert_eq!(stage["tracingEnabled"], true, "{stage}");
    let m = &stage["methodSettings"]["*/*"];
    assert_eq!(m["throttlingBurstLimit"], 40, "{stage}");
    assert_eq!(m["throttlingRateLimit"].as_f64(), Some(20.5), "{stage}");
    assert_eq!(m["loggingLevel"], "INFO", "{stage}");
    assert_eq!(m["metricsEnabled"], true, "{stage}");
    assert_eq!(m["dataTraceEnabled"], true, "{stage}");
    assert_eq!(stage["accessLogSettings"]["destinationArn"], LOG_GROUP, "{stage}");
    assert_eq!(
        stage["accessLogSettings"]["format"], "{\"id\":\"$context.requestId\"}",
        "{stage}"
    );
}

/// Every field of [`STAGES`] changed with the CLI's UpdateStage.
fn drift_every_field(url: &str, api: &str) {
    cli(
        url,
        &[
            "apigateway",
            "update-stage",
            "--rest-api-id",
            api,
            "--stage-name",
            "prod",
            "--patch-operations",
            "op=replace,path=/description,value=changed",
            "op=replace,path=/variables/env,value=other",
            "op=replace,path=/tracingEnabled,value=false",
            "op=replace,path=/*/*/throttling/burstLimit,value=7",
            "op=replace,path=/*/*/throttling/rateLimit,value=3",
            "op=replace,path=/*/*/logging/loglevel,value=ERROR",
            "op=replace,path=/*/*/metrics/enabled,value=false",
            "op=replace,path=/*/*/logging/dataTrace,value=false",
            "op=replace,path=/accessLogSettings/destinationArn,value=arn:aws:logs:us-east-1:123456789012:log-group:other",
            "op=replace,path=/accessLogSettings/format,value=$context.requestId",
        ],
    );
}

fn get_stage(url: &str, api: &str) -> Value {
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

fn deployments(url: &str, api: &str) -> usize {
    cli(url, &["apigateway", "get-deployments", "--rest-api-id", api])["items"]
        .as_array()
        .map_or(0, Vec::len)
}

/// Where the operator's writes are counted: the sandbox's own count, or a proxy in front of moto.
enum Writes<'a> {
    Sandbox(&'a Sandbox),
    Proxy(&'a FaultProxy),
}

impl Writes<'_> {
    async fn reset(&self) {
        match self {
            Writes::Sandbox(s) => s.reset().await,
            Writes::Proxy(p) => p.reset(),
        }
    }

    /// The operations written since the last reset (`UpdateStage`, `CreateDeployment`, or
    /// `METHOD /path` through the proxy).
    async fn written(&self) -> Vec<String> {
        match self {
            Writes::Sandbox(s) => {
                let r = s.requests().await;
                let mut out = Vec::new();
                for service in ["sfn", "apigateway", "tagging"] {
                    for (op, n) in r.0[service].as_object().into_iter().flatten() {
                        let write = [
                            "Create", "Put", "Update", "Delete", "Tag", "Untag", "Start", "Publish",
                        ]
                        .iter()
                        .any(|p| op.starts_with(p));
                        if write {
                            out.extend((0..n.as_u64().unwrap_or(0)).map(|_| op.clone()));
                        }
                    }
                }
                assert_eq!(out.len() as u64, r.writes(), "{r:?}");
                out
            }
            Writes::Proxy(p) => p.writes().into_iter().map(|f| f.operation).collect(),
        }
    }
}

/// The whole round trip of every stage field. `operator` is where the operator goes (the proxy
/// in front of moto, or the sandbox), `url` where the CLI reads and drifts.
async fn stage_round_trip(operator: &str, url: &str, writes: Writes<'_>) {
    let dir = ManifestDir::new();
    manifests(&dir, STAGES, "one");
    let out = run(dir.path(), operator, &["reconcile", "--once"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let api = entry(&report(&out), "RestApi")["id"].as_str().unwrap().to_owned();
    let declared = get_stage(url, &api);
    assert_stage_as_declared(&declared);
    assert_eq!(deployments(url, &api), 1);

    let in_sync = async |what: &str| {
        writes.reset().await;
        let out = run(dir.path(), operator, &["reconcile", "--once"]).await;
        assert_eq!(out.status.code(), Some(0), "{what}");
        let r = report(&out);
        for e in r["resources"].as_array().unwrap() {
            assert_eq!(e["action"], "noop", "{what}: {r}");
        }
        assert_eq!(writes.written().await, Vec::<String>::new(), "{what}");
    };
    in_sync("after create").await;

    drift_every_field(url, &api);
    let out = run(dir.path(), operator, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    let r = report(&out);
    assert_eq!(paths(entry(&r, "RestApi")), STAGE_PATHS, "{r}");
    assert_eq!(entry(&r, "ApiIntegration")["action"], "noop", "{r}");
    writes.reset().await;
    let out = run(dir.path(), operator, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_stage_as_declared(&get_stage(url, &api));
    // Stage settings are no deployment: one UpdateStage, nothing else.
    let written = writes.written().await;
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(
        written[0].contains("UpdateStage") || written[0].starts_with("PATCH /restapis/"),
        "{written:?}"
    );
    assert_eq!(deployments(url, &api), 1);
    in_sync("after the revert").await;

    // A stage-only change in the manifest: applied without a deployment.
    manifests(&dir, &STAGES.replace("Production", "Production v2"), "one");
    writes.reset().await;
    let out = run(dir.path(), operator, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        paths(entry(&report(&out), "RestApi")),
        ["stages.prod.description"]
    );
    assert_eq!(writes.written().await.len(), 1);
    assert_eq!(deployments(url, &api), 1);
    assert_eq!(get_stage(url, &api)["description"], "Production v2");

    // An API configuration change: one deployment, the stage settings as declared after it.
    manifests(&dir, &STAGES.replace("Production", "Production v2"), "two");
    let out = run(dir.path(), operator, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(deployments(url, &api), 2);
    let after = get_stage(url, &api);
    assert_eq!(after["description"], "Production v2", "{after}");
    assert_eq!(
        after["methodSettings"]["*/*"]["throttlingBurstLimit"], 40,
        "{after}"
    );
    in_sync("after the deployment").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stage_settings_round_trip_on_the_sandbox() {
    let s = Sandbox::start().await;
    let url = s.url();
    stage_round_trip(&url, &url, Writes::Sandbox(&s)).await;
    s.shutdown().await;
}

/// moto 5.x keeps every stage field this test sets (its CreateDeployment replaces an existing
/// stage with a fresh one, dropping its settings; AWS keeps them, and the operator's pass puts
/// them back after its deployment either way).
#[tokio::test(flavor = "multi_thread")]
async fn stage_settings_round_trip_on_moto() {
    let moto = start_moto().await;
    let proxy = FaultProxy::start(&moto.url).await;
    stage_round_trip(&proxy.url, &moto.url, Writes::Proxy(&proxy)).await;
}

/// The sandbox's invoke URL: stage variables reach the mapping templates, and the stage's
/// throttling answers AWS's 429 past the burst, the method's own entry over `*/*`.
#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_throttles_the_invoke_url_and_shows_stage_variables() {
    let s = Sandbox::start().await;
    let url = s.url();
    let dir = ManifestDir::new();
    // A refill of one request every 1,000 s: only the burst passes within the test.
    manifests(
        &dir,
        "  stages:
    prod:
      variables: {env: production}
      methodSettings:
        \"*/*\": {throttlingBurstLimit: 100, throttlingRateLimit: 100}
        status/GET: {throttlingBurstLimit: 2, throttlingRateLimit: 0.001}
",
        "one",
    );
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let api = entry(&report(&out), "RestApi")["id"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let call = || async {
        let r = client
            .get(format!("{url}/restapis/{api}/prod/_user_request_/status"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    for _ in 0..2 {
        let (status, body) = call().await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["env"], "production", "{body}");
    }
    let (status, body) = call().await;
    assert_eq!(
        (status, body.as_str()),
        (429, r#"{"message":"Too Many Requests"}"#)
    );
    // The per-method entry's setting is what AWS lists under `status/GET`.
    let stage = get_stage(&url, &api);
    assert_eq!(
        stage["methodSettings"]["status/GET"]["throttlingBurstLimit"], 2,
        "{stage}"
    );
    s.shutdown().await;
}

/// AWS's errors for stage settings, as the sandbox answers them to the CLI.
#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_answers_aws_stage_setting_errors() {
    let s = Sandbox::start().await;
    let url = s.url();
    let dir = ManifestDir::new();
    manifests(&dir, "", "one");
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let api = entry(&report(&out), "RestApi")["id"].as_str().unwrap().to_owned();
    let patch = |op: &str| {
        aws_cli(
            &url,
            &[
                "apigateway",
                "update-stage",
                "--rest-api-id",
                &api,
                "--stage-name",
                "prod",
                "--patch-operations",
                op,
            ],
        )
    };
    for (op, expect) in [
        (
            "op=replace,path=/*/*/logging/loglevel,value=DEBUG",
            "Invalid logging level",
        ),
        (
            "op=replace,path=/*/*/throttling/rateLimit,value=fast",
            "Invalid patch value",
        ),
        (
            "op=replace,path=/*/*/throttling/burstLimit,value=-1",
            "Invalid patch value",
        ),
        (
            "op=replace,path=/accessLogSettings/destinationArn,value=log-group",
            "Invalid ARN",
        ),
        (
            "op=replace,path=/accessLogSettings/format,value=plain",
            "$context.requestId",
        ),
    ] {
        let err = patch(op).unwrap_err();
        assert!(
            err.contains("BadRequestException") && err.contains(expect),
            "{op}: {err}"
        );
    }
    // A new entry holds AWS's defaults beside the field set; `remove` drops the entry and the logs.
    let stage = patch("op=replace,path=/*/*/metrics/enabled,value=true").unwrap();
    let m = &stage["methodSettings"]["*/*"];
    assert_eq!(m["metricsEnabled"], true, "{stage}");
    assert_eq!(m["throttlingBurstLimit"], 5000, "{stage}");
    assert_eq!(m["throttlingRateLimit"].as_f64(), Some(10000.0), "{stage}");
    assert_eq!(m["loggingLevel"], "OFF", "{stage}");
    patch("op=replace,path=/accessLogSettings/destinationArn,value=arn:aws:logs:us-east-1:1:log-group:g")
        .unwrap();
    let stage = patch("op=remove,path=/*/*").unwrap();
    assert_eq!(stage["methodSettings"], serde_json::json!({}), "{stage}");
    let stage = patch("op=remove,path=/accessLogSettings").unwrap();
    assert!(stage.get("accessLogSettings").is_none(), "{stage}");
    s.shutdown().await;
}

/// A stage created with AWS's defaults (console: Deploy API), adopted by manifests that declare
/// it and set none of its fields: nothing but the ownership tags is written.
#[tokio::test(flavor = "multi_thread")]
async fn a_default_stage_adopted_without_stage_fields_writes_only_tags() {
    let s = Sandbox::start().await;
    let url = s.url();
    let dir = ManifestDir::new();
    manifests(&dir, "  stages:\n    prod: {}\n", "one");
    // Made by the operator, then its ownership forgotten: as if created by hand.
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let api = entry(&report(&out), "RestApi")["id"].as_str().unwrap().to_owned();
    let arn = format!("arn:aws:apigateway:us-east-1::/restapis/{api}");
    let tags = cli(&url, &["apigateway", "get-tags", "--resource-arn", &arn]);
    let keys: Vec<&str> = tags["tags"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    cli(
        &url,
        &[
            &[
                "apigateway",
                "untag-resource",
                "--resource-arn",
                &arn,
                "--tag-keys",
            ][..],
            &keys[..],
        ]
        .concat(),
    );
    s.reset().await;
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    for e in r["resources"].as_array().unwrap() {
        assert_eq!(e["action"], "noop", "{r}");
    }
    let req = s.requests().await;
    assert_eq!(req.writes(), req.count("TagResource"), "{req:?}");
    assert!(req.count("TagResource") >= 1, "{req:?}");
    s.shutdown().await;
}

/// `sfn-operator validate` in `dir`: exit code and stderr.
fn validate(dir: &Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args(["validate", "."])
        .current_dir(dir)
        .output()
        .expect("run sfn-operator");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn stage_setting_errors_name_file_line_column() {
    let dir = ManifestDir::new();
    dir.write(
        "a.yaml",
        "apiVersion: sfn-operator.dev/v1alpha1
kind: RestApi
metadata:
  name: a
spec:
  stages:
    prod:
      variables: {sfn_x: a, ok: \"has space\"}
      tracingEnabled: yes please
      methodSettings:
        /pets/GET: {metricsEnabled: true}
        \"*/*\": {throttlingRateLimit: -1, loggingLevel: DEBUG, cachingEnabled: true}
      accessLogSettings: {destinationArn: group, format: plain}
    bad.name: {}
",
    );
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    for line in [
        "./a.yaml:8:19: spec.stages.prod.variables.sfn_x: names starting with sfn_ are the operator's own (joint rollouts)",
        "./a.yaml:8:33: spec.stages.prod.variables.ok: a stage variable value is 1–512 of A-Z, a-z, 0-9 and -._~:/?#&=, (found \"has space\")",
        "./a.yaml:9:23: spec.stages.prod.tracingEnabled: expected true or false, found a string",
        "./a.yaml:11:9: spec.stages.prod.methodSettings: \"/pets/GET\" is not a method setting key (\"*/*\" for every method, or the resource path without its leading / then the verb: \"pets/GET\")",
        "./a.yaml:12:63: spec.stages.prod.methodSettings[\"*/*\"]: unknown field \"cachingEnabled\", expected one of throttlingBurstLimit, throttlingRateLimit, loggingLevel, metricsEnabled, dataTraceEnabled",
        "./a.yaml:12:38: spec.stages.prod.methodSettings[\"*/*\"].throttlingRateLimit: expected a number of requests per second (0 or more), found -1",
        "./a.yaml:12:56: spec.stages.prod.methodSettings[\"*/*\"].loggingLevel: \"DEBUG\" is not one of OFF, ERROR, INFO",
        "./a.yaml:13:43: spec.stages.prod.accessLogSettings.destinationArn: expected the ARN of a CloudWatch Logs log group or Firehose stream, found \"group\"",
        "./a.yaml:13:58: spec.stages.prod.accessLogSettings.format: must include $context.requestId or $context.extendedRequestId (AWS refuses it otherwise)",
        "./a.yaml:14:5: spec.stages.bad.name: a stage name is 1–128 of a-z, A-Z, 0-9, _ and -",
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "missing {line:?} in:\n{stderr}"
        );
    }
}

/// An ApiIntegration on `GET /status` of `staged-api` (deployed to `prod`) with `extra` spec lines
/// and `integration_extra` lines under `integration:`.
fn method_manifests(dir: &ManifestDir, extra: &str, integration_extra: &str) {
    dir.write(
        "api.yaml",
        &format!(
            "apiVersion: sfn-operator.dev/v1alpha1
kind: RestApi
metadata:
  name: staged
spec:
  name: staged-api
  stages:
    prod: {{}}
---
apiVersion: sfn-operator.dev/v1alpha1
kind: ApiIntegration
metadata:
  name: status
spec:
  restApi:
    ref: staged
  path: /status
  httpMethod: GET
{extra}  integration:
    type: AWS
    service: states
    action: DescribeExecution
    credentials: arn:aws:iam::123456789012:role/IntegrationIamRole
{integration_extra}  stage: prod
"
        ),
    );
}

const METHOD_FIELDS: &str = "  apiKeyRequired: true
  requestParameters:
    method.request.querystring.id: true
    method.request.header.x-trace: false
";
const INTEGRATION_FIELDS: &str = "    requestParameters:
      integration.request.header.x-trace: method.request.header.x-trace
    contentHandling: CONVERT_TO_TEXT
";

fn get_method(url: &str, api: &str) -> Value {
    let resources = cli(url, &["apigateway", "get-resources", "--rest-api-id", api]);
    let id = resources["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/status")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli(
        url,
        &[
            "apigateway",
            "get-method",
            "--rest-api-id",
            api,
            "--resource-id",
            &id,
            "--http-method",
            "GET",
        ],
    )
}

fn assert_method_as_declared(m: &Value) {
    assert_eq!(m["apiKeyRequired"], true, "{m}");
    assert_eq!(
        m["requestParameters"]["method.request.querystring.id"], true,
        "{m}"
    );
    assert_eq!(
        m["requestParameters"]["method.request.header.x-trace"], false,
        "{m}"
    );
    let i = &m["methodIntegration"];
    assert_eq!(
        i["requestParameters"]["integration.request.header.x-trace"], "method.request.header.x-trace",
        "{m}"
    );
    assert_eq!(i["contentHandling"], "CONVERT_TO_TEXT", "{m}");
}

/// `apiKeyRequired`, the method's and the integration's `requestParameters`, `contentHandling`
/// on the sandbox: set, read back, changed with the CLI (UpdateMethod, UpdateIntegration), found
/// at their paths, reverted without a deployment (the stage serves what the manifests say), in sync.
#[tokio::test(flavor = "multi_thread")]
async fn method_fields_round_trip_on_the_sandbox() {
    let s = Sandbox::start().await;
    let url = s.url();
    let dir = ManifestDir::new();
    method_manifests(&dir, METHOD_FIELDS, INTEGRATION_FIELDS);
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let api = entry(&report(&out), "RestApi")["id"].as_str().unwrap().to_owned();
    let m = get_method(&url, &api);
    assert_method_as_declared(&m);
    let writes = Writes::Sandbox(&s);
    writes.reset().await;
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(entry(&report(&out), "ApiIntegration")["action"], "noop");
    assert_eq!(writes.written().await, Vec::<String>::new());

    let resource = get_method_resource(&url, &api);
    cli(
        &url,
        &[
            "apigateway",
            "update-method",
            "--rest-api-id",
            &api,
            "--resource-id",
            &resource,
            "--http-method",
            "GET",
            "--patch-operations",
            "op=replace,path=/apiKeyRequired,value=false",
            "op=add,path=/requestParameters/method.request.querystring.id,value=false",
            "op=add,path=/requestParameters/method.request.querystring.extra,value=true",
        ],
    );
    cli(
        &url,
        &[
            "apigateway",
            "update-integration",
            "--rest-api-id",
            &api,
            "--resource-id",
            &resource,
            "--http-method",
            "GET",
            "--patch-operations",
            "op=replace,path=/contentHandling,value=CONVERT_TO_BINARY",
            "op=replace,path=/requestParameters/integration.request.header.x-trace,value='fixed'",
        ],
    );
    let out = run(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    let r = report(&out);
    let mut p = paths(entry(&r, "ApiIntegration"));
    p.sort();
    assert_eq!(
        p,
        [
            "apiKeyRequired",
            "integration.contentHandling",
            "integration.requestParameters[\"integration.request.header.x-trace\"]",
            "requestParameters[\"method.request.querystring.extra\"]",
            "requestParameters[\"method.request.querystring.id\"]",
        ],
        "{r}"
    );
    writes.reset().await;
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_method_as_declared(&get_method(&url, &api));
    let m = get_method(&url, &api);
    assert!(
        m["requestParameters"]
            .get("method.request.querystring.extra")
            .is_none(),
        "{m}"
    );
    let written = writes.written().await;
    assert!(!written.iter().any(|w| w == "CreateDeployment"), "{written:?}");
    assert!(written.iter().any(|w| w == "UpdateMethod"), "{written:?}");
    writes.reset().await;
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(entry(&report(&out), "ApiIntegration")["action"], "noop");
    assert_eq!(writes.written().await, Vec::<String>::new());

    // Unset again: whatever is live stays, and nothing is written.
    method_manifests(&dir, "", "");
    writes.reset().await;
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        entry(&report(&out), "ApiIntegration")["action"],
        "noop",
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(writes.written().await, Vec::<String>::new());
    assert_method_as_declared(&get_method(&url, &api));
    s.shutdown().await;
}

fn get_method_resource(url: &str, api: &str) -> String {
    let resources = cli(url, &["apigateway", "get-resources", "--rest-api-id", api]);
    resources["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/status")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The method fields and a `requestValidator` against moto: set by the operator, read back by the
/// CLI, the next pass writing nothing. moto 5.x has no UpdateMethod or UpdateIntegration, so
/// out-of-band changes and their revert are checked on the sandbox only.
#[tokio::test(flavor = "multi_thread")]
async fn method_fields_and_validator_are_set_on_moto() {
    let moto = start_moto().await;
    let proxy = FaultProxy::start(&moto.url).await;
    let dir = ManifestDir::new();
    method_manifests(
        &dir,
        &format!("{METHOD_FIELDS}  requestValidator: BODY\n"),
        INTEGRATION_FIELDS,
    );
    let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let api = entry(&report(&out), "RestApi")["id"].as_str().unwrap().to_owned();
    let m = get_method(&moto.url, &api);
    assert_method_as_declared(&m);
    let validator = cli(
        &moto.url,
        &[
            "apigateway",
            "get-request-validator",
            "--rest-api-id",
            &api,
            "--request-validator-id",
            m["requestValidatorId"].as_str().unwrap(),
        ],
    );
    assert_eq!(validator["validateRequestBody"], true, "{validator}");
    assert_eq!(validator["validateRequestParameters"], false, "{validator}");
    assert_eq!(validator["name"], "Validate body", "{validator}");
    proxy.reset();
    let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    for e in report(&out)["resources"].as_array().unwrap() {
        assert_eq!(e["action"], "noop", "{e}");
    }
    assert_eq!(proxy.writes(), Vec::new());
}

/// An API built with the CLI as the console builds it (every new field at AWS's default, a stage
/// from a plain deployment), adopted by manifests that set none of the new fields: nothing but
/// the ownership tags is written. On the sandbox (moto cannot tag a REST API).
#[tokio::test(flavor = "multi_thread")]
async fn an_api_with_aws_defaults_is_adopted_writing_only_tags() {
    let s = Sandbox::start().await;
    let url = s.url();
    let api = cli(&url, &["apigateway", "create-rest-api", "--name", "staged-api"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = cli(&url, &["apigateway", "get-resources", "--rest-api-id", &api])["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = cli(
        &url,
        &[
            "apigateway",
            "create-resource",
            "--rest-api-id",
            &api,
            "--parent-id",
            &root,
            "--path-part",
            "status",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let on_method = |verb: &[&str]| {
        let mut args = verb.to_vec();
        args.extend([
            "--rest-api-id",
            &api,
            "--resource-id",
            &res,
            "--http-method",
            "GET",
        ]);
        cli(&url, &args);
    };
    on_method(&["apigateway", "put-method", "--authorization-type", "NONE"]);
    on_method(&[
        "apigateway",
        "put-integration",
        "--type",
        "AWS",
        "--integration-http-method",
        "POST",
        "--uri",
        "arn:aws:apigateway:us-east-1:states:action/DescribeExecution",
        "--credentials",
        "arn:aws:iam::123456789012:role/IntegrationIamRole",
    ]);
    on_method(&["apigateway", "put-method-response", "--status-code", "200"]);
    on_method(&["apigateway", "put-integration-response", "--status-code", "200"]);
    cli(
        &url,
        &[
            "apigateway",
            "create-deployment",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
        ],
    );

    let dir = ManifestDir::new();
    method_manifests(&dir, "", "");
    s.reset().await;
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let r = report(&out);
    for e in r["resources"].as_array().unwrap() {
        assert_eq!(e["action"], "noop", "{r}");
        assert!(e["changes"].as_array().unwrap().is_empty(), "{r}");
    }
    let req = s.requests().await;
    assert_eq!(req.writes(), req.count("TagResource"), "{req:?}");
    assert!(req.count("TagResource") >= 1, "{req:?}");
    s.shutdown().await;
}
