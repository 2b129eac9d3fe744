//! Diagnostics and field readers: the located-problem collector every reader writes to, and the
//! typed readers of one field of a YAML mapping (strings, maps, booleans, enums), each naming the
//! field and what it found when the value is not what the schema expects.
//!
//! Must not: know any manifest kind, read files, or substitute placeholders.

use std::collections::BTreeMap;
use std::path::Path;

use super::Diagnostic;
use super::yaml::{Node, Pos, Value};
use crate::desired::DeletionPolicy;

/// Collects the diagnostics of one file, counting those of the document being read.
pub(super) struct Diags<'a> {
    pub(super) out: &'a mut Vec<Diagnostic>,
    pub(super) file: &'a Path,
    pub(super) count: usize,
}

impl<'a> Diags<'a> {
    pub(super) fn new(out: &'a mut Vec<Diagnostic>, file: &'a Path) -> Self {
        Diags { out, file, count: 0 }
    }
}

impl Diags<'_> {
    pub(super) fn at(&mut self, pos: Pos, message: impl Into<String>) {
        self.count += 1;
        self.out.push(Diagnostic {
            file: self.file.to_path_buf(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
    }
}

/// What a node holds, for "expected X, found Y": a scalar as written (a string quoted, cut at
/// [`FOUND_MAX_CHARS`] characters), else its type.
pub(super) fn describe(node: &Node) -> String {
    match &node.value {
        Value::String(s) => {
            let cut: String = s.chars().take(FOUND_MAX_CHARS).collect();
            let quoted = serde_json::Value::String(cut.clone()).to_string();
            if cut.len() < s.len() {
                format!("{}…\"", &quoted[..quoted.len() - 1])
            } else {
                quoted
            }
        }
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Seq(items) if items.is_empty() => "an empty sequence".into(),
        Value::Map(entries) if entries.is_empty() => "an empty mapping".into(),
        _ => node.type_name().into(),
    }
}

/// The longest string [`describe`] repeats.
pub(super) const FOUND_MAX_CHARS: usize = 60;

pub(super) fn check_keys(node: &Node, what: &str, allowed: &[&str], ds: &mut Diags<'_>) -> bool {
    let Value::Map(entries) = &node.value else {
        ds.at(
            node.pos,
            format!("{what}: expected a mapping, found {}", node.type_name()),
        );
        return false;
    };
    for (k, _) in entries {
        if !allowed.contains(&k.name.as_str()) {
            ds.at(
                k.pos,
                format!(
                    "{what}: unknown field \"{}\", expected one of {}",
                    k.name,
                    allowed.join(", ")
                ),
            );
        }
    }
    true
}

pub(super) fn string_field(node: &Node, key: &str, what: &str, ds: &mut Diags<'_>) -> Option<String> {
    let v = node.get(key)?;
    match &v.value {
        Value::String(s) => Some(s.clone()),
        _ => {
            ds.at(
                v.pos,
                format!("{what}.{key}: expected a string, found {}", v.type_name()),
            );
            None
        }
    }
}

pub(super) fn required_string(node: &Node, key: &str, what: &str, ds: &mut Diags<'_>) -> Option<String> {
    if node.get(key).is_none() {
        ds.at(node.pos, format!("{what}.{key}: required field missing"));
        return None;
    }
    string_field(node, key, what, ds)
}

pub(super) fn string_map(node: &Node, key: &str, what: &str, ds: &mut Diags<'_>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let Some(v) = node.get(key) else { return map };
    match &v.value {
        Value::Null => {}
        Value::Map(entries) => {
            for (k, n) in entries {
                match &n.value {
                    Value::String(s) => {
                        map.insert(k.name.clone(), s.clone());
                    }
                    _ => ds.at(
                        n.pos,
                        format!(
                            "{what}.{key}.{}: expected a string, found {}",
                            k.name,
                            n.type_name()
                        ),
                    ),
                }
            }
        }
        _ => ds.at(
            v.pos,
            format!("{what}.{key}: expected a mapping, found {}", v.type_name()),
        ),
    }
    map
}

/// An integer field within `range` (inclusive), naming the range when it is outside.
pub(super) fn int_field(
    node: &Node,
    key: &str,
    what: &str,
    range: std::ops::RangeInclusive<i64>,
    ds: &mut Diags<'_>,
) -> Option<i64> {
    let v = node.get(key)?;
    match &v.value {
        Value::Number(n) if n.as_i64().is_some_and(|i| range.contains(&i)) => n.as_i64(),
        Value::Number(n) if n.as_i64().is_some() => {
            ds.at(
                v.pos,
                format!("{what}.{key}: {n} is outside {}..={}", range.start(), range.end()),
            );
            None
        }
        _ => {
            ds.at(
                v.pos,
                format!("{what}.{key}: expected an integer, found {}", describe(v)),
            );
            None
        }
    }
}

pub(super) fn bool_field(node: &Node, key: &str, what: &str, ds: &mut Diags<'_>) -> Option<bool> {
    let v = node.get(key)?;
    match v.value {
        Value::Bool(b) => Some(b),
        _ => {
            ds.at(
                v.pos,
                format!("{what}.{key}: expected true or false, found {}", v.type_name()),
            );
            None
        }
    }
}

pub(super) fn enum_field(
    node: &Node,
    key: &str,
    what: &str,
    allowed: &[&str],
    ds: &mut Diags<'_>,
) -> Option<String> {
    let s = string_field(node, key, what, ds)?;
    if allowed.contains(&s.as_str()) {
        Some(s)
    } else {
        let pos = node.get(key).map(|n| n.pos).unwrap_or(node.pos);
        ds.at(
            pos,
            format!("{what}.{key}: \"{s}\" is not one of {}", allowed.join(", ")),
        );
        None
    }
}

pub(super) fn deletion_policy(spec: &Node, ds: &mut Diags<'_>) -> DeletionPolicy {
    match enum_field(spec, "deletionPolicy", "spec", &["Retain", "Delete"], ds).as_deref() {
        Some("Delete") => DeletionPolicy::Delete,
        _ => DeletionPolicy::Retain,
    }
}

pub(super) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::yaml::parse_documents;

    /// The node of `text` written as a mapping's value.
    fn node(text: &str) -> Node {
        let doc = parse_documents(&format!("v: {text}\n")).unwrap().remove(0);
        doc.get("v").unwrap().clone()
    }

    #[test]
    fn describe_shows_scalars_as_written_and_containers_by_type() {
        assert_eq!(describe(&node("\"v1alpa1\"")), "\"v1alpa1\"");
        assert_eq!(describe(&node("12")), "12");
        assert_eq!(describe(&node("false")), "false");
        assert_eq!(describe(&node("null")), "null");
        assert_eq!(describe(&node("[]")), "an empty sequence");
        assert_eq!(describe(&node("[1]")), "a sequence");
        assert_eq!(describe(&node("{}")), "an empty mapping");
        assert_eq!(describe(&node("{a: 1}")), "a mapping");
        let long = "x".repeat(FOUND_MAX_CHARS + 10);
        let shown = describe(&node(&long));
        assert_eq!(shown, format!("\"{}…\"", "x".repeat(FOUND_MAX_CHARS)));
        assert_eq!(describe(&node("\"a\\tb\"")), "\"a\\tb\"");
    }
}
