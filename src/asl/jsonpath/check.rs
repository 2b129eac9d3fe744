//! The validator's rules over a lexed path: which steps a Path and a Reference Path may use, as
//! Step Functions accepts them in `*Path` fields and `.$` keys. Syntax only: no evaluation.

use super::PathKind;
use super::parse::{Lexer, Segment};

/// Checks a JSONPath: `$`, `$$` (context object) or `$name` (a variable), then steps.
pub fn check_path(s: &str, kind: PathKind) -> Result<(), String> {
    let (_, mut lexer) = Lexer::new(s)?;
    let bad = |why: &str| Err(format!("invalid JSONPath {s:?}: {why}"));
    let reference = kind == PathKind::Reference;
    while let Some(segment) = lexer.next() {
        match segment? {
            Segment::Dot { deep, name } => {
                if deep && reference {
                    return bad("a reference path cannot use \"..\"");
                }
                // Jayway accepts `$.[0]` and `$.['a']`: a dot right before a bracket.
                if name.is_empty() && !lexer.bracket_next() {
                    return bad("empty field name");
                }
                if name == "*" && reference {
                    return bad("a reference path cannot use wildcards");
                }
            }
            Segment::Bracket { inner, .. } => {
                let inner = inner.trim();
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
            }
        }
    }
    Ok(())
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
