//! JSONata expressions (`{% ... %}`): delimiters and a light syntax check (balanced brackets,
//! closed strings and comments). Not a JSONata parser.

/// Whether a string is meant as a JSONata expression.
pub fn is_expression(s: &str) -> bool {
    s.trim_start().starts_with("{%")
}

/// Checks a string that starts with `{%`.
pub fn check_expression(s: &str) -> Result<(), String> {
    let t = s.trim();
    let Some(body) = t.strip_prefix("{%").and_then(|r| r.strip_suffix("%}")) else {
        return Err("JSONata expression must end with \"%}\"".into());
    };
    if body.trim().is_empty() {
        return Err("empty JSONata expression".into());
    }
    let b = body.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' | b'`' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(format!("unterminated string in JSONata expression {s:?}")),
                        Some(b'\\') if c != b'`' => i += 2,
                        Some(&d) if d == c => break,
                        Some(_) => i += 1,
                    }
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => match body[i + 2..].find("*/") {
                Some(end) => i += end + 3,
                None => return Err(format!("unterminated comment in JSONata expression {s:?}")),
            },
            b'(' | b'[' | b'{' => stack.push(c),
            b')' | b']' | b'}' => {
                let open = match c {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                if stack.pop() != Some(open) {
                    return Err(format!("unbalanced {:?} in JSONata expression {s:?}", c as char));
                }
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "unclosed {:?} in JSONata expression {s:?}",
            *open as char
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions() {
        for ok in [
            "{% $states.input.a %}",
            "{% $x := [1, 2]; $count($x) > 1 ? 'a)' : \"b]\" %}",
            "{% /* ( */ $f({'a': 1}) %}",
            "{% `field name` %}",
        ] {
            assert_eq!(check_expression(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_expression("{% $a "),
            Err("JSONata expression must end with \"%}\"".into())
        );
        assert_eq!(check_expression("{%  %}"), Err("empty JSONata expression".into()));
        assert_eq!(
            check_expression("{% $f(1 %}"),
            Err("unclosed '(' in JSONata expression \"{% $f(1 %}\"".into())
        );
        assert!(check_expression("{% $a] %}").is_err());
        assert!(check_expression("{% 'abc %}").is_err());
        assert!(check_expression("{% /* x %}").is_err());
    }
}
