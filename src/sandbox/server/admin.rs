//! The sandbox's own endpoints, `/_sandbox/*` (SPEC §7): request counts and their reset, the
//! fault configuration, executions, and quotas. Plain JSON, never counted, never faulted.
//!
//! Must not: answer AWS operations or change the sandbox's AWS state.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{MethodRouter, any};
use serde_json::{Value, json};

use super::super::faults::{FaultConfig, Faults};
use super::super::protocol::{Reply, ServiceError, Wire};
use super::gate::Counts;
use super::{Shared, read_body};

/// The `/_sandbox/*` routes; any other method or path under it is an unknown endpoint.
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/requests", only(Method::GET, requests))
        .route("/_sandbox/requests/reset", only(Method::POST, reset_requests))
        .route("/_sandbox/faults", any(faults))
        .route("/_sandbox/executions", only(Method::GET, executions))
        .route("/_sandbox/quotas", only(Method::GET, quotas))
        .route("/_sandbox/", any(unknown))
        .route("/_sandbox/{*rest}", any(unknown))
}

/// `handler` for exactly `method` (not `HEAD` for `GET`, as axum's `get` would); other methods
/// are an unknown endpoint, without an `Allow` header.
fn only<H, T>(method: Method, handler: H) -> MethodRouter<Arc<Shared>>
where
    H: Handler<T, Arc<Shared>>,
    T: 'static,
{
    any(move |State(shared): State<Arc<Shared>>, request: Request| {
        let (handler, method) = (handler.clone(), method.clone());
        async move {
            if request.method() != method {
                return unknown(request).await;
            }
            handler.call(request, shared).await
        }
    })
}

fn json(body: Value) -> Response {
    Wire::RestJson.respond(Ok(Reply::ok(body)))
}

/// 404 for a path the sandbox does not serve.
pub(super) fn unknown_endpoint(method: &Method, path: &str) -> Response {
    let message = format!("Unknown sandbox endpoint {method} {path}");
    Wire::RestJson.error(&ServiceError::new(404, "UnknownOperationException", message))
}

async fn unknown(request: Request) -> Response {
    unknown_endpoint(request.method(), request.uri().path())
}

/// `GET /_sandbox/requests`.
async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    json(counts_json(&shared))
}

/// `POST /_sandbox/requests/reset`: forgets the counts (and the quotas' counts).
async fn reset_requests(State(shared): State<Arc<Shared>>) -> Response {
    if let Ok(mut counts) = shared.counts.lock() {
        *counts = Counts::default();
    }
    if let Some(q) = &shared.quotas {
        q.reset_counts();
    }
    json(json!({}))
}

/// `GET /_sandbox/faults` shows the fault configuration, `POST` replaces it.
async fn faults(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match *request.method() {
        Method::GET => show_faults(&shared),
        Method::POST => set_faults(&shared, request).await,
        _ => unknown(request).await,
    }
}

/// `POST /_sandbox/faults`: replaces the fault configuration (`{}`: none).
async fn set_faults(shared: &Shared, request: Request) -> Response {
    let body = match read_body(request.into_body(), Wire::RestJson).await {
        Ok(body) => body,
        Err(too_large) => return too_large,
    };
    match FaultConfig::parse(&String::from_utf8_lossy(&body)) {
        Ok(config) => {
            if let Ok(mut faults) = shared.faults.lock() {
                *faults = config.map(Faults::new);
            }
            json(json!({}))
        }
        Err(message) => Wire::RestJson.error(&ServiceError::bad("BadRequestException", message)),
    }
}

/// `GET /_sandbox/faults`: the configuration in force (`{}`: none).
fn show_faults(shared: &Shared) -> Response {
    let config = shared
        .faults
        .lock()
        .ok()
        .and_then(|f| f.as_ref().map(|f| f.config.clone()));
    let body = config
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or_else(|| json!({}));
    json(body)
}

/// `GET /_sandbox/executions`.
async fn executions(State(shared): State<Arc<Shared>>) -> Response {
    json(shared.runner.sandbox_list())
}

/// `GET /_sandbox/quotas`.
async fn quotas(State(shared): State<Arc<Shared>>) -> Response {
    let body = shared
        .quotas
        .as_ref()
        .map_or_else(|| json!({"enabled": false}), |q| q.to_json());
    json(body)
}

/// The counts as `GET /_sandbox/requests` shows them.
pub(super) fn counts_json(shared: &Shared) -> Value {
    let Ok(counts) = shared.counts.lock() else {
        return json!({});
    };
    let mut out = json!({"sfn": {}, "apigateway": {}, "sts": {}, "tagging": {}});
    for ((service, operation), n) in &counts.by_op {
        out[*service][operation.as_str()] = json!(n);
    }
    out["injectedFaults"] = json!({
        "throttle": counts.injected.get("throttle").copied().unwrap_or(0),
        "error": counts.injected.get("error").copied().unwrap_or(0),
        "errorCode": counts.injected.get("errorCode").copied().unwrap_or(0),
        "lost": counts.injected.get("lost").copied().unwrap_or(0),
    });
    out["reads"] = json!(counts.reads);
    out["writes"] = json!(counts.writes);
    out["total"] = json!(counts.reads + counts.writes);
    out
}
