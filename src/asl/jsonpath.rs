//! JSONPath syntax (paths and reference paths) and intrinsic function calls, as Step Functions
//! accepts them in `*Path` fields and `.$` keys. Syntax only: no evaluation.

/// How strict a path check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A Path: wildcards, filters, slices, unions and `..` are allowed.
    Path,
    /// A Reference Path: only `.name`, `['name']` and `[n]` steps, one node.
    Reference,
}

/// The intrinsic functions Step Functions knows.
pub const INTRINSICS: &[&str] = &[
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

/// Checks a JSONPath: `$`, `$$` (context object) or `$name` (a variable), then steps.
pub fn check_path(s: &str, kind: PathKind) -> Result<(), String> {
    let b = s.as_bytes();
    if b.first() != Some(&b'$') {
        return Err(format!("invalid JSONPath {s:?}: must start with \"$\""));
    }
    let mut i = 1;
    if b.get(1) == Some(&b'$') {
        i = 2;
    } else {
        // A variable reference `$name`.
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
    }
    let bad = |why: &str| Err(format!("invalid JSONPath {s:?}: {why}"));
    let reference = kind == PathKind::Reference;
    while i < b.len() {
        match b[i] {
            b'.' => {
                i += 1;
                if b.get(i) == Some(&b'.') {
                    if reference {
                        return bad("a reference path cannot use \"..\"");
                    }
                    i += 1;
                }
                let start = i;
                while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                    i += 1;
                }
                let name = &s[start..i];
                // Jayway accepts `$.[0]` and `$.['a']`: a dot right before a bracket.
                if name.is_empty() && b.get(i) != Some(&b'[') {
                    return bad("empty field name");
                }
                if name == "*" && reference {
                    return bad("a reference path cannot use wildcards");
                }
            }
            b'[' => {
                let end = match bracket_end(b, i) {
                    Some(e) => e,
                    None => return bad("unclosed \"[\""),
                };
                let inner = s[i + 1..end].trim();
                if inner.is_empty() {
                    return bad("empty \"[]\"");
                }
                let quoted = inner.len() >= 2
                    && ((inner.starts_with('\'') && inner.ends_with('\''))
                        || (inner.starts_with('"') && inner.ends_with('"')));
                let index = inner.bytes().all(|c| c.is_ascii_digit());
                if reference && !(quoted || index) {
                    return bad("a reference path allows only [index] and ['name'] steps");
                }
                if !quoted && !index {
                    let ok = inner == "*"
                        || inner.starts_with('?')
                        || inner.starts_with('(')
                        || inner.bytes().all(|c| {
                            c.is_ascii_digit()
                                || b"-:, '\"".contains(&c)
                                || c.is_ascii_alphanumeric()
                                || c == b'_'
                        });
                    if !ok {
                        return bad(&format!("invalid step [{inner}]"));
                    }
                }
                i = end + 1;
            }
            _ => {
                return bad(&format!(
                    "unexpected character {:?}",
                    s[i..].chars().next().unwrap_or(' ')
                ));
            }
        }
    }
    Ok(())
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

/// Checks the value of a `.$` key: a path or an intrinsic function call.
pub fn check_dynamic(s: &str) -> Result<(), String> {
    if s.starts_with('$') {
        check_path(s, PathKind::Path)
    } else if s.starts_with("States.") {
        check_intrinsic(s)
    } else {
        Err(format!(
            "{s:?} is neither a JSONPath (starting with \"$\") nor an intrinsic function call"
        ))
    }
}

/// Checks a whole intrinsic function call such as `States.Format('{}', $.a)`.
pub fn check_intrinsic(s: &str) -> Result<(), String> {
    let mut p = Parser {
        s: s.as_bytes(),
        src: s,
        i: 0,
    };
    p.call(0)?;
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(format!(
            "invalid intrinsic function {s:?}: unexpected text after the call"
        ));
    }
    Ok(())
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

    fn call(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_CALL_DEPTH {
            return Err(self.err("calls nested too deeply"));
        }
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'.') {
            self.i += 1;
        }
        let name = &self.src[start..self.i];
        if !INTRINSICS.contains(&name) {
            return Err(self.err(&format!("unknown function {name:?}")));
        }
        self.skip_ws();
        if self.s.get(self.i) != Some(&b'(') {
            return Err(self.err("expected \"(\""));
        }
        self.i += 1;
        self.skip_ws();
        if self.s.get(self.i) == Some(&b')') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            self.arg(depth)?;
            self.skip_ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected \",\" or \")\"")),
            }
        }
    }

    fn arg(&mut self, depth: usize) -> Result<(), String> {
        match self.s.get(self.i) {
            Some(b'\'') => {
                self.i += 1;
                loop {
                    match self.s.get(self.i) {
                        None => return Err(self.err("unterminated string")),
                        // AWS refuses `\"` in intrinsic strings (a `"` needs no escape there).
                        Some(b'\\') if self.s.get(self.i + 1) == Some(&b'"') => {
                            return Err(
                                self.err("\\\" is not a valid escape in an intrinsic function string")
                            );
                        }
                        Some(b'\\') => self.i += 2,
                        Some(b'\'') => {
                            self.i += 1;
                            return Ok(());
                        }
                        Some(_) => self.i += 1,
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
                check_path(self.src[start..end].trim_end(), PathKind::Path).map_err(|e| self.err(&e))
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_digit() || b".eE+-".contains(&self.s[self.i]))
                {
                    self.i += 1;
                }
                self.src[start..self.i]
                    .parse::<f64>()
                    .map(|_| ())
                    .map_err(|_| self.err("invalid number"))
            }
            Some(b'S') => self.call(depth + 1),
            _ => {
                for lit in ["null", "true", "false"] {
                    if self.s[self.i..].starts_with(lit.as_bytes()) {
                        self.i += lit.len();
                        return Ok(());
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
    fn paths() {
        for ok in [
            "$",
            "$.a",
            "$.a.b[0]",
            "$$.Execution.Id",
            "$['a b']",
            "$.a[*].b",
            "$..x",
            "$.a[?(@.b > 1)]",
            "$myVar.x",
            "$.a[1:2]",
            "$.[0]",
            "$.a.[0].b",
            "$.[*].['a', 'b']",
        ] {
            assert_eq!(check_path(ok, PathKind::Path), Ok(()), "{ok}");
        }
        for bad in ["a", "$.", "$.a[", "$.a[]", "$ .a"] {
            assert!(check_path(bad, PathKind::Path).is_err(), "{bad}");
        }
        assert_eq!(check_path("$.a[0].b['c']", PathKind::Reference), Ok(()));
        assert_eq!(
            check_path("$..a", PathKind::Reference),
            Err("invalid JSONPath \"$..a\": a reference path cannot use \"..\"".into())
        );
        assert!(check_path("$.a[*]", PathKind::Reference).is_err());
        assert!(check_path("$.a.*", PathKind::Reference).is_err());
        assert!(check_path("$.a[?(@.x)]", PathKind::Reference).is_err());
    }

    #[test]
    fn intrinsics() {
        for ok in [
            "States.Format('Hello {} \\'x\\'', $.name)",
            "States.Array(1, -2.5, 'a', $.b, States.UUID())",
            "States.JsonToString($.a[0])",
            "States.MathAdd($.a, 1)",
            "States.Format('{}', States.ArrayGetItem(States.StringSplit($.s, ','), 0))",
        ] {
            assert_eq!(check_dynamic(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_dynamic("States.Nope(1)"),
            Err("invalid intrinsic function \"States.Nope(1)\": unknown function \"States.Nope\"".into())
        );
        assert!(check_dynamic("States.Format('a', $.b").is_err());
        assert!(check_dynamic("States.Format('a)").is_err());
        assert!(check_dynamic("States.UUID() x").is_err());
        assert!(check_dynamic("hello").is_err());
        let deep = format!("{}1{}", "States.Array(".repeat(1000), ")".repeat(1000));
        assert!(check_dynamic(&deep).is_err());
    }
}
