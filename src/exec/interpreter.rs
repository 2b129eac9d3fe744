//! The interpreter's loop: a machine or branch from `StartAt` to its end, one state at a time
//! (entered and exited events, the payload size limit, `Next`/`End`), the context object, the
//! history, the execution's deadline and stop.
//!
//! Must not: read a state's data-flow fields (`dataflow.rs` does, per query language) or know
//! what a state type does (`states/` does); it dispatches on the type once.

use serde_json::{Map, Value, json};

use super::cx::{Abort, At, Cx, Env, Frame, Probe, Step, fail};
use super::dataflow::flow_for;
use super::history::Event;
use super::payload::Parsed;
use super::{Clock, ExecutionInfo, MAX_PAYLOAD_BYTES, Outcome, Random, Status, Tasks};
use crate::asl::model::QueryLanguage;

/// One execution of a definition: walks it with the caller's [`Tasks`], [`Clock`] and [`Random`]
/// and records AWS's history events.
pub struct Interpreter<'a> {
    pub(super) info: &'a ExecutionInfo,
    pub(super) tasks: &'a dyn Tasks,
    /// The clock, the randomness and the parsed paths the data flow reads.
    pub(super) env: Env<'a>,
    events: Vec<Event>,
    /// The execution's input (`$$.Execution.Input`).
    execution_input: Value,
    start_ms: i64,
    deadline: Option<i64>,
    /// TestState's settings and findings when this run is one state (`teststate.rs`).
    pub(super) probe: Option<Probe>,
}

impl<'a> Interpreter<'a> {
    /// An interpreter for one execution; `random` draws `States.UUID`, `States.MathRandom` and
    /// retry jitter (seed it to replay a run).
    pub fn new(
        info: &'a ExecutionInfo,
        tasks: &'a dyn Tasks,
        clock: &'a dyn Clock,
        random: &'a dyn Random,
    ) -> Self {
        Interpreter {
            info,
            tasks,
            env: Env {
                clock,
                random,
                parsed: Parsed::default(),
                trace: std::cell::RefCell::new(None),
            },
            events: Vec::new(),
            execution_input: Value::Null,
            start_ms: clock.now_ms(),
            deadline: None,
            probe: None,
        }
    }

    /// The state `cx` in scope `frame`, as its data flow reads it.
    pub(super) fn at<'s>(&'s self, cx: &'s Cx<'s>, frame: &'s Frame) -> At<'s> {
        At {
            env: &self.env,
            cx,
            frame,
        }
    }

    pub(super) fn push(&mut self, kind: &str, details: Option<Value>) -> u64 {
        let id = self.events.len() as u64 + 1;
        self.events.push(Event {
            id,
            previous_event_id: id - 1,
            timestamp_ms: self.env.clock.now_ms(),
            kind: kind.to_string(),
            details,
        });
        id
    }

    /// Runs a definition to its end. A definition that does not parse as ASL fails the execution
    /// with `States.Runtime` (the sandbox validates definitions before it stores them).
    pub fn run(mut self, definition: &Value, input: Value) -> Outcome {
        self.push(
            "ExecutionStarted",
            Some(json!({
                "input": input.to_string(),
                "inputDetails": {"truncated": false},
                "roleArn": self.info.role_arn,
            })),
        );
        self.execution_input = input.clone();
        let result = match definition.as_object() {
            Some(def) => {
                if let Some(t) = def.get("TimeoutSeconds").and_then(Value::as_u64) {
                    self.deadline = Some(self.start_ms + (t as i64) * 1000);
                }
                let frame = Frame {
                    vars: Map::new(),
                    ql: QueryLanguage::of(def.get("QueryLanguage"), QueryLanguage::JsonPath),
                    prefix: String::new(),
                };
                self.machine(def, input, &frame)
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
            stop_ms: self.env.clock.now_ms(),
            start_ms: self.start_ms,
            events: self.events,
            status,
            output,
            error,
            cause,
        }
    }

    pub(super) fn check_time(&self) -> Result<(), Abort> {
        if self.env.clock.stopped() {
            return Err(Abort::Stopped);
        }
        match self.deadline {
            Some(d) if self.env.clock.now_ms() >= d => Err(Abort::TimedOut),
            _ => Ok(()),
        }
    }

    /// Sleeps on the clock, cut short by the execution's deadline or a stop.
    pub(super) fn sleep_until(&self, until: i64) -> Result<(), Abort> {
        let target = self.deadline.map_or(until, |d| d.min(until));
        if !self.env.clock.sleep_until(target) {
            return Err(Abort::Stopped);
        }
        if target < until {
            return Err(Abort::TimedOut);
        }
        self.check_time()
    }

    fn context(&self, state: &str, entered_ms: i64, retry: Option<u32>) -> Value {
        if let Some(context) = self.probe.as_ref().and_then(|p| p.context.clone()) {
            return context;
        }
        let mut execution = json!({
            "Id": self.info.execution_arn,
            "Input": self.execution_input,
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
    pub(super) fn machine(
        &mut self,
        def: &Map<String, Value>,
        input: Value,
        outer: &Frame,
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
        frame.ql = QueryLanguage::of(def.get("QueryLanguage"), outer.ql);
        let mut input = input;
        loop {
            self.check_time()?;
            let st = states
                .get(&name)
                .and_then(Value::as_object)
                .ok_or_else(|| fail("States.Runtime", format!("The state '{name}' does not exist")))?;
            let step = self.state(&name, st, input, &mut frame)?;
            match step.next {
                Some(next) => {
                    name = next;
                    input = step.output;
                }
                None => return Ok(step.output),
            }
        }
    }

    pub(super) fn state(
        &mut self,
        name: &str,
        st: &Map<String, Value>,
        input: Value,
        frame: &mut Frame,
    ) -> Result<Step, Abort> {
        let ty = st.get("Type").and_then(Value::as_str).unwrap_or("");
        let ql = QueryLanguage::of(st.get("QueryLanguage"), frame.ql);
        let entered_id = self.push(
            &format!("{ty}StateEntered"),
            Some(json!({"name": name, "input": input.to_string(), "inputDetails": {"truncated": false}})),
        );
        let entered_ms = self.env.clock.now_ms();
        // TestState has no history: its causes carry no event id (see `Cx::prefix`).
        let entered_id = if self.probe.is_some() { 0 } else { entered_id };
        let retry = (ty == "Task").then_some(0);
        let cx = Cx {
            name,
            st,
            entered_id,
            ql,
            flow: flow_for(ql),
            context: self.context(name, entered_ms, retry),
        };
        let step = match ty {
            "Pass" => self.pass(&cx, input, frame),
            "Choice" => self.choice(&cx, input, frame),
            "Wait" => self.wait(&cx, input, frame),
            "Succeed" => self.succeed(&cx, input, frame),
            "Fail" => return Err(self.fail_state(&cx, &input, frame)),
            "Task" | "Parallel" | "Map" => self.with_retry(&cx, input, frame),
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
}
