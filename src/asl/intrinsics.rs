//! Intrinsic functions (`States.Format('{}', $.a)`, ...) of JSONPath states: the parser the
//! validator checks them with and the interpreter evaluates them from, and the hashes
//! `States.Hash` (and JSONata's `$hash`) compute.

use super::jsonpath::{PathKind, check_path};

/// The intrinsic functions Step Functions knows.
pub const FUNCTIONS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

const MAX_CALL_DEPTH: usize = 32;

/// One call: `States.NAME(arg, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The full name, e.g. `States.Format`.
    pub name: String,
    pub args: Vec<Arg>,
}

/// An argument of a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A `'...'` literal with `\'` and `\\` resolved; `\{` and `\}` are kept as written (they
    /// mean literal braces to `States.Format`).
    Str(String),
    /// A number literal (integer or decimal, as written).
    Number(serde_json::Number),
    Bool(bool),
    Null,
    /// A JSONPath (`$.a`, `$$.Execution.Id`, `$var.x`), checked for syntax.
    Path(String),
    /// A nested call.
    Call(Call),
}

/// Parses a whole intrinsic function call; the error is `invalid intrinsic function "...": why`.
pub fn parse(s: &str) -> Result<Call, String> {
    let mut p = Parser {
        s: s.as_bytes(),
        src: s,
        i: 0,
    };
    let call = p.call(0)?;
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(p.err("unexpected text after the call"));
    }
    Ok(call)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn err(&self, why: &str) -> String {
        format!("invalid intrinsic function {:?}: {why}", self.src)
    }

    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn call(&mut self, depth: usize) -> Result<Call, String> {
        if depth > MAX_CALL_DEPTH {
            return Err(self.err("calls nested too deeply"));
        }
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'.') {
            self.i += 1;
        }
        let name = &self.src[start..self.i];
        if !FUNCTIONS.contains(&name) {
            return Err(self.err(&format!("unknown function {name:?}")));
        }
        let mut call = Call {
            name: name.to_string(),
            args: Vec::new(),
        };
        self.skip_ws();
        if self.s.get(self.i) != Some(&b'(') {
            return Err(self.err("expected \"(\""));
        }
        self.i += 1;
        self.skip_ws();
        if self.s.get(self.i) == Some(&b')') {
            self.i += 1;
            return Ok(call);
        }
        loop {
            self.skip_ws();
            call.args.push(self.arg(depth)?);
            self.skip_ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(call);
                }
                _ => return Err(self.err("expected \",\" or \")\"")),
            }
        }
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, String> {
        match self.s.get(self.i) {
            Some(b'\'') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    match self.s.get(self.i) {
                        None => return Err(self.err("unterminated string")),
                        // AWS refuses `\"` in intrinsic strings (a `"` needs no escape there).
                        Some(b'\\') if self.s.get(self.i + 1) == Some(&b'"') => {
                            return Err(
                                self.err("\\\" is not a valid escape in an intrinsic function string")
                            );
                        }
                        Some(b'\\') => {
                            match self.s.get(self.i + 1) {
                                Some(b'\'') => out.push('\''),
                                Some(b'\\') => out.push('\\'),
                                Some(b'{') => out.push_str("\\{"),
                                Some(b'}') => out.push_str("\\}"),
                                Some(_) => {
                                    // Other escapes stay as written.
                                    out.push('\\');
                                    self.i += 1;
                                    continue;
                                }
                                None => return Err(self.err("unterminated string")),
                            }
                            self.i += 2;
                        }
                        Some(b'\'') => {
                            self.i += 1;
                            return Ok(Arg::Str(out));
                        }
                        Some(_) => {
                            let c = self.src[self.i..].chars().next().unwrap_or_default();
                            out.push(c);
                            self.i += c.len_utf8().max(1);
                        }
                    }
                }
            }
            Some(b'$') => {
                let start = self.i;
                let mut depth_b = 0usize;
                let mut quote: Option<u8> = None;
                while let Some(&c) = self.s.get(self.i) {
                    if let Some(q) = quote {
                        if c == b'\\' {
                            self.i += 1;
                        } else if c == q {
                            quote = None;
                        }
                    } else {
                        match c {
                            b'\'' | b'"' => quote = Some(c),
                            b'[' | b'(' => depth_b += 1,
                            b']' => depth_b = depth_b.saturating_sub(1),
                            b')' if depth_b == 0 => break,
                            b')' => depth_b -= 1,
                            b',' if depth_b == 0 => break,
                            _ => {}
                        }
                    }
                    self.i += 1;
                }
                let end = self.i.min(self.s.len());
                let path = self.src[start..end].trim_end();
                check_path(path, PathKind::Path).map_err(|e| self.err(&e))?;
                Ok(Arg::Path(path.to_string()))
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_digit() || b".eE+-".contains(&self.s[self.i]))
                {
                    self.i += 1;
                }
                serde_json::from_str::<serde_json::Number>(&self.src[start..self.i])
                    .map(Arg::Number)
                    .map_err(|_| self.err("invalid number"))
            }
            Some(b'S') => self.call(depth + 1).map(Arg::Call),
            _ => {
                for (lit, arg) in [
                    ("null", Arg::Null),
                    ("true", Arg::Bool(true)),
                    ("false", Arg::Bool(false)),
                ] {
                    if self.s[self.i..].starts_with(lit.as_bytes()) {
                        self.i += lit.len();
                        return Ok(arg);
                    }
                }
                Err(self.err("expected an argument (string, number, path or function call)"))
            }
        }
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
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_parse_into_a_tree() {
        let call =
            parse("States.Format('Hello {} \\'x\\' \\{}', States.ArrayGetItem($.a[0], 1), true, null, -2.5)")
                .unwrap();
        assert_eq!(call.name, "States.Format");
        assert_eq!(
            call.args,
            vec![
                Arg::Str("Hello {} 'x' \\{}".into()),
                Arg::Call(Call {
                    name: "States.ArrayGetItem".into(),
                    args: vec![Arg::Path("$.a[0]".into()), Arg::Number(1.into())],
                }),
                Arg::Bool(true),
                Arg::Null,
                Arg::Number(serde_json::Number::from_f64(-2.5).unwrap()),
            ]
        );
        assert_eq!(parse("States.UUID()").unwrap().args, vec![]);
        assert_eq!(
            parse("States.Format('say \\\"hi\\\"')").unwrap_err(),
            "invalid intrinsic function \"States.Format('say \\\\\\\"hi\\\\\\\"')\": \\\" is not a valid escape in an intrinsic function string"
        );
        assert!(parse("States.Array(1) x").is_err());
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
