//! The ASL interpreter (SPEC §7), pure: [`Interpreter`] (or [`run`]) walks a definition and
//! returns AWS's history events; status, output, error and cause are views of them.
//!
//! It never does I/O: Task states call [`Tasks`] (the sandbox fills it with Lambda stand-ins, a
//! workflow test with mocks), Wait states and retry back-off sleep on [`Clock`] (real in the
//! sandbox, simulated in tests), and `States.UUID`, `States.MathRandom` and retry jitter draw from
//! [`Random`] (real in the sandbox, seeded in `test` so a failing case replays). It never knows
//! which of the two it runs in.
//!
//! Inside: `interpreter.rs` (the loop, the context object, history), `dataflow.rs` (JSONPath vs
//! JSONata, decided once per state), `retry.rs` (Retry and Catch), `states/` (one file per state
//! type), `payload.rs` (JSONPath paths, templates, Choice rules) and `query.rs` (JSONata);
//! `teststate.rs` runs one state as AWS's `TestState` does, `mock_shapes.rs` checks its mocked
//! results against the service integrations' response shapes.
//!
//! Parallel branches and Map iterations run one after another, in order; their results and the
//! history are the same as AWS's, but with a real clock the Waits inside them add up.

mod cx;
mod dataflow;
mod history;
mod interpreter;
mod mock_shapes;
mod payload;
pub mod query;
mod retry;
mod states;
pub mod teststate;
mod time;

use serde_json::{Value, json};

pub use history::Event;
pub use interpreter::Interpreter;
pub use mock_shapes::FieldValidation;
pub use time::{format_iso, parse_iso};

/// A Task state's call, as the interpreter hands it to [`Tasks`].
#[derive(Debug, Clone)]
pub struct TaskCall<'a> {
    /// The state's `Resource` (`arn:aws:states:::lambda:invoke`, a function ARN, ...).
    pub resource: &'a str,
    /// The effective parameters (`Parameters` or `Arguments`, evaluated).
    pub payload: &'a Value,
    /// The state's path in the definition (`Parallel.Branches[0].SumValues`).
    pub state_path: &'a str,
    /// `TimeoutSeconds` of the state, if any.
    pub timeout_seconds: Option<u64>,
    /// `HeartbeatSeconds` of the state, if any.
    pub heartbeat_seconds: Option<u64>,
}

/// A failed task: AWS's error name and cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
}

/// The service calls of Task states.
pub trait Tasks: Sync {
    /// Runs one task; `Ok` is the task's result, as the service returns it.
    fn call(&self, call: &TaskCall<'_>) -> Result<Value, TaskFailure>;
}

/// Time, as the caller wants it to pass.
pub trait Clock: Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Waits until `deadline_ms`; returns `false` if the execution was stopped meanwhile.
    fn sleep_until(&self, deadline_ms: i64) -> bool;
    /// Whether the execution was stopped (`StopExecution`).
    fn stopped(&self) -> bool {
        false
    }
}

/// Where the interpreter's randomness comes from.
pub trait Random: Sync {
    /// A number in `[0, 1)`.
    fn f64(&self) -> f64;
}

/// The thread's random generator (the sandbox: every execution differs).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRandom;

impl Random for ThreadRandom {
    fn f64(&self) -> f64 {
        fastrand::f64()
    }
}

/// A generator from a seed: the same seed draws the same numbers (workflow tests replay).
#[derive(Debug)]
pub struct SeededRandom {
    rng: std::sync::Mutex<fastrand::Rng>,
}

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom {
            rng: std::sync::Mutex::new(fastrand::Rng::with_seed(seed)),
        }
    }
}

impl Random for SeededRandom {
    fn f64(&self) -> f64 {
        self.rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .f64()
    }
}

/// A clock that never sleeps: each wait moves it forward (workflow tests, the oracle's Waits).
#[derive(Debug)]
pub struct SimulatedClock {
    now: std::sync::atomic::AtomicI64,
}

impl SimulatedClock {
    /// A clock starting at `start_ms`.
    pub fn new(start_ms: i64) -> Self {
        SimulatedClock {
            now: std::sync::atomic::AtomicI64::new(start_ms),
        }
    }
}

impl Clock for SimulatedClock {
    fn now_ms(&self) -> i64 {
        self.now.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn sleep_until(&self, deadline_ms: i64) -> bool {
        self.now
            .fetch_max(deadline_ms, std::sync::atomic::Ordering::Relaxed);
        true
    }
}

/// Who and what is running: the values of the context object's `Execution` and `StateMachine`.
#[derive(Debug, Clone)]
pub struct ExecutionInfo {
    pub execution_arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub role_arn: String,
    /// EXPRESS (no `RedriveCount` in the context object) or STANDARD.
    pub express: bool,
    /// The region, for `TaskScheduled` events.
    pub region: String,
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl Status {
    /// AWS's name (`SUCCEEDED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }
}

/// A finished execution: its history and the views of it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub events: Vec<Event>,
    pub status: Status,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_ms: i64,
    pub stop_ms: i64,
}

/// Largest state output or execution result Step Functions allows (256 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Runs a definition to its end with the thread's randomness ([`Interpreter::run`] with
/// [`ThreadRandom`]).
pub fn run(
    definition: &Value,
    input: Value,
    info: &ExecutionInfo,
    tasks: &dyn Tasks,
    clock: &dyn Clock,
) -> Outcome {
    Interpreter::new(info, tasks, clock, &ThreadRandom).run(definition, input)
}

/// The Lambda result shape of `arn:aws:states:::lambda:invoke` around a function's payload.
pub fn lambda_invoke_result(payload: Value) -> Value {
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "Content-Type": ["application/json"],
                "X-Amz-Executed-Version": ["$LATEST"],
            },
            "HttpHeaders": {
                "Content-Type": "application/json",
                "X-Amz-Executed-Version": "$LATEST",
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": "00000000-0000-4000-8000-000000000000"},
        "StatusCode": 200,
    })
}

#[cfg(test)]
mod tests;
