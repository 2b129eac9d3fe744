//! What a state's evaluation sees and returns, shared by the loop, the data flow and the state
//! handlers: [`Cx`] (the state, its context object and its [`DataFlow`]), [`Frame`] (variables and
//! query language of a scope), [`Step`], [`Abort`], [`Env`] (the caller's clock and randomness and
//! the run's parsed paths), and the [`DataFlow`] interface itself.
//!
//! Must not: evaluate anything: the two [`DataFlow`] implementations, and the one place that
//! picks between them, are in `dataflow.rs` (kept apart so neither file imports the other back).

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::payload::Parsed;
use super::{Clock, Random};
use crate::asl::model::QueryLanguage;

/// What the data flow of a run needs from its caller, and the run's parsed paths.
pub(super) struct Env<'a> {
    pub(super) clock: &'a dyn Clock,
    pub(super) random: &'a dyn Random,
    /// The definition's paths and intrinsic calls, parsed on first use.
    pub(super) parsed: Parsed,
    /// What a tested state's data flow produced, step by step (`afterInputPath`, `result`, ...):
    /// TestState's `inspectionData`. `None` outside TestState: nothing is recorded.
    pub(super) trace: RefCell<Option<Map<String, Value>>>,
}

impl Env<'_> {
    /// Records one step of the data flow for TestState's `inspectionData` (a no-op otherwise).
    pub(super) fn note(&self, key: &str, value: impl FnOnce() -> Value) {
        if let Some(trace) = self.trace.borrow_mut().as_mut() {
            trace.insert(key.to_string(), value());
        }
    }
}

/// Why a run of states stopped early.
#[derive(Debug, Clone)]
pub(super) enum Abort {
    /// A failure with AWS's error name and cause (a Fail state may leave both out).
    Error {
        error: Option<String>,
        cause: Option<String>,
    },
    /// `StopExecution`.
    Stopped,
    /// The machine's `TimeoutSeconds` passed.
    TimedOut,
}

pub(super) fn fail(error: &str, cause: impl Into<String>) -> Abort {
    Abort::Error {
        error: Some(error.to_string()),
        cause: Some(cause.into()),
    }
}

/// What TestState (`teststate.rs`) asks of a run of one state, and what the state's Retry and
/// Catch decided there: the retry and catch handlers and the Map and Parallel handlers read it;
/// `None` in an execution.
#[derive(Debug, Default)]
pub(super) struct Probe {
    /// The context object the state sees, instead of the execution's.
    pub(super) context: Option<Value>,
    /// How many retries the matching retrier already made (`retrierRetryCount`).
    pub(super) retry_count: u32,
    /// A Map's or Parallel's mocked result (or failure), in place of running its iterations.
    pub(super) iterations: Option<Result<Value, super::TaskFailure>>,
    /// How many of a mocked Map's iterations failed (`mapIterationFailureCount`).
    pub(super) map_failures: u64,
    /// A Map's items when its `ItemReader` would read them (`mapItemReaderData`).
    pub(super) reader_items: Option<Vec<Value>>,
    /// The retrier that would retry the error: its index and back-off in seconds.
    pub(super) retriable: Option<(usize, i64)>,
    /// The retrier that matched but has no attempts left.
    pub(super) exhausted: Option<usize>,
    /// The catcher that caught the error, with the error and cause.
    pub(super) caught: Option<(usize, Option<String>, Option<String>)>,
}

/// Variables and settings visible to a run of states (a machine, a branch, an iteration).
#[derive(Debug, Clone)]
pub(super) struct Frame {
    pub(super) vars: Map<String, Value>,
    pub(super) ql: QueryLanguage,
    /// Path of the enclosing state in the definition, for [`super::TaskCall::state_path`].
    pub(super) prefix: String,
}

/// A state that finished: its output, where to go, and the variables it assigns.
pub(super) struct Step {
    pub(super) output: Value,
    pub(super) next: Option<String>,
    pub(super) assign: Option<Map<String, Value>>,
}

/// What a state's evaluation knows about the state.
#[derive(Clone)]
pub(super) struct Cx<'s> {
    pub(super) name: &'s str,
    pub(super) st: &'s Map<String, Value>,
    pub(super) entered_id: u64,
    pub(super) ql: QueryLanguage,
    /// How this state's fields move data: chosen once, from `ql`.
    pub(super) flow: &'static dyn DataFlow,
    pub(super) context: Value,
}

impl Cx<'_> {
    /// A cause about this state: AWS prefixes it with the state and its event id in an
    /// execution; TestState (no history, `entered_id` 0) gives the detail alone.
    pub(super) fn prefix(&self, detail: &str) -> String {
        if self.entered_id == 0 {
            return detail.to_string();
        }
        format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). {detail}",
            self.name, self.entered_id
        )
    }
    pub(super) fn runtime(&self, detail: impl AsRef<str>) -> Abort {
        fail("States.Runtime", self.prefix(detail.as_ref()))
    }
    pub(super) fn query_error(&self, detail: impl AsRef<str>) -> Abort {
        fail("States.QueryEvaluationError", self.prefix(detail.as_ref()))
    }
    pub(super) fn field(&self, key: &str) -> Option<&Value> {
        self.st.get(key)
    }
}

/// A JSON object: a state, a Choice rule, a catcher, the assigned variables.
pub(super) type Obj = Map<String, Value>;

/// What evaluating a state or one of its fields gives: a value, or why the run stops.
pub(super) type Eval<T> = Result<T, Abort>;

/// A state's output and the variables it assigns.
pub(super) type Handed = (Value, Option<Obj>);

/// The state being evaluated, as the data flow reads it: the run's [`Env`], the state's [`Cx`]
/// and its scope's [`Frame`].
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    pub(super) env: &'a Env<'a>,
    pub(super) cx: &'a Cx<'a>,
    pub(super) frame: &'a Frame,
}

/// How a state's fields turn its input into its work's input, its output and its assignments.
pub(super) trait DataFlow: Sync {
    /// The input the state's fields read: after `InputPath` (JSONPath), or the input (JSONata).
    fn effective(&self, at: At<'_>, input: &Value) -> Eval<Value>;

    /// The input of a Task's call or a Parallel's branches: `Parameters` over the effective
    /// input, or `Arguments`.
    fn arguments(&self, at: At<'_>, input: &Value) -> Eval<Value>;

    /// A Pass state's output and assignments.
    fn pass(&self, at: At<'_>, input: Value) -> Eval<Step>;

    /// The output and assignments of a Task, Parallel or Map state from its `result`.
    fn finish(&self, at: At<'_>, input: &Value, result: Value) -> Eval<Step>;

    /// A Succeed state's output.
    fn output(&self, at: At<'_>, input: Value) -> Eval<Value>;

    /// The output and assignments of a state that hands its input on (Choice, Wait), with
    /// `holder` the matched Choice rule or the state itself.
    fn pass_on(&self, at: At<'_>, holder: &Obj, input: &Value, effective: &Value) -> Eval<Handed>;

    /// Whether a Choice rule matches.
    fn condition(&self, at: At<'_>, rule: &Obj, input: &Value, effective: &Value) -> Eval<bool>;

    /// A Fail state's `Error` or `Cause` (`key`).
    fn fail_field(&self, at: At<'_>, input: &Value, key: &str) -> Eval<Option<String>>;

    /// When a Wait state ends, in epoch milliseconds (`now` when it has no time field).
    fn wait_until(&self, at: At<'_>, effective: &Value, now: i64) -> Eval<i64>;

    /// A Task's `TimeoutSeconds` or `HeartbeatSeconds` (`key`).
    fn seconds(&self, at: At<'_>, input: &Value, key: &str) -> Eval<Option<u64>>;

    /// The output and assignments of a Catch (`catcher`) from the error output.
    fn caught(&self, at: At<'_>, catcher: &Obj, input: Value, error_output: Value) -> Eval<Step>;

    /// A Map state's items, before `ItemSelector`.
    fn map_items(&self, at: At<'_>, input: &Value, effective: &Value) -> Eval<Vec<Value>>;

    /// A number field of Map (`MaxConcurrency`, `ToleratedFailure*`) from its literal, its
    /// `...Path` or its expression: a float for `ToleratedFailurePercentage`, else an integer.
    fn map_number(&self, at: At<'_>, key: &str, input: &Value, effective: &Value) -> Eval<Option<f64>>;

    /// One item through `ItemSelector` (`item_cx` carries the item in its context object).
    fn select_item(&self, at: At<'_>, selector: &Value, input: &Value, effective: &Value) -> Eval<Value>;

    /// An `ItemBatcher`'s `BatchInput`.
    fn batch_input(&self, at: At<'_>, template: &Value, input: &Value, effective: &Value) -> Eval<Value>;
}
