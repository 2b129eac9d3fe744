//! Pictures of a definition (SPEC §13), pure: definition → [`Graph`] → [`layout`] → SVG
//! ([`svg`]), or the same graph as Mermaid or DOT text ([`text`]).
//!
//! The graph has one node per state, in every scope (Parallel branches and Map processors are
//! scopes inside their state's node), and one edge per transition: `Next`, a Choice's `Default`,
//! each Choice rule (labelled with the rule) and each Catch (labelled with its error names).
//! Retry is noted on the state it belongs to.
//!
//! Must not: read files, validate (a malformed part is left out of the picture, never an error:
//! `validate` says what is wrong), or know about manifests or reports.

pub mod layout;
pub mod svg;
pub mod text;

use serde_json::{Map, Value};

/// A definition as a graph of states and transitions.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Every state of every scope, in document order (a state before the states nested in it).
    pub nodes: Vec<Node>,
    /// Every transition between two states of the same scope.
    pub edges: Vec<Edge>,
    /// The definition's own scope.
    pub top: Scope,
}

/// A set of states that run together: the definition, a Parallel branch, or a Map processor.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Indexes into [`Graph::nodes`], in document order.
    pub nodes: Vec<usize>,
    /// The `StartAt` state, when it names one of `nodes`.
    pub start: Option<usize>,
}

/// One state.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    /// `Task`, `Choice`, ... (`?` when the state has no string `Type`).
    pub state_type: String,
    /// The Parallel or Map state this one is nested in.
    pub parent: Option<usize>,
    /// A Parallel state's branches, or a Map state's processor (one scope).
    pub scopes: Vec<Scope>,
    /// The error names of each retrier (empty when the state has no `Retry`).
    pub retry: Vec<Vec<String>>,
    /// Ends its scope: `End: true`, or a Succeed or Fail state.
    pub end: bool,
    /// The state's `Comment`, if any.
    pub comment: Option<String>,
}

impl Node {
    /// Whether the state holds scopes (a Parallel or a Map).
    pub fn is_container(&self) -> bool {
        !self.scopes.is_empty() || matches!(self.state_type.as_str(), "Parallel" | "Map")
    }
}

/// What kind of transition an edge is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeKind {
    Next,
    /// A Choice state's `Default`.
    Default,
    /// A Choice rule, as readable text.
    Choice(String),
    /// A Catch, with its error names.
    Catch(Vec<String>),
}

impl EdgeKind {
    /// The label drawn on the edge (`None` for `Next`).
    pub fn label(&self) -> Option<String> {
        match self {
            EdgeKind::Next => None,
            EdgeKind::Default => Some("Default".into()),
            EdgeKind::Choice(rule) => Some(rule.clone()),
            EdgeKind::Catch(errors) => Some(errors.join(", ")),
        }
    }

    /// A short class name: `next`, `default`, `choice`, `catch`.
    pub fn class(&self) -> &'static str {
        match self {
            EdgeKind::Next => "next",
            EdgeKind::Default => "default",
            EdgeKind::Choice(_) => "choice",
            EdgeKind::Catch(_) => "catch",
        }
    }
}

/// One transition.
#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
}

/// How deep scopes are followed (AWS refuses deeper nesting long before this).
const MAX_DEPTH: usize = 32;

impl Graph {
    /// The graph of `definition` (a JSON object with `StartAt` and `States`; anything else gives
    /// an empty graph).
    pub fn from_definition(definition: &Value) -> Graph {
        let mut g = Graph::default();
        if let Some(obj) = definition.as_object() {
            g.top = g.add_scope(obj, None, 0);
        }
        g
    }

    /// The index of the state named `name` (names are unique in a valid definition; the first
    /// wins otherwise).
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The chain of containers around node `i`, innermost first.
    pub fn ancestors(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = self.nodes[i].parent;
        while let Some(p) = at {
            out.push(p);
            at = self.nodes[p].parent;
        }
        out
    }

    fn add_scope(&mut self, obj: &Map<String, Value>, parent: Option<usize>, depth: usize) -> Scope {
        let mut scope = Scope::default();
        let Some(Value::Object(states)) = obj.get("States") else {
            return scope;
        };
        let mut by_name = Vec::new();
        for (name, st) in states {
            let Some(st) = st.as_object() else { continue };
            let i = self.nodes.len();
            let state_type = st.get("Type").and_then(Value::as_str).unwrap_or("?").to_owned();
            let end = st.get("End") == Some(&Value::Bool(true))
                || matches!(state_type.as_str(), "Succeed" | "Fail");
            self.nodes.push(Node {
                name: name.clone(),
                state_type,
                parent,
                scopes: Vec::new(),
                retry: retriers(st),
                end,
                comment: st.get("Comment").and_then(Value::as_str).map(str::to_owned),
            });
            scope.nodes.push(i);
            by_name.push((name.as_str(), i, st));
            if depth < MAX_DEPTH {
                let mut inner = Vec::new();
                if let Some(Value::Array(branches)) = st.get("Branches") {
                    for b in branches.iter().filter_map(Value::as_object) {
                        inner.push(self.add_scope(b, Some(i), depth + 1));
                    }
                }
                for field in ["ItemProcessor", "Iterator"] {
                    if let Some(Value::Object(p)) = st.get(field) {
                        inner.push(self.add_scope(p, Some(i), depth + 1));
                    }
                }
                self.nodes[i].scopes = inner;
            }
        }
        let lookup = |target: Option<&Value>| {
            let t = target?.as_str()?;
            by_name.iter().find(|(n, _, _)| *n == t).map(|(_, i, _)| *i)
        };
        scope.start = lookup(obj.get("StartAt"));
        for (_, from, st) in &by_name {
            let from = *from;
            if let Some(Value::Array(rules)) = st.get("Choices") {
                for rule in rules {
                    if let Some(to) = lookup(rule.get("Next")) {
                        self.edges.push(Edge {
                            from,
                            to,
                            kind: EdgeKind::Choice(rule_label(rule)),
                        });
                    }
                }
            }
            if let Some(to) = lookup(st.get("Default")) {
                self.edges.push(Edge {
                    from,
                    to,
                    kind: EdgeKind::Default,
                });
            }
            if let Some(to) = lookup(st.get("Next")) {
                self.edges.push(Edge {
                    from,
                    to,
                    kind: EdgeKind::Next,
                });
            }
            if let Some(Value::Array(catchers)) = st.get("Catch") {
                for c in catchers {
                    if let Some(to) = lookup(c.get("Next")) {
                        self.edges.push(Edge {
                            from,
                            to,
                            kind: EdgeKind::Catch(error_names(c)),
                        });
                    }
                }
            }
        }
        scope
    }
}

fn error_names(v: &Value) -> Vec<String> {
    match v.get("ErrorEquals") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn retriers(st: &Map<String, Value>) -> Vec<Vec<String>> {
    match st.get("Retry") {
        Some(Value::Array(rs)) => rs.iter().map(error_names).collect(),
        _ => Vec::new(),
    }
}

/// A Choice rule as people read it: `$.n > 3`, `$.a == "x" and $.b is present`, or a JSONata
/// rule's `Condition` as written.
pub fn rule_label(rule: &Value) -> String {
    let Some(obj) = rule.as_object() else {
        return "?".into();
    };
    if let Some(c) = obj.get("Condition").and_then(Value::as_str) {
        return c
            .trim_start_matches("{%")
            .trim_end_matches("%}")
            .trim()
            .to_owned();
    }
    let join = |items: &Value, word: &str| match items {
        Value::Array(rules) => rules
            .iter()
            .map(|r| {
                let inner = rule_label(r);
                if r.get("And").is_some() || r.get("Or").is_some() {
                    format!("({inner})")
                } else {
                    inner
                }
            })
            .collect::<Vec<_>>()
            .join(word),
        _ => "?".into(),
    };
    if let Some(items) = obj.get("And") {
        return join(items, " and ");
    }
    if let Some(items) = obj.get("Or") {
        return join(items, " or ");
    }
    if let Some(inner) = obj.get("Not") {
        return format!("not ({})", rule_label(inner));
    }
    let variable = obj.get("Variable").and_then(Value::as_str).unwrap_or("?");
    let Some((op, value)) = obj.iter().find(|(k, _)| crate::asl::model::is_operator(k)) else {
        return variable.to_owned();
    };
    let (base, path) = match op.strip_suffix("Path") {
        Some(b) if op != "IsPresent" => (b, true),
        _ => (op.as_str(), false),
    };
    let value_text = if path {
        value.as_str().unwrap_or("?").to_owned()
    } else {
        value.to_string()
    };
    let symbol = if base.ends_with("LessThanEquals") {
        "<="
    } else if base.ends_with("GreaterThanEquals") {
        ">="
    } else if base.ends_with("LessThan") {
        "<"
    } else if base.ends_with("GreaterThan") {
        ">"
    } else if base.ends_with("Equals") {
        "=="
    } else if base == "StringMatches" {
        "matches"
    } else {
        // IsNull, IsPresent, IsNumeric, ...: `$.x is present` / `$.x is not present`.
        let what = base.trim_start_matches("Is").to_lowercase();
        let not = if value == &Value::Bool(false) { "not " } else { "" };
        return format!("{variable} is {not}{what}");
    };
    format!("{variable} {symbol} {value_text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reference() -> Value {
        json!({"StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [
                {"Variable": "$.n", "NumericGreaterThan": 3, "Next": "P"},
                {"And": [{"Variable": "$.a", "IsPresent": true}, {"Variable": "$.a", "StringEquals": "x"}], "Next": "Fail"}
            ], "Default": "P"},
            "P": {"Type": "Parallel", "Next": "Done", "Retry": [{"ErrorEquals": ["States.ALL"]}],
                  "Catch": [{"ErrorEquals": ["States.TaskFailed", "Custom"], "Next": "Fail"}],
                  "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                {"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
                    "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Succeed"}}}}}}
            ]},
            "Done": {"Type": "Succeed"},
            "Fail": {"Type": "Fail", "Error": "E"}
        }})
    }

    #[test]
    fn every_state_and_transition_is_in_the_graph() {
        let g = Graph::from_definition(&reference());
        let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["Check", "P", "A", "M", "Item", "Done", "Fail"]);
        let p = g.find("P").unwrap();
        assert_eq!(g.nodes[p].scopes.len(), 2);
        assert_eq!(g.nodes[p].retry, vec![vec!["States.ALL".to_string()]]);
        assert_eq!(g.ancestors(g.find("Item").unwrap()), [g.find("M").unwrap(), p]);
        let edges: Vec<(String, String, String)> = g
            .edges
            .iter()
            .map(|e| {
                (
                    g.nodes[e.from].name.clone(),
                    g.nodes[e.to].name.clone(),
                    e.kind.label().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            edges,
            [
                ("Check".into(), "P".into(), "$.n > 3".into()),
                (
                    "Check".into(),
                    "Fail".into(),
                    "$.a is present and $.a == \"x\"".into()
                ),
                ("Check".into(), "P".into(), "Default".into()),
                ("P".into(), "Done".into(), String::new()),
                ("P".into(), "Fail".into(), "States.TaskFailed, Custom".into()),
            ]
        );
        assert_eq!(g.top.start, g.find("Check"));
        assert!(g.nodes[g.find("Item").unwrap()].end);
    }

    #[test]
    fn rules_read_like_conditions() {
        assert_eq!(
            rule_label(&json!({"Not": {"Variable": "$.t", "TimestampLessThanEqualsPath": "$.u"}})),
            "not ($.t <= $.u)"
        );
        assert_eq!(
            rule_label(&json!({"Variable": "$.x", "IsNull": false})),
            "$.x is not null"
        );
        assert_eq!(
            rule_label(&json!({"Condition": "{% $states.input.n > 1 %}"})),
            "$states.input.n > 1"
        );
    }

    #[test]
    fn malformed_parts_are_left_out() {
        let g =
            Graph::from_definition(&json!({"StartAt": "X", "States": {"A": 3, "B": {"Next": "nowhere"}}}));
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.nodes[0].state_type, "?");
        assert!(g.edges.is_empty());
        assert_eq!(g.top.start, None);
    }
}
