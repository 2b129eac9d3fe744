//! Rendering parsed nodes against an [`Input`]: variables, `#if`/`#foreach` flow, operators,
//! and the methods values answer (`$input.json(..)`, `.size()`, ...), with a step budget so no
//! template runs forever. Must not: parse text (it gets nodes from [`super::parse`]).

use serde_json::{Map, Value, json};

use super::Input;
use super::parse::{Access, Expr, Node, Ref};
use super::util::{to_text, util};
use crate::asl::jsonpath::{Path, Selected};

pub(super) struct Renderer<'a> {
    pub(super) input: &'a Input,
    pub(super) vars: Map<String, Value>,
    pub(super) out: String,
    pub(super) steps: u64,
}

pub(super) enum Flow {
    Normal,
    Break,
}

pub(super) const MAX_STEPS: u64 = 1_000_000;

impl Renderer<'_> {
    pub(super) fn nodes(&mut self, nodes: &[Node]) -> Result<Flow, String> {
        for node in nodes {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err("mapping template: too many steps".into());
            }
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Ref { r, quiet, source } => match self.reference(r)? {
                    Some(v) => {
                        let text = to_text(&v);
                        self.out.push_str(&text);
                    }
                    None if *quiet => {}
                    None => self.out.push_str(source),
                },
                Node::Set(target, e) => {
                    let v = self.eval(e)?.unwrap_or(Value::Null);
                    self.assign(target, v)?;
                }
                Node::If(branches, otherwise) => {
                    let mut taken = false;
                    for (cond, body) in branches {
                        if truthy(&self.eval(cond)?) {
                            taken = true;
                            if let Flow::Break = self.nodes(body)? {
                                return Ok(Flow::Break);
                            }
                            break;
                        }
                    }
                    if !taken && let Flow::Break = self.nodes(otherwise)? {
                        return Ok(Flow::Break);
                    }
                }
                Node::Foreach(var, e, body) => {
                    let items: Vec<Value> = match self.eval(e)? {
                        Some(Value::Array(a)) => a,
                        Some(Value::Object(m)) => m.values().cloned().collect(),
                        Some(Value::Null) | None => Vec::new(),
                        Some(other) => vec![other],
                    };
                    let saved = (self.vars.get(var).cloned(), self.vars.get("foreach").cloned());
                    let n = items.len();
                    for (i, item) in items.into_iter().enumerate() {
                        self.vars.insert(var.clone(), item);
                        self.vars.insert(
                            "foreach".into(),
                            json!({"index": i, "count": i + 1, "hasNext": i + 1 < n, "first": i == 0, "last": i + 1 == n}),
                        );
                        self.vars.insert("velocityCount".into(), json!(i + 1));
                        if let Flow::Break = self.nodes(body)? {
                            break;
                        }
                    }
                    for (k, v) in [(var.as_str(), saved.0), ("foreach", saved.1)] {
                        match v {
                            Some(v) => self.vars.insert(k.to_string(), v),
                            None => self.vars.remove(k),
                        };
                    }
                }
                Node::Break => return Ok(Flow::Break),
            }
        }
        Ok(Flow::Normal)
    }

    pub(super) fn assign(&mut self, target: &Ref, v: Value) -> Result<(), String> {
        if target.steps.is_empty() {
            self.vars.insert(target.root.clone(), v);
            return Ok(());
        }
        let mut cur = self.vars.entry(target.root.clone()).or_insert_with(|| json!({}));
        for (k, step) in target.steps.iter().enumerate() {
            let Access::Prop(name) = step else {
                return Err("mapping template: #set can only assign $x or $x.name".into());
            };
            if !cur.is_object() {
                *cur = json!({});
            }
            let m = cur.as_object_mut().expect("object");
            if k + 1 == target.steps.len() {
                m.insert(name.clone(), v);
                return Ok(());
            }
            cur = m.entry(name.clone()).or_insert_with(|| json!({}));
        }
        Ok(())
    }

    pub(super) fn root(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        match name {
            "context" => Some(self.input.context.clone()),
            "stageVariables" => Some(self.input.stage_variables.clone()),
            _ => None,
        }
    }

    pub(super) fn args(&mut self, args: &[Expr]) -> Result<Vec<Value>, String> {
        args.iter()
            .map(|a| self.eval(a).map(|v| v.unwrap_or(Value::Null)))
            .collect()
    }

    pub(super) fn reference(&mut self, r: &Ref) -> Result<Option<Value>, String> {
        let mut steps = r.steps.as_slice();
        let mut cur = match (r.root.as_str(), steps.first()) {
            ("input", Some(Access::Prop(p))) if p == "body" && !self.vars.contains_key("input") => {
                steps = &steps[1..];
                Some(Value::String(self.input.body.clone()))
            }
            ("input", Some(Access::Call(m, args))) if !self.vars.contains_key("input") => {
                let args = self.args(args)?;
                steps = &steps[1..];
                self.input_method(m, &args)?
            }
            ("util", Some(Access::Call(m, args))) if !self.vars.contains_key("util") => {
                let args = self.args(args)?;
                steps = &steps[1..];
                util(m, &args)?
            }
            (name, _) => self.root(name),
        };
        for step in steps {
            let Some(v) = cur else { return Ok(None) };
            cur = match step {
                Access::Prop(p) => match &v {
                    Value::Object(m) => m.get(p).cloned(),
                    _ => method(&v, p, &[]).ok().flatten(),
                },
                Access::Index(e) => {
                    let k = self.eval(e)?.unwrap_or(Value::Null);
                    match (&v, &k) {
                        (Value::Array(a), Value::Number(n)) => n.as_i64().and_then(|i| {
                            let i = if i < 0 { a.len() as i64 + i } else { i };
                            a.get(usize::try_from(i).ok()?).cloned()
                        }),
                        (Value::Object(m), Value::String(s)) => m.get(s).cloned(),
                        _ => None,
                    }
                }
                Access::Call(m, args) => {
                    let args = self.args(args)?;
                    method(&v, m, &args)?
                }
            };
        }
        Ok(cur)
    }

    pub(super) fn input_method(&self, m: &str, args: &[Value]) -> Result<Option<Value>, String> {
        let body_json = || -> Value {
            if self.input.body.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&self.input.body)
                    .unwrap_or_else(|_| Value::String(self.input.body.clone()))
            }
        };
        let select = |path: &str| -> Result<Option<Value>, String> {
            let p = Path::parse(path).map_err(|e| format!("mapping template: {e}"))?;
            Ok(match p.select(&body_json()) {
                Selected::One(v) => v,
                Selected::Many(vs) => Some(Value::Array(vs)),
            })
        };
        match m {
            "json" => {
                let path = args.first().and_then(Value::as_str).unwrap_or("$");
                Ok(Some(Value::String(
                    select(path)?.map_or_else(|| "null".into(), |v| v.to_string()),
                )))
            }
            "path" => select(args.first().and_then(Value::as_str).unwrap_or("$")),
            "params" => match args.first().and_then(Value::as_str) {
                None => Ok(Some(self.input.params.clone())),
                Some(name) => Ok(["path", "querystring", "header"]
                    .iter()
                    .find_map(|k| self.input.params.get(k).and_then(|m| m.get(name)).cloned())),
            },
            other => Err(format!("mapping template: $input.{other}() is not supported")),
        }
    }

    pub(super) fn eval(&mut self, e: &Expr) -> Result<Option<Value>, String> {
        Ok(match e {
            Expr::Lit(v) => Some(v.clone()),
            Expr::Interp(nodes) => {
                let saved = std::mem::take(&mut self.out);
                self.nodes(nodes)?;
                Some(Value::String(std::mem::replace(&mut self.out, saved)))
            }
            Expr::Ref(r) => self.reference(r)?,
            Expr::List(items) => Some(Value::Array(self.args(items)?)),
            Expr::Range(a, b) => {
                let a = self.eval(a)?.and_then(|v| v.as_i64()).unwrap_or(0);
                let b = self.eval(b)?.and_then(|v| v.as_i64()).unwrap_or(0);
                let items: Vec<Value> = if a <= b {
                    (a..=b).map(Value::from).collect()
                } else {
                    (b..=a).rev().map(Value::from).collect()
                };
                Some(Value::Array(items))
            }
            Expr::Map(pairs) => {
                let mut m = Map::new();
                for (k, v) in pairs {
                    let k = self.eval(k)?.map(|k| to_text(&k)).unwrap_or_default();
                    let v = self.eval(v)?.unwrap_or(Value::Null);
                    m.insert(k, v);
                }
                Some(Value::Object(m))
            }
            Expr::Not(x) => Some(Value::Bool(!truthy(&self.eval(x)?))),
            Expr::Neg(x) => self.eval(x)?.and_then(|v| v.as_f64()).map(|n| number(-n)),
            Expr::Bin(a, op, b) => {
                if *op == "&&" {
                    return Ok(Some(Value::Bool(
                        truthy(&self.eval(a)?) && truthy(&self.eval(b)?),
                    )));
                }
                if *op == "||" {
                    return Ok(Some(Value::Bool(
                        truthy(&self.eval(a)?) || truthy(&self.eval(b)?),
                    )));
                }
                let (x, y) = (
                    self.eval(a)?.unwrap_or(Value::Null),
                    self.eval(b)?.unwrap_or(Value::Null),
                );
                binary(op, &x, &y)
            }
        })
    }
}

pub(super) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

pub(super) fn binary(op: &str, x: &Value, y: &Value) -> Option<Value> {
    use std::cmp::Ordering;
    let ord = match (x, y) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    };
    let b = |v: bool| Some(Value::Bool(v));
    match op {
        "==" => b(match (x, y) {
            (Value::Number(a), Value::Number(c)) => a.as_f64() == c.as_f64(),
            (Value::String(a), other) | (other, Value::String(a)) if !other.is_string() => {
                *a == to_text(other)
            }
            _ => x == y,
        }),
        "!=" => binary("==", x, y).map(|v| Value::Bool(v != Value::Bool(true))),
        "<" => b(ord == Some(Ordering::Less)),
        ">" => b(ord == Some(Ordering::Greater)),
        "<=" => b(matches!(ord, Some(Ordering::Less | Ordering::Equal))),
        ">=" => b(matches!(ord, Some(Ordering::Greater | Ordering::Equal))),
        "+" if x.is_string() || y.is_string() => Some(Value::String(to_text(x) + &to_text(y))),
        _ => {
            let (a, c) = (x.as_f64()?, y.as_f64()?);
            Some(number(match op {
                "+" => a + c,
                "-" => a - c,
                "*" => a * c,
                "/" if c != 0.0 => {
                    if x.is_i64() && y.is_i64() {
                        (a / c).trunc()
                    } else {
                        a / c
                    }
                }
                "%" if c != 0.0 => a % c,
                _ => return None,
            }))
        }
    }
}

pub(super) fn truthy(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => true,
    }
}

/// Methods of strings, lists and maps that templates use.
pub(super) fn method(v: &Value, m: &str, args: &[Value]) -> Result<Option<Value>, String> {
    let arg_text = |i: usize| args.get(i).map(to_text).unwrap_or_default();
    Ok(match (v, m) {
        (Value::String(s), "length") => Some(json!(s.chars().count())),
        (Value::String(s), "toString" | "trim") if m == "trim" => Some(json!(s.trim())),
        (Value::String(s), "toLowerCase") => Some(json!(s.to_lowercase())),
        (Value::String(s), "toUpperCase") => Some(json!(s.to_uppercase())),
        (Value::String(s), "contains") => Some(json!(s.contains(&arg_text(0)))),
        (Value::String(s), "startsWith") => Some(json!(s.starts_with(&arg_text(0)))),
        (Value::String(s), "endsWith") => Some(json!(s.ends_with(&arg_text(0)))),
        (Value::String(s), "isEmpty") => Some(json!(s.is_empty())),
        (Value::String(s), "equals") => Some(json!(*s == arg_text(0))),
        (Value::String(s), "replace") => Some(json!(s.replace(&arg_text(0), &arg_text(1)))),
        (Value::String(s), "replaceAll") => {
            let re = regex_lite::Regex::new(&arg_text(0))
                .map_err(|e| format!("mapping template: replaceAll: {e}"))?;
            let repl = arg_text(1).replace('$', "$$");
            Some(json!(re.replace_all(s, repl.as_str()).into_owned()))
        }
        (Value::String(s), "split") => Some(Value::Array(
            regex_lite::Regex::new(&arg_text(0))
                .map_err(|e| format!("mapping template: split: {e}"))?
                .split(s)
                .map(|p| json!(p))
                .collect(),
        )),
        (Value::String(s), "substring") => {
            let chars: Vec<char> = s.chars().collect();
            let a = args.first().and_then(Value::as_u64).unwrap_or(0) as usize;
            let b = args
                .get(1)
                .and_then(Value::as_u64)
                .map_or(chars.len(), |b| b as usize);
            Some(json!(
                chars
                    .get(a.min(b)..b.min(chars.len()))
                    .map(|c| c.iter().collect::<String>())
                    .unwrap_or_default()
            ))
        }
        (Value::Array(a), "size" | "length") => Some(json!(a.len())),
        (Value::Array(a), "isEmpty") => Some(json!(a.is_empty())),
        (Value::Array(a), "get") => args
            .first()
            .and_then(Value::as_u64)
            .and_then(|i| a.get(i as usize).cloned()),
        (Value::Array(a), "contains") => Some(json!(args.first().is_some_and(|x| a.contains(x)))),
        (Value::Object(o), "size") => Some(json!(o.len())),
        (Value::Object(o), "isEmpty") => Some(json!(o.is_empty())),
        (Value::Object(o), "get") => o.get(&arg_text(0)).cloned(),
        (Value::Object(o), "containsKey") => Some(json!(o.contains_key(&arg_text(0)))),
        (Value::Object(o), "keySet") => Some(Value::Array(o.keys().map(|k| json!(k)).collect())),
        (Value::Object(o), "values") => Some(Value::Array(o.values().cloned().collect())),
        (Value::Object(o), "entrySet") => Some(Value::Array(
            o.iter().map(|(k, v)| json!({"key": k, "value": v})).collect(),
        )),
        (_, "toString") => Some(json!(to_text(v))),
        (_, "class") => None,
        (other, m) => {
            return Err(format!("mapping template: no method {m}() on {}", to_text(other)));
        }
    })
}
