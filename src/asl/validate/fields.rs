//! Field values: JSONPath fields, payload templates (`.$` keys, intrinsic functions), `Assign`,
//! JSONata expressions, numbers that may also be expressions or placeholders.

use serde_json::{Map, Value};

use super::super::intrinsic;
use super::super::jsonata;
use super::super::jsonpath::{self, PathKind};
use super::super::model::{QueryLanguage as Ql, kind};
use super::Validator;
use crate::asl::Code;
use crate::path::Path;

/// Fields of a JSONata state (and of its Choice rules and catchers) whose strings are never
/// expressions: names, targets, types, comments, nested machines.
const NOT_EXPRESSIONS: &[&str] = &[
    "Type",
    "Comment",
    "QueryLanguage",
    "Next",
    "End",
    "Default",
    "Resource",
    "Branches",
    "ItemProcessor",
    "Iterator",
    "Retry",
    "ErrorEquals",
    "Label",
    "ProcessorConfig",
];

impl Validator {
    pub(super) fn path_field(&mut self, v: &Value, path: &Path, pk: PathKind, nullable: bool) {
        match v {
            Value::Null if nullable => {}
            Value::String(s) => {
                if let Err(e) = jsonpath::check_path(s, pk) {
                    self.fail(Code::InvalidJsonPath, path, e);
                }
            }
            other => self.err(path, format!("expected a JSONPath string, found {}", kind(other))),
        }
    }

    /// `ResultPath` (JSONPath states and catchers): a reference path into the state's input, never
    /// a variable (`$name`), or null.
    pub(super) fn result_path(&mut self, v: &Value, path: &Path) {
        if let Some(s) = v.as_str()
            && s.len() > 1
            && s.as_bytes()[1] != b'.'
            && s.as_bytes()[1] != b'['
            && s.starts_with('$')
        {
            self.fail(
                Code::InvalidJsonPath,
                path,
                format!("ResultPath {s:?} must be a reference path into the state's data (\"$\", \"$.field\"), not a variable or the context object"),
            );
            return;
        }
        self.path_field(v, path, PathKind::Reference, true);
    }

    /// A payload template (`Parameters`, `ResultSelector`, `ItemSelector`, `Credentials`, JSONPath
    /// `Assign`): every `.$` key holds a path or an intrinsic function call; `a` and `a.$` in one
    /// object are the same field twice. `no_dollar`: warn of plain keys whose value looks dynamic.
    pub(super) fn template(&mut self, v: &Value, path: &Path, no_dollar: bool) {
        let mut stack: Vec<(&Value, Path)> = vec![(v, path.clone())];
        while let Some((v, p)) = stack.pop() {
            match v {
                Value::Object(m) => {
                    for (k, val) in m {
                        let kp = p.key(k);
                        if let Some(base) = k.strip_suffix(".$") {
                            if m.contains_key(base) {
                                self.err(
                                    &kp,
                                    format!("{base:?} and {k:?} are the same field: give one of them"),
                                );
                            }
                            match val.as_str() {
                                Some(s) => self.dynamic(s, &kp),
                                None => self.err(&kp, format!("a \".$\" field must hold a JSONPath or intrinsic function string, found {}", kind(val))),
                            }
                        } else {
                            if no_dollar
                                && let Some(s) = val.as_str()
                                && looks_dynamic(s)
                            {
                                self.warn(
                                    Code::NoDollar,
                                    &kp,
                                    format!("{s:?} looks like a JSONPath or intrinsic function but stays a literal string: name the field {:?} to evaluate it", format!("{k}.$")),
                                );
                            }
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

    /// The value of a `.$` key (or `ErrorPath`/`CausePath`): a path or an intrinsic function call.
    pub(super) fn dynamic(&mut self, s: &str, path: &Path) {
        if s.starts_with('$') {
            if let Err(e) = jsonpath::check_path(s, PathKind::Path) {
                self.fail(Code::InvalidJsonPath, path, e);
            }
        } else if let Err(e) = intrinsic::check_dynamic(s) {
            self.err(path, e);
        }
    }

    /// A Pass state's `Result` is data: a path in it stays a string (AWS warns).
    pub(super) fn static_result(&mut self, v: &Value, path: &Path) {
        let mut stack: Vec<(&Value, Path)> = vec![(v, path.clone())];
        while let Some((v, p)) = stack.pop() {
            match v {
                Value::String(s) if looks_dynamic(s) => self.warn(
                    Code::PassResultIsStatic,
                    &p,
                    format!("{s:?} in a Pass state's Result is not evaluated: use Parameters to select data"),
                ),
                Value::Object(m) => {
                    for (k, val) in m {
                        if k.ends_with(".$") {
                            self.warn(
                                Code::PassResultIsStatic,
                                &p.key(k),
                                format!("{k:?} in a Pass state's Result is not evaluated: use Parameters to select data"),
                            );
                            if val.is_string() {
                                continue;
                            }
                        }
                        stack.push((val, p.key(k)));
                    }
                }
                Value::Array(a) => stack.extend(a.iter().enumerate().map(|(i, v)| (v, p.index(i)))),
                _ => {}
            }
        }
    }

    /// `Assign` (a state, a Choice rule, a catcher): an object of variable names; in JSONPath
    /// states a payload template.
    pub(super) fn assign(&mut self, v: &Value, path: &Path, ql: Ql) {
        let Some(m) = v.as_object() else {
            self.err(
                path,
                format!("Assign must be an object of variable names, found {}", kind(v)),
            );
            return;
        };
        if ql == Ql::JsonPath {
            self.template(v, path, false);
        }
        for k in m.keys() {
            let name = k.strip_suffix(".$").unwrap_or(k);
            let ok = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                self.err(&path.key(k), format!("{name:?} is not a valid variable name (letters, digits and _, not starting with a digit)"));
            }
        }
    }

    /// Every string in a JSONata state's expression fields that opens with `{%` must be a
    /// JSONata expression AWS accepts.
    pub(super) fn jsonata_strings(&mut self, st: &Map<String, Value>, path: &Path) {
        let mut stack: Vec<(&Value, Path)> = Vec::new();
        for (k, v) in st {
            if NOT_EXPRESSIONS.contains(&k.as_str()) {
                continue;
            }
            if matches!(k.as_str(), "Choices" | "Catch")
                && let Some(items) = v.as_array()
            {
                for (i, item) in items.iter().enumerate() {
                    let ip = path.key(k).index(i);
                    match item.as_object() {
                        Some(o) => stack.extend(
                            o.iter()
                                .filter(|(k, _)| !NOT_EXPRESSIONS.contains(&k.as_str()))
                                .map(|(k, v)| (v, ip.key(k))),
                        ),
                        None => stack.push((item, ip)),
                    }
                }
                continue;
            }
            stack.push((v, path.key(k)));
        }
        while let Some((v, p)) = stack.pop() {
            match v {
                Value::String(s) if jsonata::is_expression(s) => self.jsonata(s, &p),
                Value::Object(m) => stack.extend(m.iter().map(|(k, v)| (v, p.key(k)))),
                Value::Array(a) => stack.extend(a.iter().enumerate().map(|(i, v)| (v, p.index(i)))),
                _ => {}
            }
        }
    }

    /// One `{% ... %}` string: delimiters, syntax, and what Step Functions forbids at the top
    /// level of an expression (`$`, `$$` and unqualified field names: the input is
    /// `$states.input`).
    pub(super) fn jsonata(&mut self, s: &str, path: &Path) {
        let ast = match jsonata::check_expression_ast(s) {
            Ok(ast) => ast,
            Err(e) => {
                self.fail(Code::InvalidJsonata, path, e);
                return;
            }
        };
        if let Some(what) = top_level_input_reference(&ast) {
            self.fail(
                Code::InvalidJsonata,
                path,
                format!("invalid JSONata expression {s:?}: {what} cannot be used at the top level of an expression in Step Functions; use $states.input"),
            );
        }
    }

    /// A positive (≥ `min`) integer, a JSONata expression string, or a string holding a
    /// `${...}` deployment placeholder (substituted before AWS sees the definition).
    pub(super) fn positive_int(&mut self, v: &Value, path: &Path, field: &str, min: u64) {
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

    /// `field` and `fieldPath` in one object are the same setting twice.
    pub(super) fn exclusive(&mut self, obj: &Map<String, Value>, path: &Path, pairs: &[(&str, &str)]) {
        for (f, fp) in pairs {
            if obj.contains_key(*f) && obj.contains_key(*fp) {
                self.err(&path.key(*fp), format!("cannot have both {f:?} and {fp:?}"));
            }
        }
    }
}

/// A string that Step Functions would evaluate if its key ended in `.$`.
fn looks_dynamic(s: &str) -> bool {
    s == "$"
        || s == "$$"
        || s.starts_with("$.")
        || s.starts_with("$$.")
        || s.starts_with("$[")
        || (s.starts_with("States.") && s.ends_with(')') && s.contains('('))
}

/// What names the input implicitly at the top level of a JSONata syntax tree: `$`, `$$` or a
/// field name, alone or as the start of a path. Looks through blocks, operators and conditions,
/// not into function arguments, lambdas or constructors (where `$` is the context item).
fn top_level_input_reference(ast: &Value) -> Option<&'static str> {
    let mut stack = vec![ast];
    while let Some(node) = stack.pop() {
        let first = match node["type"].as_str() {
            Some("path") => node["steps"].get(0),
            Some("variable" | "name") => Some(node),
            Some("block") => {
                if let Some(es) = node["expressions"].as_array() {
                    stack.extend(es);
                }
                None
            }
            Some("binary") => {
                stack.extend([&node["lhs"], &node["rhs"]]);
                None
            }
            Some("condition") => {
                stack.extend([&node["condition"], &node["then"], &node["else"]]);
                None
            }
            _ => None,
        };
        if let Some(step) = first {
            match (step["type"].as_str(), step["value"].as_str()) {
                (Some("variable"), Some("")) => return Some("\"$\""),
                (Some("variable"), Some("$")) => return Some("\"$$\""),
                (Some("name"), _) => return Some("a field name"),
                _ => {}
            }
        }
    }
    None
}
