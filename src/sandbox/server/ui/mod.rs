//! The sandbox's web console, `/_sandbox/ui/` (SPEC §13): server-rendered HTML with inline SVG
//! graphs, no script, no framework, nothing loaded from the network. It reads the same store as
//! the API (and the runner's list of executions, EXPRESS ones included): there is no second
//! source of truth.
//!
//! Pages: `/_sandbox/ui/` (state machines, REST APIs, executions), `/_sandbox/ui/machine?arn=`
//! (the graph, versions, aliases, executions), `/_sandbox/ui/execution?arn=` (the path taken on
//! the graph, each state's input and output, the error and cause of a failed run),
//! `/_sandbox/ui/api?id=` (a REST API's stages and methods, and the invoke form, see [`api`]).
//!
//! Must not: change anything (the invoke form calls the invoke URL's own path, which may start an
//! execution), or answer AWS operations.

mod api;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::Value;

use super::Shared;
use crate::graph::Graph;
use crate::graph::svg::{Mark, Marks, escape, render_marked};

/// The console's routes.
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/_sandbox/ui",
            get(|| async { Redirect::permanent("/_sandbox/ui/") }),
        )
        .route("/_sandbox/ui/", get(index))
        .route("/_sandbox/ui/machine", get(machine))
        .route("/_sandbox/ui/execution", get(execution))
        .route("/_sandbox/ui/api", get(api::api))
        .route("/_sandbox/ui/invoke", post(api::invoke))
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top;font-size:14px}\
th{background:#f4f4f6}a{color:#0b5cad}pre{margin:0;white-space:pre-wrap;max-width:40em}\
.SUCCEEDED{color:#1a7f37}.FAILED,.TIMED_OUT,.ABORTED{color:#cf222e}.RUNNING{color:#0b5cad}\
.graph{overflow:auto;border:1px solid #eee;padding:.5em;margin-bottom:1em}";

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · sfn-operator sandbox</title>\
         <link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head><body>\n<p><a href=\"/_sandbox/ui/\">sfn-operator sandbox</a></p>\n<h1>{}</h1>\n{body}</body></html>\n",
        escape(title),
        escape(title)
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

fn not_found(what: &str) -> Response {
    let mut r = page("Not found", &format!("<p>{}</p>", escape(what)));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// `text` made safe for a query value.
fn query_escape(text: &str) -> String {
    let mut q = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
            q.push(char::from(b));
        } else {
            let _ = write!(q, "%{b:02X}");
        }
    }
    q
}

/// A link to the `kind` page (`machine`, `execution`) of `arn`.
fn link(kind: &str, arn: &str, text: &str) -> String {
    format!(
        "<a href=\"/_sandbox/ui/{kind}?arn={}\">{}</a>",
        escape(&query_escape(arn)),
        escape(text)
    )
}

/// A link to the REST API page of `id`.
fn api_link(id: &str, text: &str) -> String {
    format!(
        "<a href=\"/_sandbox/ui/api?id={}\">{}</a>",
        escape(&query_escape(id)),
        escape(text)
    )
}

fn date(secs: Option<f64>) -> String {
    match secs {
        Some(s) if s > 0.0 => {
            let days = (s / 86_400.0).floor() as i64;
            let rest = s - days as f64 * 86_400.0;
            let (y, m, d) = civil(days);
            let (h, min, sec) = (
                (rest / 3600.0) as u32,
                ((rest % 3600.0) / 60.0) as u32,
                rest % 60.0,
            );
            format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{sec:06.3}Z")
        }
        _ => "—".into(),
    }
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn json_cell(v: &Value) -> String {
    if v.is_null() {
        return "—".into();
    }
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    format!("<pre>{}</pre>", escape(&text))
}

/// Every execution the sandbox knows (STANDARD ones from the store, EXPRESS ones the runner kept).
fn executions(shared: &Shared) -> Vec<Value> {
    match shared
        .runner
        .sandbox_list()
        .get_mut("executions")
        .map(Value::take)
    {
        Some(Value::Array(all)) => all,
        _ => Vec::new(),
    }
}

fn executions_table(list: &[&Value], with_machine: bool) -> String {
    if list.is_empty() {
        return "<p>No executions yet.</p>\n".into();
    }
    let mut s = String::from("<table><tr><th>Execution</th>");
    if with_machine {
        s.push_str("<th>State machine</th>");
    }
    s.push_str("<th>Type</th><th>Status</th><th>Started</th><th>Stopped</th></tr>\n");
    for e in list.iter().rev() {
        let arn = e["executionArn"].as_str().unwrap_or_default();
        let status = e["status"].as_str().unwrap_or_default();
        let _ = write!(
            s,
            "<tr><td>{}</td>",
            link("execution", arn, e["name"].as_str().unwrap_or(arn))
        );
        if with_machine {
            let m = e["stateMachineArn"].as_str().unwrap_or_default();
            let name = m.rsplit(':').next().unwrap_or(m);
            let _ = write!(s, "<td>{}</td>", link("machine", m, name));
        }
        let _ = writeln!(
            s,
            "<td>{}</td><td class=\"{status}\">{status}</td><td>{}</td><td>{}</td></tr>",
            escape(e["type"].as_str().unwrap_or_default()),
            date(e["startDate"].as_f64()),
            date(e["stopDate"].as_f64()),
        );
    }
    s.push_str("</table>\n");
    s
}

/// `GET /_sandbox/ui/`.
async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let mut s = String::new();
    {
        let Ok(state) = shared.state.read() else {
            return not_found("the sandbox's state is unavailable");
        };
        s.push_str("<h2>State machines</h2>\n");
        if state.sfn.machines.is_empty() {
            s.push_str("<p>No state machines yet.</p>\n");
        } else {
            s.push_str("<table><tr><th>Name</th><th>Type</th><th>Versions</th><th>Aliases</th><th>Created</th></tr>\n");
            for m in state.sfn.machines.values() {
                let aliases: Vec<&str> = m.aliases.keys().map(String::as_str).collect();
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    link("machine", &m.arn, &m.name),
                    m.kind.as_str(),
                    m.versions.len(),
                    escape(&aliases.join(", ")),
                    date(Some(m.creation_date))
                );
            }
            s.push_str("</table>\n");
        }
        s.push_str("<h2>REST APIs</h2>\n");
        if state.apigw.rest_apis.is_empty() {
            s.push_str("<p>No REST APIs yet.</p>\n");
        } else {
            s.push_str("<table><tr><th>Name</th><th>Id</th><th>Methods</th><th>Stages</th></tr>\n");
            for api in &state.apigw.rest_apis {
                let id = api.info.get("id").and_then(Value::as_str).unwrap_or_default();
                let methods: Vec<String> = api
                    .resources
                    .iter()
                    .flat_map(|r| r.methods.keys().map(move |m| format!("{m} {}", r.path)))
                    .collect();
                let stages: Vec<&str> = api
                    .stages
                    .iter()
                    .filter_map(|st| st.get("stageName").and_then(Value::as_str))
                    .collect();
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    api_link(id, api.info.get("name").and_then(Value::as_str).unwrap_or(id)),
                    escape(id),
                    escape(&methods.join(", ")),
                    escape(&stages.join(", "))
                );
            }
            s.push_str("</table>\n");
        }
    }
    s.push_str("<h2>Executions</h2>\n");
    let all = executions(&shared);
    s.push_str(&executions_table(&all.iter().collect::<Vec<_>>(), true));
    page("Sandbox console", &s)
}

fn arn_of(q: &HashMap<String, String>) -> &str {
    q.get("arn").map(String::as_str).unwrap_or_default()
}

/// `GET /_sandbox/ui/machine?arn=`.
async fn machine(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let arn = arn_of(&q);
    let mut s = String::new();
    let name;
    {
        let Ok(state) = shared.state.read() else {
            return not_found("the sandbox's state is unavailable");
        };
        let Some(m) = state.sfn.machines.get(arn) else {
            return not_found(&format!("No state machine {arn}"));
        };
        name = m.name.clone();
        let definition: Value = serde_json::from_str(&m.definition).unwrap_or(Value::Null);
        let _ = writeln!(
            s,
            "<p>{} · <code>{}</code></p>\n<div class=\"graph\">{}</div>",
            m.kind.as_str(),
            escape(&m.arn),
            render_marked(&Graph::from_definition(&definition), &m.name, &Marks::default())
        );
        s.push_str("<h2>Versions</h2>\n");
        if m.versions.is_empty() {
            s.push_str("<p>No versions published.</p>\n");
        } else {
            s.push_str("<table><tr><th>Version</th><th>Description</th><th>Created</th></tr>\n");
            for v in m.versions.values().rev() {
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    v.number,
                    escape(v.description.as_deref().unwrap_or("")),
                    date(Some(v.creation_date))
                );
            }
            s.push_str("</table>\n");
        }
        s.push_str("<h2>Aliases</h2>\n");
        if m.aliases.is_empty() {
            s.push_str("<p>No aliases.</p>\n");
        } else {
            s.push_str("<table><tr><th>Alias</th><th>Routing</th><th>Updated</th></tr>\n");
            for a in m.aliases.values() {
                let routing: Vec<String> = a
                    .routing
                    .iter()
                    .map(|(v, w)| format!("version {v}: {w} %"))
                    .collect();
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&a.name),
                    escape(&routing.join(", ")),
                    date(Some(a.update_date))
                );
            }
            s.push_str("</table>\n");
        }
    }
    s.push_str("<h2>Executions</h2>\n");
    let all = executions(&shared);
    let mine: Vec<&Value> = all.iter().filter(|e| e["stateMachineArn"] == arn).collect();
    s.push_str(&executions_table(&mine, false));
    page(&name, &s)
}

/// What happened to each state in a run, from its history.
#[derive(Debug, Default)]
struct Visit {
    input: Value,
    output: Value,
    exited: bool,
    order: usize,
}

fn visits(history: &[Value]) -> BTreeMap<String, Visit> {
    let mut out: BTreeMap<String, Visit> = BTreeMap::new();
    for ev in history {
        let (Some(kind), Some(obj)) = (ev["type"].as_str(), ev.as_object()) else {
            continue;
        };
        let details = |key: &str| obj.get(key).cloned().unwrap_or(Value::Null);
        let parse = |v: &Value| match v.as_str() {
            Some(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())),
            None => v.clone(),
        };
        if kind.ends_with("StateEntered") {
            let d = details("stateEnteredEventDetails");
            let Some(name) = d["name"].as_str() else { continue };
            let n = out.len();
            let visit = out.entry(name.to_owned()).or_insert_with(|| Visit {
                order: n,
                ..Visit::default()
            });
            visit.input = parse(&d["input"]);
        } else if kind.ends_with("StateExited") {
            let d = details("stateExitedEventDetails");
            let Some(name) = d["name"].as_str() else { continue };
            if let Some(visit) = out.get_mut(name) {
                visit.output = parse(&d["output"]);
                visit.exited = true;
            }
        }
    }
    out
}

/// `GET /_sandbox/ui/execution?arn=`.
async fn execution(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let arn = arn_of(&q);
    let all = executions(&shared);
    let Some(e) = all.iter().find(|e| e["executionArn"] == arn) else {
        return not_found(&format!("No execution {arn}"));
    };
    let status = e["status"].as_str().unwrap_or_default();
    let machine_arn = e["stateMachineArn"].as_str().unwrap_or_default();
    // The definition it ran: a version's when started through one, else the machine's now.
    let definition: Value = {
        let Ok(state) = shared.state.read() else {
            return not_found("the sandbox's state is unavailable");
        };
        state
            .sfn
            .executions
            .get(arn)
            .map(|x| x.definition.clone())
            .or_else(|| state.sfn.machines.get(machine_arn).map(|m| m.definition.clone()))
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or(Value::Null)
    };
    let history = e["history"].as_array().cloned().unwrap_or_default();
    let visits = visits(&history);
    let graph = Graph::from_definition(&definition);
    let failed = matches!(status, "FAILED" | "TIMED_OUT" | "ABORTED");
    let marks = Marks {
        states: graph
            .nodes
            .iter()
            .map(|n| {
                let v = visits.get(&n.name)?;
                let (class, fill, stroke) = if v.exited {
                    ("succeeded", "#dafbe1", "#1a7f37")
                } else if failed {
                    ("failed", "#ffebe9", "#cf222e")
                } else {
                    ("running", "#ddf4ff", "#0969da")
                };
                Some(Mark {
                    class: class.into(),
                    fill: fill.into(),
                    stroke: stroke.into(),
                })
            })
            .collect(),
    };
    let name = e["name"].as_str().unwrap_or(arn);
    let machine_name = machine_arn.rsplit(':').next().unwrap_or(machine_arn);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<p>{} of {} · <span class=\"{status}\">{status}</span> · started {} · stopped {}</p>",
        escape(e["type"].as_str().unwrap_or_default()),
        link("machine", machine_arn, machine_name),
        date(e["startDate"].as_f64()),
        date(e["stopDate"].as_f64())
    );
    if !e["error"].is_null() || !e["cause"].is_null() {
        let _ = writeln!(
            s,
            "<table class=\"failure\"><tr><th>Error</th><td class=\"error\">{}</td></tr><tr><th>Cause</th><td class=\"cause\"><pre>{}</pre></td></tr></table>",
            escape(e["error"].as_str().unwrap_or("")),
            escape(e["cause"].as_str().unwrap_or(""))
        );
    }
    let _ = writeln!(
        s,
        "<div class=\"graph\">{}</div>",
        render_marked(&graph, name, &marks)
    );
    s.push_str("<h2>States</h2>\n<table><tr><th>State</th><th>Input</th><th>Output</th></tr>\n");
    let mut ordered: Vec<(&String, &Visit)> = visits.iter().collect();
    ordered.sort_by_key(|(_, v)| v.order);
    for (state, v) in ordered {
        let _ = writeln!(
            s,
            "<tr class=\"{}\" data-state=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
            if v.exited {
                "succeeded"
            } else if failed {
                "failed"
            } else {
                "running"
            },
            escape(state),
            escape(state),
            json_cell(&v.input),
            if v.exited {
                json_cell(&v.output)
            } else {
                "—".into()
            }
        );
    }
    s.push_str("</table>\n");
    let _ = writeln!(
        s,
        "<h2>Input</h2>{}<h2>Output</h2>{}",
        json_cell(&e["input"]),
        json_cell(&e["output"])
    );
    page(name, &s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(date(Some(0.5)), "1970-01-01 00:00:00.500Z");
        assert_eq!(date(Some(1_764_936_000.25)), "2025-12-05 12:00:00.250Z");
        assert_eq!(date(None), "—");
    }

    #[test]
    fn links_escape_the_arn() {
        assert_eq!(
            link("execution", "arn:aws:states:us-east-1:1:execution:m:a b&c", "x<y"),
            "<a href=\"/_sandbox/ui/execution?arn=arn:aws:states:us-east-1:1:execution:m:a%20b%26c\">x&lt;y</a>"
        );
    }
}
