//! The write operations (`Create*`, `Put*`, `Update*`, `Delete*`, tagging): AWS's rules for
//! each, over the state. Must not: know the wire (errors are [`ServiceError`]s).

use serde_json::{Map, Value, json};

use super::*;

pub(super) fn dispatch(state: &mut ApiGatewayState, req: &ApigwRequest<'_>, r: Route) -> Res {
    let op = op_name(req.method, &r);
    if !is_write(op) && op != "Unknown" {
        return dispatch_read(state, req, op, r);
    }
    let q = Query(req.query);
    // An OpenAPI document (JSON or YAML) rather than a JSON request.
    match (op, &r) {
        ("CreateRestApi", _) if q.first("mode") == Some("import") => {
            return openapi::import(state, req.body);
        }
        ("PutRestApi", Route::RestApi(a)) => return openapi::put(state, a, req.body, q.first("mode")),
        _ => {}
    }
    let body = if is_write(op) && !req.body.is_empty() {
        serde_json::from_slice::<Value>(req.body)
            .map_err(|e| bad_request(format!("Invalid JSON body: {e}")))?
    } else {
        Value::Object(Map::new())
    };
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
            state
                .records
                .retain(|k, _| !k.starts_with(&format!("restapis/{a}/")));
            empty(202)
        }
        ("CreateResource", Route::Resource(a, parent)) => create_resource(state, &a, &parent, &body),
        ("UpdateResource", Route::Resource(a, r)) => update_resource(state, &a, &r, &body),
        ("DeleteResource", Route::Resource(a, r)) => delete_resource(state, &a, &r),
        ("PutMethod", Route::Method(a, r, m)) => put_method(state, &a, &r, &m, &body),
        ("UpdateMethod", Route::Method(a, r, m)) => {
            let method = method_mut(state, &a, &r, &m)?;
            apply_patches(method, &body, METHOD_PATCH)?;
            // `replace /requestValidatorId` with "" takes the validator off, as in AWS.
            if method.get("requestValidatorId").and_then(Value::as_str) == Some("") {
                method.remove("requestValidatorId");
            }
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
            let integ = integration_of(method_mut(state, &a, &r, &m)?)?;
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
            let integ = integration_of(method_mut(state, &a, &r, &m)?)?;
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
            let integ = integration_of(method_mut(state, &a, &r, &m)?)?;
            let resp = existing_sub(integ, "integrationResponses", &c, NO_RESPONSE)?;
            apply_patches(resp, &body, INTEGRATION_RESPONSE_PATCH)?;
            ok(200, Value::Object(resp.clone()), true)
        }
        ("DeleteIntegrationResponse", Route::IntegrationResponse(a, r, m, c)) => delete_response(
            integration_of(method_mut(state, &a, &r, &m)?)?,
            "integrationResponses",
            &c,
        ),
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
            let canary_of = |s: &Map<String, Value>| {
                s.get("canarySettings")
                    .and_then(Value::as_object)
                    .is_some_and(|c| str_of(c, "deploymentId") == d)
            };
            if api
                .stages
                .iter()
                .any(|s| str_of(s, "deploymentId") == d || canary_of(s))
            {
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
            canary::patch_stage(&mut updated, &body, &deployments)?;
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

/// Put{Method,Integration}Response: the response of status `code` in `parent[key]`, with `fields`
/// taken from the request body.
pub(super) fn put_response(
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

/// A field of CreateRestApi outside its enumeration: AWS's `ValidationException` (400), as for
/// every request member that fails its model's constraint.
fn check_enum(value: Option<&Value>, field: &str, allowed: &[&str]) -> Result<(), ServiceError> {
    match value.filter(|v| !v.is_null()) {
        Some(Value::String(v)) if allowed.contains(&v.as_str()) => Ok(()),
        None => Ok(()),
        Some(other) => {
            let shown = other.as_str().map_or_else(|| other.to_string(), str::to_owned);
            Err(ServiceError::new(
                400,
                "ValidationException",
                enum_message(&format!("createRestApiInput.{field}"), &shown, allowed),
            ))
        }
    }
}

pub(super) fn create_rest_api(state: &mut ApiGatewayState, body: &Value) -> Res {
    let name = body.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        return Err(bad_request("Invalid REST API name specified"));
    }
    if let Some(tags) = body.get("tags").and_then(Value::as_object) {
        check_tags(&Map::new(), tags)?;
    }
    check_enum(
        body.get("apiKeySource"),
        "apiKeySource",
        &["HEADER", "AUTHORIZER"],
    )?;
    let types = body
        .pointer("/endpointConfiguration/types")
        .and_then(Value::as_array);
    for ty in types.into_iter().flatten() {
        check_enum(
            Some(ty),
            "endpointConfiguration.types",
            &["REGIONAL", "EDGE", "PRIVATE"],
        )?;
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

/// AWS's rule for a path part, in its own words: "a-zA-Z0-9._- and curly braces at the
/// beginning and the end and an optional plus sign before the closing brace" (`:` passes too).
fn valid_path_part(part: &str) -> bool {
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c));
    match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        Some(inner) => plain(inner.strip_suffix('+').unwrap_or(inner)),
        None => plain(part),
    }
}

pub(super) fn create_resource(state: &mut ApiGatewayState, a: &str, parent: &str, body: &Value) -> Res {
    let part = body
        .get("pathPart")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if part.is_empty() {
        return Err(bad_request("Resource's path part must be specified"));
    }
    if !valid_path_part(&part) {
        return Err(bad_request(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.",
        ));
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

pub(super) fn put_method(state: &mut ApiGatewayState, a: &str, r: &str, m: &str, body: &Value) -> Res {
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

pub(super) fn put_integration(state: &mut ApiGatewayState, a: &str, r: &str, m: &str, body: &Value) -> Res {
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
    if let Some(h) = body.get("contentHandling").and_then(Value::as_str)
        && !["CONVERT_TO_TEXT", "CONVERT_TO_BINARY"].contains(&h)
    {
        return Err(bad_request(format!(
            "Invalid content handling specified: {h}. Valid values are CONVERT_TO_TEXT, CONVERT_TO_BINARY"
        )));
    }
    let method = method_mut(state, a, r, m)?;
    // A mapping from a method request parameter needs the method to declare it (AWS's check).
    let declared = method.get("requestParameters").and_then(Value::as_object);
    for source in body
        .get("requestParameters")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.values())
        .filter_map(Value::as_str)
        .filter(|s| s.starts_with("method.request."))
    {
        if !declared.is_some_and(|d| d.contains_key(source)) {
            return Err(bad_request(format!(
                "Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping expression parameter specified: {source}]"
            )));
        }
    }
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
    let canary = canary::from_deployment(body, &id)?;
    let stage_name = body.get("stageName").and_then(Value::as_str).unwrap_or("");
    if canary.is_some() && !api.stages.iter().any(|s| str_of(s, "stageName") == stage_name) {
        // A canary goes beside a stage's deployment: the stage must exist already.
        return Err(bad_request(format!(
            "Invalid stage identifier specified: a canary deployment needs the existing stage '{stage_name}'"
        )));
    }
    if let Some(name) = body
        .get("stageName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        let variables = body.get("variables").and_then(Value::as_object);
        if let Some(stage) = api.stages.iter_mut().find(|s| str_of(s, "stageName") == name) {
            match canary {
                Some(c) => {
                    stage.insert("canarySettings".into(), Value::Object(c));
                }
                None => {
                    stage.insert("deploymentId".into(), json!(id));
                }
            }
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
