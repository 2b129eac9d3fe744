//! Choice states and their rules, in both query languages.

use serde_json::{Map, Value};

use super::super::jsonata;
use super::super::jsonpath::{self, PathKind};
use super::super::model::{
    NUMERIC_OPS, QueryLanguage as Ql, STRING_OPS, TIMESTAMP_OPS, TYPE_OPS, is_operator, kind,
};
use super::Validator;
use crate::asl::Code;
use crate::path::Path;

const MAX_RULE_DEPTH: usize = 100;

impl Validator {
    pub(super) fn choice<'a>(
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

    pub(super) fn rule(&mut self, rule: &Value, path: &Path, ql: Ql, top: bool, depth: usize) {
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
                        self.assign(v, &p, ql);
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
                                    self.fail(Code::InvalidJsonPath, &p, e);
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
}
