//! The state loop: one function per state type, Retry and Catch, the context object, history.

use serde_json::{Map, Value, json};

use super::history::Event;
use super::payload::{self, Parsed, PathError, Scope};
use super::query;
use super::{Clock, ExecutionInfo, MAX_PAYLOAD_BYTES, Outcome, Status, TaskCall, Tasks};

/// Why a run of states stopped early.
#[derive(Debug, Clone)]
pub(crate) enum Abort {
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

fn fail(error: &str, cause: impl Into<String>) -> Abort {
    Abort::Error {
        error: Some(error.to_string()),
        cause: Some(cause.into()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ql {
    JsonPath,
    Jsonata,
}

fn ql_of(v: Option<&Value>, default: Ql) -> Ql {
    match v.and_then(Value::as_str) {
        Some("JSONata") => Ql::Jsonata,
        Some("JSONPath") => Ql::JsonPath,
        _ => default,
    }
}

/// Variables and settings visible to a run of states (a machine, a branch, an iteration).
#[derive(Debug, Clone)]
struct Frame {
    vars: Map<String, Value>,
    ql: Ql,
    /// Path of the enclosing state in the definition, for [`TaskCall::state_path`].
    prefix: String,
}

/// A state that finished: its output, where to go, and the variables it assigns.
struct Step {
    output: Value,
    next: Option<String>,
    assign: Option<Map<String, Value>>,
}

/// What a state's evaluation knows about the state.
struct Cx<'s> {
    name: &'s str,
    st: &'s Map<String, Value>,
    entered_id: u64,
    ql: Ql,
    context: Value,
}

impl Cx<'_> {
    fn prefix(&self, detail: &str) -> String {
        format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). {detail}",
            self.name, self.entered_id
        )
    }
    fn runtime(&self, detail: impl AsRef<str>) -> Abort {
        fail("States.Runtime", self.prefix(detail.as_ref()))
    }
    fn query_error(&self, detail: impl AsRef<str>) -> Abort {
        fail("States.QueryEvaluationError", self.prefix(detail.as_ref()))
    }
    fn field(&self, key: &str) -> Option<&Value> {
        self.st.get(key)
    }
}

pub(crate) struct Engine<'a> {
    info: &'a ExecutionInfo,
    tasks: &'a dyn Tasks,
    clock: &'a dyn Clock,
    events: Vec<Event>,
    start_ms: i64,
    deadline: Option<i64>,
    /// The definition's paths and intrinsic calls, parsed on first use.
    parsed: Parsed,
}

impl<'a> Engine<'a> {
    pub(crate) fn new(info: &'a ExecutionInfo, tasks: &'a dyn Tasks, clock: &'a dyn Clock) -> Self {
        Engine {
            info,
            tasks,
            clock,
            events: Vec::new(),
            start_ms: clock.now_ms(),
            deadline: None,
            parsed: Parsed::default(),
        }
    }

    fn push(&mut self, kind: &str, details: Option<Value>) -> u64 {
        let id = self.events.len() as u64 + 1;
        self.events.push(Event {
            id,
            previous_event_id: id - 1,
            timestamp_ms: self.clock.now_ms(),
            kind: kind.to_string(),
            details,
        });
        id
    }

    pub(crate) fn run(mut self, definition: &Value, input: Value) -> Outcome {
        self.push(
            "ExecutionStarted",
            Some(json!({
                "input": input.to_string(),
                "inputDetails": {"truncated": false},
                "roleArn": self.info.role_arn,
            })),
        );
        let execution_input = input.clone();
        let result = match definition.as_object() {
            Some(def) => {
                if let Some(t) = def.get("TimeoutSeconds").and_then(Value::as_u64) {
                    self.deadline = Some(self.start_ms + (t as i64) * 1000);
                }
                let frame = Frame {
                    vars: Map::new(),
                    ql: ql_of(def.get("QueryLanguage"), Ql::JsonPath),
                    prefix: String::new(),
                };
                self.machine(def, input, &frame, &execution_input)
            }
            None => Err(fail("States.Runtime", "The definition is not a JSON object")),
        };
        let (status, output, error, cause) = match result {
            Ok(output) => {
                self.push(
                    "ExecutionSucceeded",
                    Some(json!({"output": output.to_string(), "outputDetails": {"truncated": false}})),
                );
                (Status::Succeeded, Some(output), None, None)
            }
            Err(Abort::Error { error, cause }) => {
                let mut d = Map::new();
                if let Some(e) = &error {
                    d.insert("error".into(), json!(e));
                }
                if let Some(c) = &cause {
                    d.insert("cause".into(), json!(c));
                }
                self.push("ExecutionFailed", Some(Value::Object(d)));
                (Status::Failed, None, error, cause)
            }
            Err(Abort::TimedOut) => {
                self.push("ExecutionTimedOut", Some(json!({})));
                (Status::TimedOut, None, None, None)
            }
            Err(Abort::Stopped) => {
                self.push("ExecutionAborted", Some(json!({})));
                (Status::Aborted, None, None, None)
            }
        };
        Outcome {
            stop_ms: self.clock.now_ms(),
            start_ms: self.start_ms,
            events: self.events,
            status,
            output,
            error,
            cause,
        }
    }

    fn check_time(&self) -> Result<(), Abort> {
        if self.clock.stopped() {
            return Err(Abort::Stopped);
        }
        match self.deadline {
            Some(d) if self.clock.now_ms() >= d => Err(Abort::TimedOut),
            _ => Ok(()),
        }
    }

    /// Sleeps on the clock, cut short by the execution's deadline or a stop.
    fn sleep_until(&self, until: i64) -> Result<(), Abort> {
        let target = self.deadline.map_or(until, |d| d.min(until));
        if !self.clock.sleep_until(target) {
            return Err(Abort::Stopped);
        }
        if target < until {
            return Err(Abort::TimedOut);
        }
        self.check_time()
    }

    fn context(&self, state: &str, entered_ms: i64, retry: Option<u32>, execution_input: &Value) -> Value {
        let mut execution = json!({
            "Id": self.info.execution_arn,
            "Input": execution_input,
            "StartTime": super::format_iso(self.start_ms),
            "Name": self.info.name,
            "RoleArn": self.info.role_arn,
        });
        if !self.info.express {
            execution["RedriveCount"] = json!(0);
        }
        let mut st = json!({"Name": state, "EnteredTime": super::format_iso(entered_ms)});
        if let Some(n) = retry {
            st["RetryCount"] = json!(n);
        }
        json!({
            "Execution": execution,
            "StateMachine": {"Id": self.info.state_machine_arn, "Name": self.info.state_machine_name},
            "State": st,
        })
    }

    /// Runs `StartAt` … an end state of a machine or branch.
    fn machine(
        &mut self,
        def: &Map<String, Value>,
        input: Value,
        outer: &Frame,
        execution_input: &Value,
    ) -> Result<Value, Abort> {
        let states = def
            .get("States")
            .and_then(Value::as_object)
            .ok_or_else(|| fail("States.Runtime", "The definition has no States"))?;
        let mut name = def
            .get("StartAt")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("States.Runtime", "The definition has no StartAt"))?
            .to_string();
        let mut frame = outer.clone();
        frame.ql = ql_of(def.get("QueryLanguage"), outer.ql);
        let mut input = input;
        loop {
            self.check_time()?;
            let st = states
                .get(&name)
                .and_then(Value::as_object)
                .ok_or_else(|| fail("States.Runtime", format!("The state '{name}' does not exist")))?;
            let step = self.state(&name, st, input, &mut frame, execution_input)?;
            match step.next {
                Some(next) => {
                    name = next;
                    input = step.output;
                }
                None => return Ok(step.output),
            }
        }
    }

    fn state(
        &mut self,
        name: &str,
        st: &Map<String, Value>,
        input: Value,
        frame: &mut Frame,
        execution_input: &Value,
    ) -> Result<Step, Abort> {
        let ty = st.get("Type").and_then(Value::as_str).unwrap_or("");
        let ql = ql_of(st.get("QueryLanguage"), frame.ql);
        let entered_id = self.push(
            &format!("{ty}StateEntered"),
            Some(json!({"name": name, "input": input.to_string(), "inputDetails": {"truncated": false}})),
        );
        let entered_ms = self.clock.now_ms();
        let retry = (ty == "Task").then_some(0);
        let cx = Cx {
            name,
            st,
            entered_id,
            ql,
            context: self.context(name, entered_ms, retry, execution_input),
        };
        let step = match ty {
            "Pass" => self.pass(&cx, input, frame),
            "Choice" => self.choice(&cx, input, frame),
            "Wait" => self.wait(&cx, input, frame),
            "Succeed" => self.succeed(&cx, input, frame),
            "Fail" => return Err(self.fail_state(&cx, &input, frame)),
            "Task" | "Parallel" | "Map" => self.with_retry(&cx, input, frame, execution_input),
            other => Err(fail("States.Runtime", format!("Unknown state type '{other}'"))),
        }?;
        let size = step.output.to_string().len();
        if size > MAX_PAYLOAD_BYTES {
            return Err(fail(
                "States.DataLimitExceeded",
                format!(
                    "The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit."
                ),
            ));
        }
        if let Some(assign) = &step.assign {
            for (k, v) in assign {
                frame.vars.insert(k.clone(), v.clone());
            }
        }
        if ty != "Fail" {
            self.push(
                &format!("{ty}StateExited"),
                Some(json!({"name": name, "output": step.output.to_string(), "outputDetails": {"truncated": false}})),
            );
        }
        let next = if ty == "Succeed" {
            None
        } else if step.next.is_some() {
            step.next
        } else if st.get("End") == Some(&Value::Bool(true)) {
            None
        } else {
            st.get("Next").and_then(Value::as_str).map(str::to_string)
        };
        Ok(Step { next, ..step })
    }

    // ---- data flow helpers ----

    fn scope<'s>(&'s self, input: &'s Value, cx: &'s Cx<'_>, frame: &'s Frame) -> Scope<'s> {
        Scope {
            input,
            context: &cx.context,
            vars: &frame.vars,
            parsed: &self.parsed,
        }
    }

    /// `InputPath` / `OutputPath`: `$` by default, `null` gives `{}`.
    fn filter_path(&self, cx: &Cx<'_>, key: &str, value: &Value, frame: &Frame) -> Result<Value, Abort> {
        match cx.field(key) {
            None => Ok(value.clone()),
            Some(Value::Null) => Ok(json!({})),
            Some(Value::String(p)) => {
                payload::select(p, &self.scope(value, cx, frame)).map_err(|e| match e {
                    PathError::Missing => cx.runtime(format!(
                        "Invalid path '{p}' : No results for path: {}",
                        payload::bracket_notation(p)
                    )),
                    PathError::Invalid(m) => cx.runtime(m),
                })
            }
            Some(other) => Err(cx.runtime(format!("{key} must be a string, not {other}"))),
        }
    }

    fn template(&self, cx: &Cx<'_>, key: &str, input: &Value, frame: &Frame) -> Result<Option<Value>, Abort> {
        match cx.field(key) {
            None => Ok(None),
            Some(t) => payload::template(t, &self.scope(input, cx, frame))
                .map(Some)
                .map_err(|m| cx.runtime(m)),
        }
    }

    /// `ResultPath` (default `$`), applied to the raw state input.
    fn result_path(
        &self,
        cx: &Cx<'_>,
        key_holder: &Map<String, Value>,
        input: Value,
        result: Value,
    ) -> Result<Value, Abort> {
        let path = match key_holder.get("ResultPath") {
            None => Some("$"),
            Some(Value::Null) => None,
            Some(Value::String(p)) => Some(p.as_str()),
            Some(other) => return Err(cx.runtime(format!("ResultPath must be a string, not {other}"))),
        };
        payload::write_result(input, path, result, &self.parsed).map_err(|m| cx.runtime(m))
    }

    fn jsonpath_assign(
        &self,
        cx: &Cx<'_>,
        holder: &Map<String, Value>,
        value: &Value,
        frame: &Frame,
    ) -> Result<Option<Map<String, Value>>, Abort> {
        match holder.get("Assign") {
            None => Ok(None),
            Some(a) => {
                match payload::template(a, &self.scope(value, cx, frame)).map_err(|m| cx.runtime(m))? {
                    Value::Object(m) => Ok(Some(m)),
                    _ => Err(cx.runtime("Assign must be an object")),
                }
            }
        }
    }

    /// `$states` for JSONata expressions.
    fn states(
        &self,
        cx: &Cx<'_>,
        input: &Value,
        result: Option<&Value>,
        error_output: Option<&Value>,
    ) -> Value {
        let mut s = json!({"input": input, "context": cx.context});
        if let Some(r) = result {
            s["result"] = r.clone();
        }
        if let Some(e) = error_output {
            s["errorOutput"] = e.clone();
        }
        s
    }

    /// Evaluates a JSONata template: `{% %}` strings anywhere inside `v`.
    fn ja(&self, cx: &Cx<'_>, field: &str, v: &Value, states: &Value, frame: &Frame) -> Result<Value, Abort> {
        match v {
            Value::String(s) => match query::expression(s) {
                Some(expr) => match query::evaluate(expr, states, &frame.vars, self.clock.now_ms()) {
                    Ok(Some(v)) => Ok(v),
                    Ok(None) => Err(cx.query_error(format!(
                        "The JSONata expression '{expr}' specified for the field '{field}' returned nothing (undefined)."
                    ))),
                    Err(e) => Err(cx.query_error(format!(
                        "The JSONata expression '{expr}' specified for the field '{field}' threw an error during evaluation. {e}"
                    ))),
                },
                None => Ok(v.clone()),
            },
            Value::Object(m) => {
                let mut out = Map::with_capacity(m.len());
                for (k, x) in m {
                    out.insert(k.clone(), self.ja(cx, &format!("{field}/{k}"), x, states, frame)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(a) => a
                .iter()
                .map(|x| self.ja(cx, field, x, states, frame))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    fn ja_field(
        &self,
        cx: &Cx<'_>,
        holder: &Map<String, Value>,
        key: &str,
        states: &Value,
        frame: &Frame,
    ) -> Result<Option<Value>, Abort> {
        holder
            .get(key)
            .map(|v| self.ja(cx, key, v, states, frame))
            .transpose()
    }

    fn ja_assign(
        &self,
        cx: &Cx<'_>,
        holder: &Map<String, Value>,
        states: &Value,
        frame: &Frame,
    ) -> Result<Option<Map<String, Value>>, Abort> {
        match self.ja_field(cx, holder, "Assign", states, frame)? {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(cx.query_error("Assign must be an object")),
        }
    }

    // ---- the state types ----

    fn pass(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Result<Step, Abort> {
        if cx.ql == Ql::Jsonata {
            let states = self.states(cx, &input, None, None);
            let output = self
                .ja_field(cx, cx.st, "Output", &states, frame)?
                .unwrap_or_else(|| input.clone());
            let assign = self.ja_assign(cx, cx.st, &states, frame)?;
            return Ok(Step {
                output,
                next: None,
                assign,
            });
        }
        let effective = self.filter_path(cx, "InputPath", &input, frame)?;
        let result = match self.template(cx, "Parameters", &effective, frame)? {
            Some(p) => p,
            None => cx.field("Result").cloned().unwrap_or(effective),
        };
        let assign = self.jsonpath_assign(cx, cx.st, &result, frame)?;
        let output = self.result_path(cx, cx.st, input, result)?;
        let output = self.filter_path(cx, "OutputPath", &output, frame)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    fn succeed(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Result<Step, Abort> {
        if cx.ql == Ql::Jsonata {
            let states = self.states(cx, &input, None, None);
            let output = self
                .ja_field(cx, cx.st, "Output", &states, frame)?
                .unwrap_or(input);
            return Ok(Step {
                output,
                next: None,
                assign: None,
            });
        }
        let effective = self.filter_path(cx, "InputPath", &input, frame)?;
        let output = self.filter_path(cx, "OutputPath", &effective, frame)?;
        Ok(Step {
            output,
            next: None,
            assign: None,
        })
    }

    fn fail_state(&mut self, cx: &Cx<'_>, input: &Value, frame: &Frame) -> Abort {
        let pick = |this: &Self, key: &str| -> Result<Option<String>, Abort> {
            if cx.ql == Ql::Jsonata {
                let states = this.states(cx, input, None, None);
                return Ok(this.ja_field(cx, cx.st, key, &states, frame)?.map(|v| match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                }));
            }
            if let Some(v) = cx.field(key) {
                return Ok(v.as_str().map(str::to_string));
            }
            let path_key = format!("{key}Path");
            match cx.field(&path_key).and_then(Value::as_str) {
                None => Ok(None),
                Some(expr) => {
                    let sc = this.scope(input, cx, frame);
                    let v = payload::dynamic(&path_key, expr, &sc).map_err(|m| cx.runtime(m))?;
                    Ok(Some(match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    }))
                }
            }
        };
        let error = match pick(self, "Error") {
            Ok(e) => e,
            Err(abort) => return abort,
        };
        let cause = match pick(self, "Cause") {
            Ok(c) => c,
            Err(abort) => return abort,
        };
        Abort::Error { error, cause }
    }

    fn choice(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Result<Step, Abort> {
        let rules = cx
            .field("Choices")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if cx.ql == Ql::Jsonata {
            let states = self.states(cx, &input, None, None);
            for rule in rules.iter().filter_map(Value::as_object) {
                let cond = match rule.get("Condition") {
                    Some(c) => self.ja(cx, "Condition", c, &states, frame)?,
                    None => Value::Bool(false),
                };
                let Value::Bool(matched) = cond else {
                    return Err(cx.query_error(format!(
                        "The Condition of a Choice rule must be a boolean, but was: {cond}"
                    )));
                };
                if matched {
                    let output = self
                        .ja_field(cx, rule, "Output", &states, frame)?
                        .unwrap_or_else(|| input.clone());
                    let assign = self.ja_assign(cx, rule, &states, frame)?;
                    let next = rule.get("Next").and_then(Value::as_str).map(str::to_string);
                    return Ok(Step { output, next, assign });
                }
            }
            let Some(default) = cx.field("Default").and_then(Value::as_str) else {
                return Err(fail("States.NoChoiceMatched", "No Matches!"));
            };
            let output = self
                .ja_field(cx, cx.st, "Output", &states, frame)?
                .unwrap_or_else(|| input.clone());
            let assign = self.ja_assign(cx, cx.st, &states, frame)?;
            return Ok(Step {
                output,
                next: Some(default.to_string()),
                assign,
            });
        }
        let effective = self.filter_path(cx, "InputPath", &input, frame)?;
        let sc = self.scope(&effective, cx, frame);
        let mut chosen: Option<(&Map<String, Value>, String)> = None;
        for rule in rules.iter().filter_map(Value::as_object) {
            if payload::choice_rule(rule, &sc).map_err(|m| cx.runtime(m))? {
                let next = rule
                    .get("Next")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                chosen = Some((rule, next));
                break;
            }
        }
        let (holder, next) = match chosen {
            Some(c) => c,
            None => match cx.field("Default").and_then(Value::as_str) {
                Some(d) => (cx.st, d.to_string()),
                None => return Err(fail("States.NoChoiceMatched", "No Matches!")),
            },
        };
        let assign = self.jsonpath_assign(cx, holder, &effective, frame)?;
        let output = self.filter_path(cx, "OutputPath", &effective, frame)?;
        Ok(Step {
            output,
            next: Some(next),
            assign,
        })
    }

    fn wait(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Result<Step, Abort> {
        let now = self.clock.now_ms();
        let (until, output, assign) = if cx.ql == Ql::Jsonata {
            let states = self.states(cx, &input, None, None);
            let until = if let Some(s) = self.ja_field(cx, cx.st, "Seconds", &states, frame)? {
                match s.as_i64() {
                    Some(n) if n >= 0 => now + n * 1000,
                    _ => {
                        return Err(cx.query_error(format!(
                            "The Seconds field must be a non-negative integer, but was: {s}"
                        )));
                    }
                }
            } else if let Some(t) = self.ja_field(cx, cx.st, "Timestamp", &states, frame)? {
                let text = t.as_str().map_or_else(|| t.to_string(), str::to_string);
                super::parse_iso(&text).ok_or_else(|| {
                    cx.query_error(format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                    ))
                })?
            } else {
                now
            };
            let output = self
                .ja_field(cx, cx.st, "Output", &states, frame)?
                .unwrap_or_else(|| input.clone());
            let assign = self.ja_assign(cx, cx.st, &states, frame)?;
            (until, output, assign)
        } else {
            let effective = self.filter_path(cx, "InputPath", &input, frame)?;
            let sc = self.scope(&effective, cx, frame);
            let until = if let Some(s) = cx.field("Seconds") {
                now + s.as_i64().unwrap_or(0) * 1000
            } else if let Some(t) = cx.field("Timestamp").and_then(Value::as_str) {
                super::parse_iso(t).unwrap_or(now)
            } else if let Some(p) = cx.field("SecondsPath").and_then(Value::as_str) {
                let v = payload::select(p, &sc).map_err(|_| {
                    cx.runtime(format!(
                        "The SecondsPath parameter does not reference an input value: {p}"
                    ))
                })?;
                match v.as_i64() {
                    Some(n) if n >= 0 => now + n * 1000,
                    _ => {
                        return Err(cx.runtime(format!(
                            "The SecondsPath parameter cannot be parsed as a long value: {p} == {v}"
                        )));
                    }
                }
            } else if let Some(p) = cx.field("TimestampPath").and_then(Value::as_str) {
                let v = payload::select(p, &sc).map_err(|_| {
                    cx.runtime(format!(
                        "The TimestampPath parameter does not reference an input value: {p}"
                    ))
                })?;
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                super::parse_iso(&text).ok_or_else(|| {
                    cx.runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {text}"
                    ))
                })?
            } else {
                now
            };
            let assign = self.jsonpath_assign(cx, cx.st, &effective, frame)?;
            let output = self.filter_path(cx, "OutputPath", &effective, frame)?;
            (until, output, assign)
        };
        if until > now {
            self.sleep_until(until)?;
        }
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    /// Task, Parallel and Map: attempts under `Retry`, then `Catch`.
    fn with_retry(
        &mut self,
        cx: &Cx<'_>,
        input: Value,
        frame: &Frame,
        execution_input: &Value,
    ) -> Result<Step, Abort> {
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
                Some("Parallel") => self.parallel(cx, &input, frame, execution_input),
                _ => self.map(cx, &input, frame, execution_input),
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
                        delay *= fastrand::f64();
                    }
                    counts[i] += 1;
                    attempt += 1;
                    let until = self.clock.now_ms() + (delay * 1000.0) as i64;
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
            if cx.ql == Ql::Jsonata {
                let states = self.states(cx, &input, None, Some(&error_output));
                let output = self
                    .ja_field(cx, catcher, "Output", &states, frame)?
                    .unwrap_or_else(|| error_output.clone());
                let assign = self.ja_assign(cx, catcher, &states, frame)?;
                return Ok(Step { output, next, assign });
            }
            let assign = self.jsonpath_assign(cx, catcher, &error_output, frame)?;
            let output = self.result_path(cx, catcher, input, error_output)?;
            return Ok(Step { output, next, assign });
        }
    }

    /// The result of a Task, Parallel or Map state, through `ResultSelector`, `Assign`,
    /// `ResultPath` and `OutputPath` (JSONPath) or `Output` and `Assign` (JSONata).
    fn finish(&self, cx: &Cx<'_>, input: &Value, result: Value, frame: &Frame) -> Result<Step, Abort> {
        if cx.ql == Ql::Jsonata {
            let states = self.states(cx, input, Some(&result), None);
            let output = self
                .ja_field(cx, cx.st, "Output", &states, frame)?
                .unwrap_or_else(|| result.clone());
            let assign = self.ja_assign(cx, cx.st, &states, frame)?;
            return Ok(Step {
                output,
                next: None,
                assign,
            });
        }
        let result = self
            .template(cx, "ResultSelector", &result, frame)?
            .unwrap_or(result);
        let assign = self.jsonpath_assign(cx, cx.st, &result, frame)?;
        let output = self.result_path(cx, cx.st, input.clone(), result)?;
        let output = self.filter_path(cx, "OutputPath", &output, frame)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    /// The effective input of a Task or Parallel: `InputPath` + `Parameters`, or `Arguments`.
    fn arguments(&self, cx: &Cx<'_>, input: &Value, frame: &Frame) -> Result<Value, Abort> {
        if cx.ql == Ql::Jsonata {
            let states = self.states(cx, input, None, None);
            return Ok(self
                .ja_field(cx, cx.st, "Arguments", &states, frame)?
                .unwrap_or_else(|| input.clone()));
        }
        let effective = self.filter_path(cx, "InputPath", input, frame)?;
        Ok(self
            .template(cx, "Parameters", &effective, frame)?
            .unwrap_or(effective))
    }

    fn seconds_field(
        &self,
        cx: &Cx<'_>,
        input: &Value,
        key: &str,
        frame: &Frame,
    ) -> Result<Option<u64>, Abort> {
        if cx.ql == Ql::Jsonata {
            let states = self.states(cx, input, None, None);
            return Ok(self
                .ja_field(cx, cx.st, key, &states, frame)?
                .and_then(|v| v.as_u64()));
        }
        if let Some(v) = cx.field(key) {
            return Ok(v.as_u64());
        }
        match cx.field(&format!("{key}Path")).and_then(Value::as_str) {
            Some(p) => Ok(payload::select(p, &self.scope(input, cx, frame))
                .ok()
                .and_then(|v| v.as_u64())),
            None => Ok(None),
        }
    }

    fn task(&mut self, cx: &Cx<'_>, input: &Value, frame: &Frame, attempt: u32) -> Result<Step, Abort> {
        let mut cx_retry;
        let cx = if attempt > 0 {
            cx_retry = Cx {
                context: cx.context.clone(),
                ..*cx
            };
            cx_retry.context["State"]["RetryCount"] = json!(attempt);
            &cx_retry
        } else {
            cx
        };
        let resource = cx
            .field("Resource")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let args = self.arguments(cx, input, frame)?;
        let timeout_seconds = self.seconds_field(cx, input, "TimeoutSeconds", frame)?;
        let heartbeat_seconds = self.seconds_field(cx, input, "HeartbeatSeconds", frame)?;
        let lambda_arn = resource.starts_with("arn:aws:lambda:")
            || resource.contains(":lambda:") && resource.contains(":function:");
        let (resource_type, short) = service_parts(&resource);
        if lambda_arn {
            self.push(
                "LambdaFunctionScheduled",
                Some(json!({"resource": resource, "input": args.to_string(), "inputDetails": {"truncated": false}})),
            );
            self.push("LambdaFunctionStarted", None);
        } else {
            let mut d = json!({
                "resourceType": resource_type, "resource": short, "region": self.info.region,
                "parameters": args.to_string(),
            });
            if let Some(t) = timeout_seconds {
                d["timeoutInSeconds"] = json!(t);
            }
            if let Some(h) = heartbeat_seconds {
                d["heartbeatInSeconds"] = json!(h);
            }
            self.push("TaskScheduled", Some(d));
            self.push(
                "TaskStarted",
                Some(json!({"resourceType": resource_type, "resource": short})),
            );
        }
        let state_path = format!("{}{}", frame.prefix, cx.name);
        let call = TaskCall {
            resource: &resource,
            payload: &args,
            state_path: &state_path,
            timeout_seconds,
            heartbeat_seconds,
        };
        match self.tasks.call(&call) {
            Ok(result) => {
                if lambda_arn {
                    self.push(
                        "LambdaFunctionSucceeded",
                        Some(json!({"output": result.to_string(), "outputDetails": {"truncated": false}})),
                    );
                } else {
                    self.push(
                        "TaskSucceeded",
                        Some(json!({
                            "resourceType": resource_type, "resource": short,
                            "output": result.to_string(), "outputDetails": {"truncated": false},
                        })),
                    );
                }
                self.check_time()?;
                self.finish(cx, input, result, frame)
            }
            Err(failure) => {
                if lambda_arn {
                    self.push(
                        "LambdaFunctionFailed",
                        Some(json!({"error": failure.error, "cause": failure.cause})),
                    );
                } else {
                    self.push(
                        "TaskFailed",
                        Some(json!({
                            "resourceType": resource_type, "resource": short,
                            "error": failure.error, "cause": failure.cause,
                        })),
                    );
                }
                Err(fail(&failure.error, failure.cause))
            }
        }
    }

    fn parallel(
        &mut self,
        cx: &Cx<'_>,
        input: &Value,
        frame: &Frame,
        execution_input: &Value,
    ) -> Result<Step, Abort> {
        let args = self.arguments(cx, input, frame)?;
        let branches = cx
            .field("Branches")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.push("ParallelStateStarted", None);
        let mut results = Vec::with_capacity(branches.len());
        for (i, branch) in branches.iter().enumerate() {
            let Some(def) = branch.as_object() else {
                return Err(cx.runtime("A branch must be an object"));
            };
            let child = Frame {
                vars: frame.vars.clone(),
                ql: cx.ql,
                prefix: format!("{}{}.Branches[{i}].", frame.prefix, cx.name),
            };
            match self.machine(def, args.clone(), &child, execution_input) {
                Ok(out) => results.push(out),
                Err(e) => {
                    if let Abort::Error { error, cause } = &e {
                        self.push(
                            "ParallelStateFailed",
                            Some(json!({"error": error, "cause": cause})),
                        );
                    }
                    return Err(e);
                }
            }
        }
        self.push("ParallelStateSucceeded", None);
        self.finish(cx, input, Value::Array(results), frame)
    }

    /// A number field of Map (`MaxConcurrency`, `ToleratedFailure*`) from its literal, its
    /// `...Path` or (JSONata) its expression.
    fn map_number(
        &self,
        cx: &Cx<'_>,
        key: &str,
        float: bool,
        effective: &Value,
        input: &Value,
        frame: &Frame,
    ) -> Result<Option<f64>, Abort> {
        if cx.ql == Ql::Jsonata {
            let states = self.states(cx, input, None, None);
            return match self.ja_field(cx, cx.st, key, &states, frame)? {
                None => Ok(None),
                Some(v) => match number_of(&v, float) {
                    Some(n) => Ok(Some(n)),
                    None => Err(cx.query_error(format!("The {key} field must be a number, but was: {v}"))),
                },
            };
        }
        if let Some(v) = cx.field(key) {
            return Ok(v.as_f64());
        }
        let path_key = format!("{key}Path");
        let Some(p) = cx.field(&path_key).and_then(Value::as_str) else {
            return Ok(None);
        };
        let v = payload::select(p, &self.scope(effective, cx, frame)).map_err(|_| {
            cx.runtime(format!(
                "The {path_key} field refers to a value that does not exist: {p}"
            ))
        })?;
        number_of(&v, float).map(Some).ok_or_else(|| {
            let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            cx.runtime(format!(
                "The {path_key} field refers to value \"{shown}\" which is not a valid {}: {p}",
                if float { "float" } else { "integer" }
            ))
        })
    }

    fn map(
        &mut self,
        cx: &Cx<'_>,
        input: &Value,
        frame: &Frame,
        execution_input: &Value,
    ) -> Result<Step, Abort> {
        if cx.field("ItemReader").is_some() {
            // Items from S3 need a service the interpreter does not have: say so, never guess.
            return Err(fail(
                "States.TaskFailed",
                format!(
                    "The Map state '{}' reads its items with ItemReader, which the local interpreter does not support (give the items inline)",
                    cx.name
                ),
            ));
        }
        let effective = if cx.ql == Ql::Jsonata {
            input.clone()
        } else {
            self.filter_path(cx, "InputPath", input, frame)?
        };
        let items = if cx.ql == Ql::Jsonata {
            let states = self.states(cx, input, None, None);
            match cx.field("Items") {
                Some(expr) => {
                    let v = self.ja(cx, "Items", expr, &states, frame)?;
                    match v {
                        Value::Array(a) => a,
                        other => {
                            let text = expr
                                .as_str()
                                .and_then(query::expression)
                                .map_or_else(|| expr.to_string(), str::to_string);
                            return Err(cx.query_error(format!(
                                "The JSONata expression '{text}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {other}",
                                type_name(&other)
                            )));
                        }
                    }
                }
                None => match input {
                    Value::Array(a) => a.clone(),
                    other => {
                        return Err(
                            cx.query_error(format!("Map state input must be an array but was: {other}"))
                        );
                    }
                },
            }
        } else {
            let path = cx.field("ItemsPath").and_then(Value::as_str).unwrap_or("$");
            match payload::select(path, &self.scope(&effective, cx, frame)) {
                Ok(Value::Array(a)) => a,
                Ok(other) => {
                    return Err(cx.runtime(format!("Map state input must be an array but was: {other}")));
                }
                Err(_) => {
                    return Err(cx.runtime(format!(
                        "Invalid path '{path}' : No results for path: {}",
                        payload::bracket_notation(path)
                    )));
                }
            }
        };
        let max_concurrency = self.map_number(cx, "MaxConcurrency", false, &effective, input, frame)?;
        if max_concurrency.is_some_and(|n| n < 0.0) {
            return Err(cx.runtime("MaxConcurrency cannot be negative."));
        }
        let tolerated_count =
            self.map_number(cx, "ToleratedFailureCount", false, &effective, input, frame)?;
        if tolerated_count.is_some_and(|n| n < 0.0) {
            return Err(cx.runtime("ToleratedFailureCount cannot be negative."));
        }
        let tolerated_pct =
            self.map_number(cx, "ToleratedFailurePercentage", true, &effective, input, frame)?;
        if tolerated_pct.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err(cx.runtime("ToleratedFailurePercentage must be between 0 and 100."));
        }
        let selector_key = if cx.field("ItemSelector").is_some() {
            "ItemSelector"
        } else {
            "Parameters"
        };
        let mut selected = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let Some(selector) = cx.field(selector_key) else {
                selected.push(item.clone());
                continue;
            };
            let mut context = cx.context.clone();
            context["Map"] = json!({"Item": {"Index": index, "Value": item}});
            let item_cx = Cx { context, ..*cx };
            let value = if cx.ql == Ql::Jsonata {
                let states = self.states(&item_cx, input, None, None);
                self.ja(&item_cx, "ItemSelector", selector, &states, frame)?
            } else {
                payload::template(selector, &self.scope(&effective, &item_cx, frame))
                    .map_err(|m| cx.runtime(m))?
            };
            selected.push(value);
        }
        let batches = match cx.field("ItemBatcher").and_then(Value::as_object) {
            Some(batcher) => self.batch(cx, batcher, selected, &effective, input, frame)?,
            None => selected,
        };
        let processor = cx
            .field("ItemProcessor")
            .or_else(|| cx.field("Iterator"))
            .and_then(Value::as_object)
            .ok_or_else(|| cx.runtime("A Map state needs an ItemProcessor"))?;
        self.push("MapStateStarted", Some(json!({"length": batches.len()})));
        let total = batches.len();
        let mut results = Vec::with_capacity(total);
        let mut failures = 0usize;
        let tolerant = tolerated_count.is_some() || tolerated_pct.is_some();
        let mut last_error: Option<(Option<String>, Option<String>)> = None;
        for (index, item) in batches.into_iter().enumerate() {
            self.push(
                "MapIterationStarted",
                Some(json!({"name": cx.name, "index": index})),
            );
            let child = Frame {
                vars: frame.vars.clone(),
                ql: cx.ql,
                prefix: format!("{}{}.ItemProcessor.", frame.prefix, cx.name),
            };
            match self.machine(processor, item, &child, execution_input) {
                Ok(out) => {
                    self.push(
                        "MapIterationSucceeded",
                        Some(json!({"name": cx.name, "index": index})),
                    );
                    results.push(out);
                }
                Err(Abort::Error { error, cause }) => {
                    self.push(
                        "MapIterationFailed",
                        Some(json!({"name": cx.name, "index": index})),
                    );
                    if !tolerant {
                        self.push("MapStateFailed", None);
                        return Err(Abort::Error { error, cause });
                    }
                    failures += 1;
                    results.push(json!({"Error": error, "Cause": cause}));
                    last_error = Some((error, cause));
                }
                Err(other) => return Err(other),
            }
        }
        if failures > 0 {
            let over_count = tolerated_count.is_none_or(|c| failures as f64 > c);
            let over_pct = tolerated_pct.is_none_or(|p| (failures as f64) * 100.0 / (total as f64) > p);
            if over_count && over_pct {
                self.push("MapStateFailed", None);
                let _ = last_error;
                return Err(fail(
                    "States.ExceedToleratedFailureThreshold",
                    "The specified tolerated failure threshold was exceeded",
                ));
            }
        }
        self.push("MapStateSucceeded", None);
        self.finish(cx, input, Value::Array(results), frame)
    }

    fn batch(
        &self,
        cx: &Cx<'_>,
        batcher: &Map<String, Value>,
        items: Vec<Value>,
        effective: &Value,
        input: &Value,
        frame: &Frame,
    ) -> Result<Vec<Value>, Abort> {
        let sc = self.scope(effective, cx, frame);
        let number = |key: &str| -> Option<u64> {
            batcher.get(key).and_then(Value::as_u64).or_else(|| {
                let p = batcher.get(&format!("{key}Path"))?.as_str()?;
                payload::select(p, &sc)
                    .ok()
                    .and_then(|v| number_of(&v, false))
                    .map(|n| n as u64)
            })
        };
        let max_items = number("MaxItemsPerBatch").filter(|n| *n > 0).unwrap_or(u64::MAX) as usize;
        let max_bytes = number("MaxInputBytesPerBatch")
            .filter(|n| *n > 0)
            .unwrap_or(256 * 1024) as usize;
        let batch_input = match batcher.get("BatchInput") {
            None => None,
            Some(t) if cx.ql == Ql::Jsonata => {
                let states = self.states(cx, input, None, None);
                Some(self.ja(cx, "ItemBatcher/BatchInput", t, &states, frame)?)
            }
            Some(t) => Some(payload::template(t, &sc).map_err(|m| cx.runtime(m))?),
        };
        let mut out = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        let mut bytes = 0usize;
        for item in items {
            let size = item.to_string().len();
            if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
                out.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += size;
            current.push(item);
        }
        if !current.is_empty() {
            out.push(current);
        }
        Ok(out
            .into_iter()
            .map(|items| {
                let mut b = Map::new();
                if let Some(bi) = &batch_input {
                    b.insert("BatchInput".into(), bi.clone());
                }
                b.insert("Items".into(), Value::Array(items));
                Value::Object(b)
            })
            .collect())
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

/// `arn:aws:states:::lambda:invoke` → (`lambda`, `invoke`).
fn service_parts(resource: &str) -> (String, String) {
    let rest = resource.strip_prefix("arn:aws:states:::").unwrap_or(resource);
    match rest.split_once(':') {
        Some((service, action)) => (service.to_string(), action.to_string()),
        None => (rest.to_string(), String::new()),
    }
}

fn number_of(v: &Value, float: bool) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !float && n.fract() != 0.0 {
        return None;
    }
    Some(n)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
