//! Per-state cases of `sfn-operator test` (SPEC §8, `cases[].state`), through the real binary:
//! one state of the reference machine run as AWS's TestState runs it (mocked, or through a Lambda
//! stand-in), each TestState status, `nextState` and an `inspectionData` subset; a refused case
//! names AWS's validation error; per-state fields outside a per-state case are refused by place.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn sfn(dir: &Path, args: &[&str]) -> Output {
    let home = dir.join(".home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .output()
        .expect("run sfn-operator");
    eprintln!(
        "{args:?} exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The reference machine and a WorkflowTest with these cases, in a fresh directory.
fn with_cases(cases: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    for f in ["state-machine.yaml", "parallel-processing.asl.yaml"] {
        std::fs::copy(manifests.join(f), dir.path().join(f)).unwrap();
    }
    let head = "apiVersion: sfn-operator.dev/v1alpha1\nkind: WorkflowTest\nmetadata: {name: one-state}\nspec:\n  stateMachineRef: parallel-processing\n  functions:\n    MaxMinFunction: {jsonata: \"{'max': $max(values), 'min': $min(values)}\"}\n  cases:\n";
    std::fs::write(dir.path().join("t.yaml"), format!("{head}{cases}")).unwrap();
    dir
}

fn cases(o: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    v["cases"].as_array().unwrap().clone()
}

const PASSING: &str = r#"
    - name: sum mocked
      state: Parallel.Branches[0].SumValues
      input: {values: [3, 1, 2]}
      mock: {result: {Payload: {sum: 6}, StatusCode: 200}}
      expect:
        output: {sum: 6}
        inspectionData:
          afterParameters: {Payload: {values: [3, 1, 2]}, FunctionName: "arn:aws:lambda:us-east-1:123456789012:function:SumFunction"}
          afterResultSelector: {sum: 6}
    - name: max and min through the stand-in
      state: Parallel.Branches[1].MaxMinValues
      input: {values: [3, 1, 2]}
      expect: {output: {max: 3, min: 1}}
    - name: a throttle is retried
      state: Parallel.Branches[0].SumValues
      mock: {errorOutput: {error: Lambda.TooManyRequestsException, cause: Rate Exceeded.}}
      stateConfiguration: {retrierRetryCount: 1}
      expect:
        status: RETRIABLE
        error: Lambda.TooManyRequestsException
        inspectionData: {errorDetails: {retryBackoffIntervalSeconds: 2, retryIndex: 0}}
    - name: the third throttle fails the state
      state: Parallel.Branches[0].SumValues
      mock: {errorOutput: {error: Lambda.TooManyRequestsException, cause: Rate Exceeded.}}
      stateConfiguration: {retrierRetryCount: 3}
      expect: {status: FAILED, cause: Rate Exceeded., inspectionData: {errorDetails: {retryIndex: 0}}}
    - name: the whole Parallel mocked
      state: Parallel
      input: {values: [1]}
      mock: {result: [{sum: 1}, {max: 1, min: 1}, {avg: 1}]}
      expect: {output: [{sum: 1}, {max: 1, min: 1}, {avg: 1}], inspectionData: {input: {values: [1]}}}
"#;

#[test]
fn per_state_cases_run_one_state_as_teststate_does() {
    let dir = with_cases(PASSING);
    let out = sfn(dir.path(), &["test", ".", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let cases = cases(&out);
    assert_eq!(cases.len(), 5);
    assert!(cases.iter().all(|c| c["result"] == "passed"), "{cases:#?}");
    let retried = cases
        .iter()
        .find(|c| c["case"] == "a throttle is retried")
        .unwrap();
    assert_eq!(retried["status"], "RETRIABLE");
    assert_eq!(retried["states"], json!(["Parallel.Branches[0].SumValues"]));
}

#[test]
fn a_wrong_expectation_and_a_refused_case_fail_with_the_difference() {
    let dir = with_cases(
        r#"
    - name: wrong output
      state: Parallel.Branches[0].SumValues
      mock: {result: {Payload: {sum: 6}}}
      expect: {output: {sum: 7}, inspectionData: {result: {Payload: {sum: 5}}}}
    - name: a Parallel's mock must be a list
      state: Parallel
      mock: {result: {sum: 6}}
"#,
    );
    let out = sfn(dir.path(), &["test", "."]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("output.sum: 7 → 6"), "{text}");
    assert!(
        text.contains("inspectionData.result.Payload.sum: expected 5, got 6"),
        "{text}"
    );
    assert!(
        text.contains("TestState refused the case: ValidationException: Mocked result must be an array."),
        "{text}"
    );
    assert!(text.contains("0 passed, 2 failed"), "{text}");
}

#[test]
fn per_state_fields_outside_a_per_state_case_are_refused_by_place() {
    let dir = with_cases(
        r#"
    - name: no state
      mock: {result: {}}
      expect: {status: RETRIABLE}
    - name: unknown state
      state: Parallel.Branches[0].NoSuchState
      mock: {result: {}, fieldValidationMode: LOOSE}
"#,
    );
    let out = sfn(dir.path(), &["validate", "."]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("t.yaml:11:13: spec.cases[0].mock: only a per-state case (with state:) takes mock"),
        "{err}"
    );
    assert!(
        err.contains("spec.cases[0].expect.status: \"RETRIABLE\" is not one of SUCCEEDED, FAILED, TIMED_OUT"),
        "{err}"
    );
    assert!(
        err.contains("\"LOOSE\" is not one of STRICT, PRESENT, NONE"),
        "{err}"
    );
    assert!(
        err.contains("no state \"Parallel.Branches[0].NoSuchState\""),
        "{err}"
    );
}
