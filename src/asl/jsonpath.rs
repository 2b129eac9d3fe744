//! JSONPath syntax (paths and reference paths), as Step Functions accepts them in `*Path` fields
//! and `.$` keys (intrinsic function calls are parsed by [`super::intrinsic`]). Syntax only: no
//! evaluation.

/// How strict a path check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A Path: wildcards, filters, slices, unions and `..` are allowed.
    Path,
    /// A Reference Path: only `.name`, `['name']` and `[n]` steps, one node.
    Reference,
}

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
}
