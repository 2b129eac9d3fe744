//! The report as a pull-request comment (`diff -o markdown`, SPEC §13): a summary table
//! (resource, action, status), each resource's changed paths with before → after, and for each
//! state machine whose definition changes a Mermaid graph (GitHub renders it) with the added,
//! changed and removed states coloured.
//!
//! Must not: read anything; the desired definitions come from the caller.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::{Action, Change, Report, ResourceReport, compact};
use crate::desired::Kind;
use crate::graph::Graph;
use crate::graph::text::{MermaidClass, mermaid_with};
use crate::path::{Path, Segment};

/// The first line of every comment: CI finds its earlier comment by it to update it in place.
pub const MARKER: &str = "<!-- sfn-operator diff -->";

/// Changed paths shown per resource; the rest are counted.
const MAX_ROWS: usize = 50;

/// How a state fares in a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StateChange {
    Added,
    Changed,
    Removed,
}

impl StateChange {
    fn class(self) -> &'static str {
        match self {
            StateChange::Added => "added",
            StateChange::Changed => "changed",
            StateChange::Removed => "removed",
        }
    }

    fn style(self) -> &'static str {
        match self {
            StateChange::Added => "fill:#dafbe1,stroke:#1a7f37,stroke-width:2px",
            StateChange::Changed => "fill:#fff8c5,stroke:#9a6700,stroke-width:2px",
            StateChange::Removed => "fill:#ffebe9,stroke:#cf222e,stroke-width:2px,stroke-dasharray:4 3",
        }
    }
}

/// Which states a machine's changes touch, by name: the innermost state each `definition…`
/// path goes through. A path ending at the state itself adds it (before null) or removes it
/// (after null); anything below it changes it. A whole new definition adds every state.
pub fn state_changes(changes: &[Change], after: &Value) -> BTreeMap<String, StateChange> {
    let mut out = BTreeMap::new();
    for c in changes {
        let Some(path) = Path::parse(&c.path) else {
            continue;
        };
        let segs = &path.0;
        if segs.first() != Some(&Segment::Key("definition".into())) {
            continue;
        }
        let mut innermost: Option<(&str, usize)> = None;
        let mut i = 1;
        while i + 1 < segs.len() {
            if let (Segment::Key(k), Segment::Key(name)) = (&segs[i], &segs[i + 1])
                && k == "States"
            {
                innermost = Some((name, i + 2));
                i += 2;
                continue;
            }
            i += 1;
        }
        match innermost {
            Some((name, end)) => {
                let what = if end < segs.len() {
                    StateChange::Changed
                } else if c.before.is_null() {
                    StateChange::Added
                } else if c.after.is_null() {
                    StateChange::Removed
                } else {
                    StateChange::Changed
                };
                let e = out.entry(name.to_owned()).or_insert(what);
                *e = (*e).min(what);
            }
            None if segs.len() <= 2 && c.before.is_null() => {
                for s in crate::asl::model::states(after, 32) {
                    out.insert(s.name.to_owned(), StateChange::Added);
                }
            }
            None => {}
        }
    }
    out
}

/// A value in a table cell: compact JSON, HTML-escaped, in `<code>`.
fn cell(v: &Value) -> String {
    if v.is_null() {
        return "—".into();
    }
    format!("<code>{}</code>", html(&compact(v)))
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "&#124;")
        .replace('`', "&#96;")
        .replace(['\n', '\r'], " ")
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Noop => "none",
    }
}

impl Report {
    /// The pull-request comment; `definitions` are the desired definitions by state machine
    /// name (`metadata.name`), for the graphs.
    pub fn to_markdown(&self, definitions: &BTreeMap<String, Value>) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{MARKER}");
        let m = &self.summary;
        let _ = writeln!(
            s,
            "### sfn-operator diff: {} to create, {} to update, {} to delete, {} unchanged, {} failed\n",
            m.create, m.update, m.delete, m.noop, m.failed
        );
        s.push_str("| Resource | Action | Status |\n|---|---|---|\n");
        for r in &self.resources {
            let _ = writeln!(
                s,
                "| {}/{} | {} | {:?} |",
                r.kind,
                html(&r.name),
                action_word(r.action),
                r.status
            );
        }
        if let Some(why) = &self.prune_held_back {
            let _ = writeln!(s, "\n> **Prune held back:** {}", html(why));
        }
        for r in &self.resources {
            if r.changes.is_empty() && r.message.is_none() {
                continue;
            }
            resource_section(&mut s, r, definitions.get(&r.name));
        }
        s
    }
}

fn resource_section(s: &mut String, r: &ResourceReport, definition: Option<&Value>) {
    let _ = writeln!(
        s,
        "\n#### {}/{} ({})\n",
        r.kind,
        html(&r.name),
        action_word(r.action)
    );
    if let Some(msg) = &r.message {
        let _ = writeln!(s, "> {}\n", html(msg));
    }
    if !r.changes.is_empty() {
        let _ = writeln!(
            s,
            "<details{}><summary>{} changed path{}</summary>\n",
            if r.changes.len() <= 10 { " open" } else { "" },
            r.changes.len(),
            if r.changes.len() == 1 { "" } else { "s" }
        );
        s.push_str("| Path | Before | After |\n|---|---|---|\n");
        for c in r.changes.iter().take(MAX_ROWS) {
            let _ = writeln!(
                s,
                "| <code>{}</code> | {} | {} |",
                html(&c.path),
                cell(&c.before),
                cell(&c.after)
            );
        }
        if r.changes.len() > MAX_ROWS {
            let _ = writeln!(s, "\n… and {} more.", r.changes.len() - MAX_ROWS);
        }
        s.push_str("\n</details>\n");
    }
    let (Kind::StateMachine, Some(def)) = (r.kind, definition) else {
        return;
    };
    if r.action == Action::Delete || !r.changes.iter().any(|c| c.path.starts_with("definition")) {
        return;
    }
    let marks = state_changes(&r.changes, def);
    let graph = Graph::from_definition(def);
    let mut classes: Vec<MermaidClass> = [StateChange::Added, StateChange::Changed, StateChange::Removed]
        .into_iter()
        .map(|c| MermaidClass {
            name: c.class().into(),
            style: c.style().into(),
            nodes: Vec::new(),
        })
        .collect();
    let mut removed = Vec::new();
    for (name, change) in &marks {
        match graph.find(name) {
            Some(i) if *change != StateChange::Removed => {
                classes[*change as usize].nodes.push(i);
            }
            _ if *change == StateChange::Removed => {
                removed.push((format!("removed_{}", removed.len()), format!("{name} (removed)")));
            }
            _ => {}
        }
    }
    let mut mermaid = mermaid_with(&graph, &classes, &removed);
    if !removed.is_empty() {
        let ids: Vec<&str> = removed.iter().map(|(id, _)| id.as_str()).collect();
        let _ = writeln!(mermaid, "  class {} removed", ids.join(","));
    }
    let legend: Vec<String> = [StateChange::Added, StateChange::Changed, StateChange::Removed]
        .iter()
        .map(|c| {
            let names: Vec<String> = marks
                .iter()
                .filter(|(_, v)| *v == c)
                .map(|(n, _)| format!("<code>{}</code>", html(n)))
                .collect();
            format!(
                "{} {}",
                c.class(),
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            )
        })
        .collect();
    let _ = writeln!(s, "\nStates: {}.\n", legend.join("; "));
    let _ = writeln!(s, "```mermaid\n{mermaid}```");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_mark_the_innermost_state() {
        let after = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Sum", "States": {"Sum": {"Type": "Pass", "End": true}, "New": {"Type": "Pass", "End": true}}}
        ]}}});
        let changes = vec![
            Change::new(
                "definition.States.P.Branches[0].States.Sum.ResultSelector[\"sum.$\"]",
                json!("$.a"),
                json!("$.b"),
            ),
            Change::new(
                "definition.States.P.Branches[0].States.New",
                Value::Null,
                json!({"Type": "Pass"}),
            ),
            Change::new(
                "definition.States[\"Old one\"]",
                json!({"Type": "Pass"}),
                Value::Null,
            ),
            Change::new("tags.team", json!("a"), json!("b")),
        ];
        let marks = state_changes(&changes, &after);
        assert_eq!(
            marks,
            BTreeMap::from([
                ("Sum".to_string(), StateChange::Changed),
                ("New".to_string(), StateChange::Added),
                ("Old one".to_string(), StateChange::Removed),
            ])
        );
        let all_new = state_changes(&[Change::new("definition", Value::Null, after.clone())], &after);
        assert_eq!(all_new.len(), 3);
        assert!(all_new.values().all(|c| *c == StateChange::Added));
    }
}
