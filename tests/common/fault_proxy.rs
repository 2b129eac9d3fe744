//! A fault-injecting HTTP proxy for tests against a peer that has no faults of its own (moto): it
//! listens on 127.0.0.1, forwards every request to the upstream, and answers a seeded share of
//! them itself, before forwarding, with a throttle (429 `TooManyRequestsException`) or a 503
//! (`ServiceUnavailableException`) in the error shape of the request's protocol (AWS JSON,
//! REST-JSON, Query). Reads and writes alike. It logs every request it forwarded, so a test can
//! count the writes that reached the peer.
//!
//! It also lets the SDK read moto's CloudWatch: `aws-sdk-cloudwatch` speaks Smithy RPC v2 CBOR,
//! which moto does not answer, so a CBOR request is sent on as the JSON 1.0 request moto serves
//! (`X-Amz-Target: GraniteServiceVersion20100801.OP`) and its answer turned back into CBOR
//! (timestamps dropped: the rollouts read names and states only).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

/// What fraction of requests fail, and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Probability (0–1) of a 429 `TooManyRequestsException`.
    pub throttle: f64,
    /// Probability (0–1) of a 503 `ServiceUnavailableException`.
    pub unavailable: f64,
    pub seed: u64,
}

/// One request the proxy forwarded to the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub method: String,
    pub path: String,
    /// The AWS operation (`CreateStateMachine`, `GetCallerIdentity`), or `METHOD /path` for REST.
    pub operation: String,
    /// Whether the request may change something (by its operation name, or its HTTP method).
    pub write: bool,
    /// The request body as text (JSON and Query requests name their resource there).
    pub body: String,
}

impl Forwarded {
    /// Whether the request names `needle` (an ARN, a REST API id) in its path or body.
    pub fn mentions(&self, needle: &str) -> bool {
        self.path.contains(needle) || self.body.contains(needle)
    }
}

/// One request the proxy answered itself: the operation and the status it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    pub operation: String,
    pub status: u16,
}

#[derive(Default)]
struct Log {
    forwarded: Vec<Forwarded>,
    injected: Vec<Injected>,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    faults: Mutex<(Faults, fastrand::Rng)>,
    log: Mutex<Log>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) with no faults.
    pub async fn start(upstream: &str) -> FaultProxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            faults: Mutex::new((Faults::default(), fastrand::Rng::with_seed(0))),
            log: Mutex::new(Log::default()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy { url, shared, task }
    }

    /// Sets the faults (and restarts their seeded sequence).
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = (faults, fastrand::Rng::with_seed(faults.seed));
    }

    /// Forgets the requests logged so far.
    pub fn reset(&self) {
        *self.shared.log.lock().unwrap() = Log::default();
    }

    /// The requests forwarded to the upstream since the last reset.
    pub fn forwarded(&self) -> Vec<Forwarded> {
        self.shared.log.lock().unwrap().forwarded.clone()
    }

    /// The forwarded requests that may have changed something.
    pub fn writes(&self) -> Vec<Forwarded> {
        self.forwarded().into_iter().filter(|f| f.write).collect()
    }

    /// The requests the proxy failed itself since the last reset.
    pub fn injected(&self) -> Vec<Injected> {
        self.shared.log.lock().unwrap().injected.clone()
    }
}

/// The wire protocol of a request, which decides the shape of an error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `X-Amz-Target` (Step Functions, the Tagging API).
    Json,
    /// Form-encoded `Action=` (STS).
    Query,
    /// Method and path (API Gateway).
    Rest,
}

const WRITE_PREFIXES: [&str; 9] = [
    "Create", "Update", "Put", "Tag", "Untag", "Delete", "Start", "Stop", "Publish",
];

fn classify(method: &str, path: &str, headers: &HeaderMap, body: &[u8]) -> (Protocol, String, bool) {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let op = target.rsplit('.').next().unwrap_or(target).to_owned();
        let write = WRITE_PREFIXES.iter().any(|p| op.starts_with(p));
        return (Protocol::Json, op, write);
    }
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        let text = String::from_utf8_lossy(body);
        if let Some(action) = text.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
            let op = action.to_owned();
            let write = WRITE_PREFIXES.iter().any(|p| op.starts_with(p));
            return (Protocol::Query, op, write);
        }
    }
    let write = !matches!(method, "GET" | "HEAD");
    (Protocol::Rest, format!("{method} {path}"), write)
}

/// The error answer for `protocol`: (status, code, message).
fn error_response(protocol: Protocol, status: u16, code: &str, message: &str) -> Response {
    let (content_type, body) = match protocol {
        Protocol::Json => (
            "application/x-amz-json-1.0",
            serde_json::json!({"__type": code, "message": message}).to_string(),
        ),
        Protocol::Rest => (
            "application/json",
            serde_json::json!({"message": message}).to_string(),
        ),
        Protocol::Query => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
            ),
        ),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("x-amzn-errortype", HeaderValue::from_str(code).unwrap());
    headers.insert("x-amzn-requestid", HeaderValue::from_static("fault-proxy"));
    response
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return error_response(Protocol::Rest, 400, "BadRequest", &e.to_string()),
    };
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let (protocol, operation, write) = classify(&method, &path, &parts.headers, &body);

    let fault = {
        let mut guard = shared.faults.lock().unwrap();
        let (faults, rng) = &mut *guard;
        let draw = rng.f64();
        if draw < faults.throttle {
            Some((429, "TooManyRequestsException", "Too Many Requests"))
        } else if draw < faults.throttle + faults.unavailable {
            Some((503, "ServiceUnavailableException", "Service Unavailable"))
        } else {
            None
        }
    };
    if let Some((status, code, message)) = fault {
        let code = match (protocol, status) {
            // STS's own codes for the same two answers.
            (Protocol::Query, 429) => "Throttling",
            (Protocol::Query, _) => "ServiceUnavailable",
            _ => code,
        };
        shared
            .log
            .lock()
            .unwrap()
            .injected
            .push(Injected { operation, status });
        return error_response(protocol, status, code, message);
    }

    if let Some(op) = path.strip_prefix(CBOR_PREFIX) {
        let answer = cbor_to_json_call(&shared, op, &parts.headers, &body).await;
        let write = WRITE_PREFIXES.iter().any(|p| op.starts_with(p)) || op.starts_with("Set");
        shared.log.lock().unwrap().forwarded.push(Forwarded {
            method,
            operation: op.to_owned(),
            path,
            write,
            body: String::new(),
        });
        return answer;
    }
    let uri = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut forward = shared
        .client
        .request(parts.method.clone(), format!("{}{uri}", shared.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            forward = forward.header(name, value);
        }
    }
    let answer = match forward.send().await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fault proxy: {operation}: upstream failed: {e}");
            return error_response(protocol, 502, "BadGateway", &e.to_string());
        }
    };
    shared.log.lock().unwrap().forwarded.push(Forwarded {
        method,
        path,
        operation,
        write,
        body: text,
    });
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// The path prefix of a Smithy RPC v2 CBOR request to CloudWatch.
const CBOR_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";

/// Sends a CBOR CloudWatch request on as JSON 1.0 and answers in CBOR.
async fn cbor_to_json_call(shared: &Shared, op: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let input: serde_json::Value = if body.is_empty() {
        serde_json::json!({})
    } else {
        ciborium::from_reader(body).unwrap_or_else(|_| serde_json::json!({}))
    };
    let mut forward = shared
        .client
        .post(format!("{}/", shared.upstream))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("GraniteServiceVersion20100801.{op}"))
        .body(input.to_string());
    if let Some(auth) = headers.get("authorization") {
        forward = forward.header("authorization", auth);
    }
    let (status, json) = match forward.send().await {
        Ok(a) => {
            let status = a.status();
            (status, a.json::<serde_json::Value>().await.unwrap_or_default())
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            serde_json::json!({"__type": "BadGateway", "message": e.to_string()}),
        ),
    };
    let mut out = Vec::new();
    ciborium::into_writer(&without_timestamps(json), &mut out).unwrap();
    let mut response = Response::new(Body::from(out));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/cbor"));
    response
        .headers_mut()
        .insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    response
}

/// The value without `...Timestamp` keys (CBOR wants them tagged; the tests do not read them).
fn without_timestamps(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => m
            .into_iter()
            .filter(|(k, _)| !k.ends_with("Timestamp"))
            .map(|(k, v)| (k, without_timestamps(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        serde_json::Value::Array(a) => a.into_iter().map(without_timestamps).collect(),
        other => other,
    }
}
