//! Pictures (SPEC §13): every corpus definition draws as an SVG that parses as XML, has one state
//! box per state and one edge per transition (counted here from the definition, independently of
//! the graph module), no two state boxes overlap unless one is the Parallel or Map holding the
//! other, and `rsvg-convert` turns it into a PNG; Graphviz's `dot` accepts the DOT (when it is
//! installed); the `graph` command draws the reference machine.

#[path = "common/corpus.rs"]
mod corpus;
#[path = "common/pictures.rs"]
mod shared;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use sfn_operator::asl::model;
use sfn_operator::graph::{Graph, svg, text};

/// An XML element, as far as these tests look.
#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<El>,
}

impl El {
    fn attr(&self, k: &str) -> &str {
        self.attrs.get(k).map(String::as_str).unwrap_or("")
    }

    fn classes(&self) -> BTreeSet<&str> {
        self.attr("class").split_whitespace().collect()
    }

    fn walk<'a>(&'a self, out: &mut Vec<&'a El>) {
        out.push(self);
        for c in &self.children {
            c.walk(out);
        }
    }

    fn num(&self, k: &str) -> f64 {
        self.attr(k)
            .parse()
            .unwrap_or_else(|_| panic!("<{}> {k}={:?} is not a number", self.name, self.attr(k)))
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Every `&` starts one of XML's five entities (or a character reference).
fn check_references(s: &str, place: &str) {
    for (i, _) in s.match_indices('&') {
        let rest = &s[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "{place}: bare & in {s:?}"
        );
    }
}

/// Parses `xml` into its root element, failing on anything not well-formed (tokens, nesting,
/// references).
fn parse(xml: &str, place: &str) -> El {
    let mut stack: Vec<El> = vec![El::default()];
    for token in xmlparser::Tokenizer::from(xml) {
        match token.unwrap_or_else(|e| panic!("{place}: not XML: {e}")) {
            xmlparser::Token::ElementStart { local, .. } => stack.push(El {
                name: local.to_string(),
                ..El::default()
            }),
            xmlparser::Token::Attribute { local, value, .. } => {
                check_references(value.as_str(), place);
                let el = stack.last_mut().expect("element");
                let old = el.attrs.insert(local.to_string(), unescape(value.as_str()));
                assert!(old.is_none(), "{place}: duplicate attribute {local}");
            }
            xmlparser::Token::ElementEnd { end, .. } => match end {
                xmlparser::ElementEnd::Open => {}
                xmlparser::ElementEnd::Empty => {
                    let el = stack.pop().expect("element");
                    stack.last_mut().expect("parent").children.push(el);
                }
                xmlparser::ElementEnd::Close(_, local) => {
                    let el = stack.pop().expect("element");
                    assert_eq!(el.name, local.as_str(), "{place}: mismatched close tag");
                    stack
                        .last_mut()
                        .unwrap_or_else(|| panic!("{place}: extra close"))
                        .children
                        .push(el);
                }
            },
            xmlparser::Token::Text { text } => check_references(text.as_str(), place),
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "{place}: unclosed elements");
    let mut doc = stack.pop().expect("document");
    assert_eq!(doc.children.len(), 1, "{place}: one root element");
    doc.children.pop().expect("root")
}

/// What the definition itself says, read without the graph module: every state name (all
/// scopes), and the number of transitions (Next, Default, each Choice rule, each Catch).
fn expected(def: &Value) -> (BTreeSet<String>, usize) {
    let states = model::states(def, 32);
    let names = states.iter().map(|s| s.name.to_owned()).collect();
    let mut transitions = 0;
    for s in &states {
        let has_next = |v: &Value| v.get("Next").is_some_and(Value::is_string);
        transitions += usize::from(has_next(&Value::Object(s.state.clone())));
        transitions += usize::from(s.state.get("Default").is_some_and(Value::is_string));
        for list in ["Choices", "Catch"] {
            if let Some(Value::Array(items)) = s.state.get(list) {
                transitions += items.iter().filter(|i| has_next(i)).count();
            }
        }
    }
    (names, transitions)
}

#[derive(Debug, Clone, Copy)]
struct Box4 {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Box4 {
    fn overlaps(&self, o: &Box4) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }
    fn contains(&self, o: &Box4) -> bool {
        o.x >= self.x && o.y >= self.y && o.x + o.w <= self.x + self.w && o.y + o.h <= self.y + self.h
    }
}

/// Checks one SVG against its definition; returns a failure description, if any.
fn check_svg(name: &str, def: &Value, svg_text: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let root = parse(svg_text, name);
    assert_eq!(root.name, "svg", "{name}");
    assert_eq!(root.attr("xmlns"), "http://www.w3.org/2000/svg", "{name}");
    let mut all = Vec::new();
    root.walk(&mut all);
    for el in &all {
        assert_ne!(el.name, "script", "{name}: a script");
        assert_ne!(el.name, "foreignObject", "{name}: foreign content");
        for (k, v) in &el.attrs {
            assert!(
                !k.ends_with("href") || v.starts_with('#'),
                "{name}: external reference {k}={v}"
            );
        }
    }
    let states: Vec<&El> = all
        .iter()
        .copied()
        .filter(|e| e.name == "g" && e.classes().contains("state"))
        .collect();
    let edges = all
        .iter()
        .filter(|e| e.name == "g" && e.classes().contains("edge"))
        .count();
    let (names, transitions) = expected(def);
    let drawn: BTreeSet<String> = states.iter().map(|s| s.attr("data-state").to_owned()).collect();
    if states.len() != names.len() || drawn != names {
        failures.push(format!(
            "{name}: {} state boxes for {} states (missing {:?})",
            states.len(),
            names.len(),
            names.difference(&drawn).collect::<Vec<_>>()
        ));
    }
    if edges != transitions {
        failures.push(format!("{name}: {edges} edges for {transitions} transitions"));
    }
    let boxes: Vec<(String, String, Box4)> = states
        .iter()
        .map(|s| {
            let r = s
                .children
                .iter()
                .find(|c| c.name == "rect")
                .expect("a state's rect");
            (
                s.attr("data-state").to_owned(),
                s.attr("data-parent").to_owned(),
                Box4 {
                    x: r.num("x"),
                    y: r.num("y"),
                    w: r.num("width"),
                    h: r.num("height"),
                },
            )
        })
        .collect();
    let parent: BTreeMap<&str, &str> = boxes.iter().map(|(n, p, _)| (n.as_str(), p.as_str())).collect();
    let is_ancestor = |a: &str, b: &str| is_ancestor(&parent, a, b);
    for (i, (na, _, a)) in boxes.iter().enumerate() {
        for (nb, _, b) in &boxes[i + 1..] {
            if !a.overlaps(b) {
                continue;
            }
            let nested = (is_ancestor(na, nb) && a.contains(b)) || (is_ancestor(nb, na) && b.contains(a));
            if !nested {
                failures.push(format!("{name}: {na:?} {a:?} overlaps {nb:?} {b:?}"));
            }
        }
    }
    failures
}

/// Whether `a` holds `b`, following the `data-parent` names.
fn is_ancestor<'a>(parent: &BTreeMap<&'a str, &'a str>, a: &str, mut b: &'a str) -> bool {
    while let Some(&p) = parent.get(b) {
        if p.is_empty() {
            return false;
        }
        if p == a {
            return true;
        }
        b = p;
    }
    false
}

/// `nK…` → what follows the id `nK`.
fn id_then(t: &str) -> Option<&str> {
    let rest = t.strip_prefix('n')?;
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    (digits > 0).then(|| &rest[digits..])
}

fn short(p: &Path) -> String {
    p.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

#[test]
fn every_corpus_definition_draws_one_box_per_state_and_one_edge_per_transition_without_overlap() {
    let all = corpus::corpus();
    assert_eq!(all.len(), 174, "corpus size");
    let started = Instant::now();
    let pictures: Vec<String> = all
        .iter()
        .map(|(p, def)| svg::render(&Graph::from_definition(def), &short(p)))
        .collect();
    let took = started.elapsed();
    eprintln!("rendered {} SVGs in {took:?}", pictures.len());
    let mut failures = Vec::new();
    let (mut states, mut edges) = (0, 0);
    for ((p, def), picture) in all.iter().zip(&pictures) {
        failures.extend(check_svg(&short(p), def, picture));
        let (n, t) = expected(def);
        states += n.len();
        edges += t;
    }
    eprintln!("{states} states and {edges} transitions checked");
    assert!(states > 1000 && edges > 1000, "the corpus is the big one");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Issue 24: under a second for all 174 (a debug build takes ~70 ms).
    assert!(took.as_secs_f64() < 1.0, "rendering took {took:?}");
}

#[test]
fn svg_text_is_escaped() {
    let def: Value = serde_json::json!({"StartAt": "A <&> \"b\"", "States": {
        "A <&> \"b\"": {"Type": "Choice", "Comment": "x < y & 'z'",
            "Choices": [{"Variable": "$.v", "StringEquals": "<&>", "Next": "C]]>"}], "Default": "C]]>"},
        "C]]>": {"Type": "Succeed"}
    }});
    let picture = svg::render(&Graph::from_definition(&def), "t&<");
    assert!(check_svg("escaped", &def, &picture).is_empty());
    let root = parse(&picture, "escaped");
    let mut all = Vec::new();
    root.walk(&mut all);
    let names: BTreeSet<&str> = all
        .iter()
        .map(|e| e.attr("data-state"))
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(names, BTreeSet::from(["A <&> \"b\"", "C]]>"]));
}

/// Runs `rsvg-convert` over every corpus SVG: each must become a PNG.
#[test]
fn rsvg_convert_turns_every_corpus_svg_into_a_png() {
    let Ok(version) = Command::new("rsvg-convert").arg("--version").output() else {
        panic!("rsvg-convert is not installed: scripts/test.sh installs it (Debian package librsvg2-bin)");
    };
    eprintln!("{}", String::from_utf8_lossy(&version.stdout).trim());
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (p, def) in corpus::corpus() {
        let name = short(&p);
        let input = dir.path().join(format!("{name}.svg"));
        let output = dir.path().join(format!("{name}.png"));
        std::fs::write(&input, svg::render(&Graph::from_definition(&def), &name)).unwrap();
        let out = Command::new("rsvg-convert")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .output()
            .unwrap();
        let png = std::fs::read(&output).unwrap_or_default();
        if !out.status.success() || !png.starts_with(b"\x89PNG\r\n\x1a\n") || png.len() < 1000 {
            failures.push(format!("{name}: {}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Graphviz's `dot` reads every corpus graph's DOT (skipped, saying so, without Graphviz).
#[test]
fn dot_accepts_every_corpus_graph() {
    if Command::new("dot").arg("-V").output().is_err() {
        eprintln!("SKIPPED: Graphviz's `dot` is not installed (Debian package graphviz)");
        return;
    }
    let mut failures = Vec::new();
    for (p, def) in corpus::corpus() {
        let name = short(&p);
        let mut child = Command::new("dot")
            .args(["-Tsvg", "-o", "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text::dot(&Graph::from_definition(&def), &name).as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            failures.push(format!("{name}: {}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The Mermaid text of every corpus definition declares each state once and draws each transition.
#[test]
fn mermaid_declares_every_state_and_transition() {
    for (p, def) in corpus::corpus() {
        let g = Graph::from_definition(&def);
        let m = text::mermaid(&g);
        let (names, transitions) = expected(&def);
        // `nK["…"]`, `nK{"…"}` or `subgraph nK […]` (a branch's subgraph is `nK_B`).
        let mut declared = 0;
        let mut arrows = 0;
        for line in m.lines() {
            let t = line.trim_start();
            let t2 = t.strip_prefix("subgraph ").unwrap_or(t);
            match id_then(t2) {
                Some(rest)
                    if rest.starts_with("[\"") || rest.starts_with("{\"") || rest.starts_with(" [\"") =>
                {
                    declared += 1
                }
                Some(rest)
                    if rest.starts_with(" --> n")
                        || rest.starts_with(" -->|")
                        || rest.starts_with(" -.-> n")
                        || rest.starts_with(" -.->|") =>
                {
                    arrows += 1
                }
                _ => {}
            }
        }
        assert_eq!(declared, names.len(), "{}:\n{m}", short(&p));
        assert_eq!(arrows, transitions, "{}:\n{m}", short(&p));
    }
}

#[test]
fn graph_command_draws_the_reference_machine_from_its_manifest() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = shared::sfn(root, &["graph", "manifests"]);
    assert_eq!(out.status.code(), Some(0));
    let picture = String::from_utf8(out.stdout).unwrap();
    let def = corpus::load(&root.join("manifests/parallel-processing.asl.yaml"));
    assert!(check_svg("reference", &def, &picture).is_empty());
    let svg_root = parse(&picture, "reference");
    let mut all = Vec::new();
    svg_root.walk(&mut all);
    let branches: Vec<&str> = all
        .iter()
        .filter(|e| e.attr("data-parent") == "Parallel")
        .map(|e| e.attr("data-state"))
        .collect();
    assert_eq!(branches, ["SumValues", "MaxMinValues", "AverageValues"]);

    let out = shared::sfn(
        root,
        &[
            "graph",
            "manifests",
            "--machine",
            "parallel-processing",
            "-o",
            "mermaid",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let m = String::from_utf8(out.stdout).unwrap();
    assert!(
        m.starts_with("flowchart TD\n") && m.contains("SumValues<br/>Task · Retry"),
        "{m}"
    );

    // An ASL file directly, written to --out.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.dot");
    let asl = root.join("manifests/parallel-processing.asl.yaml");
    let out = shared::sfn(
        root,
        &[
            "graph",
            asl.to_str().unwrap(),
            "-o",
            "dot",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let d = std::fs::read_to_string(&file).unwrap();
    assert!(d.starts_with("digraph \"parallel-processing\" {"), "{d}");

    // A machine that is not there is a usage error naming the ones that are.
    let out = shared::sfn(root, &["graph", "manifests", "--machine", "nope"]);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no state machine named \"nope\"; there are: parallel-processing"),
        "{err}"
    );
}

/// Runs Mermaid itself (`scripts/mermaid/check.mjs`, installed by scripts/test.sh into the peers
/// venv's `mermaid/`) over `files`; `None`, saying so, when this machine has no `node` at all.
/// Panics when the files are rejected, or when `node` is there but the install is missing.
fn mermaid_parses(files: &[std::path::PathBuf]) -> Option<()> {
    let out = mermaid_check(files)?;
    assert!(
        out.status.success(),
        "Mermaid rejected:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Some(())
}

/// What Mermaid says of `files` (see [`mermaid_parses`]).
fn mermaid_check(files: &[std::path::PathBuf]) -> Option<std::process::Output> {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: Node.js is not installed, so Mermaid cannot parse the Mermaid text here");
        return None;
    }
    let dir = shared::mermaid_dir();
    // Beside its node_modules (ES modules resolve from the script's place); one copy per caller.
    let script = dir.join(format!("check-{}-{}.mjs", std::process::id(), files.len()));
    std::fs::write(&script, include_str!("../scripts/mermaid/check.mjs")).unwrap();
    let out = Command::new("node")
        .arg(&script)
        .args(files)
        .output()
        .expect("run node");
    let _ = std::fs::remove_file(&script);
    eprintln!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out)
}

#[test]
fn mermaid_itself_parses_every_corpus_graph() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<std::path::PathBuf> = corpus::corpus()
        .iter()
        .map(|(p, def)| {
            let file = dir.path().join(format!("{}.mmd", short(p)));
            std::fs::write(&file, text::mermaid(&Graph::from_definition(def))).unwrap();
            file
        })
        .collect();
    assert_eq!(files.len(), 174);
    if mermaid_parses(&files).is_none() {
        return;
    }
    // The checker does reject: a label left open.
    let bad = dir.path().join("bad.mmd");
    std::fs::write(&bad, "flowchart TD\n  n0[\"a\"] -->|\"x| n1\n").unwrap();
    let out = mermaid_check(std::slice::from_ref(&bad)).expect("node");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("bad.mmd: Parse error"));
}

/// `diff -o markdown` after a definition change, against the in-process sandbox: the summary
/// table, the changed path with before → after, and the Mermaid graph giving the changed state
/// (inside a Parallel branch) the `changed` class and no other state a class.
#[test]
fn diff_markdown_marks_the_changed_state() {
    let dir = tempfile::tempdir().unwrap();
    let md = shared::diff_comment_after_change(dir.path());
    assert!(md.starts_with("<!-- sfn-operator diff -->\n"), "{md}");
    assert!(
        md.contains("| StateMachine/parallel-processing | update | Pending |"),
        "{md}"
    );
    assert!(
        md.contains("| ApiIntegration/start-execution | none | Synced |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| <code>definition.States.Parallel.Branches[0].States.SumValues.ResultSelector[\"sum.$\"]</code> \
             | <code>\"$.Payload.sum\"</code> | <code>\"$.Payload.total\"</code> |"
        ),
        "{md}"
    );
    let mermaid = shared::mermaid_block(&md);
    let id_of = |state: &str| {
        mermaid
            .lines()
            .map(str::trim_start)
            .find(|l| l.contains(&format!("[\"{state}<br/>")))
            .and_then(|l| l.split('[').next())
            .unwrap_or_else(|| panic!("{state} not declared:\n{mermaid}"))
            .trim_start_matches("subgraph ")
            .trim()
            .to_owned()
    };
    let sum = id_of("SumValues");
    let class_lines: Vec<&str> = mermaid
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("class "))
        .collect();
    assert_eq!(class_lines, [format!("class {sum} changed")], "{mermaid}");
    assert!(mermaid.contains("classDef changed "), "{mermaid}");
    for other in ["MaxMinValues", "AverageValues", "Parallel"] {
        assert!(
            !mermaid.contains(&format!("style {} ", id_of(other))),
            "{other}: {mermaid}"
        );
    }
    // Mermaid itself reads the graph, classes included.
    let file = dir.path().join("comment.mmd");
    std::fs::write(&file, mermaid).unwrap();
    mermaid_parses(&[file]);
    // The other formats are as they were.
    let out = shared::sfn(dir.path(), &["diff", "--sandbox", "-q", "-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["update"], 1);
}

/// docs/images/reference.svg (the README's picture) is what `graph` draws of the reference
/// machine now; `SFN_OPERATOR_BLESS_DOCS=1 cargo test --test pictures` rewrites it.
#[test]
fn the_readme_picture_is_the_reference_machine_as_drawn_now() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = shared::sfn(root, &["graph", "manifests", "--machine", "parallel-processing"]);
    assert_eq!(out.status.code(), Some(0));
    let drawn = String::from_utf8(out.stdout).unwrap();
    let path = root.join("docs/images/reference.svg");
    if std::env::var_os("SFN_OPERATOR_BLESS_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &drawn).unwrap();
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == drawn,
        "docs/images/reference.svg differs from `sfn-operator graph manifests`; run \
         `SFN_OPERATOR_BLESS_DOCS=1 cargo test --test pictures` and commit it"
    );
}
