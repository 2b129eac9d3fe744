//! OpenAPI import (issue 23): `ImportRestApi` (`POST /restapis?mode=import`) creates a REST API
//! from an OpenAPI 3 (or Swagger 2.0) document, JSON or YAML; `PutRestApi`
//! (`PUT /restapis/{id}?mode=merge|overwrite`) merges one into an existing API or overwrites its
//! resources, as the developer guide's "Import an OpenAPI file to update an existing API
//! definition" describes (the API's name, description, endpoint configuration and stages stay).
//!
//! Each path becomes resources, each operation a method (`operationId` → `operationName`, the
//! operation's `parameters` → `method.request.{header,querystring,path}.NAME`, every status code
//! of `responses` a method response), and `x-amazon-apigateway-integration` its integration with
//! its `responses` (the key is the selection pattern, `default` none). The objects are made by the
//! same functions as PutMethod, PutIntegration and their responses, so they are checked as those
//! calls are (an integration mapping a method parameter the operation does not declare is refused).
//!
//! Must not: touch stages, deployments or the other records.

use serde_json::{Map, Value, json};

use super::write::{create_resource, create_rest_api, put_integration, put_method, put_response};
use super::*;

/// The HTTP methods an OpenAPI path item holds, with API Gateway's name for each.
const METHODS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("options", "OPTIONS"),
    ("head", "HEAD"),
    ("patch", "PATCH"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// `ImportRestApi`: a new REST API from the document.
pub(super) fn import(state: &mut ApiGatewayState, body: &[u8]) -> Res {
    let doc = parse(body)?;
    let info = doc.get("info").cloned().unwrap_or_else(|| json!({}));
    let mut create = Map::new();
    create.insert("name".into(), info.get("title").cloned().unwrap_or(json!("")));
    copy_fields(&info, &mut create, &["description", "version"]);
    extensions(&doc, &mut create);
    let created = create_rest_api(state, &Value::Object(create))?;
    let id = created
        .body
        .as_ref()
        .and_then(|b| b.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if let Err(e) = build(state, &id, &doc) {
        // An import that fails creates nothing.
        state.rest_apis.retain(|a| str_of(&a.info, "id") != id);
        return Err(e);
    }
    ok(201, api_json(find_api(state, &id)?), true)
}

/// `PutRestApi`: the document merged into API `a`, or its resources replaced (`overwrite`).
pub(super) fn put(state: &mut ApiGatewayState, a: &str, body: &[u8], mode: Option<&str>) -> Res {
    let overwrite = match mode.unwrap_or("merge") {
        "merge" => false,
        "overwrite" => true,
        _ => {
            return Err(bad_request(
                "Enumeration value of OpenAPI import mode must be \"overwrite\" or \"merge\"",
            ));
        }
    };
    find_api(state, a)?;
    let doc = parse(body)?;
    // Built on a copy, so that a refused document leaves the API as it was.
    let before = state.rest_apis.clone();
    if overwrite {
        let root = next_id(state);
        let api = find_api_mut(state, a)?;
        api.resources = vec![Resource {
            id: root.clone(),
            parent_id: None,
            path_part: None,
            path: "/".into(),
            methods: Map::new(),
        }];
        api.info.insert("rootResourceId".into(), json!(root));
    }
    if let Err(e) = build(state, a, &doc) {
        state.rest_apis = before;
        return Err(e);
    }
    let api = find_api_mut(state, a)?;
    extensions(&doc, &mut api.info);
    ok(200, api_json(api), true)
}

/// The document as JSON, from JSON or YAML, with the parts an import needs checked.
fn parse(body: &[u8]) -> Result<Value, ServiceError> {
    let text = std::str::from_utf8(body).map_err(|_| bad_request("The API definition is not UTF-8 text"))?;
    let doc = match serde_json::from_str::<Value>(text) {
        Ok(doc) => doc,
        Err(_) => serde_saphyr::from_str::<Value>(text).map_err(|e| {
            bad_request(format!(
                "Failed to parse the uploaded OpenAPI document due to: {e}"
            ))
        })?,
    };
    if !doc.is_object() {
        return Err(bad_request("Failed to parse the uploaded OpenAPI document"));
    }
    let openapi_3 = doc
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("3."));
    let swagger_2 = doc.get("swagger").and_then(Value::as_str) == Some("2.0");
    if !openapi_3 && !swagger_2 {
        return Err(bad_request("Only OpenAPI 3.x.x are currently supported"));
    }
    if !doc.get("paths").is_some_and(Value::is_object) {
        return Err(bad_request(
            "Failed to parse the uploaded OpenAPI document due to: 'paths' is a required property",
        ));
    }
    Ok(doc)
}

/// The API-level `x-amazon-apigateway-*` extensions kept on the REST API.
fn extensions(doc: &Value, info: &mut Map<String, Value>) {
    let pairs = [
        ("x-amazon-apigateway-binary-media-types", "binaryMediaTypes"),
        ("x-amazon-apigateway-api-key-source", "apiKeySource"),
        (
            "x-amazon-apigateway-minimum-compression-size",
            "minimumCompressionSize",
        ),
    ];
    for (extension, field) in pairs {
        if let Some(v) = doc.get(extension).filter(|v| !v.is_null()) {
            info.insert(field.into(), v.clone());
        }
    }
}

/// Creates the document's resources, methods and integrations in API `a`; an operation already
/// present is replaced by the document's.
fn build(state: &mut ApiGatewayState, a: &str, doc: &Value) -> Result<(), ServiceError> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (path, item) in &paths {
        let resource = ensure_path(state, a, path)?;
        let Some(item) = item.as_object() else { continue };
        for (key, http) in METHODS {
            if let Some(operation) = item.get(*key).and_then(Value::as_object) {
                add_method(state, a, &resource, http, item, operation)?;
            }
        }
    }
    Ok(())
}

/// The id of the resource at `path`, creating the missing ones on the way.
fn ensure_path(state: &mut ApiGatewayState, a: &str, path: &str) -> Result<String, ServiceError> {
    let api = find_api(state, a)?;
    let mut current = api
        .resources
        .iter()
        .find(|r| r.parent_id.is_none())
        .map(|r| r.id.clone())
        .ok_or_else(|| not_found(NO_RESOURCE))?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let api = find_api(state, a)?;
        let existing = api.resources.iter().find(|r| {
            r.parent_id.as_deref() == Some(current.as_str()) && r.path_part.as_deref() == Some(part)
        });
        current = match existing {
            Some(r) => r.id.clone(),
            None => {
                let created = create_resource(state, a, &current, &json!({ "pathPart": part }))?;
                created
                    .body
                    .as_ref()
                    .and_then(|b| b.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            }
        };
    }
    Ok(current)
}

fn add_method(
    state: &mut ApiGatewayState,
    a: &str,
    r: &str,
    http: &str,
    item: &Map<String, Value>,
    operation: &Map<String, Value>,
) -> Result<(), ServiceError> {
    find_resource_mut(find_api_mut(state, a)?, r)?
        .methods
        .remove(http);
    let mut method = Map::new();
    method.insert("authorizationType".into(), json!("NONE"));
    if let Some(id) = operation.get("operationId").filter(|v| v.is_string()) {
        method.insert("operationName".into(), id.clone());
    }
    // Path-level parameters apply to every operation of the path.
    let mut parameters = Map::new();
    let declared = item
        .get("parameters")
        .into_iter()
        .chain(operation.get("parameters"));
    for p in declared.filter_map(Value::as_array).flatten() {
        let place = match p.get("in").and_then(Value::as_str) {
            Some("header") => "header",
            Some("query") => "querystring",
            Some("path") => "path",
            _ => continue,
        };
        if let Some(name) = p.get("name").and_then(Value::as_str) {
            let required = p
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(place == "path");
            parameters.insert(format!("method.request.{place}.{name}"), json!(required));
        }
    }
    if !parameters.is_empty() {
        method.insert("requestParameters".into(), Value::Object(parameters));
    }
    if operation.get("x-amazon-apigateway-api-key-required") == Some(&json!(true)) {
        method.insert("apiKeyRequired".into(), json!(true));
    }
    put_method(state, a, r, http, &Value::Object(method))?;
    let codes: Vec<String> = operation
        .get("responses")
        .and_then(Value::as_object)
        .map(|r| r.keys().filter(|k| *k != "default").cloned().collect())
        .unwrap_or_default();
    for code in codes {
        put_response(
            method_mut(state, a, r, http)?,
            "methodResponses",
            code,
            &json!({}),
            &[],
        )?;
    }
    let Some(integration) = operation
        .get("x-amazon-apigateway-integration")
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    let mut body = integration.clone();
    body.remove("responses");
    if let Some(ty) = body.get("type").and_then(Value::as_str) {
        let upper = ty.to_uppercase();
        body.insert("type".into(), json!(upper));
    }
    if let Some(m) = body.get("httpMethod").and_then(Value::as_str) {
        let upper = m.to_uppercase();
        body.insert("httpMethod".into(), json!(upper));
    }
    put_integration(state, a, r, http, &Value::Object(body))?;
    let responses = integration.get("responses").and_then(Value::as_object);
    for (pattern, response) in responses.into_iter().flatten() {
        let Some(code) = response.get("statusCode") else {
            continue;
        };
        let code = match code {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut out = response.as_object().cloned().unwrap_or_default();
        if pattern != "default" {
            out.insert("selectionPattern".into(), json!(pattern));
        }
        let integ = integration_of(method_mut(state, a, r, http)?)?;
        put_response(
            integ,
            "integrationResponses",
            code,
            &Value::Object(out),
            &[
                "selectionPattern",
                "responseParameters",
                "responseTemplates",
                "contentHandling",
            ],
        )?;
    }
    Ok(())
}
