//! Executions in the sandbox (SPEC §7): `StartExecution`, `StartSyncExecution`,
//! `DescribeExecution`, `ListExecutions`, `StopExecution`, `GetExecutionHistory`,
//! `DescribeStateMachineForExecution`, and `GET /_sandbox/executions`.
//!
//! The interpreter ([`crate::exec`]) runs on tokio's blocking pool with a real clock and the
//! Lambda stand-ins. STANDARD executions live in the sandbox state (persisted with `--state`);
//! EXPRESS ones, which AWS does not let you describe either, are kept in memory only (the latest
//! [`EXPRESS_KEPT`]), for `/_sandbox/executions`. A STANDARD execution still running when the
//! sandbox stops is not resumed: it ends `ABORTED` when the sandbox shuts down (or, after a
//! crash, at the next start), its cause saying why.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use serde_json::{Map, Value, json};

use super::RequestContext;
use super::clock::{now_ms, now_secs, roll};
use super::protocol::{Outcome, Reply, ServiceError, invalid_arn, json_input, required, token};
use super::store::{Execution, Journal, Qualifier, Sample, SandboxState, Target, split_machine_arn};
use crate::encoding::random_uuid_v4;
use crate::exec::{self, Clock, Event, ExecutionInfo};
use crate::standins::Functions;

/// How many executions the `AWS/States` metrics remember (in memory, EXPRESS included).
pub const SAMPLES_KEPT: usize = 100_000;

/// How many EXPRESS executions `/_sandbox/executions` remembers.
pub const EXPRESS_KEPT: usize = 1000;

/// Largest execution input (AWS: 256 KiB).
const MAX_INPUT: usize = 256 * 1024;

/// The cause of an execution that was running when the sandbox stopped.
pub const RESTART_CAUSE: &str = "The sandbox stopped while this execution was running; the sandbox does not resume executions after a restart";

impl Execution {
    fn summary(&self) -> Value {
        let mut v = json!({
            "executionArn": self.arn, "stateMachineArn": self.state_machine_arn, "name": self.name,
            "status": self.status, "startDate": self.start_date,
        });
        if let Some(stop) = self.stop_date {
            v["stopDate"] = json!(stop);
        }
        if let Some(version) = &self.version_arn {
            v["stateMachineVersionArn"] = json!(version);
        }
        if let Some(alias) = &self.alias_arn {
            v["stateMachineAliasArn"] = json!(alias);
        }
        v
    }

    /// An item of `ListExecutions` (AWS lists the redrive count too).
    fn list_item(&self) -> Value {
        let mut v = self.summary();
        v["redriveCount"] = json!(0);
        v
    }

    fn describe(&self) -> Value {
        let mut v = self.summary();
        v["input"] = json!(self.input);
        v["inputDetails"] = json!({"included": true});
        if let Some(o) = &self.output {
            v["output"] = json!(o);
            v["outputDetails"] = json!({"included": true});
        }
        if let Some(e) = &self.error {
            v["error"] = json!(e);
        }
        if let Some(c) = &self.cause {
            v["cause"] = json!(c);
        }
        v
    }

    /// The view `/_sandbox/executions` gives: input and output as JSON, the history included.
    fn sandbox_view(&self) -> Value {
        let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or_else(|_| json!(s));
        json!({
            "executionArn": self.arn, "stateMachineArn": self.state_machine_arn, "name": self.name,
            "stateMachineVersionArn": self.version_arn, "stateMachineAliasArn": self.alias_arn,
            "type": self.kind, "status": self.status, "startDate": self.start_date, "stopDate": self.stop_date,
            "input": parse(&self.input), "output": self.output.as_deref().map(parse),
            "error": self.error, "cause": self.cause,
            "history": self.events.iter().map(Event::to_aws).collect::<Vec<_>>(),
        })
    }

    fn record(&mut self, outcome: exec::Outcome) {
        // A StopExecution already wrote the final status, error and cause.
        if self.status == "RUNNING" {
            self.status = outcome.status.as_str().to_string();
            self.output = outcome.output.map(|o| o.to_string());
            self.error = outcome.error;
            self.cause = outcome.cause;
            self.stop_date = Some(outcome.stop_ms as f64 / 1000.0);
        }
        self.events = outcome.events;
    }
}

/// Whether `op` is one of the execution operations this module serves.
pub fn handles(op: &str) -> bool {
    matches!(
        op,
        "StartExecution"
            | "StartSyncExecution"
            | "DescribeExecution"
            | "ListExecutions"
            | "StopExecution"
            | "GetExecutionHistory"
            | "DescribeStateMachineForExecution"
    )
}

/// A stop request for one running execution.
#[derive(Debug, Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    fn stop(&self) {
        if let Ok(mut s) = self.stopped.lock() {
            *s = true;
        }
        self.wake.notify_all();
    }
}

/// Wall-clock time; sleeps end early when the execution is stopped.
struct RealClock<'a>(&'a Stop);

impl Clock for RealClock<'_> {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
    fn sleep_until(&self, deadline_ms: i64) -> bool {
        let Ok(mut stopped) = self.0.stopped.lock() else {
            return false;
        };
        loop {
            if *stopped {
                return false;
            }
            let left = deadline_ms - now_ms();
            if left <= 0 {
                return true;
            }
            match self
                .0
                .wake
                .wait_timeout(stopped, std::time::Duration::from_millis(left as u64))
            {
                Ok((guard, _)) => stopped = guard,
                Err(_) => return false,
            }
        }
    }
    fn stopped(&self) -> bool {
        self.0.stopped.lock().map(|s| *s).unwrap_or(true)
    }
}

/// Runs executions and answers the execution operations.
#[derive(Debug)]
pub struct Runner {
    state: Arc<RwLock<SandboxState>>,
    journal: Option<Arc<Journal>>,
    functions: Arc<Functions>,
    running: Mutex<HashMap<String, Arc<Stop>>>,
    express: Mutex<VecDeque<Execution>>,
    /// Parsed definitions by machine ARN and revision, so each start does not parse again.
    definitions: Mutex<HashMap<String, (String, Arc<Value>)>>,
    /// Executions running at once on the blocking pool; more wait their turn, so a burst of
    /// starts does not become hundreds of threads (each with its own JSONata engine).
    slots: Arc<tokio::sync::Semaphore>,
    /// Executions started and not yet finished, EXPRESS included.
    in_flight: std::sync::atomic::AtomicUsize,
    /// What the `AWS/States` metrics are computed from, by execution ARN (at most [`SAMPLES_KEPT`]).
    samples: Mutex<indexmap::IndexMap<String, Sample>>,
}

/// How many executions run at once: a few per core (more would only add threads), with room
/// for executions that sit in Wait states or slow stand-ins.
fn slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 8
}

/// Checks an execution ARN; EXPRESS ones are refused as AWS refuses them.
fn check_execution_arn(arn: &str) -> Result<(), ServiceError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() >= 6 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "express" {
        return Err(ServiceError::bad(
            "InvalidArn",
            format!("Invalid Arn: 'Resource type not valid in this context: express': '{arn}'"),
        ));
    }
    if parts.len() == 8 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "execution" {
        return Ok(());
    }
    Err(ServiceError::bad("InvalidArn", format!("Invalid Arn: '{arn}'")))
}

impl Runner {
    /// A runner over the sandbox state; STANDARD executions left `RUNNING` by a previous
    /// process end `ABORTED` now.
    pub(super) fn new(
        state: Arc<RwLock<SandboxState>>,
        journal: Option<Arc<Journal>>,
        functions: Arc<Functions>,
    ) -> Runner {
        let mut aborted = false;
        if let Ok(mut s) = state.write() {
            let now = now_ms();
            for e in s.sfn.executions.values_mut().filter(|e| e.status == "RUNNING") {
                e.status = "ABORTED".into();
                e.cause = Some(RESTART_CAUSE.into());
                e.stop_date = Some(now as f64 / 1000.0);
                let id = e.events.len() as u64 + 1;
                e.events.push(Event {
                    id,
                    previous_event_id: id - 1,
                    timestamp_ms: now,
                    kind: "ExecutionAborted".into(),
                    details: Some(json!({"cause": RESTART_CAUSE})),
                });
                aborted = true;
            }
        }
        if aborted && let Some(j) = &journal {
            j.record_change();
        }
        Runner {
            state,
            journal,
            functions,
            running: Mutex::new(HashMap::new()),
            express: Mutex::new(VecDeque::new()),
            definitions: Mutex::new(HashMap::new()),
            slots: Arc::new(tokio::sync::Semaphore::new(slots())),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            samples: Mutex::new(indexmap::IndexMap::new()),
        }
    }

    /// Every execution the `AWS/States` metrics count (in no particular order).
    pub fn samples(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Records an execution's start, or its end, for the metrics.
    fn sample(&self, e: &Execution) {
        let Ok(mut samples) = self.samples.lock() else {
            return;
        };
        if samples.len() >= SAMPLES_KEPT && !samples.contains_key(&e.arn) {
            samples.swap_remove_index(0);
        }
        samples.insert(
            e.arn.clone(),
            Sample {
                machine_arn: e.state_machine_arn.clone(),
                version_arn: e.version_arn.clone(),
                alias_arn: e.alias_arn.clone(),
                start: e.start_date,
                stop: e.stop_date,
                status: e.status.clone(),
            },
        );
    }

    /// Answers one execution operation.
    pub async fn handle(self: &Arc<Self>, op: &str, body: &[u8], ctx: &RequestContext) -> Outcome {
        let input = json_input(body)?;
        match op {
            "StartExecution" => self.start(&input, ctx, false).await,
            "StartSyncExecution" => self.start(&input, ctx, true).await,
            "StopExecution" => self.stop(&input).await,
            _ => {
                let read = self.read(op, &input);
                if let Some(j) = &self.journal {
                    let _ = j.committed(j.current()).await;
                }
                read
            }
        }
    }

    /// The parsed definition of what `run` runs, parsed once per machine (or version) and revision.
    fn definition(&self, run: &Run) -> Result<Arc<Value>, ServiceError> {
        let key = run.version_arn.as_deref().unwrap_or(&run.machine_arn);
        if let Ok(cache) = self.definitions.lock()
            && let Some((rev, def)) = cache.get(key)
            && *rev == run.revision_key
        {
            return Ok(Arc::clone(def));
        }
        let def: Value = serde_json::from_str(&run.definition).map_err(|e| {
            ServiceError::bad(
                "InvalidDefinition",
                format!("Invalid State Machine Definition: '{e}'"),
            )
        })?;
        let def = Arc::new(def);
        if let Ok(mut cache) = self.definitions.lock() {
            cache.insert(key.to_string(), (run.revision_key.clone(), Arc::clone(&def)));
        }
        Ok(def)
    }

    /// Starts an execution of `machine_arn` with `input`: the API's `StartExecution` and
    /// `StartSyncExecution`, and API Gateway's `states` integration.
    pub async fn start(
        self: &Arc<Self>,
        input: &Map<String, Value>,
        ctx: &RequestContext,
        sync: bool,
    ) -> Outcome {
        let request = StartRequest::read(input)?;
        let (machine, definition) = self.machine(request.machine_arn)?;
        let express = machine.kind == crate::asl::MachineType::Express;
        if sync && !express {
            return Err(ServiceError::bad(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            ));
        }
        let name = request.name;
        let arn = if express {
            format!(
                "arn:aws:states:{}:{}:express:{}:{name}:{}",
                ctx.region,
                ctx.account_id,
                machine.name,
                random_uuid_v4()
            )
        } else {
            format!(
                "arn:aws:states:{}:{}:execution:{}:{name}",
                ctx.region, ctx.account_id, machine.name
            )
        };
        let start_ms = now_ms();
        let record = Execution {
            arn: arn.clone(),
            state_machine_arn: machine.machine_arn.clone(),
            name: name.clone(),
            kind: machine.kind,
            status: "RUNNING".into(),
            input: request.text.to_string(),
            output: None,
            error: None,
            cause: None,
            start_date: start_ms as f64 / 1000.0,
            stop_date: None,
            events: Vec::new(),
            definition: machine.definition.clone(),
            role_arn: machine.role_arn.clone(),
            revision_id: machine.shown_revision.clone(),
            version_arn: machine.version_arn.clone(),
            alias_arn: machine.alias_arn.clone(),
        };
        let info = ExecutionInfo {
            execution_arn: arn.clone(),
            name,
            state_machine_arn: machine.machine_arn.clone(),
            state_machine_name: machine.name.clone(),
            role_arn: machine.role_arn.clone(),
            express,
            region: ctx.region.clone(),
        };
        let stop = Arc::new(Stop::default());
        if !express {
            self.register(&record, &stop).await?;
        }
        self.sample(&record);
        let task = self.spawn(record, definition, request.input, info, stop);
        if !sync {
            // EXPRESS through StartExecution too: asynchronous, like AWS.
            return Ok(Reply::ok(
                json!({"executionArn": arn, "startDate": start_ms as f64 / 1000.0}),
            ));
        }
        let done = task
            .await
            .map_err(|e| ServiceError::new(500, "InternalFailure", e.to_string()))?
            .map_err(|e| ServiceError::new(500, "InternalFailure", e.to_string()))?;
        Ok(Reply::ok(sync_answer(&done)))
    }

    /// What a start through `arn` runs (an alias picks one of its versions by weight), with its
    /// parsed definition.
    fn machine(&self, arn: &str) -> Result<(Run, Arc<Value>), ServiceError> {
        if split_machine_arn(arn).is_none() {
            return Err(invalid_arn(arn));
        }
        let state = self
            .state
            .read()
            .map_err(|_| ServiceError::new(500, "InternalFailure", "state lock poisoned"))?;
        let target = state.sfn.start_target(arn, || roll(100)).ok_or_else(|| {
            ServiceError::bad(
                "StateMachineDoesNotExist",
                format!("State Machine Does Not Exist: '{arn}'"),
            )
        })?;
        let run = Run::of(&target);
        drop(state);
        let definition = self.definition(&run)?;
        Ok((run, definition))
    }

    /// Records a new STANDARD execution as running, on disk before it starts.
    async fn register(&self, record: &Execution, stop: &Arc<Stop>) -> Result<(), ServiceError> {
        let arn = &record.arn;
        let generation = {
            let mut state = self
                .state
                .write()
                .map_err(|_| ServiceError::new(500, "InternalFailure", "state lock poisoned"))?;
            if state.sfn.executions.contains_key(arn) {
                return Err(ServiceError::bad(
                    "ExecutionAlreadyExists",
                    format!("Execution Already Exists: '{arn}'"),
                ));
            }
            state.sfn.executions.insert(arn.clone(), record.clone());
            self.journal.as_ref().map(|j| j.record_change())
        };
        if let Ok(mut running) = self.running.lock() {
            running.insert(arn.clone(), Arc::clone(stop));
        }
        if let (Some(j), Some(g)) = (&self.journal, generation)
            && let Err(e) = j.committed(g).await
        {
            return Err(ServiceError::new(500, "InternalFailure", e.to_string()));
        }
        Ok(())
    }

    /// Runs the execution on the blocking pool once a slot is free; the task ends with the
    /// finished record.
    fn spawn(
        self: &Arc<Self>,
        record: Execution,
        definition: Arc<Value>,
        input: Value,
        info: ExecutionInfo,
        stop: Arc<Stop>,
    ) -> tokio::task::JoinHandle<Result<Execution, tokio::task::JoinError>> {
        let runner = Arc::clone(self);
        let functions = Arc::clone(&self.functions);
        let slots = Arc::clone(&self.slots);
        self.in_flight.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            tokio::task::spawn_blocking(move || {
                let outcome = exec::run(&definition, input, &info, functions.as_ref(), &RealClock(&stop));
                runner.finish(record, outcome)
            })
            .await
        })
    }

    /// Stores a finished execution; returns it.
    fn finish(&self, mut record: Execution, outcome: exec::Outcome) -> Execution {
        self.in_flight.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if record.kind == crate::asl::MachineType::Express {
            record.record(outcome);
            self.sample(&record);
            if let Ok(mut kept) = self.express.lock() {
                if kept.len() >= EXPRESS_KEPT {
                    kept.pop_front();
                }
                kept.push_back(record.clone());
            }
            return record;
        }
        if let Ok(mut running) = self.running.lock() {
            running.remove(&record.arn);
        }
        let Ok(mut state) = self.state.write() else {
            return record;
        };
        let stored = state.sfn.executions.entry(record.arn.clone()).or_insert(record);
        stored.record(outcome);
        let done = stored.clone();
        drop(state);
        self.sample(&done);
        if let Some(j) = &self.journal {
            j.record_change();
        }
        done
    }

    async fn stop(&self, input: &Map<String, Value>) -> Outcome {
        let arn = required(input, "executionArn")?;
        check_execution_arn(arn)?;
        let error = input.get("error").and_then(Value::as_str).map(str::to_string);
        let cause = input.get("cause").and_then(Value::as_str).map(str::to_string);
        let now = now_secs();
        let (stop_date, generation) = {
            let mut state = self
                .state
                .write()
                .map_err(|_| ServiceError::new(500, "InternalFailure", "state lock poisoned"))?;
            let e = state.sfn.executions.get_mut(arn).ok_or_else(|| {
                ServiceError::bad(
                    "ExecutionDoesNotExist",
                    format!("Execution Does Not Exist: '{arn}'"),
                )
            })?;
            if e.status != "RUNNING" {
                (e.stop_date.unwrap_or(now), None)
            } else {
                e.status = "ABORTED".into();
                e.error = error;
                e.cause = cause;
                e.stop_date = Some(now);
                (now, self.journal.as_ref().map(|j| j.record_change()))
            }
        };
        if let Some(stop) = self.running.lock().ok().and_then(|r| r.get(arn).cloned()) {
            stop.stop();
        }
        if let (Some(j), Some(g)) = (&self.journal, generation) {
            j.committed(g)
                .await
                .map_err(|e| ServiceError::new(500, "InternalFailure", e.to_string()))?;
        }
        Ok(Reply::ok(json!({"stopDate": stop_date})))
    }

    fn read(&self, op: &str, input: &Map<String, Value>) -> Outcome {
        let state = self
            .state
            .read()
            .map_err(|_| ServiceError::new(500, "InternalFailure", "state lock poisoned"))?;
        if op == "ListExecutions" {
            let given = required(input, "stateMachineArn")?;
            let (machine_arn, qualifier) = split_machine_arn(given).ok_or_else(|| invalid_arn(given))?;
            let machine = state.sfn.machines.get(machine_arn).ok_or_else(|| {
                ServiceError::bad(
                    "StateMachineDoesNotExist",
                    format!("State Machine Does Not Exist: '{given}'"),
                )
            })?;
            if machine.kind == crate::asl::MachineType::Express {
                return Err(ServiceError::bad(
                    "StateMachineTypeNotSupported",
                    "This operation is not supported by this type of state machine",
                ));
            }
            let filter = input.get("statusFilter").and_then(Value::as_str);
            let mut list: Vec<&Execution> = state
                .sfn
                .executions
                .values()
                .filter(|e| e.state_machine_arn == machine_arn && filter.is_none_or(|f| f == e.status))
                .filter(|e| match qualifier {
                    Qualifier::None => true,
                    Qualifier::Version(_) => e.version_arn.as_deref() == Some(given),
                    Qualifier::Alias(_) => e.alias_arn.as_deref() == Some(given),
                })
                .collect();
            list.sort_by(|a, b| {
                b.start_date
                    .total_cmp(&a.start_date)
                    .then_with(|| b.arn.cmp(&a.arn))
            });
            let (page, next) = paginate(&list, |e| e.arn.clone(), input)?;
            let mut body = json!({"executions": page.iter().map(|e| e.list_item()).collect::<Vec<_>>()});
            if let Some(n) = next {
                body["nextToken"] = json!(n);
            }
            return Ok(Reply::ok(body));
        }
        let arn = required(input, "executionArn")?;
        check_execution_arn(arn)?;
        let e = state.sfn.executions.get(arn).ok_or_else(|| {
            ServiceError::bad(
                "ExecutionDoesNotExist",
                format!("Execution Does Not Exist: '{arn}'"),
            )
        })?;
        match op {
            "DescribeExecution" => {
                let mut body = e.describe();
                body["redriveCount"] = json!(0);
                body["redriveStatus"] = json!("NOT_REDRIVABLE");
                if e.status != "FAILED" {
                    body["redriveStatusReason"] =
                        json!(format!("Execution is {} and cannot be redriven", e.status));
                }
                Ok(Reply::ok(body))
            }
            "DescribeStateMachineForExecution" => {
                let machine = state.sfn.machines.get(&e.state_machine_arn);
                let name = e.state_machine_arn.rsplit(':').next().unwrap_or_default();
                let mut body = json!({
                    "stateMachineArn": e.state_machine_arn, "name": name, "definition": e.definition,
                    "roleArn": e.role_arn, "updateDate": machine.map_or(e.start_date, |m| m.creation_date),
                    "loggingConfiguration": machine.map_or(json!({"level": "OFF", "includeExecutionData": false}), |m| m.logging.clone()),
                    "tracingConfiguration": machine.map_or(json!({"enabled": false}), |m| m.tracing.clone()),
                });
                if !e.revision_id.is_empty() {
                    body["revisionId"] = json!(e.revision_id);
                }
                Ok(Reply::ok(body))
            }
            _ => {
                let mut events: Vec<&Event> = e.events.iter().collect();
                if input.get("reverseOrder") == Some(&Value::Bool(true)) {
                    events.reverse();
                }
                let include = input.get("includeExecutionData") != Some(&Value::Bool(false));
                let (page, next) = paginate(&events, |ev| ev.id.to_string(), input)?;
                let page: Vec<Value> = page
                    .iter()
                    .map(|ev| {
                        let mut v = ev.to_aws();
                        if !include {
                            strip_data(&mut v);
                        }
                        v
                    })
                    .collect();
                let mut body = json!({"events": page});
                if let Some(n) = next {
                    body["nextToken"] = json!(n);
                }
                Ok(Reply::ok(body))
            }
        }
    }

    /// Ends every running execution `ABORTED` (the sandbox is stopping), so that no execution
    /// thread outlives the server and the state saved last shows how they ended.
    pub(super) fn stop_all(&self) {
        let running: Vec<(String, Arc<Stop>)> = match self.running.lock() {
            Ok(r) => r.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect(),
            Err(_) => return,
        };
        if running.is_empty() {
            return;
        }
        if let Ok(mut state) = self.state.write() {
            let now = now_secs();
            for (arn, _) in &running {
                if let Some(e) = state
                    .sfn
                    .executions
                    .get_mut(arn)
                    .filter(|e| e.status == "RUNNING")
                {
                    e.status = "ABORTED".into();
                    e.cause = Some(RESTART_CAUSE.into());
                    e.stop_date = Some(now);
                }
            }
        }
        if let Some(j) = &self.journal {
            j.record_change();
        }
        for (_, stop) in running {
            stop.stop();
        }
    }

    /// `GET /_sandbox/executions`: every execution, EXPRESS included, oldest first, and how many
    /// are still running.
    pub fn sandbox_list(&self) -> Value {
        let mut all: Vec<Value> = Vec::new();
        if let Ok(state) = self.state.read() {
            let mut standard: Vec<&Execution> = state.sfn.executions.values().collect();
            standard.sort_by(|a, b| a.start_date.total_cmp(&b.start_date));
            all.extend(standard.iter().map(|e| e.sandbox_view()));
        }
        if let Ok(kept) = self.express.lock() {
            all.extend(kept.iter().map(Execution::sandbox_view));
        }
        all.sort_by(|a, b| {
            a["startDate"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b["startDate"].as_f64().unwrap_or(0.0))
        });
        let running = self.in_flight.load(std::sync::atomic::Ordering::Relaxed);
        json!({"executions": all, "running": running})
    }
}

/// What one start runs: the machine's configuration, or its version's.
struct Run {
    machine_arn: String,
    name: String,
    kind: crate::asl::MachineType,
    definition: String,
    role_arn: String,
    /// Unique per configuration: the parsed-definition cache's key.
    revision_key: String,
    /// The `revisionId` AWS shows (empty for a machine's initial revision).
    shown_revision: String,
    version_arn: Option<String>,
    alias_arn: Option<String>,
}

impl Run {
    fn of(target: &Target<'_>) -> Run {
        let m = target.machine;
        let (definition, role_arn, revision_key, shown) = match target.version {
            Some(v) => (&v.definition, &v.role_arn, &v.revision_id, v.shown_revision()),
            None => (&m.definition, &m.role_arn, &m.revision_id, m.shown_revision()),
        };
        Run {
            machine_arn: m.arn.clone(),
            name: m.name.clone(),
            kind: m.kind,
            definition: definition.clone(),
            role_arn: role_arn.clone(),
            revision_key: revision_key.clone(),
            shown_revision: shown.unwrap_or_default().to_string(),
            version_arn: target.version.map(|v| m.version_arn(v.number)),
            alias_arn: target.alias_arn.clone(),
        }
    }
}

/// What a start request asks for, checked.
struct StartRequest<'a> {
    machine_arn: &'a str,
    /// The execution's name (a UUID when not given).
    name: String,
    /// The input as given, and parsed.
    text: &'a str,
    input: Value,
}

impl<'a> StartRequest<'a> {
    fn read(input: &'a Map<String, Value>) -> Result<StartRequest<'a>, ServiceError> {
        let machine_arn = required(input, "stateMachineArn")?;
        if let Some(n) = input.get("name").and_then(Value::as_str) {
            super::protocol::check_name_length(n)?;
        }
        let name = match input.get("name").and_then(Value::as_str) {
            Some(n) if !crate::desired::is_valid_machine_name(n) => {
                return Err(ServiceError::bad("InvalidName", format!("Invalid Name: '{n}'")));
            }
            Some(n) => n.to_string(),
            None => random_uuid_v4(),
        };
        let text = input.get("input").and_then(Value::as_str).unwrap_or("{}");
        if text.len() > MAX_INPUT {
            return Err(ServiceError::bad(
                "InvalidExecutionInput",
                "Execution input is larger than 262144 bytes",
            ));
        }
        let parsed = serde_json::from_str(text).map_err(|e| {
            ServiceError::bad(
                "InvalidExecutionInput",
                format!("Invalid State Machine Execution Input: '{e}'"),
            )
        })?;
        Ok(StartRequest {
            machine_arn,
            name,
            text,
            input: parsed,
        })
    }
}

/// `StartSyncExecution`'s answer: the finished execution, with AWS's details and billing.
fn sync_answer(done: &Execution) -> Value {
    let mut body = done.describe();
    if let Some(m) = body.as_object_mut() {
        m.remove("inputDetails");
        m.remove("outputDetails");
        m.insert("inputDetails".into(), json!({"included": true}));
        if done.output.is_some() {
            m.insert("outputDetails".into(), json!({"included": true}));
        }
        m.insert(
            "billingDetails".into(),
            json!({"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}),
        );
    }
    body
}

fn strip_data(v: &mut Value) {
    if let Some(m) = v.as_object_mut() {
        for (k, d) in m.iter_mut() {
            if k.ends_with("EventDetails")
                && let Some(d) = d.as_object_mut()
            {
                for key in ["input", "output", "parameters"] {
                    d.remove(key);
                }
            }
        }
    }
}

/// One page of a listing, in AWS's `maxResults`/`nextToken` terms (at most 1000, the default).
fn paginate<'a, T>(
    items: &'a [T],
    key: impl Fn(&T) -> String,
    input: &Map<String, Value>,
) -> Result<(&'a [T], Option<String>), ServiceError> {
    let max = input
        .get("maxResults")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .unwrap_or(1000)
        .min(1000) as usize;
    let given = input.get("nextToken").and_then(Value::as_str);
    let invalid = |t: &str| ServiceError::bad("InvalidToken", format!("Invalid Token: '{t}'"));
    let after = match given {
        None => None,
        Some(t) => Some(token::decode(t).ok_or_else(|| invalid(t))?),
    };
    token::page(items, key, after.as_deref(), max).ok_or_else(|| invalid(given.unwrap_or_default()))
}
