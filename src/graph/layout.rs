//! A small layered layout, top to bottom, in the manner of Sugiyama (and of Workflow Studio's
//! pictures): per scope, transitions that loop back are set aside, states get the longest-path
//! layer from the start, long edges pass through dummy points, the order within a layer follows
//! barycentres, and x positions follow neighbours without ever overlapping. A Parallel state is
//! a box holding its branches side by side; a Map state a box holding its processor.
//!
//! Why our own: the layout crates measured did not nest scopes inside nodes, which is the point
//! of a Step Functions picture; this one is ~400 lines and lays out the 174 corpus definitions in
//! milliseconds.
//!
//! Must not: draw (that is [`super::svg`]) or measure text other than by [`text_width`].

use std::collections::HashMap;

use super::{Graph, Scope};

/// A box, in SVG user units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    /// Whether the two boxes share any area.
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }

    /// Whether `o` lies inside this box.
    pub fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x && o.y >= self.y && o.x + o.w <= self.x + self.w && o.y + o.h <= self.y + self.h
    }
}

/// A point.
pub type Point = (f64, f64);

/// Where an edge runs: its polyline (ending at the target's border) and where its label goes.
#[derive(Debug, Clone, Default)]
pub struct Route {
    pub points: Vec<Point>,
    pub label_at: Point,
}

/// A scope's box inside its Parallel or Map state.
#[derive(Debug, Clone)]
pub struct ScopeBox {
    /// The Parallel or Map state.
    pub node: usize,
    /// Branch index (0 for a Map's processor).
    pub index: usize,
    pub rect: Rect,
}

/// The whole picture's geometry.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    /// Per [`Graph::nodes`] entry.
    pub nodes: Vec<Rect>,
    /// Per [`Graph::edges`] entry.
    pub edges: Vec<Route>,
    pub scopes: Vec<ScopeBox>,
    /// The start marker, above the definition's `StartAt` state.
    pub start: Rect,
    /// The end marker, below every state that ends the definition (absent when none does).
    pub end: Option<Rect>,
    /// Start → `StartAt` and each ending state → end.
    pub terminal_edges: Vec<Route>,
    /// Per [`Graph::edges`] entry: the box of its label (`None` for `Next`), placed on the edge
    /// where it covers no state and no other label when such a place exists.
    pub labels: Vec<Option<Rect>>,
}

/// Font size of a state's name; its type line is smaller.
pub const NAME_FONT: f64 = 13.0;
/// Font size of the type line and edge labels.
pub const SMALL_FONT: f64 = 11.0;
/// Height of a container's header (name and type) above its scopes.
pub const HEADER: f64 = 44.0;
/// Edge labels longer than this are cut (the full text is in the SVG's `<title>`).
pub const LABEL_MAX: usize = 40;

const MARGIN: f64 = 16.0;
const V_GAP: f64 = 56.0;
const H_GAP: f64 = 32.0;
const PAD: f64 = 12.0;
const SCOPE_GAP: f64 = 16.0;
const NODE_H: f64 = 46.0;
const MIN_W: f64 = 120.0;
const DUMMY_W: f64 = 8.0;
const TERMINAL: (f64, f64) = (64.0, 28.0);
const LANE: f64 = 14.0;

/// A generous width of `text` in a sans-serif font of `size` (no font is measured: the SVG
/// names only the generic family).
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.62
}

/// The type line of a state: `Task`, `Task · Retry`.
pub fn type_line(node: &super::Node) -> String {
    if node.retry.is_empty() {
        node.state_type.clone()
    } else {
        format!("{} · Retry", node.state_type)
    }
}

/// A label cut to [`LABEL_MAX`] characters.
pub fn short_label(label: &str) -> String {
    if label.chars().count() <= LABEL_MAX {
        label.to_owned()
    } else {
        let cut: String = label.chars().take(LABEL_MAX - 1).collect();
        format!("{cut}…")
    }
}

/// A scope laid out at the origin.
#[derive(Debug, Clone, Default)]
struct ScopeLayout {
    w: f64,
    h: f64,
    /// Top-left of each item (the scope's nodes, then the start and end markers if any).
    pos: Vec<Point>,
    /// Per edge given to [`layered`].
    routes: Vec<Route>,
}

/// Lays out `g`.
pub fn layout(g: &Graph) -> Layout {
    let n = g.nodes.len();
    let mut sizes = vec![(0.0, 0.0); n];
    // Per container: its scopes laid out, and each scope's box offset from the container's corner.
    let mut inner: Vec<Vec<(Point, ScopeLayout)>> = vec![Vec::new(); n];
    // Children come after their container in `g.nodes`: sizing in reverse sees them first.
    for i in (0..n).rev() {
        let node = &g.nodes[i];
        let text_w =
            text_width(&node.name, NAME_FONT).max(text_width(&type_line(node), SMALL_FONT)) + 2.0 * PAD;
        if !node.is_container() {
            sizes[i] = (text_w.max(MIN_W), NODE_H);
            continue;
        }
        let laid: Vec<ScopeLayout> = node
            .scopes
            .iter()
            .map(|s| layered_scope(g, s, &sizes, false).0)
            .collect();
        let boxes_w: f64 = laid.iter().map(|l| l.w + 2.0 * PAD).sum::<f64>()
            + SCOPE_GAP * laid.len().saturating_sub(1) as f64;
        let w = text_w.max(MIN_W).max(boxes_w + 2.0 * PAD);
        let boxes_h = laid.iter().map(|l| l.h + 2.0 * PAD).fold(0.0, f64::max);
        let mut x = (w - boxes_w) / 2.0;
        let mut placed = Vec::new();
        for l in laid {
            let bw = l.w + 2.0 * PAD;
            placed.push(((x, HEADER), l));
            x += bw + SCOPE_GAP;
        }
        sizes[i] = (w, HEADER + boxes_h + if placed.is_empty() { 0.0 } else { PAD });
        inner[i] = placed;
    }
    let (top, items) = layered_scope(g, &g.top, &sizes, true);
    let mut out = Layout {
        width: top.w + 2.0 * MARGIN,
        height: top.h + 2.0 * MARGIN,
        nodes: vec![Rect::default(); n],
        edges: vec![Route::default(); g.edges.len()],
        ..Layout::default()
    };
    let k = g.top.nodes.len();
    out.start = Rect {
        x: top.pos[k].0 + MARGIN,
        y: top.pos[k].1 + MARGIN,
        w: TERMINAL.0,
        h: TERMINAL.1,
    };
    if items.has_end {
        out.end = Some(Rect {
            x: top.pos[k + 1].0 + MARGIN,
            y: top.pos[k + 1].1 + MARGIN,
            w: TERMINAL.0,
            h: TERMINAL.1,
        });
    }
    place(
        g,
        &g.top,
        &top,
        &items,
        (MARGIN, MARGIN),
        &sizes,
        &inner,
        &mut out,
    );
    place_labels(g, &mut out);
    out
}

/// The size of an edge label's box.
pub fn label_size(label: &str) -> (f64, f64) {
    (
        text_width(&short_label(label), LABEL_FONT) + 6.0,
        LABEL_FONT + 4.0,
    )
}

/// Font size of edge labels.
pub const LABEL_FONT: f64 = 10.0;

/// Puts each label on its edge: the first of a few places along each segment that covers no
/// simple state and no label placed before; the picture widens for a label past its right side.
fn place_labels(g: &Graph, out: &mut Layout) {
    let obstacles: Vec<Rect> = g
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.is_container())
        .map(|(i, _)| out.nodes[i])
        .collect();
    let mut placed: Vec<Rect> = Vec::new();
    out.labels = vec![None; g.edges.len()];
    for (e, edge) in g.edges.iter().enumerate() {
        let Some(label) = edge.kind.label() else { continue };
        let (w, h) = label_size(&label);
        let points = &out.edges[e].points;
        let at = |(x, y): Point| Rect {
            x: (x - w / 2.0).max(0.0),
            y: y - h / 2.0,
            w,
            h,
        };
        let mut candidates = vec![at(out.edges[e].label_at)];
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            for t in [0.5, 0.3, 0.7, 0.15, 0.85] {
                candidates.push(at((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)));
            }
        }
        let free = |r: &Rect| !obstacles.iter().chain(&placed).any(|o| o.overlaps(r));
        let chosen = candidates
            .iter()
            .find(|r| free(r))
            .copied()
            .unwrap_or(candidates[0]);
        out.width = out.width.max(chosen.x + chosen.w + MARGIN);
        placed.push(chosen);
        out.labels[e] = Some(chosen);
    }
}

/// Which edges a scope's layout was given, so its routes can be handed back.
struct Items {
    /// Per route: the graph edge, or `None` for a start/end marker's edge.
    edges: Vec<Option<usize>>,
    has_end: bool,
}

#[allow(clippy::too_many_arguments)]
fn place(
    g: &Graph,
    scope: &Scope,
    sl: &ScopeLayout,
    items: &Items,
    origin: Point,
    sizes: &[(f64, f64)],
    inner: &[Vec<(Point, ScopeLayout)>],
    out: &mut Layout,
) {
    let shift = |p: Point| (p.0 + origin.0, p.1 + origin.1);
    for (local, &i) in scope.nodes.iter().enumerate() {
        let (x, y) = shift(sl.pos[local]);
        out.nodes[i] = Rect {
            x,
            y,
            w: sizes[i].0,
            h: sizes[i].1,
        };
        for (index, ((ox, oy), child)) in inner[i].iter().enumerate() {
            let rect = Rect {
                x: x + ox,
                y: y + oy,
                w: child.w + 2.0 * PAD,
                h: child.h + 2.0 * PAD,
            };
            out.scopes.push(ScopeBox { node: i, index, rect });
            let child_items = scope_items(g, &g.nodes[i].scopes[index], false);
            place(
                g,
                &g.nodes[i].scopes[index],
                child,
                &child_items,
                (rect.x + PAD, rect.y + PAD),
                sizes,
                inner,
                out,
            );
        }
    }
    for (route, edge) in sl.routes.iter().zip(&items.edges) {
        let moved = Route {
            points: route.points.iter().map(|&p| shift(p)).collect(),
            label_at: shift(route.label_at),
        };
        match edge {
            Some(e) => out.edges[*e] = moved,
            None => out.terminal_edges.push(moved),
        }
    }
}

/// The local edges of `scope`: its transitions, and with `terminals` start → `StartAt` and each
/// ending state → end. Local item indexes: the scope's nodes, then start, then end.
fn scope_edges(g: &Graph, scope: &Scope, terminals: bool) -> (Vec<(usize, usize)>, Items) {
    let local: HashMap<usize, usize> = scope.nodes.iter().enumerate().map(|(l, &i)| (i, l)).collect();
    let mut edges = Vec::new();
    let mut which = Vec::new();
    for (e, edge) in g.edges.iter().enumerate() {
        if let (Some(&a), Some(&b)) = (local.get(&edge.from), local.get(&edge.to)) {
            edges.push((a, b));
            which.push(Some(e));
        }
    }
    let k = scope.nodes.len();
    let mut has_end = false;
    if terminals {
        if let Some(s) = scope.start.and_then(|s| local.get(&s)) {
            edges.push((k, *s));
            which.push(None);
        }
        for (l, &i) in scope.nodes.iter().enumerate() {
            if g.nodes[i].end {
                edges.push((l, k + 1));
                which.push(None);
                has_end = true;
            }
        }
    }
    (
        edges,
        Items {
            edges: which,
            has_end,
        },
    )
}

fn scope_items(g: &Graph, scope: &Scope, terminals: bool) -> Items {
    scope_edges(g, scope, terminals).1
}

fn layered_scope(g: &Graph, scope: &Scope, sizes: &[(f64, f64)], terminals: bool) -> (ScopeLayout, Items) {
    let (edges, items) = scope_edges(g, scope, terminals);
    let mut item_sizes: Vec<(f64, f64)> = scope.nodes.iter().map(|&i| sizes[i]).collect();
    let k = item_sizes.len();
    let mut roots: Vec<usize> = scope
        .start
        .and_then(|s| scope.nodes.iter().position(|&i| i == s))
        .into_iter()
        .collect();
    let mut last = None;
    if terminals {
        item_sizes.push(TERMINAL);
        roots.insert(0, k);
        if items.has_end {
            item_sizes.push(TERMINAL);
            last = Some(k + 1);
        }
    }
    (layered(&item_sizes, &edges, &roots, last), items)
}

/// One vertex of the layered graph: an item or a dummy point of a long edge.
#[derive(Debug, Clone, Copy)]
struct Vertex {
    w: f64,
    h: f64,
    x: f64,
    y: f64,
    rank: usize,
}

/// The layered layout of items of `sizes` joined by `edges`, explored from `roots` first;
/// `last` (the end marker) goes below everything.
fn layered(
    sizes: &[(f64, f64)],
    edges: &[(usize, usize)],
    roots: &[usize],
    last: Option<usize>,
) -> ScopeLayout {
    let n = sizes.len();
    if n == 0 {
        return ScopeLayout::default();
    }
    let mut out_adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (e, &(a, _)) in edges.iter().enumerate() {
        out_adj[a].push(e);
    }
    // Depth-first from the roots, then every item left: an edge into an item on the stack loops back.
    let mut seen = vec![usize::MAX; n];
    let mut on_stack = vec![false; n];
    let mut back = vec![false; edges.len()];
    let mut counter = 0;
    let starts: Vec<usize> = roots.iter().copied().chain(0..n).collect();
    for s in starts {
        if seen[s] != usize::MAX {
            continue;
        }
        seen[s] = counter;
        counter += 1;
        on_stack[s] = true;
        let mut stack = vec![(s, 0usize)];
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&e) = out_adj[v].get(*next) {
                *next += 1;
                let w = edges[e].1;
                if on_stack[w] {
                    back[e] = true;
                } else if seen[w] == usize::MAX {
                    seen[w] = counter;
                    counter += 1;
                    on_stack[w] = true;
                    stack.push((w, 0));
                }
            } else {
                on_stack[v] = false;
                stack.pop();
            }
        }
    }
    // Longest path from the sources over the forward edges (Kahn's order).
    let mut indeg = vec![0usize; n];
    for (e, &(_, b)) in edges.iter().enumerate() {
        if !back[e] {
            indeg[b] += 1;
        }
    }
    let mut rank = vec![0usize; n];
    let mut queue: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    while let Some(v) = queue.pop() {
        for &e in &out_adj[v] {
            if back[e] {
                continue;
            }
            let w = edges[e].1;
            rank[w] = rank[w].max(rank[v] + 1);
            indeg[w] -= 1;
            if indeg[w] == 0 {
                queue.push(w);
            }
        }
    }
    if let Some(l) = last {
        let deepest = (0..n).filter(|&v| v != l).map(|v| rank[v]).max().unwrap_or(0);
        rank[l] = rank[l].max(deepest + 1);
    }
    // Vertices: the items, then dummies; each forward edge becomes a chain of vertices.
    let mut verts: Vec<Vertex> = (0..n)
        .map(|v| Vertex {
            w: sizes[v].0,
            h: sizes[v].1,
            x: 0.0,
            y: 0.0,
            rank: rank[v],
        })
        .collect();
    let mut key: Vec<f64> = seen.iter().map(|&s| s as f64).collect();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    for (e, &(a, b)) in edges.iter().enumerate() {
        let mut chain = vec![a];
        if !back[e] {
            for r in rank[a] + 1..rank[b] {
                verts.push(Vertex {
                    w: DUMMY_W,
                    h: 0.0,
                    x: 0.0,
                    y: 0.0,
                    rank: r,
                });
                key.push(seen[a] as f64 + 0.5 + e as f64 * 1e-6);
                chain.push(verts.len() - 1);
            }
        }
        chain.push(b);
        chains.push(chain);
    }
    let nv = verts.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); nv];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); nv];
    for (e, chain) in chains.iter().enumerate() {
        if back[e] {
            continue;
        }
        for pair in chain.windows(2) {
            succs[pair[0]].push(pair[1]);
            preds[pair[1]].push(pair[0]);
        }
    }
    let depth = verts.iter().map(|v| v.rank).max().unwrap_or(0) + 1;
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (v, vert) in verts.iter().enumerate() {
        layers[vert.rank].push(v);
    }
    for layer in &mut layers {
        layer.sort_by(|a, b| key[*a].total_cmp(&key[*b]));
    }
    order_layers(&mut layers, &preds, &succs);
    place_x(&mut layers, &mut verts, &preds, &succs);
    // y: each layer's vertices centred on the layer's middle.
    let mut y = 0.0;
    let mut layer_mid = vec![0.0; depth];
    for (r, layer) in layers.iter().enumerate() {
        let h = layer.iter().map(|&v| verts[v].h).fold(0.0, f64::max);
        layer_mid[r] = y + h / 2.0;
        for &v in layer {
            verts[v].y = y + (h - verts[v].h) / 2.0;
        }
        y += h + V_GAP;
    }
    let height = (y - V_GAP).max(0.0);
    let mut width = verts.iter().map(|v| v.x + v.w).fold(0.0, f64::max);
    // Forward edges leave a source's bottom and enter a target's top, spread by their neighbour's x.
    let cx = |v: &Vertex| v.x + v.w / 2.0;
    let mut out_port: HashMap<(usize, usize), f64> = HashMap::new();
    let mut in_port: HashMap<(usize, usize), f64> = HashMap::new();
    for v in 0..nv {
        let spread = |list: &Vec<usize>, map: &mut HashMap<(usize, usize), f64>, outgoing: bool| {
            let mut sorted = list.clone();
            sorted.sort_by(|a, b| verts[*a].x.total_cmp(&verts[*b].x));
            sorted.dedup();
            let k = sorted.len() as f64;
            let span = (verts[v].w * 0.6).min(24.0 * (k - 1.0));
            for (i, &o) in sorted.iter().enumerate() {
                let x = cx(&verts[v]) - span / 2.0 + if k > 1.0 { span * i as f64 / (k - 1.0) } else { 0.0 };
                let key = if outgoing { (v, o) } else { (o, v) };
                map.insert(key, x);
            }
        };
        if v < n {
            spread(&succs[v], &mut out_port, true);
            spread(&preds[v], &mut in_port, false);
        }
    }
    let mut lanes = 0usize;
    let routes = chains
        .iter()
        .enumerate()
        .map(|(e, chain)| {
            let (a, b) = (chain[0], chain[chain.len() - 1]);
            let (va, vb) = (verts[a], verts[b]);
            if back[e] {
                let lane = width + LANE * (lanes as f64 + 1.0);
                lanes += 1;
                let (ya, yb) = (va.y + va.h / 2.0, vb.y + vb.h / 2.0 - 6.0);
                let (ra, rb) = (va.x + va.w, vb.x + vb.w);
                let points = vec![(ra, ya), (lane, ya), (lane, yb), (rb, yb)];
                return Route {
                    label_at: (lane, (ya + yb) / 2.0),
                    points,
                };
            }
            let mut points = vec![(
                out_port.get(&(a, chain[1])).copied().unwrap_or(cx(&va)),
                va.y + va.h,
            )];
            for &d in &chain[1..chain.len() - 1] {
                points.push((cx(&verts[d]), layer_mid[verts[d].rank]));
            }
            points.push((
                in_port
                    .get(&(chain[chain.len() - 2], b))
                    .copied()
                    .unwrap_or(cx(&vb)),
                vb.y,
            ));
            let (p0, p1) = (points[0], points[1]);
            Route {
                label_at: ((p0.0 + p1.0) / 2.0, p0.1 + (V_GAP / 2.0).min((p1.1 - p0.1) / 2.0)),
                points,
            }
        })
        .collect();
    width += LANE * lanes as f64 + if lanes > 0 { LANE } else { 0.0 };
    ScopeLayout {
        w: width,
        h: height,
        pos: verts[..n].iter().map(|v| (v.x, v.y)).collect(),
        routes,
    }
}

/// Barycentre ordering: a few sweeps down and up, each layer sorted by the mean position of its
/// neighbours in the layer before.
fn order_layers(layers: &mut [Vec<usize>], preds: &[Vec<usize>], succs: &[Vec<usize>]) {
    let nv = preds.len();
    let mut pos = vec![0.0; nv];
    let index = |layers: &[Vec<usize>], pos: &mut Vec<f64>| {
        for layer in layers {
            for (i, &v) in layer.iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    };
    index(layers, &mut pos);
    for sweep in 0..8 {
        let down = sweep % 2 == 0;
        let order: Vec<usize> = if down {
            (1..layers.len()).collect()
        } else {
            (0..layers.len().saturating_sub(1)).rev().collect()
        };
        for r in order {
            let neighbours = if down { preds } else { succs };
            let bary: HashMap<usize, f64> = layers[r]
                .iter()
                .map(|&v| {
                    let ns = &neighbours[v];
                    let b = if ns.is_empty() {
                        pos[v]
                    } else {
                        ns.iter().map(|&u| pos[u]).sum::<f64>() / ns.len() as f64
                    };
                    (v, b)
                })
                .collect();
            layers[r].sort_by(|a, b| bary[a].total_cmp(&bary[b]));
            for (i, &v) in layers[r].iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    }
}

/// x positions: packed, then a few sweeps pulling each vertex under (or over) its neighbours,
/// pushing right to keep the order and the gaps, and shifting the layer back by the mean push.
fn place_x(layers: &mut [Vec<usize>], verts: &mut [Vertex], preds: &[Vec<usize>], succs: &[Vec<usize>]) {
    let gap = |a: &Vertex, b: &Vertex| if a.h == 0.0 && b.h == 0.0 { 8.0 } else { H_GAP };
    for layer in layers.iter() {
        let mut x = 0.0;
        for (i, &v) in layer.iter().enumerate() {
            if i > 0 {
                x += gap(&verts[layer[i - 1]], &verts[v]);
            }
            verts[v].x = x;
            x += verts[v].w;
        }
    }
    for sweep in 0..6 {
        let down = sweep % 2 == 0;
        let order: Vec<usize> = if down {
            (1..layers.len()).collect()
        } else {
            (0..layers.len().saturating_sub(1)).rev().collect()
        };
        for r in order {
            let neighbours = if down { preds } else { succs };
            let layer = &layers[r];
            let desired: Vec<f64> = layer
                .iter()
                .map(|&v| {
                    let ns = &neighbours[v];
                    if ns.is_empty() {
                        verts[v].x
                    } else {
                        let c =
                            ns.iter().map(|&u| verts[u].x + verts[u].w / 2.0).sum::<f64>() / ns.len() as f64;
                        c - verts[v].w / 2.0
                    }
                })
                .collect();
            let mut placed = desired.clone();
            for i in 1..layer.len() {
                let min = placed[i - 1] + verts[layer[i - 1]].w + gap(&verts[layer[i - 1]], &verts[layer[i]]);
                if placed[i] < min {
                    placed[i] = min;
                }
            }
            let push =
                placed.iter().zip(&desired).map(|(p, d)| p - d).sum::<f64>() / layer.len().max(1) as f64;
            for (i, &v) in layer.iter().enumerate() {
                verts[v].x = placed[i] - push;
            }
        }
    }
    let min = verts.iter().map(|v| v.x).fold(f64::INFINITY, f64::min);
    if min.is_finite() {
        for v in verts.iter_mut() {
            v.x -= min;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_do_not_overlap_and_nested_ones_sit_inside_their_container() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": true, "Next": "P"}], "Default": "C"},
            "P": {"Type": "Parallel", "Next": "C", "Branches": [
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "B2"}, "B2": {"Type": "Pass", "End": true}}},
                {"StartAt": "B3", "States": {"B3": {"Type": "Pass", "End": true}}}
            ]},
            "C": {"Type": "Wait", "Seconds": 1, "Next": "A"}
        }});
        let g = Graph::from_definition(&def);
        let l = layout(&g);
        for i in 0..g.nodes.len() {
            for j in i + 1..g.nodes.len() {
                let (a, b) = (l.nodes[i], l.nodes[j]);
                let nested = g.ancestors(j).contains(&i) || g.ancestors(i).contains(&j);
                assert_eq!(
                    a.overlaps(&b),
                    nested,
                    "{} {a:?} / {} {b:?}",
                    g.nodes[i].name,
                    g.nodes[j].name
                );
                if nested {
                    assert!(a.contains(&b) || b.contains(&a));
                }
            }
        }
        let (b1, b3) = (l.nodes[g.find("B1").unwrap()], l.nodes[g.find("B3").unwrap()]);
        assert_eq!(b1.y, b3.y, "branches side by side");
        assert!(l.nodes[g.find("C").unwrap()].y > l.nodes[g.find("P").unwrap()].y);
        assert!(l.start.y < l.nodes[g.find("A").unwrap()].y);
        assert!(l.end.is_none(), "nothing ends this machine");
        assert_eq!(l.terminal_edges.len(), 1);
        for (r, e) in l.edges.iter().zip(&g.edges) {
            assert!(r.points.len() >= 2, "{e:?}");
        }
        assert!(l.width > 0.0 && l.height > 0.0);
    }
}
