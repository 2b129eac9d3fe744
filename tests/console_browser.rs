//! The pictures in a real headless browser (SPEC §13): Debian's chromium, driven over the W3C
//! WebDriver protocol by chromedriver (tests/common/webdriver.rs), both installed by
//! scripts/test.sh.
//!
//! - The sandbox's console, against a sandbox that ran the reference system and a machine whose
//!   Task stand-in throws (tests/common/console.rs): the machine's page draws the graph (a box
//!   per state, laid out, the three branches side by side), the reference run's page marks every
//!   state succeeded (green, as the browser computes it), the failed run's page marks the failing
//!   state and shows its error and cause as text; the invoke form, typed into and submitted in the
//!   browser, starts an execution that then appears in the machine's list and succeeds with what
//!   was typed. The browser logs no error on any page (and does log one a page really throws).
//! - `diff -o markdown` after a definition change: the comment's Markdown (marked) and its
//!   Mermaid graph (mermaid.min.js from the npm package scripts/test.sh installed, loaded from
//!   disk: nothing is downloaded) rendered in chromium; the render succeeds and the changed
//!   state's node carries the `changed` class and colour, no other state's does; a broken graph
//!   is rejected.
//!
//! Screenshots of each page are kept under `$CARGO_TARGET_DIR/test-artifacts/console_browser/`
//! (paths printed); with `SFN_OPERATOR_BLESS_DOCS=1` the README's two are copied to docs/images/.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
#[path = "common/console.rs"]
mod console;
#[path = "common/pictures.rs"]
mod pictures;
#[path = "common/webdriver.rs"]
mod webdriver;

use console::{REFERENCE, link_to};
use webdriver::{Browser, WAIT, artifacts};

/// Keeps a screenshot for the README too, when asked to (`SFN_OPERATOR_BLESS_DOCS=1`).
fn bless(screenshot: &Path, name: &str) {
    if std::env::var_os("SFN_OPERATOR_BLESS_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/images")
            .join(name);
        std::fs::copy(screenshot, &docs).expect("copy to docs/images");
        eprintln!("blessed {}", docs.display());
    }
}

/// Each state box of the page's graph, as the browser laid it out: name, parent, classes,
/// position and size on the page, and the fill the browser computes for its box.
async fn state_boxes(browser: &Browser) -> Vec<Value> {
    let boxes = browser
        .script(
            "return [...document.querySelectorAll('svg g.state[data-state]')].map(g => {
               const rect = g.querySelector('rect');
               const r = rect.getBoundingClientRect();
               return {state: g.dataset.state, parent: g.dataset.parent || null,
                       classes: g.getAttribute('class').split(/\\s+/),
                       x: r.x, y: r.y, w: r.width, h: r.height,
                       fill: getComputedStyle(rect).fill};
             });",
            json!([]),
        )
        .await;
    boxes.as_array().cloned().unwrap_or_default()
}

fn find<'a>(boxes: &'a [Value], state: &str) -> &'a Value {
    boxes
        .iter()
        .find(|b| b["state"] == state)
        .unwrap_or_else(|| panic!("no box for {state}: {boxes:?}"))
}

fn has_class(b: &Value, class: &str) -> bool {
    b["classes"]
        .as_array()
        .is_some_and(|c| c.iter().any(|x| x == class))
}

/// The text of the first element `css` matches, once there is one.
async fn text_of(browser: &Browser, css: &str) -> String {
    let e = browser.wait_for(css).await;
    browser.text(&e).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_chromium_draws_runs_on_the_graph_and_its_form_starts_an_execution() {
    let ran = console::reference_and_boom().await;
    let url = ran.url.clone();
    let shots = artifacts("console_browser");
    let browser = Browser::start(1280, 900).await;

    // The index: both machines and the REST API, as links.
    browser.go(&format!("{url}/_sandbox/ui/")).await;
    assert_eq!(text_of(&browser, "h1").await, "Sandbox console");
    for href in [link_to("machine", REFERENCE), link_to("machine", &ran.boom)] {
        browser.wait_for(&format!("a[href=\"{href}\"]")).await;
    }
    browser.screenshot(None, &shots.join("console-index.png")).await;
    browser.assert_no_console_errors("the index").await;

    // The reference machine's page: its graph, one laid-out box per state, the three branches
    // side by side inside the Parallel box.
    browser
        .go(&format!("{url}{}", link_to("machine", REFERENCE)))
        .await;
    browser.wait_for("div.graph svg g.state").await;
    let boxes = state_boxes(&browser).await;
    let mut names: Vec<&str> = boxes.iter().filter_map(|b| b["state"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["AverageValues", "MaxMinValues", "Parallel", "SumValues"]);
    let parallel = find(&boxes, "Parallel");
    let branches: Vec<&Value> = ["SumValues", "MaxMinValues", "AverageValues"]
        .iter()
        .map(|s| find(&boxes, s))
        .collect();
    for b in &branches {
        assert!(
            b["w"].as_f64() > Some(20.0) && b["h"].as_f64() > Some(10.0),
            "{b}"
        );
        assert_eq!(b["parent"], "Parallel", "{b}");
        assert_eq!(b["y"], branches[0]["y"], "side by side: {b}");
        let (px, pw) = (parallel["x"].as_f64().unwrap(), parallel["w"].as_f64().unwrap());
        let (x, w) = (b["x"].as_f64().unwrap(), b["w"].as_f64().unwrap());
        assert!(
            px < x && x + w < px + pw,
            "inside the Parallel box: {b} {parallel}"
        );
    }
    for pair in branches.windows(2) {
        let left_end = pair[0]["x"].as_f64().unwrap() + pair[0]["w"].as_f64().unwrap();
        assert!(left_end < pair[1]["x"].as_f64().unwrap(), "{pair:?}");
    }
    browser
        .wait_for(&format!("a[href=\"{}\"]", link_to("execution", &ran.express_arn)))
        .await;
    browser.screenshot(None, &shots.join("console-machine.png")).await;
    browser.assert_no_console_errors("the machine page").await;

    // The reference run: every state marked succeeded, and drawn green.
    browser
        .go(&format!("{url}{}", link_to("execution", &ran.express_arn)))
        .await;
    browser.wait_for("div.graph svg g.state.succeeded").await;
    let boxes = state_boxes(&browser).await;
    for state in ["Parallel", "SumValues", "MaxMinValues", "AverageValues"] {
        let b = find(&boxes, state);
        assert!(has_class(b, "succeeded"), "{b}");
        assert_eq!(b["fill"], "rgb(218, 251, 225)", "#dafbe1: {b}");
    }
    let sum = text_of(&browser, "tr[data-state=\"SumValues\"]").await;
    assert!(sum.contains("\"sum\": 6"), "{sum}");
    let shot = shots.join("console-execution.png");
    browser.screenshot(None, &shot).await;
    bless(&shot, "console-execution.png");
    browser.assert_no_console_errors("the reference run's page").await;

    // The failed run: Prepare succeeded, Explode failed (red); the error and cause as text.
    browser
        .go(&format!("{url}{}", link_to("execution", &ran.failed_arn)))
        .await;
    browser.wait_for("div.graph svg g.state.failed").await;
    let boxes = state_boxes(&browser).await;
    assert!(has_class(find(&boxes, "Prepare"), "succeeded"), "{boxes:?}");
    let explode = find(&boxes, "Explode");
    assert!(has_class(explode, "failed"), "{explode}");
    assert_eq!(explode["fill"], "rgb(255, 235, 233)", "#ffebe9: {explode}");
    assert_eq!(text_of(&browser, "td.error").await, "Boom.Error");
    assert_eq!(text_of(&browser, "td.cause").await, "it <broke> & stopped");
    assert_eq!(text_of(&browser, "p span.FAILED").await, "FAILED");
    browser.screenshot(None, &shots.join("console-failed.png")).await;
    browser.assert_no_console_errors("the failed run's page").await;

    // The invoke form: typed into and submitted in the browser.
    browser.go(&format!("{url}/_sandbox/ui/")).await;
    let api_link = browser
        .wait_for(&format!("a[href=\"/_sandbox/ui/api?id={}\"]", ran.api))
        .await;
    browser.click(&api_link).await;
    let form = "form.invoke[data-method=\"POST\"][data-path=\"/execution\"]";
    let body = browser.wait_for(&format!("{form} textarea[name=\"body\"]")).await;
    browser.clear(&body).await;
    browser.type_text(&body, r#"{"values": [10, 20, 30]}"#).await;
    browser.screenshot(None, &shots.join("console-api.png")).await;
    let submit = browser.wait_for(&format!("{form} button[type=\"submit\"]")).await;
    browser.click(&submit).await;
    let started = browser.wait_for("p.started a").await;
    let href = browser.attribute(&started, "href").await;
    let arn = href
        .split("arn=")
        .nth(1)
        .map(|a| a.replace("%20", " "))
        .unwrap_or_else(|| panic!("a link to the execution: {href}"));
    assert_eq!(text_of(&browser, "span.status").await, "200");
    browser.screenshot(None, &shots.join("console-invoked.png")).await;
    browser
        .assert_no_console_errors("the invoke form and its answer")
        .await;
    // It appears in the machine's list (the page reloaded until it does) and succeeds with the
    // values typed.
    let row = format!("a[href=\"{}\"]", link_to("execution", &arn));
    let deadline = Instant::now() + WAIT;
    loop {
        browser
            .go(&format!("{url}{}", link_to("machine", REFERENCE)))
            .await;
        if !browser.find_all(&row).await.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{arn} not in the machine's list");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let e = common::finished(&url, &arn).await;
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    assert_eq!(e["input"], json!({"values": [10, 20, 30]}), "{e}");
    let link = browser.wait_for(&row).await;
    browser.click(&link).await;
    let sum = text_of(&browser, "tr[data-state=\"SumValues\"]").await;
    assert!(sum.contains("\"sum\": 60"), "{sum}");
    browser.assert_no_console_errors("the invoked run's page").await;

    // The console check itself sees an error a page throws.
    browser
        .go("data:text/html,<script>console.error('probe-error')</script>")
        .await;
    let logged = browser.console().await;
    assert!(
        logged
            .iter()
            .any(|(level, m)| level == "SEVERE" && m.contains("probe-error")),
        "{logged:?}"
    );
    drop(browser);
    ran.sandbox.shutdown().await;
}

/// Renders `md` into `#comment` of the loaded page: marked for the Markdown, each ```mermaid
/// block by Mermaid; per block `{ok}` or `{ok: false, error}`.
const RENDER: &str = "const [md, done] = arguments;
(async () => {
  mermaid.initialize({startOnLoad: false});
  const root = document.getElementById('comment');
  root.innerHTML = marked.parse(md);
  const out = [];
  let i = 0;
  for (const code of [...root.querySelectorAll('code.language-mermaid')]) {
    try {
      const r = await mermaid.render('mermaid-' + i++, code.textContent);
      const div = document.createElement('div');
      div.className = 'mermaid';
      div.innerHTML = r.svg;
      code.parentElement.replaceWith(div);
      out.push({ok: true});
    } catch (e) {
      out.push({ok: false, error: String((e && e.message) || e)});
    }
  }
  return out;
})().then(done, e => done([{ok: false, error: String(e)}]));";

/// GitHub-like styles for the comment's screenshot.
const COMMENT_STYLE: &str = "body{font-family:-apple-system,'Segoe UI',sans-serif;color:#1f2328;margin:0;padding:16px;background:#fff}\
#comment{border:1px solid #d0d7de;border-radius:6px;padding:16px 24px;max-width:1000px;font-size:14px;line-height:1.5}\
table{border-collapse:collapse;margin:8px 0 16px;display:block;width:max-content;max-width:100%;overflow:auto}td,th{border:1px solid #d0d7de;padding:6px 13px}\
th{background:#f6f8fa}code{background:#eff1f3;border-radius:4px;padding:.1em .3em;font-size:85%}\
.mermaid{text-align:center;margin:8px 0}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mermaid_renders_the_diff_comment_in_chromium_with_the_changed_state_marked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let md = tokio::task::spawn_blocking(move || pictures::diff_comment_after_change(&d))
        .await
        .expect("join");
    // The page loads Mermaid and marked from disk, as the npm packages ship them.
    let modules = pictures::mermaid_dir().join("node_modules");
    let page = dir.path().join("comment.html");
    std::fs::write(
        &page,
        format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">\
             <style>{COMMENT_STYLE}</style></head><body><div id=\"comment\"></div>\
             <script src=\"file://{}\"></script><script src=\"file://{}\"></script></body></html>",
            modules.join("marked/lib/marked.umd.js").display(),
            modules.join("mermaid/dist/mermaid.min.js").display()
        ),
    )
    .unwrap();
    let browser = Browser::start(1100, 1400).await;
    browser.go(&format!("file://{}", page.display())).await;
    let loaded = browser
        .script("return [typeof marked, typeof mermaid];", json!([]))
        .await;
    assert_eq!(loaded, json!(["object", "object"]), "marked and Mermaid loaded");
    let rendered = browser.script_async(RENDER, json!([md])).await;
    assert_eq!(rendered, json!([{"ok": true}]), "one Mermaid graph, rendered");
    browser.assert_no_console_errors("rendering the comment").await;

    // Each state's node in the rendered SVG: the changed one carries the class and its colour.
    let nodes = browser
        .script(
            "return [...document.querySelectorAll('.mermaid svg g.node')].map(n => {
               const shape = n.querySelector('rect, polygon, circle, path');
               return {text: n.textContent, classes: n.getAttribute('class').split(/\\s+/),
                       fill: shape ? getComputedStyle(shape).fill : null};
             });",
            json!([]),
        )
        .await;
    let nodes = nodes.as_array().cloned().unwrap_or_default();
    let node = |state: &str| -> Value {
        nodes
            .iter()
            .find(|n| n["text"].as_str().is_some_and(|t| t.starts_with(state)))
            .cloned()
            .unwrap_or_else(|| panic!("no node {state}: {nodes:?}"))
    };
    let sum = node("SumValues");
    assert!(has_class(&sum, "changed"), "{sum}");
    assert_eq!(sum["fill"], "rgb(255, 248, 197)", "#fff8c5: {sum}");
    for other in ["MaxMinValues", "AverageValues", "Start", "End"] {
        let n = node(other);
        assert!(!has_class(&n, "changed"), "{n}");
    }
    let rows = browser
        .script(
            "return [...document.querySelector('#comment table').rows]
               .map(r => [...r.cells].map(c => c.textContent.trim()).join(' | '));",
            json!([]),
        )
        .await;
    assert!(
        rows.as_array().is_some_and(|r| r
            .iter()
            .any(|r| r == "StateMachine/parallel-processing | update | Pending")),
        "{rows}"
    );
    let shots = artifacts("console_browser");
    let comment = browser.wait_for("#comment").await;
    let shot = shots.join("diff-comment.png");
    browser.screenshot(Some(&comment), &shot).await;
    bless(&shot, "diff-comment.png");

    // Mermaid in the browser does reject a broken graph.
    let broken = "```mermaid\nflowchart TD\n  n0[\"a\"] -->|\"x| n1\n```\n";
    let rendered = browser.script_async(RENDER, json!([broken])).await;
    assert_eq!(rendered[0]["ok"], false, "{rendered}");
    assert!(
        rendered[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("Parse error")),
        "{rendered}"
    );
}
