//! The sandbox's execution operations over the real SDK: AWS's shapes and errors, STANDARD vs
//! EXPRESS, StopExecution, history, and executions across a restart with `--state`.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, StateMachineType};
use serde_json::Value;
use sfn_operator::sandbox::{self, SandboxConfig, SandboxHandle};

#[path = "common/host_prefix.rs"]
mod host_prefix;

const ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsIamRole";

fn client(sandbox: &SandboxHandle) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::Config::builder()
            .endpoint_url(sandbox.endpoint_url())
            .region(aws_sdk_sfn::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sfn::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .interceptor(host_prefix::NoHostPrefix)
            .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
            .behavior_version_latest()
            .build(),
    )
}

async fn machine(sfn: &aws_sdk_sfn::Client, name: &str, kind: StateMachineType, definition: &str) -> String {
    sfn.create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .r#type(kind)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_string()
}

fn code<E: aws_sdk_sfn::error::ProvideErrorMetadata>(e: &aws_sdk_sfn::error::SdkError<E>) -> String {
    e.as_service_error()
        .and_then(|s| s.code())
        .unwrap_or("?")
        .to_string()
}

async fn wait_until_done(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("DescribeExecution");
        if *d.status() != ExecutionStatus::Running {
            return d;
        }
        assert!(Instant::now() < deadline, "{arn} still running");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const PASS: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"doubled.$":"States.MathAdd($.n, $.n)"},"End":true}}}"#;
const WAIT: &str = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_executions_describe_list_history_and_errors() {
    let sandbox = sandbox::start(SandboxConfig::default()).await.unwrap();
    let sfn = client(&sandbox);
    let arn = machine(&sfn, "doubler", StateMachineType::Standard, PASS).await;

    let started = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .name("first")
        .input(r#"{"n": 21}"#)
        .send()
        .await
        .expect("StartExecution");
    assert_eq!(
        started.execution_arn(),
        "arn:aws:states:us-east-1:123456789012:execution:doubler:first"
    );
    let d = wait_until_done(&sfn, started.execution_arn()).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded);
    assert_eq!(d.output(), Some(r#"{"doubled":42}"#));
    assert_eq!(d.input(), Some(r#"{"n": 21}"#));
    assert_eq!(d.state_machine_arn(), arn);
    assert!(d.stop_date().is_some());

    // The same name again: ExecutionAlreadyExists. Bad input: InvalidExecutionInput.
    let again = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .name("first")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&again), "ExecutionAlreadyExists");
    let bad = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .input("{nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "InvalidExecutionInput");
    let missing = sfn
        .describe_execution()
        .execution_arn("arn:aws:states:us-east-1:123456789012:execution:doubler:nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "ExecutionDoesNotExist");
    let sync = sfn
        .start_sync_execution()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&sync), "StateMachineTypeNotSupported");

    // History: AWS's event types in order, ids chained.
    let h = sfn
        .get_execution_history()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .expect("history");
    let kinds: Vec<HistoryEventType> = h.events().iter().map(|e| e.r#type().clone()).collect();
    assert_eq!(
        kinds,
        [
            HistoryEventType::ExecutionStarted,
            HistoryEventType::PassStateEntered,
            HistoryEventType::PassStateExited,
            HistoryEventType::ExecutionSucceeded
        ]
    );
    assert!(
        h.events()
            .iter()
            .enumerate()
            .all(|(i, e)| e.id() == i as i64 + 1 && e.previous_event_id() == i as i64)
    );
    let exited = h.events()[2].state_exited_event_details().expect("details");
    assert_eq!((exited.name(), exited.output()), ("A", Some(r#"{"doubled":42}"#)));

    // A second, stopped execution; ListExecutions newest first, with a status filter.
    let waiting = machine(&sfn, "waiter", StateMachineType::Standard, WAIT).await;
    let w = sfn
        .start_execution()
        .state_machine_arn(&waiting)
        .name("w1")
        .send()
        .await
        .unwrap();
    let running = sfn
        .list_executions()
        .state_machine_arn(&waiting)
        .status_filter(ExecutionStatus::Running)
        .send()
        .await
        .unwrap();
    assert_eq!(running.executions().len(), 1);
    sfn.stop_execution()
        .execution_arn(w.execution_arn())
        .error("Cancelled")
        .cause("by the test")
        .send()
        .await
        .unwrap();
    let d = wait_until_done(&sfn, w.execution_arn()).await;
    assert_eq!(
        (d.status(), d.error(), d.cause()),
        (&ExecutionStatus::Aborted, Some("Cancelled"), Some("by the test"))
    );
    let desc = sfn
        .describe_state_machine_for_execution()
        .execution_arn(w.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!((desc.name(), desc.definition()), ("waiter", WAIT));
    let all = sfn
        .list_executions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        all.executions().len(),
        1,
        "the refused starts left nothing behind"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_executions_are_refused_by_describe_and_listed_by_the_sandbox() {
    let sandbox = sandbox::start(SandboxConfig::default()).await.unwrap();
    let sfn = client(&sandbox);
    let arn = machine(&sfn, "quick", StateMachineType::Express, PASS).await;
    let out = sfn
        .start_sync_execution()
        .state_machine_arn(&arn)
        .input(r#"{"n": 1}"#)
        .send()
        .await
        .expect("sync");
    assert_eq!(
        (out.status().as_str(), out.output()),
        ("SUCCEEDED", Some(r#"{"doubled":2}"#))
    );
    assert!(
        out.execution_arn()
            .starts_with("arn:aws:states:us-east-1:123456789012:express:quick:")
    );
    for e in [
        code(
            &sfn.describe_execution()
                .execution_arn(out.execution_arn())
                .send()
                .await
                .unwrap_err(),
        ),
        code(
            &sfn.get_execution_history()
                .execution_arn(out.execution_arn())
                .send()
                .await
                .unwrap_err(),
        ),
    ] {
        assert_eq!(e, "InvalidArn");
    }
    assert_eq!(
        code(
            &sfn.list_executions()
                .state_machine_arn(&arn)
                .send()
                .await
                .unwrap_err()
        ),
        "StateMachineTypeNotSupported"
    );
    let failing = machine(
        &sfn,
        "failing",
        StateMachineType::Express,
        r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Oops","Cause":"on purpose"}}}"#,
    )
    .await;
    let out = sfn
        .start_sync_execution()
        .state_machine_arn(&failing)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (out.status().as_str(), out.error(), out.cause()),
        ("FAILED", Some("Oops"), Some("on purpose"))
    );

    let listed: Value = reqwest::get(format!("{}/_sandbox/executions", sandbox.endpoint_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["running"], 0);
    let listed = listed["executions"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["type"], "EXPRESS");
    assert_eq!(listed[0]["output"], serde_json::json!({"doubled": 2}));
    assert_eq!(listed[1]["error"], "Oops");
    assert_eq!(
        listed[1]["history"].as_array().unwrap().last().unwrap()["type"],
        "ExecutionFailed"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_executions_survive_a_restart_and_running_ones_end_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let config = || SandboxConfig {
        state_file: Some(state.clone()),
        ..SandboxConfig::default()
    };
    let sandbox = sandbox::start(config()).await.unwrap();
    let sfn = client(&sandbox);
    let done = machine(&sfn, "doubler", StateMachineType::Standard, PASS).await;
    let waiting = machine(&sfn, "waiter", StateMachineType::Standard, WAIT).await;
    let a = sfn
        .start_execution()
        .state_machine_arn(&done)
        .input(r#"{"n": 2}"#)
        .send()
        .await
        .unwrap();
    wait_until_done(&sfn, a.execution_arn()).await;
    let b = sfn
        .start_execution()
        .state_machine_arn(&waiting)
        .send()
        .await
        .unwrap();
    sandbox.shutdown().await;

    let sandbox = sandbox::start(config()).await.unwrap();
    let sfn = client(&sandbox);
    let d = sfn
        .describe_execution()
        .execution_arn(a.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(
        (d.status(), d.output()),
        (&ExecutionStatus::Succeeded, Some(r#"{"doubled":4}"#))
    );
    let h = sfn
        .get_execution_history()
        .execution_arn(a.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(h.events().len(), 4);
    let d = sfn
        .describe_execution()
        .execution_arn(b.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), &ExecutionStatus::Aborted);
    assert!(
        d.cause().is_some_and(|c| c.contains("does not resume")),
        "{:?}",
        d.cause()
    );
    sandbox.shutdown().await;

    // After a crash the file still says RUNNING: the next start ends it ABORTED.
    let mut saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    saved["sfn"]["executions"][b.execution_arn()]["status"] = "RUNNING".into();
    std::fs::write(&state, saved.to_string()).unwrap();
    let sandbox = sandbox::start(config()).await.unwrap();
    let sfn = client(&sandbox);
    let d = sfn
        .describe_execution()
        .execution_arn(b.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), &ExecutionStatus::Aborted);
    let h = sfn
        .get_execution_history()
        .execution_arn(b.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.events().last().map(|e| e.r#type().clone()),
        Some(HistoryEventType::ExecutionAborted)
    );
    sandbox.shutdown().await;
}
