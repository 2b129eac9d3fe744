//! JSONata in the interpreter: `{% %}` strings and the bindings (`$states`, variables).

use serde_json::{Map, Value};

/// The expression inside `{% ... %}`, if `s` is one.
pub fn expression(s: &str) -> Option<&str> {
    let t = s.trim();
    t.strip_prefix("{%")?.strip_suffix("%}").map(str::trim)
}

/// Evaluates a JSONata expression with `$states` and the variables bound; `Ok(None)` is
/// JSONata's *undefined*. Errors read `CODE: message`, as JSONata reports them.
pub fn evaluate(expr: &str, states: &Value, vars: &Map<String, Value>) -> Result<Option<Value>, String> {
    let _ = (states, vars);
    Err(format!(
        "JSONata is not available in this build (expression {expr:?})"
    ))
}

/// Evaluates a JSONata expression with `input` as its context (`$`), no bindings: the
/// `jsonata` Lambda stand-ins.
pub fn evaluate_on(expr: &str, input: &Value) -> Result<Option<Value>, String> {
    let _ = input;
    Err(format!(
        "JSONata is not available in this build (expression {expr:?})"
    ))
}
