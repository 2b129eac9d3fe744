//! API Gateway (REST APIs, v1) in the sandbox, `restJson1`: a pure handler over its state
//! ([`ApiGatewayState`], kept in [`super::store`]). The server gives it the raw request and
//! persists the state when the reply says `mutated`.
//!
//! Objects are kept in AWS's own JSON shape (`serde_json::Map`, insertion-ordered), so a Get
//! answers the stored object and a patch edits it in place. Methods embed their
//! `methodResponses` and `methodIntegration` (with `integrationResponses`) exactly as GetMethod
//! shows them. Lists answer AWS's `{"item": [...], "position": "..."}`.
//!
//! By concern: `canary` (stage canaries), `openapi` (ImportRestApi, PutRestApi), `routes` (path → object and operation), `read` and `write` (the
//! operations), `patch` (PATCH semantics), `tags`, `ids`; this file holds the entry points
//! and the lookups they share.

mod canary;
mod ids;
mod openapi;
mod patch;
mod read;
mod records;
mod routes;
mod tags;
mod write;

use serde_json::{Map, Value, json};

use super::RequestContext;
use super::protocol::{Outcome, Query, Reply, ServiceError, enum_message};
use ids::{next_id, now};
use patch::{
    INTEGRATION_PATCH, INTEGRATION_RESPONSE_PATCH, Kind, METHOD_PATCH, METHOD_RESPONSE_PATCH, REST_API_PATCH,
    STAGE_PATCH, apply_patches,
};
use read::{api_json, dispatch_read, resource_json};
#[cfg(test)]
use routes::percent_decode;
use routes::{Route, op_name, route};
use tags::{check_tags, tags_mut, tags_ref};
use write::dispatch;

pub use super::store::apigw::{ApiGatewayState, Resource, RestApi};
pub use canary::serving as canary_serving;

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

/// The API Gateway operation a request is, e.g. `GetRestApis`, `PutIntegration` (`Unknown` otherwise).
pub fn operation(method: &str, path: &str) -> &'static str {
    if let Some(r) = records::route(path) {
        return records::op_name(method, &r);
    }
    match route(path) {
        Some(r) => op_name(method, &r),
        None => "Unknown",
    }
}

/// Whether an operation (as [`operation`] names it) changes state; reads answer `false`.
pub fn is_write(operation: &str) -> bool {
    ["Create", "Put", "Update", "Delete", "Tag", "Untag"]
        .iter()
        .any(|p| operation.starts_with(p))
}

type Res = Outcome;

fn not_found(message: &str) -> ServiceError {
    ServiceError::new(404, "NotFoundException", message)
}
fn bad_request(message: impl Into<String>) -> ServiceError {
    ServiceError::new(400, "BadRequestException", message)
}
fn conflict(message: impl Into<String>) -> ServiceError {
    ServiceError::new(409, "ConflictException", message)
}

const NO_API: &str = "Invalid REST API identifier specified";
const NO_RESOURCE: &str = "Invalid Resource identifier specified";
const NO_METHOD: &str = "Invalid Method identifier specified";
const NO_INTEGRATION: &str = "Invalid Integration identifier specified";
const NO_RESPONSE: &str = "Invalid Response status code specified";
const NO_STAGE: &str = "Invalid Stage identifier specified";
const NO_DEPLOYMENT: &str = "Invalid Deployment identifier specified";

fn ok(status: u16, body: Value, mutated: bool) -> Res {
    Ok(Reply {
        status,
        body: Some(body),
        mutated,
    })
}
fn empty(status: u16) -> Res {
    Ok(Reply {
        status,
        body: None,
        mutated: true,
    })
}

/// Handles one request.
pub fn handle(state: &mut ApiGatewayState, req: &ApigwRequest<'_>) -> Outcome {
    if let Some(r) = records::route(req.path) {
        return match records::op_name(req.method, &r) {
            "Unknown" => Err(ServiceError::new(
                404,
                "UnknownOperationException",
                "Unknown operation",
            )),
            op if is_write(op) => records::write(state, req, &r),
            _ => records::read(state, req, &r),
        };
    }
    match route(req.path) {
        Some(r) => dispatch(state, req, r),
        None => Err(ServiceError::new(
            404,
            "UnknownOperationException",
            "Unknown operation",
        )),
    }
}

/// Answers a read-only request without a write lock: `None` when the request is not a read
/// (then call [`handle`]). Reads never change the state, so `mutated` is always `false`.
pub fn read(state: &ApiGatewayState, req: &ApigwRequest<'_>) -> Option<Outcome> {
    if let Some(r) = records::route(req.path) {
        let op = records::op_name(req.method, &r);
        return (!is_write(op) && op != "Unknown").then(|| records::read(state, req, &r));
    }
    let r = route(req.path)?;
    let op = op_name(req.method, &r);
    if is_write(op) || op == "Unknown" {
        return None;
    }
    Some(dispatch_read(state, req, op, r))
}

fn str_of<'m>(m: &'m Map<String, Value>, key: &str) -> &'m str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}

fn find_api<'s>(state: &'s ApiGatewayState, id: &str) -> Result<&'s RestApi, ServiceError> {
    state
        .rest_apis
        .iter()
        .find(|a| str_of(&a.info, "id") == id)
        .ok_or_else(|| not_found(NO_API))
}
fn find_api_mut<'s>(state: &'s mut ApiGatewayState, id: &str) -> Result<&'s mut RestApi, ServiceError> {
    state
        .rest_apis
        .iter_mut()
        .find(|a| str_of(&a.info, "id") == id)
        .ok_or_else(|| not_found(NO_API))
}
fn find_resource<'a>(api: &'a RestApi, id: &str) -> Result<&'a Resource, ServiceError> {
    api.resources
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| not_found(NO_RESOURCE))
}
fn find_resource_mut<'a>(api: &'a mut RestApi, id: &str) -> Result<&'a mut Resource, ServiceError> {
    api.resources
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(|| not_found(NO_RESOURCE))
}
fn method_mut<'s>(
    state: &'s mut ApiGatewayState,
    a: &str,
    r: &str,
    m: &str,
) -> Result<&'s mut Map<String, Value>, ServiceError> {
    let res = find_resource_mut(find_api_mut(state, a)?, r)?;
    res.methods
        .get_mut(m)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| not_found(NO_METHOD))
}
/// The integration of a method (as [`method_mut`] finds it).
fn integration_of(method: &mut Map<String, Value>) -> Result<&mut Map<String, Value>, ServiceError> {
    method
        .get_mut("methodIntegration")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| not_found(NO_INTEGRATION))
}

/// The object under `key` (created empty if missing or not an object).
fn sub_map<'m>(m: &'m mut Map<String, Value>, key: &str) -> Result<&'m mut Map<String, Value>, ServiceError> {
    let slot = m.entry(key.to_owned()).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut()
        .ok_or_else(|| ServiceError::new(500, "InternalFailure", format!("{key} is not an object")))
}

fn existing_sub<'m>(
    m: &'m mut Map<String, Value>,
    key: &str,
    code: &str,
    missing: &str,
) -> Result<&'m mut Map<String, Value>, ServiceError> {
    m.get_mut(key)
        .and_then(Value::as_object_mut)
        .and_then(|x| x.get_mut(code))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| not_found(missing))
}

fn copy_fields(body: &Value, out: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
            out.insert((*k).to_owned(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests;
