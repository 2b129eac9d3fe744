//! `sfn-operator test` and `kind: WorkflowTest` (issue 13), through the real binary: passing and
//! failing cases, mocks per call, every `expect` field, bad documents named by place, JUnit read
//! back by an XML parser, no network and no credentials; and `diff`/`reconcile` against the
//! sandbox never sending a WorkflowTest anywhere nor pruning because of one.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

mod common;

fn repo_manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests")
}

/// Runs `sfn-operator ARGS` in `dir` with no AWS configuration at all.
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A directory holding the reference machine (manifest and definition file) and `tests`.
fn with_reference(tests: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["state-machine.yaml", "parallel-processing.asl.yaml"] {
        std::fs::copy(repo_manifests().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("t.yaml"), tests).unwrap();
    dir
}

const HEAD: &str = "apiVersion: sfn-operator.dev/v1alpha1\nkind: WorkflowTest\nmetadata: {name: ref}\nspec:\n  stateMachineRef: parallel-processing\n  functions:\n    SumFunction: {jsonata: \"{'sum': $sum(values)}\"}\n    MaxMinFunction: {jsonata: \"{'max': $max(values), 'min': $min(values)}\"}\n    AvgFunction: {jsonata: \"{'avg': $average(values)}\"}\n  cases:\n";

fn json_cases(o: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    v["cases"].as_array().unwrap().clone()
}

#[test]
fn the_reference_examples_pass_and_report_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let m = repo_manifests();
    let out = sfn(dir.path(), &["test", m.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("PASS  ")).count(),
        3,
        "{text}"
    );
    assert!(text.contains("3 passed, 0 failed"), "{text}");
    let out = sfn(dir.path(), &["test", m.to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let cases = json_cases(&out);
    let three = cases.iter().find(|c| c["case"] == "three values").unwrap();
    assert_eq!(
        three["output"],
        json!([{"sum": 6}, {"max": 3, "min": 1}, {"avg": 2}])
    );
    assert_eq!(three["result"], "passed");
    let failing = cases
        .iter()
        .find(|c| c["case"] == "failing Lambda fails the execution")
        .unwrap();
    assert_eq!(
        (&failing["status"], &failing["error"]),
        (&json!("FAILED"), &json!("ValueError"))
    );
}

#[test]
fn a_failing_case_names_the_first_difference_the_states_and_the_error() {
    let tests = format!(
        "{HEAD}    - name: wrong max\n      input: {{values: [3, 1, 2]}}\n      functions:\n        MaxMinFunction: {{jsonata: \"{{'max': $max(values) + 1, 'min': $min(values)}}\"}}\n      expect:\n        output: [{{sum: 6}}, {{max: 3, min: 1}}, {{avg: 2}}]\n    - name: unexpected failure\n      input: {{values: [3, 1, 2]}}\n      functions:\n        AvgFunction: {{throw: {{error: ZeroDivisionError, cause: no values}}}}\n    - name: fine\n      input: {{values: [5]}}\n      expect:\n        output: [{{sum: 5}}, {{max: 5, min: 5}}, {{avg: 5}}]\n"
    );
    let dir = with_reference(&tests);
    let out = sfn(dir.path(), &["test", "."]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("FAIL  ref/wrong max  (./t.yaml:11)"),
        "{text}"
    );
    assert_eq!(lines[1].trim(), "output[1].max: 3 → 4");
    assert_eq!(
        lines[3].trim(),
        "states entered: Parallel → Parallel.Branches[0].SumValues → Parallel.Branches[1].MaxMinValues → Parallel.Branches[2].AverageValues"
    );
    let at = lines
        .iter()
        .position(|l| l.contains("ref/unexpected failure"))
        .unwrap();
    assert_eq!(lines[at + 1].trim(), r#"status: "SUCCEEDED" → "FAILED""#);
    assert!(
        lines[at + 4..at + 6].contains(&"      error: ZeroDivisionError"),
        "{text}"
    );
    assert!(
        lines[at + 4..at + 6].contains(&"      cause: no values"),
        "{text}"
    );
    assert!(text.contains("PASS  ref/fine"), "{text}");
    assert!(text.contains("1 passed, 2 failed"), "{text}");
    let out = sfn(dir.path(), &["test", ".", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let cases = json_cases(&out);
    assert_eq!(
        cases[0]["failure"],
        json!({"path": "output[1].max", "expected": 3, "got": 4, "message": "output[1].max: 3 → 4"})
    );
}

/// A Map calls one Task once per item: the n-th call gets the n-th mock, the last one repeats.
#[test]
fn mocks_answer_per_call_and_the_last_one_repeats() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        r#"apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata: {name: fan-out}
spec:
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: Each
    States:
      Each:
        Type: Map
        ItemsPath: $.items
        ItemProcessor:
          StartAt: Work
          States:
            Work:
              Type: Task
              Resource: arn:aws:lambda:us-east-1:123456789012:function:Work
              Retry: [{ErrorEquals: [Lambda.TooManyRequestsException], MaxAttempts: 2, IntervalSeconds: 3600}]
              End: true
        End: true
---
apiVersion: sfn-operator.dev/v1alpha1
kind: WorkflowTest
metadata: {name: fan-out}
spec:
  stateMachineRef: fan-out
  cases:
    - name: per call
      input: {items: [a, b, c, d]}
      mocks:
        Each.ItemProcessor.Work:
          - return: first
          - throw: {error: Lambda.TooManyRequestsException, cause: slow down}
          - return: second
          - return: last
      expect:
        output: [first, second, last, last]
        states: [Each, Each.ItemProcessor.Work, Each.ItemProcessor.Work]
    - name: throttled past the retries
      input: {items: [a]}
      mocks:
        Each.ItemProcessor.Work:
          - throw: {error: Lambda.TooManyRequestsException, cause: slow down}
      expect:
        status: FAILED
        error: Lambda.TooManyRequestsException
        cause: slow down
"#,
    )
    .unwrap();
    let out = sfn(dir.path(), &["test", ".", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let cases = json_cases(&out);
    assert!(cases.iter().all(|c| c["result"] == "passed"), "{cases:?}");
    // Four items and one retried call: Work entered four times.
    let work = cases[0]["states"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| *s == "Each.ItemProcessor.Work")
        .count();
    assert_eq!(work, 4);
}

/// status (TIMED_OUT on simulated time), error, cause, output and states: each compared, each
/// able to fail.
#[test]
fn every_expect_field_is_compared() {
    let dir = tempfile::tempdir().unwrap();
    let machine = r#"apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata: {name: waits}
spec:
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    TimeoutSeconds: 86400
    StartAt: Route
    States:
      Route:
        Type: Choice
        Choices:
          - {Variable: $.days, NumericGreaterThan: 1, Next: Long}
          - {Variable: $.fail, IsPresent: true, Next: Broken}
        Default: Short
      Long: {Type: Wait, Seconds: 31536000, Next: Done}
      Short: {Type: Wait, Seconds: 60, Next: Done}
      Broken: {Type: Fail, Error: Custom.Broken, Cause: it broke}
      Done: {Type: Pass, Result: {done: true}, End: true}
"#;
    let cases = r#"
apiVersion: sfn-operator.dev/v1alpha1
kind: WorkflowTest
metadata: {name: waits}
spec:
  stateMachineRef: waits
  cases:
    - name: a year of waiting times out at once
      input: {days: 365}
      expect: {status: TIMED_OUT, states: [Route, Long]}
    - name: short
      input: {days: 0}
      expect: {output: {done: true}, states: [Route, Short, Done]}
    - name: broken
      input: {days: 0, fail: true}
      expect: {status: FAILED, error: Custom.Broken, cause: it broke, states: [Broken]}
"#;
    std::fs::write(dir.path().join("m.yaml"), format!("{machine}---{cases}")).unwrap();
    let started = std::time::Instant::now();
    let out = sfn(dir.path(), &["test", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "a Wait slept"
    );

    // Each field wrong in turn: its own failure line.
    for (bad, line) in [
        ("{status: SUCCEEDED}", r#"status: "SUCCEEDED" → "TIMED_OUT""#),
        (
            "{status: TIMED_OUT, error: States.Other}",
            r#"error: "States.Other" → (absent)"#,
        ),
        (
            "{status: TIMED_OUT, states: [Short]}",
            "states: Short was not entered",
        ),
        (
            "{status: TIMED_OUT, states: [Long, Route]}",
            "states: Route was not entered after Long",
        ),
    ] {
        let c = format!(
            "\napiVersion: sfn-operator.dev/v1alpha1\nkind: WorkflowTest\nmetadata: {{name: waits}}\nspec:\n  stateMachineRef: waits\n  cases:\n    - name: x\n      input: {{days: 365}}\n      expect: {bad}\n"
        );
        std::fs::write(dir.path().join("m.yaml"), format!("{machine}---{c}")).unwrap();
        let out = sfn(dir.path(), &["test", "."]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert_eq!(stdout(&out).lines().nth(1).map(str::trim), Some(line), "{bad}");
    }
    for (bad, line) in [
        (
            "{status: FAILED, cause: it did}",
            r#"cause: "it did" → "it broke""#,
        ),
        ("{status: FAILED, output: 1}", "output: 1 → (absent)"),
    ] {
        let c = format!(
            "\napiVersion: sfn-operator.dev/v1alpha1\nkind: WorkflowTest\nmetadata: {{name: waits}}\nspec:\n  stateMachineRef: waits\n  cases:\n    - name: x\n      input: {{days: 0, fail: true}}\n      expect: {bad}\n"
        );
        std::fs::write(dir.path().join("m.yaml"), format!("{machine}---{c}")).unwrap();
        let out = sfn(dir.path(), &["test", "."]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert_eq!(stdout(&out).lines().nth(1).map(str::trim), Some(line), "{bad}");
    }
}

#[test]
fn a_runaway_loop_stops_at_the_step_budget() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        r#"apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata: {name: loop}
spec:
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: Again
    States:
      Again:
        Type: Choice
        Choices: [{Variable: $.stop, IsPresent: true, Next: Done}]
        Default: Again
      Done: {Type: Succeed}
---
apiVersion: sfn-operator.dev/v1alpha1
kind: WorkflowTest
metadata: {name: loop}
spec:
  stateMachineRef: loop
  cases:
    - name: forever
    - name: stops
      input: {stop: 1}
"#,
    )
    .unwrap();
    let out = sfn(dir.path(), &["test", ".", "--max-steps", "500"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("stopped after 500 states (the step budget, --max-steps)"),
        "{text}"
    );
    assert!(text.contains("… 476 more …"), "the states list is cut: {text}");
    assert!(text.contains("PASS  loop/stops"), "{text}");
}

#[test]
fn bad_workflow_tests_are_rejected_with_their_place() {
    let cases = [
        (
            "    - name: a\n      expekt: {}\n",
            "t.yaml:12:7: spec.cases[0]: unknown field \"expekt\"",
        ),
        (
            "    - name: a\n      mocks:\n        Parallel.Branches[0].Sum: [{return: 1}]\n",
            "t.yaml:13:9: mocks: no Task state \"Parallel.Branches[0].Sum\" in parallel-processing (its Task states: Parallel.Branches[0].SumValues, Parallel.Branches[1].MaxMinValues, Parallel.Branches[2].AverageValues)",
        ),
        (
            "    - name: a\n      mocks:\n        Parallel: [{return: 1}]\n",
            "t.yaml:13:9: mocks: \"Parallel\" is a Parallel state of parallel-processing; only Task states are mocked",
        ),
        (
            "    - name: a\n      mocks:\n        Parallel.Branches[0].SumValues: [{return: 1, throw: {error: E}}]\n",
            "t.yaml:13:42: spec.cases[0].mocks.Parallel.Branches[0].SumValues: exactly one of return and throw",
        ),
        (
            "    - name: a\n      expect: {status: DONE}\n",
            "t.yaml:12:24: spec.cases[0].expect.status: \"DONE\" is not one of SUCCEEDED, FAILED, TIMED_OUT",
        ),
        (
            "    - name: a\n      expect: {states: [SumValues]}\n",
            "t.yaml:12:25: expect.states: no state \"SumValues\" in parallel-processing",
        ),
        (
            "    - name: a\n    - name: a\n",
            "t.yaml:12:13: spec.cases[1].name: duplicate case \"a\"",
        ),
        (
            "    - name: a\n      functions: {AvgFunction: {shout: 1}}\n",
            "t.yaml:12:33: spec.cases[0].functions.AvgFunction: unknown field \"shout\"",
        ),
    ];
    for (case, want) in cases {
        let dir = with_reference(&format!("{HEAD}{case}"));
        for cmd in ["test", "validate"] {
            let out = sfn(dir.path(), &[cmd, "."]);
            assert_eq!(out.status.code(), Some(1), "{cmd}: {case}");
            let err = stderr(&out);
            assert!(err.contains(want), "{cmd}: want {want:?} in:\n{err}");
        }
    }
    let dir = with_reference(&HEAD.replace("stateMachineRef: parallel-processing", "stateMachineRef: nope"));
    let out = sfn(dir.path(), &["test", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("t.yaml:5:20: stateMachineRef: no StateMachine manifest named \"nope\""),
        "{}",
        stderr(&out)
    );
    // Usage errors: 64.
    let out = sfn(dir.path(), &["test", "-o", "yaml"]);
    assert_eq!(out.status.code(), Some(64));
}

/// A `<testsuite>`: name, tests, failures.
type Suite = (String, String, String);
/// A `<testcase>`: classname, name, failure message.
type Case = (String, String, Option<String>);

/// Reads JUnit XML with a real XML tokenizer: (suite name, tests, failures) and per testcase
/// (classname, name, failure message).
fn read_junit(xml: &str) -> (Vec<Suite>, Vec<Case>) {
    let mut suites = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut element = String::new();
    let mut attrs: Vec<(String, String)> = Vec::new();
    let attr = |attrs: &[(String, String)], k: &str| {
        attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    for token in xmlparser::Tokenizer::from(xml) {
        match token.expect("well-formed XML") {
            xmlparser::Token::ElementStart { local, .. } => {
                element = local.to_string();
                attrs.clear();
            }
            xmlparser::Token::Attribute { local, value, .. } => {
                let v = value
                    .as_str()
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&amp;", "&");
                attrs.push((local.to_string(), v));
            }
            xmlparser::Token::ElementEnd {
                end: xmlparser::ElementEnd::Open | xmlparser::ElementEnd::Empty,
                ..
            } => match element.as_str() {
                "testsuite" => suites.push((
                    attr(&attrs, "name"),
                    attr(&attrs, "tests"),
                    attr(&attrs, "failures"),
                )),
                "testcase" => cases.push((attr(&attrs, "classname"), attr(&attrs, "name"), None)),
                "failure" => cases.last_mut().unwrap().2 = Some(attr(&attrs, "message")),
                _ => {}
            },
            _ => {}
        }
    }
    (suites, cases)
}

#[test]
fn junit_output_reads_back() {
    let tests = format!(
        "{HEAD}    - name: ok <&> \"quoted\"\n      input: {{values: [1]}}\n    - name: wrong\n      input: {{values: [1]}}\n      expect: {{output: [{{sum: 2}}]}}\n"
    );
    let dir = with_reference(&tests);
    let out = sfn(dir.path(), &["test", ".", "--junit", "report.xml"]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(dir.path().join("report.xml")).unwrap();
    let (suites, cases) = read_junit(&xml);
    assert_eq!(
        suites,
        vec![("ref".to_string(), "2".to_string(), "1".to_string())]
    );
    assert_eq!(
        cases,
        vec![
            ("WorkflowTest/ref".into(), "ok <&> \"quoted\"".into(), None),
            (
                "WorkflowTest/ref".into(),
                "wrong".into(),
                Some("output[0].sum: 2 → 1".into())
            ),
        ]
    );
}

/// No AWS configuration at all, and every endpoint variable pointing at a listener that counts
/// connections: `test` passes and nothing ever connects.
#[test]
fn test_makes_no_network_connection_and_needs_no_credentials() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args(["test", repo_manifests().to_str().unwrap()])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ENDPOINT_URL_SFN", &url)
        .env("AWS_ENDPOINT_URL_API_GATEWAY", &url)
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url)
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut connections = 0;
    while listener.accept().is_ok() {
        connections += 1;
    }
    assert_eq!(connections, 0, "test connected to the endpoint");
    // No state file, no lock: nothing written beside the manifests or in the working directory.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("home")]);
}

/// A WorkflowTest is no resource: with one present, `reconcile --once` and `diff` send and report
/// only the machine; removing it prunes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diff_and_reconcile_never_send_or_prune_for_a_workflow_test() {
    let sb = sfn_operator::sandbox::start(sfn_operator::sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let url = sb.endpoint_url();
    let dir = with_reference(&format!(
        "{HEAD}    - name: three values\n      input: {{values: [3, 1, 2]}}\n"
    ));
    let machine = std::fs::read_to_string(dir.path().join("state-machine.yaml")).unwrap();
    std::fs::write(
        dir.path().join("state-machine.yaml"),
        machine.replace("definitionFile:", "deletionPolicy: Delete\n  definitionFile:"),
    )
    .unwrap();
    let run = |args: &'static [&'static str]| {
        let (d, u) = (dir.path().to_owned(), url.clone());
        tokio::task::spawn_blocking(move || common::run_binary(&d, &u, args))
    };
    let out = run(&["reconcile", "--once", "--prune"]).await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r = common::report(&out);
    let kinds: Vec<&str> = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["StateMachine"], "{r}");
    let out = run(&["diff", "--prune"]).await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(common::report(&out)["resources"].as_array().unwrap().len(), 1);

    std::fs::remove_file(dir.path().join("t.yaml")).unwrap();
    let out = run(&["diff", "--prune"]).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "removing a WorkflowTest changes nothing"
    );
    let out = run(&["reconcile", "--once", "--prune"]).await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r = common::report(&out);
    assert_eq!(r["summary"]["delete"], 0, "{r}");
    assert_eq!(r["summary"]["noop"], 1, "{r}");
    let sfn = aws_sdk_sfn::Client::new(&common::sdk_conf(&url).await);
    let names: Vec<String> = sfn
        .list_state_machines()
        .send()
        .await
        .unwrap()
        .state_machines()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(names, ["ParallelProcessingMachine"]);
}

// Per-state cases (SPEC §8, `cases[].state`, issue 20): one state of the reference machine run as
// AWS's TestState runs it (mocked, or through a Lambda stand-in), each TestState status,
// `nextState` and an `inspectionData` subset; a refused case names AWS's validation error;
// per-state fields outside a per-state case are refused by place.

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
    let dir = with_reference(&format!("{HEAD}{PASSING}"));
    let out = sfn(dir.path(), &["test", ".", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let cases = json_cases(&out);
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
    let dir = with_reference(&format!(
        "{HEAD}{}",
        r#"
    - name: wrong output
      state: Parallel.Branches[0].SumValues
      mock: {result: {Payload: {sum: 6}}}
      expect: {output: {sum: 7}, inspectionData: {result: {Payload: {sum: 5}}}}
    - name: a Parallel's mock must be a list
      state: Parallel
      mock: {result: {sum: 6}}
"#
    ));
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
    let dir = with_reference(&format!(
        "{HEAD}{}",
        r#"
    - name: no state
      mock: {result: {}}
      expect: {status: RETRIABLE}
    - name: unknown state
      state: Parallel.Branches[0].NoSuchState
      mock: {result: {}, fieldValidationMode: LOOSE}
"#
    ));
    let out = sfn(dir.path(), &["validate", "."]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("t.yaml:13:13: spec.cases[0].mock: only a per-state case (with state:) takes mock"),
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
