//! A small YAML writer for what `import` writes: block style, a string left plain only when the
//! manifest loader (`manifest::yaml`, the YAML 1.2 core schema) reads it back as that same string,
//! else double-quoted with JSON's escapes (which YAML's double-quoted style accepts). Numbers keep
//! their JSON text, so `2` and `2.0` stay apart, as the definition comparison needs.
//!
//! Must not: decide what is written (`import/mod.rs` does).

use serde_json::Value;

/// One document as block-style YAML (ends with a newline).
pub fn document(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string(k));
        out.push(':');
        write_value(out, v, indent);
    }
}

fn write_seq(out: &mut String, a: &[Value], indent: usize) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // The first entry on the dash's line, the rest under it.
                let mut inner = String::new();
                write_map(&mut inner, m, indent + 2);
                out.push(' ');
                out.push_str(&inner[indent + 2..]);
            }
            Value::Array(items) if !items.is_empty() => {
                let mut inner = String::new();
                write_seq(&mut inner, items, indent + 2);
                out.push(' ');
                out.push_str(&inner[indent + 2..]);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// After `key:`: a scalar on the same line, a collection on the lines below.
fn write_value(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

/// A scalar (or an empty collection, in flow style).
fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string as YAML: plain when that reads back as the same string, else double-quoted.
pub fn string(s: &str) -> String {
    if plain_ok(s) {
        s.to_owned()
    } else {
        // JSON's string escapes are valid in YAML's double-quoted style.
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphanumeric() || matches!(first, '_' | '$' | '/' | '.'))
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '$' | ':' | '@' | '(' | ')' | '*' | '+' | '=' | ' ')
        })
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        // A placeholder alone in a plain scalar is typed after substitution: keep it a string.
        && !s.contains("${")
        && crate::manifest::yaml::scalar(s, true) == crate::manifest::yaml::Value::String(s.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifest::yaml::parse_documents;

    /// Whatever is written reads back as the same data.
    #[test]
    fn written_yaml_reads_back_as_the_same_data() {
        let v = json!({
            "StartAt": "Étape 1",
            "States": {
                "Étape 1": {"Type": "Pass", "Result": {"n": 2, "f": 2.0, "e": -1.5e-7, "t": "true", "z": "007",
                    "empty": "", "null": null, "colon": "a: b", "hash": "a #b", "dollar": "$.x", "ctx": "$$.Execution.Id",
                    "jsonata": "{% $states.input %}", "ph": "${AWS::Region}", "list": [[1, [2]], {"a": [], "b": {}}, "x"],
                    "multi": "line1\nline2\t\"q\"", "lead": " space", "dash": "- x", "star": "*alias", "k": "arn:aws:states:::lambda:invoke"},
                    "End": true},
                "sum.$": "$.Payload.sum"
            },
            "yes": "no", "1": "on", "~": "~"
        });
        let text = document(&v);
        let docs = parse_documents(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].to_json(), v, "{text}");
        assert!(text.contains("sum.$: $.Payload.sum"), "{text}");
    }
}
