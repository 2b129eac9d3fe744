//! The reference system runs locally (SPEC §7): the sandbox with Lambda stand-ins, the example
//! manifests reconciled into it by the real binary, then `POST .../execution` on the API's invoke
//! URL and `StartSyncExecution` over the real SDK; results read back through
//! `GET /_sandbox/executions` and the SDK.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sfn_operator::sandbox::{SandboxConfig, SandboxHandle, start};
use sfn_operator::standins::Functions;

mod common;
#[path = "common/host_prefix.rs"]
mod host_prefix;

fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests")
}

async fn sandbox_with(functions: Functions) -> SandboxHandle {
    start(SandboxConfig {
        functions,
        ..SandboxConfig::default()
    })
    .await
    .expect("start sandbox")
}

async fn reconcile(url: &str) {
    let url = url.to_owned();
    let out =
        tokio::task::spawn_blocking(move || common::run_binary(&manifests(), &url, &["reconcile", "--once"]))
            .await
            .expect("join");
    assert!(out.status.success(), "reconcile failed: {out:?}");
}

fn sfn(url: &str) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::Config::builder()
            .endpoint_url(url)
            .region(aws_sdk_sfn::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sfn::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .interceptor(host_prefix::NoHostPrefix)
            .behavior_version_latest()
            .build(),
    )
}

async fn rest_api_id(url: &str) -> String {
    let apigw = aws_sdk_apigateway::Client::new(&common::sdk_conf(url).await);
    let apis = apigw.get_rest_apis().send().await.expect("GetRestApis");
    apis.items()
        .iter()
        .find(|a| a.name() == Some("API Gateway State Machine integration"))
        .and_then(|a| a.id())
        .expect("the reference REST API")
        .to_string()
}

async fn machine_arn(sfn: &aws_sdk_sfn::Client) -> String {
    let list = sfn.list_state_machines().send().await.expect("ListStateMachines");
    list.state_machines()
        .iter()
        .find(|m| m.name() == "ParallelProcessingMachine")
        .expect("the reference machine")
        .state_machine_arn()
        .to_string()
}

/// POSTs to the invoke URL; returns the status and the JSON answer.
async fn invoke(url: &str, api: &str, body: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}/restapis/{api}/prod/_user_request_/execution"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST invoke URL");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON answer"))
}

const SEED_FUNCTIONS: &str = include_str!("../manifests/functions.json");
const EXPECTED: &str = r#"[{"sum":6},{"max":3,"min":1},{"avg":2}]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_system_through_the_invoke_url_and_start_sync_execution() {
    let sandbox = sandbox_with(Functions::parse(SEED_FUNCTIONS).expect("functions.json")).await;
    let url = sandbox.endpoint_url();
    reconcile(&url).await;
    let api = rest_api_id(&url).await;

    // The invoke URL starts the EXPRESS machine (StartExecution) and answers its ARN.
    let (status, answer) = invoke(&url, &api, r#"{"values": [3, 1, 2]}"#).await;
    assert_eq!(status, 200, "{answer}");
    let arn = answer["executionArn"].as_str().expect("executionArn").to_string();
    assert!(arn.contains(":express:ParallelProcessingMachine:"), "{arn}");
    let e = common::finished(&url, &arn).await;
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    assert_eq!(e["output"], serde_json::from_str::<Value>(EXPECTED).unwrap());
    assert_eq!(e["input"], json!({"values": [3, 1, 2]}));
    let kinds: Vec<&str> = e["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["type"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "TaskSucceeded").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(kinds.first(), Some(&"ExecutionStarted"));
    assert_eq!(kinds.last(), Some(&"ExecutionSucceeded"));

    // The same API through its execute-api host name.
    let r = reqwest::Client::new()
        .post(format!("{url}/prod/execution"))
        .header("host", format!("{api}.execute-api.localhost"))
        .header("content-type", "application/json")
        .body(r#"{"values": [3, 1, 2]}"#)
        .send()
        .await
        .expect("POST by host name");
    let by_host: Value = r.json().await.expect("JSON");
    let e = common::finished(&url, by_host["executionArn"].as_str().expect("executionArn")).await;
    assert_eq!(e["output"], serde_json::from_str::<Value>(EXPECTED).unwrap());

    // The same through the SDK's StartSyncExecution; DescribeExecution refuses EXPRESS as AWS does.
    let sfn = sfn(&url);
    let machine = machine_arn(&sfn).await;
    let out = sfn
        .start_sync_execution()
        .state_machine_arn(&machine)
        .input(r#"{"values": [3, 1, 2]}"#)
        .send()
        .await
        .expect("StartSyncExecution");
    assert_eq!(out.status().as_str(), "SUCCEEDED");
    assert_eq!(out.output(), Some(EXPECTED));
    let err = sfn
        .describe_execution()
        .execution_arn(out.execution_arn())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidArn"),
        "{err:?}"
    );

    // An apostrophe in the body: escapeJavaScript writes \' into the JSON the template builds, so
    // Step Functions refuses the request, and the only (default) integration response passes
    // its error through with status 200, as on AWS.
    let (status, answer) = invoke(&url, &api, r#"{"values": [3, 1, 2], "note": "it's"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(answer["__type"], "SerializationException", "{answer}");
    assert!(answer.get("executionArn").is_none());
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_service_exceptions_are_retried_and_a_function_error_fails_the_execution() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("calls");
    // SumFunction fails with Lambda.ServiceException on its first two calls, then answers.
    let script = format!(
        "n=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}; \
         if [ \"$n\" -lt 2 ]; then echo '{{\"errorType\":\"Lambda.ServiceException\",\"errorMessage\":\"Rate exceeded\"}}'; exit 1; fi; \
         echo '{{\"sum\": 6}}'",
        c = counter.display()
    );
    let flaky = format!(
        "SumFunction: {{command: [sh, -c, {script:?}]}}\n\
         MaxMinFunction: {{return: {{max: 3, min: 1}}}}\n\
         AvgFunction: {{return: {{avg: 2}}}}\n"
    );
    let sandbox = sandbox_with(Functions::parse(&flaky).expect("flaky functions")).await;
    let url = sandbox.endpoint_url();
    reconcile(&url).await;
    let sfn = sfn(&url);
    let machine = machine_arn(&sfn).await;
    let out = sfn
        .start_sync_execution()
        .state_machine_arn(&machine)
        .input(r#"{"values": [3, 1, 2]}"#)
        .send()
        .await
        .expect("StartSyncExecution");
    assert_eq!(
        out.status().as_str(),
        "SUCCEEDED",
        "{:?} {:?}",
        out.error(),
        out.cause()
    );
    assert_eq!(out.output(), Some(EXPECTED));
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().trim(),
        "3",
        "two failures, then success"
    );
    sandbox.shutdown().await;

    // A function that always fails with its own error: not in the Retry list, so the Parallel
    // state and the execution fail with Lambda's error name and the function's error payload.
    let broken = "SumFunction: {return: {sum: 6}}\n\
                  MaxMinFunction: {command: [sh, -c, \"echo '{\\\"errorType\\\":\\\"ValueError\\\",\\\"errorMessage\\\":\\\"no values\\\"}'; exit 1\"]}\n\
                  AvgFunction: {return: {avg: 2}}\n";
    let sandbox = sandbox_with(Functions::parse(broken).expect("broken functions")).await;
    let url = sandbox.endpoint_url();
    reconcile(&url).await;
    let api = rest_api_id(&url).await;
    let (status, answer) = invoke(&url, &api, r#"{"values": []}"#).await;
    assert_eq!(status, 200, "{answer}");
    let e = common::finished(&url, answer["executionArn"].as_str().unwrap()).await;
    assert_eq!(e["status"], "FAILED", "{e}");
    assert_eq!(e["error"], "ValueError");
    let cause: Value = serde_json::from_str(e["cause"].as_str().unwrap()).unwrap();
    assert_eq!(
        cause,
        json!({"errorType": "ValueError", "errorMessage": "no values"})
    );
    sandbox.shutdown().await;
}

/// `$context.requestId` in a mapping template is the id the invoke URL answers with in
/// `x-amzn-RequestId`, as in API Gateway: here the template names the execution after it, and
/// the execution the sandbox ran carries that name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_request_id_is_the_answers_request_id() {
    let sandbox = sandbox_with(Functions::parse(SEED_FUNCTIONS).expect("functions.json")).await;
    let url = sandbox.endpoint_url();
    reconcile(&url).await;
    let api = rest_api_id(&url).await;
    let machine = machine_arn(&sfn(&url)).await;
    let apigw = aws_sdk_apigateway::Client::new(&common::sdk_conf(&url).await);
    let resources = apigw
        .get_resources()
        .rest_api_id(&api)
        .send()
        .await
        .expect("GetResources");
    let resource = resources
        .items()
        .iter()
        .find(|r| r.path() == Some("/execution"))
        .and_then(|r| r.id())
        .expect("/execution")
        .to_string();
    let template = format!(
        r#"{{"input": "$util.escapeJavaScript($input.json('$'))", "name": "$context.requestId", "stateMachineArn": "{machine}"}}"#
    );
    apigw
        .update_integration()
        .rest_api_id(&api)
        .resource_id(&resource)
        .http_method("POST")
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/requestTemplates/application~1json")
                .value(template)
                .build(),
        )
        .send()
        .await
        .expect("UpdateIntegration");
    apigw
        .create_deployment()
        .rest_api_id(&api)
        .stage_name("prod")
        .send()
        .await
        .expect("CreateDeployment");

    let r = reqwest::Client::new()
        .post(format!("{url}/restapis/{api}/prod/_user_request_/execution"))
        .header("content-type", "application/json")
        .body(r#"{"values": [3, 1, 2]}"#)
        .send()
        .await
        .expect("POST invoke URL");
    let request_id = r
        .headers()
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .expect("x-amzn-RequestId")
        .to_string();
    let answer: Value = r.json().await.expect("JSON answer");
    let arn = answer["executionArn"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"));
    let e = common::finished(&url, arn).await;
    assert_eq!(e["name"], request_id.as_str(), "{e}");
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    sandbox.shutdown().await;
}
