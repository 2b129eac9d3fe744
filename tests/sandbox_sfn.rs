//! The sandbox's Step Functions, STS and control endpoints, driven by the real AWS SDKs over HTTP.

use std::time::Duration;

use aws_sdk_sfn::config::{Credentials, Region};
use aws_sdk_sfn::types::{Tag, TracingConfiguration};
use sfn_operator::sandbox::{self, FaultConfig, SandboxConfig, SandboxHandle};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DEF: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;
const ROLE: &str = "arn:aws:iam::123456789012:role/sandbox";

fn client(sandbox: &SandboxHandle) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .endpoint_url(sandbox.endpoint_url())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
        .behavior_version_latest()
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

async fn counts(sandbox: &SandboxHandle) -> Result<serde_json::Value, reqwest::Error> {
    reqwest::get(format!("{}/_sandbox/requests", sandbox.endpoint_url()))
        .await?
        .json()
        .await
}

async fn create(sfn: &aws_sdk_sfn::Client, name: &str) -> Result<String, Box<dyn std::error::Error>> {
    let out = sfn
        .create_state_machine()
        .name(name)
        .definition(DEF)
        .role_arn(ROLE)
        .send()
        .await?;
    Ok(out.state_machine_arn().to_string())
}

#[tokio::test]
async fn state_machine_lifecycle_with_the_sdk() -> TestResult {
    let sandbox = sandbox::start(SandboxConfig::default()).await?;
    let sfn = client(&sandbox);

    let created = sfn
        .create_state_machine()
        .name("orders")
        .definition(DEF)
        .role_arn(ROLE)
        .tags(Tag::builder().key("team").value("a").build())
        .send()
        .await?;
    let arn = created.state_machine_arn().to_string();
    assert_eq!(arn, "arn:aws:states:eu-west-1:123456789012:stateMachine:orders");

    // Identical create: same ARN and creation date. Different config: StateMachineAlreadyExists.
    let again = sfn
        .create_state_machine()
        .name("orders")
        .definition(DEF)
        .role_arn(ROLE)
        .send()
        .await?;
    assert_eq!(again.state_machine_arn(), arn);
    assert_eq!(again.creation_date(), created.creation_date());
    let conflict = sfn
        .create_state_machine()
        .name("orders")
        .definition(DEF)
        .role_arn("arn:aws:iam::123456789012:role/other")
        .send()
        .await
        .err()
        .ok_or("conflicting create succeeded")?;
    assert!(conflict.into_service_error().is_state_machine_already_exists());

    let described = sfn
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await?;
    assert_eq!(described.name(), "orders");
    assert_eq!(described.definition(), DEF);
    assert_eq!(described.role_arn(), ROLE);
    assert_eq!(described.r#type().as_str(), "STANDARD");
    assert_eq!(described.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(
        described
            .logging_configuration()
            .and_then(|l| l.level())
            .map(|l| l.as_str()),
        Some("OFF")
    );
    assert_eq!(
        described.tracing_configuration().map(|t| t.enabled()),
        Some(false)
    );
    assert_eq!(
        described.revision_id(),
        None,
        "a new machine's initial revision shows no revisionId, as on AWS"
    );

    let new_def = r#"{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}"#;
    let updated = sfn
        .update_state_machine()
        .state_machine_arn(&arn)
        .definition(new_def)
        .tracing_configuration(TracingConfiguration::builder().enabled(true).build())
        .send()
        .await?;
    let revision = updated.revision_id().ok_or("no revisionId after a change")?;
    let described = sfn
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await?;
    assert_eq!(described.definition(), new_def);
    assert_eq!(described.tracing_configuration().map(|t| t.enabled()), Some(true));
    assert_eq!(described.revision_id(), Some(revision));

    let empty_update = sfn
        .update_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .err()
        .ok_or("empty update")?;
    assert!(empty_update.into_service_error().is_missing_required_parameter());

    // Tags.
    sfn.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("env").value("dev").build())
        .send()
        .await?;
    let tags = sfn.list_tags_for_resource().resource_arn(&arn).send().await?;
    let pairs: Vec<(&str, &str)> = tags
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or("")))
        .collect();
    assert_eq!(pairs, [("team", "a"), ("env", "dev")]);
    sfn.untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await?;
    let tags = sfn.list_tags_for_resource().resource_arn(&arn).send().await?;
    assert_eq!(tags.tags().len(), 1);
    let missing = format!("{arn}-missing");
    let err = sfn
        .list_tags_for_resource()
        .resource_arn(&missing)
        .send()
        .await
        .err()
        .ok_or("tags of missing")?;
    assert!(err.into_service_error().is_resource_not_found());

    sfn.delete_state_machine().state_machine_arn(&arn).send().await?;
    let err = sfn
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .err()
        .ok_or("describe deleted")?;
    assert!(err.into_service_error().is_state_machine_does_not_exist());
    let err = sfn
        .update_state_machine()
        .state_machine_arn(&arn)
        .definition(DEF)
        .send()
        .await
        .err()
        .ok_or("update")?;
    assert!(err.into_service_error().is_state_machine_does_not_exist());
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn input_errors_are_typed() -> TestResult {
    let sandbox = sandbox::start(SandboxConfig::default()).await?;
    let sfn = client(&sandbox);
    let err = sfn
        .create_state_machine()
        .name("bad name!")
        .definition(DEF)
        .role_arn(ROLE)
        .send()
        .await;
    assert!(
        err.err()
            .ok_or("bad name accepted")?
            .into_service_error()
            .is_invalid_name()
    );
    let err = sfn
        .create_state_machine()
        .name("x")
        .definition(DEF)
        .role_arn("not-an-arn")
        .send()
        .await;
    assert!(
        err.err()
            .ok_or("bad role accepted")?
            .into_service_error()
            .is_invalid_arn()
    );
    let err = sfn
        .create_state_machine()
        .name("x")
        .definition("{not json")
        .role_arn(ROLE)
        .send()
        .await;
    assert!(
        err.err()
            .ok_or("bad definition accepted")?
            .into_service_error()
            .is_invalid_definition()
    );
    let err = sfn
        .describe_state_machine()
        .state_machine_arn("arn:nope")
        .send()
        .await;
    assert!(
        err.err()
            .ok_or("bad arn accepted")?
            .into_service_error()
            .is_invalid_arn()
    );
    let err = sfn.list_state_machines().next_token("garbage").send().await;
    assert!(
        err.err()
            .ok_or("bad token accepted")?
            .into_service_error()
            .is_invalid_token()
    );

    let ok = sfn
        .validate_state_machine_definition()
        .definition(DEF)
        .send()
        .await?;
    assert_eq!(ok.result().as_str(), "OK");
    let fail = sfn
        .validate_state_machine_definition()
        .definition("{")
        .send()
        .await?;
    assert_eq!(fail.result().as_str(), "FAIL");
    assert_eq!(
        fail.diagnostics().first().map(|d| d.code()),
        Some("SCHEMA_VALIDATION_FAILED")
    );
    // AWS's codes, severities and locations; a warning alone leaves the result OK; EXPRESS rules
    // follow the `type` parameter.
    let warned = sfn
        .validate_state_machine_definition()
        .definition(
            r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"p": "$.x"}, "End": true}}}"#,
        )
        .send()
        .await?;
    assert_eq!(warned.result().as_str(), "OK");
    let d = warned.diagnostics().first().ok_or("no warning")?;
    assert_eq!(
        (d.severity().as_str(), d.code(), d.location()),
        ("WARNING", "NO_DOLLAR", Some("/States/A/Parameters/p"))
    );
    let express = r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": true}}}"#;
    let refused = sfn
        .validate_state_machine_definition()
        .definition(express)
        .r#type(aws_sdk_sfn::types::StateMachineType::Express)
        .send()
        .await?;
    assert_eq!(refused.result().as_str(), "FAIL");
    let d = refused.diagnostics().first().ok_or("no error")?;
    assert_eq!(
        (d.severity().as_str(), d.code(), d.location()),
        ("ERROR", "SCHEMA_VALIDATION_FAILED", Some("/States/A/Resource"))
    );
    let standard = sfn
        .validate_state_machine_definition()
        .definition(express)
        .send()
        .await?;
    assert_eq!(standard.result().as_str(), "OK");
    let err = sfn
        .create_state_machine()
        .name("express-callback")
        .definition(express)
        .role_arn(ROLE)
        .r#type(aws_sdk_sfn::types::StateMachineType::Express)
        .send()
        .await
        .err()
        .ok_or("EXPRESS with a callback accepted")?
        .into_service_error();
    assert!(err.is_invalid_definition(), "{err:?}");
    assert_eq!(
        err.meta().message(),
        Some(
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machines (and a distributed Map's EXPRESS child executions) do not support the .waitForTaskToken (Wait for Callback) integration pattern at /States/A/Resource'"
        )
    );

    // Unknown operations and oversized bodies answer in AWS's shapes.
    let http = reqwest::Client::new();
    let response = http
        .post(sandbox.endpoint_url())
        .header("x-amz-target", "AWSStepFunctions.StartFlying")
        .header("content-type", "application/x-amz-json-1.0")
        .body("{}")
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await?;
    assert_eq!(body["__type"], "UnknownOperationException");
    let big = format!(
        r#"{{"name":"big","roleArn":"{ROLE}","definition":"{}"}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    let err = sfn
        .create_state_machine()
        .name("big")
        .definition(&big)
        .role_arn(ROLE)
        .send()
        .await;
    let err = err.err().ok_or("huge body accepted")?;
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(413));
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn pagination_and_request_counts() -> TestResult {
    let sandbox = sandbox::start(SandboxConfig::default()).await?;
    let sfn = client(&sandbox);
    for i in 0..7 {
        create(&sfn, &format!("m{i}")).await?;
    }
    let http = reqwest::Client::new();
    http.post(format!("{}/_sandbox/requests/reset", sandbox.endpoint_url()))
        .send()
        .await?;

    let mut names = Vec::new();
    let mut pages = sfn.list_state_machines().max_results(3).into_paginator().send();
    while let Some(page) = pages.next().await {
        names.extend(page?.state_machines().iter().map(|m| m.name().to_string()));
    }
    assert_eq!(names, ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);
    let counts = counts(&sandbox).await?;
    assert_eq!(counts["sfn"]["ListStateMachines"], 3);
    assert_eq!(counts["writes"], 0, "{counts}");
    assert_eq!(counts["reads"], 3);

    create(&sfn, "m7").await?;
    let counts = self::counts(&sandbox).await?;
    assert_eq!(counts["writes"], 1);
    assert_eq!(counts["total"], 4);
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn faults_throttle_selected_operations() -> TestResult {
    let faults = FaultConfig {
        throttle: 1.0,
        operations: vec!["CreateStateMachine".into()],
        ..FaultConfig::default()
    };
    let sandbox = sandbox::start(SandboxConfig {
        faults: Some(faults),
        ..SandboxConfig::default()
    })
    .await?;
    let sfn = client(&sandbox);
    let err = create(&sfn, "t")
        .await
        .err()
        .ok_or("throttled create succeeded")?;
    assert!(
        err.to_string().contains("ThrottlingException") || format!("{err:?}").contains("ThrottlingException")
    );
    sfn.list_state_machines().send().await?;

    // Clear, then inject 500s over HTTP.
    let http = reqwest::Client::new();
    let url = format!("{}/_sandbox/faults", sandbox.endpoint_url());
    http.post(&url).body("{}").send().await?;
    create(&sfn, "t").await?;
    http.post(&url).body(r#"{"error":1.0,"seed":3}"#).send().await?;
    let err = sfn
        .list_state_machines()
        .send()
        .await
        .err()
        .ok_or("error fault ignored")?;
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    let current: serde_json::Value = http.get(&url).send().await?.json().await?;
    assert_eq!(current["error"], 1.0);
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn sts_caller_identity_reports_the_account() -> TestResult {
    let config = SandboxConfig {
        account_id: "210987654321".into(),
        ..SandboxConfig::default()
    };
    let sandbox = sandbox::start(config).await?;
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .endpoint_url(sandbox.endpoint_url())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .behavior_version_latest()
            .build(),
    );
    let identity = sts.get_caller_identity().send().await?;
    assert_eq!(identity.account(), Some("210987654321"));
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn non_loopback_listen_is_refused() {
    let config = SandboxConfig {
        listen: "0.0.0.0:0".parse().unwrap_or_else(|_| unreachable!()),
        ..SandboxConfig::default()
    };
    let err = sandbox::start(config).await.err();
    assert!(
        matches!(err, Some(sandbox::Error::RemoteNotAllowed(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn state_survives_restart_and_corrupt_file_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sandbox.json");
    let config = SandboxConfig {
        state_file: Some(path.clone()),
        ..SandboxConfig::default()
    };
    let first = sandbox::start(config.clone()).await?;
    let arn = create(&client(&first), "kept").await?;
    first.shutdown().await;

    let second = sandbox::start(config.clone()).await?;
    let described = client(&second)
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await?;
    assert_eq!(described.definition(), DEF);
    second.shutdown().await;

    std::fs::write(&path, b"{\"sfn\": [")?;
    let err = sandbox::start(config)
        .await
        .err()
        .ok_or("corrupt state accepted")?;
    assert!(err.to_string().contains("sandbox.json"), "{err}");
    assert_eq!(
        std::fs::read(&path)?,
        b"{\"sfn\": [",
        "corrupt file must be left untouched"
    );
    Ok(())
}

#[test]
fn killed_mid_writes_leaves_a_parsable_state_with_every_acknowledged_write() -> TestResult {
    use std::io::BufRead;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.json");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
            .args(["sandbox", "--listen", "127.0.0.1:0", "--state"])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
    };
    let mut child = spawn()?;
    let mut url = String::new();
    std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut url)?;
    let url = url.trim().to_string();
    let runtime = tokio::runtime::Runtime::new()?;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    runtime.block_on(async {
        let config = aws_sdk_sfn::Config::builder()
            .endpoint_url(&url)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
            .behavior_version_latest()
            .build();
        let sfn = aws_sdk_sfn::Client::from_conf(config);
        // Writers keep creating until the process dies under them.
        for w in 0..4 {
            let (sfn, acknowledged) = (sfn.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("k{w}-{i}");
                    if create(&sfn, &name).await.is_err() {
                        break;
                    }
                    if let Ok(mut names) = acknowledged.lock() {
                        names.push(name);
                    }
                }
            });
        }
        // Wait for the condition the assertions need — 20 acknowledged writes, the writers still
        // going — however slow a loaded machine is (a count of polls was not enough under load),
        // then SIGKILL mid-stream. The bound only turns a real hang into a failure.
        let started = std::time::Instant::now();
        loop {
            let acked = acknowledged.lock().map(|a| a.len()).unwrap_or(0);
            if acked >= 20 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "only {acked} writes acknowledged in 5 minutes"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    child.kill()?;
    child.wait()?;
    drop(runtime);
    let text = std::fs::read(&path)?;
    let state: serde_json::Value = serde_json::from_slice(&text)?;
    let machines = state["sfn"]["machines"].as_object().ok_or("no machines")?;
    assert!(machines.len() >= 20, "only {} machines durable", machines.len());
    // Acknowledged ⇒ durable: every create that got its answer before the kill is in the file.
    let acknowledged = acknowledged.lock().map_err(|_| "poisoned")?.clone();
    assert!(acknowledged.len() >= 20, "{} acknowledged", acknowledged.len());
    let saved: Vec<String> = machines
        .values()
        .filter_map(|m| m["name"].as_str().map(str::to_owned))
        .collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|n| !saved.contains(n)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");

    // A restarted sandbox loads it.
    let mut child = spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    assert!(line.starts_with("http://127.0.0.1:"), "{line}");
    child.kill()?;
    child.wait()?;
    Ok(())
}
