//! JSONPath-mode primitives: paths over the input, the context object and variables, payload
//! templates (`Parameters`, `ResultSelector`, `ItemSelector`, `Assign`), `ResultPath`, and Choice
//! rules.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::asl::intrinsic::{self, Call};
use crate::asl::jsonpath::{Path, PathKey, Root, Selected};

/// The paths and intrinsic calls of one run, each parsed once (keyed by its text) instead of on
/// every evaluation.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    paths: RefCell<HashMap<String, Result<Rc<Path>, String>>>,
    calls: RefCell<HashMap<String, Result<Rc<Call>, String>>>,
}

impl Parsed {
    /// The parsed path `text`.
    pub(crate) fn path(&self, text: &str) -> Result<Rc<Path>, String> {
        if let Some(p) = self.paths.borrow().get(text) {
            return p.clone();
        }
        let p = Path::parse(text).map(Rc::new);
        self.paths.borrow_mut().insert(text.to_string(), p.clone());
        p
    }

    /// The parsed intrinsic call `text`.
    pub(crate) fn call(&self, text: &str) -> Result<Rc<Call>, String> {
        if let Some(c) = self.calls.borrow().get(text) {
            return c.clone();
        }
        let c = intrinsic::parse(text).map(Rc::new);
        self.calls.borrow_mut().insert(text.to_string(), c.clone());
        c
    }
}

/// What paths can read.
pub(crate) struct Scope<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
    pub vars: &'a Map<String, Value>,
    pub parsed: &'a Parsed,
    /// `States.UUID` and `States.MathRandom` draw from it.
    pub random: &'a dyn super::Random,
}

/// Why a path gave no value.
#[derive(Debug)]
pub(crate) enum PathError {
    /// Nothing at the path.
    Missing,
    /// The path does not parse, or names an unknown variable.
    Invalid(String),
}

/// The value a path selects (an indefinite path: the list of matches).
pub(crate) fn select(path: &str, sc: &Scope<'_>) -> Result<Value, PathError> {
    let p = sc.parsed.path(path).map_err(PathError::Invalid)?;
    let root = match &p.root {
        Root::Input => sc.input,
        Root::Context => sc.context,
        Root::Variable(name) => sc.vars.get(name).ok_or(PathError::Missing)?,
    };
    match p.select(root) {
        Selected::One(Some(v)) => Ok(v),
        Selected::One(None) => Err(PathError::Missing),
        Selected::Many(vs) => Ok(Value::Array(vs)),
    }
}

/// A path in the bracket notation AWS prints in errors: `$['a']['b'][0]`.
pub(crate) fn bracket_notation(path: &str) -> String {
    match Path::parse(path).ok().and_then(|p| p.definite_steps()) {
        Some(steps) => {
            let mut out = String::from("$");
            for s in steps {
                match s {
                    PathKey::Field(f) => out.push_str(&format!("['{f}']")),
                    PathKey::Index(i) => out.push_str(&format!("[{i}]")),
                }
            }
            out
        }
        None => path.to_string(),
    }
}

struct Resolver<'a, 'b> {
    sc: &'a Scope<'b>,
}

impl intrinsic::Resolve for Resolver<'_, '_> {
    fn path(&self, path: &str) -> Result<Value, String> {
        select(path, self.sc).map_err(|e| match e {
            PathError::Missing => format!(
                "The JSONPath '{path}' could not be found in the input '{}'",
                self.sc.input
            ),
            PathError::Invalid(m) => m,
        })
    }
    fn random(&self) -> f64 {
        self.sc.random.f64()
    }
}

/// Evaluates the value of a `.$` key: an intrinsic call or a path.
pub(crate) fn dynamic(key: &str, expr: &str, sc: &Scope<'_>) -> Result<Value, String> {
    if expr.trim_start().starts_with("States.") {
        let call = sc.parsed.call(expr)?;
        return intrinsic::eval(&call, &Resolver { sc });
    }
    select(expr, sc).map_err(|e| match e {
        PathError::Missing => format!(
            "The JSONPath '{expr}' specified for the field '{key}' could not be found in the input '{}'",
            sc.input
        ),
        PathError::Invalid(m) => m,
    })
}

/// Evaluates a payload template: `.$` keys take their value from a path or an intrinsic call.
pub(crate) fn template(v: &Value, sc: &Scope<'_>) -> Result<Value, String> {
    match v {
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, x) in m {
                match (k.strip_suffix(".$"), x) {
                    (Some(name), Value::String(expr)) => {
                        out.insert(name.to_string(), dynamic(k, expr, sc)?);
                    }
                    _ => {
                        out.insert(k.clone(), template(x, sc)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => a
            .iter()
            .map(|x| template(x, sc))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Puts `result` into `input` at a `ResultPath` (`None`: `ResultPath: null`, the input unchanged).
pub(crate) fn write_result(
    input: Value,
    path: Option<&str>,
    result: Value,
    parsed: &Parsed,
) -> Result<Value, String> {
    let Some(path) = path else {
        return Ok(input);
    };
    let p = parsed.path(path)?;
    if p.root != Root::Input {
        return Err(format!("Invalid ResultPath '{path}': it must start with '$'"));
    }
    let steps = p
        .definite_steps()
        .ok_or_else(|| format!("Invalid ResultPath '{path}': it must be a reference path"))?;
    if steps.is_empty() {
        return Ok(result);
    }
    let mut root = input;
    {
        let mut cur = &mut root;
        for (i, step) in steps.iter().enumerate() {
            let last = i + 1 == steps.len();
            match step {
                PathKey::Field(f) => {
                    if !cur.is_object() {
                        if cur.is_null() {
                            *cur = Value::Object(Map::new());
                        } else {
                            return Err(format!(
                                "Unable to apply ResultPath '{path}': the value at '{f}' is not an object"
                            ));
                        }
                    }
                    let m = cur.as_object_mut().expect("object");
                    if last {
                        m.insert(f.clone(), result);
                        break;
                    }
                    cur = m.entry(f.clone()).or_insert_with(|| Value::Object(Map::new()));
                }
                PathKey::Index(n) => {
                    let a = cur
                        .as_array_mut()
                        .ok_or_else(|| format!("Unable to apply ResultPath '{path}': not an array"))?;
                    let i = usize::try_from(*n)
                        .ok()
                        .filter(|i| *i < a.len())
                        .ok_or_else(|| format!("Unable to apply ResultPath '{path}': index out of range"))?;
                    if last {
                        a[i] = result;
                        break;
                    }
                    cur = &mut a[i];
                }
            }
        }
    }
    Ok(root)
}

/// Evaluates one JSONPath Choice rule.
pub(crate) fn choice_rule(rule: &Map<String, Value>, sc: &Scope<'_>) -> Result<bool, String> {
    if let Some(Value::Array(rules)) = rule.get("And") {
        for r in rules {
            if !choice_rule(r.as_object().ok_or("And rules must be objects")?, sc)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(Value::Array(rules)) = rule.get("Or") {
        for r in rules {
            if choice_rule(r.as_object().ok_or("Or rules must be objects")?, sc)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(Value::Object(r)) = rule.get("Not") {
        return Ok(!choice_rule(r, sc)?);
    }
    let variable = rule
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or("A choice rule needs a Variable")?;
    let value = match select(variable, sc) {
        Ok(v) => Some(v),
        Err(PathError::Missing) => None,
        Err(PathError::Invalid(m)) => return Err(m),
    };
    for (op, operand) in rule {
        if matches!(op.as_str(), "Variable" | "Next" | "Assign" | "Comment" | "Output") {
            continue;
        }
        if op == "IsPresent" {
            return Ok(value.is_some() == (operand == &Value::Bool(true)));
        }
        let Some(v) = &value else {
            return Err(format!(
                "Invalid path '{variable}': The choice state's condition path references an invalid value."
            ));
        };
        let (base, operand) = match op.strip_suffix("Path") {
            Some(base) if op != "IsPresent" => {
                let p = operand.as_str().ok_or("a *Path comparison needs a path")?;
                let resolved = select(p, sc).map_err(|_| {
                    format!(
                        "Invalid path '{p}': The choice state's condition path references an invalid value."
                    )
                })?;
                (base, resolved)
            }
            _ => (op.as_str(), operand.clone()),
        };
        return Ok(compare(base, v, &operand));
    }
    Err(format!("A choice rule on {variable} has no comparison"))
}

fn compare(op: &str, v: &Value, operand: &Value) -> bool {
    use std::cmp::Ordering;
    let is = |b: bool| operand.as_bool() == Some(b);
    let ord = |o: Option<Ordering>, test: fn(Ordering) -> bool| o.is_some_and(test);
    let num = || match (v.as_f64(), operand.as_f64()) {
        (Some(a), Some(b)) if v.is_number() => a.partial_cmp(&b),
        _ => None,
    };
    let string = || match (v.as_str(), operand.as_str()) {
        (Some(a), Some(b)) => Some(a.cmp(b)),
        _ => None,
    };
    let time = || match (
        v.as_str().and_then(super::parse_iso),
        operand.as_str().and_then(super::parse_iso),
    ) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => None,
    };
    match op {
        "IsNull" => v.is_null() == is(true),
        "IsNumeric" => v.is_number() == is(true),
        "IsString" => v.is_string() == is(true),
        "IsBoolean" => v.is_boolean() == is(true),
        "IsTimestamp" => v.as_str().and_then(super::parse_iso).is_some() == is(true),
        "BooleanEquals" => v.is_boolean() && v == operand,
        "StringMatches" => match (v.as_str(), operand.as_str()) {
            (Some(s), Some(pattern)) => glob(pattern, s),
            _ => false,
        },
        _ => {
            let (kind, rel) = [
                "LessThanEquals",
                "GreaterThanEquals",
                "LessThan",
                "GreaterThan",
                "Equals",
            ]
            .iter()
            .find_map(|r| op.strip_suffix(r).map(|k| (k, *r)))
            .unwrap_or(("", ""));
            let o = match kind {
                "String" => string(),
                "Numeric" => num(),
                "Timestamp" => time(),
                _ => None,
            };
            match rel {
                "Equals" => ord(o, Ordering::is_eq),
                "LessThan" => ord(o, Ordering::is_lt),
                "GreaterThan" => ord(o, Ordering::is_gt),
                "LessThanEquals" => ord(o, Ordering::is_le),
                "GreaterThanEquals" => ord(o, Ordering::is_ge),
                _ => false,
            }
        }
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
fn glob(pattern: &str, s: &str) -> bool {
    let mut tokens: Vec<Option<char>> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(chars.next()),
            '*' => tokens.push(None),
            c => tokens.push(Some(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Iterative wildcard matching with back-tracking to the last star.
    let (mut i, mut j, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while i < s.len() {
        if j < tokens.len() && tokens[j].is_some_and(|c| c == s[i]) {
            i += 1;
            j += 1;
        } else if j < tokens.len() && tokens[j].is_none() {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(st) = star {
            j = st + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    while j < tokens.len() && tokens[j].is_none() {
        j += 1;
    }
    j == tokens.len()
}
