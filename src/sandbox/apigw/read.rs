//! The read operations (`Get*`), answered from a shared borrow of the state, and the views
//! they share (a REST API, a resource, a page of items). Must not: change the state.

use serde_json::{Map, Value, json};

use super::*;
use crate::sandbox::protocol;

/// Answers a read-only operation (`Get*`) from a shared borrow of the state.
pub(super) fn dispatch_read(state: &ApiGatewayState, req: &ApigwRequest<'_>, op: &str, r: Route) -> Res {
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

/// `position`/`limit` pagination: the position is the index of the next item.
pub(super) fn page(items: Vec<Value>, q: &Query<'_>) -> Res {
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
    let (slice, next) = protocol::page(&items, start, limit);
    let mut out = Map::new();
    if let Some(next) = next {
        out.insert("position".into(), json!(next.to_string()));
    }
    out.insert("item".into(), Value::Array(slice.to_vec()));
    ok(200, Value::Object(out), false)
}

pub(super) fn api_json(api: &RestApi) -> Value {
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

pub(super) fn resource_json(r: &Resource, embed_methods: bool) -> Value {
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
