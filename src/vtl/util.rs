//! `$util` and the text helpers templates share: `escapeJavaScript`, URL and base64 codecs,
//! and how a value prints.

use serde_json::Value;

/// How Velocity prints a value (Java's `toString`).
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(a) => format!("[{}]", a.iter().map(to_text).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", to_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// `$util.*`.
pub(super) fn util(m: &str, args: &[Value]) -> Result<Option<Value>, String> {
    let s = args.first().map(to_text).unwrap_or_default();
    Ok(Some(match m {
        "escapeJavaScript" => Value::String(escape_javascript(&s)),
        "parseJson" => {
            serde_json::from_str(&s).map_err(|e| format!("mapping template: $util.parseJson: {e}"))?
        }
        "urlEncode" => Value::String(url_encode(&s)),
        "urlDecode" => Value::String(url_decode(&s)),
        "base64Encode" => Value::String(crate::encoding::base64_encode(s.as_bytes())),
        "base64Decode" => Value::String(
            String::from_utf8_lossy(
                &crate::encoding::base64_decode(&s)
                    .ok_or("mapping template: $util.base64Decode: not Base64")?,
            )
            .into_owned(),
        ),
        "toJson" => Value::String(args.first().map_or_else(|| "null".into(), Value::to_string)),
        other => return Err(format!("mapping template: $util.{other}() is not supported")),
    }))
}

/// Java's `StringEscapeUtils.escapeJavaScript`, as API Gateway applies it (`'` becomes `\'`).
pub fn escape_javascript(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

pub(super) fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(super) fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(())
                {
                    Ok(x) => {
                        out.push(x);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
