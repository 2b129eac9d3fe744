//! API Gateway (REST APIs, v1) in the sandbox, `restJson1`: a pure handler over its state.
//! The server gives it the raw request and persists the state when `mutated` is set.
//!
//! Objects are kept in AWS's own JSON shape (`serde_json::Map`, insertion-ordered), so a Get
//! answers the stored object and a patch edits it in place. Methods embed their
//! `methodResponses` and `methodIntegration` (with `integrationResponses`) exactly as GetMethod
//! shows them. Lists answer AWS's `{"item": [...], "position": "..."}`.

use serde_json::{Map, Value, json};

use super::RequestContext;
use super::protocol::{Outcome, Query, Reply, ServiceError};

pub use super::store::apigw::{ApiGatewayState, Resource, RestApi};

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

/// A request's place in the API: which object it addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    RestApis,
    RestApi(String),
    Resources(String),
    Resource(String, String),
    Method(String, String, String),
    MethodResponse(String, String, String, String),
    Integration(String, String, String),
    IntegrationResponse(String, String, String, String),
    Deployments(String),
    Deployment(String, String),
    Stages(String),
    Stage(String, String),
    Tags(String),
}

fn route(path: &str) -> Option<Route> {
    let path = path.split('?').next().unwrap_or("");
    if let Some(arn) = path.strip_prefix("/tags/") {
        return Some(Route::Tags(percent_decode(arn)));
    }
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let o = |x: &str| x.to_owned();
    Some(match s.as_slice() {
        ["restapis"] => Route::RestApis,
        ["restapis", a] => Route::RestApi(o(a)),
        ["restapis", a, "resources"] => Route::Resources(o(a)),
        ["restapis", a, "resources", r] => Route::Resource(o(a), o(r)),
        ["restapis", a, "resources", r, "methods", m] => Route::Method(o(a), o(r), m.to_uppercase()),
        ["restapis", a, "resources", r, "methods", m, "responses", c] => {
            Route::MethodResponse(o(a), o(r), m.to_uppercase(), o(c))
        }
        ["restapis", a, "resources", r, "methods", m, "integration"] => {
            Route::Integration(o(a), o(r), m.to_uppercase())
        }
        [
            "restapis",
            a,
            "resources",
            r,
            "methods",
            m,
            "integration",
            "responses",
            c,
        ] => Route::IntegrationResponse(o(a), o(r), m.to_uppercase(), o(c)),
        ["restapis", a, "deployments"] => Route::Deployments(o(a)),
        ["restapis", a, "deployments", d] => Route::Deployment(o(a), o(d)),
        ["restapis", a, "stages"] => Route::Stages(o(a)),
        ["restapis", a, "stages", n] => Route::Stage(o(a), o(n)),
        _ => return None,
    })
}

fn op_name(method: &str, r: &Route) -> &'static str {
    match (method, r) {
        ("GET", Route::RestApis) => "GetRestApis",
        ("POST", Route::RestApis) => "CreateRestApi",
        ("GET", Route::RestApi(..)) => "GetRestApi",
        ("PATCH", Route::RestApi(..)) => "UpdateRestApi",
        ("DELETE", Route::RestApi(..)) => "DeleteRestApi",
        ("GET", Route::Resources(..)) => "GetResources",
        ("GET", Route::Resource(..)) => "GetResource",
        ("POST", Route::Resource(..)) => "CreateResource",
        ("PATCH", Route::Resource(..)) => "UpdateResource",
        ("DELETE", Route::Resource(..)) => "DeleteResource",
        ("PUT", Route::Method(..)) => "PutMethod",
        ("GET", Route::Method(..)) => "GetMethod",
        ("PATCH", Route::Method(..)) => "UpdateMethod",
        ("DELETE", Route::Method(..)) => "DeleteMethod",
        ("PUT", Route::MethodResponse(..)) => "PutMethodResponse",
        ("GET", Route::MethodResponse(..)) => "GetMethodResponse",
        ("PATCH", Route::MethodResponse(..)) => "UpdateMethodResponse",
        ("DELETE", Route::MethodResponse(..)) => "DeleteMethodResponse",
        ("PUT", Route::Integration(..)) => "PutIntegration",
        ("GET", Route::Integration(..)) => "GetIntegration",
        ("PATCH", Route::Integration(..)) => "UpdateIntegration",
        ("DELETE", Route::Integration(..)) => "DeleteIntegration",
        ("PUT", Route::IntegrationResponse(..)) => "PutIntegrationResponse",
        ("GET", Route::IntegrationResponse(..)) => "GetIntegrationResponse",
        ("PATCH", Route::IntegrationResponse(..)) => "UpdateIntegrationResponse",
        ("DELETE", Route::IntegrationResponse(..)) => "DeleteIntegrationResponse",
        ("GET", Route::Deployments(..)) => "GetDeployments",
        ("POST", Route::Deployments(..)) => "CreateDeployment",
        ("GET", Route::Deployment(..)) => "GetDeployment",
        ("PATCH", Route::Deployment(..)) => "UpdateDeployment",
        ("DELETE", Route::Deployment(..)) => "DeleteDeployment",
        ("GET", Route::Stages(..)) => "GetStages",
        ("POST", Route::Stages(..)) => "CreateStage",
        ("GET", Route::Stage(..)) => "GetStage",
        ("PATCH", Route::Stage(..)) => "UpdateStage",
        ("DELETE", Route::Stage(..)) => "DeleteStage",
        ("GET", Route::Tags(..)) => "GetTags",
        ("PUT", Route::Tags(..)) => "TagResource",
        ("DELETE", Route::Tags(..)) => "UntagResource",
        _ => "Unknown",
    }
}

/// The API Gateway operation a request is, e.g. `GetRestApis`, `PutIntegration` (`Unknown` otherwise).
pub fn operation(method: &str, path: &str) -> &'static str {
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
    match route(req.path) {
        Some(r) => dispatch(state, req, r),
        None => Err(ServiceError::new(
            404,
            "UnknownOperationException",
            "Unknown operation",
        )),
    }
}

/// Answers a read-only operation (`Get*`) from a shared borrow of the state.
fn dispatch_read(state: &ApiGatewayState, req: &ApigwRequest<'_>, op: &str, r: Route) -> Res {
    let q = Query(req.query);
    match (op, r) {
        ("GetRestApis", _) => {
            let items: Vec<Value> = state.rest_apis.iter().map(api_json).collect();
            page(items, &q)
        }
        ("GetRestApi", Route::RestApi(a)) => ok(200, api_json(find_api(state, &a)?), false),
        ("GetResources", Route::Resources(a)) => {
            let api = find_api(state, &a)?;
            let embed = q.all("embed").any(|e| e.split(',').any(|x| x == "methods"));
            let items = api.resources.iter().map(|r| resource_json(r, embed)).collect();
            page(items, &q)
        }
        ("GetResource", Route::Resource(a, r)) => {
            let api = find_api(state, &a)?;
            let embed = q.all("embed").any(|e| e.split(',').any(|x| x == "methods"));
            ok(200, resource_json(find_resource(api, &r)?, embed), false)
        }
        ("GetMethod", Route::Method(a, r, m)) => {
            let api = find_api(state, &a)?;
            let method = find_resource(api, &r)?
                .methods
                .get(&m)
                .ok_or_else(|| not_found(NO_METHOD))?;
            ok(200, method.clone(), false)
        }
        ("GetMethodResponse", Route::MethodResponse(a, r, m, c)) => {
            let api = find_api(state, &a)?;
            let method = find_resource(api, &r)?
                .methods
                .get(&m)
                .ok_or_else(|| not_found(NO_METHOD))?;
            let resp = method.get("methodResponses").and_then(|x| x.get(&c));
            ok(200, resp.cloned().ok_or_else(|| not_found(NO_RESPONSE))?, false)
        }
        ("GetIntegration", Route::Integration(a, r, m)) => {
            let api = find_api(state, &a)?;
            let method = find_resource(api, &r)?
                .methods
                .get(&m)
                .ok_or_else(|| not_found(NO_METHOD))?;
            let integ = method.get("methodIntegration").cloned();
            ok(200, integ.ok_or_else(|| not_found(NO_INTEGRATION))?, false)
        }
        ("GetIntegrationResponse", Route::IntegrationResponse(a, r, m, c)) => {
            let api = find_api(state, &a)?;
            let method = find_resource(api, &r)?
                .methods
                .get(&m)
                .ok_or_else(|| not_found(NO_METHOD))?;
            let integ = method
                .get("methodIntegration")
                .ok_or_else(|| not_found(NO_INTEGRATION))?;
            let resp = integ.get("integrationResponses").and_then(|x| x.get(&c));
            ok(200, resp.cloned().ok_or_else(|| not_found(NO_RESPONSE))?, false)
        }
        ("GetDeployments", Route::Deployments(a)) => {
            let api = find_api(state, &a)?;
            page(api.deployments.iter().cloned().map(Value::Object).collect(), &q)
        }
        ("GetDeployment", Route::Deployment(a, d)) => {
            let api = find_api(state, &a)?;
            let dep = api.deployments.iter().find(|x| str_of(x, "id") == d);
            ok(
                200,
                Value::Object(dep.cloned().ok_or_else(|| not_found(NO_DEPLOYMENT))?),
                false,
            )
        }
        ("GetStages", Route::Stages(a)) => {
            let api = find_api(state, &a)?;
            let dep = q.first("deploymentId");
            let items: Vec<Value> = api
                .stages
                .iter()
                .filter(|s| dep.is_none_or(|d| str_of(s, "deploymentId") == d))
                .cloned()
                .map(Value::Object)
                .collect();
            ok(200, json!({ "item": items }), false)
        }
        ("GetStage", Route::Stage(a, n)) => {
            let api = find_api(state, &a)?;
            let stage = api.stages.iter().find(|s| str_of(s, "stageName") == n);
            ok(
                200,
                Value::Object(stage.cloned().ok_or_else(|| not_found(NO_STAGE))?),
                false,
            )
        }
        ("GetTags", Route::Tags(arn)) => {
            let tags = tags_ref(state, &arn)?;
            ok(200, json!({ "tags": tags.clone() }), false)
        }
        _ => Err(ServiceError::new(
            404,
            "UnknownOperationException",
            format!("Unknown operation {} {}", req.method, req.path),
        )),
    }
}

/// Answers a read-only request without a write lock: `None` when the request is not a read
/// (then call [`handle`]). Reads never change the state, so `mutated` is always `false`.
pub fn read(state: &ApiGatewayState, req: &ApigwRequest<'_>) -> Option<Outcome> {
    let r = route(req.path)?;
    let op = op_name(req.method, &r);
    if is_write(op) || op == "Unknown" {
        return None;
    }
    Some(dispatch_read(state, req, op, r))
}

fn dispatch(state: &mut ApiGatewayState, req: &ApigwRequest<'_>, r: Route) -> Res {
    let op = op_name(req.method, &r);
    if !is_write(op) && op != "Unknown" {
        return dispatch_read(state, req, op, r);
    }
    let body = if is_write(op) && !req.body.is_empty() {
        serde_json::from_slice::<Value>(req.body)
            .map_err(|e| bad_request(format!("Invalid JSON body: {e}")))?
    } else {
        Value::Object(Map::new())
    };
    let q = Query(req.query);
    match (op, r) {
        ("CreateRestApi", _) => create_rest_api(state, &body),
        ("UpdateRestApi", Route::RestApi(a)) => {
            let api = find_api_mut(state, &a)?;
            apply_patches(&mut api.info, &body, REST_API_PATCH)?;
            ok(200, api_json(api), true)
        }
        ("DeleteRestApi", Route::RestApi(a)) => {
            let before = state.rest_apis.len();
            state.rest_apis.retain(|x| str_of(&x.info, "id") != a);
            if state.rest_apis.len() == before {
                return Err(not_found(NO_API));
            }
            empty(202)
        }
        ("CreateResource", Route::Resource(a, parent)) => create_resource(state, &a, &parent, &body),
        ("UpdateResource", Route::Resource(a, r)) => update_resource(state, &a, &r, &body),
        ("DeleteResource", Route::Resource(a, r)) => delete_resource(state, &a, &r),
        ("PutMethod", Route::Method(a, r, m)) => put_method(state, &a, &r, &m, &body),
        ("UpdateMethod", Route::Method(a, r, m)) => {
            let method = method_mut(state, &a, &r, &m)?;
            apply_patches(method, &body, METHOD_PATCH)?;
            ok(200, Value::Object(method.clone()), true)
        }
        ("DeleteMethod", Route::Method(a, r, m)) => {
            let api = find_api_mut(state, &a)?;
            let res = find_resource_mut(api, &r)?;
            res.methods.remove(&m).ok_or_else(|| not_found(NO_METHOD))?;
            empty(204)
        }
        ("PutMethodResponse", Route::MethodResponse(a, r, m, c)) => {
            let method = method_mut(state, &a, &r, &m)?;
            put_response(
                method,
                "methodResponses",
                c,
                &body,
                &["responseParameters", "responseModels"],
            )
        }
        ("UpdateMethodResponse", Route::MethodResponse(a, r, m, c)) => {
            let method = method_mut(state, &a, &r, &m)?;
            let resp = existing_sub(method, "methodResponses", &c, NO_RESPONSE)?;
            apply_patches(resp, &body, METHOD_RESPONSE_PATCH)?;
            ok(200, Value::Object(resp.clone()), true)
        }
        ("DeleteMethodResponse", Route::MethodResponse(a, r, m, c)) => {
            delete_response(method_mut(state, &a, &r, &m)?, "methodResponses", &c)
        }
        ("PutIntegration", Route::Integration(a, r, m)) => put_integration(state, &a, &r, &m, &body),
        ("UpdateIntegration", Route::Integration(a, r, m)) => {
            let integ = integration_mut(state, &a, &r, &m)?;
            apply_patches(integ, &body, INTEGRATION_PATCH)?;
            ok(200, Value::Object(integ.clone()), true)
        }
        ("DeleteIntegration", Route::Integration(a, r, m)) => {
            let method = method_mut(state, &a, &r, &m)?;
            method
                .remove("methodIntegration")
                .ok_or_else(|| not_found(NO_INTEGRATION))?;
            empty(204)
        }
        ("PutIntegrationResponse", Route::IntegrationResponse(a, r, m, c)) => {
            let integ = integration_mut(state, &a, &r, &m)?;
            put_response(
                integ,
                "integrationResponses",
                c,
                &body,
                &[
                    "selectionPattern",
                    "responseParameters",
                    "responseTemplates",
                    "contentHandling",
                ],
            )
        }
        ("UpdateIntegrationResponse", Route::IntegrationResponse(a, r, m, c)) => {
            let integ = integration_mut(state, &a, &r, &m)?;
            let resp = existing_sub(integ, "integrationResponses", &c, NO_RESPONSE)?;
            apply_patches(resp, &body, INTEGRATION_RESPONSE_PATCH)?;
            ok(200, Value::Object(resp.clone()), true)
        }
        ("DeleteIntegrationResponse", Route::IntegrationResponse(a, r, m, c)) => {
            delete_response(integration_mut(state, &a, &r, &m)?, "integrationResponses", &c)
        }
        ("CreateDeployment", Route::Deployments(a)) => create_deployment(state, &a, &body),
        ("UpdateDeployment", Route::Deployment(a, d)) => {
            let api = find_api_mut(state, &a)?;
            let dep = api.deployments.iter_mut().find(|x| str_of(x, "id") == d);
            let dep = dep.ok_or_else(|| not_found(NO_DEPLOYMENT))?;
            apply_patches(dep, &body, &[("description", Kind::Str)])?;
            ok(200, Value::Object(dep.clone()), true)
        }
        ("DeleteDeployment", Route::Deployment(a, d)) => {
            let api = find_api_mut(state, &a)?;
            if !api.deployments.iter().any(|x| str_of(x, "id") == d) {
                return Err(not_found(NO_DEPLOYMENT));
            }
            if api.stages.iter().any(|s| str_of(s, "deploymentId") == d) {
                return Err(bad_request(
                    "Active stages pointing to this deployment must be moved or deleted",
                ));
            }
            api.deployments.retain(|x| str_of(x, "id") != d);
            empty(202)
        }
        ("CreateStage", Route::Stages(a)) => create_stage(state, &a, &body),
        ("UpdateStage", Route::Stage(a, n)) => {
            let api = find_api_mut(state, &a)?;
            let deployments: Vec<String> = api
                .deployments
                .iter()
                .map(|d| str_of(d, "id").to_owned())
                .collect();
            let stage = api.stages.iter_mut().find(|s| str_of(s, "stageName") == n);
            let stage = stage.ok_or_else(|| not_found(NO_STAGE))?;
            let mut updated = stage.clone();
            apply_patches(&mut updated, &body, STAGE_PATCH)?;
            if !deployments.iter().any(|d| d == str_of(&updated, "deploymentId")) {
                return Err(bad_request("Deployment id does not exist"));
            }
            updated.insert("lastUpdatedDate".into(), json!(now()));
            *stage = updated;
            ok(200, Value::Object(stage.clone()), true)
        }
        ("DeleteStage", Route::Stage(a, n)) => {
            let api = find_api_mut(state, &a)?;
            let before = api.stages.len();
            api.stages.retain(|s| str_of(s, "stageName") != n);
            if api.stages.len() == before {
                return Err(not_found(NO_STAGE));
            }
            empty(202)
        }
        ("TagResource", Route::Tags(arn)) => {
            let new = body
                .get("tags")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            check_tags(&tags_ref(state, &arn)?, &new)?;
            let tags = tags_mut(state, &arn)?;
            for (k, v) in new {
                tags.insert(k, v);
            }
            empty(204)
        }
        ("UntagResource", Route::Tags(arn)) => {
            let keys: Vec<String> = q.all("tagKeys").map(str::to_owned).collect();
            let tags = tags_mut(state, &arn)?;
            for k in keys {
                tags.remove(&k);
            }
            empty(204)
        }
        _ => Err(ServiceError::new(
            404,
            "UnknownOperationException",
            format!("Unknown operation {} {}", req.method, req.path),
        )),
    }
}

/// `position`/`limit` pagination: the position is the index of the next item.
fn page(items: Vec<Value>, q: &Query<'_>) -> Res {
    let start = match q.first("position") {
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|&n| n <= items.len())
            .ok_or_else(|| bad_request("Invalid position specified"))?,
        None => 0,
    };
    let limit = match q.first("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|&n| (1..=500).contains(&n))
            .ok_or_else(|| bad_request("Invalid limit specified: must be between 1 and 500"))?,
        None => 25,
    };
    let end = start.saturating_add(limit).min(items.len());
    let mut out = Map::new();
    if end < items.len() {
        out.insert("position".into(), json!(end.to_string()));
    }
    let slice: Vec<Value> = items.get(start..end).map(<[Value]>::to_vec).unwrap_or_default();
    out.insert("item".into(), Value::Array(slice));
    ok(200, Value::Object(out), false)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A fresh id: 10 lowercase alphanumerics, derived from the persisted counter (splitmix64).
fn next_id(state: &mut ApiGatewayState) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    state.id_counter = state.id_counter.wrapping_add(1);
    let mut z = state.id_counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (0..10)
        .map(|_| {
            let c = ALPHABET[(z % 36) as usize];
            z /= 36;
            c as char
        })
        .collect()
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
fn integration_mut<'s>(
    state: &'s mut ApiGatewayState,
    a: &str,
    r: &str,
    m: &str,
) -> Result<&'s mut Map<String, Value>, ServiceError> {
    method_mut(state, a, r, m)?
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

/// Put{Method,Integration}Response: the response of status `code` in `parent[key]`, with `fields`
/// taken from the request body.
fn put_response(
    parent: &mut Map<String, Value>,
    key: &str,
    code: String,
    body: &Value,
    fields: &[&str],
) -> Res {
    let mut out = Map::new();
    out.insert("statusCode".into(), json!(code));
    copy_fields(body, &mut out, fields);
    sub_map(parent, key)?.insert(code, Value::Object(out.clone()));
    ok(201, Value::Object(out), true)
}

/// Delete{Method,Integration}Response: removes the response of status `code` from `parent[key]`.
fn delete_response(parent: &mut Map<String, Value>, key: &str, code: &str) -> Res {
    let removed = parent
        .get_mut(key)
        .and_then(Value::as_object_mut)
        .and_then(|x| x.remove(code));
    removed.ok_or_else(|| not_found(NO_RESPONSE))?;
    empty(204)
}

fn copy_fields(body: &Value, out: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
            out.insert((*k).to_owned(), v.clone());
        }
    }
}

fn api_json(api: &RestApi) -> Value {
    let mut info = api.info.clone();
    if info
        .get("tags")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        info.remove("tags");
    }
    Value::Object(info)
}

fn resource_json(r: &Resource, embed_methods: bool) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(r.id));
    if let Some(p) = &r.parent_id {
        out.insert("parentId".into(), json!(p));
    }
    if let Some(p) = &r.path_part {
        out.insert("pathPart".into(), json!(p));
    }
    out.insert("path".into(), json!(r.path));
    if !r.methods.is_empty() {
        let methods: Map<String, Value> = if embed_methods {
            r.methods.clone()
        } else {
            r.methods.keys().map(|k| (k.clone(), json!({}))).collect()
        };
        out.insert("resourceMethods".into(), Value::Object(methods));
    }
    Value::Object(out)
}

/// API Gateway's tag rules: at most 50 per resource; keys 1–128 characters, values at most 256,
/// both only letters, digits, spaces and `_ . : / = + - @`; keys may not start with `aws:`.
fn check_tags(existing: &Map<String, Value>, new: &Map<String, Value>) -> Result<(), ServiceError> {
    const MAX_TAGS: usize = 50;
    let allowed =
        |c: char| c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c);
    for (k, v) in new {
        if k.is_empty() || k.chars().count() > 128 || !k.chars().all(allowed) || k.starts_with("aws:") {
            return Err(bad_request(format!(
                "Invalid tag key {k:?}: 1 to 128 letters, digits, spaces or _ . : / = + - @, not starting with aws:"
            )));
        }
        let v = v
            .as_str()
            .ok_or_else(|| bad_request(format!("Invalid tag value for key {k:?}: expected a string")))?;
        if v.chars().count() > 256 || !v.chars().all(allowed) {
            return Err(bad_request(format!(
                "Invalid tag value {v:?} for key {k:?}: at most 256 letters, digits, spaces or _ . : / = + - @"
            )));
        }
    }
    let total = existing
        .keys()
        .chain(new.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if total > MAX_TAGS {
        return Err(bad_request(format!(
            "Too many tags: a resource can have at most {MAX_TAGS}, this request would make {total}"
        )));
    }
    Ok(())
}

fn create_rest_api(state: &mut ApiGatewayState, body: &Value) -> Res {
    let name = body.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        return Err(bad_request("Invalid REST API name specified"));
    }
    if let Some(tags) = body.get("tags").and_then(Value::as_object) {
        check_tags(&Map::new(), tags)?;
    }
    let id = next_id(state);
    let root = next_id(state);
    let mut info = Map::new();
    info.insert("id".into(), json!(id));
    info.insert("name".into(), json!(name));
    copy_fields(body, &mut info, &["description", "version", "binaryMediaTypes"]);
    info.insert("createdDate".into(), json!(now()));
    info.insert(
        "apiKeySource".into(),
        body.get("apiKeySource")
            .cloned()
            .unwrap_or_else(|| json!("HEADER")),
    );
    let types = body
        .pointer("/endpointConfiguration/types")
        .filter(|t| t.as_array().is_some_and(|a| !a.is_empty()))
        .cloned()
        .unwrap_or_else(|| json!(["EDGE"]));
    info.insert("endpointConfiguration".into(), json!({ "types": types }));
    copy_fields(body, &mut info, &["policy", "minimumCompressionSize"]);
    info.insert(
        "tags".into(),
        body.get("tags").cloned().unwrap_or_else(|| json!({})),
    );
    info.insert(
        "disableExecuteApiEndpoint".into(),
        body.get("disableExecuteApiEndpoint")
            .cloned()
            .unwrap_or(json!(false)),
    );
    info.insert("rootResourceId".into(), json!(root));
    let api = RestApi {
        info,
        resources: vec![Resource {
            id: root,
            parent_id: None,
            path_part: None,
            path: "/".into(),
            methods: Map::new(),
        }],
        deployments: Vec::new(),
        stages: Vec::new(),
        snapshots: Default::default(),
    };
    let out = api_json(&api);
    state.rest_apis.push(api);
    ok(201, out, true)
}

fn child_path(parent: &str, part: &str) -> String {
    if parent == "/" {
        format!("/{part}")
    } else {
        format!("{parent}/{part}")
    }
}

fn create_resource(state: &mut ApiGatewayState, a: &str, parent: &str, body: &Value) -> Res {
    let part = body
        .get("pathPart")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if part.is_empty() || part.contains('/') {
        return Err(bad_request("Resource's path part must be specified"));
    }
    let id = next_id(state);
    let api = find_api_mut(state, a)?;
    let parent_path = find_resource(api, parent)?.path.clone();
    if api
        .resources
        .iter()
        .any(|r| r.parent_id.as_deref() == Some(parent) && r.path_part.as_deref() == Some(&part))
    {
        return Err(conflict(format!(
            "Another resource with the same parent already has this name: {part}"
        )));
    }
    let res = Resource {
        id,
        parent_id: Some(parent.to_owned()),
        path: child_path(&parent_path, &part),
        path_part: Some(part),
        methods: Map::new(),
    };
    let out = resource_json(&res, false);
    api.resources.push(res);
    ok(201, out, true)
}

/// Recomputes every path from parents and path parts (after a move or rename).
fn recompute_paths(api: &mut RestApi) {
    for _ in 0..api.resources.len() {
        let mut changed = false;
        for i in 0..api.resources.len() {
            let (Some(parent), Some(part)) = (
                api.resources[i].parent_id.clone(),
                api.resources[i].path_part.clone(),
            ) else {
                continue;
            };
            if let Some(pp) = api
                .resources
                .iter()
                .find(|r| r.id == parent)
                .map(|r| r.path.clone())
            {
                let path = child_path(&pp, &part);
                if api.resources[i].path != path {
                    api.resources[i].path = path;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

fn update_resource(state: &mut ApiGatewayState, a: &str, r: &str, body: &Value) -> Res {
    let api = find_api_mut(state, a)?;
    let res = find_resource(api, r)?;
    if res.parent_id.is_none() {
        return Err(bad_request("Root resource cannot be updated"));
    }
    let mut fields = Map::new();
    fields.insert("pathPart".into(), json!(res.path_part));
    fields.insert("parentId".into(), json!(res.parent_id));
    apply_patches(
        &mut fields,
        body,
        &[("pathPart", Kind::Str), ("parentId", Kind::Str)],
    )?;
    let part = str_of(&fields, "pathPart").to_owned();
    let parent = str_of(&fields, "parentId").to_owned();
    if part.is_empty() || part.contains('/') {
        return Err(bad_request("Resource's path part must be specified"));
    }
    if !api.resources.iter().any(|x| x.id == parent) || subtree(api, r).contains(&parent) {
        return Err(bad_request("Invalid parent resource identifier specified"));
    }
    if api.resources.iter().any(|x| {
        x.id != r && x.parent_id.as_deref() == Some(&parent) && x.path_part.as_deref() == Some(&part)
    }) {
        return Err(conflict(format!(
            "Another resource with the same parent already has this name: {part}"
        )));
    }
    let res = find_resource_mut(api, r)?;
    res.path_part = Some(part);
    res.parent_id = Some(parent);
    recompute_paths(api);
    ok(200, resource_json(find_resource(api, r)?, false), true)
}

/// The ids of a resource and all its descendants.
fn subtree(api: &RestApi, root: &str) -> Vec<String> {
    let mut ids = vec![root.to_owned()];
    let mut i = 0;
    while i < ids.len() {
        let current = ids[i].clone();
        ids.extend(
            api.resources
                .iter()
                .filter(|r| r.parent_id.as_deref() == Some(current.as_str()))
                .map(|r| r.id.clone()),
        );
        i += 1;
    }
    ids
}

fn delete_resource(state: &mut ApiGatewayState, a: &str, r: &str) -> Res {
    let api = find_api_mut(state, a)?;
    if find_resource(api, r)?.parent_id.is_none() {
        return Err(bad_request("Cannot delete the root resource"));
    }
    let doomed = subtree(api, r);
    api.resources.retain(|x| !doomed.contains(&x.id));
    empty(202)
}

fn put_method(state: &mut ApiGatewayState, a: &str, r: &str, m: &str, body: &Value) -> Res {
    const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];
    if !METHODS.contains(&m) {
        return Err(bad_request(
            "Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY",
        ));
    }
    let auth = body
        .get("authorizationType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if auth.is_empty() {
        return Err(bad_request("Invalid authorization type specified"));
    }
    let api = find_api_mut(state, a)?;
    let res = find_resource_mut(api, r)?;
    if res.methods.contains_key(m) {
        return Err(conflict("Method already exists for this resource"));
    }
    let mut out = Map::new();
    out.insert("httpMethod".into(), json!(m));
    out.insert("authorizationType".into(), json!(auth));
    copy_fields(body, &mut out, &["authorizerId"]);
    out.insert(
        "apiKeyRequired".into(),
        body.get("apiKeyRequired")
            .cloned()
            .filter(Value::is_boolean)
            .unwrap_or(json!(false)),
    );
    copy_fields(
        body,
        &mut out,
        &[
            "requestValidatorId",
            "operationName",
            "requestParameters",
            "requestModels",
            "authorizationScopes",
        ],
    );
    res.methods.insert(m.to_owned(), Value::Object(out.clone()));
    ok(201, Value::Object(out), true)
}

fn put_integration(state: &mut ApiGatewayState, a: &str, r: &str, m: &str, body: &Value) -> Res {
    const TYPES: &[&str] = &["HTTP", "AWS", "MOCK", "HTTP_PROXY", "AWS_PROXY"];
    let ty = body.get("type").and_then(Value::as_str).unwrap_or("");
    if ty.is_empty() {
        return Err(bad_request(
            "Enumeration value for IntegrationType must be non-null",
        ));
    }
    if !TYPES.contains(&ty) {
        return Err(bad_request(format!("Invalid integration type specified: {ty}")));
    }
    let http_method = body.get("httpMethod").and_then(Value::as_str);
    if ty != "MOCK" {
        if http_method.is_none() {
            return Err(bad_request("Enumeration value for HttpMethod must be non-null"));
        }
        if body.get("uri").and_then(Value::as_str).unwrap_or("").is_empty() {
            return Err(bad_request("Invalid URI specified"));
        }
    }
    let method = method_mut(state, a, r, m)?;
    let mut out = Map::new();
    out.insert("type".into(), json!(ty));
    copy_fields(
        body,
        &mut out,
        &[
            "httpMethod",
            "uri",
            "connectionType",
            "connectionId",
            "credentials",
        ],
    );
    if !out.contains_key("connectionType") {
        out.insert("connectionType".into(), json!("INTERNET"));
    }
    copy_fields(body, &mut out, &["requestParameters", "requestTemplates"]);
    out.insert(
        "passthroughBehavior".into(),
        body.get("passthroughBehavior")
            .cloned()
            .unwrap_or(json!("WHEN_NO_MATCH")),
    );
    copy_fields(body, &mut out, &["contentHandling"]);
    out.insert(
        "timeoutInMillis".into(),
        body.get("timeoutInMillis")
            .cloned()
            .filter(Value::is_number)
            .unwrap_or(json!(29000)),
    );
    out.insert(
        "cacheNamespace".into(),
        body.get("cacheNamespace").cloned().unwrap_or_else(|| json!(r)),
    );
    out.insert(
        "cacheKeyParameters".into(),
        body.get("cacheKeyParameters")
            .cloned()
            .unwrap_or_else(|| json!([])),
    );
    copy_fields(body, &mut out, &["tlsConfig"]);
    method.insert("methodIntegration".into(), Value::Object(out.clone()));
    ok(201, Value::Object(out), true)
}

fn create_deployment(state: &mut ApiGatewayState, a: &str, body: &Value) -> Res {
    let id = next_id(state);
    let api = find_api_mut(state, a)?;
    if api.resources.iter().all(|r| r.methods.is_empty()) {
        return Err(bad_request("The REST API doesn't contain any methods"));
    }
    let mut dep = Map::new();
    dep.insert("id".into(), json!(id));
    copy_fields(body, &mut dep, &["description"]);
    dep.insert("createdDate".into(), json!(now()));
    if let Some(name) = body
        .get("stageName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        let variables = body.get("variables").and_then(Value::as_object);
        if let Some(stage) = api.stages.iter_mut().find(|s| str_of(s, "stageName") == name) {
            stage.insert("deploymentId".into(), json!(id));
            if let Some(vars) = variables {
                let target = sub_map(stage, "variables")?;
                for (k, v) in vars {
                    target.insert(k.clone(), v.clone());
                }
            }
            stage.insert("lastUpdatedDate".into(), json!(now()));
        } else {
            let mut stage_body = json!({ "stageName": name, "deploymentId": id });
            if let Some(d) = body.get("stageDescription") {
                stage_body["description"] = d.clone();
            }
            if let Some(v) = variables {
                stage_body["variables"] = Value::Object(v.clone());
            }
            api.stages.push(new_stage(&stage_body));
        }
    }
    api.deployments.push(dep.clone());
    let frozen = api.resources.clone();
    api.snapshots.insert(id.to_string(), frozen);
    ok(201, Value::Object(dep), true)
}

fn new_stage(body: &Value) -> Map<String, Value> {
    let mut s = Map::new();
    copy_fields(body, &mut s, &["deploymentId"]);
    s.insert(
        "stageName".into(),
        body.get("stageName").cloned().unwrap_or(json!("")),
    );
    copy_fields(body, &mut s, &["description"]);
    s.insert("cacheClusterEnabled".into(), json!(false));
    s.insert("cacheClusterStatus".into(), json!("NOT_AVAILABLE"));
    s.insert("methodSettings".into(), json!({}));
    copy_fields(body, &mut s, &["variables"]);
    s.insert(
        "tracingEnabled".into(),
        body.get("tracingEnabled")
            .cloned()
            .filter(Value::is_boolean)
            .unwrap_or(json!(false)),
    );
    s.insert(
        "tags".into(),
        body.get("tags").cloned().unwrap_or_else(|| json!({})),
    );
    let t = now();
    s.insert("createdDate".into(), json!(t));
    s.insert("lastUpdatedDate".into(), json!(t));
    s
}

fn create_stage(state: &mut ApiGatewayState, a: &str, body: &Value) -> Res {
    let api = find_api_mut(state, a)?;
    let name = body.get("stageName").and_then(Value::as_str).unwrap_or("");
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(bad_request(
            "Stage name only allows a-zA-Z0-9_ and must be between 1 and 128 characters",
        ));
    }
    let dep = body.get("deploymentId").and_then(Value::as_str).unwrap_or("");
    if !api.deployments.iter().any(|d| str_of(d, "id") == dep) {
        return Err(bad_request("Invalid deployment identifier specified"));
    }
    if api.stages.iter().any(|s| str_of(s, "stageName") == name) {
        return Err(conflict("Stage already exists"));
    }
    if let Some(tags) = body.get("tags").and_then(Value::as_object) {
        check_tags(&Map::new(), tags)?;
    }
    let stage = new_stage(body);
    api.stages.push(stage.clone());
    ok(201, Value::Object(stage), true)
}

/// The tags of a REST API or stage ARN, read-only.
fn tags_ref<'s>(state: &'s ApiGatewayState, arn: &str) -> Result<Map<String, Value>, ServiceError> {
    const INVALID: &str = "Invalid resource identifier specified";
    let rest = arn
        .strip_prefix("arn:aws:apigateway:")
        .and_then(|r| r.split_once("::"))
        .map(|(_, p)| p)
        .ok_or_else(|| bad_request(format!("Invalid ARN specified in the request: {arn}")))?;
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let owner: &'s Map<String, Value> = match segs.as_slice() {
        ["restapis", a] => &find_api(state, a).map_err(|_| not_found(INVALID))?.info,
        ["restapis", a, "stages", n] => {
            let api = find_api(state, a).map_err(|_| not_found(INVALID))?;
            let stage = api.stages.iter().find(|s| str_of(s, "stageName") == *n);
            stage.ok_or_else(|| not_found(INVALID))?
        }
        _ => return Err(not_found(INVALID)),
    };
    Ok(owner
        .get("tags")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default())
}

/// The tag map of a REST API or stage ARN: `arn:aws:apigateway:{region}::/restapis/{id}[/stages/{name}]`.
fn tags_mut<'s>(
    state: &'s mut ApiGatewayState,
    arn: &str,
) -> Result<&'s mut Map<String, Value>, ServiceError> {
    const INVALID: &str = "Invalid resource identifier specified";
    let rest = arn
        .strip_prefix("arn:aws:apigateway:")
        .and_then(|r| r.split_once("::"))
        .map(|(_, p)| p)
        .ok_or_else(|| bad_request(format!("Invalid ARN specified in the request: {arn}")))?;
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["restapis", a] => {
            let api = find_api_mut(state, a).map_err(|_| not_found(INVALID))?;
            sub_map(&mut api.info, "tags")
        }
        ["restapis", a, "stages", n] => {
            let api = find_api_mut(state, a).map_err(|_| not_found(INVALID))?;
            let stage = api.stages.iter_mut().find(|s| str_of(s, "stageName") == *n);
            sub_map(stage.ok_or_else(|| not_found(INVALID))?, "tags")
        }
        _ => Err(not_found(INVALID)),
    }
}

/// How a patchable field's value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Bool,
    Int,
    /// A map of strings; `/field/key` addresses one entry.
    StrMap,
    /// A map of booleans (`requestParameters` of methods).
    BoolMap,
    /// A list of strings; `/field/value` adds or removes one.
    StrList,
    /// `endpointConfiguration`: `/endpointConfiguration/types/EDGE` replaced by the value.
    Endpoint,
}

const REST_API_PATCH: &[(&str, Kind)] = &[
    ("name", Kind::Str),
    ("description", Kind::Str),
    ("apiKeySource", Kind::Str),
    ("policy", Kind::Str),
    ("version", Kind::Str),
    ("disableExecuteApiEndpoint", Kind::Bool),
    ("minimumCompressionSize", Kind::Int),
    ("binaryMediaTypes", Kind::StrList),
    ("endpointConfiguration", Kind::Endpoint),
];
const METHOD_PATCH: &[(&str, Kind)] = &[
    ("authorizationType", Kind::Str),
    ("authorizerId", Kind::Str),
    ("apiKeyRequired", Kind::Bool),
    ("operationName", Kind::Str),
    ("requestValidatorId", Kind::Str),
    ("requestParameters", Kind::BoolMap),
    ("requestModels", Kind::StrMap),
    ("authorizationScopes", Kind::StrList),
];
const METHOD_RESPONSE_PATCH: &[(&str, Kind)] = &[
    ("responseParameters", Kind::BoolMap),
    ("responseModels", Kind::StrMap),
];
const INTEGRATION_PATCH: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("httpMethod", Kind::Str),
    ("uri", Kind::Str),
    ("credentials", Kind::Str),
    ("connectionType", Kind::Str),
    ("connectionId", Kind::Str),
    ("passthroughBehavior", Kind::Str),
    ("contentHandling", Kind::Str),
    ("cacheNamespace", Kind::Str),
    ("timeoutInMillis", Kind::Int),
    ("requestTemplates", Kind::StrMap),
    ("requestParameters", Kind::StrMap),
    ("cacheKeyParameters", Kind::StrList),
];
const INTEGRATION_RESPONSE_PATCH: &[(&str, Kind)] = &[
    ("selectionPattern", Kind::Str),
    ("contentHandling", Kind::Str),
    ("responseTemplates", Kind::StrMap),
    ("responseParameters", Kind::StrMap),
];
const STAGE_PATCH: &[(&str, Kind)] = &[
    ("description", Kind::Str),
    ("deploymentId", Kind::Str),
    ("tracingEnabled", Kind::Bool),
    ("cacheClusterEnabled", Kind::Bool),
    ("variables", Kind::StrMap),
];

/// JSON-pointer unescaping of one path segment (`~1` → `/`, `~0` → `~`).
fn unescape(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

fn convert(kind: Kind, value: Option<&Value>, path: &str) -> Result<Value, ServiceError> {
    let invalid = || bad_request(format!("Invalid patch value specified for {path}"));
    let text = match value {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    match kind {
        Kind::Bool | Kind::BoolMap => match text.as_deref() {
            Some("true") => Ok(json!(true)),
            Some("false") | None => Ok(json!(false)),
            _ => Err(invalid()),
        },
        Kind::Int => text
            .and_then(|t| t.parse::<i64>().ok())
            .map(|n| json!(n))
            .ok_or_else(invalid),
        _ => Ok(json!(text.unwrap_or_default())),
    }
}

/// Applies AWS `patchOperations` to an object; unknown paths are a `BadRequestException`.
fn apply_patches(
    obj: &mut Map<String, Value>,
    body: &Value,
    fields: &[(&str, Kind)],
) -> Result<(), ServiceError> {
    let ops = match body.get("patchOperations") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(ops)) => ops,
        Some(_) => return Err(bad_request("patchOperations must be a list")),
    };
    for op in ops {
        let kind_of_op = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let value = op.get("value");
        let invalid_path = || bad_request(format!("Invalid patch path {path}"));
        if !matches!(kind_of_op, "add" | "remove" | "replace") {
            return Err(bad_request(format!(
                "Invalid patch operation specified: {kind_of_op}"
            )));
        }
        let segs: Vec<String> = path
            .strip_prefix('/')
            .ok_or_else(invalid_path)?
            .split('/')
            .map(unescape)
            .collect();
        let field = segs.first().map(String::as_str).unwrap_or("");
        let kind = fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, k)| *k)
            .ok_or_else(invalid_path)?;
        let remove = kind_of_op == "remove";
        match (kind, segs.len()) {
            (Kind::Str | Kind::Bool | Kind::Int, 1) => {
                if remove {
                    obj.remove(field);
                } else {
                    obj.insert(field.to_owned(), convert(kind, value, path)?);
                }
            }
            (Kind::StrMap | Kind::BoolMap, 1) if remove => {
                obj.remove(field);
            }
            (Kind::StrMap | Kind::BoolMap, n) if n >= 2 => {
                let key = segs[1..].join("/");
                let map = sub_map(obj, field)?;
                if remove {
                    if map.remove(&key).is_none() {
                        return Err(invalid_path());
                    }
                } else {
                    map.insert(key, convert(kind, value, path)?);
                }
                if map.is_empty() {
                    obj.remove(field);
                }
            }
            (Kind::StrList, 1) if remove => {
                obj.remove(field);
            }
            (Kind::StrList, n) if n >= 2 => {
                let item = segs[1..].join("/");
                let slot = obj.entry(field.to_owned()).or_insert_with(|| json!([]));
                if !slot.is_array() {
                    *slot = json!([]);
                }
                if let Value::Array(list) = slot {
                    list.retain(|v| v.as_str() != Some(item.as_str()));
                    if !remove {
                        list.push(json!(item));
                    }
                }
            }
            (Kind::Endpoint, 3) if segs[1] == "types" => {
                let types = obj
                    .get("endpointConfiguration")
                    .and_then(|e| e.get("types"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let target = &segs[2];
                let mut new_types: Vec<Value> = types
                    .into_iter()
                    .enumerate()
                    .filter(|(i, t)| t.as_str() != Some(target.as_str()) && i.to_string() != *target)
                    .map(|(_, t)| t)
                    .collect();
                if !remove {
                    let v = convert(Kind::Str, value, path)?;
                    if !["EDGE", "REGIONAL", "PRIVATE"].contains(&v.as_str().unwrap_or("")) {
                        return Err(bad_request(format!("Invalid endpoint type specified: {v}")));
                    }
                    if kind_of_op == "add" {
                        new_types.push(json!(target));
                    }
                    new_types.retain(|t| t != &v);
                    new_types.push(v);
                }
                sub_map(obj, "endpointConfiguration")?.insert("types".into(), Value::Array(new_types));
            }
            _ => return Err(invalid_path()),
        }
    }
    Ok(())
}

/// Percent-decoding of one path segment (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
