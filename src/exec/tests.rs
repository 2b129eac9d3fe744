use serde_json::{Value, json};

use super::*;

struct Echo;
impl Tasks for Echo {
    fn call(&self, call: &TaskCall<'_>) -> Result<Value, TaskFailure> {
        match call.payload.get("fail").and_then(Value::as_str) {
            Some(e) => Err(TaskFailure {
                error: e.into(),
                cause: "boom".into(),
            }),
            None => Ok(lambda_invoke_result(
                call.payload.get("Payload").cloned().unwrap_or(Value::Null),
            )),
        }
    }
}

fn info() -> ExecutionInfo {
    ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
        name: "e".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        state_machine_name: "m".into(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        express: false,
        region: "us-east-1".into(),
    }
}

fn exec(def: Value, input: Value) -> Outcome {
    run(&def, input, &info(), &Echo, &SimulatedClock::new(0))
}

#[test]
fn pass_parameters_result_path_and_output_path() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"x.$": "$.v", "k": 1}, "ResultPath": "$.r", "Next": "B"},
        "B": {"Type": "Pass", "OutputPath": "$.r", "End": true}}});
    let out = exec(def, json!({"v": 5}));
    assert_eq!(out.status, Status::Succeeded);
    assert_eq!(out.output, Some(json!({"x": 5, "k": 1})));
    let kinds: Vec<&str> = out.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn parallel_of_lambda_tasks_with_result_selectors() {
    let task = |sel: Value| {
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "F", "Payload.$": "$"}, "ResultSelector": sel, "End": true})
    };
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "S", "States": {"S": task(json!({"v.$": "$.Payload.values[0]"}))}},
        {"StartAt": "T", "States": {"T": task(json!({"n.$": "States.ArrayLength($.Payload.values)"}))}}]}}});
    let out = exec(def, json!({"values": [3, 1, 2]}));
    assert_eq!(out.output, Some(json!([{"v": 3}, {"n": 3}])));
}

#[test]
fn retry_then_catch_with_aws_error_output() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"fail": "Boom"},
              "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Done"}], "End": true},
        "Done": {"Type": "Succeed"}}});
    let clock = SimulatedClock::new(0);
    let out = run(&def, json!({"a": 1}), &info(), &Echo, &clock);
    assert_eq!(
        out.output,
        Some(json!({"a": 1, "err": {"Error": "Boom", "Cause": "boom"}}))
    );
    assert_eq!(clock.now_ms(), 3000, "waited 1 s then 2 s");
    assert_eq!(out.events.iter().filter(|e| e.kind == "TaskFailed").count(), 3);
}

#[test]
fn choice_map_and_variables() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "M",
              "Assign": {"factor": 10}}], "Default": "F"},
        "F": {"Type": "Fail", "Error": "Small", "Cause": "n <= 1"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemSelector": {"v.$": "$$.Map.Item.Value", "f.$": "$factor"},
              "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "End": true}}});
    let out = exec(def.clone(), json!({"n": 2, "items": [1, 2]}));
    assert_eq!(out.output, Some(json!([{"v": 1, "f": 10}, {"v": 2, "f": 10}])));
    let out = exec(def, json!({"n": 0, "items": []}));
    assert_eq!(
        (out.status, out.error.as_deref(), out.cause.as_deref()),
        (Status::Failed, Some("Small"), Some("n <= 1"))
    );
}

#[test]
fn missing_path_is_a_runtime_error_naming_the_state_and_event() {
    let def = json!({"StartAt": "pass", "States": {"pass": {"Type": "Pass", "InputPath": "$.NoSuch", "End": true}}});
    let out = exec(def, json!({}));
    assert_eq!(out.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        out.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'pass' (entered at the event id #2). Invalid path '$.NoSuch' : No results for path: $['NoSuch']"
        )
    );
}

#[test]
fn timeout_and_wait_on_the_simulated_clock() {
    let def = json!({"TimeoutSeconds": 5, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}});
    let out = exec(def, json!({}));
    assert_eq!(out.status, Status::TimedOut);
    assert_eq!(out.stop_ms, 5000);
}

#[test]
fn item_reader_is_refused_clearly() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"}},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}});
    let out = exec(def, json!({}));
    assert_eq!(out.error.as_deref(), Some("States.TaskFailed"));
    assert!(
        out.cause.as_deref().is_some_and(|c| c.contains("ItemReader")),
        "{:?}",
        out.cause
    );
}

#[test]
fn a_seeded_random_replays_uuids_and_math_random() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"id.$": "States.UUID()", "n.$": "States.MathRandom(0, 1000)"}, "End": true}}});
    let run_seeded = |seed: u64| {
        let random = SeededRandom::new(seed);
        Interpreter::new(&info(), &Echo, &SimulatedClock::new(0), &random)
            .run(&def, json!({}))
            .output
            .unwrap()
    };
    let first = run_seeded(7);
    assert_eq!(first, run_seeded(7));
    assert_ne!(first, run_seeded(8));
    assert_eq!(first["id"].as_str().unwrap().len(), 36);
}

#[test]
fn paths_are_parsed_once_per_run() {
    let parsed = payload::Parsed::default();
    let a = parsed.path("$.a.b").unwrap();
    let b = parsed.path("$.a.b").unwrap();
    assert!(std::rc::Rc::ptr_eq(&a, &b));
    assert!(parsed.path("a").is_err());
    let c = parsed.call("States.UUID()").unwrap();
    assert!(std::rc::Rc::ptr_eq(&c, &parsed.call("States.UUID()").unwrap()));
}

/// A string with a space before `{%` is text for AWS, not JSONata: it is output as written.
#[test]
fn a_string_with_space_before_the_braces_is_output_as_text() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {
        "Type": "Pass", "Output": {"x": " {% $states.input %} "}, "End": true}}});
    let out = exec(def, json!({"a": 1}));
    assert_eq!(out.output, Some(json!({"x": " {% $states.input %} "})));
}
