//! Intrinsic function calls (`States.Format(...)` and the rest): parsing a call and evaluating it.
//! Pure: paths inside a call are resolved by the caller's resolver, and randomness (`States.UUID`,
//! `States.MathRandom` without a seed) comes from the caller's generator.

use serde_json::{Map, Value, json};

/// A parsed argument of an intrinsic call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Literal(Value),
    Path(String),
    Call(Call),
}

/// A parsed intrinsic call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Arg>,
}

/// What an evaluation needs from its caller.
pub trait Resolve {
    /// The value a JSONPath argument selects, or the error to report.
    fn path(&self, path: &str) -> Result<Value, String>;
    /// A random number in `[0, 1)`.
    fn random(&self) -> f64;
}

/// Parses `States.Name(arg, ...)`.
pub fn parse(s: &str) -> Result<Call, String> {
    let mut p = Parser { s, i: 0 };
    p.ws();
    let call = p.call()?;
    p.ws();
    if p.i != s.len() {
        return Err(format!(
            "unexpected text after the intrinsic function call in {s:?}"
        ));
    }
    Ok(call)
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s[self.i..].starts_with([' ', '\t', '\n', '\r']) {
            self.i += 1;
        }
    }

    fn bad(&self) -> String {
        format!("invalid intrinsic function call {:?}", self.s)
    }

    fn call(&mut self) -> Result<Call, String> {
        let start = self.i;
        let rest = &self.s[self.i..];
        let len = rest.find('(').ok_or_else(|| self.bad())?;
        let name = rest[..len].trim().to_string();
        if !name.starts_with("States.") {
            return Err(self.bad());
        }
        self.i = start + len + 1;
        let mut args = Vec::new();
        self.ws();
        if self.s[self.i..].starts_with(')') {
            self.i += 1;
            return Ok(Call { name, args });
        }
        loop {
            self.ws();
            args.push(self.arg()?);
            self.ws();
            match self.s[self.i..].chars().next() {
                Some(',') => self.i += 1,
                Some(')') => {
                    self.i += 1;
                    return Ok(Call { name, args });
                }
                _ => return Err(self.bad()),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, String> {
        let rest = &self.s[self.i..];
        if rest.starts_with('\'') {
            let mut out = String::new();
            let mut chars = rest.char_indices().skip(1);
            while let Some((k, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, e)) => {
                            out.push('\\');
                            out.push(e);
                        }
                        None => return Err(self.bad()),
                    },
                    '\'' => {
                        self.i += k + 1;
                        return Ok(Arg::Literal(Value::String(out)));
                    }
                    _ => out.push(c),
                }
            }
            return Err(self.bad());
        }
        if rest.starts_with("States.") {
            return Ok(Arg::Call(self.call()?));
        }
        // A path or a literal: up to the next top-level ',' or ')'.
        let b = rest.as_bytes();
        let mut depth = 0i32;
        let mut quote: Option<u8> = None;
        let mut k = 0;
        while k < b.len() {
            let c = b[k];
            match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    b'\'' | b'"' => quote = Some(c),
                    b'[' | b'(' => depth += 1,
                    b']' => depth -= 1,
                    b')' if depth == 0 => break,
                    b')' => depth -= 1,
                    b',' if depth == 0 => break,
                    _ => {}
                },
            }
            k += 1;
        }
        let text = rest[..k].trim();
        self.i += k;
        if text.starts_with('$') {
            return Ok(Arg::Path(text.to_string()));
        }
        serde_json::from_str::<Value>(text)
            .ok()
            .filter(|v| !v.is_object() && !v.is_array())
            .map(Arg::Literal)
            .ok_or_else(|| self.bad())
    }
}

/// Evaluates a parsed call.
pub fn eval(call: &Call, r: &dyn Resolve) -> Result<Value, String> {
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(match arg {
            Arg::Literal(Value::String(s)) => Value::String(unescape(s)),
            Arg::Literal(v) => v.clone(),
            Arg::Path(p) => r.path(p)?,
            Arg::Call(c) => eval(c, r)?,
        });
    }
    let name = call.name.as_str();
    let count = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "The function '{name}' expects {n} argument(s) but was given {}",
                args.len()
            ))
        }
    };
    match name {
        "States.Format" => {
            let Some(Value::String(template)) = call.args.first().map(|a| match a {
                Arg::Literal(Value::String(s)) => Value::String(s.clone()),
                _ => args[0].clone(),
            }) else {
                return Err("The first argument of States.Format must be a string".into());
            };
            format(&template, &args[1..])
        }
        "States.StringToJson" => {
            count(1)?;
            let s = string(&args[0], name)?;
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(s).map_err(|e| format!("{name}: cannot parse {s:?} as JSON: {e}"))
        }
        "States.JsonToString" => {
            count(1)?;
            Ok(Value::String(args[0].to_string()))
        }
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayPartition" => {
            count(2)?;
            let a = array(&args[0], name)?;
            let n = integer(&args[1], name)?;
            if n <= 0 {
                return Err(format!("{name}: the chunk size must be greater than 0, got {n}"));
            }
            Ok(Value::Array(
                a.chunks(n as usize).map(|c| Value::Array(c.to_vec())).collect(),
            ))
        }
        "States.ArrayContains" => {
            count(2)?;
            Ok(Value::Bool(array(&args[0], name)?.contains(&args[1])))
        }
        "States.ArrayRange" => {
            count(3)?;
            let (start, end, step) = (
                integer(&args[0], name)?,
                integer(&args[1], name)?,
                integer(&args[2], name)?,
            );
            if step == 0 {
                return Err(format!("{name}: the step must not be 0"));
            }
            let mut out = Vec::new();
            let mut x = start;
            while (step > 0 && x <= end) || (step < 0 && x >= end) {
                out.push(json!(x));
                if out.len() > 1000 {
                    return Err(format!("{name}: the result would have more than 1000 items"));
                }
                x += step;
            }
            Ok(Value::Array(out))
        }
        "States.ArrayGetItem" => {
            count(2)?;
            let a = array(&args[0], name)?;
            let i = integer(&args[1], name)?;
            a.get(usize::try_from(i).unwrap_or(usize::MAX))
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "{name}: index {i} is out of bounds for an array of {} items",
                        a.len()
                    )
                })
        }
        "States.ArrayLength" => {
            count(1)?;
            Ok(json!(array(&args[0], name)?.len()))
        }
        "States.ArrayUnique" => {
            count(1)?;
            let mut out: Vec<Value> = Vec::new();
            for v in array(&args[0], name)? {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        "States.Base64Encode" => {
            count(1)?;
            Ok(Value::String(base64_encode(string(&args[0], name)?.as_bytes())))
        }
        "States.Base64Decode" => {
            count(1)?;
            let bytes = base64_decode(string(&args[0], name)?)
                .ok_or_else(|| format!("{name}: the argument is not valid Base64"))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| format!("{name}: the decoded data is not UTF-8"))
        }
        "States.Hash" => {
            count(2)?;
            let data = match &args[0] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            let algorithm = string(&args[1], name)?;
            let hex = super::intrinsics::hash_hex(algorithm, data.as_bytes()).ok_or_else(|| {
                format!("{name}: unknown algorithm '{algorithm}' (MD5, SHA-1, SHA-256, SHA-384, SHA-512)")
            })?;
            Ok(Value::String(hex))
        }
        "States.JsonMerge" => {
            count(3)?;
            let (Value::Object(a), Value::Object(b)) = (&args[0], &args[1]) else {
                return Err(format!("{name}: both values to merge must be objects"));
            };
            if args[2] != Value::Bool(false) {
                return Err(format!(
                    "{name}: deep merging is not supported; the third argument must be false"
                ));
            }
            let mut out: Map<String, Value> = a.clone();
            for (k, v) in b {
                out.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(out))
        }
        "States.MathRandom" => {
            if !(2..=3).contains(&args.len()) {
                return Err(format!("{name} expects 2 or 3 arguments"));
            }
            let (lo, hi) = (integer(&args[0], name)?, integer(&args[1], name)?);
            if hi <= lo {
                return Err(format!("{name}: the end must be greater than the start"));
            }
            let x = match args.get(2) {
                Some(seed) => {
                    let mut rng = fastrand::Rng::with_seed(integer(seed, name)? as u64);
                    rng.f64()
                }
                None => r.random(),
            };
            Ok(json!(lo + ((hi - lo) as f64 * x) as i64))
        }
        "States.MathAdd" => {
            count(2)?;
            let round = |v: &Value| -> Result<i64, String> {
                v.as_f64()
                    .map(|x| (x + 0.5).floor() as i64)
                    .ok_or_else(|| format!("{name}: the arguments must be numbers"))
            };
            Ok(json!(round(&args[0])? + round(&args[1])?))
        }
        "States.StringSplit" => {
            count(2)?;
            let s = string(&args[0], name)?;
            let delims: Vec<char> = string(&args[1], name)?.chars().collect();
            Ok(Value::Array(
                s.split(|c| delims.contains(&c))
                    .filter(|t| !t.is_empty())
                    .map(|t| Value::String(t.to_string()))
                    .collect(),
            ))
        }
        "States.UUID" => {
            count(0)?;
            let mut bytes = [0u8; 16];
            for b in &mut bytes {
                *b = (r.random() * 256.0) as u8;
            }
            bytes[6] = (bytes[6] & 0x0f) | 0x40;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            let h = hex(&bytes);
            Ok(Value::String(format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )))
        }
        other => Err(format!("Unknown intrinsic function '{other}'")),
    }
}

/// Removes the escapes of a quoted intrinsic string (`\'`, `\{`, `\}`, `\\`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(e) = chars.next() {
                out.push(e);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn format(template: &str, args: &[Value]) -> Result<Value, String> {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(e) = chars.next() {
                    out.push(e);
                }
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let arg = args
                    .get(next)
                    .ok_or_else(|| "States.Format: the template has more '{}' than arguments".to_string())?;
                out.push_str(&render(arg));
                next += 1;
            }
            _ => out.push(c),
        }
    }
    if next != args.len() {
        return Err("States.Format: the number of arguments does not match the template's '{}'".into());
    }
    Ok(Value::String(out))
}

/// How `States.Format` prints a value (Java's `toString` of the parsed JSON).
fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(render).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn string<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{name}: expected a string argument, got {v}"))
}

fn array<'a>(v: &'a Value, name: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{name}: expected an array argument, got {v}"))
}

fn integer(v: &Value, name: &str) -> Result<i64, String> {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 => Ok(x as i64),
        _ => Err(format!("{name}: expected an integer argument, got {v}")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
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

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
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

    struct R(Value);
    impl Resolve for R {
        fn path(&self, path: &str) -> Result<Value, String> {
            match crate::asl::jsonpath_eval::Path::parse(path)?.select(&self.0) {
                crate::asl::jsonpath_eval::Selected::One(Some(v)) => Ok(v),
                _ => Err(format!("no {path}")),
            }
        }
        fn random(&self) -> f64 {
            0.5
        }
    }

    fn run(s: &str, input: Value) -> Result<Value, String> {
        eval(&parse(s)?, &R(input))
    }

    #[test]
    fn functions() {
        let input = json!({"a": {"x": 1, "y": []}, "s": "input data", "n": null});
        assert_eq!(
            run("States.Format('v={} w={}', $.a, $.n)", input.clone()),
            Ok(json!("v={x=1, y=[]} w=null"))
        );
        assert_eq!(
            run("States.Format('It\\'s {}', 'me')", input.clone()),
            Ok(json!("It's me"))
        );
        assert_eq!(
            run("States.Hash($.s, 'MD5')", input.clone()),
            Ok(json!("812f45842bc6d66ee14572ce20db8e86"))
        );
        assert_eq!(
            run("States.Hash($.s, 'SHA-256')", input.clone()),
            Ok(json!(
                "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"
            ))
        );
        assert_eq!(run("States.MathAdd(-2.5, 0)", input.clone()), Ok(json!(-2)));
        assert_eq!(
            run("States.ArrayRange(0, 9, 3)", input.clone()),
            Ok(json!([0, 3, 6, 9]))
        );
        assert_eq!(
            run("States.StringSplit('a.b+c', '.+')", input.clone()),
            Ok(json!(["a", "b", "c"]))
        );
        assert_eq!(
            run("States.Base64Encode('Hello World')", input.clone()),
            Ok(json!("SGVsbG8gV29ybGQ="))
        );
        assert_eq!(
            run("States.Base64Decode('SGVsbG8gV29ybGQ=')", input.clone()),
            Ok(json!("Hello World"))
        );
        assert_eq!(
            run(
                "States.ArrayGetItem(States.Array(1, 2, 3), States.MathAdd(States.ArrayLength(States.Array(1, 2)), 0))",
                input
            ),
            Ok(json!(3))
        );
    }
}
