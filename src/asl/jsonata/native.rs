//! A native evaluator for the everyday subset of JSONata: paths of names over the input and
//! the variables (`values`, `$states.input.values`, `$x.a`), literals, object and array
//! constructors, arithmetic, comparisons, `and`/`or`, string `&`, `? :`, blocks, and
//! `$sum`, `$max`, `$min`, `$average`, `$count`. It exists for speed: an expression like
//! `{'sum': $sum(values)}` takes ~0.4 ms in the reference engine (async all the way down, in
//! QuickJS) and a few microseconds here, which decides how many executions a second the
//! sandbox and `test` can run.
//!
//! Fidelity comes first, so it works on the reference parser's syntax tree (the same AST the
//! reference evaluates) and follows jsonata 2.0.6's `evaluate*` functions step by step —
//! sequences and their singleton rule, `lookup`'s flattening, the object constructor's
//! grouping, JavaScript's number and key order in the result. Whatever it is not certain to
//! answer exactly as the reference would — a construct outside the subset, and every error
//! (the reference words them) — it does not answer: it returns [`Defer`] and the caller runs
//! the reference engine. So it can only be faster, never different; a seeded differential
//! test (`tests.rs`) holds it to that.

use serde_json::{Map, Number, Value};

/// The native evaluator does not answer this one: run the reference engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Defer;

type R<T> = Result<T, Defer>;

/// Deeper syntax trees than this are left to the reference engine (bounds our recursion).
const MAX_DEPTH: usize = 48;

/// Names a JavaScript object inherits: `input[key]` and `{}`'s grouping see them, so an
/// expression touching one is left to the reference.
const PROTOTYPE_NAMES: &[&str] = &[
    "__proto__",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
];

/// An expression of the subset, compiled from the reference parser's AST.
#[derive(Debug)]
pub(super) enum Node {
    /// `a.b.c`, `$x.a`: steps are names or variables.
    Path(Vec<Node>),
    /// A field name (a path step).
    Name(String),
    /// `$` (`""`), `$$` (`"$"`), or a bound variable.
    Var(String),
    /// A number, string, `true`, `false` or `null`.
    Lit(Value),
    /// Unary minus.
    Neg(Box<Node>),
    /// `[a, b]`: each item, and whether it is itself an array constructor (kept whole).
    Array(Vec<(Node, bool)>),
    /// `{k: v, ...}` (not after a path: that is grouping, left to the reference).
    Object(Vec<(Node, Node)>),
    Binary(Op, Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Option<Box<Node>>),
    /// `(a; b)` without bindings: the last value.
    Block(Vec<Node>),
    /// A built-in function with its arguments.
    Call(Func, Vec<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Concat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    Sum,
    Max,
    Min,
    Average,
    Count,
}

impl Func {
    fn name(self) -> &'static str {
        match self {
            Func::Sum => "sum",
            Func::Max => "max",
            Func::Min => "min",
            Func::Average => "average",
            Func::Count => "count",
        }
    }
}

/// Compiles a syntax tree (as [`super::Expr::ast`] returns it); `Err(Defer)` when any part of it
/// is outside the subset.
pub(super) fn compile(ast: &Value) -> R<Node> {
    node(ast, 0)
}

fn keys_within(o: &Map<String, Value>, allowed: &[&str]) -> R<()> {
    if o.keys()
        .all(|k| k == "type" || k == "position" || allowed.contains(&k.as_str()))
    {
        Ok(())
    } else {
        Err(Defer)
    }
}

fn node(ast: &Value, depth: usize) -> R<Node> {
    if depth > MAX_DEPTH {
        return Err(Defer);
    }
    let o = ast.as_object().ok_or(Defer)?;
    let ty = o.get("type").and_then(Value::as_str).ok_or(Defer)?;
    let sub = |v: Option<&Value>| node(v.ok_or(Defer)?, depth + 1);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string).ok_or(Defer);
    match ty {
        "path" => {
            keys_within(o, &["steps"])?;
            let steps = o.get("steps").and_then(Value::as_array).ok_or(Defer)?;
            if steps.is_empty() {
                return Err(Defer);
            }
            let steps = steps
                .iter()
                .map(|s| match node(s, depth + 1)? {
                    n @ (Node::Name(_) | Node::Var(_)) => Ok(n),
                    _ => Err(Defer),
                })
                .collect::<R<Vec<_>>>()?;
            Ok(Node::Path(steps))
        }
        "name" => {
            keys_within(o, &["value"])?;
            Ok(Node::Name(text(o.get("value"))?))
        }
        "variable" => {
            keys_within(o, &["value"])?;
            Ok(Node::Var(text(o.get("value"))?))
        }
        "number" | "string" | "value" => {
            keys_within(o, &["value"])?;
            let v = o.get("value").ok_or(Defer)?;
            let ok = match ty {
                "number" => v.as_f64().is_some_and(f64::is_finite),
                "string" => v.is_string(),
                _ => v.is_boolean() || v.is_null(),
            };
            if ok { Ok(Node::Lit(v.clone())) } else { Err(Defer) }
        }
        "unary" => match o.get("value").and_then(Value::as_str) {
            Some("-") => {
                keys_within(o, &["value", "expression"])?;
                Ok(Node::Neg(Box::new(sub(o.get("expression"))?)))
            }
            Some("[") => {
                keys_within(o, &["value", "expressions"])?;
                let items = o.get("expressions").and_then(Value::as_array).ok_or(Defer)?;
                let items = items
                    .iter()
                    .map(|i| {
                        let nested = i.get("type").and_then(Value::as_str) == Some("unary")
                            && i.get("value").and_then(Value::as_str) == Some("[");
                        Ok((node(i, depth + 1)?, nested))
                    })
                    .collect::<R<Vec<_>>>()?;
                Ok(Node::Array(items))
            }
            Some("{") => {
                keys_within(o, &["value", "lhs"])?;
                let pairs = o.get("lhs").and_then(Value::as_array).ok_or(Defer)?;
                let pairs = pairs
                    .iter()
                    .map(|p| match p.as_array().map(Vec::as_slice) {
                        Some([k, v]) => Ok((node(k, depth + 1)?, node(v, depth + 1)?)),
                        _ => Err(Defer),
                    })
                    .collect::<R<Vec<_>>>()?;
                Ok(Node::Object(pairs))
            }
            _ => Err(Defer),
        },
        "binary" => {
            keys_within(o, &["value", "lhs", "rhs"])?;
            let op = match o.get("value").and_then(Value::as_str).ok_or(Defer)? {
                "+" => Op::Add,
                "-" => Op::Sub,
                "*" => Op::Mul,
                "/" => Op::Div,
                "%" => Op::Rem,
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "and" => Op::And,
                "or" => Op::Or,
                "&" => Op::Concat,
                _ => return Err(Defer),
            };
            Ok(Node::Binary(
                op,
                Box::new(sub(o.get("lhs"))?),
                Box::new(sub(o.get("rhs"))?),
            ))
        }
        "condition" => {
            keys_within(o, &["condition", "then", "else"])?;
            let otherwise = match o.get("else") {
                Some(e) => Some(Box::new(node(e, depth + 1)?)),
                None => None,
            };
            Ok(Node::Cond(
                Box::new(sub(o.get("condition"))?),
                Box::new(sub(o.get("then"))?),
                otherwise,
            ))
        }
        "block" => {
            keys_within(o, &["expressions"])?;
            let exprs = o.get("expressions").and_then(Value::as_array).ok_or(Defer)?;
            if exprs.is_empty() {
                return Err(Defer);
            }
            let exprs = exprs.iter().map(|e| node(e, depth + 1)).collect::<R<Vec<_>>>()?;
            Ok(Node::Block(exprs))
        }
        "function" => {
            keys_within(o, &["value", "arguments", "procedure"])?;
            let procedure = o.get("procedure").and_then(Value::as_object).ok_or(Defer)?;
            keys_within(procedure, &["value"])?;
            if procedure.get("type").and_then(Value::as_str) != Some("variable") {
                return Err(Defer);
            }
            let func = match procedure.get("value").and_then(Value::as_str).ok_or(Defer)? {
                "sum" => Func::Sum,
                "max" => Func::Max,
                "min" => Func::Min,
                "average" => Func::Average,
                "count" => Func::Count,
                _ => return Err(Defer),
            };
            let args = o.get("arguments").and_then(Value::as_array).ok_or(Defer)?;
            if args.len() != 1 {
                return Err(Defer);
            }
            let args = args.iter().map(|a| node(a, depth + 1)).collect::<R<Vec<_>>>()?;
            Ok(Node::Call(func, args))
        }
        _ => Err(Defer),
    }
}

/// A JSONata value during evaluation. `Seq` is a JSONata *sequence* (what paths produce); the
/// other arrays are plain arrays, which the singleton rule leaves alone.
#[derive(Debug, Clone)]
enum V<'a> {
    Undef,
    /// A value of the input, a binding or a literal, as it is.
    Ref(&'a Value),
    Num(f64),
    Bool(bool),
    Str(String),
    /// A constructed array.
    Arr(Vec<V<'a>>),
    /// A constructed object, keys unique, in insertion order.
    Obj(Vec<(String, V<'a>)>),
    Seq(Vec<V<'a>>),
}

/// JavaScript's `typeof`, as far as JSONata tells values apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Undef,
    Null,
    Bool,
    Num,
    Str,
    Array,
    Object,
}

impl<'a> V<'a> {
    fn kind(&self) -> Kind {
        match self {
            V::Undef => Kind::Undef,
            V::Num(_) => Kind::Num,
            V::Bool(_) => Kind::Bool,
            V::Str(_) => Kind::Str,
            V::Arr(_) | V::Seq(_) => Kind::Array,
            V::Obj(_) => Kind::Object,
            V::Ref(v) => match v {
                Value::Null => Kind::Null,
                Value::Bool(_) => Kind::Bool,
                Value::Number(_) => Kind::Num,
                Value::String(_) => Kind::Str,
                Value::Array(_) => Kind::Array,
                Value::Object(_) => Kind::Object,
            },
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            V::Num(n) => Some(*n),
            V::Ref(Value::Number(n)) => n.as_f64(),
            _ => None,
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            V::Ref(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    fn bool(&self) -> Option<bool> {
        match self {
            V::Bool(b) | V::Ref(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn is_array(&self) -> bool {
        self.kind() == Kind::Array
    }

    fn len(&self) -> usize {
        match self {
            V::Arr(xs) | V::Seq(xs) => xs.len(),
            V::Ref(Value::Array(xs)) => xs.len(),
            _ => 0,
        }
    }

    /// The items of an array (empty for anything else).
    fn into_items(self) -> Vec<V<'a>> {
        match self {
            V::Arr(xs) | V::Seq(xs) => xs,
            V::Ref(Value::Array(xs)) => xs.iter().map(V::Ref).collect(),
            _ => Vec::new(),
        }
    }

    fn items(&self) -> Vec<V<'a>> {
        self.clone().into_items()
    }
}

/// The end of the reference's `evaluate`: an empty sequence is undefined, a singleton
/// sequence its one item.
fn settle(v: V<'_>) -> V<'_> {
    match v {
        V::Seq(mut xs) if xs.len() <= 1 => xs.pop().unwrap_or(V::Undef),
        v => v,
    }
}

struct Env<'a> {
    root: &'a Value,
    bindings: &'a [(&'a str, &'a Value)],
}

impl<'a> Env<'a> {
    fn binding(&self, name: &str) -> Option<&'a Value> {
        self.bindings
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

/// Evaluates `node` with `input` as `$` and `bindings` as variables: `Ok(None)` is undefined;
/// `Err(Defer)` means "ask the reference engine".
pub(super) fn evaluate(node: &Node, input: &Value, bindings: &[(&str, &Value)]) -> R<Option<Value>> {
    if input.is_array() {
        // The reference wraps an array input in a sequence marked `outerWrapper`.
        return Err(Defer);
    }
    // Our walks over values recurse; deeply nested data is left to the reference (whose own
    // limits turn it into an error rather than a stack overflow).
    if !within_depth(input) || !bindings.iter().all(|(_, v)| within_depth(v)) {
        return Err(Defer);
    }
    let env = Env {
        root: input,
        bindings,
    };
    match eval(node, &V::Ref(input), &env)? {
        V::Undef => Ok(None),
        v => to_json(v).map(Some),
    }
}

/// How deeply nested input and variables may be for the native evaluator.
const MAX_VALUE_DEPTH: usize = 64;

/// Whether `v` nests at most [`MAX_VALUE_DEPTH`] levels (checked without recursion).
fn within_depth(v: &Value) -> bool {
    let mut stack = vec![(v, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(xs) => Box::new(xs.iter()),
            Value::Object(m) => Box::new(m.values()),
            _ => continue,
        };
        if depth >= MAX_VALUE_DEPTH {
            return false;
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    true
}

fn eval<'a>(node: &'a Node, input: &V<'a>, env: &Env<'a>) -> R<V<'a>> {
    let v = match node {
        Node::Path(steps) => path(steps, input, env)?,
        Node::Name(key) => lookup(input, key)?,
        Node::Var(name) => match name.as_str() {
            "" => input.clone(),
            "$" => V::Ref(env.root),
            name => V::Ref(env.binding(name).ok_or(Defer)?),
        },
        Node::Lit(v) => V::Ref(v),
        Node::Neg(e) => match eval(e, input, env)? {
            V::Undef => V::Undef,
            v => V::Num(-v.num().ok_or(Defer)?),
        },
        Node::Array(items) => {
            let mut out = Vec::new();
            for (item, nested) in items {
                match eval(item, input, env)? {
                    V::Undef => {}
                    v if !*nested && v.is_array() => out.extend(v.into_items()),
                    v => out.push(v),
                }
            }
            V::Arr(out)
        }
        Node::Object(pairs) => object(pairs, input, env)?,
        Node::Binary(op, l, r) => binary(*op, l, r, input, env)?,
        Node::Cond(c, then, otherwise) => {
            if boolean(&eval(c, input, env)?) == Some(true) {
                eval(then, input, env)?
            } else if let Some(e) = otherwise {
                eval(e, input, env)?
            } else {
                V::Undef
            }
        }
        Node::Block(exprs) => {
            let mut last = V::Undef;
            for e in exprs {
                last = eval(e, input, env)?;
            }
            last
        }
        Node::Call(func, args) => call(*func, args, input, env)?,
    };
    Ok(settle(v))
}

/// The reference's `evaluatePath` and `evaluateStep` for steps that are names or variables.
fn path<'a>(steps: &'a [Node], input: &V<'a>, env: &Env<'a>) -> R<V<'a>> {
    let mut sequence = if input.is_array() && !matches!(steps[0], Node::Var(_)) {
        input.items()
    } else {
        vec![input.clone()]
    };
    let mut result = V::Seq(Vec::new());
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        let mut found = Vec::new();
        for item in &sequence {
            match eval(step, item, env)? {
                V::Undef => {}
                v => found.push(v),
            }
        }
        result = if last && found.len() == 1 && found[0].is_array() && !matches!(found[0], V::Seq(_)) {
            found.pop().unwrap_or(V::Undef)
        } else {
            let mut flat = Vec::new();
            for v in found {
                if v.is_array() {
                    flat.extend(v.into_items());
                } else {
                    flat.push(v);
                }
            }
            V::Seq(flat)
        };
        if result.len() == 0 {
            break;
        }
        if !last {
            // The next step recomputes `result`: hand this one's items over instead of copying.
            sequence = std::mem::replace(&mut result, V::Seq(Vec::new())).into_items();
        }
    }
    Ok(result)
}

/// The reference's `fn.lookup`.
fn lookup<'a>(input: &V<'a>, key: &str) -> R<V<'a>> {
    if input.is_array() {
        let mut out = Vec::new();
        for item in input.items() {
            match lookup(&item, key)? {
                V::Undef => {}
                v if v.is_array() => out.extend(v.into_items()),
                v => out.push(v),
            }
        }
        return Ok(V::Seq(out));
    }
    let object = matches!(input, V::Obj(_) | V::Ref(Value::Object(_)));
    if object && PROTOTYPE_NAMES.contains(&key) {
        return Err(Defer);
    }
    Ok(match input {
        V::Ref(Value::Object(m)) => m.get(key).map_or(V::Undef, V::Ref),
        V::Obj(pairs) => pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or(V::Undef, |(_, v)| v.clone()),
        _ => V::Undef,
    })
}

/// The reference's `evaluateGroupExpression` for a context that is not an array (one group).
fn object<'a>(pairs: &'a [(Node, Node)], input: &V<'a>, env: &Env<'a>) -> R<V<'a>> {
    if input.is_array() {
        return Err(Defer);
    }
    let mut keys: Vec<(String, usize)> = Vec::with_capacity(pairs.len());
    for (i, (k, _)) in pairs.iter().enumerate() {
        let key = eval(k, input, env)?;
        if let V::Undef = key {
            continue;
        }
        let key = key.str().ok_or(Defer)?;
        if PROTOTYPE_NAMES.contains(&key) || keys.iter().any(|(seen, _)| seen == key) {
            return Err(Defer);
        }
        keys.push((key.to_string(), i));
    }
    let mut out = Vec::with_capacity(keys.len());
    for (key, i) in keys {
        match eval(&pairs[i].1, input, env)? {
            V::Undef => {}
            v => out.push((key, v)),
        }
    }
    Ok(V::Obj(out))
}

fn binary<'a>(op: Op, l: &'a Node, r: &'a Node, input: &V<'a>, env: &Env<'a>) -> R<V<'a>> {
    let lhs = eval(l, input, env)?;
    match op {
        Op::And | Op::Or => {
            let left = boolean(&lhs) == Some(true);
            let value = match (op, left) {
                (Op::And, false) => false,
                (Op::Or, true) => true,
                _ => boolean(&eval(r, input, env)?) == Some(true),
            };
            return Ok(V::Bool(value));
        }
        _ => {}
    }
    let rhs = eval(r, input, env)?;
    Ok(match op {
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem => {
            let (a, b) = (lhs.num(), rhs.num());
            if (a.is_none() && !matches!(lhs, V::Undef)) || (b.is_none() && !matches!(rhs, V::Undef)) {
                return Err(Defer);
            }
            let (Some(a), Some(b)) = (a, b) else {
                return Ok(V::Undef);
            };
            let n = match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::Mul => a * b,
                Op::Div => a / b,
                _ => a % b,
            };
            if !n.is_finite() {
                return Err(Defer);
            }
            V::Num(n)
        }
        Op::Eq | Op::Ne => {
            if matches!(lhs, V::Undef) || matches!(rhs, V::Undef) {
                V::Bool(false)
            } else {
                V::Bool(deep_equal(&lhs, &rhs)? == (op == Op::Eq))
            }
        }
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let comparable = |k: Kind| matches!(k, Kind::Undef | Kind::Str | Kind::Num);
            let (lk, rk) = (lhs.kind(), rhs.kind());
            if !comparable(lk) || !comparable(rk) {
                return Err(Defer);
            }
            if lk == Kind::Undef || rk == Kind::Undef {
                return Ok(V::Undef);
            }
            let ord = match (lhs.num(), rhs.num(), lhs.str(), rhs.str()) {
                (Some(a), Some(b), _, _) => a.partial_cmp(&b).ok_or(Defer)?,
                (_, _, Some(a), Some(b)) => a.encode_utf16().cmp(b.encode_utf16()),
                _ => return Err(Defer),
            };
            V::Bool(match op {
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        Op::Concat => {
            // `&` stringifies other values with $string's number formatting: left to the reference.
            let part = |v: &V<'_>| match v {
                V::Undef => Ok(String::new()),
                v => v.str().map(str::to_string).ok_or(Defer),
            };
            V::Str(part(&lhs)? + &part(&rhs)?)
        }
        Op::And | Op::Or => unreachable!("handled above"),
    })
}

/// The reference's `fn.boolean`: `None` for undefined.
fn boolean(v: &V<'_>) -> Option<bool> {
    Some(match v.kind() {
        Kind::Undef => return None,
        Kind::Array => {
            let items = v.items();
            match items.len() {
                0 => false,
                1 => boolean(&items[0]) == Some(true),
                _ => items.iter().any(|x| boolean(x) == Some(true)),
            }
        }
        Kind::Str => v.str().is_some_and(|s| !s.is_empty()),
        Kind::Num => v.num().is_some_and(|n| n != 0.0),
        Kind::Object => match v {
            V::Obj(pairs) => !pairs.is_empty(),
            V::Ref(Value::Object(m)) => !m.is_empty(),
            _ => false,
        },
        Kind::Bool => v.bool() == Some(true),
        Kind::Null => false,
    })
}

/// The reference's `isDeepEqual` (numbers by value, objects by key set, arrays in order).
fn deep_equal(a: &V<'_>, b: &V<'_>) -> R<bool> {
    let (ka, kb) = (a.kind(), b.kind());
    if matches!(
        (ka, kb),
        (Kind::Array, Kind::Object) | (Kind::Object, Kind::Array)
    ) {
        // The reference compares an array with an object by property names ("length", ...).
        return Err(Defer);
    }
    if ka != kb {
        return Ok(false);
    }
    Ok(match ka {
        Kind::Undef | Kind::Null => true,
        Kind::Bool => a.bool() == b.bool(),
        Kind::Num => a.num() == b.num(),
        Kind::Str => a.str() == b.str(),
        Kind::Array => {
            let (xs, ys) = (a.items(), b.items());
            if xs.len() != ys.len() {
                return Ok(false);
            }
            for (x, y) in xs.iter().zip(&ys) {
                if !deep_equal(x, y)? {
                    return Ok(false);
                }
            }
            true
        }
        Kind::Object => {
            let (xs, ys) = (entries(a), entries(b));
            if xs.len() != ys.len() {
                return Ok(false);
            }
            for (k, x) in &xs {
                match ys.iter().find(|(k2, _)| k2 == k) {
                    Some((_, y)) if deep_equal(x, y)? => {}
                    _ => return Ok(false),
                }
            }
            true
        }
    })
}

fn entries<'a>(v: &V<'a>) -> Vec<(String, V<'a>)> {
    match v {
        V::Obj(pairs) => pairs.clone(),
        V::Ref(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), V::Ref(v))).collect(),
        _ => Vec::new(),
    }
}

fn call<'a>(func: Func, args: &'a [Node], input: &V<'a>, env: &Env<'a>) -> R<V<'a>> {
    if env.binding(func.name()).is_some() {
        // A variable of that name shadows the built-in.
        return Err(Defer);
    }
    let arg = eval(&args[0], input, env)?;
    if func == Func::Count {
        return Ok(V::Num(match arg {
            V::Undef => 0.0,
            a if a.is_array() => a.len() as f64,
            _ => 1.0,
        }));
    }
    let numbers: Vec<f64> = match arg.kind() {
        Kind::Undef => return Ok(V::Undef),
        Kind::Num => vec![arg.num().ok_or(Defer)?],
        Kind::Array => arg
            .items()
            .iter()
            .map(|x| x.num().ok_or(Defer))
            .collect::<R<_>>()?,
        _ => return Err(Defer),
    };
    let n = match func {
        Func::Sum => numbers.iter().fold(0.0, |total, n| total + n),
        _ if numbers.is_empty() => return Ok(V::Undef),
        Func::Average => numbers.iter().fold(0.0, |total, n| total + n) / numbers.len() as f64,
        Func::Max => numbers.iter().copied().fold(f64::NEG_INFINITY, js_max),
        Func::Min => numbers.iter().copied().fold(f64::INFINITY, js_min),
        Func::Count => unreachable!("handled above"),
    };
    if !n.is_finite() {
        return Err(Defer);
    }
    Ok(V::Num(n))
}

/// `Math.max` of two numbers (+0 is larger than -0).
fn js_max(a: f64, b: f64) -> f64 {
    if b > a || (b == 0.0 && a == 0.0 && a.is_sign_negative()) {
        b
    } else {
        a
    }
}

/// `Math.min` of two numbers (-0 is smaller than +0).
fn js_min(a: f64, b: f64) -> f64 {
    if b < a || (b == 0.0 && a == 0.0 && b.is_sign_negative()) {
        b
    } else {
        a
    }
}

/// The result as the reference hands it over: `JSON.stringify` (JavaScript's numbers, its
/// key order: array-index keys first, ascending) read back by `serde_json`.
fn to_json(v: V<'_>) -> R<Value> {
    Ok(match v {
        V::Undef => return Err(Defer),
        V::Ref(x) => canonical(x)?,
        V::Num(n) => number(n)?,
        V::Bool(b) => Value::Bool(b),
        V::Str(s) => Value::String(s),
        V::Arr(xs) | V::Seq(xs) => Value::Array(xs.into_iter().map(to_json).collect::<R<_>>()?),
        V::Obj(pairs) => object_in_js_order(
            pairs
                .into_iter()
                .map(|(k, v)| Ok((k, to_json(v)?)))
                .collect::<R<_>>()?,
        ),
    })
}

fn canonical(v: &Value) -> R<Value> {
    Ok(match v {
        Value::Number(n) => number(n.as_f64().ok_or(Defer)?)?,
        Value::Array(xs) => Value::Array(xs.iter().map(canonical).collect::<R<_>>()?),
        Value::Object(m) => object_in_js_order(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), canonical(v)?)))
                .collect::<R<_>>()?,
        ),
        v => v.clone(),
    })
}

/// A number as `serde_json` reads `JSON.stringify(n)`. JavaScript prints the shortest digits
/// that read back as the same double — integers below 1e21 padded with zeros, not exactly
/// (2^60 prints as `1152921504606847000`) — and so does Rust's `Display` for `f64`.
fn number(n: f64) -> R<Value> {
    if !n.is_finite() {
        return Err(Defer);
    }
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        // Exact, and what the digits read back as.
        return Ok(Value::from(n as i64));
    }
    let text = if n.abs() < 1e21 {
        format!("{n}")
    } else {
        Number::from_f64(n).ok_or(Defer)?.to_string()
    };
    serde_json::from_str(&text).map_err(|_| Defer)
}

/// Whether JavaScript orders `key` as an array index (a canonical integer below 2^32 - 1).
fn is_index_key(key: &str) -> bool {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b[0] == b'0') {
        return false;
    }
    key.parse::<u64>().is_ok_and(|n| n < 4_294_967_295)
}

fn object_in_js_order(pairs: Vec<(String, Value)>) -> Value {
    let mut index: Vec<(u64, String, Value)> = Vec::new();
    let mut named: Vec<(String, Value)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        if is_index_key(&k) {
            index.push((k.parse().unwrap_or(0), k, v));
        } else {
            named.push((k, v));
        }
    }
    index.sort_by_key(|(n, _, _)| *n);
    let mut m = Map::with_capacity(index.len() + named.len());
    for (_, k, v) in index {
        m.insert(k, v);
    }
    for (k, v) in named {
        m.insert(k, v);
    }
    Value::Object(m)
}
