//! Evaluating a parsed intrinsic call. Pure: paths inside a call are resolved by the caller's
//! [`Resolve`], and randomness (`States.UUID`, `States.MathRandom` without a seed) comes from it
//! too, so a seeded caller replays.

use serde_json::{Map, Value, json};

use super::{Arg, Call};
use crate::encoding;

/// What an evaluation needs from its caller.
pub trait Resolve {
    /// The value a JSONPath argument selects, or the error to report.
    fn path(&self, path: &str) -> Result<Value, String>;
    /// A random number in `[0, 1)`.
    fn random(&self) -> f64;
}

/// Evaluates a parsed call.
pub fn eval(call: &Call, r: &dyn Resolve) -> Result<Value, String> {
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(match arg {
            Arg::Str(s) => Value::String(unescape(s)),
            Arg::Number(n) => Value::Number(n.clone()),
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Null => Value::Null,
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
                Arg::Str(s) => Value::String(s.clone()),
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
            Ok(Value::String(encoding::base64_encode(
                string(&args[0], name)?.as_bytes(),
            )))
        }
        "States.Base64Decode" => {
            count(1)?;
            let bytes = encoding::base64_decode(string(&args[0], name)?)
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
            let hex = hash_hex(algorithm, data.as_bytes()).ok_or_else(|| {
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
            Ok(Value::String(encoding::uuid_v4(bytes)))
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

/// The hex digest of `data` with one of the algorithms `States.Hash` and JSONata's `$hash` take
/// (`MD5`, `SHA-1`, `SHA-256`, `SHA-384`, `SHA-512`); `None` for any other name.
pub fn hash_hex(algorithm: &str, data: &[u8]) -> Option<String> {
    use sha2::Digest;
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(data).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    };
    Some(encoding::hex(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::intrinsic::parse;

    struct R(Value);
    impl Resolve for R {
        fn path(&self, path: &str) -> Result<Value, String> {
            match crate::asl::jsonpath::Path::parse(path)?.select(&self.0) {
                crate::asl::jsonpath::Selected::One(Some(v)) => Ok(v),
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

    #[test]
    fn hashes_match_known_digests() {
        assert_eq!(
            hash_hex("MD5", b"abc").unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hash_hex("SHA-1", b"abc").unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hash_hex("SHA-256", b"abc").unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash_hex("SHA-384", b"").unwrap().len(), 96);
        assert_eq!(hash_hex("SHA-512", b"").unwrap().len(), 128);
        assert_eq!(hash_hex("SHA-3", b"abc"), None);
    }
}
