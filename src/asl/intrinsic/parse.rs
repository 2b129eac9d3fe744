//! The one intrinsic-function parser: text -> [`Call`] tree, with the errors the validator
//! reports (`invalid intrinsic function "...": why`). Paths inside a call are checked for syntax
//! here and resolved only by the evaluator.

use super::{Arg, Call, FUNCTIONS};
use crate::asl::jsonpath::{PathKind, check_path};

const MAX_CALL_DEPTH: usize = 32;

/// Parses a whole intrinsic function call; the error is `invalid intrinsic function "...": why`.
pub fn parse(s: &str) -> Result<Call, String> {
    let mut p = Parser {
        s: s.as_bytes(),
        src: s,
        i: 0,
    };
    p.skip_ws();
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
                                // Kept as written: `States.Format` must still see which
                                // braces and backslashes were escaped.
                                Some(&e @ (b'\\' | b'{' | b'}')) => {
                                    out.push('\\');
                                    out.push(e as char);
                                }
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
}
