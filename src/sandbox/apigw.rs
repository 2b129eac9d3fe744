//! API Gateway (REST APIs, v1) in the sandbox, `restJson1`: a pure handler over its state.
//! The server gives it the raw request and persists the state when `mutated` is set.

use serde::{Deserialize, Serialize};

use super::RequestContext;

/// Every REST API and what hangs off it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiGatewayState {}

/// One request, as received.
#[derive(Debug, Clone, Copy)]
pub struct ApigwRequest<'a> {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: &'a str,
    /// The raw (still percent-encoded) path, e.g. `/restapis/abc123/resources`.
    pub path: &'a str,
    /// Decoded query parameters in order.
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
    pub ctx: &'a RequestContext,
}

/// The answer: status, JSON body, and for errors AWS's `x-amzn-ErrorType`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApigwResponse {
    pub status: u16,
    pub body: Option<serde_json::Value>,
    /// `x-amzn-ErrorType`, e.g. `NotFoundException`.
    pub error_type: Option<&'static str>,
    /// Whether the state changed (the server then persists it).
    pub mutated: bool,
}

/// The API Gateway operation a request is, e.g. `GetRestApis`, `PutIntegration` (`Unknown` otherwise).
pub fn operation(method: &str, path: &str) -> &'static str {
    let _ = (method, path);
    "Unknown"
}

/// Handles one request.
pub fn handle(state: &mut ApiGatewayState, req: &ApigwRequest<'_>) -> ApigwResponse {
    let _ = (state, req);
    ApigwResponse {
        status: 501,
        body: Some(serde_json::json!({"message": "not implemented"})),
        error_type: Some("NotImplementedException"),
        mutated: false,
    }
}
