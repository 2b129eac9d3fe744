//! The daemon's HTTP endpoints of SPEC §6: `/healthz`, `/readyz`, `/metrics` and `/status`.
//! Read-only: nothing served here can change what the daemon does.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::status::Shared;

/// The content type of `/metrics`.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The router over the shared daemon state.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(shared)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "first pass not finished\n").into_response()
    }
}

async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, OPENMETRICS)],
        crate::metrics::global().encode(),
    )
        .into_response()
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.snapshot()).into_response()
}

/// Binds `addr` and returns the bound address (for `:0`) and the server future, which ends when
/// `shutdown` resolves.
pub async fn bind(
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> crate::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| crate::Error::Io {
            context: format!("listening on {addr}"),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| crate::Error::Io {
        context: format!("listening on {addr}"),
        source,
    })?;
    let server = axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown)
        .into_future();
    Ok((local, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
        let resp = reqwest::get(format!("http://{addr}{path}"))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, ct, resp.text().await.unwrap_or_default())
    }

    #[tokio::test]
    async fn serves_health_readiness_metrics_and_status() {
        let shared = Arc::new(Shared::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr, server) = bind(
            "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
            Arc::clone(&shared),
            async {
                let _ = rx.await;
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let handle = tokio::spawn(server);

        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(get(addr, "/readyz").await.0, 503);
        shared.set_ready();
        assert_eq!(get(addr, "/readyz").await.0, 200);

        crate::metrics::global().set_queue_depth(0);
        let (code, ct, body) = get(addr, "/metrics").await;
        assert_eq!(code, 200);
        assert_eq!(ct, OPENMETRICS);
        assert!(body.contains("sfn_operator_queue_depth"), "{body}");

        let (code, ct, body) = get(addr, "/status").await;
        assert_eq!(code, 200);
        assert!(ct.starts_with("application/json"), "{ct}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(json["ready"], true);
        assert!(json["resources"].is_array());

        let _ = tx.send(());
        assert!(matches!(handle.await, Ok(Ok(()))));
    }
}
