//! One state, the way AWS's `TestState` runs it (SPEC §10): the request's checks in AWS's words
//! ([`Refusal`]), then the interpreter's own handler for the state ([`Interpreter::state`]) with
//! a [`Probe`] that swaps in the mock, the context object and the `stateConfiguration`, and
//! records the data flow for `inspectionData`. The sandbox's `TestState` and `sfn-operator
//! test`'s per-state cases both call [`test_state`].
//!
//! Must not: parse the wire (the callers turn their request into a [`StateTest`]) or carry a
//! second implementation of any state: every state runs in `states/`, Retry and Catch in
//! `retry.rs`, which consult the probe.

use serde_json::{Map, Value, json};

use super::cx::{Abort, Frame, Probe};
use super::interpreter::Interpreter;
use super::mock_shapes::{self, FieldValidation};
use super::{Clock, ExecutionInfo, Random, TaskCall, TaskFailure, Tasks};
use crate::asl::model::QueryLanguage;

/// How much `inspectionData` an answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    #[default]
    Info,
    Debug,
    Trace,
}

impl Level {
    /// AWS's name (`INFO`, `DEBUG`, `TRACE`).
    pub fn parse(name: &str) -> Option<Level> {
        match name {
            "INFO" => Some(Level::Info),
            "DEBUG" => Some(Level::Debug),
            "TRACE" => Some(Level::Trace),
            _ => None,
        }
    }
}

/// `mock`: the state's mocked result (JSON text, as the API carries it) or error.
#[derive(Debug, Clone, Default)]
pub struct Mock {
    pub result: Option<String>,
    pub error_output: Option<TaskFailure>,
    pub field_validation: FieldValidation,
}

/// `stateConfiguration`.
#[derive(Debug, Clone, Default)]
pub struct Configuration {
    pub retrier_retry_count: Option<i64>,
    pub error_caused_by_state: Option<String>,
    pub map_iteration_failure_count: Option<i64>,
    /// JSON text: the items a Map's `ItemReader` would read.
    pub map_item_reader_data: Option<String>,
}

/// One `TestState` request, its JSON-string fields parsed by the caller.
#[derive(Debug, Clone, Default)]
pub struct StateTest {
    /// One state, or a whole machine with `state_name`.
    pub definition: Value,
    pub state_name: Option<String>,
    pub input: Value,
    pub variables: Map<String, Value>,
    pub context: Option<Value>,
    pub mock: Option<Mock>,
    pub configuration: Configuration,
    pub level: Level,
    pub reveal_secrets: bool,
    pub role_arn: Option<String>,
}

/// A refused request: AWS's error code (`ValidationException`, `InvalidDefinition`) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal {
        code: "ValidationException",
        message: message.into(),
    }
}

fn bad_definition(message: impl Into<String>) -> Refusal {
    Refusal {
        code: "InvalidDefinition",
        message: message.into(),
    }
}

/// How the tested state ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    Succeeded,
    Failed,
    Retriable,
    CaughtError,
}

impl TestStatus {
    /// AWS's name (`SUCCEEDED`, `FAILED`, `RETRIABLE`, `CAUGHT_ERROR`).
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Succeeded => "SUCCEEDED",
            TestStatus::Failed => "FAILED",
            TestStatus::Retriable => "RETRIABLE",
            TestStatus::CaughtError => "CAUGHT_ERROR",
        }
    }
}

/// A `TestState` answer, values as data (the wire encodes them as JSON strings).
#[derive(Debug, Clone, PartialEq)]
pub struct StateResult {
    pub status: TestStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub next_state: Option<String>,
    /// `inspectionData` at DEBUG and TRACE: `input`, `afterInputPath`, ..., `errorDetails`.
    pub inspection: Option<Map<String, Value>>,
}

/// The state's name in the context object when the definition is a single state (AWS's).
pub const SINGLE_STATE_NAME: &str = "StateName";

/// The tested state, its name and the query language it runs in.
struct Located {
    name: String,
    state: Map<String, Value>,
    ql: QueryLanguage,
}

/// Runs one state as `TestState` does; `info` names the execution the context object describes.
pub fn test_state(
    test: &StateTest,
    info: &ExecutionInfo,
    tasks: &dyn Tasks,
    clock: &dyn Clock,
    random: &dyn Random,
) -> Result<StateResult, Refusal> {
    let located = locate(test)?;
    let ty = located.state.get("Type").and_then(Value::as_str).unwrap_or("");
    check_mock(test, &located.state, ty)?;
    let probe = probe(test, &located, ty, info, clock)?;
    let mocked = test.mock.as_ref().filter(|_| ty == "Task").map(mocked_call);
    let tasks: &dyn Tasks = match &mocked {
        Some(m) => m,
        None => tasks,
    };
    let mut interpreter = Interpreter::new(info, tasks, clock, random);
    interpreter.probe = Some(probe);
    if test.level != Level::Info {
        *interpreter.env.trace.borrow_mut() = Some(Map::new());
    }
    let mut frame = Frame {
        vars: test.variables.clone(),
        ql: located.ql,
        prefix: String::new(),
    };
    let ran = interpreter.state(&located.name, &located.state, test.input.clone(), &mut frame);
    let probe = interpreter.probe.take().unwrap_or_default();
    let trace = interpreter.env.trace.borrow_mut().take();
    let mut result = match ran {
        Ok(step) => match &probe.caught {
            Some((_, error, cause)) => StateResult {
                status: TestStatus::CaughtError,
                output: Some(step.output),
                error: error.clone(),
                cause: cause.clone(),
                next_state: step.next,
                inspection: None,
            },
            None => StateResult {
                status: TestStatus::Succeeded,
                output: Some(step.output),
                error: None,
                cause: None,
                next_state: step.next,
                inspection: None,
            },
        },
        Err(abort) => {
            let (error, cause) = match abort {
                Abort::Error { error, cause } => (error, cause),
                Abort::TimedOut => (Some("States.Timeout".into()), None),
                Abort::Stopped => (Some("States.Runtime".into()), None),
            };
            let status = match probe.retriable {
                Some(_) => TestStatus::Retriable,
                None => TestStatus::Failed,
            };
            StateResult {
                status,
                output: None,
                error,
                cause,
                next_state: None,
                inspection: None,
            }
        }
    };
    if let Some(trace) = trace {
        result.inspection = Some(inspection(test, &located, trace, &probe, &frame));
    }
    Ok(result)
}

/// The state to test: `stateName` anywhere in the machine (branches and item processors
/// included), or the definition itself when it is one state. Either is validated as AWS
/// validates definitions.
fn locate(test: &StateTest) -> Result<Located, Refusal> {
    let Some(def) = test.definition.as_object() else {
        return Err(bad_definition(
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The definition must be a JSON object'",
        ));
    };
    let top_ql = QueryLanguage::of(def.get("QueryLanguage"), QueryLanguage::JsonPath);
    let (name, state, machine) = match &test.state_name {
        Some(name) => {
            if !def.contains_key("States") {
                return Err(invalid(
                    "The definition must be a state machine definition when stateName is given",
                ));
            }
            let state = find(def, name, 0)
                .ok_or_else(|| invalid(format!("State '{name}' does not exist in the definition")))?;
            (name.clone(), state.clone(), test.definition.clone())
        }
        None => {
            if def.contains_key("States") {
                return Err(invalid(
                    "The definition is a state machine: give stateName to say which state to test",
                ));
            }
            let machine = single_state_machine(def);
            (SINGLE_STATE_NAME.to_string(), def.clone(), machine)
        }
    };
    let problems = crate::asl::validate(&machine);
    if let Some(message) = crate::asl::refusal(&problems) {
        return Err(bad_definition(message));
    }
    let ql = QueryLanguage::of(state.get("QueryLanguage"), top_ql);
    Ok(Located { name, state, ql })
}

/// A single state as a machine the validator accepts: the state, and a `Succeed` state for each
/// state it names (TestState never goes there).
fn single_state_machine(state: &Map<String, Value>) -> Value {
    let mut states = Map::new();
    states.insert(SINGLE_STATE_NAME.into(), Value::Object(state.clone()));
    let mut targets: Vec<&str> = vec![];
    let next = |v: &Value| v.get("Next").and_then(Value::as_str).map(str::to_string);
    targets.extend(state.get("Next").and_then(Value::as_str));
    targets.extend(state.get("Default").and_then(Value::as_str));
    let mut nested: Vec<String> = vec![];
    for key in ["Choices", "Catch"] {
        for item in state.get(key).and_then(Value::as_array).into_iter().flatten() {
            nested.extend(next(item));
        }
    }
    for target in targets.into_iter().map(str::to_string).chain(nested) {
        if target != SINGLE_STATE_NAME {
            states.insert(target, json!({"Type": "Succeed"}));
        }
    }
    let mut machine = Map::new();
    if let Some(ql) = state.get("QueryLanguage") {
        machine.insert("QueryLanguage".into(), ql.clone());
    }
    machine.insert("StartAt".into(), json!(SINGLE_STATE_NAME));
    machine.insert("States".into(), Value::Object(states));
    Value::Object(machine)
}

/// Deeper than any definition AWS accepts nests.
const MAX_NESTING: usize = 64;

/// The state `name` in a machine or branch, searched through nested branches and processors.
fn find<'d>(scope: &'d Map<String, Value>, name: &str, depth: usize) -> Option<&'d Map<String, Value>> {
    let states = scope.get("States")?.as_object()?;
    if let Some(st) = states.get(name).and_then(Value::as_object) {
        return Some(st);
    }
    if depth > MAX_NESTING {
        return None;
    }
    states.values().filter_map(Value::as_object).find_map(|st| {
        let branches = st.get("Branches").and_then(Value::as_array).into_iter().flatten();
        let processors = ["ItemProcessor", "Iterator"]
            .into_iter()
            .filter_map(|k| st.get(k));
        branches
            .chain(processors)
            .filter_map(Value::as_object)
            .find_map(|scope| find(scope, name, depth + 1))
    })
}

/// The mock's and `revealSecrets`'s rules, in the order AWS checks them.
fn check_mock(test: &StateTest, state: &Map<String, Value>, ty: &str) -> Result<(), Refusal> {
    let Some(mock) = &test.mock else {
        if test.configuration.map_iteration_failure_count.is_some() {
            return Err(invalid(
                "TestState does not support MapIterationFailureCount when a mock is not specified.",
            ));
        }
        if matches!(ty, "Map" | "Parallel") {
            return Err(bad_definition(
                "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]",
            ));
        }
        if ty == "Task" && test.role_arn.is_none() {
            return Err(invalid("RoleArn must be specified when testing a Task state"));
        }
        return Ok(());
    };
    if matches!(ty, "Pass" | "Fail" | "Succeed" | "Choice" | "Wait") {
        return Err(invalid(format!(
            "State type '{ty}' is not supported when a mock is specified"
        )));
    }
    if test.reveal_secrets {
        return Err(invalid(
            "TestState does not support RevealSecrets when a mock is specified.",
        ));
    }
    let Some(text) = &mock.result else {
        if mock.error_output.is_none() {
            return Err(invalid(
                "A test mock should have one of the following fields: [result, errorOutput].",
            ));
        }
        return Ok(());
    };
    if mock.error_output.is_some() {
        return Err(invalid(
            "A test mock should have only one of the following fields: [result, errorOutput].",
        ));
    }
    let result: Value =
        serde_json::from_str(text).map_err(|_| invalid("Mocked result must be valid JSON"))?;
    match ty {
        "Map" if state.contains_key("ResultWriter") && !result.is_object() => {
            Err(invalid("Mocked result must be a JSON object."))
        }
        "Map" | "Parallel" if !state.contains_key("ResultWriter") && !result.is_array() => {
            Err(invalid("Mocked result must be an array."))
        }
        "Task" => {
            let resource = state.get("Resource").and_then(Value::as_str).unwrap_or("");
            mock_shapes::check(resource, &result, mock.field_validation).map_err(invalid)
        }
        _ => Ok(()),
    }
}

/// The probe for this run: the context object, the mocked iterations and the configuration,
/// checked against the state.
fn probe(
    test: &StateTest,
    located: &Located,
    ty: &str,
    info: &ExecutionInfo,
    clock: &dyn Clock,
) -> Result<Probe, Refusal> {
    let config = &test.configuration;
    let retry_count = match config.retrier_retry_count {
        None => 0,
        Some(n) => {
            u32::try_from(n).map_err(|_| invalid("RetrierRetryCount must be a non-negative integer"))?
        }
    };
    let context = match &test.context {
        Some(c) => {
            check_context(c, &located.state, ty)?;
            c.clone()
        }
        None => default_context(test, &located.name, info, clock, retry_count),
    };
    let mut probe = Probe {
        context: Some(context),
        retry_count,
        ..Probe::default()
    };
    if let Some(name) = &config.error_caused_by_state {
        let inside = matches!(ty, "Map" | "Parallel") && contains_state(&located.state, name);
        if !inside {
            return Err(invalid(format!(
                "ErrorCausedByState '{name}' must be a state inside the tested Map or Parallel state"
            )));
        }
        if test.mock.as_ref().is_none_or(|m| m.error_output.is_none()) {
            return Err(invalid(
                "TestState supports ErrorCausedByState only with a mocked errorOutput.",
            ));
        }
    }
    if let Some(text) = &config.map_item_reader_data {
        if ty != "Map" || !located.state.contains_key("ItemReader") {
            return Err(invalid(
                "MapItemReaderData is supported only for a Map state with an ItemReader.",
            ));
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => probe.reader_items = Some(items),
            _ => return Err(invalid("MapItemReaderData must be a JSON array.")),
        }
    }
    if matches!(ty, "Map" | "Parallel")
        && let Some(mock) = &test.mock
    {
        probe.iterations = Some(match (&mock.result, &mock.error_output) {
            (Some(text), _) => Ok(serde_json::from_str(text).unwrap_or(Value::Null)),
            (None, Some(failure)) => Err(failure.clone()),
            (None, None) => Ok(Value::Null),
        });
    }
    if let Some(n) = config.map_iteration_failure_count {
        probe.map_failures = map_failures(n, ty, probe.iterations.as_ref())?;
    }
    Ok(probe)
}

fn map_failures(n: i64, ty: &str, iterations: Option<&Result<Value, TaskFailure>>) -> Result<u64, Refusal> {
    if ty != "Map" {
        return Err(invalid(
            "MapIterationFailureCount is supported only for Map states.",
        ));
    }
    let n =
        u64::try_from(n).map_err(|_| invalid("MapIterationFailureCount must be a non-negative integer"))?;
    let total = match iterations {
        Some(Ok(Value::Array(items))) => items.len() as u64,
        _ => u64::MAX,
    };
    if n > total {
        return Err(invalid(
            "Map iteration failure count must be less than or equal to the number of Map iterations",
        ));
    }
    Ok(n)
}

/// Whether `name` is a state inside a Map's processor or a Parallel's branches.
fn contains_state(state: &Map<String, Value>, name: &str) -> bool {
    let mut scope = Map::new();
    scope.insert("States".into(), json!({"_": state}));
    find(&scope, name, 0).is_some()
}

/// The context object AWS builds when the request gives none: an EXPRESS execution of a
/// machine named for the test, entered now.
fn default_context(
    test: &StateTest,
    name: &str,
    info: &ExecutionInfo,
    clock: &dyn Clock,
    retry_count: u32,
) -> Value {
    let now = super::format_iso(clock.now_ms());
    json!({
        "Execution": {
            "Id": info.execution_arn, "Input": test.input, "Name": info.name,
            "RoleArn": info.role_arn, "StartTime": now,
        },
        "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
        "State": {"Name": name, "EnteredTime": now, "RetryCount": retry_count},
    })
}

/// The fields a given context object may have, by section.
const CONTEXT_FIELDS: &[(&str, &[&str])] = &[
    (
        "Execution",
        &[
            "Id",
            "Input",
            "Name",
            "RoleArn",
            "StartTime",
            "RedriveCount",
            "RedriveTime",
        ],
    ),
    ("State", &["EnteredTime", "Name", "RetryCount"]),
    ("StateMachine", &["Id", "Name"]),
    ("Task", &["Token"]),
];

fn check_context(context: &Value, state: &Map<String, Value>, ty: &str) -> Result<(), Refusal> {
    let bad = |m: String| invalid(format!("Invalid Context object provided: {m}"));
    let Some(sections) = context.as_object() else {
        return Err(bad("The context object must be a JSON object".into()));
    };
    for (section, value) in sections {
        let Some((_, allowed)) = CONTEXT_FIELDS.iter().find(|(s, _)| s == section) else {
            return Err(bad(format!("Field '{section}' is not allowed")));
        };
        let Some(fields) = value.as_object() else {
            return Err(bad(format!("Field '{section}' must be an object")));
        };
        if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(bad(format!("Field '{unknown}' is not allowed")));
        }
    }
    let resource = state.get("Resource").and_then(Value::as_str).unwrap_or("");
    let callback = ty == "Task" && (resource.ends_with(".waitForTaskToken") || resource.contains(".sync"));
    if sections.contains_key("Task") && !callback {
        return Err(bad(
            "Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern".into(),
        ));
    }
    Ok(())
}

/// A mocked Task's one answer.
struct MockedCall(Result<Value, TaskFailure>);

impl Tasks for MockedCall {
    fn call(&self, _: &TaskCall<'_>) -> Result<Value, TaskFailure> {
        self.0.clone()
    }
}

fn mocked_call(mock: &Mock) -> MockedCall {
    MockedCall(match (&mock.result, &mock.error_output) {
        (Some(text), _) => Ok(serde_json::from_str(text).unwrap_or(Value::Null)),
        (None, Some(failure)) => Err(failure.clone()),
        (None, None) => Ok(Value::Null),
    })
}

/// Which recorded steps AWS shows for a state: by type and query language (a Pass with `Result`
/// shows its result instead of its input's steps).
fn shown(state: &Map<String, Value>, ql: QueryLanguage) -> &'static [&'static str] {
    let ty = state.get("Type").and_then(Value::as_str).unwrap_or("");
    let jsonpath = ql == QueryLanguage::JsonPath;
    match (ty, jsonpath) {
        ("Pass", true) if state.contains_key("Result") => {
            &["result", "afterResultSelector", "afterResultPath"]
        }
        ("Pass", true) => &[
            "afterInputPath",
            "afterParameters",
            "afterResultSelector",
            "afterResultPath",
        ],
        ("Task", true) => &[
            "afterInputPath",
            "afterParameters",
            "result",
            "afterResultSelector",
            "afterResultPath",
        ],
        ("Task", false) => &["afterArguments", "result"],
        ("Map", true) => &[
            "afterInputPath",
            "afterItemsPath",
            "afterResultSelector",
            "afterResultPath",
            "maxConcurrency",
            "toleratedFailureCount",
            "toleratedFailurePercentage",
        ],
        ("Map", false) => &[
            "maxConcurrency",
            "toleratedFailureCount",
            "toleratedFailurePercentage",
        ],
        ("Parallel", true) => &["afterResultSelector", "afterResultPath"],
        ("Choice" | "Wait" | "Succeed", true) => &["afterInputPath"],
        _ => &[],
    }
}

/// `inspectionData`: the input, the recorded steps AWS shows for this state, the variables the
/// state assigned, and what Retry or Catch decided.
fn inspection(
    test: &StateTest,
    located: &Located,
    mut trace: Map<String, Value>,
    probe: &Probe,
    frame: &Frame,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("input".into(), test.input.clone());
    for key in shown(&located.state, located.ql) {
        if let Some(v) = trace.remove(*key) {
            out.insert((*key).to_string(), v);
        }
    }
    if frame.vars != test.variables {
        out.insert("variables".into(), Value::Object(frame.vars.clone()));
    }
    let mut details = Map::new();
    if let Some((index, _, _)) = &probe.caught {
        details.insert("catchIndex".into(), json!(index));
    }
    if let Some((index, seconds)) = probe.retriable {
        details.insert("retryBackoffIntervalSeconds".into(), json!(seconds));
        details.insert("retryIndex".into(), json!(index));
    }
    if let Some(index) = probe.exhausted {
        details.insert("retryIndex".into(), json!(index));
    }
    if !details.is_empty() {
        out.insert("errorDetails".into(), Value::Object(details));
    }
    out
}
