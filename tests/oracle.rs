//! The interpreter against 467 executions recorded on real AWS (tests/oracle/README.md):
//! status, output, error and cause must match in at least 95 % of the cases, and every case that
//! does not is listed with its reason in tests/oracle/MISMATCHES.md.

#[path = "oracle/compare.rs"]
mod compare;
#[path = "common/host_prefix.rs"]
mod host_prefix;

use compare::{Case, Got};
use serde_json::Value;
use sfn_operator::exec::{self, ExecutionInfo, SimulatedClock, TaskCall, TaskFailure, Tasks};

struct NoTasks;
impl Tasks for NoTasks {
    fn call(&self, call: &TaskCall<'_>) -> Result<Value, TaskFailure> {
        Err(TaskFailure {
            error: "States.TaskFailed".into(),
            cause: format!("no stand-in for {}", call.resource),
        })
    }
}

fn run_in_process(case: &Case) -> Got {
    let name = format!("oracle-{}", case.line);
    let info = ExecutionInfo {
        execution_arn: if case.express {
            format!(
                "arn:aws:states:us-east-1:123456789012:express:{name}:e{}:0000",
                case.line
            )
        } else {
            format!(
                "arn:aws:states:us-east-1:123456789012:execution:{name}:e{}",
                case.line
            )
        },
        name: format!("e{}", case.line),
        state_machine_arn: format!("arn:aws:states:us-east-1:123456789012:stateMachine:{name}"),
        state_machine_name: name,
        role_arn: "arn:aws:iam::123456789012:role/StepFunctionsIamRole".into(),
        express: case.express,
        region: "us-east-1".into(),
    };
    let clock = SimulatedClock::new(1_700_000_000_000);
    let out = exec::run(&case.definition, case.input.clone(), &info, &NoTasks, &clock);
    Got {
        status: out.status.as_str().to_string(),
        output: out.output,
        error: out.error,
        cause: out.cause,
    }
}

/// Prints the pass rate and every mismatch; fails below 95 % or on a mismatch that is not listed.
fn judge(label: &str, results: &[(&Case, Option<String>)]) {
    let known = compare::known_mismatches();
    let passed = results.iter().filter(|(_, d)| d.is_none()).count();
    let rate = passed as f64 * 100.0 / results.len() as f64;
    let mut unlisted = Vec::new();
    for (case, diff) in results {
        if let Some(diff) = diff {
            let listed = known.iter().any(|(id, _)| id == &case.id);
            eprintln!(
                "{} line {} {}: {diff}",
                if listed { "known" } else { "NEW" },
                case.line,
                case.id
            );
            if !listed {
                unlisted.push(case.id.clone());
            }
        }
    }
    println!("oracle ({label}): {passed}/{} match ({rate:.1} %)", results.len());
    eprintln!("oracle ({label}): {passed}/{} match ({rate:.1} %)", results.len());
    assert!(rate >= 95.0, "pass rate {rate:.1} % is below 95 %");
    assert!(
        unlisted.is_empty(),
        "mismatches not listed in tests/oracle/MISMATCHES.md: {unlisted:#?}"
    );
}

#[test]
fn oracle_in_process() {
    let cases = compare::cases();
    assert_eq!(cases.len(), 467);
    let results: Vec<(&Case, Option<String>)> = cases
        .iter()
        .filter(|c| c.status != "ABORTED")
        .map(|c| (c, compare::compare(c, &run_in_process(c))))
        .collect();
    judge("in process", &results);
}

fn sdk_error<E>(e: aws_sdk_sfn::error::SdkError<E>) -> String
where
    E: std::error::Error + aws_sdk_sfn::error::ProvideErrorMetadata + 'static,
{
    match e.as_service_error() {
        Some(s) => format!("{}: {}", s.code().unwrap_or("?"), s.message().unwrap_or("")),
        None => format!("{e}"),
    }
}

/// One case through the sandbox over the real SDK: create the machine, start (STANDARD:
/// StartExecution, then DescribeExecution until it ends; EXPRESS: StartSyncExecution).
async fn run_in_sandbox(sfn: &aws_sdk_sfn::Client, case: &Case) -> Result<Got, String> {
    use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType};
    let kind = if case.express {
        StateMachineType::Express
    } else {
        StateMachineType::Standard
    };
    let machine = sfn
        .create_state_machine()
        .name(format!("oracle-{}", case.line))
        .definition(case.definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/StepFunctionsIamRole")
        .r#type(kind)
        .send()
        .await
        .map_err(|e| format!("CreateStateMachine: {}", sdk_error(e)))?
        .state_machine_arn()
        .to_string();
    if case.express {
        let out = sfn
            .start_sync_execution()
            .state_machine_arn(&machine)
            .input(case.input.to_string())
            .send()
            .await
            .map_err(|e| format!("StartSyncExecution: {}", sdk_error(e)))?;
        return Ok(Got {
            status: out.status().as_str().to_string(),
            output: out.output().and_then(|o| serde_json::from_str(o).ok()),
            error: out.error().map(str::to_string),
            cause: out.cause().map(str::to_string),
        });
    }
    let arn = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .input(case.input.to_string())
        .send()
        .await
        .map_err(|e| format!("StartExecution: {}", sdk_error(e)))?
        .execution_arn()
        .to_string();
    if case.status == "ABORTED" {
        // The recorded case is LocalStack's test of StopExecution on a running execution.
        sfn.stop_execution()
            .execution_arn(&arn)
            .send()
            .await
            .map_err(|e| format!("StopExecution: {}", sdk_error(e)))?;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let d = sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .map_err(|e| format!("DescribeExecution: {}", sdk_error(e)))?;
        if *d.status() != ExecutionStatus::Running {
            return Ok(Got {
                status: d.status().as_str().to_string(),
                output: d.output().and_then(|o| serde_json::from_str(o).ok()),
                error: d.error().map(str::to_string),
                cause: d.cause().map(str::to_string),
            });
        }
        if std::time::Instant::now() > deadline {
            return Err("still RUNNING after 60 s".into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_through_the_sandbox() {
    let sandbox = sfn_operator::sandbox::start(sfn_operator::sandbox::SandboxConfig::default())
        .await
        .expect("start sandbox");
    let sfn = host_prefix::sfn_client(&sandbox.endpoint_url());
    let cases = std::sync::Arc::new(compare::cases());
    assert_eq!(cases.len(), 467);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..cases.len() {
        let (sfn, cases) = (sfn.clone(), std::sync::Arc::clone(&cases));
        tasks.spawn(async move {
            let case = &cases[i];
            let diff = match run_in_sandbox(&sfn, case).await {
                Ok(got) => compare::compare(case, &got),
                Err(e) => Some(e),
            };
            (i, diff)
        });
    }
    let mut diffs = vec![None; cases.len()];
    while let Some(done) = tasks.join_next().await {
        let (i, diff) = done.expect("case task");
        diffs[i] = diff;
    }
    let results: Vec<(&Case, Option<String>)> = cases.iter().zip(diffs).collect();
    judge("through the sandbox", &results);
    sandbox.shutdown().await;
}
