//! The one JSONPath lexer ([`Lexer`]: root, then `.name` / `..name` / `[...]` steps, with one set
//! of quoting rules) and the evaluator's reading of its steps into a [`Path`]. The validator's
//! rules over the same steps are in `check.rs`.

use serde_json::Value;

use super::{Filter, Op, Path, Root, Step};

/// One step as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Segment<'a> {
    /// `.name` or `..name`; `name` is empty when a bracket follows (`$.[0]`, `$..['a']`) or when
    /// the path is malformed (`$.`): the reader decides.
    Dot { deep: bool, name: &'a str },
    /// `[inner]`: `open` and `close` are the byte offsets of `[` and its matching `]`.
    Bracket {
        inner: &'a str,
        open: usize,
        close: usize,
    },
}

/// Splits a path into its root and its segments, one at a time, so a reader can stop at the first
/// problem in order. Errors read `invalid JSONPath "...": why`.
pub(super) struct Lexer<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Lexer<'a> {
    /// Reads the root (`$`, `$$` or `$name`).
    pub(super) fn new(s: &'a str) -> Result<(Root, Lexer<'a>), String> {
        let b = s.as_bytes();
        if b.first() != Some(&b'$') {
            return Err(format!("invalid JSONPath {s:?}: must start with \"$\""));
        }
        let mut i = 1;
        let root = if b.get(1) == Some(&b'$') {
            i = 2;
            Root::Context
        } else {
            // A variable reference `$name`.
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if i == 1 {
                Root::Input
            } else {
                Root::Variable(s[1..i].to_string())
            }
        };
        Ok((root, Lexer { s, i }))
    }

    /// Whether the next segment is a bracket.
    pub(super) fn bracket_next(&self) -> bool {
        self.s.as_bytes().get(self.i) == Some(&b'[')
    }

    fn bad(&self, why: &str) -> String {
        format!("invalid JSONPath {:?}: {why}", self.s)
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<Segment<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let (s, b) = (self.s, self.s.as_bytes());
        let c = *b.get(self.i)?;
        Some(match c {
            b'.' => {
                self.i += 1;
                let deep = b.get(self.i) == Some(&b'.');
                if deep {
                    self.i += 1;
                }
                let start = self.i;
                while self.i < b.len() && b[self.i] != b'.' && b[self.i] != b'[' {
                    self.i += 1;
                }
                Ok(Segment::Dot {
                    deep,
                    name: &s[start..self.i],
                })
            }
            b'[' => match bracket_end(b, self.i) {
                Some(close) => {
                    let open = self.i;
                    self.i = close + 1;
                    Ok(Segment::Bracket {
                        inner: &s[open + 1..close],
                        open,
                        close,
                    })
                }
                None => {
                    self.i = b.len();
                    Err(self.bad("unclosed \"[\""))
                }
            },
            _ => {
                let found = s[self.i..].chars().next().unwrap_or(' ');
                self.i = b.len();
                Err(self.bad(&format!("unexpected character {found:?}")))
            }
        })
    }
}

/// Index of the `]` closing the `[` at `open`, skipping quotes and nested brackets/parens.
fn bracket_end(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 1;
            } else if c == q {
                quote = None;
            }
        } else {
            match c {
                b'\'' | b'"' => quote = Some(c),
                b'[' | b'(' => depth += 1,
                b']' | b')' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return (c == b']').then_some(i);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

impl Path {
    /// Parses a path such as `$.a.b[0]`, `$$.Execution.Id`, `$var.x`, `$.items[?(@.n > 1)]` for
    /// evaluation. A path the validator accepts but the evaluator cannot select with (a script
    /// step `[(...)]`, a filter beyond comparisons) is an error here.
    pub fn parse(s: &str) -> Result<Path, String> {
        let bad = || format!("invalid JSONPath {s:?}");
        let (root, mut lexer) = Lexer::new(s).map_err(|_| bad())?;
        let mut steps = Vec::new();
        // `..` (or `.`) right before a bracket: the bracket's step, at every depth for `..`.
        let mut pending_deep: Option<bool> = None;
        while let Some(segment) = lexer.next() {
            match segment.map_err(|_| bad())? {
                Segment::Dot { deep, name: "" } if lexer.bracket_next() => {
                    pending_deep = Some(deep);
                }
                Segment::Dot { deep, name } => {
                    let step = match name {
                        "" => return Err(bad()),
                        "*" => Step::Wildcard,
                        _ => Step::Field(name.to_string()),
                    };
                    steps.push(if deep { Step::Descend(Box::new(step)) } else { step });
                }
                Segment::Bracket { open, close, .. } => {
                    let mut i = open;
                    let step = bracket(s, &mut i).map_err(|_| bad())?;
                    if i != close + 1 {
                        return Err(bad());
                    }
                    let deep = pending_deep.take().unwrap_or(false);
                    steps.push(if deep { Step::Descend(Box::new(step)) } else { step });
                }
            }
        }
        Ok(Path { root, steps })
    }
}

/// The steps of a relative path inside a filter (`@.a.b`, `@['a']`).
fn parse_steps(s: &str, i: &mut usize, in_filter: bool) -> Result<Vec<Step>, String> {
    let b = s.as_bytes();
    let bad = || format!("invalid JSONPath {s:?}");
    let mut steps = Vec::new();
    while *i < b.len() {
        match b[*i] {
            b'.' => {
                *i += 1;
                let deep = b.get(*i) == Some(&b'.');
                if deep {
                    *i += 1;
                }
                let step = if b.get(*i) == Some(&b'[') {
                    bracket(s, i)?
                } else {
                    let start = *i;
                    while *i < b.len() && !matches!(b[*i], b'.' | b'[') {
                        if in_filter && matches!(b[*i], b' ' | b')' | b'=' | b'!' | b'<' | b'>' | b'&' | b'|')
                        {
                            break;
                        }
                        *i += 1;
                    }
                    let name = &s[start..*i];
                    match name {
                        "" => return Err(bad()),
                        "*" => Step::Wildcard,
                        _ => Step::Field(name.to_string()),
                    }
                };
                steps.push(if deep { Step::Descend(Box::new(step)) } else { step });
            }
            b'[' => steps.push(bracket(s, i)?),
            _ if in_filter => break,
            _ => return Err(bad()),
        }
    }
    Ok(steps)
}

fn bracket(s: &str, i: &mut usize) -> Result<Step, String> {
    let b = s.as_bytes();
    let bad = || format!("invalid JSONPath {s:?}");
    *i += 1; // '['
    if b.get(*i) == Some(&b'?') {
        *i += 1;
        if b.get(*i) != Some(&b'(') {
            return Err(bad());
        }
        *i += 1;
        let filter = parse_or(s, i)?;
        skip_ws(b, i);
        if b.get(*i) != Some(&b')') || b.get(*i + 1) != Some(&b']') {
            return Err(bad());
        }
        *i += 2;
        return Ok(Step::Filter(filter));
    }
    let mut parts = Vec::new();
    loop {
        skip_ws(b, i);
        match b.get(*i) {
            Some(b'\'') | Some(b'"') => {
                let q = b[*i];
                *i += 1;
                let mut name = String::new();
                loop {
                    match b.get(*i) {
                        None => return Err(bad()),
                        // Only the quote itself and the backslash are escaped; any
                        // other backslash is literal (Jayway).
                        Some(b'\\') if matches!(b.get(*i + 1), Some(&c) if c == q || c == b'\\') => {
                            name.push(b[*i + 1] as char);
                            *i += 2;
                        }
                        Some(&c) if c == q => {
                            *i += 1;
                            break;
                        }
                        Some(_) => {
                            let c = s[*i..].chars().next().ok_or_else(bad)?;
                            name.push(c);
                            *i += c.len_utf8();
                        }
                    }
                }
                parts.push(Step::Field(name));
            }
            Some(b'*') => {
                *i += 1;
                parts.push(Step::Wildcard);
            }
            _ => {
                let start = *i;
                while *i < b.len() && !matches!(b[*i], b',' | b']') {
                    *i += 1;
                }
                let text = s[start..*i].trim();
                if text.contains(':') {
                    let nums: Vec<&str> = text.split(':').collect();
                    let num = |t: &str| -> Result<Option<i64>, String> {
                        let t = t.trim();
                        if t.is_empty() {
                            Ok(None)
                        } else {
                            t.parse().map(Some).map_err(|_| bad())
                        }
                    };
                    parts.push(Step::Slice(
                        num(nums[0])?,
                        num(nums.get(1).copied().unwrap_or(""))?,
                        num(nums.get(2).copied().unwrap_or(""))?,
                    ));
                } else {
                    parts.push(Step::Index(text.parse().map_err(|_| bad())?));
                }
            }
        }
        skip_ws(b, i);
        match b.get(*i) {
            Some(b',') => *i += 1,
            Some(b']') => {
                *i += 1;
                break;
            }
            _ => return Err(bad()),
        }
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Step::Union(parts)
    })
}

fn skip_ws(b: &[u8], i: &mut usize) {
    while b.get(*i).is_some_and(u8::is_ascii_whitespace) {
        *i += 1;
    }
}

fn parse_or(s: &str, i: &mut usize) -> Result<Filter, String> {
    let mut left = parse_and(s, i)?;
    loop {
        skip_ws(s.as_bytes(), i);
        if s[*i..].starts_with("||") {
            *i += 2;
            left = Filter::Or(Box::new(left), Box::new(parse_and(s, i)?));
        } else {
            return Ok(left);
        }
    }
}

fn parse_and(s: &str, i: &mut usize) -> Result<Filter, String> {
    let mut left = parse_cmp(s, i)?;
    loop {
        skip_ws(s.as_bytes(), i);
        if s[*i..].starts_with("&&") {
            *i += 2;
            left = Filter::And(Box::new(left), Box::new(parse_cmp(s, i)?));
        } else {
            return Ok(left);
        }
    }
}

fn parse_cmp(s: &str, i: &mut usize) -> Result<Filter, String> {
    let b = s.as_bytes();
    let bad = || format!("invalid JSONPath {s:?}");
    skip_ws(b, i);
    if b.get(*i) != Some(&b'@') {
        return Err(bad());
    }
    *i += 1;
    let steps = parse_steps(s, i, true)?;
    skip_ws(b, i);
    let rest = &s[*i..];
    let (op, len) = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find(|(t, _)| rest.starts_with(t))
    .map(|(t, op)| (*op, t.len()))
    .unwrap_or((Op::Eq, 0));
    if len == 0 {
        return Ok(Filter::Exists(steps));
    }
    *i += len;
    skip_ws(b, i);
    let start = *i;
    let lit = if matches!(b.get(*i), Some(b'\'') | Some(b'"')) {
        let q = b[*i];
        *i += 1;
        while *i < b.len() && b[*i] != q {
            *i += 1;
        }
        if *i >= b.len() {
            return Err(bad());
        }
        *i += 1;
        Value::String(s[start + 1..*i - 1].to_string())
    } else {
        while *i < b.len() && !matches!(b[*i], b')' | b' ' | b'&' | b'|') {
            *i += 1;
        }
        serde_json::from_str(&s[start..*i]).map_err(|_| bad())?
    };
    Ok(Filter::Compare(steps, op, lit))
}
