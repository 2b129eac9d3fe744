//! Parsing a mapping template into nodes: text, references, directives and expressions.
//! Must not: evaluate anything.

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Ref { r: Ref, quiet: bool, source: String },
    Set(Ref, Expr),
    If(Vec<(Expr, Vec<Node>)>, Vec<Node>),
    Foreach(String, Expr, Vec<Node>),
    Break,
}

#[derive(Debug, Clone)]
pub(super) struct Ref {
    pub(super) root: String,
    pub(super) steps: Vec<Access>,
}

#[derive(Debug, Clone)]
pub(super) enum Access {
    Prop(String),
    Call(String, Vec<Expr>),
    Index(Expr),
}

#[derive(Debug, Clone)]
pub(super) enum Expr {
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

pub(super) struct Parser<'a> {
    pub(super) s: &'a str,
    pub(super) i: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(s: &'a str) -> Self {
        Parser { s, i: 0 }
    }

    pub(super) fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    pub(super) fn err(&self, what: &str) -> String {
        let line = self.s[..self.i].matches('\n').count() + 1;
        format!("mapping template, line {line}: {what}")
    }

    /// Parses nodes until one of `stops` (`#end`, `#else`, `#elseif`) or the end; returns the
    /// stop found.
    pub(super) fn nodes(&mut self, stops: &[&str]) -> Result<(Vec<Node>, Option<String>), String> {
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

    pub(super) fn ws(&mut self) {
        while self.rest().starts_with([' ', '\t', '\n', '\r']) {
            self.i += 1;
        }
    }

    pub(super) fn expect_open(&mut self) -> Result<(), String> {
        self.ws();
        if self.rest().starts_with('(') {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err("expected '('"))
        }
    }

    pub(super) fn close(&mut self) -> Result<(), String> {
        self.ws();
        if self.rest().starts_with(')') {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err("expected ')'"))
        }
    }

    pub(super) fn ident(&mut self) -> Option<String> {
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
    pub(super) fn reference(&mut self) -> Result<Option<(Ref, bool, bool)>, String> {
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

    pub(super) fn args(&mut self, end: char) -> Result<Vec<Expr>, String> {
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

    pub(super) fn expr(&mut self) -> Result<Expr, String> {
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

    pub(super) fn eat_word(&mut self, words: &[&str]) -> bool {
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

    pub(super) fn and(&mut self) -> Result<Expr, String> {
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

    pub(super) fn cmp(&mut self) -> Result<Expr, String> {
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

    pub(super) fn add(&mut self) -> Result<Expr, String> {
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

    pub(super) fn mul(&mut self) -> Result<Expr, String> {
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

    pub(super) fn unary(&mut self) -> Result<Expr, String> {
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

    pub(super) fn primary(&mut self) -> Result<Expr, String> {
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
pub(super) fn directive(rest: &str) -> Option<&str> {
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
