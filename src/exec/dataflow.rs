//! Data flow, decided ONCE per state: a state's query language picks a [`DataFlow`] when the
//! state is entered ([`flow_for`]), and the state handlers in `states/` call it without asking
//! which language they run in. [`JsonPath`] reads `InputPath`, `Parameters`, `ResultSelector`,
//! `ResultPath`, `OutputPath`, `Assign` and the `...Path` fields; [`Jsonata`] evaluates
//! `Arguments`, `Output`, `Assign` and the other fields' `{% %}` expressions over `$states`.
//!
//! Must not: record history, call tasks, sleep or decide control flow (which state runs next,
//! retries): those are the handlers' and the loop's.

use serde_json::{Map, Value, json};

use super::cx::{At, DataFlow, Eval, Handed, Obj, Step};
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
    fn effective(&self, at: At<'_>, input: &Value) -> Eval<Value> {
        let effective = at.filter_path("InputPath", input)?;
        at.env.note("afterInputPath", || effective.clone());
        Ok(effective)
    }

    fn arguments(&self, at: At<'_>, input: &Value) -> Eval<Value> {
        let effective = self.effective(at, input)?;
        let arguments = at.template("Parameters", &effective)?.unwrap_or(effective);
        at.env.note("afterParameters", || arguments.clone());
        Ok(arguments)
    }

    fn pass(&self, at: At<'_>, input: Value) -> Eval<Step> {
        // `Result` is the Pass state's result; without it, the input after `Parameters`.
        let result = match at.cx.field("Result") {
            Some(r) => {
                at.env.note("result", || r.clone());
                r.clone()
            }
            None => self.arguments(at, &input)?,
        };
        at.env.note("afterResultSelector", || result.clone());
        let assign = at.jsonpath_assign(at.cx.st, &result)?;
        let output = at.result_path(at.cx.st, input, result)?;
        at.env.note("afterResultPath", || output.clone());
        let output = at.filter_path("OutputPath", &output)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    fn finish(&self, at: At<'_>, input: &Value, result: Value) -> Eval<Step> {
        let result = at.template("ResultSelector", &result)?.unwrap_or(result);
        at.env.note("afterResultSelector", || result.clone());
        let assign = at.jsonpath_assign(at.cx.st, &result)?;
        let output = at.result_path(at.cx.st, input.clone(), result)?;
        at.env.note("afterResultPath", || output.clone());
        let output = at.filter_path("OutputPath", &output)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    fn output(&self, at: At<'_>, input: Value) -> Eval<Value> {
        let effective = self.effective(at, &input)?;
        at.filter_path("OutputPath", &effective)
    }

    fn pass_on(&self, at: At<'_>, holder: &Obj, _input: &Value, effective: &Value) -> Eval<Handed> {
        let assign = at.jsonpath_assign(holder, effective)?;
        let output = at.filter_path("OutputPath", effective)?;
        Ok((output, assign))
    }

    fn condition(&self, at: At<'_>, rule: &Obj, _input: &Value, effective: &Value) -> Eval<bool> {
        payload::choice_rule(rule, &at.scope(effective)).map_err(|m| at.cx.runtime(m))
    }

    fn fail_field(&self, at: At<'_>, input: &Value, key: &str) -> Eval<Option<String>> {
        if let Some(v) = at.cx.field(key) {
            return Ok(v.as_str().map(str::to_string));
        }
        let path_key = format!("{key}Path");
        match at.cx.field(&path_key).and_then(Value::as_str) {
            None => Ok(None),
            Some(expr) => {
                let sc = at.scope(input);
                let v = payload::dynamic(&path_key, expr, &sc).map_err(|m| at.cx.runtime(m))?;
                Ok(Some(match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                }))
            }
        }
    }

    fn wait_until(&self, at: At<'_>, effective: &Value, now: i64) -> Eval<i64> {
        let sc = at.scope(effective);
        Ok(if let Some(s) = at.cx.field("Seconds") {
            now + s.as_i64().unwrap_or(0) * 1000
        } else if let Some(t) = at.cx.field("Timestamp").and_then(Value::as_str) {
            super::parse_iso(t).unwrap_or(now)
        } else if let Some(p) = at.cx.field("SecondsPath").and_then(Value::as_str) {
            let v = payload::select(p, &sc).map_err(|_| {
                at.cx.runtime(format!(
                    "The SecondsPath parameter does not reference an input value: {p}"
                ))
            })?;
            match v.as_i64() {
                Some(n) if n >= 0 => now + n * 1000,
                _ => {
                    return Err(at.cx.runtime(format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {p} == {v}"
                    )));
                }
            }
        } else if let Some(p) = at.cx.field("TimestampPath").and_then(Value::as_str) {
            let v = payload::select(p, &sc).map_err(|_| {
                at.cx.runtime(format!(
                    "The TimestampPath parameter does not reference an input value: {p}"
                ))
            })?;
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            super::parse_iso(&text).ok_or_else(|| {
                at.cx.runtime(format!(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {text}"
                ))
            })?
        } else {
            now
        })
    }

    fn seconds(&self, at: At<'_>, input: &Value, key: &str) -> Eval<Option<u64>> {
        if let Some(v) = at.cx.field(key) {
            return Ok(v.as_u64());
        }
        match at.cx.field(&format!("{key}Path")).and_then(Value::as_str) {
            Some(p) => Ok(payload::select(p, &at.scope(input)).ok().and_then(|v| v.as_u64())),
            None => Ok(None),
        }
    }

    fn caught(&self, at: At<'_>, catcher: &Obj, input: Value, error_output: Value) -> Eval<Step> {
        let assign = at.jsonpath_assign(catcher, &error_output)?;
        let output = at.result_path(catcher, input, error_output)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    fn map_items(&self, at: At<'_>, _input: &Value, effective: &Value) -> Eval<Vec<Value>> {
        let path = at.cx.field("ItemsPath").and_then(Value::as_str).unwrap_or("$");
        match payload::select(path, &at.scope(effective)) {
            Ok(Value::Array(a)) => {
                at.env.note("afterItemsPath", || Value::Array(a.clone()));
                Ok(a)
            }
            // AWS names a context path (`$$.x`) without its first `$` here.
            Ok(_) if at.cx.field("ItemsPath").is_some() => Err(at.cx.runtime(format!(
                "Reference path \"{}\" must point to array.",
                path.strip_prefix('$')
                    .filter(|p| p.starts_with('$'))
                    .unwrap_or(path)
            ))),
            Ok(other) => Err(at
                .cx
                .runtime(format!("Map state input must be an array but was: {other}"))),
            Err(_) => Err(at.cx.runtime(format!(
                "Invalid path '{path}' : No results for path: {}",
                payload::bracket_notation(path)
            ))),
        }
    }

    fn map_number(&self, at: At<'_>, key: &str, _input: &Value, effective: &Value) -> Eval<Option<f64>> {
        let float = key == "ToleratedFailurePercentage";
        if let Some(v) = at.cx.field(key) {
            return Ok(v.as_f64());
        }
        let path_key = format!("{key}Path");
        let Some(p) = at.cx.field(&path_key).and_then(Value::as_str) else {
            return Ok(None);
        };
        let v = payload::select(p, &at.scope(effective)).map_err(|_| {
            at.cx.runtime(format!(
                "The {path_key} field refers to a value that does not exist: {p}"
            ))
        })?;
        number_of(&v, float).map(Some).ok_or_else(|| {
            let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            at.cx.runtime(format!(
                "The {path_key} field refers to value \"{shown}\" which is not a valid {}: {p}",
                if float { "float" } else { "integer" }
            ))
        })
    }

    fn select_item(&self, at: At<'_>, selector: &Value, _input: &Value, effective: &Value) -> Eval<Value> {
        payload::template(selector, &at.scope(effective)).map_err(|m| at.cx.runtime(m))
    }

    fn batch_input(&self, at: At<'_>, template: &Value, _input: &Value, effective: &Value) -> Eval<Value> {
        payload::template(template, &at.scope(effective)).map_err(|m| at.cx.runtime(m))
    }
}

impl DataFlow for Jsonata {
    fn effective(&self, _: At<'_>, input: &Value) -> Eval<Value> {
        Ok(input.clone())
    }

    fn arguments(&self, at: At<'_>, input: &Value) -> Eval<Value> {
        let states = at.states(input, None, None);
        let arguments = at
            .ja_field(at.cx.st, "Arguments", &states)?
            .unwrap_or_else(|| input.clone());
        at.env.note("afterArguments", || arguments.clone());
        Ok(arguments)
    }

    fn pass(&self, at: At<'_>, input: Value) -> Eval<Step> {
        let states = at.states(&input, None, None);
        at.ja_step(at.cx.st, &states, input)
    }

    fn finish(&self, at: At<'_>, input: &Value, result: Value) -> Eval<Step> {
        let states = at.states(input, Some(&result), None);
        at.ja_step(at.cx.st, &states, result)
    }

    fn output(&self, at: At<'_>, input: Value) -> Eval<Value> {
        let states = at.states(&input, None, None);
        Ok(at.ja_field(at.cx.st, "Output", &states)?.unwrap_or(input))
    }

    fn pass_on(&self, at: At<'_>, holder: &Obj, input: &Value, _effective: &Value) -> Eval<Handed> {
        let states = at.states(input, None, None);
        let output = at
            .ja_field(holder, "Output", &states)?
            .unwrap_or_else(|| input.clone());
        let assign = at.ja_assign(holder, &states)?;
        Ok((output, assign))
    }

    fn condition(&self, at: At<'_>, rule: &Obj, input: &Value, _effective: &Value) -> Eval<bool> {
        let cond = match rule.get("Condition") {
            Some(c) => {
                let states = at.states(input, None, None);
                at.ja("Condition", c, &states)?
            }
            None => Value::Bool(false),
        };
        match cond {
            Value::Bool(matched) => Ok(matched),
            other => Err(at.cx.query_error(format!(
                "The Condition of a Choice rule must be a boolean, but was: {other}"
            ))),
        }
    }

    fn fail_field(&self, at: At<'_>, input: &Value, key: &str) -> Eval<Option<String>> {
        let states = at.states(input, None, None);
        Ok(at.ja_field(at.cx.st, key, &states)?.map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        }))
    }

    fn wait_until(&self, at: At<'_>, input: &Value, now: i64) -> Eval<i64> {
        let states = at.states(input, None, None);
        if let Some(s) = at.ja_field(at.cx.st, "Seconds", &states)? {
            match s.as_i64() {
                Some(n) if n >= 0 => Ok(now + n * 1000),
                _ => Err(at.cx.query_error(format!(
                    "The Seconds field must be a non-negative integer, but was: {s}"
                ))),
            }
        } else if let Some(t) = at.ja_field(at.cx.st, "Timestamp", &states)? {
            let text = t.as_str().map_or_else(|| t.to_string(), str::to_string);
            super::parse_iso(&text).ok_or_else(|| {
                at.cx.query_error(format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                ))
            })
        } else {
            Ok(now)
        }
    }

    fn seconds(&self, at: At<'_>, input: &Value, key: &str) -> Eval<Option<u64>> {
        let states = at.states(input, None, None);
        Ok(at.ja_field(at.cx.st, key, &states)?.and_then(|v| v.as_u64()))
    }

    fn caught(&self, at: At<'_>, catcher: &Obj, input: Value, error_output: Value) -> Eval<Step> {
        let states = at.states(&input, None, Some(&error_output));
        at.ja_step(catcher, &states, error_output)
    }

    fn map_items(&self, at: At<'_>, input: &Value, _effective: &Value) -> Eval<Vec<Value>> {
        let Some(expr) = at.cx.field("Items") else {
            return match input {
                Value::Array(a) => Ok(a.clone()),
                other => Err(at
                    .cx
                    .query_error(format!("Map state input must be an array but was: {other}"))),
            };
        };
        let states = at.states(input, None, None);
        match at.ja("Items", expr, &states)? {
            Value::Array(a) => Ok(a),
            other => {
                let text = expr
                    .as_str()
                    .and_then(query::expression)
                    .map_or_else(|| expr.to_string(), str::to_string);
                Err(at.cx.query_error(format!(
                    "The JSONata expression '{text}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {other}",
                    type_name(&other)
                )))
            }
        }
    }

    fn map_number(&self, at: At<'_>, key: &str, input: &Value, _effective: &Value) -> Eval<Option<f64>> {
        let float = key == "ToleratedFailurePercentage";
        let states = at.states(input, None, None);
        match at.ja_field(at.cx.st, key, &states)? {
            None => Ok(None),
            Some(v) => match number_of(&v, float) {
                Some(n) => Ok(Some(n)),
                None => Err(at
                    .cx
                    .query_error(format!("The {key} field must be a number, but was: {v}"))),
            },
        }
    }

    fn select_item(&self, at: At<'_>, selector: &Value, input: &Value, _effective: &Value) -> Eval<Value> {
        let states = at.states(input, None, None);
        at.ja("ItemSelector", selector, &states)
    }

    fn batch_input(&self, at: At<'_>, template: &Value, input: &Value, _effective: &Value) -> Eval<Value> {
        let states = at.states(input, None, None);
        at.ja("ItemBatcher/BatchInput", template, &states)
    }
}

/// The primitives both flows are built from: paths and templates (JSONPath), `$states` and
/// expressions (JSONata).
impl<'a> At<'a> {
    pub(super) fn scope<'s>(&self, input: &'s Value) -> Scope<'s>
    where
        'a: 's,
    {
        Scope {
            input,
            context: &self.cx.context,
            vars: &self.frame.vars,
            parsed: &self.env.parsed,
            random: self.env.random,
        }
    }

    /// `InputPath` / `OutputPath`: `$` by default, `null` gives `{}`.
    pub(super) fn filter_path(&self, key: &str, value: &Value) -> Eval<Value> {
        match self.cx.field(key) {
            None => Ok(value.clone()),
            Some(Value::Null) => Ok(json!({})),
            Some(Value::String(p)) => payload::select(p, &self.scope(value)).map_err(|e| match e {
                PathError::Missing => self.cx.runtime(format!(
                    "Invalid path '{p}' : No results for path: {}",
                    payload::bracket_notation(p)
                )),
                PathError::Invalid(m) => self.cx.runtime(m),
            }),
            Some(other) => Err(self.cx.runtime(format!("{key} must be a string, not {other}"))),
        }
    }

    pub(super) fn template(&self, key: &str, input: &Value) -> Eval<Option<Value>> {
        match self.cx.field(key) {
            None => Ok(None),
            Some(t) => payload::template(t, &self.scope(input))
                .map(Some)
                .map_err(|m| self.cx.runtime(m)),
        }
    }

    /// `ResultPath` (default `$`), applied to the raw state input.
    pub(super) fn result_path(&self, key_holder: &Obj, input: Value, result: Value) -> Eval<Value> {
        let path = match key_holder.get("ResultPath") {
            None => Some("$"),
            Some(Value::Null) => None,
            Some(Value::String(p)) => Some(p.as_str()),
            Some(other) => {
                return Err(self
                    .cx
                    .runtime(format!("ResultPath must be a string, not {other}")));
            }
        };
        payload::write_result(input, path, result, &self.env.parsed).map_err(|m| self.cx.runtime(m))
    }

    pub(super) fn jsonpath_assign(&self, holder: &Obj, value: &Value) -> Eval<Option<Obj>> {
        match holder.get("Assign") {
            None => Ok(None),
            Some(a) => match payload::template(a, &self.scope(value)).map_err(|m| self.cx.runtime(m))? {
                Value::Object(m) => Ok(Some(m)),
                _ => Err(self.cx.runtime("Assign must be an object")),
            },
        }
    }

    /// `$states` for JSONata expressions.
    pub(super) fn states(
        &self,
        input: &Value,
        result: Option<&Value>,
        error_output: Option<&Value>,
    ) -> Value {
        let mut s = json!({"input": input, "context": self.cx.context});
        if let Some(r) = result {
            s["result"] = r.clone();
        }
        if let Some(e) = error_output {
            s["errorOutput"] = e.clone();
        }
        s
    }

    /// Evaluates a JSONata template: `{% %}` strings anywhere inside `v`.
    pub(super) fn ja(&self, field: &str, v: &Value, states: &Value) -> Eval<Value> {
        match v {
            Value::String(s) => match query::expression(s) {
                Some(expr) => match query::evaluate(expr, states, &self.frame.vars, self.env.clock.now_ms()) {
                    Ok(Some(v)) => Ok(v),
                    Ok(None) => Err(self.cx.query_error(format!(
                        "The JSONata expression '{expr}' specified for the field '{field}' returned nothing (undefined)."
                    ))),
                    Err(e) => Err(self.cx.query_error(format!(
                        "The JSONata expression '{expr}' specified for the field '{field}' threw an error during evaluation. {e}"
                    ))),
                },
                None => Ok(v.clone()),
            },
            Value::Object(m) => {
                let mut out = Map::with_capacity(m.len());
                for (k, x) in m {
                    out.insert(k.clone(), self.ja(&format!("{field}/{k}"), x, states)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(a) => a
                .iter()
                .map(|x| self.ja(field, x, states))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    pub(super) fn ja_field(&self, holder: &Obj, key: &str, states: &Value) -> Eval<Option<Value>> {
        holder.get(key).map(|v| self.ja(key, v, states)).transpose()
    }

    /// `Output` (else `default`) and `Assign` of `holder` (the state, a Choice rule, a catcher).
    pub(super) fn ja_step(&self, holder: &Obj, states: &Value, default: Value) -> Eval<Step> {
        let output = self.ja_field(holder, "Output", states)?.unwrap_or(default);
        let assign = self.ja_assign(holder, states)?;
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }

    pub(super) fn ja_assign(&self, holder: &Obj, states: &Value) -> Eval<Option<Obj>> {
        match self.ja_field(holder, "Assign", states)? {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(self.cx.query_error("Assign must be an object")),
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
