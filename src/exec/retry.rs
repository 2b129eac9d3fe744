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
            if self.probe.is_some() {
                return self.tested(cx, &retriers, input, frame, (error, cause));
            }
            if let Some(i) = retriers.iter().position(|r| matches_error(r, &name)) {
                let r = retriers[i];
                if counts[i] < max_attempts(r) {
                    let mut delay = backoff(r, counts[i]);
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
            return match catcher(cx, &name) {
                Some((_, catcher)) => self.catch(cx, catcher, input, frame, (error, cause)),
                None => Err(Abort::Error { error, cause }),
            };
        }
    }

    /// TestState's one attempt: the error is RETRIABLE when the matching retrier has attempts
    /// left after `retrierRetryCount` retries, else caught by the first matching catcher, else
    /// the state's failure. The decision is left in the probe.
    fn tested(
        &mut self,
        cx: &Cx<'_>,
        retriers: &[&Map<String, Value>],
        input: Value,
        frame: &Frame,
        (error, cause): (Option<String>, Option<String>),
    ) -> Eval<Step> {
        let name = error.clone().unwrap_or_default();
        let Some(probe) = self.probe.as_mut() else {
            return Err(Abort::Error { error, cause });
        };
        if let Some(i) = retriers.iter().position(|r| matches_error(r, &name)) {
            let done = u64::from(probe.retry_count);
            if done < max_attempts(retriers[i]) {
                probe.retriable = Some((i, backoff(retriers[i], done) as i64));
                return Err(Abort::Error { error, cause });
            }
            probe.exhausted = Some(i);
        }
        let Some((index, catcher)) = catcher(cx, &name) else {
            return Err(Abort::Error { error, cause });
        };
        probe.caught = Some((index, error.clone(), cause.clone()));
        self.catch(cx, catcher, input, frame, (error, cause))
    }

    /// The catcher's output and its `Next`.
    fn catch(
        &mut self,
        cx: &Cx<'_>,
        catcher: &Map<String, Value>,
        input: Value,
        frame: &Frame,
        (error, cause): (Option<String>, Option<String>),
    ) -> Eval<Step> {
        let error_output = json!({"Error": error, "Cause": cause});
        let next = catcher.get("Next").and_then(Value::as_str).map(str::to_string);
        let step = cx.flow.caught(self.at(cx, frame), catcher, input, error_output)?;
        Ok(Step { next, ..step })
    }
}

fn max_attempts(retrier: &Map<String, Value>) -> u64 {
    retrier.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(3)
}

/// The wait before retry number `done + 1`, in seconds, without jitter.
fn backoff(retrier: &Map<String, Value>, done: u64) -> f64 {
    let interval = retrier
        .get("IntervalSeconds")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    let rate = retrier.get("BackoffRate").and_then(Value::as_f64).unwrap_or(2.0);
    let delay = interval * rate.powi(i32::try_from(done).unwrap_or(i32::MAX));
    match retrier.get("MaxDelaySeconds").and_then(Value::as_f64) {
        Some(max) => delay.min(max),
        None => delay,
    }
}

/// The first catcher whose `ErrorEquals` covers `name`, with its index.
fn catcher<'s>(cx: &'s Cx<'_>, name: &str) -> Option<(usize, &'s Map<String, Value>)> {
    cx.field("Catch")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_object)
        .enumerate()
        .find(|(_, c)| matches_error(c, name))
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
