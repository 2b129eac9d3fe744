//! Amazon States Language validation: pure functions over a definition as data, no I/O.
//!
//! Follows the ASL specification and the rules Step Functions enforces; where unsure it accepts
//! (a real definition AWS accepts must never be rejected). Every problem is reported, each at the
//! path of the offending node. Recursion over user data is depth-bounded; JSON walks are iterative.

pub mod intrinsics;
pub mod jsonata;
mod jsonpath;

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use crate::path::Path;
use jsonpath::PathKind;

/// One ASL problem: where in the definition, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AslError {
    /// Path from the definition root, e.g. `States.Parallel.Branches[1].States.MaxMinValues.Next`.
    pub path: Path,
    pub message: String,
}

/// How deeply Parallel branches and Map processors may nest.
pub const MAX_SCOPE_DEPTH: usize = 200;
const MAX_RULE_DEPTH: usize = 100;
const MAX_STATE_NAME: usize = 80;

/// Validates a whole definition and returns every problem found (empty: valid).
pub fn validate(definition: &Value) -> Vec<AslError> {
    let mut v = Validator { errors: Vec::new() };
    match definition.as_object() {
        Some(obj) => v.machine(obj, &Path::root(), Ql::JsonPath, Scope::Top, 0),
        None => v.err(
            &Path::root(),
            format!("a definition must be an object, found {}", kind(definition)),
        ),
    }
    v.errors
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ql {
    JsonPath,
    Jsonata,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Top,
    Branch,
    ItemProcessor,
    Iterator,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const STATE_TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];

/// Fields only JSONPath states may have.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "ItemsPath",
    "Result",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
    "Iterator",
];
/// Fields only JSONata states may have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];

fn allowed_fields(ty: &str) -> &'static [&'static str] {
    match ty {
        "Pass" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "Result",
            "Assign",
            "Output",
        ],
        "Task" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Resource",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Arguments",
            "Output",
            "Assign",
        ],
        "Choice" => &[
            "InputPath",
            "OutputPath",
            "Choices",
            "Default",
            "Assign",
            "Output",
        ],
        "Wait" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Assign",
            "Output",
        ],
        "Succeed" => &["InputPath", "OutputPath", "Output"],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        "Parallel" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Branches",
            "Retry",
            "Catch",
            "Arguments",
            "Output",
            "Assign",
        ],
        "Map" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ItemSelector",
            "ResultSelector",
            "ItemsPath",
            "Items",
            "ItemProcessor",
            "Iterator",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "Label",
            "Retry",
            "Catch",
            "Arguments",
            "Output",
            "Assign",
        ],
        _ => &[],
    }
}

const STRING_OPS: &[&str] = &[
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
    "StringMatches",
];
const NUMERIC_OPS: &[&str] = &[
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
];
const TIMESTAMP_OPS: &[&str] = &[
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
];
const TYPE_OPS: &[&str] = &[
    "BooleanEquals",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];
const PATH_OPS: &[&str] = &[
    "StringEqualsPath",
    "StringLessThanPath",
    "StringGreaterThanPath",
    "StringLessThanEqualsPath",
    "StringGreaterThanEqualsPath",
    "NumericEqualsPath",
    "NumericLessThanPath",
    "NumericGreaterThanPath",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEqualsPath",
    "BooleanEqualsPath",
    "TimestampEqualsPath",
    "TimestampLessThanPath",
    "TimestampGreaterThanPath",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEqualsPath",
];

fn is_operator(k: &str) -> bool {
    STRING_OPS.contains(&k)
        || NUMERIC_OPS.contains(&k)
        || TIMESTAMP_OPS.contains(&k)
        || TYPE_OPS.contains(&k)
        || PATH_OPS.contains(&k)
}

struct Validator {
    errors: Vec<AslError>,
}

impl Validator {
    fn err(&mut self, path: &Path, message: impl Into<String>) {
        self.errors.push(AslError {
            path: path.clone(),
            message: message.into(),
        });
    }

    /// A state machine scope: the top level, a Parallel branch or a Map processor.
    fn machine(&mut self, obj: &Map<String, Value>, path: &Path, inherited: Ql, scope: Scope, depth: usize) {
        if depth > MAX_SCOPE_DEPTH {
            self.err(
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
            Scope::Branch | Scope::Iterator => &["Comment", "StartAt", "States"],
            Scope::ItemProcessor => &["Comment", "StartAt", "States", "ProcessorConfig"],
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
        if scope == Scope::ItemProcessor
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
            self.err(&path.key("StartAt"), format!("no state named {s:?}"));
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
            self.err(
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
            self.err(
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
            Some(t) => {
                self.err(&path.key("Type"), format!("unknown state type {t}"));
                return true;
            }
        };
        let ql = match st.get("QueryLanguage") {
            Some(q) => self
                .query_language(q, &path.key("QueryLanguage"))
                .unwrap_or(inherited),
            None => inherited,
        };
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
                self.path_field(v, &path.key("ResultPath"), PathKind::Reference, true);
            }
            for f in [
                "Parameters",
                "ResultSelector",
                "ItemSelector",
                "Assign",
                "Credentials",
            ] {
                if let Some(v) = st.get(f) {
                    self.template(v, &path.key(f));
                }
            }
        } else {
            self.jsonata_strings(st, path);
        }

        match ty {
            "Task" => self.task(st, path, ql),
            "Choice" => self.choice(st, path, ql, states, targets),
            "Wait" => self.wait(st, path, ql),
            "Fail" => self.fail(st, path),
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
            Some(t) => self.err(path, format!("no state named {t:?}")),
            None => self.err(path, format!("a state name must be a string, found {}", kind(v))),
        }
    }

    fn path_field(&mut self, v: &Value, path: &Path, pk: PathKind, nullable: bool) {
        match v {
            Value::Null if nullable => {}
            Value::String(s) => {
                if let Err(e) = jsonpath::check_path(s, pk) {
                    self.err(path, e);
                }
            }
            other => self.err(path, format!("expected a JSONPath string, found {}", kind(other))),
        }
    }

    /// A payload template: every `.$` key holds a path or an intrinsic function call.
    fn template(&mut self, v: &Value, path: &Path) {
        let mut stack: Vec<(&Value, Path)> = vec![(v, path.clone())];
        while let Some((v, p)) = stack.pop() {
            match v {
                Value::Object(m) => {
                    for (k, val) in m {
                        let kp = p.key(k);
                        if k.ends_with(".$") {
                            match val.as_str() {
                                Some(s) => {
                                    if let Err(e) = jsonpath::check_dynamic(s) {
                                        self.err(&kp, e);
                                    }
                                }
                                None => self.err(&kp, format!("a \".$\" field must hold a JSONPath or intrinsic function string, found {}", kind(val))),
                            }
                        } else {
                            stack.push((val, kp));
                        }
                    }
                }
                Value::Array(a) => {
                    for (i, val) in a.iter().enumerate() {
                        stack.push((val, p.index(i)));
                    }
                }
                _ => {}
            }
        }
    }

    /// Every string in a JSONata state that opens with `{%` must be a well-formed expression.
    fn jsonata_strings(&mut self, st: &Map<String, Value>, path: &Path) {
        let mut stack: Vec<(&Value, Path)> = Vec::new();
        for (k, v) in st {
            if !matches!(k.as_str(), "Branches" | "ItemProcessor" | "Iterator") {
                stack.push((v, path.key(k)));
            }
        }
        while let Some((v, p)) = stack.pop() {
            match v {
                Value::String(s) if jsonata::is_expression(s) => {
                    if let Err(e) = jsonata::check_expression(s) {
                        self.err(&p, e);
                    }
                }
                Value::Object(m) => stack.extend(m.iter().map(|(k, v)| (v, p.key(k)))),
                Value::Array(a) => stack.extend(a.iter().enumerate().map(|(i, v)| (v, p.index(i)))),
                _ => {}
            }
        }
    }

    /// A positive (≥ `min`) integer, a JSONata expression string, or a string holding a
    /// `${...}` deployment placeholder (substituted before AWS sees the definition).
    fn positive_int(&mut self, v: &Value, path: &Path, field: &str, min: u64) {
        if v.as_str()
            .is_some_and(|s| jsonata::is_expression(s) || s.contains("${"))
        {
            return;
        }
        match v.as_u64() {
            Some(n) if n >= min => {}
            _ => self.err(path, format!("{field} must be an integer ≥ {min}, found {v}")),
        }
    }

    fn task(&mut self, st: &Map<String, Value>, path: &Path, ql: Ql) {
        match st.get("Resource") {
            None => self.err(path, "missing required field \"Resource\""),
            Some(Value::String(_)) => {}
            Some(r) => self.err(
                &path.key("Resource"),
                format!("Resource must be a string, found {}", kind(r)),
            ),
        }
        for (f, fp) in [
            ("TimeoutSeconds", "TimeoutSecondsPath"),
            ("HeartbeatSeconds", "HeartbeatSecondsPath"),
        ] {
            if st.contains_key(f) && st.contains_key(fp) {
                self.err(&path.key(fp), format!("cannot have both {f:?} and {fp:?}"));
            }
            if let Some(v) = st.get(f) {
                self.positive_int(v, &path.key(f), f, 1);
            }
            if let (Some(v), Ql::JsonPath) = (st.get(fp), ql) {
                self.path_field(v, &path.key(fp), PathKind::Reference, false);
            }
        }
        if let (Some(t), Some(h)) = (
            st.get("TimeoutSeconds").and_then(Value::as_u64),
            st.get("HeartbeatSeconds").and_then(Value::as_u64),
        ) && h >= t
        {
            self.err(
                &path.key("HeartbeatSeconds"),
                format!("HeartbeatSeconds ({h}) must be smaller than TimeoutSeconds ({t})"),
            );
        }
        if let Some(c) = st
            .get("Credentials")
            .filter(|c| !c.is_object() && !c.as_str().is_some_and(jsonata::is_expression))
        {
            self.err(
                &path.key("Credentials"),
                format!("Credentials must be an object, found {}", kind(c)),
            );
        }
    }

    fn choice<'a>(
        &mut self,
        st: &'a Map<String, Value>,
        path: &Path,
        ql: Ql,
        states: &Map<String, Value>,
        targets: &mut Vec<&'a str>,
    ) {
        let cp = path.key("Choices");
        match st.get("Choices") {
            None => self.err(path, "missing required field \"Choices\""),
            Some(Value::Array(a)) if a.is_empty() => self.err(&cp, "Choices must not be empty"),
            Some(Value::Array(a)) => {
                for (i, rule) in a.iter().enumerate() {
                    let rp = cp.index(i);
                    self.rule(rule, &rp, ql, true, 0);
                    if let Some(n) = rule.get("Next") {
                        self.target(n, &rp.key("Next"), states, targets);
                    }
                }
            }
            Some(other) => self.err(&cp, format!("Choices must be an array, found {}", kind(other))),
        }
        if let Some(d) = st.get("Default") {
            self.target(d, &path.key("Default"), states, targets);
        }
    }

    fn rule(&mut self, rule: &Value, path: &Path, ql: Ql, top: bool, depth: usize) {
        if depth > MAX_RULE_DEPTH {
            self.err(
                path,
                format!("choice rules nested more than {MAX_RULE_DEPTH} levels deep"),
            );
            return;
        }
        let Some(r) = rule.as_object() else {
            self.err(
                path,
                format!("a choice rule must be an object, found {}", kind(rule)),
            );
            return;
        };
        if top && !r.contains_key("Next") {
            self.err(path, "missing required field \"Next\"");
        }
        if ql == Ql::Jsonata {
            for k in r.keys() {
                let ok = matches!(k.as_str(), "Condition" | "Comment")
                    || (top && matches!(k.as_str(), "Next" | "Assign" | "Output"));
                if !ok {
                    self.err(
                        &path.key(k),
                        format!("field {k:?} is not allowed in a JSONata choice rule"),
                    );
                }
            }
            match r.get("Condition") {
                None => self.err(path, "missing required field \"Condition\""),
                Some(Value::Bool(_)) => {}
                // Its syntax is checked by the state-wide JSONata walk.
                Some(Value::String(s)) if jsonata::is_expression(s) => {}
                Some(c) => self.err(
                    &path.key("Condition"),
                    format!("Condition must be a JSONata expression \"{{% ... %}}\", found {c}"),
                ),
            }
            return;
        }
        let mut ops = Vec::new();
        for (k, v) in r {
            let p = path.key(k);
            match k.as_str() {
                "Comment" => {}
                "Next" | "Assign" if top => {
                    if k == "Assign" {
                        self.template(v, &p);
                    }
                }
                "Next" => self.err(&p, "a nested choice rule cannot have \"Next\""),
                "Variable" => self.path_field(v, &p, PathKind::Path, false),
                "And" | "Or" => {
                    ops.push(k.as_str());
                    match v.as_array() {
                        Some(a) if !a.is_empty() => {
                            for (i, sub) in a.iter().enumerate() {
                                self.rule(sub, &p.index(i), ql, false, depth + 1);
                            }
                        }
                        _ => self.err(&p, format!("{k} must be a non-empty array of choice rules")),
                    }
                }
                "Not" => {
                    ops.push("Not");
                    self.rule(v, &p, ql, false, depth + 1);
                }
                op if is_operator(op) => {
                    ops.push(op);
                    let ok = if STRING_OPS.contains(&op) || TIMESTAMP_OPS.contains(&op) {
                        v.is_string()
                    } else if NUMERIC_OPS.contains(&op) {
                        v.is_number()
                    } else if TYPE_OPS.contains(&op) {
                        v.is_boolean()
                    } else {
                        match v.as_str() {
                            Some(s) => {
                                if let Err(e) = jsonpath::check_path(s, PathKind::Path) {
                                    self.err(&p, e);
                                }
                                true
                            }
                            None => false,
                        }
                    };
                    if !ok {
                        let want = if STRING_OPS.contains(&op) || TIMESTAMP_OPS.contains(&op) {
                            "a string"
                        } else if NUMERIC_OPS.contains(&op) {
                            "a number"
                        } else if TYPE_OPS.contains(&op) {
                            "a boolean"
                        } else {
                            "a JSONPath string"
                        };
                        self.err(&p, format!("{op} must be {want}, found {}", kind(v)));
                    }
                }
                other => self.err(&p, format!("unknown field {other:?} in a choice rule")),
            }
        }
        let boolean = ops.iter().any(|o| matches!(*o, "And" | "Or" | "Not"));
        match ops.len() {
            0 => self.err(
                path,
                "a choice rule needs a comparison operator (e.g. \"StringEquals\") or And/Or/Not",
            ),
            1 if !boolean && !r.contains_key("Variable") => {
                self.err(path, "missing required field \"Variable\"")
            }
            1 => {}
            _ => self.err(
                path,
                format!(
                    "a choice rule must have exactly one operator, found {}",
                    ops.join(", ")
                ),
            ),
        }
        if boolean && r.contains_key("Variable") {
            self.err(
                &path.key("Variable"),
                "an And/Or/Not rule cannot have \"Variable\"",
            );
        }
    }

    fn wait(&mut self, st: &Map<String, Value>, path: &Path, ql: Ql) {
        let present: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
            .into_iter()
            .filter(|f| st.contains_key(*f))
            .collect();
        if present.len() != 1 {
            self.err(
                path,
                format!(
                    "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath; found {}",
                    if present.is_empty() { "none".to_string() } else { present.join(", ") }
                ),
            );
        }
        if let Some(v) = st.get("Seconds") {
            self.positive_int(v, &path.key("Seconds"), "Seconds", 0);
        }
        if let Some(v) = st.get("Timestamp")
            && !v.is_string()
        {
            self.err(
                &path.key("Timestamp"),
                format!("Timestamp must be a string, found {}", kind(v)),
            );
        }
        if ql == Ql::JsonPath {
            for f in ["SecondsPath", "TimestampPath"] {
                if let Some(v) = st.get(f) {
                    self.path_field(v, &path.key(f), PathKind::Reference, false);
                }
            }
        }
    }

    fn fail(&mut self, st: &Map<String, Value>, path: &Path) {
        for (f, fp) in [("Error", "ErrorPath"), ("Cause", "CausePath")] {
            if st.contains_key(f) && st.contains_key(fp) {
                self.err(&path.key(fp), format!("cannot have both {f:?} and {fp:?}"));
            }
            if let Some(v) = st.get(f).filter(|v| !v.is_string()) {
                self.err(&path.key(f), format!("{f} must be a string, found {}", kind(v)));
            }
            if let Some(v) = st.get(fp) {
                match v.as_str() {
                    Some(s) => {
                        if let Err(e) = jsonpath::check_dynamic(s) {
                            self.err(&path.key(fp), e);
                        }
                    }
                    None => self.err(&path.key(fp), format!("{fp} must be a string, found {}", kind(v))),
                }
            }
        }
    }

    fn parallel(&mut self, st: &Map<String, Value>, path: &Path, top_ql: Ql, depth: usize) {
        let bp = path.key("Branches");
        match st.get("Branches") {
            None => self.err(path, "missing required field \"Branches\""),
            Some(Value::Array(a)) if a.is_empty() => self.err(&bp, "Branches must not be empty"),
            Some(Value::Array(a)) => {
                for (i, b) in a.iter().enumerate() {
                    match b.as_object() {
                        Some(o) => self.machine(o, &bp.index(i), top_ql, Scope::Branch, depth + 1),
                        None => self.err(
                            &bp.index(i),
                            format!("a branch must be an object, found {}", kind(b)),
                        ),
                    }
                }
            }
            Some(other) => self.err(&bp, format!("Branches must be an array, found {}", kind(other))),
        }
    }

    fn map(&mut self, st: &Map<String, Value>, path: &Path, ql: Ql, top_ql: Ql, depth: usize) {
        match (st.get("ItemProcessor"), st.get("Iterator")) {
            (Some(_), Some(_)) => self.err(
                &path.key("Iterator"),
                "cannot have both \"ItemProcessor\" and \"Iterator\"",
            ),
            (None, None) => self.err(path, "missing required field \"ItemProcessor\""),
            (Some(p), None) => match p.as_object() {
                Some(o) => self.machine(
                    o,
                    &path.key("ItemProcessor"),
                    top_ql,
                    Scope::ItemProcessor,
                    depth + 1,
                ),
                None => self.err(
                    &path.key("ItemProcessor"),
                    format!("ItemProcessor must be an object, found {}", kind(p)),
                ),
            },
            (None, Some(p)) => match p.as_object() {
                Some(o) => self.machine(o, &path.key("Iterator"), top_ql, Scope::Iterator, depth + 1),
                None => self.err(
                    &path.key("Iterator"),
                    format!("Iterator must be an object, found {}", kind(p)),
                ),
            },
        }
        if st.contains_key("ItemSelector") && st.contains_key("Parameters") {
            self.err(
                &path.key("Parameters"),
                "cannot have both \"ItemSelector\" and \"Parameters\"",
            );
        }
        if ql == Ql::JsonPath {
            if let Some(v) = st.get("ItemsPath") {
                self.path_field(v, &path.key("ItemsPath"), PathKind::Reference, false);
            }
            for f in [
                "MaxConcurrencyPath",
                "ToleratedFailurePercentagePath",
                "ToleratedFailureCountPath",
            ] {
                if let Some(v) = st.get(f) {
                    self.path_field(v, &path.key(f), PathKind::Reference, false);
                }
            }
            for f in ["ItemReader", "ItemBatcher", "ResultWriter"] {
                if let Some(v) = st.get(f) {
                    self.template(v, &path.key(f));
                }
            }
        }
        for (f, fp) in [
            ("MaxConcurrency", "MaxConcurrencyPath"),
            ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
            ("ToleratedFailureCount", "ToleratedFailureCountPath"),
        ] {
            if st.contains_key(f) && st.contains_key(fp) {
                self.err(&path.key(fp), format!("cannot have both {f:?} and {fp:?}"));
            }
        }
        if let Some(v) = st.get("MaxConcurrency") {
            self.positive_int(v, &path.key("MaxConcurrency"), "MaxConcurrency", 0);
        }
        if let Some(v) = st.get("ToleratedFailureCount") {
            self.positive_int(v, &path.key("ToleratedFailureCount"), "ToleratedFailureCount", 0);
        }
        if let Some(v) = st.get("ToleratedFailurePercentage") {
            let ok = v.as_str().is_some_and(jsonata::is_expression)
                || v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p));
            if !ok {
                self.err(
                    &path.key("ToleratedFailurePercentage"),
                    format!("ToleratedFailurePercentage must be a number from 0 to 100, found {v}"),
                );
            }
        }
        if let Some(l) = st.get("Label") {
            match l.as_str() {
                Some(s) if s.chars().count() <= 40 => {}
                _ => self.err(
                    &path.key("Label"),
                    format!("Label must be a string of at most 40 characters, found {l}"),
                ),
            }
        }
    }

    fn error_equals(&mut self, r: &Map<String, Value>, path: &Path, last: bool) {
        let ep = path.key("ErrorEquals");
        match r.get("ErrorEquals") {
            None => self.err(path, "missing required field \"ErrorEquals\""),
            Some(Value::Array(a)) if a.is_empty() => self.err(&ep, "ErrorEquals must not be empty"),
            Some(Value::Array(a)) => {
                for (i, e) in a.iter().enumerate() {
                    match e.as_str() {
                        Some("States.ALL") => {
                            if a.len() != 1 {
                                self.err(
                                    &ep.index(i),
                                    "\"States.ALL\" must be the only error name in ErrorEquals",
                                );
                            } else if !last {
                                self.err(
                                    &ep.index(i),
                                    "\"States.ALL\" must be in the last retrier or catcher",
                                );
                            }
                        }
                        Some(_) => {}
                        None => self.err(
                            &ep.index(i),
                            format!("an error name must be a string, found {}", kind(e)),
                        ),
                    }
                }
            }
            Some(other) => self.err(
                &ep,
                format!("ErrorEquals must be an array, found {}", kind(other)),
            ),
        }
    }

    fn retry(&mut self, v: &Value, path: &Path) {
        let Some(a) = v.as_array() else {
            self.err(path, format!("Retry must be an array, found {}", kind(v)));
            return;
        };
        for (i, r) in a.iter().enumerate() {
            let rp = path.index(i);
            let Some(r) = r.as_object() else {
                self.err(&rp, format!("a retrier must be an object, found {}", kind(r)));
                continue;
            };
            self.error_equals(r, &rp, i + 1 == a.len());
            for (k, v) in r {
                let p = rp.key(k);
                match k.as_str() {
                    "ErrorEquals" | "Comment" => {}
                    "IntervalSeconds" => self.positive_int(v, &p, "IntervalSeconds", 1),
                    "MaxAttempts" => self.positive_int(v, &p, "MaxAttempts", 0),
                    "MaxDelaySeconds" => self.positive_int(v, &p, "MaxDelaySeconds", 1),
                    "BackoffRate" => {
                        if !v.as_f64().is_some_and(|b| b >= 1.0) {
                            self.err(&p, format!("BackoffRate must be a number ≥ 1.0, found {v}"));
                        }
                    }
                    "JitterStrategy" => {
                        if !matches!(v.as_str(), Some("FULL" | "NONE")) {
                            self.err(
                                &p,
                                format!("JitterStrategy must be \"FULL\" or \"NONE\", found {v}"),
                            );
                        }
                    }
                    other => self.err(&p, format!("unknown field {other:?} in a retrier")),
                }
            }
        }
    }

    fn catch<'a>(
        &mut self,
        v: &'a Value,
        path: &Path,
        ql: Ql,
        states: &Map<String, Value>,
        targets: &mut Vec<&'a str>,
    ) {
        let Some(a) = v.as_array() else {
            self.err(path, format!("Catch must be an array, found {}", kind(v)));
            return;
        };
        for (i, c) in a.iter().enumerate() {
            let cp = path.index(i);
            let Some(c) = c.as_object() else {
                self.err(&cp, format!("a catcher must be an object, found {}", kind(c)));
                continue;
            };
            self.error_equals(c, &cp, i + 1 == a.len());
            match c.get("Next") {
                Some(n) => self.target(n, &cp.key("Next"), states, targets),
                None => self.err(&cp, "missing required field \"Next\""),
            }
            for (k, v) in c {
                let p = cp.key(k);
                match (k.as_str(), ql) {
                    ("ErrorEquals" | "Next" | "Comment", _) => {}
                    ("Assign", Ql::JsonPath) => self.template(v, &p),
                    ("Assign", Ql::Jsonata) => {}
                    ("ResultPath", Ql::JsonPath) => self.path_field(v, &p, PathKind::Reference, true),
                    ("Output", Ql::Jsonata) => {}
                    ("ResultPath", Ql::Jsonata) => {
                        self.err(&p, "field \"ResultPath\" is not allowed in a JSONata state")
                    }
                    ("Output", Ql::JsonPath) => self.err(
                        &p,
                        "field \"Output\" is not allowed in a JSONPath state (set QueryLanguage to JSONata)",
                    ),
                    (other, _) => self.err(&p, format!("unknown field {other:?} in a catcher")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
