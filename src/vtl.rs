//! API Gateway mapping templates: the Velocity subset API Gateway documents (SPEC §7), pure.
//!
//! References (`$x`, `$!x`, `${x}`, `.prop`, `.method(args)`, `[i]`), `#set`, `#if` / `#elseif` /
//! `#else` / `#end`, `#foreach` (with `$foreach.index`, `$foreach.hasNext`, `$velocityCount`),
//! `##` and `#* *#` comments; `$input` (`body`, `json(path)`, `path(path)`, `params()`), `$util`
//! (`escapeJavaScript`, `parseJson`, `urlEncode`, `urlDecode`, `base64Encode`, `base64Decode`),
//! `$context` and `$stageVariables` are given by the caller as data.

use serde_json::{Map, Value, json};

use crate::asl::jsonpath_eval::{Path, Selected};

/// What a template can read.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The payload (`$input.body`): the request body, or the integration's response body.
    pub body: String,
    /// `$input.params()`: `{"path": {..}, "querystring": {..}, "header": {..}}`.
    pub params: Value,
    /// `$context`.
    pub context: Value,
    /// `$stageVariables`.
    pub stage_variables: Value,
}

/// Renders a template.
pub fn render(template: &str, input: &Input) -> Result<String, String> {
    let nodes = Parser::new(template).nodes(&[])?.0;
    let mut r = Renderer {
        input,
        vars: Map::new(),
        out: String::new(),
        steps: 0,
    };
    r.nodes(&nodes)?;
    Ok(r.out)
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Ref { r: Ref, quiet: bool, source: String },
    Set(Ref, Expr),
    If(Vec<(Expr, Vec<Node>)>, Vec<Node>),
    Foreach(String, Expr, Vec<Node>),
    Break,
}

#[derive(Debug, Clone)]
struct Ref {
    root: String,
    steps: Vec<Access>,
}

#[derive(Debug, Clone)]
enum Access {
    Prop(String),
    Call(String, Vec<Expr>),
    Index(Expr),
}

#[derive(Debug, Clone)]
enum Expr {
    Lit(Value),
    Interp(Vec<Node>),
    Ref(Ref),
    List(Vec<Expr>),
    Range(Box<Expr>, Box<Expr>),
    Map(Vec<(Expr, Expr)>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(Box<Expr>, &'static str, Box<Expr>),
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser { s, i: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn err(&self, what: &str) -> String {
        let line = self.s[..self.i].matches('\n').count() + 1;
        format!("mapping template, line {line}: {what}")
    }

    /// Parses nodes until one of `stops` (`#end`, `#else`, `#elseif`) or the end; returns the
    /// stop found.
    fn nodes(&mut self, stops: &[&str]) -> Result<(Vec<Node>, Option<String>), String> {
        let mut out = Vec::new();
        let mut text = String::new();
        while self.i < self.s.len() {
            let rest = self.rest();
            if rest.starts_with("##") {
                let end = rest.find('\n').unwrap_or(rest.len());
                self.i += end;
                continue;
            }
            if rest.starts_with("#*") {
                let end = rest.find("*#").ok_or_else(|| self.err("unclosed #* comment"))?;
                self.i += end + 2;
                continue;
            }
            if let Some(directive) = directive(rest) {
                if !text.is_empty() {
                    out.push(Node::Text(std::mem::take(&mut text)));
                }
                let name = directive
                    .trim_start_matches('#')
                    .trim_matches(|c| c == '{' || c == '}');
                if stops.contains(&name) {
                    self.i += directive.len();
                    return Ok((out, Some(name.to_string())));
                }
                self.i += directive.len();
                match name {
                    "set" => {
                        self.expect_open()?;
                        self.ws();
                        let target = match self.reference()? {
                            Some((r, _, _)) => r,
                            None => return Err(self.err("#set needs a $reference")),
                        };
                        self.ws();
                        if !self.rest().starts_with('=') {
                            return Err(self.err("#set needs '='"));
                        }
                        self.i += 1;
                        let e = self.expr()?;
                        self.close()?;
                        out.push(Node::Set(target, e));
                    }
                    "if" => {
                        self.expect_open()?;
                        let mut cond = self.expr()?;
                        self.close()?;
                        let mut branches = Vec::new();
                        let mut otherwise = Vec::new();
                        loop {
                            let (body, stop) = self.nodes(&["end", "else", "elseif"])?;
                            match stop.as_deref() {
                                Some("elseif") => {
                                    branches.push((cond, body));
                                    self.expect_open()?;
                                    cond = self.expr()?;
                                    self.close()?;
                                }
                                Some("else") => {
                                    branches.push((cond, body));
                                    let (body, stop) = self.nodes(&["end"])?;
                                    if stop.is_none() {
                                        return Err(self.err("#if without #end"));
                                    }
                                    otherwise = body;
                                    break;
                                }
                                Some(_) => {
                                    branches.push((cond, body));
                                    break;
                                }
                                None => return Err(self.err("#if without #end")),
                            }
                        }
                        out.push(Node::If(branches, otherwise));
                    }
                    "foreach" => {
                        self.expect_open()?;
                        self.ws();
                        let var = match self.reference()? {
                            Some((r, _, _)) if r.steps.is_empty() => r.root,
                            _ => return Err(self.err("#foreach needs a $variable")),
                        };
                        self.ws();
                        if !self.rest().starts_with("in") {
                            return Err(self.err("#foreach needs 'in'"));
                        }
                        self.i += 2;
                        let e = self.expr()?;
                        self.close()?;
                        let (body, stop) = self.nodes(&["end"])?;
                        if stop.is_none() {
                            return Err(self.err("#foreach without #end"));
                        }
                        out.push(Node::Foreach(var, e, body));
                    }
                    "break" => out.push(Node::Break),
                    other => return Err(self.err(&format!("#{other} without its #if or #foreach"))),
                }
                continue;
            }
            if rest.starts_with('$') {
                let start = self.i;
                if let Some((r, quiet, _)) = self.reference()? {
                    if !text.is_empty() {
                        out.push(Node::Text(std::mem::take(&mut text)));
                    }
                    out.push(Node::Ref {
                        r,
                        quiet,
                        source: self.s[start..self.i].to_string(),
                    });
                    continue;
                }
                self.i = start;
            }
            let c = rest.chars().next().unwrap_or(' ');
            text.push(c);
            self.i += c.len_utf8();
        }
        if !text.is_empty() {
            out.push(Node::Text(text));
        }
        Ok((out, None))
    }

    fn ws(&mut self) {
        while self.rest().starts_with([' ', '\t', '\n', '\r']) {
            self.i += 1;
        }
    }

    fn expect_open(&mut self) -> Result<(), String> {
        self.ws();
        if self.rest().starts_with('(') {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err("expected '('"))
        }
    }

    fn close(&mut self) -> Result<(), String> {
        self.ws();
        if self.rest().starts_with(')') {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err("expected ')'"))
        }
    }

    fn ident(&mut self) -> Option<String> {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|(k, c)| !(c.is_ascii_alphanumeric() || *c == '_' || (*k > 0 && *c == '-')))
            .map_or(rest.len(), |(k, _)| k);
        if len == 0 || !rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return None;
        }
        // A trailing '-' belongs to the text, not the name.
        let name = rest[..len].trim_end_matches('-');
        self.i += name.len();
        Some(name.to_string())
    }

    /// `$x.y(...)[0]`, `$!x`, `${x.y}`; `None` (position unchanged) when not a reference.
    fn reference(&mut self) -> Result<Option<(Ref, bool, bool)>, String> {
        let start = self.i;
        if !self.rest().starts_with('$') {
            return Ok(None);
        }
        self.i += 1;
        let quiet = self.rest().starts_with('!');
        if quiet {
            self.i += 1;
        }
        let braced = self.rest().starts_with('{');
        if braced {
            self.i += 1;
        }
        let Some(root) = self.ident() else {
            self.i = start;
            return Ok(None);
        };
        let mut steps = Vec::new();
        loop {
            let rest = self.rest();
            if rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                self.i += 1;
                let name = self
                    .ident()
                    .ok_or_else(|| self.err("expected a name after '.'"))?;
                if self.rest().starts_with('(') {
                    self.i += 1;
                    let args = self.args(')')?;
                    steps.push(Access::Call(name, args));
                } else {
                    steps.push(Access::Prop(name));
                }
            } else if rest.starts_with('[') {
                self.i += 1;
                let e = self.expr()?;
                self.ws();
                if !self.rest().starts_with(']') {
                    return Err(self.err("expected ']'"));
                }
                self.i += 1;
                steps.push(Access::Index(e));
            } else {
                break;
            }
        }
        if braced {
            if !self.rest().starts_with('}') {
                return Err(self.err("expected '}' after ${..."));
            }
            self.i += 1;
        }
        Ok(Some((Ref { root, steps }, quiet, braced)))
    }

    fn args(&mut self, end: char) -> Result<Vec<Expr>, String> {
        let mut args = Vec::new();
        self.ws();
        if self.rest().starts_with(end) {
            self.i += 1;
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            self.ws();
            let rest = self.rest();
            if rest.starts_with(',') {
                self.i += 1;
            } else if rest.starts_with(end) {
                self.i += 1;
                return Ok(args);
            } else {
                return Err(self.err(&format!("expected ',' or '{end}'")));
            }
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        loop {
            self.ws();
            if self.eat_word(&["||", "or"]) {
                left = Expr::Bin(Box::new(left), "||", Box::new(self.and()?));
            } else {
                return Ok(left);
            }
        }
    }

    fn eat_word(&mut self, words: &[&str]) -> bool {
        let rest = self.rest();
        for w in words {
            if let Some(tail) = rest.strip_prefix(w) {
                let alpha = w.chars().all(|c| c.is_ascii_alphabetic());
                let after = tail.chars().next();
                if alpha && after.is_some_and(|c| c.is_ascii_alphanumeric()) {
                    continue;
                }
                self.i += w.len();
                return true;
            }
        }
        false
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.cmp()?;
        loop {
            self.ws();
            if self.eat_word(&["&&", "and"]) {
                left = Expr::Bin(Box::new(left), "&&", Box::new(self.cmp()?));
            } else {
                return Ok(left);
            }
        }
    }

    fn cmp(&mut self) -> Result<Expr, String> {
        let left = self.add()?;
        self.ws();
        for (tok, op) in [
            ("==", "=="),
            ("!=", "!="),
            ("<=", "<="),
            (">=", ">="),
            ("<", "<"),
            (">", ">"),
            ("eq", "=="),
            ("ne", "!="),
            ("lt", "<"),
            ("gt", ">"),
            ("le", "<="),
            ("ge", ">="),
        ] {
            if self.eat_word(&[tok]) {
                let right = self.add()?;
                return Ok(Expr::Bin(Box::new(left), op, Box::new(right)));
            }
        }
        Ok(left)
    }

    fn add(&mut self) -> Result<Expr, String> {
        let mut left = self.mul()?;
        loop {
            self.ws();
            let rest = self.rest();
            let op = if rest.starts_with('+') {
                "+"
            } else if rest.starts_with('-') {
                "-"
            } else {
                return Ok(left);
            };
            self.i += 1;
            left = Expr::Bin(Box::new(left), op, Box::new(self.mul()?));
        }
    }

    fn mul(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            self.ws();
            let rest = self.rest();
            let op = match rest.chars().next() {
                Some('*') => "*",
                Some('/') => "/",
                Some('%') => "%",
                _ => return Ok(left),
            };
            self.i += 1;
            left = Expr::Bin(Box::new(left), op, Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        self.ws();
        if self.rest().starts_with('!') && !self.rest().starts_with("!=") {
            self.i += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat_word(&["not"]) {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.rest().starts_with('-') {
            self.i += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        self.ws();
        let rest = self.rest();
        if rest.starts_with('$') {
            return match self.reference()? {
                Some((r, _, _)) => Ok(Expr::Ref(r)),
                None => Err(self.err("expected a reference after '$'")),
            };
        }
        if rest.starts_with('(') {
            self.i += 1;
            let e = self.expr()?;
            self.close()?;
            return Ok(e);
        }
        if rest.starts_with('[') {
            self.i += 1;
            self.ws();
            // `[1..3]`: a range.
            let save = self.i;
            if let Ok(a) = self.add() {
                self.ws();
                if self.rest().starts_with("..") {
                    self.i += 2;
                    let b = self.add()?;
                    self.ws();
                    if !self.rest().starts_with(']') {
                        return Err(self.err("expected ']'"));
                    }
                    self.i += 1;
                    return Ok(Expr::Range(Box::new(a), Box::new(b)));
                }
            }
            self.i = save;
            return Ok(Expr::List(self.args(']')?));
        }
        if rest.starts_with('{') {
            self.i += 1;
            let mut pairs = Vec::new();
            self.ws();
            if self.rest().starts_with('}') {
                self.i += 1;
                return Ok(Expr::Map(pairs));
            }
            loop {
                let k = self.expr()?;
                self.ws();
                if !self.rest().starts_with(':') {
                    return Err(self.err("expected ':' in a map"));
                }
                self.i += 1;
                let v = self.expr()?;
                pairs.push((k, v));
                self.ws();
                if self.rest().starts_with(',') {
                    self.i += 1;
                } else if self.rest().starts_with('}') {
                    self.i += 1;
                    return Ok(Expr::Map(pairs));
                } else {
                    return Err(self.err("expected ',' or '}' in a map"));
                }
            }
        }
        if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let body_start = self.i + 1;
            let mut k = body_start;
            let b = self.s.as_bytes();
            while k < b.len() && b[k] != q as u8 {
                k += 1;
            }
            if k >= b.len() {
                return Err(self.err("unclosed string"));
            }
            let body = &self.s[body_start..k];
            self.i = k + 1;
            if q == '\'' || !body.contains(['$', '#']) {
                return Ok(Expr::Lit(Value::String(body.to_string())));
            }
            return Ok(Expr::Interp(Parser::new(body).nodes(&[])?.0));
        }
        for (w, v) in [
            ("true", json!(true)),
            ("false", json!(false)),
            ("null", Value::Null),
        ] {
            if self.eat_word(&[w]) {
                return Ok(Expr::Lit(v));
            }
        }
        let len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
            .map_or(rest.len(), |(k, _)| k);
        let mut num = &rest[..len];
        if num.contains("..") {
            num = &num[..num.find("..").unwrap_or(num.len())];
        }
        if !num.is_empty() {
            self.i += num.len();
            let v: Value = serde_json::from_str(num).map_err(|_| self.err(&format!("bad number {num}")))?;
            return Ok(Expr::Lit(v));
        }
        Err(self.err(&format!(
            "unexpected {:?}",
            rest.chars().take(10).collect::<String>()
        )))
    }
}

/// The directive at the start of `rest` (`#set`, `#{end}`, ...), if any.
fn directive(rest: &str) -> Option<&str> {
    for name in ["set", "if", "elseif", "else", "end", "foreach", "break"] {
        for form in [format!("#{name}"), format!("#{{{name}}}")] {
            if rest.starts_with(&form) {
                let after = rest[form.len()..].chars().next();
                if after.is_some_and(|c| c.is_ascii_alphanumeric()) {
                    continue;
                }
                return Some(&rest[..form.len()]);
            }
        }
    }
    None
}

struct Renderer<'a> {
    input: &'a Input,
    vars: Map<String, Value>,
    out: String,
    steps: u64,
}

enum Flow {
    Normal,
    Break,
}

const MAX_STEPS: u64 = 1_000_000;

impl Renderer<'_> {
    fn nodes(&mut self, nodes: &[Node]) -> Result<Flow, String> {
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

    fn assign(&mut self, target: &Ref, v: Value) -> Result<(), String> {
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

    fn root(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        match name {
            "context" => Some(self.input.context.clone()),
            "stageVariables" => Some(self.input.stage_variables.clone()),
            _ => None,
        }
    }

    fn args(&mut self, args: &[Expr]) -> Result<Vec<Value>, String> {
        args.iter()
            .map(|a| self.eval(a).map(|v| v.unwrap_or(Value::Null)))
            .collect()
    }

    fn reference(&mut self, r: &Ref) -> Result<Option<Value>, String> {
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

    fn input_method(&self, m: &str, args: &[Value]) -> Result<Option<Value>, String> {
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

    fn eval(&mut self, e: &Expr) -> Result<Option<Value>, String> {
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

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn binary(op: &str, x: &Value, y: &Value) -> Option<Value> {
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

fn truthy(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => true,
    }
}

/// How Velocity prints a value (Java's `toString`).
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(a) => format!("[{}]", a.iter().map(to_text).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", to_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// Methods of strings, lists and maps that templates use.
fn method(v: &Value, m: &str, args: &[Value]) -> Result<Option<Value>, String> {
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

/// `$util.*`.
fn util(m: &str, args: &[Value]) -> Result<Option<Value>, String> {
    let s = args.first().map(to_text).unwrap_or_default();
    Ok(Some(match m {
        "escapeJavaScript" => Value::String(escape_javascript(&s)),
        "parseJson" => {
            serde_json::from_str(&s).map_err(|e| format!("mapping template: $util.parseJson: {e}"))?
        }
        "urlEncode" => Value::String(url_encode(&s)),
        "urlDecode" => Value::String(url_decode(&s)),
        "base64Encode" => Value::String(base64(s.as_bytes())),
        "base64Decode" => Value::String(
            String::from_utf8_lossy(&unbase64(&s).ok_or("mapping template: $util.base64Decode: not Base64")?)
                .into_owned(),
        ),
        "toJson" => Value::String(args.first().map_or_else(|| "null".into(), Value::to_string)),
        other => return Err(format!("mapping template: $util.{other}() is not supported")),
    }))
}

/// Java's `StringEscapeUtils.escapeJavaScript`, as API Gateway applies it (`'` becomes `\'`).
pub fn escape_javascript(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(())
                {
                    Ok(x) => {
                        out.push(x);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.trim_end_matches('=').bytes() {
        acc = (acc << 6) | B64.iter().position(|&b| b == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(body: &str) -> Input {
        Input {
            body: body.into(),
            params: json!({"path": {"id": "7"}, "querystring": {"q": "x"}, "header": {}}),
            context: json!({"stage": "prod", "requestId": "r-1", "identity": {"sourceIp": "127.0.0.1"}}),
            stage_variables: json!({"machine": "arn:m"}),
        }
    }

    #[test]
    fn the_operators_default_template() {
        let t = "{\"input\": \"$util.escapeJavaScript($input.json('$'))\", \"stateMachineArn\": \"arn:aws:states:us-east-1:1:stateMachine:m\"}";
        let out = render(t, &input(r#"{"values": [3, 1, 2]}"#)).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["input"], r#"{"values":[3,1,2]}"#);
    }

    #[test]
    fn directives_references_and_util() {
        let t = r##"#set($items = $input.path('$.values'))
## a comment
{"n": $items.size(), "first": $items[0], "stage": "$context.stage", "sv": "$stageVariables.machine",
"ids": [#foreach($x in $items)"$x"#if($foreach.hasNext),#end#end], "id": "$input.params('id')",
#if($items.size() > 2 && !$missing)"big": true#elseif($items.size() > 0)"small": true#else"none": true#end,
"quiet": "$!missing", "loud": "$missing", "sum": $math, "b64": "$util.base64Encode('hi')"}"##;
        let out = render(
            &t.replace("$math", "#set($s = 1 + 2 * 3)$s"),
            &input(r#"{"values": [3, 1, 2]}"#),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(
            v,
            json!({"n": 3, "first": 3, "stage": "prod", "sv": "arn:m", "ids": ["3", "1", "2"], "id": "7",
                   "big": true, "quiet": "", "loud": "$missing", "sum": 7, "b64": "aGk="})
        );
    }

    #[test]
    fn escape_javascript_is_javas() {
        assert_eq!(escape_javascript("a\"b'c\\d/\n"), "a\\\"b\\'c\\\\d\\/\\n");
        assert!(render("#if($x", &input("")).is_err());
        assert!(render("#foreach($a in [1..3])$a#end", &input("")).unwrap() == "123");
        assert_eq!(url_decode("a%20b+c%zz%é"), "a b c%zz%é");
        assert_eq!(url_encode("a b/é"), "a+b%2F%C3%A9");
    }
}
