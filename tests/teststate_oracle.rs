//! The sandbox's `TestState` against 99 answers recorded on real AWS (tests/oracle/teststate.jsonl,
//! README there): each request goes through the AWS SDK's `test_state` to a sandbox, and its
//! answer must match AWS's: refusals by code and message byte for byte, answers by status, error,
//! cause and nextState byte for byte, output and every inspectionData field as data (the
//! recording's masks are wildcards). Cases that need a deployed Lambda function are skipped; every
//! mismatch must be listed with its reason in tests/oracle/MISMATCHES.md.

#[allow(dead_code)]
#[path = "oracle/compare.rs"]
mod compare;
#[path = "common/host_prefix.rs"]
mod host_prefix;

use aws_sdk_sfn::types::{
    InspectionLevel, MockErrorOutput, MockInput, MockResponseValidationMode, TestStateConfiguration,
};
use serde_json::{Map, Value, json};

struct Case {
    id: String,
    request: Value,
    expect: Option<Value>,
    expect_error: Option<Value>,
    masks: Vec<String>,
}

fn cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/teststate.jsonl");
    let text = std::fs::read_to_string(path).expect("read teststate.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .filter(|c| c.get("requires").is_none())
        .map(|c| Case {
            id: c["id"].as_str().unwrap_or_default().to_string(),
            request: c["request"].clone(),
            expect: c.get("expect").cloned(),
            expect_error: c.get("expectError").cloned(),
            masks: c["maskTokens"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
        })
        .collect()
}

/// The recording's placeholders filled with this sandbox's values.
fn fill(text: &str) -> String {
    text.replace("${role_arn}", "arn:aws:iam::123456789012:role/TestStateRole")
        .replace("${region}", "us-east-1")
        .replace("${account}", "123456789012")
        .replace("${uid1}", "uid1")
}

fn text_of(r: &Value, key: &str) -> Option<String> {
    r.get(key).and_then(Value::as_str).map(fill)
}

fn mock_of(m: &Value) -> MockInput {
    let mut b = MockInput::builder().set_result(text_of(m, "result"));
    if let Some(e) = m.get("errorOutput") {
        b = b.error_output(
            MockErrorOutput::builder()
                .set_error(text_of(e, "error"))
                .set_cause(text_of(e, "cause"))
                .build(),
        );
    }
    if let Some(mode) = m.get("fieldValidationMode").and_then(Value::as_str) {
        b = b.field_validation_mode(MockResponseValidationMode::from(mode));
    }
    b.build()
}

fn configuration_of(c: &Value) -> TestStateConfiguration {
    let int = |k: &str| c.get(k).and_then(Value::as_i64).map(|n| n as i32);
    TestStateConfiguration::builder()
        .set_retrier_retry_count(int("retrierRetryCount"))
        .set_error_caused_by_state(text_of(c, "errorCausedByState"))
        .set_map_iteration_failure_count(int("mapIterationFailureCount"))
        .set_map_item_reader_data(text_of(c, "mapItemReaderData"))
        .build()
}

/// Sends one recorded request; the answer as the recording writes it (or the refusal).
async fn send(sfn: &aws_sdk_sfn::Client, r: &Value) -> Result<Value, (String, String)> {
    let mut call = sfn
        .test_state()
        .set_definition(text_of(r, "definition"))
        .set_role_arn(text_of(r, "roleArn"))
        .set_input(text_of(r, "input"))
        .set_variables(text_of(r, "variables"))
        .set_state_name(text_of(r, "stateName"))
        .set_context(text_of(r, "context"))
        .set_reveal_secrets(r.get("revealSecrets").and_then(Value::as_bool));
    if let Some(level) = r.get("inspectionLevel").and_then(Value::as_str) {
        call = call.inspection_level(InspectionLevel::from(level));
    }
    if let Some(m) = r.get("mock") {
        call = call.mock(mock_of(m));
    }
    if let Some(c) = r.get("stateConfiguration") {
        call = call.state_configuration(configuration_of(c));
    }
    let out = call.send().await.map_err(|e| match e.as_service_error() {
        Some(s) => (
            s.meta().code().unwrap_or("?").to_string(),
            s.meta().message().unwrap_or("").to_string(),
        ),
        None => ("transport".to_string(), format!("{e:?}")),
    })?;
    let mut got = Map::new();
    got.insert("status".into(), json!(out.status().map(|s| s.as_str())));
    let strings = [
        ("output", out.output()),
        ("error", out.error()),
        ("cause", out.cause()),
        ("nextState", out.next_state()),
    ];
    for (k, v) in strings {
        if let Some(v) = v {
            got.insert(k.into(), json!(v));
        }
    }
    if let Some(d) = out.inspection_data() {
        got.insert("inspectionData".into(), inspection_json(d));
    }
    Ok(Value::Object(got))
}

fn inspection_json(d: &aws_sdk_sfn::types::InspectionData) -> Value {
    let mut m = Map::new();
    let strings = [
        ("input", d.input()),
        ("afterArguments", d.after_arguments()),
        ("afterInputPath", d.after_input_path()),
        ("afterParameters", d.after_parameters()),
        ("result", d.result()),
        ("afterResultSelector", d.after_result_selector()),
        ("afterResultPath", d.after_result_path()),
        ("variables", d.variables()),
        ("afterItemsPath", d.after_items_path()),
        ("afterItemSelector", d.after_item_selector()),
        ("afterItemBatcher", d.after_item_batcher()),
        ("afterItemsPointer", d.after_items_pointer()),
    ];
    for (k, v) in strings {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    if let Some(n) = d.max_concurrency() {
        m.insert("maxConcurrency".into(), json!(n));
    }
    if let Some(n) = d.tolerated_failure_count() {
        m.insert("toleratedFailureCount".into(), json!(n));
    }
    if let Some(p) = d.tolerated_failure_percentage() {
        m.insert("toleratedFailurePercentage".into(), json!(p));
    }
    if let Some(e) = d.error_details() {
        let mut details = Map::new();
        if let Some(i) = e.catch_index() {
            details.insert("catchIndex".into(), json!(i));
        }
        if let Some(i) = e.retry_index() {
            details.insert("retryIndex".into(), json!(i));
        }
        if let Some(s) = e.retry_backoff_interval_seconds() {
            details.insert("retryBackoffIntervalSeconds".into(), json!(s));
        }
        m.insert("errorDetails".into(), Value::Object(details));
    }
    Value::Object(m)
}

/// A JSON-string field as data (the recording parsed those that start with `{`, and rewrote the
/// others' spacing, so both sides are compared parsed).
fn as_data(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

fn same(want: &Value, have: &Value, masks: &[String]) -> bool {
    match (want, have) {
        (Value::String(w), Value::String(h)) => w == h || masks.contains(w) || compare::masked_string(w, h),
        (Value::String(w), _) if masks.contains(w) => true,
        (Value::Object(w), Value::Object(h)) => {
            w.len() == h.len()
                && w.iter()
                    .all(|(k, wv)| h.get(k).is_some_and(|hv| same(wv, hv, masks)))
        }
        (Value::Array(w), Value::Array(h)) => {
            w.len() == h.len() && w.iter().zip(h).all(|(a, b)| same(a, b, masks))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (w, h) => w == h,
    }
}

/// The first difference between AWS's answer and the sandbox's, if any.
fn difference(case: &Case, got: &Result<Value, (String, String)>) -> Option<String> {
    match (&case.expect_error, got) {
        (Some(want), Err((code, message))) => {
            let (wc, wm) = (want["code"].as_str(), want["message"].as_str());
            (wc != Some(code) || wm != Some(message))
                .then(|| format!("refusal {wc:?}: {wm:?} → {code}: {message}"))
        }
        (Some(want), Ok(answer)) => Some(format!("AWS refused ({want}) but the sandbox answered {answer}")),
        (None, Err((code, message))) => Some(format!("the sandbox refused: {code}: {message}")),
        (None, Ok(answer)) => {
            let want = case.expect.as_ref()?;
            let keys = [
                "status",
                "error",
                "cause",
                "nextState",
                "output",
                "inspectionData",
            ];
            keys.iter().find_map(|k| {
                let (w, h) = (want.get(*k), answer.get(*k));
                let equal = match (w, h) {
                    (None, None) => true,
                    (Some(w), Some(h)) if *k == "inspectionData" => {
                        let data = |v: &Value| {
                            Value::Object(
                                v.as_object()
                                    .into_iter()
                                    .flatten()
                                    .map(|(k, v)| (k.clone(), as_data(v)))
                                    .collect(),
                            )
                        };
                        same(&data(w), &data(h), &case.masks)
                    }
                    (Some(w), Some(h)) if *k == "output" => same(&as_data(w), &as_data(h), &case.masks),
                    (Some(w), Some(h)) => w == h || same(w, h, &case.masks),
                    _ => false,
                };
                (!equal).then(|| format!("{k}: {} → {}", show(w), show(h)))
            })
        }
    }
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "(absent)".to_string(), Value::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teststate_oracle_through_the_sdk() {
    let sandbox = sfn_operator::sandbox::start(sfn_operator::sandbox::SandboxConfig::default())
        .await
        .expect("start sandbox");
    let sfn = host_prefix::sfn_client(&sandbox.endpoint_url());
    let cases = cases();
    assert_eq!(
        cases.len(),
        97,
        "99 recorded cases, 2 need a deployed Lambda function"
    );
    let known = compare::known_mismatches();
    let (mut matched, mut unlisted) = (0, vec![]);
    for case in &cases {
        let got = send(&sfn, &case.request).await;
        match difference(case, &got) {
            None => matched += 1,
            Some(diff) => {
                let listed = known.iter().any(|(id, _)| id == &case.id);
                eprintln!("{} {}: {diff}", if listed { "known" } else { "NEW" }, case.id);
                if !listed {
                    unlisted.push(case.id.clone());
                }
            }
        }
    }
    eprintln!("teststate oracle: {matched}/{} match AWS", cases.len());
    println!("teststate oracle: {matched}/{} match AWS", cases.len());
    assert!(
        unlisted.is_empty(),
        "mismatches not listed in tests/oracle/MISMATCHES.md: {unlisted:#?}"
    );
    sandbox.shutdown().await;
}

/// A value drawn from a small pool of JSON shapes, some of them hostile.
fn arbitrary(rng: &mut fastrand::Rng, depth: u32) -> Value {
    match rng.u8(0..10) {
        0 => Value::Null,
        1 => json!(rng.bool()),
        2 => json!(rng.i64(-3..5)),
        3 => json!(
            [
                "Task",
                "Map",
                "Parallel",
                "Pass",
                "Choice",
                "$",
                "$$",
                "{% $states %}",
                ""
            ][rng.usize(0..9)]
        ),
        4 => json!(rng.f64() * 1e300),
        5 if depth < 3 => Value::Array((0..rng.usize(0..4)).map(|_| arbitrary(rng, depth + 1)).collect()),
        6 if depth < 3 => {
            let keys = [
                "Type",
                "Next",
                "End",
                "Items",
                "ItemsPath",
                "Retry",
                "Catch",
                "Result",
                "Payload",
                "x",
            ];
            let n = rng.usize(0..4);
            Value::Object(
                (0..n)
                    .map(|_| {
                        (
                            keys[rng.usize(0..keys.len())].to_string(),
                            arbitrary(rng, depth + 1),
                        )
                    })
                    .collect(),
            )
        }
        _ => json!("text"),
    }
}

/// Mutates one field of a recorded request's definition, mock, configuration or context.
fn mutate(rng: &mut fastrand::Rng, case: &Case) -> sfn_operator::exec::teststate::StateTest {
    use sfn_operator::exec::teststate::{Configuration, Level, Mock, StateTest};
    let r = &case.request;
    let mut definition: Value = text_of(r, "definition")
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or(Value::Null);
    let target = if definition.get("States").is_some() {
        "States"
    } else {
        "Type"
    };
    match rng.u8(0..4) {
        0 => definition[target] = arbitrary(rng, 0),
        1 => {
            if let Some(m) = definition.as_object_mut() {
                let keys: Vec<String> = m.keys().cloned().collect();
                if let Some(k) = keys.get(rng.usize(0..keys.len().max(1))) {
                    m.insert(k.clone(), arbitrary(rng, 0));
                }
            }
        }
        _ => {}
    }
    let pick = |rng: &mut fastrand::Rng, v: Option<String>| {
        if rng.bool() {
            v
        } else {
            Some(arbitrary(rng, 0).to_string())
        }
    };
    let mock = r.get("mock").map(|m| Mock {
        result: pick(rng, text_of(m, "result")),
        error_output: None,
        field_validation: Default::default(),
    });
    StateTest {
        definition,
        state_name: text_of(r, "stateName").or_else(|| rng.bool().then(|| "HandleItem".into())),
        input: arbitrary(rng, 0),
        variables: Map::new(),
        context: if rng.u8(0..4) == 0 {
            Some(arbitrary(rng, 0))
        } else {
            None
        },
        mock,
        configuration: Configuration {
            retrier_retry_count: rng.bool().then(|| rng.i64(-2..6)),
            error_caused_by_state: rng.bool().then(|| "TestState".into()),
            map_iteration_failure_count: rng.bool().then(|| rng.i64(-2..6)),
            map_item_reader_data: rng.bool().then(|| arbitrary(rng, 0).to_string()),
        },
        level: [Level::Info, Level::Debug, Level::Trace][rng.usize(0..3)],
        reveal_secrets: rng.u8(0..8) == 0,
        role_arn: rng.bool().then(|| "arn:aws:iam::123456789012:role/R".into()),
    }
}

/// Generated requests (recorded ones, mutated) never panic the interpreter's TestState: each
/// gets an answer or a refusal. The seed is printed; `TESTSTATE_SEED=N` replays a run.
#[test]
fn generated_requests_never_panic() {
    use sfn_operator::exec::{ExecutionInfo, SeededRandom, SimulatedClock, TaskCall, TaskFailure, Tasks};
    struct NoTasks;
    impl Tasks for NoTasks {
        fn call(&self, _: &TaskCall<'_>) -> Result<Value, TaskFailure> {
            Err(TaskFailure {
                error: "States.TaskFailed".into(),
                cause: "no stand-in".into(),
            })
        }
    }
    let seed = std::env::var("TESTSTATE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("generated_requests_never_panic: seed {seed} (TESTSTATE_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let cases = cases();
    let info = ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:123456789012:express:m:e".into(),
        name: "e".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        state_machine_name: "m".into(),
        role_arn: "arn:aws:iam::123456789012:role/R".into(),
        express: true,
        region: "us-east-1".into(),
    };
    for _ in 0..2000 {
        let case = &cases[rng.usize(0..cases.len())];
        let test = mutate(&mut rng, case);
        let clock = SimulatedClock::new(0);
        let random = SeededRandom::new(seed);
        let _ = sfn_operator::exec::teststate::test_state(&test, &info, &NoTasks, &clock, &random);
    }
}
