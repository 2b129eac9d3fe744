//! JSONPath evaluation as Step Functions does it (Jayway semantics): a *definite* path (only names
//! and single indexes) selects one value; an indefinite one (`[*]`, `..`, slices, unions, filters)
//! selects a list. Pure: the caller picks the root (`$` the input, `$$` the context object, `$name`
//! a variable) and turns a miss into its own error.

use serde_json::Value;

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Union(Vec<Step>),
    /// `..step`: the step applied at every depth.
    Descend(Box<Step>),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Exists(Vec<Step>),
    Compare(Vec<Step>, Op, Value),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a variable.
    Variable(String),
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub root: Root,
    steps: Vec<Step>,
}

/// What a path selected.
#[derive(Debug, Clone, PartialEq)]
pub enum Selected {
    /// A definite path's value, or `None` when it is missing.
    One(Option<Value>),
    /// An indefinite path's matches.
    Many(Vec<Value>),
}

impl Path {
    /// Parses a path such as `$.a.b[0]`, `$$.Execution.Id`, `$var.x`, `$.items[?(@.n > 1)]`.
    pub fn parse(s: &str) -> Result<Path, String> {
        let b = s.as_bytes();
        if b.first() != Some(&b'$') {
            return Err(format!("invalid JSONPath {s:?}"));
        }
        let mut i = 1;
        let root = if b.get(1) == Some(&b'$') {
            i = 2;
            Root::Context
        } else {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if i == 1 {
                Root::Input
            } else {
                Root::Variable(s[1..i].to_string())
            }
        };
        let steps = parse_steps(s, &mut i, false)?;
        Ok(Path { root, steps })
    }

    /// Whether the path selects at most one value.
    pub fn is_definite(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s, Step::Field(_) | Step::Index(_)))
    }

    /// Field names and indexes of a definite path (for writing at a `ResultPath`).
    pub fn definite_steps(&self) -> Option<Vec<PathKey>> {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Field(f) => Some(PathKey::Field(f.clone())),
                Step::Index(n) => Some(PathKey::Index(*n)),
                _ => None,
            })
            .collect()
    }

    /// Applies the path's steps to `root`.
    pub fn select(&self, root: &Value) -> Selected {
        if self.is_definite() {
            let mut cur = root;
            for step in &self.steps {
                let next = match step {
                    Step::Field(f) => cur.as_object().and_then(|m| m.get(f)),
                    Step::Index(n) => cur.as_array().and_then(|a| index(a, *n)),
                    _ => None,
                };
                match next {
                    Some(v) => cur = v,
                    None => return Selected::One(None),
                }
            }
            return Selected::One(Some(cur.clone()));
        }
        let mut cur: Vec<&Value> = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for v in cur {
                apply(step, v, &mut next);
            }
            cur = next;
        }
        Selected::Many(cur.into_iter().cloned().collect())
    }
}

/// One step of a definite path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathKey {
    Field(String),
    Index(i64),
}

fn index(a: &[Value], n: i64) -> Option<&Value> {
    let i = if n < 0 { a.len() as i64 + n } else { n };
    if i < 0 { None } else { a.get(i as usize) }
}

fn apply<'a>(step: &Step, v: &'a Value, out: &mut Vec<&'a Value>) {
    match step {
        Step::Field(f) => {
            if let Some(x) = v.as_object().and_then(|m| m.get(f)) {
                out.push(x);
            }
        }
        Step::Index(n) => {
            if let Some(x) = v.as_array().and_then(|a| index(a, *n)) {
                out.push(x);
            }
        }
        Step::Wildcard => match v {
            Value::Object(m) => out.extend(m.values()),
            Value::Array(a) => out.extend(a.iter()),
            _ => {}
        },
        Step::Slice(start, end, stride) => {
            if let Some(a) = v.as_array() {
                let len = a.len() as i64;
                let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let s = start.map_or(0, norm);
                let e = end.map_or(len, norm);
                let step = stride.unwrap_or(1).max(1);
                let mut i = s;
                while i < e {
                    out.push(&a[i as usize]);
                    i += step;
                }
            }
        }
        Step::Union(steps) => {
            for s in steps {
                apply(s, v, out);
            }
        }
        Step::Descend(inner) => descend(inner, v, out),
        Step::Filter(filter) => match v {
            Value::Array(a) => out.extend(a.iter().filter(|x| test(filter, x))),
            Value::Object(_) if test(filter, v) => out.push(v),
            _ => {}
        },
    }
}

fn descend<'a>(step: &Step, v: &'a Value, out: &mut Vec<&'a Value>) {
    apply(step, v, out);
    match v {
        Value::Object(m) => m.values().for_each(|x| descend(step, x, out)),
        Value::Array(a) => a.iter().for_each(|x| descend(step, x, out)),
        _ => {}
    }
}

fn relative<'a>(steps: &[Step], v: &'a Value) -> Option<&'a Value> {
    let mut cur = v;
    for step in steps {
        cur = match step {
            Step::Field(f) => cur.as_object()?.get(f)?,
            Step::Index(n) => index(cur.as_array()?, *n)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn test(filter: &Filter, v: &Value) -> bool {
    match filter {
        Filter::Exists(steps) => relative(steps, v).is_some(),
        Filter::And(a, b) => test(a, v) && test(b, v),
        Filter::Or(a, b) => test(a, v) || test(b, v),
        Filter::Compare(steps, op, lit) => {
            let Some(x) = relative(steps, v) else {
                return false;
            };
            let ord = match (x, lit) {
                (Value::Number(a), Value::Number(b)) => a
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    .partial_cmp(&b.as_f64().unwrap_or(f64::NAN)),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => {
                    return match op {
                        Op::Eq => x == lit,
                        Op::Ne => x != lit,
                        _ => false,
                    };
                }
            };
            let Some(ord) = ord else { return false };
            match op {
                Op::Eq => ord.is_eq(),
                Op::Ne => !ord.is_eq(),
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                Op::Ge => ord.is_ge(),
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(path: &str, v: &Value) -> Selected {
        Path::parse(path).unwrap().select(v)
    }

    #[test]
    fn definite_and_indefinite() {
        let v = json!({"a": {"b": [1, 2, 3]}, "items": [{"n": 1, "s": 0}, {"n": 2, "s": 1}], "q\"x": 5});
        assert_eq!(sel("$.a.b[1]", &v), Selected::One(Some(json!(2))));
        assert_eq!(sel("$.a.b[-1]", &v), Selected::One(Some(json!(3))));
        assert_eq!(sel("$.a.c", &v), Selected::One(None));
        assert_eq!(sel("$", &v), Selected::One(Some(v.clone())));
        assert_eq!(sel("$['q\"x']", &v), Selected::One(Some(json!(5))));
        assert_eq!(sel("$.items[*].n", &v), Selected::Many(vec![json!(1), json!(2)]));
        assert_eq!(sel("$.a.b[1:]", &v), Selected::Many(vec![json!(2), json!(3)]));
        assert_eq!(sel("$.a.b[:1]", &v), Selected::Many(vec![json!(1)]));
        assert_eq!(sel("$..n", &v), Selected::Many(vec![json!(1), json!(2)]));
        assert_eq!(
            sel("$.items[?(@.s == 0)]", &v),
            Selected::Many(vec![json!({"n": 1, "s": 0})])
        );
        assert_eq!(
            sel("$.items[?(@.n > 1 && @.s)]", &v),
            Selected::Many(vec![json!({"n": 2, "s": 1})])
        );
        assert_eq!(Path::parse("$$.Execution.Id").unwrap().root, Root::Context);
        assert_eq!(Path::parse("$var.x").unwrap().root, Root::Variable("var".into()));
        assert!(Path::parse("a.b").is_err());
    }
}
