//! The interpreter against 467 executions recorded on real AWS (tests/oracle/README.md):
//! status, output, error and cause must match in at least 95 % of the cases, and every case that
//! does not is listed with its reason in tests/oracle/MISMATCHES.md.

#[path = "oracle/compare.rs"]
mod compare;

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
