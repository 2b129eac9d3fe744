//! The API's invoke URL (SPEC §7): `POST /restapis/{id}/{stage}/_user_request_/{path}` (or
//! `Host: {id}.execute-api.localhost` with `/{stage}/{path}`) runs what the stage's deployment
//! holds: the method, its request template ([`crate::vtl`]), the AWS service integration for
//! `states` actions, integration response selection by `selectionPattern` (matched against the
//! backend's status code, as API Gateway does for AWS integrations) and the response template.
//! A stage with a canary (`canarySettings`) sends `percentTraffic` % of requests to the canary's
//! deployment with its `stageVariableOverrides` (`$context.isCanaryRequest` says which).
//! The stage's `methodSettings` throttling (`RESOURCE_PATH/VERB`, else `*/*`) is enforced as
//! API Gateway does, a token bucket of `throttlingBurstLimit` tokens refilled at
//! `throttlingRateLimit` a second: past it, `429 {"message":"Too Many Requests"}`.

use std::future::Future;
use std::sync::RwLock;

use serde_json::{Map, Value, json};

use super::RequestContext;
use super::apigw::canary_serving;
use super::clock;
use super::protocol::{Outcome, Wire};
use super::store::{Resource, SandboxState};
use crate::vtl;

/// Where an AWS integration's Step Functions actions go: the server hands in the execution
/// runner, so that this module needs no other handler.
pub trait States {
    /// Whether `action` (`StartExecution`, ...) is one the backend serves.
    fn serves(&self, action: &str) -> bool;
    /// Carries out `action` with the integration request's `body`.
    fn call(&self, action: &str, body: &[u8], ctx: &RequestContext) -> impl Future<Output = Outcome> + Send;
}

/// One call of the invoke URL.
#[derive(Debug)]
pub struct Call<'a> {
    pub api_id: &'a str,
    pub stage: &'a str,
    /// The resource path, starting with `/`.
    pub path: &'a str,
    pub method: &'a str,
    pub query: &'a [(String, String)],
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    /// The id of this request (its answer's `x-amzn-RequestId`), `$context.requestId`.
    pub request_id: &'a str,
}

/// What the invoke URL answers.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

fn message(status: u16, text: &str) -> Answer {
    Answer {
        status,
        content_type: "application/json".into(),
        body: json!({"message": text}).to_string(),
    }
}

/// `(api id, stage, path)` of an invoke URL, from the path or the `Host` header.
pub fn parse_target<'a>(path: &'a str, host: Option<&'a str>) -> Option<(&'a str, &'a str, &'a str)> {
    if let Some(rest) = path.strip_prefix("/restapis/") {
        let (api, rest) = rest.split_once('/')?;
        let (stage, rest) = rest.split_once('/')?;
        let path = rest.strip_prefix("_user_request_")?;
        return Some((api, stage, if path.is_empty() { "/" } else { path }));
    }
    let host = host?.split(':').next()?;
    let api = host.strip_suffix(".execute-api.localhost")?;
    let rest = path.strip_prefix('/')?;
    let (stage, path) = match rest.split_once('/') {
        Some((stage, _)) => (stage, &rest[stage.len()..]),
        None => (rest, "/"),
    };
    (!api.is_empty() && !stage.is_empty()).then_some((api, stage, path))
}

/// Path parameters when `template` (`/items/{id}`, `/{proxy+}`) matches `path`.
fn match_path(template: &str, path: &str) -> Option<Map<String, Value>> {
    let t: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut params = Map::new();
    for (i, seg) in t.iter().enumerate() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            if i >= p.len() {
                return None;
            }
            params.insert(name.into(), json!(p[i..].join("/")));
            return Some(params);
        }
        let actual = p.get(i)?;
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                params.insert(name.into(), json!(actual));
            }
            None if seg == actual => {}
            None => return None,
        }
    }
    (t.len() == p.len()).then_some(params)
}

/// Runs one invoke-URL call: find the method the stage's deployment holds, render the request
/// template, call the backend, select the integration response and render its template.
pub async fn invoke(
    states: &impl States,
    state: &RwLock<SandboxState>,
    call: &Call<'_>,
    ctx: &RequestContext,
) -> Answer {
    let answer = async {
        let target = find(state, call)?;
        let integration = target
            .method
            .get("methodIntegration")
            .and_then(Value::as_object)
            .ok_or_else(internal_error)?;
        let mut input = template_input(
            call,
            ctx,
            target.path_params,
            &target.resource_path,
            target.stage_variables,
            target.canary,
        );
        let request_body = request_body(integration, &input, call)?;
        let (status, backend_body) = backend(states, integration, request_body, ctx).await?;
        respond(integration, status, backend_body, &mut input)
    };
    answer.await.unwrap_or_else(|refused| refused)
}

fn internal_error() -> Answer {
    message(500, "Internal server error")
}

/// The method a call reaches, and what its templates can read of the route.
struct Target {
    method: Value,
    path_params: Map<String, Value>,
    resource_path: String,
    stage_variables: Value,
    /// Whether the stage's canary serves this request (`$context.isCanaryRequest`).
    canary: bool,
}

/// The method of the stage's deployment that the call's path and HTTP method reach (literal
/// paths win over templated ones, as in API Gateway).
fn find(state: &RwLock<SandboxState>, call: &Call<'_>) -> Result<Target, Answer> {
    let state = state.read().map_err(|_| internal_error())?;
    let api = state
        .apigw
        .rest_apis
        .iter()
        .find(|a| a.info.get("id").and_then(Value::as_str) == Some(call.api_id))
        .ok_or_else(|| message(403, "Forbidden"))?;
    let stage = api
        .stages
        .iter()
        .find(|s| s.get("stageName").and_then(Value::as_str) == Some(call.stage))
        .ok_or_else(|| message(403, "Forbidden"))?;
    // The canary's deployment and variables for its share of requests, else the stage's.
    let (deployment, stage_variables, canary) = canary_serving(stage);
    let resources: &Vec<Resource> = api.snapshots.get(&deployment).unwrap_or(&api.resources);
    let mut candidates: Vec<(&Resource, Map<String, Value>)> = resources
        .iter()
        .filter_map(|r| match_path(&r.path, call.path).map(|p| (r, p)))
        .collect();
    candidates.sort_by_key(|(r, _)| r.path.matches('{').count());
    let (method, path_params, resource_path) = candidates
        .iter()
        .find_map(|(r, params)| {
            r.methods
                .get(call.method)
                .or_else(|| r.methods.get("ANY"))
                .map(|m| (m.clone(), params.clone(), r.path.clone()))
        })
        .ok_or_else(|| message(403, "Missing Authentication Token"))?;
    let verb = method
        .get("httpMethod")
        .and_then(Value::as_str)
        .unwrap_or(call.method);
    if let Some((key, rate, burst)) = throttling(stage, &resource_path, verb)
        && !take_token(&format!("{} {} {key}", call.api_id, call.stage), rate, burst)
    {
        return Err(message(429, "Too Many Requests"));
    }
    Ok(Target {
        method,
        path_params,
        resource_path,
        stage_variables,
        canary,
    })
}

/// The throttling that applies to `verb` on `resource_path` of a stage: the method's own
/// `methodSettings` entry (`pets/GET`), else the stage's `*/*`; `(key, rate, burst)`.
fn throttling(stage: &Map<String, Value>, resource_path: &str, verb: &str) -> Option<(String, f64, f64)> {
    let settings = stage.get("methodSettings")?.as_object()?;
    let own = format!("{}/{verb}", resource_path.trim_start_matches('/'));
    let (key, s) = [own.as_str(), "*/*"]
        .into_iter()
        .find_map(|k| settings.get(k).map(|s| (k.to_owned(), s)))?;
    let rate = s.get("throttlingRateLimit").and_then(Value::as_f64)?;
    let burst = s.get("throttlingBurstLimit").and_then(Value::as_f64)?;
    Some((key, rate, burst))
}

/// One token bucket per (API, stage, method setting): its tokens and when they were counted (ms).
static BUCKETS: std::sync::Mutex<std::collections::BTreeMap<String, (f64, i64)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Takes one token from the bucket `key` (created full: `burst` tokens, refilled at `rate` a
/// second, never above `burst`); `false` when it is empty.
fn take_token(key: &str, rate: f64, burst: f64) -> bool {
    let Ok(mut buckets) = BUCKETS.lock() else {
        return true;
    };
    let now = clock::now_ms();
    let (tokens, at) = buckets.entry(key.to_owned()).or_insert((burst, now));
    let elapsed = (now - *at).max(0) as f64 / 1000.0;
    *tokens = (*tokens + elapsed * rate).min(burst);
    *at = now;
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        true
    } else {
        false
    }
}

/// A request header, by name in any case.
fn header(call: &Call<'_>, name: &str) -> Option<String> {
    call.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// What the mapping templates read: `$input`, `$context`, `$stageVariables`.
fn template_input(
    call: &Call<'_>,
    ctx: &RequestContext,
    path_params: Map<String, Value>,
    resource_path: &str,
    stage_variables: Value,
    canary: bool,
) -> vtl::Input {
    vtl::Input {
        body: String::from_utf8_lossy(call.body).into_owned(),
        params: json!({
            "path": path_params,
            "querystring": call.query.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<_, _>>(),
            "header": call.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<_, _>>(),
        }),
        context: json!({
            "accountId": ctx.account_id, "apiId": call.api_id, "stage": call.stage,
            "httpMethod": call.method, "resourcePath": resource_path,
            "path": format!("/{}{}", call.stage, call.path), "requestId": call.request_id,
            "requestTimeEpoch": clock::now_ms(), "isCanaryRequest": canary, "domainName": format!("{}.execute-api.localhost", call.api_id),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": header(call, "user-agent").unwrap_or_default()},
        }),
        stage_variables,
    }
}

/// The integration request's body: the request template for the call's content type, or the
/// call's body as the passthrough behavior allows.
fn request_body(
    integration: &Map<String, Value>,
    input: &vtl::Input,
    call: &Call<'_>,
) -> Result<String, Answer> {
    let content_type = header(call, "content-type")
        .map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "application/json".into());
    let templates = integration.get("requestTemplates").and_then(Value::as_object);
    let template = templates
        .and_then(|t| t.get(&content_type))
        .and_then(Value::as_str);
    let passthrough = integration
        .get("passthroughBehavior")
        .and_then(Value::as_str)
        .unwrap_or("WHEN_NO_MATCH");
    match template {
        Some(t) => vtl::render(t, input).map_err(|e| {
            tracing::warn!(error = %e, "request template failed");
            internal_error()
        }),
        None => {
            let has_templates = templates.is_some_and(|t| !t.is_empty());
            let pass = match passthrough {
                "NEVER" => false,
                "WHEN_NO_TEMPLATES" => !has_templates,
                _ => true,
            };
            if !pass {
                return Err(message(415, "Unsupported Media Type"));
            }
            Ok(input.body.clone())
        }
    }
}

/// Calls the integration's backend: the status and body it answers.
async fn backend(
    states: &impl States,
    integration: &Map<String, Value>,
    request_body: String,
    ctx: &RequestContext,
) -> Result<(u16, String), Answer> {
    let kind = integration.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "MOCK" => {
            let status = serde_json::from_str::<Value>(&request_body)
                .ok()
                .and_then(|v| v.get("statusCode").and_then(Value::as_u64))
                .unwrap_or(200);
            Ok((status as u16, String::new()))
        }
        "AWS" => {
            let uri = integration.get("uri").and_then(Value::as_str).unwrap_or("");
            // arn:aws:apigateway:REGION:states:action/StartExecution
            let parts: Vec<&str> = uri.splitn(6, ':').collect();
            let (region, service, action) = match parts.as_slice() {
                ["arn", _, "apigateway", region, service, rest] => {
                    (*region, *service, rest.strip_prefix("action/").unwrap_or(rest))
                }
                _ => return Err(internal_error()),
            };
            if service != "states" || !states.serves(action) {
                tracing::warn!(%uri, "the sandbox serves AWS integrations with Step Functions execution actions only");
                return Err(internal_error());
            }
            let states_ctx = RequestContext {
                region: region.to_string(),
                account_id: ctx.account_id.clone(),
            };
            let outcome = states.call(action, request_body.as_bytes(), &states_ctx).await;
            let (status, body) = Wire::AwsJson10.json(&outcome);
            Ok((status, body.to_string()))
        }
        other => {
            tracing::warn!(kind = %other, "the sandbox does not run this integration type");
            Err(internal_error())
        }
    }
}

/// The answer: the integration response whose `selectionPattern` matches the backend's status
/// (else the default one), with its response template rendered over the backend's body.
fn respond(
    integration: &Map<String, Value>,
    backend_status: u16,
    backend_body: String,
    input: &mut vtl::Input,
) -> Result<Answer, Answer> {
    let responses = integration.get("integrationResponses").and_then(Value::as_object);
    let status_text = backend_status.to_string();
    let chosen = responses.and_then(|rs| {
        rs.values()
            .filter_map(Value::as_object)
            .find(|r| {
                r.get("selectionPattern")
                    .and_then(Value::as_str)
                    .filter(|p| !p.is_empty())
                    .and_then(|p| regex_lite::Regex::new(&format!("^(?:{p})$")).ok())
                    .is_some_and(|re| re.is_match(&status_text))
            })
            .or_else(|| {
                rs.values().filter_map(Value::as_object).find(|r| {
                    r.get("selectionPattern")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                })
            })
    });
    let chosen = chosen.ok_or_else(internal_error)?;
    let status = chosen
        .get("statusCode")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let response_template = chosen
        .get("responseTemplates")
        .and_then(Value::as_object)
        .and_then(|t| t.get("application/json").or_else(|| t.values().next()))
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty());
    let body = match response_template {
        Some(t) => {
            input.body = backend_body;
            vtl::render(t, input).map_err(|e| {
                tracing::warn!(error = %e, "response template failed");
                internal_error()
            })?
        }
        None => backend_body,
    };
    Ok(Answer {
        status,
        content_type: "application/json".into(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_paths() {
        assert_eq!(
            parse_target("/restapis/abc/prod/_user_request_/execution", None),
            Some(("abc", "prod", "/execution"))
        );
        assert_eq!(
            parse_target("/prod/execution", Some("abc.execute-api.localhost:4566")),
            Some(("abc", "prod", "/execution"))
        );
        assert_eq!(parse_target("/restapis/abc/resources", None), None);
        assert_eq!(parse_target("/prod/x", Some("127.0.0.1:4566")), None);
        assert_eq!(
            match_path("/items/{id}", "/items/7"),
            Some(json!({"id": "7"}).as_object().cloned().unwrap_or_default())
        );
        assert_eq!(
            match_path("/{proxy+}", "/a/b"),
            Some(json!({"proxy": "a/b"}).as_object().cloned().unwrap_or_default())
        );
        assert!(match_path("/execution", "/other").is_none());
        assert!(match_path("/", "/").is_some());
    }
}
