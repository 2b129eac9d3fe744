//! The graph as a standalone SVG: plain shapes and text with presentation attributes, the
//! generic `sans-serif` family, no script, no external reference, every text XML-escaped, so any
//! browser or SVG renderer (rsvg, resvg) shows the same picture.
//!
//! Each state is a `<g class="state …" data-state="NAME">` whose first `<rect>` is its box; each
//! transition a `<g class="edge edge-KIND">`; the start and end markers are `class="terminal"`.
//! Tests and the sandbox console rely on these names.

use std::fmt::Write as _;

use super::layout::{self, Layout, NAME_FONT, Rect, Route, SMALL_FONT};
use super::{EdgeKind, Graph};

/// Per-state decoration: extra classes (`added`, `changed`, `removed`, `succeeded`, ...) and their
/// fill and stroke.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    /// Per [`Graph::nodes`] entry: a class and its fill/stroke colours.
    pub states: Vec<Option<Mark>>,
}

/// One state's decoration.
#[derive(Debug, Clone)]
pub struct Mark {
    pub class: String,
    pub fill: String,
    pub stroke: String,
}

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The SVG of `g`, titled `title`.
pub fn render(g: &Graph, title: &str) -> String {
    render_marked(g, title, &Marks::default())
}

fn fill_of(state_type: &str) -> (&'static str, &'static str) {
    match state_type {
        "Task" => ("#e8f1fb", "#3b82c4"),
        "Choice" => ("#fff6e0", "#c98a00"),
        "Parallel" | "Map" => ("#f7f7fb", "#7b7fa8"),
        "Succeed" => ("#e6f6ea", "#2e8b57"),
        "Fail" => ("#fdeaea", "#c0392b"),
        "Wait" => ("#f1ecfa", "#7d5ba6"),
        _ => ("#f4f4f4", "#777777"),
    }
}

fn f(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

fn path_d(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    for (i, (x, y)) in points.iter().enumerate() {
        let _ = write!(d, "{}{},{}", if i == 0 { "M" } else { " L" }, f(*x), f(*y));
    }
    d
}

/// The SVG of `g` with some states marked (a diff's changes, an execution's path).
pub fn render_marked(g: &Graph, title: &str, marks: &Marks) -> String {
    let l = layout::layout(g);
    render_layout(g, &l, title, marks)
}

/// The SVG of `g` laid out as `l`.
pub fn render_layout(g: &Graph, l: &Layout, title: &str, marks: &Marks) -> String {
    let mut s = String::new();
    let (w, h) = (f(l.width), f(l.height));
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="{}" role="img">"##,
        f(SMALL_FONT)
    );
    let _ = writeln!(s, "<title>{}</title>", escape(title));
    s.push_str(concat!(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">"##,
        r##"<path d="M0,0 L10,5 L0,10 z" fill="#555555"/></marker></defs>"##,
        "\n"
    ));
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>"##
    );
    // Containers first (outer before inner: document order), then their scope boxes.
    for (i, node) in g.nodes.iter().enumerate() {
        if node.is_container() {
            state(&mut s, g, l, marks, i);
        }
    }
    for b in &l.scopes {
        let node = &g.nodes[b.node];
        let label = if node.state_type == "Map" {
            "Item processor".to_string()
        } else {
            format!("Branch {}", b.index + 1)
        };
        let r = b.rect;
        let _ = writeln!(
            s,
            r##"<g class="scope"><rect x="{}" y="{}" width="{}" height="{}" rx="6" fill="#ffffff" stroke="#b9bcd6" stroke-dasharray="4 3"/><text x="{}" y="{}" fill="#7b7fa8" font-size="10">{}</text></g>"##,
            f(r.x),
            f(r.y),
            f(r.w),
            f(r.h),
            f(r.x + 4.0),
            f(r.y + 10.0),
            escape(&label)
        );
    }
    for (e, edge) in g.edges.iter().enumerate() {
        edge_svg(&mut s, g, &l.edges[e], l.labels.get(e).copied().flatten(), edge);
    }
    for r in &l.terminal_edges {
        let _ = writeln!(
            s,
            r##"<g class="terminal-edge"><path d="{}" fill="none" stroke="#555555" stroke-width="1.2" marker-end="url(#arrow)"/></g>"##,
            path_d(&r.points)
        );
    }
    terminal(&mut s, &l.start, "Start");
    if let Some(end) = &l.end {
        terminal(&mut s, end, "End");
    }
    for (i, node) in g.nodes.iter().enumerate() {
        if !node.is_container() {
            state(&mut s, g, l, marks, i);
        }
    }
    s.push_str("</svg>\n");
    s
}

fn terminal(s: &mut String, r: &Rect, text: &str) {
    let _ = writeln!(
        s,
        r##"<g class="terminal"><rect x="{}" y="{}" width="{}" height="{}" rx="{}" fill="#333333"/><text x="{}" y="{}" text-anchor="middle" fill="#ffffff" font-size="{}">{text}</text></g>"##,
        f(r.x),
        f(r.y),
        f(r.w),
        f(r.h),
        f(r.h / 2.0),
        f(r.x + r.w / 2.0),
        f(r.y + r.h / 2.0 + 4.0),
        f(SMALL_FONT)
    );
}

fn state(s: &mut String, g: &Graph, l: &Layout, marks: &Marks, i: usize) {
    let node = &g.nodes[i];
    let r = l.nodes[i];
    let (mut fill, mut stroke) = fill_of(&node.state_type);
    let mut class = format!("state state-{}", node.state_type.to_lowercase());
    let mark = marks.states.get(i).and_then(Option::as_ref);
    if let Some(m) = mark {
        class.push(' ');
        class.push_str(&m.class);
        fill = &m.fill;
        stroke = &m.stroke;
    }
    let parent = node
        .parent
        .map(|p| format!(r#" data-parent="{}""#, escape(&g.nodes[p].name)))
        .unwrap_or_default();
    let mut tip = format!("{} ({})", node.name, node.state_type);
    for (k, errors) in node.retry.iter().enumerate() {
        let _ = write!(tip, "\nRetry {}: {}", k + 1, errors.join(", "));
    }
    if let Some(c) = &node.comment {
        let _ = write!(tip, "\n{c}");
    }
    let width = if node.end || mark.is_some() { "2.2" } else { "1.2" };
    let _ = writeln!(
        s,
        r##"<g class="{class}" data-state="{}" data-type="{}"{parent}><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>"##,
        escape(&node.name),
        escape(&node.state_type),
        escape(&tip),
        f(r.x),
        f(r.y),
        f(r.w),
        f(r.h),
    );
    let (name_y, type_y) = if node.is_container() {
        (r.y + 18.0, r.y + 34.0)
    } else {
        (r.y + r.h / 2.0 - 2.0, r.y + r.h / 2.0 + 13.0)
    };
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle" font-size="{}" font-weight="bold" fill="#222222">{}</text><text x="{}" y="{}" text-anchor="middle" fill="#555555">{}</text></g>"##,
        f(r.x + r.w / 2.0),
        f(name_y),
        f(NAME_FONT),
        escape(&node.name),
        f(r.x + r.w / 2.0),
        f(type_y),
        escape(&layout::type_line(node)),
    );
}

fn edge_svg(s: &mut String, g: &Graph, r: &Route, at: Option<Rect>, edge: &super::Edge) {
    let dash = if matches!(edge.kind, EdgeKind::Catch(_)) {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    let colour = match edge.kind {
        EdgeKind::Catch(_) => "#c0392b",
        _ => "#555555",
    };
    let label = edge.kind.label();
    let title = label.clone().unwrap_or_else(|| "Next".into());
    let _ = write!(
        s,
        r##"<g class="edge edge-{}" data-from="{}" data-to="{}"><title>{}</title><path d="{}" fill="none" stroke="{colour}" stroke-width="1.2"{dash} marker-end="url(#arrow)"/>"##,
        edge.kind.class(),
        escape(&g.nodes[edge.from].name),
        escape(&g.nodes[edge.to].name),
        escape(&title),
        path_d(&r.points)
    );
    if let (Some(label), Some(b)) = (label, at) {
        let _ = write!(
            s,
            r##"<rect class="label" x="{}" y="{}" width="{}" height="{}" rx="3" fill="#ffffff" fill-opacity="0.9"/><text x="{}" y="{}" text-anchor="middle" font-size="{}" fill="{colour}">{}</text>"##,
            f(b.x),
            f(b.y),
            f(b.w),
            f(b.h),
            f(b.x + b.w / 2.0),
            f(b.y + b.h / 2.0 + 3.5),
            f(layout::LABEL_FONT),
            escape(&layout::short_label(&label))
        );
    }
    s.push_str("</g>\n");
}
