//! `aws stepfunctions test-state --endpoint-url` (the AWS CLI from PyPI, an independent client)
//! against the sandbox: a mocked Task and an unmocked one (a Lambda stand-in) found by
//! `--state-name` inside the reference machine's Parallel state, a Choice, a Map with
//! `mapIterationFailureCount`, a Retry with `retrierRetryCount`, a Catch, each status, each
//! inspection level, and AWS's refusals.

mod common;

use std::process::Command;

use serde_json::{Value, json};
use sfn_operator::sandbox::{SandboxConfig, SandboxHandle};

/// What the CLI printed: the answer, or the error code and message from stderr.
fn test_state(url: &str, args: &[&str]) -> Result<Value, (String, String)> {
    let output = Command::new(common::peers_bin("aws"))
        .args([
            "--endpoint-url",
            url,
            "--output",
            "json",
            "stepfunctions",
            "test-state",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        // TestState's endpoint has the `sync-` host prefix; the sandbox is on 127.0.0.1.
        .env("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run the AWS CLI");
    if output.status.success() {
        return Ok(serde_json::from_slice(&output.stdout).expect("the CLI prints JSON"));
    }
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let code = stderr
        .split("An error occurred (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or("?")
        .to_string();
    let message = stderr
        .split_once("operation: ")
        .map_or(stderr.clone(), |(_, m)| m.trim().to_string());
    Err((code, message))
}

/// The reference machine's definition, its function ARNs filled in.
fn reference_definition() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/manifests/parallel-processing.asl.yaml"
    );
    let text = std::fs::read_to_string(path).expect("read the reference definition");
    let mut text = text;
    for f in ["Sum", "MaxMin", "Avg"] {
        text = text.replace(
            &format!("${{{f}FunctionArn}}"),
            &format!("arn:aws:lambda:us-east-1:123456789012:function:{f}Function"),
        );
    }
    let value: Value = serde_saphyr::from_str(&text).expect("the definition is YAML");
    value.to_string()
}

async fn sandbox() -> SandboxHandle {
    let functions = concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/functions.json");
    let config = SandboxConfig {
        functions: sfn_operator::standins::Functions::load(std::path::Path::new(functions))
            .expect("load the reference stand-ins"),
        ..SandboxConfig::default()
    };
    sfn_operator::sandbox::start(config).await.expect("start sandbox")
}

fn json_field(answer: &Value, key: &str) -> Value {
    let text = answer[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {answer}"));
    serde_json::from_str(text).expect("a JSON string")
}

/// TestState's inspection levels.
const LEVELS: [&str; 3] = ["INFO", "DEBUG", "TRACE"];

const ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsIamRole";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_of_the_reference_machine_mocked_and_unmocked_at_each_level() {
    let sandbox = sandbox().await;
    let url = sandbox.endpoint_url();
    let definition = reference_definition();
    let mock = r#"{"result": "{\"Payload\": {\"sum\": 6}, \"StatusCode\": 200}"}"#;
    for level in LEVELS {
        let answer = test_state(
            &url,
            &[
                "--definition",
                &definition,
                "--state-name",
                "SumValues",
                "--input",
                r#"{"values": [3, 1, 2]}"#,
                "--inspection-level",
                level,
                "--mock",
                mock,
            ],
        )
        .expect("a mocked Task is tested without a role");
        assert_eq!(answer["status"], "SUCCEEDED", "{answer}");
        assert_eq!(json_field(&answer, "output"), json!({"sum": 6}));
        match level {
            "INFO" => assert!(answer.get("inspectionData").is_none(), "{answer}"),
            _ => {
                let data = &answer["inspectionData"];
                let after: Value = serde_json::from_str(data["afterParameters"].as_str().unwrap()).unwrap();
                assert_eq!(after["Payload"], json!({"values": [3, 1, 2]}), "{data}");
                assert_eq!(json_field(data, "result")["Payload"], json!({"sum": 6}));
                assert_eq!(json_field(data, "afterResultSelector"), json!({"sum": 6}));
            }
        }
    }
    // Unmocked: the role is required, then the Lambda stand-in answers.
    let args = [
        "--definition",
        &definition,
        "--state-name",
        "MaxMinValues",
        "--input",
        r#"{"values": [3, 1, 2]}"#,
    ];
    let refused = test_state(&url, &args).expect_err("no role, no mock");
    assert_eq!(
        refused,
        (
            "ValidationException".into(),
            "RoleArn must be specified when testing a Task state".into()
        )
    );
    let mut with_role = args.to_vec();
    with_role.extend(["--role-arn", ROLE]);
    let answer = test_state(&url, &with_role).expect("the stand-in runs");
    assert_eq!(
        json_field(&answer, "output"),
        json!({"max": 3, "min": 1}),
        "{answer}"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choice_map_retry_and_catch_give_each_status() {
    let sandbox = sandbox().await;
    let url = sandbox.endpoint_url();
    let choice = json!({"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}], "Default": "Small"});
    for level in LEVELS {
        let answer = test_state(
            &url,
            &[
                "--definition",
                &choice.to_string(),
                "--input",
                r#"{"n": 11}"#,
                "--inspection-level",
                level,
            ],
        )
        .expect("a Choice");
        assert_eq!(
            (answer["status"].as_str(), answer["nextState"].as_str()),
            (Some("SUCCEEDED"), Some("Big"))
        );
        match level {
            "INFO" => assert!(answer.get("inspectionData").is_none(), "{answer}"),
            _ => assert_eq!(
                json_field(&answer["inspectionData"], "afterInputPath"),
                json!({"n": 11})
            ),
        }
    }

    let map = json!({"Type": "Map", "ToleratedFailureCount": 1,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "TooMany"}],
        "End": true});
    let map_args = |failures: &'static str, level: &'static str| {
        vec![
            "--definition".to_string(),
            map.to_string(),
            "--input".into(),
            "[1, 2, 3]".into(),
            "--mock".into(),
            r#"{"result": "[1, 2, 3]"}"#.into(),
            "--state-configuration".into(),
            format!(r#"{{"mapIterationFailureCount": {failures}}}"#),
            "--inspection-level".into(),
            level.into(),
        ]
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        test_state(&url, &refs)
    };
    for level in LEVELS {
        let below = run(map_args("1", level)).expect("one failure is tolerated");
        assert_eq!(below["status"], "SUCCEEDED", "{below}");
        match level {
            "INFO" => assert!(below.get("inspectionData").is_none(), "{below}"),
            _ => assert_eq!(below["inspectionData"]["toleratedFailureCount"], 1),
        }
    }
    let over = run(map_args("2", "DEBUG")).expect("two failures are not");
    assert_eq!(over["status"], "CAUGHT_ERROR", "{over}");
    assert_eq!(over["nextState"], "TooMany");
    assert_eq!(over["error"], "States.ExceedToleratedFailureThreshold");
    assert_eq!(over["inspectionData"]["errorDetails"], json!({"catchIndex": 0}));
    let too_many = run(map_args("4", "INFO")).expect_err("more failures than iterations");
    assert_eq!(
        too_many,
        (
            "ValidationException".into(),
            "Map iteration failure count must be less than or equal to the number of Map iterations".into()
        )
    );

    let task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"FunctionName": "f"}, "QueryLanguage": "JSONata",
        "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 3}],
        "End": true});
    let error = r#"{"errorOutput": {"error": "Boom", "cause": "it broke"}}"#;
    for (count, status) in [("2", "RETRIABLE"), ("3", "FAILED")] {
        for level in LEVELS {
            let answer = test_state(
                &url,
                &[
                    "--definition",
                    &task.to_string(),
                    "--mock",
                    error,
                    "--inspection-level",
                    level,
                    "--state-configuration",
                    &format!(r#"{{"retrierRetryCount": {count}}}"#),
                ],
            )
            .expect("a retried Task");
            assert_eq!(answer["status"], status, "{answer}");
            assert_eq!(
                (answer["error"].as_str(), answer["cause"].as_str()),
                (Some("Boom"), Some("it broke"))
            );
            if level == "INFO" {
                assert!(answer.get("inspectionData").is_none(), "{answer}");
                continue;
            }
            let details = &answer["inspectionData"]["errorDetails"];
            match status {
                "RETRIABLE" => assert_eq!(
                    *details,
                    json!({"retryBackoffIntervalSeconds": 18, "retryIndex": 0})
                ),
                _ => assert_eq!(*details, json!({"retryIndex": 0})),
            }
        }
    }
    let pass = json!({"Type": "Pass", "End": true}).to_string();
    let refused = test_state(&url, &["--definition", &pass, "--mock", r#"{"result": "{}"}"#])
        .expect_err("a mocked Pass");
    assert_eq!(
        refused,
        (
            "ValidationException".into(),
            "State type 'Pass' is not supported when a mock is specified".into()
        )
    );
    sandbox.shutdown().await;
}
