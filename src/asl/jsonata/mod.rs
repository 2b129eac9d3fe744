//! JSONata, as Step Functions runs it: the reference implementation (npm `jsonata` 2.0.6, the
//! version AWS documents) in an embedded QuickJS engine, plus the functions Step Functions adds
//! (`$partition`, `$range`, `$parse`, `$random`, `$uuid`, `$hash`) and without the one it removes
//! (`$eval`). Parsing (for validation) and evaluation (for the interpreter) are the same code AWS's
//! users test against, so error codes (`S0201`, `T1006`, ...) and messages match byte for byte.
//!
//! Pure: no I/O. Each thread that uses it gets its own engine (about 7 ms to start, once); values
//! cross the boundary as JSON text. An evaluation is bounded in time, memory and stack, so a
//! hostile expression ends in an error, never a hang or a crash.
//!
//! ```
//! use serde_json::json;
//! use sfn_operator::asl::jsonata;
//! let e = jsonata::parse("$sum($states.input.values)").unwrap();
//! let states = json!({"input": {"values": [3, 1, 2]}});
//! let out = jsonata::evaluate(&e, &json!(null), &[("states", &states)]).unwrap();
//! assert_eq!(out, Some(json!(6)));
//! let err = jsonata::parse("10 + * 2").unwrap_err();
//! assert_eq!(err.to_string(), "S0201: Syntax error: 2");
//! assert_eq!(err.position, Some(8));
//! ```

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};
use std::time::{Duration, Instant};

use rquickjs::{Context, Function, Object, Runtime};
use serde::Deserialize;
use serde_json::Value;

const JSONATA_JS: &str = include_str!("jsonata-2.0.6.min.js");
const ENGINE_JS: &str = include_str!("engine.js");

/// How long one evaluation may run unless [`Options::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const MEMORY_LIMIT: usize = 512 << 20;
const STACK_LIMIT: usize = 256 << 10;

/// A JSONata expression that parses (the text between `{%` and `%}`).
#[derive(Clone)]
pub struct Expr {
    source: String,
    /// What is known of it (shared by every `Expr` of the same text).
    parsed: Arc<Parsed>,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Expr {}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expr").field("source", &self.source).finish()
    }
}

impl Expr {
    /// The expression's text, as given to [`parse`].
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The syntax tree as JSONata builds it (`{"type": "path", "steps": [...], "position": N}`,
    /// `{"type": "variable", "value": "states"}`, ...), for rules that look inside expressions.
    pub fn ast(&self) -> Result<Value, JsonataError> {
        with_reference(|eng| eng.ast(&self.source))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A JSONata error: a syntax error from [`parse`] or a runtime error from [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JsonataError {
    /// JSONata's error code (`S0201`, `T1006`, `D3141`, ...); `None` for engine limits (time,
    /// memory, stack) and internal failures.
    pub code: Option<String>,
    /// Where in the expression, as JSONata counts it: UTF-16 code units from the start of the
    /// expression to just past the offending token.
    pub position: Option<usize>,
    /// The offending token, when JSONata names one.
    pub token: Option<String>,
    /// JSONata's message, e.g. `Syntax error: 2`, `Attempted to invoke a non-function`.
    pub message: String,
}

impl JsonataError {
    fn engine(message: impl Into<String>) -> Self {
        JsonataError {
            code: None,
            position: None,
            token: None,
            message: message.into(),
        }
    }

    /// The offset in characters (Unicode scalar values) of [`position`](Self::position) in `expr`.
    pub fn char_offset(&self, expr: &str) -> Option<usize> {
        let pos = self.position?;
        let mut units = 0;
        for (i, c) in expr.chars().enumerate() {
            if units >= pos {
                return Some(i);
            }
            units += c.len_utf16();
        }
        Some(expr.chars().count())
    }
}

/// `CODE: message`, as AWS prints JSONata errors in causes (`T1006: Attempted to invoke a
/// non-function`).
impl fmt::Display for JsonataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for JsonataError {}

/// Knobs of one evaluation; `Options::default()` is what [`evaluate`] uses.
#[derive(Debug, Clone)]
pub struct Options {
    /// What `$now()` and `$millis()` return, in milliseconds since the epoch (a simulated clock);
    /// `None`: the real time when the evaluation starts.
    pub now_millis: Option<i64>,
    /// The evaluation fails with a time-limit error after this long.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            now_millis: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The text inside `{% ... %}` when `s` is a JSONata expression string as Step Functions sees one
/// (starts with `{%` and ends with `%}`, nothing outside), else `None`.
pub fn expression_body(s: &str) -> Option<&str> {
    s.strip_prefix("{%")?.strip_suffix("%}")
}

/// Whether a string is meant as a JSONata expression: it starts with `{%`. With anything before
/// the `{%` (a space too) it is a plain string for AWS, which accepts `" {% $states.input %} "`
/// in `Arguments` and `Output` as text.
pub fn is_expression(s: &str) -> bool {
    s.starts_with("{%")
}

/// Checks a string that starts with `{%`: delimiters, then the expression's syntax.
pub fn check_expression(s: &str) -> Result<(), String> {
    check_expression_ast(s).map(|_| ())
}

/// [`check_expression`], returning the expression's syntax tree (one parse).
pub fn check_expression_ast(s: &str) -> Result<Value, String> {
    let Some(body) = expression_body(s.trim_end()) else {
        return Err(format!("JSONata expression {s:?} must end with \"%}}\""));
    };
    if body.trim().is_empty() {
        return Err("empty JSONata expression".into());
    }
    parse_ast(body).map_err(|e| match e.position {
        Some(p) => format!("invalid JSONata expression {s:?}: {e} (at position {p})"),
        None => format!("invalid JSONata expression {s:?}: {e}"),
    })
}

/// Parses an expression and returns its syntax tree (see [`Expr::ast`]).
pub fn parse_ast(expr: &str) -> Result<Value, JsonataError> {
    with_reference(|eng| eng.ast(expr))
}

/// Parses an expression (the text between `{%` and `%}`). An expression that parsed before is
/// not parsed again.
pub fn parse(expr: &str) -> Result<Expr, JsonataError> {
    let parsed = match parsed(expr) {
        Some(p) => p,
        None => {
            with_reference(|eng| eng.parse(expr))?;
            remember(expr)
        }
    };
    Ok(Expr {
        source: expr.to_string(),
        parsed,
    })
}

/// What is known of an expression that parses: its native form, once an evaluation asked.
struct Parsed {
    native: OnceLock<Option<native::Node>>,
}

/// Expressions that parsed, by text (bounded: cleared when full).
static PARSED: LazyLock<RwLock<HashMap<String, Arc<Parsed>>>> = LazyLock::new(Default::default);
const PARSED_KEPT: usize = 4096;

fn parsed(expr: &str) -> Option<Arc<Parsed>> {
    PARSED.read().ok()?.get(expr).cloned()
}

fn remember(expr: &str) -> Arc<Parsed> {
    let entry = Arc::new(Parsed {
        native: OnceLock::new(),
    });
    if let Ok(mut map) = PARSED.write() {
        if map.len() >= PARSED_KEPT {
            map.clear();
        }
        return Arc::clone(map.entry(expr.to_string()).or_insert(entry));
    }
    entry
}

/// The evaluation by the native subset ([`native`]), or `None` when the reference must answer.
fn evaluate_natively(expr: &Expr, input: &Value, bindings: &[(&str, &Value)]) -> Option<Option<Value>> {
    let node = expr
        .parsed
        .native
        .get_or_init(|| {
            let ast = with_reference(|eng| eng.ast(&expr.source)).ok()?;
            native::compile(&ast).ok()
        })
        .as_ref()?;
    native::evaluate(node, input, bindings).ok()
}

/// Evaluates `expr` against `input` (JSONata's `$`), with `bindings` as variables (`("states",
/// &json!({"input": ..}))` binds `$states`). `Ok(None)` is JSONata's *undefined* (no result),
/// which Step Functions reports as an error where a value is required.
pub fn evaluate(
    expr: &Expr,
    input: &Value,
    bindings: &[(&str, &Value)],
) -> Result<Option<Value>, JsonataError> {
    evaluate_with(expr, input, bindings, &Options::default())
}

/// [`evaluate`] with a simulated clock or another time limit.
pub fn evaluate_with(
    expr: &Expr,
    input: &Value,
    bindings: &[(&str, &Value)],
    options: &Options,
) -> Result<Option<Value>, JsonataError> {
    if let Some(value) = evaluate_natively(expr, input, bindings) {
        return Ok(value);
    }
    evaluate_by_reference(expr, input, bindings, options)
}

/// [`evaluate_with`] by the reference engine only (the native subset skipped).
fn evaluate_by_reference(
    expr: &Expr,
    input: &Value,
    bindings: &[(&str, &Value)],
    options: &Options,
) -> Result<Option<Value>, JsonataError> {
    let mut vars = serde_json::Map::new();
    for (name, value) in bindings {
        vars.insert((*name).to_string(), (*value).clone());
    }
    let input = input.to_string();
    let vars = Value::Object(vars).to_string();
    with_reference(|eng| eng.evaluate(&expr.source, &input, &vars, options))
}

/// Parses and evaluates in one call.
pub fn evaluate_str(
    expr: &str,
    input: &Value,
    bindings: &[(&str, &Value)],
) -> Result<Option<Value>, JsonataError> {
    evaluate(&parse(expr)?, input, bindings)
}

/// The reference implementation: jsonata-js (`engine.js`) in a QuickJS runtime, one per thread.
struct Reference {
    rt: Runtime,
    ctx: Context,
    deadline: Rc<Cell<Option<Instant>>>,
}

#[derive(Deserialize)]
struct Outcome {
    value: Option<String>,
    error: Option<String>,
}

thread_local! {
    static REFERENCE: RefCell<Option<Result<Reference, JsonataError>>> = const { RefCell::new(None) };
}

fn with_reference<T>(f: impl FnOnce(&Reference) -> Result<T, JsonataError>) -> Result<T, JsonataError> {
    REFERENCE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let eng = slot.get_or_insert_with(Reference::new);
        match eng {
            Ok(eng) => f(eng),
            Err(e) => Err(e.clone()),
        }
    })
}

fn decode_error(json: &str) -> JsonataError {
    serde_json::from_str(json).unwrap_or_else(|_| JsonataError::engine(json.to_string()))
}

impl Reference {
    fn new() -> Result<Reference, JsonataError> {
        let fail = |what: &str, e: rquickjs::Error| {
            JsonataError::engine(format!("JSONata engine failed to start ({what}): {e}"))
        };
        let rt = Runtime::new().map_err(|e| fail("runtime", e))?;
        rt.set_memory_limit(MEMORY_LIMIT);
        rt.set_max_stack_size(STACK_LIMIT);
        let deadline: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
        let d = deadline.clone();
        rt.set_interrupt_handler(Some(Box::new(move || {
            d.get().is_some_and(|t| Instant::now() > t)
        })));
        let ctx = Context::full(&rt).map_err(|e| fail("context", e))?;
        ctx.with(|c| -> Result<(), JsonataError> {
            c.eval::<(), _>("globalThis.self = globalThis;")
                .map_err(|e| fail("globals", e))?;
            c.eval::<(), _>(JSONATA_JS).map_err(|e| fail("jsonata.js", e))?;
            let hash = Function::new(c.clone(), host_hash).map_err(|e| fail("$hash", e))?;
            c.globals()
                .set("__sfn_hash", hash)
                .map_err(|e| fail("$hash", e))?;
            c.eval::<(), _>(ENGINE_JS).map_err(|e| fail("engine.js", e))?;
            Ok(())
        })?;
        Ok(Reference { rt, ctx, deadline })
    }

    fn call<T>(
        &self,
        f: impl FnOnce(&rquickjs::Ctx<'_>, &Object<'_>) -> rquickjs::Result<T>,
    ) -> Result<T, JsonataError> {
        self.ctx.with(|c| {
            let bridge: Object = c
                .globals()
                .get("__sfn")
                .map_err(|e| JsonataError::engine(e.to_string()))?;
            f(&c, &bridge).map_err(|e| self.exception(&c, e))
        })
    }

    /// Turns a JS exception that escaped the bridge (time limit, out of memory, stack) into an error.
    fn exception(&self, c: &rquickjs::Ctx<'_>, e: rquickjs::Error) -> JsonataError {
        let timed_out = self.deadline.get().is_some_and(|t| Instant::now() > t);
        let thrown = c.catch();
        if timed_out {
            return JsonataError::engine("the JSONata evaluation took longer than its time limit");
        }
        let message = thrown
            .as_exception()
            .and_then(|x| x.message())
            .unwrap_or_else(|| e.to_string());
        JsonataError::engine(format!("JSONata engine error: {message}"))
    }

    fn parse(&self, expr: &str) -> Result<(), JsonataError> {
        let out: Option<String> = self.call(|_, b| b.get::<_, Function>("parse")?.call((expr,)))?;
        match out {
            None => Ok(()),
            Some(err) => Err(decode_error(&err)),
        }
    }

    fn ast(&self, expr: &str) -> Result<Value, JsonataError> {
        let out: String = self.call(|_, b| b.get::<_, Function>("ast")?.call((expr,)))?;
        let mut out: Value = serde_json::from_str(&out).map_err(|e| JsonataError::engine(e.to_string()))?;
        if let Some(err) = out.get("error") {
            return Err(
                serde_json::from_value(err.clone()).unwrap_or_else(|_| JsonataError::engine(err.to_string()))
            );
        }
        Ok(out["ast"].take())
    }

    fn evaluate(
        &self,
        expr: &str,
        input: &str,
        vars: &str,
        options: &Options,
    ) -> Result<Option<Value>, JsonataError> {
        self.deadline.set(Some(Instant::now() + options.timeout));
        let result = self.run(expr, input, vars, options);
        self.deadline.set(None);
        result
    }

    fn run(
        &self,
        expr: &str,
        input: &str,
        vars: &str,
        options: &Options,
    ) -> Result<Option<Value>, JsonataError> {
        let now = options.now_millis.map(|m| m as f64);
        self.call(|_, b| {
            b.get::<_, Function>("eval")?
                .call::<_, ()>((expr, input, vars, now))
        })?;
        loop {
            match self.rt.execute_pending_job() {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => {
                    let timed_out = self.deadline.get().is_some_and(|t| Instant::now() > t);
                    return Err(JsonataError::engine(if timed_out {
                        "the JSONata evaluation took longer than its time limit"
                    } else {
                        "JSONata engine error: a job failed"
                    }));
                }
            }
        }
        let out: Option<String> = self.call(|_, b| b.get::<_, Function>("result")?.call(()))?;
        let Some(out) = out else {
            return Err(JsonataError::engine(
                "the JSONata evaluation did not finish (time, memory or stack limit)",
            ));
        };
        let outcome: Outcome = serde_json::from_str(&out).map_err(|e| JsonataError::engine(e.to_string()))?;
        if let Some(err) = outcome.error {
            return Err(decode_error(&err));
        }
        match outcome.value {
            None => Ok(None),
            Some(v) => serde_json::from_str(&v)
                .map(Some)
                .map_err(|e| JsonataError::engine(format!("JSONata result is not JSON: {e}"))),
        }
    }
}

/// `$hash(value, algorithm)`: `None` for an algorithm Step Functions does not offer.
fn host_hash(value: String, algorithm: String) -> Option<String> {
    super::intrinsic::hash_hex(&algorithm, value.as_bytes())
}

mod native;
#[cfg(test)]
mod tests;
