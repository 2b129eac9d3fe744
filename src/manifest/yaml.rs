//! A located YAML tree: every node and mapping key keeps its line and column, so schema, substitution
//! and ASL errors can name `FILE:LINE:COLUMN`. Built from the event stream of `granit_parser` (the
//! parser under serde-saphyr) with our own budgets: nesting depth, total nodes (alias expansion
//! included, so an alias bomb stops early) and duplicate keys are refused here. Each node is
//! counted once, when it starts (an alias by the size of what it expands to), and duplicate keys
//! are found through a per-mapping hash set, so a large mapping costs linear time.

use std::collections::{HashMap, HashSet};

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

/// Deepest nesting accepted (manifests and ASL definitions are far shallower).
pub const MAX_DEPTH: usize = 256;
/// Most nodes accepted in one file, counting every alias expansion.
pub const MAX_NODES: usize = 1_000_000;

/// A position: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

/// A mapping key with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
    /// Nodes in this subtree, itself included (the alias-expansion budget).
    size: usize,
    /// A plain (unquoted) scalar: a placeholder filling all of it is typed after substitution.
    pub plain: bool,
}

/// The data of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A parse failure at a position.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

impl Node {
    /// Builds a node (tests and synthesized values).
    pub fn new(pos: Pos, value: Value) -> Node {
        let size = 1 + match &value {
            Value::Seq(items) => items.iter().map(|n| n.size).sum(),
            Value::Map(entries) => entries.iter().map(|(_, n)| n.size).sum(),
            _ => 0,
        };
        Node {
            pos,
            value,
            size,
            plain: false,
        }
    }

    /// Looks a mapping entry up.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, n)| n)
    }

    /// Looks a mapping entry up, with its key.
    pub fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(k, n)| (k, n)),
            _ => None,
        }
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Converts to JSON data (locations dropped).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => serde_json::Value::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, n)| (k.name.clone(), n.to_json()))
                    .collect(),
            ),
        }
    }

    /// A short name of the node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }
}

fn pos_of(marker: &serde_saphyr::granit_parser::Marker) -> Pos {
    Pos {
        line: marker.line() as u64,
        column: marker.col() as u64 + 1,
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        key: Option<Key>,
        /// The key names so far, for the duplicate check.
        names: HashSet<String>,
    },
}

/// Adds `n` nodes to the file's count, refusing a file over [`MAX_NODES`].
fn count_nodes(total: &mut usize, n: usize, pos: Pos) -> Result<(), YamlError> {
    *total = total.saturating_add(n);
    if *total > MAX_NODES {
        return Err(YamlError {
            pos,
            message: format!("document too large: more than {MAX_NODES} nodes (alias expansion included)"),
        });
    }
    Ok(())
}

/// Parses every document of `text`. Empty documents are dropped.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut total_nodes = 0usize;
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            let info = e.info();
            let message = if info.contains("recursion limit") {
                format!("nesting too deep: {info}")
            } else {
                format!("invalid YAML: {info}")
            };
            YamlError {
                pos: pos_of(e.marker()),
                message,
            }
        })?;
        let pos = pos_of(&span.start);
        let complete: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Anchor(..) => None,
            #[allow(unreachable_patterns)]
            Event::DocumentStart(..) => {
                anchors.clear();
                None
            }
            Event::DocumentEnd => None,
            Event::UnresolvedAlias(name) => {
                return Err(YamlError {
                    pos,
                    message: format!("unknown alias *{name}"),
                });
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => {
                    count_nodes(&mut total_nodes, node.size, pos)?;
                    let mut node = node.clone();
                    node.pos = pos;
                    Some((node, 0))
                }
                None => {
                    return Err(YamlError {
                        pos,
                        message: "unknown alias".into(),
                    });
                }
            },
            Event::Scalar(text, style, anchor, tag) => {
                count_nodes(&mut total_nodes, 1, pos)?;
                let plain = style == ScalarStyle::Plain;
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix() == "str");
                let mut node = Node::new(pos, scalar(&text, plain && !forced_str));
                node.plain = plain && !forced_str;
                Some((node, anchor))
            }
            Event::SequenceStart(_, anchor, _) => {
                count_nodes(&mut total_nodes, 1, pos)?;
                stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
                check_depth(stack.len(), pos)?;
                None
            }
            Event::MappingStart(_, anchor, _) => {
                count_nodes(&mut total_nodes, 1, pos)?;
                stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    names: HashSet::new(),
                });
                check_depth(stack.len(), pos)?;
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => Some((Node::new(pos, Value::Seq(items)), anchor)),
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    key,
                    ..
                }) => {
                    if let Some(k) = key {
                        return Err(YamlError {
                            pos: k.pos,
                            message: "mapping key without a value".into(),
                        });
                    }
                    Some((Node::new(pos, Value::Map(entries)), anchor))
                }
                None => None,
            },
            #[allow(unreachable_patterns)]
            _ => None,
        };
        let Some((node, anchor)) = complete else { continue };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => {
                if node.value != Value::Null {
                    docs.push(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, key, names, ..
            }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => {
                    let name = match &node.value {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".to_string(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(YamlError {
                                pos: node.pos,
                                message: "mapping keys must be scalars".into(),
                            });
                        }
                    };
                    if !names.insert(name.clone())
                        && let Some((first, _)) = entries.iter().find(|(k, _)| k.name == name)
                    {
                        return Err(YamlError {
                            pos: node.pos,
                            message: format!(
                                "duplicate key \"{name}\" (first at line {}, column {})",
                                first.pos.line, first.pos.column
                            ),
                        });
                    }
                    *key = Some(Key { name, pos: node.pos });
                }
            },
        }
    }
    Ok(docs)
}

fn check_depth(depth: usize, pos: Pos) -> Result<(), YamlError> {
    if depth > MAX_DEPTH {
        return Err(YamlError {
            pos,
            message: format!("nesting too deep: more than {MAX_DEPTH} levels"),
        });
    }
    Ok(())
}

/// YAML 1.2 core schema resolution of a plain scalar (quoted scalars are always strings).
pub fn scalar(text: &str, plain: bool) -> Value {
    if !plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let t = text.strip_prefix('+').unwrap_or(text);
        if let Ok(i) = t.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Ok(u) = t.parse::<u64>() {
            return Value::Number(u.into());
        }
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(u) = u64::from_str_radix(hex, 16)
    {
        return Value::Number(u.into());
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(u) = u64::from_str_radix(oct, 8)
    {
        return Value::Number(u.into());
    }
    let looks_float = digits
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|b| b.is_ascii_digit());
    if looks_float
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_scalars() {
        let docs = parse_documents("a: 1\nb:\n  - x\n  - \"2\"\nc: ~\n---\nd: true\n").unwrap();
        assert_eq!(docs.len(), 2);
        let b = docs[0].get("b").unwrap();
        assert_eq!(b.pos, Pos { line: 3, column: 3 });
        assert_eq!(
            docs[0].to_json(),
            serde_json::json!({"a": 1, "b": ["x", "2"], "c": null})
        );
        assert_eq!(docs[0].entry("c").unwrap().0.pos, Pos { line: 5, column: 1 });
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.pos, Pos { line: 3, column: 1 });
        assert!(
            err.message
                .contains("duplicate key \"a\" (first at line 1, column 1)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn alias_bomb_is_refused_quickly() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..30 {
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        let start = std::time::Instant::now();
        let err = parse_documents(&text).unwrap_err();
        assert!(err.message.contains("too large"), "{}", err.message);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let err = parse_documents(&text).unwrap_err();
        assert!(err.message.contains("nesting too deep"), "{}", err.message);
        let text = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        let err = parse_documents(&text).unwrap_err();
        assert!(err.message.contains("nesting too deep"), "{}", err.message);
    }

    #[test]
    fn the_node_budget_counts_each_node_once() {
        // A flat sequence of n scalars is n + 1 nodes: at the limit it passes, one over it fails.
        let seq = |n: usize| format!("[{}]", vec!["1"; n].join(","));
        assert!(parse_documents(&seq(MAX_NODES - 1)).is_ok());
        let err = parse_documents(&seq(MAX_NODES)).unwrap_err();
        assert!(err.message.contains("more than 1000000 nodes"), "{}", err.message);
        // Nesting does not multiply the count (it did, once per ancestor, making these 60,000
        // nodes about 1,900,000): 60 levels of mappings of 500 entries each.
        let mut text = String::new();
        for depth in 0..60 {
            text.push_str(&"  ".repeat(depth));
            text.push_str(&format!("level{depth}:\n"));
            for i in 0..500 {
                text.push_str(&"  ".repeat(depth + 1));
                text.push_str(&format!("k{i}: v\n"));
            }
        }
        let docs = parse_documents(&text).unwrap_or_else(|e| panic!("{}: {}", e.pos.line, e.message));
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn a_mapping_of_100000_keys_loads_and_a_late_duplicate_names_both_places() {
        let mut text: String = (0..100_000).map(|i| format!("key{i}: {i}\n")).collect();
        let docs = parse_documents(&text).unwrap_or_else(|e| panic!("{}", e.message));
        assert!(matches!(&docs[0].value, Value::Map(m) if m.len() == 100_000));
        text.push_str("key7: again\n");
        let err = parse_documents(&text).unwrap_err();
        assert_eq!(
            err.pos,
            Pos {
                line: 100_001,
                column: 1
            }
        );
        assert!(
            err.message
                .contains("duplicate key \"key7\" (first at line 8, column 1)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn json_is_yaml_with_locations() {
        let docs = parse_documents("{\n  \"StartAt\": \"A\",\n  \"n\": 1.5\n}").unwrap();
        assert_eq!(docs[0].get("StartAt").unwrap().pos, Pos { line: 2, column: 14 });
        assert_eq!(docs[0].to_json(), serde_json::json!({"StartAt": "A", "n": 1.5}));
    }
}

#[cfg(test)]
mod plain_tests {
    #[test]
    fn placeholder_scalars_are_plain() {
        let docs = super::parse_documents("a: ${T}\nb: '${T}'\n").unwrap();
        assert!(docs[0].get("a").unwrap().plain);
        assert!(!docs[0].get("b").unwrap().plain);
    }
}
