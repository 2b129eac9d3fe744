//! Per-state cases of `sfn-operator test` (SPEC §8): `cases[].state` runs that one state the way
//! AWS's TestState does, through the same code as the sandbox's `TestState`
//! ([`crate::exec::teststate`]), at the TRACE inspection level, and compares `status`, `error`,
//! `cause`, `output`, `nextState` and the `inspectionData` subset the case expects.

use serde_json::{Value, json};

use super::{CaseResult, Failure, differ, differences};
use crate::exec::teststate::{self, Configuration, Level, Mock, StateResult, StateTest};
use crate::exec::{Clock, ExecutionInfo, FieldValidation, Random, TaskFailure, Tasks};
use crate::manifest::{StateCase, TestCase, TestedMachine};

/// The state's name in the definition: the last part of its path.
fn state_name(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// The case as a TestState request on the machine's definition.
fn request(machine: &TestedMachine, case: &TestCase, state: &StateCase) -> StateTest {
    let config = &state.configuration;
    let int = |k: &str| config.get(k).and_then(Value::as_i64);
    let mock = state.mock.as_ref().map(|m| Mock {
        result: m.result.as_ref().map(Value::to_string),
        error_output: m.error_output.as_ref().map(|t| TaskFailure {
            error: t.error.clone(),
            cause: t.cause.clone(),
        }),
        field_validation: m
            .field_validation_mode
            .as_deref()
            .and_then(FieldValidation::parse)
            .unwrap_or_default(),
    });
    StateTest {
        definition: machine.definition.clone(),
        state_name: Some(state_name(&state.path).to_string()),
        input: case.input.clone(),
        variables: state.variables.clone(),
        context: state.context.clone(),
        mock,
        configuration: Configuration {
            retrier_retry_count: int("retrierRetryCount"),
            error_caused_by_state: config
                .get("errorCausedByState")
                .and_then(Value::as_str)
                .map(str::to_string),
            map_iteration_failure_count: int("mapIterationFailureCount"),
            map_item_reader_data: config.get("mapItemReaderData").map(Value::to_string),
        },
        level: Level::Trace,
        reveal_secrets: false,
        role_arn: Some(machine.role_arn.clone()),
    }
}

/// Runs one per-state case; the caller fills in the test, file and time.
pub(super) fn run(
    machine: &TestedMachine,
    case: &TestCase,
    state: &StateCase,
    info: &ExecutionInfo,
    (tasks, clock, random): (&dyn Tasks, &dyn Clock, &dyn Random),
) -> CaseResult {
    let test = request(machine, case, state);
    let (status, result, differences) = match teststate::test_state(&test, info, tasks, clock, random) {
        Ok(result) => (
            result.status.as_str(),
            Some(result.clone()),
            compare(case, &result),
        ),
        Err(refusal) => {
            let message = format!("{}: {}", refusal.code, refusal.message);
            let failure = Failure {
                path: "request".into(),
                expected: None,
                got: Some(json!(message)),
                message: format!("TestState refused the case: {message}"),
            };
            ("REFUSED", None, vec![failure])
        }
    };
    CaseResult {
        test: String::new(),
        case: case.name.clone(),
        file: String::new(),
        line: case.line,
        status,
        output: result.as_ref().and_then(|r| r.output.clone()),
        error: result.as_ref().and_then(|r| r.error.clone()),
        cause: result.as_ref().and_then(|r| r.cause.clone()),
        states: vec![state.path.clone()],
        failure: differences.first().cloned(),
        differences,
        elapsed_us: 0,
    }
}

/// Status, error, cause, nextState, output, then the expected `inspectionData` keys.
fn compare(case: &TestCase, got: &StateResult) -> Vec<Failure> {
    let e = &case.expect;
    let mut out = Vec::new();
    let status = got.status.as_str();
    if e.status != status {
        out.push(differ("status", Some(&json!(e.status)), Some(&json!(status))));
    }
    for (field, want, have) in [
        ("error", &e.error, &got.error),
        ("cause", &e.cause, &got.cause),
        ("nextState", &e.next_state, &got.next_state),
    ] {
        if let Some(w) = want
            && have.as_deref() != Some(w.as_str())
        {
            out.push(differ(
                field,
                Some(&json!(w)),
                have.as_ref().map(|g| json!(g)).as_ref(),
            ));
        }
    }
    let mut found = Vec::new();
    if let Some(want) = &e.output {
        differences("output".into(), Some(want), got.output.as_ref(), &mut found);
    }
    if let Some(Value::Object(want)) = &e.inspection_data {
        let have = got.inspection.as_ref();
        for (k, w) in want {
            let path = format!("inspectionData.{k}");
            differences(path, Some(w), have.and_then(|h| h.get(k)), &mut found);
        }
    }
    out.extend(found.into_iter().map(|(path, w, g)| differ(&path, w, g)));
    out
}
