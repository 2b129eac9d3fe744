//! Retry and Catch around Task, Parallel and Map: attempts with back-off on the caller's clock
//! (jitter from the caller's [`super::Random`]), then the first matching catcher.
//!
//! Must not: know what the state does (the attempt is the state's handler) or how its data flows
//! (the catcher's output is [`super::cx::DataFlow::caught`]).

use serde_json::{Map, Value, json};

use super::cx::{Abort, Cx, Eval, Frame, Step};
use super::interpreter::Interpreter;

impl Interpreter<'_> {
    pub(super) fn with_retry(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Eval<Step> {
        let retriers: Vec<&Map<String, Value>> = cx
            .field("Retry")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default();
        let mut counts = vec![0u64; retriers.len()];
        let mut attempt = 0u32;
        loop {
            let result = match cx.st.get("Type").and_then(Value::as_str) {
                Some("Task") => self.task(cx, &input, frame, attempt),
                Some("Parallel") => self.parallel(cx, &input, frame),
                _ => self.map(cx, &input, frame),
            };
            let (error, cause) = match result {
                Ok(step) => return Ok(step),
                Err(Abort::Error { error, cause }) => (error, cause),
                Err(other) => return Err(other),
            };
            let name = error.clone().unwrap_or_default();
            if let Some(i) = retriers.iter().position(|r| matches_error(r, &name)) {
                let r = retriers[i];
                let max = r.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(3);
                if counts[i] < max {
                    let interval = r.get("IntervalSeconds").and_then(Value::as_f64).unwrap_or(1.0);
                    let rate = r.get("BackoffRate").and_then(Value::as_f64).unwrap_or(2.0);
                    let mut delay = interval * rate.powi(counts[i] as i32);
                    if let Some(max_delay) = r.get("MaxDelaySeconds").and_then(Value::as_f64) {
                        delay = delay.min(max_delay);
                    }
                    if r.get("JitterStrategy").and_then(Value::as_str) == Some("FULL") {
                        delay *= self.env.random.f64();
                    }
                    counts[i] += 1;
                    attempt += 1;
                    let until = self.env.clock.now_ms() + (delay * 1000.0) as i64;
                    self.sleep_until(until)?;
                    continue;
                }
            }
            let catchers = cx.field("Catch").and_then(Value::as_array);
            let catcher = catchers.and_then(|c| {
                c.iter()
                    .filter_map(Value::as_object)
                    .find(|c| matches_error(c, &name))
            });
            let Some(catcher) = catcher else {
                return Err(Abort::Error { error, cause });
            };
            let error_output = json!({"Error": error, "Cause": cause});
            let next = catcher.get("Next").and_then(Value::as_str).map(str::to_string);
            let step = cx.flow.caught(self.at(cx, frame), catcher, input, error_output)?;
            return Ok(Step { next, ..step });
        }
    }
}

/// Whether a retrier or catcher's `ErrorEquals` covers `name`.
fn matches_error(holder: &Map<String, Value>, name: &str) -> bool {
    let Some(names) = holder.get("ErrorEquals").and_then(Value::as_array) else {
        return false;
    };
    names.iter().filter_map(Value::as_str).any(|e| {
        e == name
            || (e == "States.ALL" && !matches!(name, "States.Runtime" | "States.DataLimitExceeded"))
            || (e == "States.TaskFailed" && name != "States.Timeout" && !name.starts_with("States.")
                || e == "States.TaskFailed" && name == "States.TaskFailed")
    })
}
