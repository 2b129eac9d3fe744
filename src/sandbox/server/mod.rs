//! The HTTP side of the sandbox: one port, the routes (`/_sandbox/*` in [`admin`], the console
//! `/_sandbox/ui/` in [`ui`], every AWS protocol through [`gate`]), request ids, and persistence.
//! Handlers are pure and cheap; reads take a shared lock and never touch the disk. With a state
//! file, every response waits until the state it answered from is on disk (see [`store::Journal`]):
//! a write is acknowledged only once durable, and a read never shows a change that a crash could
//! still lose.
//!
//! Must not: decide AWS's rules (the handlers do) or shape an error's bytes (the [`Wire`] does).

mod admin;
mod gate;
mod ui;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::conn::{Conn, CuttableListener};
use super::faults::Faults;
use super::protocol::{Outcome, ServiceError, Wire};
use super::store::{self, Journal, SandboxState};
use super::{
    Error, RequestContext, SandboxConfig, activities, apigw, cloudwatch, executions, invoke, quotas, sfn,
    tagging, teststate, versions,
};
use gate::Call;

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

#[derive(Debug)]
struct Shared {
    state: Arc<RwLock<SandboxState>>,
    /// The state file's group commit, when there is a state file.
    journal: Option<Arc<Journal>>,
    account_id: String,
    counts: Mutex<gate::Counts>,
    faults: Mutex<Option<Faults>>,
    /// Runs executions (`StartExecution`, the invoke URL) and answers the execution operations.
    runner: Arc<executions::Runner>,
    /// The Lambda stand-ins (`--functions`), for `TestState`'s unmocked Tasks.
    functions: Arc<crate::standins::Functions>,
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
    let functions = Arc::new(config.functions);
    let runner = Arc::new(executions::Runner::new(
        Arc::clone(&state),
        journal.clone(),
        Arc::clone(&functions),
    ));
    let shared = Arc::new(Shared {
        runner,
        functions,
        state,
        journal,
        account_id: config.account_id,
        counts: Mutex::new(gate::Counts::default()),
        faults: Mutex::new(config.faults.map(Faults::new)),
        quotas: config.aws_quotas.then(quotas::ServerQuotas::default),
    });
    let app = admin::routes()
        .merge(ui::routes())
        .fallback(aws)
        .layer(axum::middleware::from_fn(with_request_id))
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
        tracing::debug!(requests = %admin::counts_json(&shared), changes, flushes, "sandbox stopped");
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

/// CloudWatch's service name in its `X-Amz-Target` and RPC v2 CBOR paths.
const CLOUDWATCH_TARGET: &str = "GraniteServiceVersion20100801";

/// Which AWS service a request is for, decided before reading the body.
enum Route {
    Sfn(String),
    Tagging(String),
    Sts,
    /// CloudWatch: the operation, and its wire (CBOR from the SDKs, awsJson 1.0 from the CLI).
    CloudWatch(String, Wire),
    Apigw,
    Invoke,
    /// An `x-amz-target` the sandbox does not serve.
    Unknown,
}

fn route(method: &Method, path: &str, headers: &HeaderMap) -> Route {
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
        if let Some(op) = target
            .strip_prefix(CLOUDWATCH_TARGET)
            .and_then(|t| t.strip_prefix('.'))
        {
            return Route::CloudWatch(op.to_string(), Wire::AwsJson10Query);
        }
        return Route::Unknown;
    }
    if method == Method::POST && path == "/" {
        return Route::Sts;
    }
    let cbor_prefix = format!("/service/{CLOUDWATCH_TARGET}/operation/");
    if let Some(op) = path.strip_prefix(&cbor_prefix).filter(|_| method == Method::POST) {
        return Route::CloudWatch(op.to_string(), Wire::Cbor);
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

/// This request's id (the `x-amzn-RequestId` of its answer), in the request's extensions so the
/// invoke URL can hand the same id to mapping templates as `$context.requestId`, as API Gateway does.
#[derive(Debug, Clone)]
struct RequestId(HeaderValue);

/// Gives every request an id and every answer the `x-amzn-RequestId` header carrying it.
async fn with_request_id(mut request: Request, next: Next) -> Response {
    let id = HeaderValue::from_str(&crate::encoding::random_uuid_v4())
        .unwrap_or(HeaderValue::from_static("00000000-0000-4000-8000-000000000000"));
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    response.headers_mut().insert("x-amzn-requestid", id);
    response
}

/// The body of a request, or the 413 its wire answers beyond [`BODY_LIMIT`].
async fn read_body(body: Body, wire: Wire) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        let message = format!("Request body larger than {BODY_LIMIT} bytes");
        wire.error(&ServiceError::new(413, "RequestEntityTooLargeException", message))
    })
}

/// Every request outside `/_sandbox/*`: an AWS protocol by its target header, host and path.
async fn aws(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let conn = request
        .extensions()
        .get::<axum::extract::ConnectInfo<Conn>>()
        .map(|c| c.0.clone());
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let route = route(&parts.method, &path, &parts.headers);
    let wire = match &route {
        Route::Sfn(_) => Wire::AwsJson10,
        Route::CloudWatch(_, wire) => *wire,
        _ => Wire::RestJson,
    };
    let body = match read_body(body, wire).await {
        Ok(body) => body,
        Err(too_large) => return too_large,
    };
    let ctx = RequestContext {
        region: region_of(&parts.headers),
        account_id: shared.account_id.clone(),
    };
    let call = Call::new(&ctx.region, &path, &body, conn.as_ref());
    match route {
        Route::Sfn(op) => {
            let activity = activities::operation(&op, &body);
            let operation = activity
                .or_else(|| versions::operation(&op))
                .unwrap_or_else(|| sfn::operation(&op));
            let write = match activity {
                Some(op) => activities::is_write(op),
                None => operation == "Unknown" || sfn::is_write(operation),
            };
            let call = call.aws(Wire::AwsJson10, "sfn", "states", operation, &op, write);
            gate::run(&shared, call, async {
                let outcome = if activity.is_some() {
                    shared.activities(operation, &body, &ctx).await
                } else if executions::handles(operation) {
                    shared.runner.handle(operation, &body, &ctx).await
                } else if operation == "TestState" {
                    teststate::handle(&body, &ctx, Arc::clone(&shared.functions)).await
                } else if versions::operation(operation).is_some() {
                    shared.versions(operation, &body).await
                } else {
                    shared.sfn(&op, &body, &ctx).await
                };
                Wire::AwsJson10.respond(outcome)
            })
            .await
        }
        Route::Tagging(op) => {
            let operation = tagging::operation(&op);
            let call = call.aws(Wire::AwsJson11, "tagging", "tagging", operation, &op, false);
            gate::run(&shared, call, async {
                Wire::AwsJson11.respond(shared.tagging(&op, &body, &ctx).await)
            })
            .await
        }
        Route::CloudWatch(op, wire) => {
            let operation = cloudwatch::operation(&op);
            let write = cloudwatch::is_write(operation);
            let call = call.aws(wire, "cloudwatch", "monitoring", operation, &op, write);
            gate::run(&shared, call, async {
                wire.respond(shared.cloudwatch(&op, wire, &body, &ctx).await)
            })
            .await
        }
        Route::Sts => {
            let text = String::from_utf8_lossy(&body);
            let known = text.split('&').any(|kv| kv == "Action=GetCallerIdentity");
            let operation = if known { "GetCallerIdentity" } else { "Unknown" };
            let mut call = call.aws(Wire::Query, "sts", "", operation, operation, false);
            call.quota = None;
            if !known {
                call.refuse = Some(ServiceError::bad(
                    "InvalidAction",
                    "Only GetCallerIdentity is supported by the sandbox",
                ));
            }
            gate::run(&shared, call, async { caller_identity(&shared.account_id) }).await
        }
        Route::Apigw => {
            let method = parts.method.as_str();
            let operation = apigw::operation(method, &path);
            let write = !matches!(parts.method, Method::GET | Method::HEAD);
            let call = call.aws(
                Wire::RestJson,
                "apigateway",
                "apigateway",
                operation,
                operation,
                write,
            );
            let query = query_of(&parts.uri);
            let req = apigw::ApigwRequest {
                method,
                path: &path,
                query: &query,
                body: &body,
                ctx: &ctx,
            };
            gate::run(&shared, call, async {
                Wire::RestJson.respond(shared.apigw(&req).await)
            })
            .await
        }
        Route::Invoke => {
            let call = call.unguarded("execute-api", "Invoke", true);
            gate::run(&shared, call, shared.invoke(&parts, &path, &body, &ctx)).await
        }
        Route::Unknown => admin::unknown_endpoint(&parts.method, &path),
    }
}

/// STS `GetCallerIdentity`: the sandbox's account and user.
fn caller_identity(account: &str) -> Response {
    let xml = format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <GetCallerIdentityResult><Arn>arn:aws:iam::{account}:user/sandbox</Arn>\
         <UserId>AIDASANDBOXUSER</UserId><Account>{account}</Account></GetCallerIdentityResult>\
         <ResponseMetadata><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ResponseMetadata>\
         </GetCallerIdentityResponse>"
    );
    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

fn query_of(uri: &axum::http::Uri) -> Vec<(String, String)> {
    axum::extract::Query::try_from_uri(uri)
        .map(|axum::extract::Query(q)| q)
        .unwrap_or_default()
}

/// The invoke URL's AWS integrations start executions through the runner.
impl invoke::States for Arc<executions::Runner> {
    fn serves(&self, action: &str) -> bool {
        executions::handles(action)
    }

    async fn call(&self, action: &str, body: &[u8], ctx: &RequestContext) -> Outcome {
        self.handle(action, body, ctx).await
    }
}

impl Shared {
    /// Answers from the state: `read` under the shared lock (then waits until what it saw is on
    /// disk); when `read` declines (`None`, a write), `write` under the write lock, and a change
    /// it made is on disk before the answer goes.
    async fn serve(
        &self,
        read: impl FnOnce(&SandboxState) -> Option<Outcome>,
        write: impl FnOnce(&mut SandboxState) -> Outcome,
    ) -> Outcome {
        let poisoned = || ServiceError::new(500, "InternalFailure", "sandbox state lock poisoned");
        let seen = match self.state.read() {
            Ok(state) => read(&state).map(|r| (r, self.generation())),
            Err(_) => return Err(poisoned()),
        };
        if let Some((outcome, generation)) = seen {
            let _ = self.settle(generation, false).await;
            return outcome;
        }
        let (outcome, change) = {
            let Ok(mut state) = self.state.write() else {
                return Err(poisoned());
            };
            let outcome = write(&mut state);
            let mutated = outcome.as_ref().is_ok_and(|r| r.mutated);
            (outcome, self.change(mutated))
        };
        let mutated = outcome.as_ref().is_ok_and(|r| r.mutated);
        match self.settle(change, mutated).await {
            Ok(()) => outcome,
            Err(error) => Err(ServiceError::new(500, "InternalFailure", error.to_string())),
        }
    }

    /// A Step Functions state machine operation.
    async fn sfn(&self, op: &str, body: &Bytes, ctx: &RequestContext) -> Outcome {
        self.serve(
            |state| sfn::read(&state.sfn, op, body, ctx),
            |state| sfn::handle(&mut state.sfn, op, body, ctx, super::clock::now_secs()),
        )
        .await
    }

    /// A Step Functions activity operation, or tagging an activity.
    async fn activities(&self, op: &str, body: &Bytes, ctx: &RequestContext) -> Outcome {
        self.serve(
            |state| activities::read(&state.sfn, op, body, ctx),
            |state| activities::handle(&mut state.sfn, op, body, ctx, super::clock::now_secs()),
        )
        .await
    }

    /// A Step Functions version or alias operation.
    async fn versions(&self, op: &str, body: &Bytes) -> Outcome {
        self.serve(
            |state| versions::read(&state.sfn, op, body),
            |state| versions::handle(&mut state.sfn, op, body, super::clock::now_secs()),
        )
        .await
    }

    /// A CloudWatch operation: every one runs under the write lock, since reading an alarm
    /// evaluates it (and may record its new state).
    async fn cloudwatch(&self, op: &str, wire: Wire, body: &Bytes, ctx: &RequestContext) -> Outcome {
        let input = match wire {
            Wire::Cbor => {
                super::cbor::decode(body).map_err(|e| ServiceError::bad("SerializationException", e))?
            }
            _ => serde_json::Value::Object(super::protocol::json_input(body)?),
        };
        let samples = self.runner.samples();
        let call = cloudwatch::Call {
            ctx,
            samples: &samples,
            now: super::clock::now_secs(),
        };
        self.serve(
            |_| None,
            |state| cloudwatch::handle(&mut state.cloudwatch, op, &input, &call),
        )
        .await
    }

    /// A Tagging API read.
    async fn tagging(&self, op: &str, body: &Bytes, ctx: &RequestContext) -> Outcome {
        self.serve(
            |state| Some(tagging::handle(state, op, body, ctx)),
            |state| tagging::handle(state, op, body, ctx),
        )
        .await
    }

    /// An API Gateway control-plane operation.
    async fn apigw(&self, req: &apigw::ApigwRequest<'_>) -> Outcome {
        self.serve(
            |state| apigw::read(&state.apigw, req),
            |state| apigw::handle(&mut state.apigw, req),
        )
        .await
    }

    /// The invoke URL of a deployed stage (see [`invoke`]).
    async fn invoke(
        &self,
        parts: &axum::http::request::Parts,
        path: &str,
        body: &Bytes,
        ctx: &RequestContext,
    ) -> Response {
        let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let Some((api_id, stage, resource_path)) = invoke::parse_target(path, host) else {
            return Wire::RestJson.bytes(404, json!({"message": "Not Found"}).to_string(), None);
        };
        let query = query_of(&parts.uri);
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
