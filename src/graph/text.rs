//! The graph as text other tools draw: Mermaid (`flowchart TD`, which GitHub renders in
//! Markdown) and Graphviz DOT. Parallel and Map states are subgraphs (clusters) holding their
//! branches or processor; Catch edges are dashed; Choice edges carry their rule.

use std::fmt::Write as _;

use super::{EdgeKind, Graph, Scope, layout};

/// A state's class in a Mermaid graph, with its style (a diff's `added`, `changed`, `removed`).
#[derive(Debug, Clone)]
pub struct MermaidClass {
    pub name: String,
    pub style: String,
    /// Node indexes carrying the class.
    pub nodes: Vec<usize>,
}

/// Escapes a label for a quoted Mermaid string: entities for what would end or confuse it.
pub fn mermaid_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn mermaid_id(i: usize) -> String {
    format!("n{i}")
}

/// The Mermaid flowchart of `g`.
pub fn mermaid(g: &Graph) -> String {
    mermaid_with(g, &[], &[])
}

/// The Mermaid flowchart of `g` with classes on some states, and `extra` states drawn apart
/// (a diff's removed states: `(id, name)` pairs, given the class by the caller).
pub fn mermaid_with(g: &Graph, classes: &[MermaidClass], extra: &[(String, String)]) -> String {
    let mut s = String::from("flowchart TD\n");
    s.push_str("  s_start((Start))\n");
    mermaid_scope(&mut s, g, &g.top, 1);
    for (id, name) in extra {
        let _ = writeln!(s, "  {id}[\"{}\"]", mermaid_escape(name));
    }
    if let Some(start) = g.top.start {
        let _ = writeln!(s, "  s_start --> {}", mermaid_id(start));
    }
    let ends: Vec<usize> = g.top.nodes.iter().copied().filter(|&i| g.nodes[i].end).collect();
    if !ends.is_empty() {
        s.push_str("  s_end((End))\n");
        for i in ends {
            let _ = writeln!(s, "  {} --> s_end", mermaid_id(i));
        }
    }
    for e in &g.edges {
        let arrow = if matches!(e.kind, EdgeKind::Catch(_)) {
            "-.->"
        } else {
            "-->"
        };
        match e.kind.label() {
            Some(label) => {
                let _ = writeln!(
                    s,
                    "  {} {arrow}|\"{}\"| {}",
                    mermaid_id(e.from),
                    mermaid_escape(&layout::short_label(&label)),
                    mermaid_id(e.to)
                );
            }
            None => {
                let _ = writeln!(s, "  {} {arrow} {}", mermaid_id(e.from), mermaid_id(e.to));
            }
        }
    }
    for c in classes {
        let _ = writeln!(s, "  classDef {} {}", c.name, c.style);
        // A Parallel or Map is a subgraph: styled directly, as Mermaid classes are for nodes.
        let (boxes, plain): (Vec<usize>, Vec<usize>) =
            c.nodes.iter().partition(|&&i| g.nodes[i].is_container());
        if !plain.is_empty() {
            let ids: Vec<String> = plain.iter().map(|&i| mermaid_id(i)).collect();
            let _ = writeln!(s, "  class {} {}", ids.join(","), c.name);
        }
        for i in boxes {
            let _ = writeln!(s, "  style {} {}", mermaid_id(i), c.style);
        }
    }
    s
}

fn mermaid_scope(s: &mut String, g: &Graph, scope: &Scope, depth: usize) {
    let pad = "  ".repeat(depth);
    for &i in &scope.nodes {
        let node = &g.nodes[i];
        let label = format!(
            "{}<br/>{}",
            mermaid_escape(&node.name),
            mermaid_escape(&layout::type_line(node))
        );
        if node.is_container() {
            let _ = writeln!(s, "{pad}subgraph {} [\"{label}\"]", mermaid_id(i));
            let _ = writeln!(s, "{pad}  direction TB");
            for (k, inner) in node.scopes.iter().enumerate() {
                let title = if node.state_type == "Map" {
                    "Item processor".to_string()
                } else {
                    format!("Branch {}", k + 1)
                };
                let _ = writeln!(s, "{pad}  subgraph {}_{k} [\"{title}\"]", mermaid_id(i));
                mermaid_scope(s, g, inner, depth + 2);
                let _ = writeln!(s, "{pad}  end");
            }
            let _ = writeln!(s, "{pad}end");
        } else {
            let shape = match node.state_type.as_str() {
                "Choice" => ("{", "}"),
                _ => ("[", "]"),
            };
            let _ = writeln!(s, "{pad}{}{}\"{label}\"{}", mermaid_id(i), shape.0, shape.1);
        }
    }
}

/// Escapes a DOT double-quoted string.
pub fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\n', '\r'], " ")
}

/// The Graphviz DOT of `g`, titled `title`.
pub fn dot(g: &Graph, title: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "digraph \"{}\" {{", dot_escape(title));
    s.push_str("  rankdir=TB; compound=true; fontname=\"sans-serif\";\n");
    s.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#e8f1fb\", fontname=\"sans-serif\", fontsize=11];\n");
    s.push_str("  edge [fontname=\"sans-serif\", fontsize=10];\n");
    s.push_str("  s_start [label=\"Start\", shape=oval, fillcolor=\"#333333\", fontcolor=\"#ffffff\"];\n");
    dot_scope(&mut s, g, &g.top, 1);
    // An edge into or out of a Parallel or Map ends at its cluster's border.
    let attach = |i: usize, end: &str| {
        if g.nodes[i].is_container() {
            format!("{end}=cluster_{}", mermaid_id(i))
        } else {
            String::new()
        }
    };
    if let Some(start) = g.top.start {
        let lhead = attach(start, "lhead");
        let _ = writeln!(s, "  s_start -> {} [{lhead}];", mermaid_id(start));
    }
    let ends: Vec<usize> = g.top.nodes.iter().copied().filter(|&i| g.nodes[i].end).collect();
    if !ends.is_empty() {
        s.push_str("  s_end [label=\"End\", shape=oval, fillcolor=\"#333333\", fontcolor=\"#ffffff\"];\n");
        for i in ends {
            let _ = writeln!(s, "  {} -> s_end [{}];", mermaid_id(i), attach(i, "ltail"));
        }
    }
    for e in &g.edges {
        let mut attrs: Vec<String> = Vec::new();
        if let Some(label) = e.kind.label() {
            attrs.push(format!("label=\"{}\"", dot_escape(&layout::short_label(&label))));
        }
        if matches!(e.kind, EdgeKind::Catch(_)) {
            attrs.push("style=dashed, color=\"#c0392b\"".into());
        }
        for a in [attach(e.from, "ltail"), attach(e.to, "lhead")] {
            if !a.is_empty() {
                attrs.push(a);
            }
        }
        let _ = writeln!(
            s,
            "  {} -> {} [{}];",
            mermaid_id(e.from),
            mermaid_id(e.to),
            attrs.join(", ")
        );
    }
    s.push_str("}\n");
    s
}

fn dot_scope(s: &mut String, g: &Graph, scope: &Scope, depth: usize) {
    let pad = "  ".repeat(depth);
    for &i in &scope.nodes {
        let node = &g.nodes[i];
        let label = format!(
            "{}\\n{}",
            dot_escape(&node.name),
            dot_escape(&layout::type_line(node))
        );
        if node.is_container() {
            let id = mermaid_id(i);
            let _ = writeln!(s, "{pad}subgraph cluster_{id} {{");
            let _ = writeln!(s, "{pad}  label=\"{label}\"; style=rounded;");
            // The anchor edges attach to (clipped at the cluster's border by lhead/ltail).
            let _ = writeln!(
                s,
                "{pad}  {id} [shape=point, style=invis, width=0, height=0, label=\"\"];"
            );
            for (k, inner) in node.scopes.iter().enumerate() {
                let title = if node.state_type == "Map" {
                    "Item processor".to_string()
                } else {
                    format!("Branch {}", k + 1)
                };
                let _ = writeln!(s, "{pad}  subgraph cluster_{id}_{k} {{");
                let _ = writeln!(s, "{pad}    label=\"{title}\"; style=dashed;");
                dot_scope(s, g, inner, depth + 2);
                let _ = writeln!(s, "{pad}  }}");
            }
            let _ = writeln!(s, "{pad}}}");
        } else {
            let extra = match node.state_type.as_str() {
                "Choice" => ", fillcolor=\"#fff6e0\"",
                "Succeed" => ", fillcolor=\"#e6f6ea\"",
                "Fail" => ", fillcolor=\"#fdeaea\"",
                _ => "",
            };
            let _ = writeln!(s, "{pad}{} [label=\"{label}\"{extra}];", mermaid_id(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mermaid_has_subgraphs_labels_and_dashed_catches() {
        let g = Graph::from_definition(&json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.s", "StringEquals": "a|\"b\"", "Next": "P"}], "Default": "F"},
            "P": {"Type": "Parallel", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}],
                  "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}]},
            "F": {"Type": "Fail"}
        }}));
        let m = mermaid(&g);
        assert!(m.starts_with("flowchart TD\n"), "{m}");
        assert!(m.contains("subgraph n1 [\"P<br/>Parallel\"]"), "{m}");
        assert!(m.contains("subgraph n1_0 [\"Branch 1\"]"), "{m}");
        assert!(
            m.contains("n0 -->|\"$.s == #quot;a#124;\\#quot;b\\#quot;#quot;\"| n1"),
            "{m}"
        );
        assert!(m.contains("n1 -.->|\"States.ALL\"| n3"), "{m}");
        assert!(m.contains("s_start --> n0"), "{m}");
        let d = dot(&g, "t");
        assert!(d.contains("subgraph cluster_n1 {"), "{d}");
        assert!(
            d.contains("n1 -> n3 [label=\"States.ALL\", style=dashed, color=\"#c0392b\", ltail=cluster_n1];"),
            "{d}"
        );
    }
}
