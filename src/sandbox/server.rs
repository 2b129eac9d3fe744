//! The HTTP side of the sandbox: one port, dispatch by protocol, request counts, faults and
//! persistence. Handlers are pure and cheap; reads take a shared lock and never touch the disk.
//! With a state file, every response waits until the state it answered from is on disk (see
//! [`store::Journal`]): a write is acknowledged only once durable, and a read never shows a
//! change that a crash could still lose.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::conn::{Conn, CuttableListener};
use super::faults::{Fault, FaultConfig, Faults};
use super::store::{self, Journal, SandboxState};
use super::{Error, RequestContext, SandboxConfig, apigw, executions, invoke, quotas, sfn, tagging};

/// Largest request body accepted (AWS-shaped 413 beyond).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// A running sandbox; dropping it leaves the server running until the runtime ends.
#[derive(Debug)]
pub struct SandboxHandle {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl SandboxHandle {
    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, for `endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, waits for in-flight ones to finish and the state to be saved.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[derive(Debug, Default)]
struct Counts {
    by_op: BTreeMap<(&'static str, String), u64>,
    reads: u64,
    writes: u64,
    /// Faults injected, by kind (`throttle`, `error`, `errorCode`), so tests can tell that
    /// injection really happened.
    injected: BTreeMap<&'static str, u64>,
}

#[derive(Debug)]
struct Shared {
    state: Arc<RwLock<SandboxState>>,
    /// The state file's group commit, when there is a state file.
    journal: Option<Arc<Journal>>,
    account_id: String,
    counts: Mutex<Counts>,
    faults: Mutex<Option<Faults>>,
    /// Runs executions (`StartExecution`, the invoke URL) and answers the execution operations.
    runner: Arc<executions::Runner>,
    /// AWS's default quotas, enforced when `--aws-quotas` is on.
    quotas: Option<quotas::ServerQuotas>,
}

/// Starts a sandbox on the caller's tokio runtime.
pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, Error> {
    if !config.listen.ip().is_loopback() {
        if !config.allow_remote {
            return Err(Error::RemoteNotAllowed(config.listen));
        }
        tracing::warn!(listen = %config.listen, "sandbox listening on a non-loopback address; it accepts any credentials");
    }
    // One sandbox per state file (SPEC §7): the lock is a sibling `FILE.lock`, since the state
    // file itself is replaced (renamed over) on every save. Held until the last save is done.
    let mut lock = match &config.state_file {
        Some(path) => Some(crate::lock::acquire_for(
            &state_lock_path(path),
            "sandbox",
            "one sandbox per state file, so that neither overwrites the other's writes",
        )?),
        None => None,
    };
    let initial = match &config.state_file {
        Some(path) => store::load(path)?,
        None => SandboxState::default(),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: config.listen,
        source,
    })?;
    if let Some(lock) = &mut lock {
        lock.describe(&format!("sandbox on {addr}"));
    }
    let state = Arc::new(RwLock::new(initial));
    let (journal, writer) = match config.state_file {
        Some(path) => {
            let (journal, writer) = Journal::start(path, Arc::clone(&state));
            (Some(journal), Some(writer))
        }
        None => (None, None),
    };
    let runner = Arc::new(executions::Runner::new(
        Arc::clone(&state),
        journal.clone(),
        Arc::new(config.functions),
    ));
    let shared = Arc::new(Shared {
        runner,
        state,
        journal,
        account_id: config.account_id,
        counts: Mutex::new(Counts::default()),
        faults: Mutex::new(config.faults.map(Faults::new)),
        quotas: config.aws_quotas.then(quotas::ServerQuotas::default),
    });
    let app = axum::Router::new()
        .fallback(dispatch)
        .with_state(Arc::clone(&shared))
        .into_make_service_with_connect_info::<Conn>();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(CuttableListener(listener), app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(error) = serve.await {
            tracing::error!(%error, "sandbox server failed");
        }
        shared.runner.stop_all();
        if let Some(writer) = writer {
            writer.finish().await;
        }
        drop(lock);
        let changes = shared.journal.as_ref().map_or(0, |j| j.current());
        let flushes = shared.journal.as_ref().map_or(0, |j| j.flushes());
        tracing::debug!(requests = %shared.counts_json(), changes, flushes, "sandbox stopped");
    });
    tracing::info!(%addr, "sandbox listening");
    Ok(SandboxHandle { addr, stop, task })
}

/// The lock file of a state file: `FILE.lock` beside it.
pub fn state_lock_path(state_file: &std::path::Path) -> std::path::PathBuf {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".lock");
    std::path::PathBuf::from(name)
}

/// Which service a request is for, decided before reading the body.
enum Route {
    Sfn(String),
    Tagging(String),
    Quotas,
    Sts,
    Apigw,
    Requests,
    ResetRequests,
    SetFaults,
    GetFaults,
    Executions,
    Invoke,
    NotFound,
}

fn route(method: &Method, path: &str, headers: &HeaderMap) -> Route {
    if let Some(rest) = path.strip_prefix("/_sandbox/") {
        return match (method, rest) {
            (&Method::GET, "requests") => Route::Requests,
            (&Method::POST, "requests/reset") => Route::ResetRequests,
            (&Method::POST, "faults") => Route::SetFaults,
            (&Method::GET, "faults") => Route::GetFaults,
            (&Method::GET, "executions") => Route::Executions,
            (&Method::GET, "quotas") => Route::Quotas,
            _ => Route::NotFound,
        };
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if invoke::parse_target(path, host).is_some() {
        return Route::Invoke;
    }
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        if let Some(op) = target.strip_prefix("AWSStepFunctions.") {
            return Route::Sfn(op.to_string());
        }
        if let Some(op) = target.strip_prefix("ResourceGroupsTaggingAPI_20170126.") {
            return Route::Tagging(op.to_string());
        }
        return Route::NotFound;
    }
    if method == Method::POST && path == "/" {
        return Route::Sts;
    }
    Route::Apigw
}

fn region_of(headers: &HeaderMap) -> String {
    // Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/states/aws4_request, ...
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|cred| cred.split('/').nth(2))
        .filter(|region| !region.is_empty())
        .unwrap_or("us-east-1")
        .to_string()
}

fn now() -> f64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    millis as f64 / 1000.0
}

fn json_response(
    status: u16,
    body: &Value,
    content_type: &'static str,
    error_type: Option<&str>,
) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(kind) = error_type.and_then(|k| HeaderValue::from_str(k).ok()) {
        response.headers_mut().insert("x-amzn-errortype", kind);
    }
    response
}

/// This request's id (the `x-amzn-RequestId` of its answer), in the request's extensions so the
/// invoke URL can hand the same id to mapping templates as `$context.requestId`, as API Gateway does.
#[derive(Debug, Clone)]
struct RequestId(HeaderValue);

/// A fresh request id in AWS's UUID shape, for the `x-amzn-RequestId` header of every answer.
fn request_id() -> HeaderValue {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    let text = format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48 & 0x3fff),
        b & 0xffff_ffff_ffff
    );
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("00000000-0000-4000-8000-000000000000"))
}

const SFN_JSON: &str = "application/x-amz-json-1.0";
const TAGGING_JSON: &str = "application/x-amz-json-1.1";
const REST_JSON: &str = "application/json";

fn sfn_error(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"__type": code, "message": message}),
        SFN_JSON,
        Some(code),
    )
}

async fn dispatch(State(shared): State<Arc<Shared>>, mut request: Request) -> Response {
    let id = request_id();
    request.extensions_mut().insert(RequestId(id.clone()));
    let conn = request
        .extensions()
        .get::<axum::extract::ConnectInfo<Conn>>()
        .map(|c| c.0.clone());
    let mut response = answer(&shared, conn.as_ref(), request).await;
    response.headers_mut().insert("x-amzn-requestid", id);
    response
}

async fn answer(shared: &Arc<Shared>, conn: Option<&Conn>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let route = route(&parts.method, &path, &parts.headers);
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => {
            let message = format!("Request body larger than {BODY_LIMIT} bytes");
            return match route {
                Route::Sfn(_) => sfn_error(413, "RequestEntityTooLargeException", &message),
                _ => json_response(
                    413,
                    &json!({"message": message}),
                    REST_JSON,
                    Some("RequestEntityTooLargeException"),
                ),
            };
        }
    };
    let ctx = RequestContext {
        region: region_of(&parts.headers),
        account_id: shared.account_id.clone(),
    };
    match route {
        Route::Requests => json_response(200, &shared.counts_json(), REST_JSON, None),
        Route::ResetRequests => {
            if let Ok(mut counts) = shared.counts.lock() {
                *counts = Counts::default();
            }
            if let Some(q) = &shared.quotas {
                q.reset_counts();
            }
            json_response(200, &json!({}), REST_JSON, None)
        }
        Route::SetFaults => match FaultConfig::parse(&String::from_utf8_lossy(&body)) {
            Ok(config) => {
                if let Ok(mut faults) = shared.faults.lock() {
                    *faults = config.map(Faults::new);
                }
                json_response(200, &json!({}), REST_JSON, None)
            }
            Err(message) => json_response(
                400,
                &json!({"message": message}),
                REST_JSON,
                Some("BadRequestException"),
            ),
        },
        Route::GetFaults => {
            let config = shared
                .faults
                .lock()
                .ok()
                .and_then(|f| f.as_ref().map(|f| f.config.clone()));
            let body = config
                .and_then(|c| serde_json::to_value(c).ok())
                .unwrap_or_else(|| json!({}));
            json_response(200, &body, REST_JSON, None)
        }
        Route::Executions => json_response(200, &shared.runner.sandbox_list(), REST_JSON, None),
        Route::Quotas => {
            let body = shared
                .quotas
                .as_ref()
                .map_or_else(|| json!({"enabled": false}), |q| q.to_json());
            json_response(200, &body, REST_JSON, None)
        }
        Route::Tagging(op) => {
            let operation = tagging::operation(&op);
            shared.count(
                "tagging",
                if operation == "Unknown" { &op } else { operation },
                false,
            );
            if shared.over_quota(&ctx, "tagging", operation).is_some() {
                let body = json!({"__type": "ThrottledException", "Message": "Rate exceeded"});
                return json_response(400, &body, TAGGING_JSON, Some("ThrottledException"));
            }
            let fault = shared.inject(operation, &path, &body).await;
            let failure = match &fault {
                Some(Fault::Throttle) => Some((400, "ThrottledException", "Rate exceeded".to_owned())),
                Some(Fault::Error) => Some((500, "InternalServiceException", "Injected fault".to_owned())),
                Some(Fault::Code(code)) => Some((400, code.as_str(), injected_message(code))),
                Some(Fault::Lost) | None => None,
            };
            if let Some((status, code, message)) = failure {
                let body = json!({"__type": code, "Message": message});
                return json_response(status, &body, TAGGING_JSON, Some(code));
            }
            let response = shared.tagging(&op, &body, &ctx).await;
            if fault == Some(Fault::Lost) {
                cut(conn);
            }
            let error_type = response.body.get("__type").and_then(Value::as_str);
            json_response(response.status, &response.body, TAGGING_JSON, error_type)
        }
        Route::Invoke => shared.invoke(&parts, &path, &body, &ctx).await,
        Route::NotFound => {
            let message = format!("Unknown sandbox endpoint {} {path}", parts.method);
            json_response(
                404,
                &json!({"message": message}),
                REST_JSON,
                Some("UnknownOperationException"),
            )
        }
        Route::Sfn(op) => {
            let operation = sfn::operation(&op);
            let write = operation == "Unknown" || sfn::is_write(operation);
            shared.count("sfn", if operation == "Unknown" { &op } else { operation }, write);
            if shared.over_quota(&ctx, "states", operation).is_some() {
                return sfn_error(400, "ThrottlingException", "Rate exceeded");
            }
            let fault = shared.inject(operation, &path, &body).await;
            match &fault {
                Some(Fault::Throttle) => return sfn_error(400, "ThrottlingException", "Rate exceeded"),
                Some(Fault::Error) => return sfn_error(500, "ServiceUnavailable", "Injected fault"),
                Some(Fault::Code(code)) => return sfn_error(400, code, &injected_message(code)),
                Some(Fault::Lost) | None => {}
            }
            let response = if executions::handles(operation) {
                shared.runner.handle(operation, &body, &ctx).await
            } else {
                shared.sfn(&op, &body, &ctx).await
            };
            if fault == Some(Fault::Lost) {
                cut(conn);
            }
            let error_type = response.body.get("__type").and_then(Value::as_str);
            json_response(response.status, &response.body, SFN_JSON, error_type)
        }
        Route::Sts => {
            let text = String::from_utf8_lossy(&body);
            let is_caller_identity = text.split('&').any(|kv| kv == "Action=GetCallerIdentity");
            let operation = if is_caller_identity {
                "GetCallerIdentity"
            } else {
                "Unknown"
            };
            shared.count("sts", operation, false);
            if !is_caller_identity {
                return sts_error(
                    "InvalidAction",
                    "Only GetCallerIdentity is supported by the sandbox",
                );
            }
            match shared.inject(operation, &path, &body).await {
                Some(Fault::Throttle) => return sts_error("Throttling", "Rate exceeded"),
                Some(Fault::Error) => {
                    let mut r = sts_error("InternalFailure", "Injected fault");
                    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    return r;
                }
                Some(Fault::Code(code)) => return sts_error(&code, &injected_message(&code)),
                Some(Fault::Lost) => {
                    cut(conn);
                }
                None => {}
            }
            let account = &shared.account_id;
            let xml = format!(
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                 <GetCallerIdentityResult><Arn>arn:aws:iam::{account}:user/sandbox</Arn>\
                 <UserId>AIDASANDBOXUSER</UserId><Account>{account}</Account></GetCallerIdentityResult>\
                 <ResponseMetadata><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ResponseMetadata>\
                 </GetCallerIdentityResponse>"
            );
            ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
        }
        Route::Apigw => {
            let method = parts.method.as_str();
            let operation = apigw::operation(method, &path);
            let write = !matches!(parts.method, Method::GET | Method::HEAD);
            shared.count("apigateway", operation, write);
            if let Some(wait) = shared.over_quota(&ctx, "apigateway", operation) {
                let body = json!({"message": "Too Many Requests"});
                let mut r = json_response(429, &body, REST_JSON, Some("TooManyRequestsException"));
                let secs = wait.as_secs_f64().ceil().max(1.0).to_string();
                if let Ok(v) = HeaderValue::from_str(&secs) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return r;
            }
            let fault = shared.inject(operation, &path, &body).await;
            match &fault {
                Some(Fault::Code(code)) => {
                    let status = if code == "AccessDeniedException" { 403 } else { 400 };
                    let body = json!({"message": injected_message(code)});
                    return json_response(status, &body, REST_JSON, Some(code));
                }
                Some(Fault::Throttle) => {
                    let body = json!({"message": "Too Many Requests"});
                    return json_response(429, &body, REST_JSON, Some("TooManyRequestsException"));
                }
                Some(Fault::Error) => {
                    let body = json!({"message": "Injected fault"});
                    return json_response(500, &body, REST_JSON, Some("ServiceUnavailableException"));
                }
                Some(Fault::Lost) | None => {}
            }
            let query: Vec<(String, String)> = axum::extract::Query::try_from_uri(&parts.uri)
                .map(|axum::extract::Query(q)| q)
                .unwrap_or_default();
            let req = apigw::ApigwRequest {
                method,
                path: &path,
                query: &query,
                body: &body,
                ctx: &ctx,
            };
            let response = shared.apigw(&req).await;
            if fault == Some(Fault::Lost) {
                cut(conn);
            }
            response
        }
    }
}

/// The `lost` fault, once the request was carried out (and is on disk): the connection goes
/// without an answer.
fn cut(conn: Option<&Conn>) {
    match conn {
        Some(conn) => conn.cut(),
        None => tracing::warn!("lost fault: no connection to cut"),
    }
}

/// The message of an injected `errorCode` fault.
fn injected_message(code: &str) -> String {
    if code == "AccessDeniedException" {
        "Injected fault: the caller is not authorized to perform this action".to_owned()
    } else {
        format!("Injected fault: {code}")
    }
}

fn sts_error(code: &str, message: &str) -> Response {
    let xml = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
    );
    (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

impl Shared {
    /// With `--aws-quotas`: `Some(wait)` when this call finds a quota's bucket empty (it is then
    /// refused as AWS would), else the call takes its tokens.
    fn over_quota(&self, ctx: &RequestContext, service: &str, operation: &str) -> Option<Duration> {
        self.quotas.as_ref()?.admit(&ctx.region, service, operation).err()
    }

    /// A Tagging API read (after the state it answered from is on disk, as for every read).
    async fn tagging(&self, op: &str, body: &Bytes, ctx: &RequestContext) -> tagging::TaggingResponse {
        let read = match self.state.read() {
            Ok(state) => (tagging::handle(&state, op, body, ctx), self.generation()),
            Err(_) => return tagging::error(500, "InternalServiceException", "sandbox state lock poisoned"),
        };
        let _ = self.settle(read.1, false).await;
        read.0
    }

    fn count(&self, service: &'static str, operation: &str, write: bool) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.by_op.entry((service, operation.to_string())).or_insert(0) += 1;
            if write {
                counts.writes += 1;
            } else {
                counts.reads += 1;
            }
        }
    }

    fn counts_json(&self) -> Value {
        let Ok(counts) = self.counts.lock() else {
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

    /// Applies the configured faults to one AWS request: sleeps for the latency, returns the fault.
    async fn inject(&self, operation: &str, path: &str, body: &Bytes) -> Option<Fault> {
        let (latency, fault) = match self.faults.lock() {
            Ok(mut faults) => match faults.as_mut() {
                Some(f) => {
                    let target = format!("{path} {}", String::from_utf8_lossy(body));
                    f.roll(operation, &target)
                }
                None => (0, None),
            },
            Err(_) => (0, None),
        };
        if let Some(f) = &fault
            && let Ok(mut counts) = self.counts.lock()
        {
            let kind = match f {
                Fault::Throttle => "throttle",
                Fault::Error => "error",
                Fault::Lost => "lost",
                Fault::Code(_) => "errorCode",
            };
            *counts.injected.entry(kind).or_insert(0) += 1;
        }
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        fault
    }

    async fn sfn(&self, op: &str, body: &Bytes, ctx: &RequestContext) -> sfn::SfnResponse {
        let read = match self.state.read() {
            Ok(state) => sfn::read(&state.sfn, op, body, ctx).map(|r| (r, self.generation())),
            Err(_) => None,
        };
        if let Some((response, seen)) = read {
            let _ = self.settle(seen, false).await;
            return response;
        }
        let (response, change) = {
            let Ok(mut state) = self.state.write() else {
                return sfn::error(500, "InternalFailure", "sandbox state lock poisoned");
            };
            let response = sfn::handle(&mut state.sfn, op, body, ctx, now());
            let change = self.change(response.mutated);
            (response, change)
        };
        match self.settle(change, response.mutated).await {
            Ok(()) => response,
            Err(error) => sfn::error(500, "InternalFailure", error.to_string()),
        }
    }

    /// The invoke URL of a deployed stage (see [`invoke`]).
    async fn invoke(
        &self,
        parts: &axum::http::request::Parts,
        path: &str,
        body: &Bytes,
        ctx: &RequestContext,
    ) -> Response {
        self.count("execute-api", "Invoke", true);
        let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let Some((api_id, stage, resource_path)) = invoke::parse_target(path, host) else {
            return json_response(404, &json!({"message": "Not Found"}), REST_JSON, None);
        };
        let query: Vec<(String, String)> = axum::extract::Query::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(q)| q)
            .unwrap_or_default();
        let headers = parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .and_then(|id| id.0.to_str().ok())
            .unwrap_or_default();
        let call = invoke::Call {
            api_id,
            stage,
            path: resource_path,
            method: parts.method.as_str(),
            query: &query,
            headers,
            body,
            request_id,
        };
        let answer = invoke::invoke(&self.runner, &self.state, &call, ctx).await;
        let mut response = Response::new(Body::from(answer.body));
        *response.status_mut() =
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Ok(v) = HeaderValue::from_str(&answer.content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        response
    }

    async fn apigw(&self, req: &apigw::ApigwRequest<'_>) -> Response {
        let read = match self.state.read() {
            Ok(state) => apigw::read(&state.apigw, req).map(|r| (r, self.generation())),
            Err(_) => None,
        };
        let response = match read {
            Some((response, seen)) => {
                let _ = self.settle(seen, false).await;
                response
            }
            None => {
                let (response, change) = {
                    let Ok(mut state) = self.state.write() else {
                        let body = json!({"message": "sandbox state lock poisoned"});
                        return json_response(500, &body, REST_JSON, Some("InternalFailure"));
                    };
                    let response = apigw::handle(&mut state.apigw, req);
                    let change = self.change(response.mutated);
                    (response, change)
                };
                if let Err(error) = self.settle(change, response.mutated).await {
                    let body = json!({"message": error.to_string()});
                    return json_response(500, &body, REST_JSON, Some("InternalFailure"));
                }
                response
            }
        };
        let body = response.body.unwrap_or_else(|| json!({}));
        json_response(response.status, &body, REST_JSON, response.error_type)
    }

    /// The generation a handler answered from (call it with the state locked).
    fn generation(&self) -> u64 {
        self.journal.as_ref().map_or(0, |j| j.current())
    }

    /// After a handler ran under the write lock: records its change, if it made one; returns the
    /// generation its response reflects.
    fn change(&self, mutated: bool) -> u64 {
        match &self.journal {
            Some(journal) if mutated => journal.record_change(),
            _ => self.generation(),
        }
    }

    /// Waits until the state a response reflects is on disk, so that no answer shows a change a
    /// crash could still lose. Only a write's own change can fail it: a failed flush of someone
    /// else's change is that writer's error to report.
    async fn settle(&self, generation: u64, own_change: bool) -> Result<(), Arc<Error>> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        let outcome = journal.committed(generation).await;
        if own_change { outcome } else { Ok(()) }
    }
}
