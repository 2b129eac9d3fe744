//! JSONata in the interpreter: `{% %}` strings and their bindings (`$states`, variables), over
//! the shared engine in [`crate::asl::jsonata`].

use serde_json::{Map, Value};

use crate::asl::jsonata;

/// The expression inside `{% ... %}`, if `s` is one.
pub fn expression(s: &str) -> Option<&str> {
    jsonata::expression_body(s.trim_end()).map(str::trim)
}

/// Evaluates a JSONata expression with `$states` and the variables bound, `$now()` at `now_ms`;
/// `Ok(None)` is JSONata's *undefined*. Errors read `CODE: message`, as AWS quotes them.
pub fn evaluate(
    expr: &str,
    states: &Value,
    vars: &Map<String, Value>,
    now_ms: i64,
) -> Result<Option<Value>, String> {
    let mut bindings: Vec<(&str, &Value)> = Vec::with_capacity(vars.len() + 1);
    bindings.push(("states", states));
    bindings.extend(vars.iter().map(|(k, v)| (k.as_str(), v)));
    let options = jsonata::Options {
        now_millis: Some(now_ms),
        ..jsonata::Options::default()
    };
    let parsed = jsonata::parse(expr).map_err(|e| e.to_string())?;
    jsonata::evaluate_with(&parsed, &Value::Null, &bindings, &options).map_err(|e| e.to_string())
}

/// Evaluates a JSONata expression with `input` as its context (`$`), no bindings: the
/// `jsonata` Lambda stand-ins.
pub fn evaluate_on(expr: &str, input: &Value) -> Result<Option<Value>, String> {
    jsonata::evaluate_str(expr, input, &[]).map_err(|e| e.to_string())
}
