//! What the console tests look at (`sandbox_console` over HTTP, `console_browser` in chromium):
//! a sandbox that ran the reference system (reconciled by the real binary, started through the
//! invoke URL, an EXPRESS run) and a STANDARD machine whose Task stand-in throws (created and
//! started with the AWS SDK).
#![allow(dead_code)]

use std::path::Path;

use serde_json::Value;
use sfn_operator::sandbox::{SandboxConfig, SandboxHandle, start};
use sfn_operator::standins::Functions;

/// The reference machine's ARN in the sandbox.
pub const REFERENCE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:ParallelProcessingMachine";

/// The reference stand-ins, and `Boom`, which throws.
pub fn functions() -> Functions {
    let reference = include_str!("../../manifests/functions.json").trim_end();
    let text = format!(
        "{}, \"Boom\": {{\"throw\": {{\"error\": \"Boom.Error\", \"cause\": \"it <broke> & stopped\"}}}}}}",
        reference.strip_suffix('}').expect("a JSON object").trim_end()
    );
    Functions::parse(&text).expect("stand-ins")
}

/// The console's path to the `kind` page (`machine`, `execution`) of `arn`.
pub fn link_to(kind: &str, arn: &str) -> String {
    let q: String = arn
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("/_sandbox/ui/{kind}?arn={q}")
}

/// A sandbox after the runs the console tests look at.
pub struct Ran {
    pub sandbox: SandboxHandle,
    pub url: String,
    /// The reference REST API's id.
    pub api: String,
    /// The reference system's EXPRESS run (input `{"values": [3, 1, 2]}`), succeeded.
    pub express_arn: String,
    /// The machine whose Task throws, and its failed run.
    pub boom: String,
    pub failed_arn: String,
}

/// Starts a sandbox, reconciles the reference system into it with the real binary, runs it once
/// through the invoke URL, and runs a STANDARD machine whose Task throws once.
pub async fn reference_and_boom() -> Ran {
    let sandbox = start(SandboxConfig {
        functions: functions(),
        ..SandboxConfig::default()
    })
    .await
    .expect("start sandbox");
    let url = sandbox.endpoint_url();
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    let u = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::common::run_binary(&manifests, &u, &["reconcile", "--once"])
    })
    .await
    .expect("join");
    assert!(out.status.success(), "reconcile failed: {out:?}");

    // The reference system, through the invoke URL (an EXPRESS execution).
    let conf = crate::common::sdk_conf(&url).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let api = apigw.get_rest_apis().send().await.expect("GetRestApis").items()[0]
        .id()
        .expect("id")
        .to_owned();
    let answer: Value = reqwest::Client::new()
        .post(format!("{url}/restapis/{api}/prod/_user_request_/execution"))
        .header("content-type", "application/json")
        .body(r#"{"values": [3, 1, 2]}"#)
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let express_arn = answer["executionArn"].as_str().expect("executionArn").to_owned();
    assert_eq!(
        crate::common::finished(&url, &express_arn).await["status"],
        "SUCCEEDED"
    );

    // A STANDARD machine whose Task throws.
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let definition = r#"{"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Next": "Explode"},
        "Explode": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "Boom", "Payload.$": "$"}, "End": true}}}"#;
    let boom = sfn
        .create_state_machine()
        .name("console-boom")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/r")
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_owned();
    let failed_arn = sfn
        .start_execution()
        .state_machine_arn(&boom)
        .name("goes-boom")
        .input("{}")
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_owned();
    let failed = crate::common::finished(&url, &failed_arn).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    Ran {
        sandbox,
        url,
        api,
        express_arn,
        boom,
        failed_arn,
    }
}
