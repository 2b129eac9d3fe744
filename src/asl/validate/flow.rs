//! Wait, Fail, Parallel and Map states, and the Retry and Catch fields of the states that fail.

use serde_json::{Map, Value};

use super::super::jsonata;
use super::super::jsonpath::PathKind;
use super::super::model::{MachineType, QueryLanguage as Ql, Scope, kind};
use super::Validator;
use crate::asl::Code;
use crate::path::Path;

impl Validator {
    pub(super) fn wait(&mut self, st: &Map<String, Value>, path: &Path, ql: Ql) {
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
        match st.get("Timestamp") {
            Some(Value::String(s)) if jsonata::is_expression(s) || s.contains("${") => {}
            Some(Value::String(s)) if !is_rfc3339(s) => self.err(
                &path.key("Timestamp"),
                format!("String does not match RFC3339 timestamp: {s:?}"),
            ),
            Some(Value::String(_)) | None => {}
            Some(v) => self.err(
                &path.key("Timestamp"),
                format!("Timestamp must be a string, found {}", kind(v)),
            ),
        }
        if ql == Ql::JsonPath {
            for f in ["SecondsPath", "TimestampPath"] {
                if let Some(v) = st.get(f) {
                    self.path_field(v, &path.key(f), PathKind::Reference, false);
                }
            }
        }
    }

    pub(super) fn fail_state(&mut self, st: &Map<String, Value>, path: &Path) {
        for (f, fp) in [("Error", "ErrorPath"), ("Cause", "CausePath")] {
            if st.contains_key(f) && st.contains_key(fp) {
                self.err(&path.key(fp), format!("cannot have both {f:?} and {fp:?}"));
            }
            if let Some(v) = st.get(f).filter(|v| !v.is_string()) {
                self.err(&path.key(f), format!("{f} must be a string, found {}", kind(v)));
            }
            if let Some(v) = st.get(fp) {
                match v.as_str() {
                    Some(s) => self.dynamic(s, &path.key(fp)),
                    None => self.err(&path.key(fp), format!("{fp} must be a string, found {}", kind(v))),
                }
            }
        }
    }

    pub(super) fn parallel(&mut self, st: &Map<String, Value>, path: &Path, top_ql: Ql, depth: usize) {
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

    pub(super) fn map(&mut self, st: &Map<String, Value>, path: &Path, ql: Ql, top_ql: Ql, depth: usize) {
        match (st.get("ItemProcessor"), st.get("Iterator")) {
            (Some(_), Some(_)) => self.err(
                &path.key("Iterator"),
                "cannot have both \"ItemProcessor\" and \"Iterator\"",
            ),
            (None, None) => self.err(path, "missing required field \"ItemProcessor\""),
            (Some(p), None) => match p.as_object() {
                Some(o) => {
                    // A distributed Map's EXPRESS child executions are Express workflows.
                    let pc = o.get("ProcessorConfig");
                    let express_children = pc.and_then(|c| c.get("Mode")).and_then(Value::as_str)
                        == Some("DISTRIBUTED")
                        && pc.and_then(|c| c.get("ExecutionType")).and_then(Value::as_str) == Some("EXPRESS");
                    let outer = self.options.machine_type;
                    if express_children {
                        self.options.machine_type = MachineType::Express;
                    }
                    self.machine(
                        o,
                        &path.key("ItemProcessor"),
                        top_ql,
                        Scope::ItemProcessor,
                        depth + 1,
                    );
                    self.options.machine_type = outer;
                }
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
                    self.template(v, &path.key(f), false);
                }
            }
        }
        if let Some(Value::Object(ib)) = st.get("ItemBatcher") {
            self.exclusive(
                ib,
                &path.key("ItemBatcher"),
                &[
                    ("MaxItemsPerBatch", "MaxItemsPerBatchPath"),
                    ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"),
                ],
            );
        }
        if let Some(Value::Object(rc)) = st.get("ItemReader").and_then(|r| r.get("ReaderConfig")) {
            self.exclusive(
                rc,
                &path.key("ItemReader").key("ReaderConfig"),
                &[("MaxItems", "MaxItemsPath")],
            );
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
                Some(s) if s.chars().count() > 40 => self.fail(
                    Code::InvalidLabelName,
                    &path.key("Label"),
                    format!("Label must be at most 40 characters, found {l}"),
                ),
                Some(s) if s.chars().any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)) => self.fail(
                    Code::InvalidLabelName,
                    &path.key("Label"),
                    format!("Label {s:?} must not contain whitespace, brackets, wildcards or any of \" # % \\ ^ | ~ ` $ & , ; : /"),
                ),
                Some(_) => {}
                None => self.fail(
                    Code::InvalidLabelName,
                    &path.key("Label"),
                    format!("Label must be a string, found {}", kind(l)),
                ),
            }
        }
    }

    pub(super) fn error_equals(&mut self, r: &Map<String, Value>, path: &Path, last: bool) {
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

    pub(super) fn retry(&mut self, v: &Value, path: &Path) {
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

    pub(super) fn catch<'a>(
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
                    ("Assign", _) => self.assign(v, &p, ql),
                    ("ResultPath", Ql::JsonPath) => self.result_path(v, &p),
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

/// RFC 3339 date-time, as Step Functions checks `Wait.Timestamp`:
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r.clone()).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok()).unwrap_or(99);
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit())
                && num(i + 1..i + 3) <= 23
                && num(i + 4..i + 6) <= 59
        }
        _ => false,
    }
}
