//! The rules Step Functions enforces when it creates a state machine, as pure functions over the
//! definition as data. One file per rule family: this one walks scopes, states and transitions;
//! `fields` checks payload templates, paths and expressions; `task` the Task state and its
//! `Resource`; `choice` Choice rules; `flow` Wait, Fail, Parallel, Map, Retry and Catch.
//!
//! Where unsure it accepts: a real definition AWS accepts must never be refused. Every problem is
//! reported, each at the path of the offending node, with AWS's diagnostic code. Recursion over
//! user data is depth-bounded; JSON walks are iterative.

mod choice;
mod fields;
mod flow;
mod task;

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::jsonpath::PathKind;
use super::model::{
    JSONATA_ONLY, JSONPATH_ONLY, MachineType, QueryLanguage as Ql, STATE_TYPES, Scope, allowed_fields, kind,
};
use super::{AslError, Code, Severity};
use crate::path::Path;

/// How deeply Parallel branches and Map processors may nest.
pub const MAX_SCOPE_DEPTH: usize = 200;
const MAX_STATE_NAME: usize = 80;

/// What the validator needs to know beyond the definition.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// EXPRESS machines may not use `.sync`, `.waitForTaskToken` or activities.
    pub machine_type: MachineType,
}

/// Validates a STANDARD machine's definition and returns every finding (errors and warnings).
pub fn validate(definition: &Value) -> Vec<AslError> {
    validate_with(definition, &Options::default())
}

/// Validates a definition for a machine of the given type; every finding, errors and warnings.
pub fn validate_with(definition: &Value, options: &Options) -> Vec<AslError> {
    let mut v = Validator {
        errors: Vec::new(),
        options: options.clone(),
    };
    match definition.as_object() {
        Some(obj) => {
            v.machine(obj, &Path::root(), Ql::JsonPath, Scope::Top, 0);
            v.unique_names(definition);
        }
        None => v.err(
            &Path::root(),
            format!("a definition must be an object, found {}", kind(definition)),
        ),
    }
    v.errors
}

struct Validator {
    errors: Vec<AslError>,
    options: Options,
}

impl Validator {
    /// A schema error (`SCHEMA_VALIDATION_FAILED`), the most common kind.
    fn err(&mut self, path: &Path, message: impl Into<String>) {
        self.fail(Code::SchemaValidationFailed, path, message);
    }

    fn fail(&mut self, code: Code, path: &Path, message: impl Into<String>) {
        self.errors.push(AslError {
            path: path.clone(),
            code,
            severity: Severity::Error,
            message: message.into(),
        });
    }

    fn warn(&mut self, code: Code, path: &Path, message: impl Into<String>) {
        self.errors.push(AslError {
            path: path.clone(),
            code,
            severity: Severity::Warning,
            message: message.into(),
        });
    }

    /// State names are unique in the whole machine, across Parallel branches and Map processors;
    /// so are Map labels.
    fn unique_names(&mut self, definition: &Value) {
        let mut seen: HashMap<&str, Path> = HashMap::new();
        let mut labels: HashMap<&str, Path> = HashMap::new();
        for st in super::model::states(definition, MAX_SCOPE_DEPTH) {
            if let Some(label) = st.state.get("Label").and_then(Value::as_str) {
                let lp = st.path.key("Label");
                match labels.get(label) {
                    Some(first) => {
                        let msg = format!("Label {label:?} is already used at {first}");
                        self.fail(Code::DuplicateLabelName, &lp, msg);
                    }
                    None => {
                        labels.insert(label, lp);
                    }
                }
            }
            match seen.get(st.name) {
                Some(first) => {
                    let msg = format!("state name {:?} is already used at {first}", st.name);
                    self.fail(Code::DuplicateStateName, &st.path, msg);
                }
                None => {
                    seen.insert(st.name, st.path.clone());
                }
            }
        }
    }

    /// A state machine scope: the top level, a Parallel branch or a Map processor.
    fn machine(&mut self, obj: &Map<String, Value>, path: &Path, inherited: Ql, scope: Scope, depth: usize) {
        if depth > MAX_SCOPE_DEPTH {
            self.fail(
                Code::TooDeeplyNested,
                path,
                format!("states nested more than {MAX_SCOPE_DEPTH} levels deep"),
            );
            return;
        }
        let allowed: &[&str] = match scope {
            Scope::Top => &[
                "Comment",
                "StartAt",
                "States",
                "Version",
                "TimeoutSeconds",
                "QueryLanguage",
            ],
            Scope::Branch => &["Comment", "StartAt", "States"],
            // AWS runs an `Iterator` with a `ProcessorConfig` too.
            Scope::ItemProcessor | Scope::Iterator => &["Comment", "StartAt", "States", "ProcessorConfig"],
        };
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(&path.key(k), format!("unknown field {k:?}"));
            }
        }
        let mut ql = inherited;
        if scope == Scope::Top {
            if let Some(q) = obj.get("QueryLanguage") {
                ql = self.query_language(q, &path.key("QueryLanguage")).unwrap_or(ql);
            }
            if let Some(c) = obj.get("Comment").filter(|c| !c.is_string()) {
                self.err(
                    &path.key("Comment"),
                    format!("Comment must be a string, found {}", kind(c)),
                );
            }
            if let Some(ver) = obj.get("Version").filter(|c| !c.is_string()) {
                self.err(
                    &path.key("Version"),
                    format!("Version must be a string, found {}", kind(ver)),
                );
            }
            if let Some(t) = obj.get("TimeoutSeconds") {
                self.positive_int(t, &path.key("TimeoutSeconds"), "TimeoutSeconds", 1);
            }
        }
        if matches!(scope, Scope::ItemProcessor | Scope::Iterator)
            && let Some(pc) = obj.get("ProcessorConfig")
        {
            self.processor_config(pc, &path.key("ProcessorConfig"));
        }
        let states_path = path.key("States");
        let states = match obj.get("States") {
            None => {
                self.err(path, "missing required field \"States\"");
                None
            }
            Some(Value::Object(m)) if m.is_empty() => {
                self.err(&states_path, "States must not be empty");
                None
            }
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                self.err(
                    &states_path,
                    format!("States must be an object, found {}", kind(other)),
                );
                None
            }
        };
        let start = match obj.get("StartAt") {
            None => {
                self.err(path, "missing required field \"StartAt\"");
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                self.err(
                    &path.key("StartAt"),
                    format!("StartAt must be a string, found {}", kind(other)),
                );
                None
            }
        };
        let Some(states) = states else { return };
        if let Some(s) = start
            && !states.contains_key(s)
        {
            self.fail(
                Code::MissingTransitionTarget,
                &path.key("StartAt"),
                format!("no state named {s:?}"),
            );
        }
        // Every state, then the graph.
        let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut terminal: HashSet<&str> = HashSet::new();
        let errors_before = self.errors.len();
        for (name, st) in states {
            let sp = states_path.key(name);
            let Some(st) = st.as_object() else {
                self.err(&sp, format!("expected a state object, found {}", kind(st)));
                continue;
            };
            let mut targets = Vec::new();
            let is_terminal = self.state(name, st, &sp, ql, depth, states, &mut targets);
            if is_terminal {
                terminal.insert(name.as_str());
            }
            edges.insert(name.as_str(), targets);
        }
        let Some(start) = start.filter(|s| states.contains_key(*s)) else {
            return;
        };
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue = VecDeque::from([start]);
        seen.insert(start);
        while let Some(n) = queue.pop_front() {
            for t in edges.get(n).map(|v| v.as_slice()).unwrap_or_default() {
                if states.contains_key(*t) && seen.insert(t) {
                    queue.push_back(t);
                }
            }
        }
        for (name, st) in states {
            if st.is_object() && !seen.contains(name.as_str()) {
                self.err(
                    &states_path.key(name),
                    format!("state {name:?} is not reachable from StartAt"),
                );
            }
        }
        // Only when the states themselves are sound: a broken Next already explains a missing end.
        let sound = self.errors.len() == errors_before;
        if sound && !seen.iter().any(|n| terminal.contains(n)) && !edges.is_empty() {
            self.fail(
                Code::MissingEndState,
                &states_path,
                "no terminal state (End, Succeed or Fail) is reachable from StartAt",
            );
        }
    }

    fn query_language(&mut self, q: &Value, path: &Path) -> Option<Ql> {
        match q.as_str() {
            Some("JSONPath") => Some(Ql::JsonPath),
            Some("JSONata") => Some(Ql::Jsonata),
            _ => {
                self.err(
                    path,
                    format!("QueryLanguage must be \"JSONPath\" or \"JSONata\", found {q}"),
                );
                None
            }
        }
    }

    fn processor_config(&mut self, pc: &Value, path: &Path) {
        let Some(pc) = pc.as_object() else {
            self.err(
                path,
                format!("ProcessorConfig must be an object, found {}", kind(pc)),
            );
            return;
        };
        for (k, v) in pc {
            let p = path.key(k);
            match k.as_str() {
                "Mode" => {
                    if !matches!(v.as_str(), Some("INLINE" | "DISTRIBUTED")) {
                        self.err(
                            &p,
                            format!("Mode must be \"INLINE\" or \"DISTRIBUTED\", found {v}"),
                        );
                    }
                }
                "ExecutionType" => {
                    if !matches!(v.as_str(), Some("STANDARD" | "EXPRESS")) {
                        self.err(
                            &p,
                            format!("ExecutionType must be \"STANDARD\" or \"EXPRESS\", found {v}"),
                        );
                    }
                }
                _ => self.err(&p, format!("unknown field {k:?}")),
            }
        }
    }

    /// Validates one state; collects its transition targets; returns whether it is terminal.
    #[allow(clippy::too_many_arguments)]
    fn state<'a>(
        &mut self,
        name: &str,
        st: &'a Map<String, Value>,
        path: &Path,
        inherited: Ql,
        depth: usize,
        states: &Map<String, Value>,
        targets: &mut Vec<&'a str>,
    ) -> bool {
        if name.chars().count() > MAX_STATE_NAME {
            self.fail(
                Code::InvalidStateName,
                path,
                format!("state name is longer than {MAX_STATE_NAME} characters"),
            );
        }
        let ty = match st.get("Type") {
            None => {
                self.err(path, "missing required field \"Type\"");
                return true;
            }
            Some(Value::String(t)) if STATE_TYPES.contains(&t.as_str()) => t.as_str(),
            Some(_) => {
                // AWS's words (a TestState refusal recorded on AWS says them).
                self.err(
                    &path.key("Type"),
                    "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]",
                );
                return true;
            }
        };
        let ql = match st.get("QueryLanguage") {
            Some(q) => self
                .query_language(q, &path.key("QueryLanguage"))
                .unwrap_or(inherited),
            None => inherited,
        };
        if inherited == Ql::Jsonata && ql == Ql::JsonPath {
            self.err(
                &path.key("QueryLanguage"),
                "a state of a JSONata state machine cannot set QueryLanguage to \"JSONPath\"",
            );
        }
        if let Some(a) = st.get("Assign") {
            self.assign(a, &path.key("Assign"), ql);
        }
        let allowed = allowed_fields(ty);
        for (k, v) in st {
            let p = path.key(k);
            let k = k.as_str();
            if matches!(k, "Type" | "Comment" | "QueryLanguage") {
                if k == "Comment" && !v.is_string() {
                    self.err(&p, format!("Comment must be a string, found {}", kind(v)));
                }
                continue;
            }
            if !allowed.contains(&k) {
                self.err(&p, format!("field {k:?} is not allowed in a {ty} state"));
            } else if ql == Ql::Jsonata && JSONPATH_ONLY.contains(&k) {
                self.err(&p, format!("field {k:?} is not allowed in a JSONata state"));
            } else if ql == Ql::JsonPath && JSONATA_ONLY.contains(&k) {
                self.err(
                    &p,
                    format!("field {k:?} is not allowed in a JSONPath state (set QueryLanguage to JSONata)"),
                );
            }
        }

        // Transitions.
        let mut terminal = matches!(ty, "Succeed" | "Fail");
        if matches!(ty, "Pass" | "Task" | "Wait" | "Parallel" | "Map") {
            let next = st.get("Next");
            let end = st.get("End");
            if let Some(e) = end.filter(|e| !e.is_boolean()) {
                self.err(
                    &path.key("End"),
                    format!("End must be a boolean, found {}", kind(e)),
                );
            }
            let ends = end == Some(&Value::Bool(true));
            match (next, ends) {
                (Some(_), true) => self.err(path, "a state cannot have both \"Next\" and \"End\""),
                (None, false) => self.err(path, "missing \"Next\" or \"End\": exactly one is required"),
                _ => {}
            }
            terminal = ends;
            if let Some(n) = next {
                self.target(n, &path.key("Next"), states, targets);
            }
        }

        // Paths and templates common to JSONPath states.
        if ql == Ql::JsonPath {
            for f in ["InputPath", "OutputPath"] {
                if let Some(v) = st.get(f) {
                    self.path_field(v, &path.key(f), PathKind::Path, true);
                }
            }
            if let Some(v) = st.get("ResultPath") {
                self.result_path(v, &path.key("ResultPath"));
            }
            for f in ["Parameters", "ResultSelector", "ItemSelector", "Credentials"] {
                if let Some(v) = st.get(f) {
                    self.template(v, &path.key(f), true);
                }
            }
            if ty == "Pass"
                && let Some(r) = st.get("Result")
            {
                self.static_result(r, &path.key("Result"));
            }
        } else {
            self.jsonata_strings(st, path);
            let expr = |v: &Value| v.as_str().is_some_and(super::jsonata::is_expression);
            if let Some(a) = st.get("Arguments").filter(|a| !a.is_object() && !expr(a)) {
                self.err(
                    &path.key("Arguments"),
                    format!(
                        "Arguments must be an object or a JSONata expression, found {}",
                        kind(a)
                    ),
                );
            }
            if let Some(i) = st.get("Items").filter(|i| !i.is_array() && !expr(i)) {
                self.err(
                    &path.key("Items"),
                    format!(
                        "Items must be an array or a JSONata expression, found {}",
                        kind(i)
                    ),
                );
            }
        }

        match ty {
            "Task" => self.task(st, path, ql, self.options.machine_type),
            "Choice" => self.choice(st, path, ql, states, targets),
            "Wait" => self.wait(st, path, ql),
            "Fail" => self.fail_state(st, path),
            "Parallel" => self.parallel(st, path, inherited, depth),
            "Map" => self.map(st, path, ql, inherited, depth),
            _ => {}
        }
        if matches!(ty, "Task" | "Parallel" | "Map") {
            if let Some(r) = st.get("Retry") {
                self.retry(r, &path.key("Retry"));
            }
            if let Some(c) = st.get("Catch") {
                self.catch(c, &path.key("Catch"), ql, states, targets);
            }
        }
        terminal
    }

    fn target<'a>(
        &mut self,
        v: &'a Value,
        path: &Path,
        states: &Map<String, Value>,
        targets: &mut Vec<&'a str>,
    ) {
        match v.as_str() {
            Some(t) if states.contains_key(t) => targets.push(t),
            Some(t) => self.fail(
                Code::MissingTransitionTarget,
                path,
                format!("no state named {t:?}"),
            ),
            None => self.err(path, format!("a state name must be a string, found {}", kind(v))),
        }
    }
}

#[cfg(test)]
mod tests;
