//! The console's REST API page, `/_sandbox/ui/api?id=`, and its invoke form (SPEC §13): the
//! API's methods and stages, and per method a plain HTML form (no script) that posts to
//! `/_sandbox/ui/invoke`. That endpoint runs the call through the invoke URL's own path
//! ([`invoke::invoke`]: the stage's deployment, templates, integration), counted as an
//! `execute-api` `Invoke` as a request to the invoke URL is, and shows the answer, with a link
//! to the execution it started.
//!
//! Must not: write the store itself, or invoke anything but what the form names.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Extension, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::super::RequestContext;
use super::super::super::invoke;
use super::super::gate::{self, Call};
use super::super::{RequestId, Shared, region_of};
use super::{api_link, json_cell, link, not_found, page};
use crate::graph::svg::escape;

/// A text field of a stored object.
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `GET /_sandbox/ui/api?id=`.
pub(super) async fn api(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let id = q.get("id").map(String::as_str).unwrap_or_default();
    let Ok(state) = shared.state.read() else {
        return not_found("the sandbox's state is unavailable");
    };
    let Some(api) = state.apigw.rest_apis.iter().find(|a| field(&a.info, "id") == id) else {
        return not_found(&format!("No REST API {id}"));
    };
    let name = field(&api.info, "name").to_owned();
    let stages: Vec<&str> = api
        .stages
        .iter()
        .map(|st| field(st, "stageName"))
        .filter(|s| !s.is_empty())
        .collect();
    let mut s = format!("<p>REST API <code>{}</code></p>\n", escape(id));
    s.push_str("<h2>Stages</h2>\n");
    if api.stages.is_empty() {
        s.push_str("<p>No stages: deploy one to invoke the API.</p>\n");
    } else {
        s.push_str("<table><tr><th>Stage</th><th>Deployment</th><th>Variables</th><th>Canary</th><th>Invoke URL</th></tr>\n");
        for st in &api.stages {
            let stage = field(st, "stageName");
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>/restapis/{}/{}/_user_request_/</code></td></tr>",
                escape(stage),
                escape(field(st, "deploymentId")),
                json_cell(st.get("variables").unwrap_or(&Value::Null)),
                json_cell(st.get("canarySettings").unwrap_or(&Value::Null)),
                escape(id),
                escape(stage)
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("<h2>Methods</h2>\n");
    let methods: Vec<(&str, &str, &Value)> = api
        .resources
        .iter()
        .flat_map(|r| {
            r.methods
                .iter()
                .map(move |(m, v)| (m.as_str(), r.path.as_str(), v))
        })
        .collect();
    if methods.is_empty() {
        s.push_str("<p>No methods yet.</p>\n");
    }
    for (method, path, object) in methods {
        let integration = &object["methodIntegration"];
        let _ = writeln!(
            s,
            "<h3>{} {}</h3>\n<p>{} integration <code>{}</code></p>",
            escape(method),
            escape(path),
            escape(integration["type"].as_str().unwrap_or("no")),
            escape(integration["uri"].as_str().unwrap_or_default())
        );
        if stages.is_empty() {
            continue;
        }
        let options: String = stages
            .iter()
            .map(|st| format!("<option>{}</option>", escape(st)))
            .collect();
        let _ = writeln!(
            s,
            "<form class=\"invoke\" method=\"post\" action=\"/_sandbox/ui/invoke\" data-method=\"{m}\" data-path=\"{p}\">\
             <input type=\"hidden\" name=\"api\" value=\"{i}\"><input type=\"hidden\" name=\"method\" value=\"{m}\">\
             <label>Stage <select name=\"stage\">{options}</select></label> \
             <label>Path <input name=\"path\" value=\"{p}\" size=\"30\"></label><br>\
             <label>Body (application/json)<br><textarea name=\"body\" rows=\"5\" cols=\"60\">{{}}</textarea></label><br>\
             <button type=\"submit\">Invoke {m} {p}</button></form>",
            m = escape(method),
            p = escape(path),
            i = escape(id),
        );
    }
    drop(state);
    page(&name, &s)
}

/// What the invoke form posts.
#[derive(Debug, Deserialize)]
pub(super) struct InvokeForm {
    api: String,
    stage: String,
    method: String,
    path: String,
    #[serde(default)]
    body: String,
}

/// `POST /_sandbox/ui/invoke`: the form's call, through the invoke URL's path.
pub(super) async fn invoke(
    State(shared): State<Arc<Shared>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Form(form): Form<InvokeForm>,
) -> Response {
    let path = if form.path.starts_with('/') {
        form.path.clone()
    } else {
        format!("/{}", form.path)
    };
    let ctx = RequestContext {
        region: region_of(&headers),
        account_id: shared.account_id.clone(),
    };
    let call = invoke::Call {
        api_id: &form.api,
        stage: &form.stage,
        path: &path,
        method: &form.method,
        query: &[],
        headers: vec![("content-type".into(), "application/json".into())],
        body: form.body.as_bytes(),
        request_id: request_id.0.to_str().unwrap_or_default(),
    };
    let counted =
        Call::new(&ctx.region, &path, form.body.as_bytes(), None).unguarded("execute-api", "Invoke", true);
    gate::run(&shared, counted, async {
        let answer = invoke::invoke(&shared.runner, &shared.state, &call, &ctx).await;
        let mut s = format!(
            "<p>{} {} on stage {} of {} answered <span class=\"status\">{}</span> ({})</p>\n",
            escape(&form.method),
            escape(&path),
            escape(&form.stage),
            api_link(&form.api, &form.api),
            answer.status,
            escape(&answer.content_type)
        );
        let body: Value =
            serde_json::from_str(&answer.body).unwrap_or_else(|_| Value::String(answer.body.clone()));
        if let Some(arn) = body.get("executionArn").and_then(Value::as_str) {
            // arn:aws:states:REGION:ACCOUNT:execution|express:MACHINE:NAME[:ID]
            let name = arn.split(':').nth(7).unwrap_or(arn);
            let _ = writeln!(
                s,
                "<p class=\"started\">Started execution {}</p>",
                link("execution", arn, name)
            );
        }
        let _ = writeln!(s, "<h2>Response</h2>{}", json_cell(&body));
        page("Invoked", &s)
    })
    .await
}
