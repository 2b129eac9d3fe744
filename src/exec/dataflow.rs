//! Data flow, decided ONCE per state: a state's query language picks a [`DataFlow`] when the
//! state is entered ([`flow_for`]), and the state handlers in `states/` call it without asking
//! which language they run in. [`JsonPath`] reads `InputPath`, `Parameters`, `ResultSelector`,
//! `ResultPath`, `OutputPath`, `Assign` and the `...Path` fields; [`Jsonata`] evaluates
//! `Arguments`, `Output`, `Assign` and the other fields' `{% %}` expressions over `$states`.
//!
//! Must not: record history, call tasks, sleep or decide control flow (which state runs next,
//! retries): those are the handlers' and the loop's.

use serde_json::{Map, Value, json};

use super::cx::{Abort, Cx, DataFlow, Env, Frame, Step};
use super::payload::{self, PathError, Scope};
use super::query;
use crate::asl::model::QueryLanguage;

/// The data flow of a state in a query language: the one place the language is decided.
pub(super) fn flow_for(ql: QueryLanguage) -> &'static dyn DataFlow {
    match ql {
        QueryLanguage::JsonPath => &JsonPath,
        QueryLanguage::Jsonata => &Jsonata,
    }
}

/// JSONPath states: paths, payload templates and intrinsic functions.
pub(super) struct JsonPath;

/// JSONata states: `{% %}` expressions over `$states` and the variables.
pub(super) struct Jsonata;

impl DataFlow for JsonPath {
    fn effective(&self, it: &Env<'_>, cx: &Cx<'_>, input: &Value, frame: &Frame) -> Result<Value, Abort> {
        it.filter_path(cx, "InputPath", input, frame)
    }

    fn arguments(&self, it: &Env<'_>, cx: &Cx<'_>, input: &Value, frame: &Frame) -> Result<Value, Abort> {
        let effective = it.filter_path(cx, "InputPath", input, frame)?;
        Ok(it
            .template(cx, "Parameters", &effective, frame)?
            .unwrap_or(effective))
    }

    fn pass(&self, it: &Env<'_>, cx: &Cx<'_>, input: Value, frame: &Frame) -> Result<Step, Abort> {
        let effective = it.filter_path(cx, "InputPath", &input, frame)?;
        let result = match it.template(cx, "Parameters", &effective, frame)? {
            Some(p) => p,
            None => cx.field("Result").cloned().unwrap_or(effective),
        };
        let assign = it.jsonpath_assign(cx, cx.st, &result, frame)?;
        let output = it.result_path(cx, cx.st, input, result)?;
        let output = it.filter_path(cx, "OutputPath", &output, frame)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    fn finish(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        input: &Value,
        result: Value,
        frame: &Frame,
    ) -> Result<Step, Abort> {
        let result = it
            .template(cx, "ResultSelector", &result, frame)?
            .unwrap_or(result);
        let assign = it.jsonpath_assign(cx, cx.st, &result, frame)?;
        let output = it.result_path(cx, cx.st, input.clone(), result)?;
        let output = it.filter_path(cx, "OutputPath", &output, frame)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    fn output(&self, it: &Env<'_>, cx: &Cx<'_>, input: Value, frame: &Frame) -> Result<Value, Abort> {
        let effective = it.filter_path(cx, "InputPath", &input, frame)?;
        it.filter_path(cx, "OutputPath", &effective, frame)
    }

    fn pass_on(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        holder: &Map<String, Value>,
        _input: &Value,
        effective: &Value,
        frame: &Frame,
    ) -> Result<(Value, Option<Map<String, Value>>), Abort> {
        let assign = it.jsonpath_assign(cx, holder, effective, frame)?;
        let output = it.filter_path(cx, "OutputPath", effective, frame)?;
        Ok((output, assign))
    }

    fn condition(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        rule: &Map<String, Value>,
        _input: &Value,
        effective: &Value,
        frame: &Frame,
    ) -> Result<bool, Abort> {
        payload::choice_rule(rule, &it.scope(effective, cx, frame)).map_err(|m| cx.runtime(m))
    }

    fn fail_field(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        input: &Value,
        key: &str,
        frame: &Frame,
    ) -> Result<Option<String>, Abort> {
        if let Some(v) = cx.field(key) {
            return Ok(v.as_str().map(str::to_string));
        }
        let path_key = format!("{key}Path");
        match cx.field(&path_key).and_then(Value::as_str) {
            None => Ok(None),
            Some(expr) => {
                let sc = it.scope(input, cx, frame);
                let v = payload::dynamic(&path_key, expr, &sc).map_err(|m| cx.runtime(m))?;
                Ok(Some(match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                }))
            }
        }
    }

    fn wait_until(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        effective: &Value,
        now: i64,
        frame: &Frame,
    ) -> Result<i64, Abort> {
        let sc = it.scope(effective, cx, frame);
        Ok(if let Some(s) = cx.field("Seconds") {
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
        })
    }

    fn seconds(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        input: &Value,
        key: &str,
        frame: &Frame,
    ) -> Result<Option<u64>, Abort> {
        if let Some(v) = cx.field(key) {
            return Ok(v.as_u64());
        }
        match cx.field(&format!("{key}Path")).and_then(Value::as_str) {
            Some(p) => Ok(payload::select(p, &it.scope(input, cx, frame))
                .ok()
                .and_then(|v| v.as_u64())),
            None => Ok(None),
        }
    }

    fn caught(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        catcher: &Map<String, Value>,
        input: Value,
        error_output: Value,
        frame: &Frame,
    ) -> Result<Step, Abort> {
        let assign = it.jsonpath_assign(cx, catcher, &error_output, frame)?;
        let output = it.result_path(cx, catcher, input, error_output)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    fn map_items(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        _input: &Value,
        effective: &Value,
        frame: &Frame,
    ) -> Result<Vec<Value>, Abort> {
        let path = cx.field("ItemsPath").and_then(Value::as_str).unwrap_or("$");
        match payload::select(path, &it.scope(effective, cx, frame)) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(other) => Err(cx.runtime(format!("Map state input must be an array but was: {other}"))),
            Err(_) => Err(cx.runtime(format!(
                "Invalid path '{path}' : No results for path: {}",
                payload::bracket_notation(path)
            ))),
        }
    }

    fn map_number(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        key: &str,
        float: bool,
        _input: &Value,
        effective: &Value,
        frame: &Frame,
    ) -> Result<Option<f64>, Abort> {
        if let Some(v) = cx.field(key) {
            return Ok(v.as_f64());
        }
        let path_key = format!("{key}Path");
        let Some(p) = cx.field(&path_key).and_then(Value::as_str) else {
            return Ok(None);
        };
        let v = payload::select(p, &it.scope(effective, cx, frame)).map_err(|_| {
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

    fn select_item(
        &self,
        it: &Env<'_>,
        item_cx: &Cx<'_>,
        selector: &Value,
        _input: &Value,
        effective: &Value,
        frame: &Frame,
    ) -> Result<Value, Abort> {
        payload::template(selector, &it.scope(effective, item_cx, frame)).map_err(|m| item_cx.runtime(m))
    }

    fn batch_input(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        template: &Value,
        _input: &Value,
        effective: &Value,
        frame: &Frame,
    ) -> Result<Value, Abort> {
        payload::template(template, &it.scope(effective, cx, frame)).map_err(|m| cx.runtime(m))
    }
}

impl DataFlow for Jsonata {
    fn effective(&self, _: &Env<'_>, _: &Cx<'_>, input: &Value, _: &Frame) -> Result<Value, Abort> {
        Ok(input.clone())
    }

    fn arguments(&self, it: &Env<'_>, cx: &Cx<'_>, input: &Value, frame: &Frame) -> Result<Value, Abort> {
        let states = it.states(cx, input, None, None);
        Ok(it
            .ja_field(cx, cx.st, "Arguments", &states, frame)?
            .unwrap_or_else(|| input.clone()))
    }

    fn pass(&self, it: &Env<'_>, cx: &Cx<'_>, input: Value, frame: &Frame) -> Result<Step, Abort> {
        let states = it.states(cx, &input, None, None);
        let output = it
            .ja_field(cx, cx.st, "Output", &states, frame)?
            .unwrap_or_else(|| input.clone());
        let assign = it.ja_assign(cx, cx.st, &states, frame)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    fn finish(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        input: &Value,
        result: Value,
        frame: &Frame,
    ) -> Result<Step, Abort> {
        let states = it.states(cx, input, Some(&result), None);
        let output = it
            .ja_field(cx, cx.st, "Output", &states, frame)?
            .unwrap_or_else(|| result.clone());
        let assign = it.ja_assign(cx, cx.st, &states, frame)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    fn output(&self, it: &Env<'_>, cx: &Cx<'_>, input: Value, frame: &Frame) -> Result<Value, Abort> {
        let states = it.states(cx, &input, None, None);
        Ok(it.ja_field(cx, cx.st, "Output", &states, frame)?.unwrap_or(input))
    }

    fn pass_on(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        holder: &Map<String, Value>,
        input: &Value,
        _effective: &Value,
        frame: &Frame,
    ) -> Result<(Value, Option<Map<String, Value>>), Abort> {
        let states = it.states(cx, input, None, None);
        let output = it
            .ja_field(cx, holder, "Output", &states, frame)?
            .unwrap_or_else(|| input.clone());
        let assign = it.ja_assign(cx, holder, &states, frame)?;
        Ok((output, assign))
    }

    fn condition(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        rule: &Map<String, Value>,
        input: &Value,
        _effective: &Value,
        frame: &Frame,
    ) -> Result<bool, Abort> {
        let cond = match rule.get("Condition") {
            Some(c) => {
                let states = it.states(cx, input, None, None);
                it.ja(cx, "Condition", c, &states, frame)?
            }
            None => Value::Bool(false),
        };
        match cond {
            Value::Bool(matched) => Ok(matched),
            other => Err(cx.query_error(format!(
                "The Condition of a Choice rule must be a boolean, but was: {other}"
            ))),
        }
    }

    fn fail_field(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        input: &Value,
        key: &str,
        frame: &Frame,
    ) -> Result<Option<String>, Abort> {
        let states = it.states(cx, input, None, None);
        Ok(it.ja_field(cx, cx.st, key, &states, frame)?.map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        }))
    }

    fn wait_until(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        input: &Value,
        now: i64,
        frame: &Frame,
    ) -> Result<i64, Abort> {
        let states = it.states(cx, input, None, None);
        if let Some(s) = it.ja_field(cx, cx.st, "Seconds", &states, frame)? {
            match s.as_i64() {
                Some(n) if n >= 0 => Ok(now + n * 1000),
                _ => Err(cx.query_error(format!(
                    "The Seconds field must be a non-negative integer, but was: {s}"
                ))),
            }
        } else if let Some(t) = it.ja_field(cx, cx.st, "Timestamp", &states, frame)? {
            let text = t.as_str().map_or_else(|| t.to_string(), str::to_string);
            super::parse_iso(&text).ok_or_else(|| {
                cx.query_error(format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                ))
            })
        } else {
            Ok(now)
        }
    }

    fn seconds(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        input: &Value,
        key: &str,
        frame: &Frame,
    ) -> Result<Option<u64>, Abort> {
        let states = it.states(cx, input, None, None);
        Ok(it
            .ja_field(cx, cx.st, key, &states, frame)?
            .and_then(|v| v.as_u64()))
    }

    fn caught(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        catcher: &Map<String, Value>,
        input: Value,
        error_output: Value,
        frame: &Frame,
    ) -> Result<Step, Abort> {
        let states = it.states(cx, &input, None, Some(&error_output));
        let output = it
            .ja_field(cx, catcher, "Output", &states, frame)?
            .unwrap_or(error_output);
        let assign = it.ja_assign(cx, catcher, &states, frame)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    fn map_items(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        input: &Value,
        _effective: &Value,
        frame: &Frame,
    ) -> Result<Vec<Value>, Abort> {
        let Some(expr) = cx.field("Items") else {
            return match input {
                Value::Array(a) => Ok(a.clone()),
                other => Err(cx.query_error(format!("Map state input must be an array but was: {other}"))),
            };
        };
        let states = it.states(cx, input, None, None);
        match it.ja(cx, "Items", expr, &states, frame)? {
            Value::Array(a) => Ok(a),
            other => {
                let text = expr
                    .as_str()
                    .and_then(query::expression)
                    .map_or_else(|| expr.to_string(), str::to_string);
                Err(cx.query_error(format!(
                    "The JSONata expression '{text}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {other}",
                    type_name(&other)
                )))
            }
        }
    }

    fn map_number(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        key: &str,
        float: bool,
        input: &Value,
        _effective: &Value,
        frame: &Frame,
    ) -> Result<Option<f64>, Abort> {
        let states = it.states(cx, input, None, None);
        match it.ja_field(cx, cx.st, key, &states, frame)? {
            None => Ok(None),
            Some(v) => match number_of(&v, float) {
                Some(n) => Ok(Some(n)),
                None => Err(cx.query_error(format!("The {key} field must be a number, but was: {v}"))),
            },
        }
    }

    fn select_item(
        &self,
        it: &Env<'_>,
        item_cx: &Cx<'_>,
        selector: &Value,
        input: &Value,
        _effective: &Value,
        frame: &Frame,
    ) -> Result<Value, Abort> {
        let states = it.states(item_cx, input, None, None);
        it.ja(item_cx, "ItemSelector", selector, &states, frame)
    }

    fn batch_input(
        &self,
        it: &Env<'_>,
        cx: &Cx<'_>,
        template: &Value,
        input: &Value,
        _effective: &Value,
        frame: &Frame,
    ) -> Result<Value, Abort> {
        let states = it.states(cx, input, None, None);
        it.ja(cx, "ItemBatcher/BatchInput", template, &states, frame)
    }
}

/// The primitives both flows are built from: paths and templates (JSONPath), `$states` and
/// expressions (JSONata).
impl Env<'_> {
    pub(super) fn scope<'s>(&'s self, input: &'s Value, cx: &'s Cx<'_>, frame: &'s Frame) -> Scope<'s> {
        Scope {
            input,
            context: &cx.context,
            vars: &frame.vars,
            parsed: &self.parsed,
            random: self.random,
        }
    }

    /// `InputPath` / `OutputPath`: `$` by default, `null` gives `{}`.
    pub(super) fn filter_path(
        &self,
        cx: &Cx<'_>,
        key: &str,
        value: &Value,
        frame: &Frame,
    ) -> Result<Value, Abort> {
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

    pub(super) fn template(
        &self,
        cx: &Cx<'_>,
        key: &str,
        input: &Value,
        frame: &Frame,
    ) -> Result<Option<Value>, Abort> {
        match cx.field(key) {
            None => Ok(None),
            Some(t) => payload::template(t, &self.scope(input, cx, frame))
                .map(Some)
                .map_err(|m| cx.runtime(m)),
        }
    }

    /// `ResultPath` (default `$`), applied to the raw state input.
    pub(super) fn result_path(
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

    pub(super) fn jsonpath_assign(
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
    pub(super) fn states(
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
    pub(super) fn ja(
        &self,
        cx: &Cx<'_>,
        field: &str,
        v: &Value,
        states: &Value,
        frame: &Frame,
    ) -> Result<Value, Abort> {
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

    pub(super) fn ja_field(
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

    pub(super) fn ja_assign(
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
}

/// A number field's value: a number, or a string holding one; an integer unless `float`.
pub(super) fn number_of(v: &Value, float: bool) -> Option<f64> {
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
