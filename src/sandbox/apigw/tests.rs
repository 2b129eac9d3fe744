//! Unit tests of the API Gateway handler (one concern: every operation driven through `handle`
//! and `read` over an in-memory state, with the answers as the restJson wire carries them).

use serde_json::{Value, json};

use super::super::protocol::Outcome;
use super::*;

/// An answer as the restJson wire carries it: status, JSON body, `x-amzn-ErrorType`, and
/// whether the state changed.
#[derive(Debug, PartialEq)]
struct ApigwResponse {
    status: u16,
    body: Option<Value>,
    error_type: Option<String>,
    mutated: bool,
}

impl From<Outcome> for ApigwResponse {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Ok(r) => ApigwResponse {
                status: r.status,
                body: r.body,
                error_type: None,
                mutated: r.mutated,
            },
            Err(e) => ApigwResponse {
                status: e.status,
                body: Some(json!({ "message": e.message })),
                error_type: Some(e.code),
                mutated: false,
            },
        }
    }
}

fn handle(state: &mut ApiGatewayState, req: &ApigwRequest<'_>) -> ApigwResponse {
    super::handle(state, req).into()
}

fn read(state: &ApiGatewayState, req: &ApigwRequest<'_>) -> Option<ApigwResponse> {
    super::read(state, req).map(ApigwResponse::from)
}

fn ctx() -> RequestContext {
    RequestContext {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
    }
}

fn call(
    state: &mut ApiGatewayState,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Value,
) -> ApigwResponse {
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    let ctx = ctx();
    handle(
        state,
        &ApigwRequest {
            method,
            path,
            query: &query,
            body: &bytes,
            ctx: &ctx,
        },
    )
}

fn ok_body(r: ApigwResponse) -> Value {
    assert!(r.status < 300, "unexpected error: {r:?}");
    r.body.unwrap_or(Value::Null)
}

fn err(r: &ApigwResponse) -> (u16, &str) {
    (r.status, r.error_type.as_deref().unwrap_or(""))
}

/// A REST API with a GET method (MOCK integration) on /pets; returns (api id, root id, pets id).
fn api_with_method(state: &mut ApiGatewayState) -> (String, String, String) {
    let api = ok_body(call(state, "POST", "/restapis", &[], json!({"name": "pets"})));
    let id = api["id"].as_str().unwrap().to_owned();
    let root = api["rootResourceId"].as_str().unwrap().to_owned();
    let res = ok_body(call(
        state,
        "POST",
        &format!("/restapis/{id}/resources/{root}"),
        &[],
        json!({"pathPart": "pets"}),
    ));
    let rid = res["id"].as_str().unwrap().to_owned();
    ok_body(call(
        state,
        "PUT",
        &format!("/restapis/{id}/resources/{rid}/methods/GET"),
        &[],
        json!({"authorizationType": "NONE"}),
    ));
    ok_body(call(
        state,
        "PUT",
        &format!("/restapis/{id}/resources/{rid}/methods/GET/integration"),
        &[],
        json!({"type": "MOCK", "requestTemplates": {"application/json": "{\"statusCode\": 200}"}}),
    ));
    (id, root, rid)
}

#[test]
fn operation_names_every_route() {
    assert_eq!(operation("GET", "/restapis"), "GetRestApis");
    assert_eq!(operation("POST", "/restapis"), "CreateRestApi");
    assert_eq!(operation("PATCH", "/restapis/abc"), "UpdateRestApi");
    assert_eq!(operation("GET", "/restapis/abc/resources"), "GetResources");
    assert_eq!(operation("POST", "/restapis/abc/resources/r1"), "CreateResource");
    assert_eq!(
        operation("PUT", "/restapis/a/resources/r/methods/GET"),
        "PutMethod"
    );
    assert_eq!(
        operation("GET", "/restapis/a/resources/r/methods/GET/integration"),
        "GetIntegration"
    );
    assert_eq!(
        operation(
            "PATCH",
            "/restapis/a/resources/r/methods/GET/integration/responses/200"
        ),
        "UpdateIntegrationResponse"
    );
    assert_eq!(
        operation("DELETE", "/restapis/a/resources/r/methods/GET/responses/200"),
        "DeleteMethodResponse"
    );
    assert_eq!(operation("POST", "/restapis/a/deployments"), "CreateDeployment");
    assert_eq!(operation("DELETE", "/restapis/a/stages/prod"), "DeleteStage");
    assert_eq!(
        operation(
            "DELETE",
            "/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2Fa"
        ),
        "UntagResource"
    );
    assert_eq!(operation("GET", "/nope"), "Unknown");
    assert_eq!(operation("POST", "/restapis/a/stages/prod"), "Unknown");
    assert!(is_write("PutIntegration") && is_write("UntagResource") && is_write("DeleteStage"));
    assert!(!is_write("GetIntegration") && !is_write("GetRestApis") && !is_write("Unknown"));
}

#[test]
fn create_rest_api_fills_aws_defaults_and_root() {
    let mut s = ApiGatewayState::default();
    let r = call(
        &mut s,
        "POST",
        "/restapis",
        &[],
        json!({"name": "a", "description": "d", "tags": {"k": "v"}}),
    );
    assert_eq!(r.status, 201);
    assert!(r.mutated);
    let api = r.body.unwrap();
    let id = api["id"].as_str().unwrap();
    assert_eq!(id.len(), 10);
    assert!(id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    assert_eq!(api["apiKeySource"], "HEADER");
    assert_eq!(api["endpointConfiguration"], json!({"types": ["EDGE"]}));
    assert_eq!(api["disableExecuteApiEndpoint"], false);
    assert_eq!(api["tags"], json!({"k": "v"}));
    assert!(api["createdDate"].is_number());
    let resources = ok_body(call(
        &mut s,
        "GET",
        &format!("/restapis/{id}/resources"),
        &[],
        Value::Null,
    ));
    assert_eq!(
        resources["item"],
        json!([{"id": api["rootResourceId"], "path": "/"}])
    );
    let missing = call(&mut s, "POST", "/restapis", &[], json!({}));
    assert_eq!(err(&missing), (400, "BadRequestException"));
    let bad_json = handle(
        &mut s,
        &ApigwRequest {
            method: "POST",
            path: "/restapis",
            query: &[],
            body: b"{",
            ctx: &ctx(),
        },
    );
    assert_eq!(err(&bad_json), (400, "BadRequestException"));
}

#[test]
fn ids_are_deterministic_and_distinct() {
    let mut a = ApiGatewayState::default();
    let mut b = ApiGatewayState::default();
    let ids: Vec<String> = (0..50).map(|_| next_id(&mut a)).collect();
    let again: Vec<String> = (0..50).map(|_| next_id(&mut b)).collect();
    assert_eq!(ids, again);
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 50);
}

#[test]
fn rest_apis_paginate_get_update_delete() {
    let mut s = ApiGatewayState::default();
    for i in 0..5 {
        call(
            &mut s,
            "POST",
            "/restapis",
            &[],
            json!({"name": format!("api{i}")}),
        );
    }
    let p1 = ok_body(call(&mut s, "GET", "/restapis", &[("limit", "2")], Value::Null));
    assert_eq!(p1["item"].as_array().unwrap().len(), 2);
    let pos = p1["position"].as_str().unwrap().to_owned();
    let p2 = ok_body(call(
        &mut s,
        "GET",
        "/restapis",
        &[("limit", "2"), ("position", &pos)],
        Value::Null,
    ));
    let pos = p2["position"].as_str().unwrap().to_owned();
    let p3 = ok_body(call(
        &mut s,
        "GET",
        "/restapis",
        &[("limit", "2"), ("position", &pos)],
        Value::Null,
    ));
    assert_eq!(p3["item"].as_array().unwrap().len(), 1);
    assert!(p3.get("position").is_none());
    assert_eq!(p3["item"][0]["name"], "api4");
    assert_eq!(
        err(&call(
            &mut s,
            "GET",
            "/restapis",
            &[("position", "zz")],
            Value::Null
        )),
        (400, "BadRequestException")
    );
    assert_eq!(
        err(&call(&mut s, "GET", "/restapis", &[("limit", "0")], Value::Null)),
        (400, "BadRequestException")
    );

    let id = p1["item"][0]["id"].as_str().unwrap().to_owned();
    let patched = ok_body(call(
        &mut s,
        "PATCH",
        &format!("/restapis/{id}"),
        &[],
        json!({"patchOperations": [
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "replace", "path": "/description", "value": "new"},
            {"op": "replace", "path": "/endpointConfiguration/types/EDGE", "value": "REGIONAL"},
            {"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "true"}
        ]}),
    ));
    assert_eq!(patched["name"], "renamed");
    assert_eq!(patched["description"], "new");
    assert_eq!(patched["endpointConfiguration"]["types"], json!(["REGIONAL"]));
    assert_eq!(patched["disableExecuteApiEndpoint"], true);
    let got = ok_body(call(&mut s, "GET", &format!("/restapis/{id}"), &[], Value::Null));
    assert_eq!(got, patched);
    let bad = call(
        &mut s,
        "PATCH",
        &format!("/restapis/{id}"),
        &[],
        json!({"patchOperations": [{"op": "replace", "path": "/nope", "value": "x"}]}),
    );
    assert_eq!(err(&bad), (400, "BadRequestException"));
    let r = call(&mut s, "DELETE", &format!("/restapis/{id}"), &[], Value::Null);
    assert_eq!((r.status, r.mutated), (202, true));
    let gone = call(&mut s, "GET", &format!("/restapis/{id}"), &[], Value::Null);
    assert_eq!(err(&gone), (404, "NotFoundException"));
    assert_eq!(
        gone.body.unwrap()["message"],
        "Invalid REST API identifier specified"
    );
    assert_eq!(
        err(&call(
            &mut s,
            "DELETE",
            &format!("/restapis/{id}"),
            &[],
            Value::Null
        )),
        (404, "NotFoundException")
    );
}

#[test]
fn resources_paths_conflicts_embed_and_subtree_delete() {
    let mut s = ApiGatewayState::default();
    let (id, root, pets) = api_with_method(&mut s);
    let base = format!("/restapis/{id}/resources");
    let child = ok_body(call(
        &mut s,
        "POST",
        &format!("{base}/{pets}"),
        &[],
        json!({"pathPart": "{petId}"}),
    ));
    assert_eq!(child["path"], "/pets/{petId}");
    assert_eq!(child["parentId"], json!(pets));
    let cid = child["id"].as_str().unwrap().to_owned();
    let dup = call(
        &mut s,
        "POST",
        &format!("{base}/{root}"),
        &[],
        json!({"pathPart": "pets"}),
    );
    assert_eq!(err(&dup), (409, "ConflictException"));
    assert_eq!(
        err(&call(
            &mut s,
            "POST",
            &format!("{base}/nope"),
            &[],
            json!({"pathPart": "x"})
        )),
        (404, "NotFoundException")
    );

    let plain = ok_body(call(&mut s, "GET", &base, &[], Value::Null));
    assert_eq!(plain["item"][1]["resourceMethods"], json!({"GET": {}}));
    let embedded = ok_body(call(&mut s, "GET", &base, &[("embed", "methods")], Value::Null));
    let get = &embedded["item"][1]["resourceMethods"]["GET"];
    assert_eq!(get["httpMethod"], "GET");
    assert_eq!(get["methodIntegration"]["type"], "MOCK");
    let paged = ok_body(call(
        &mut s,
        "GET",
        &base,
        &[("limit", "1"), ("position", "1")],
        Value::Null,
    ));
    assert_eq!(paged["item"][0]["id"], json!(pets));
    assert_eq!(paged["position"], "2");

    let one = ok_body(call(&mut s, "GET", &format!("{base}/{cid}"), &[], Value::Null));
    assert_eq!(one["pathPart"], "{petId}");
    let missing = call(&mut s, "GET", &format!("{base}/zzz"), &[], Value::Null);
    assert_eq!(
        missing.body.as_ref().unwrap()["message"],
        "Invalid Resource identifier specified"
    );

    let renamed = ok_body(call(
        &mut s,
        "PATCH",
        &format!("{base}/{pets}"),
        &[],
        json!({"patchOperations": [{"op": "replace", "path": "/pathPart", "value": "animals"}]}),
    ));
    assert_eq!(renamed["path"], "/animals");
    let child = ok_body(call(&mut s, "GET", &format!("{base}/{cid}"), &[], Value::Null));
    assert_eq!(child["path"], "/animals/{petId}");

    assert_eq!(
        err(&call(
            &mut s,
            "DELETE",
            &format!("{base}/{root}"),
            &[],
            Value::Null
        )),
        (400, "BadRequestException")
    );
    assert_eq!(
        call(&mut s, "DELETE", &format!("{base}/{pets}"), &[], Value::Null).status,
        202
    );
    let left = ok_body(call(&mut s, "GET", &base, &[], Value::Null));
    assert_eq!(
        left["item"].as_array().unwrap().len(),
        1,
        "the child went with its parent"
    );
    assert_eq!(
        err(&call(&mut s, "GET", &format!("{base}/{cid}"), &[], Value::Null)),
        (404, "NotFoundException")
    );
}

#[test]
fn methods_put_get_update_delete() {
    let mut s = ApiGatewayState::default();
    let (id, _, rid) = api_with_method(&mut s);
    let m = format!("/restapis/{id}/resources/{rid}/methods");
    let again = call(
        &mut s,
        "PUT",
        &format!("{m}/GET"),
        &[],
        json!({"authorizationType": "NONE"}),
    );
    assert_eq!(err(&again), (409, "ConflictException"));
    let post = call(
        &mut s,
        "PUT",
        &format!("{m}/POST"),
        &[],
        json!({"authorizationType": "AWS_IAM", "apiKeyRequired": true, "requestParameters": {"method.request.header.X": true}}),
    );
    assert_eq!(post.status, 201);
    let got = ok_body(call(&mut s, "GET", &format!("{m}/POST"), &[], Value::Null));
    assert_eq!(got["authorizationType"], "AWS_IAM");
    assert_eq!(got["apiKeyRequired"], true);
    assert!(got.get("methodIntegration").is_none());
    let get = ok_body(call(&mut s, "GET", &format!("{m}/GET"), &[], Value::Null));
    assert_eq!(get["methodIntegration"]["type"], "MOCK");
    let upd = ok_body(call(
        &mut s,
        "PATCH",
        &format!("{m}/POST"),
        &[],
        json!({"patchOperations": [
            {"op": "replace", "path": "/apiKeyRequired", "value": "false"},
            {"op": "add", "path": "/requestParameters/method.request.querystring.q", "value": "false"},
            {"op": "remove", "path": "/requestParameters/method.request.header.X"}
        ]}),
    ));
    assert_eq!(upd["apiKeyRequired"], false);
    assert_eq!(
        upd["requestParameters"],
        json!({"method.request.querystring.q": false})
    );
    assert_eq!(
        err(&call(
            &mut s,
            "PUT",
            &format!("{m}/FETCH"),
            &[],
            json!({"authorizationType": "NONE"})
        )),
        (400, "BadRequestException")
    );
    assert_eq!(
        err(&call(&mut s, "PUT", &format!("{m}/PUT"), &[], json!({}))),
        (400, "BadRequestException")
    );
    assert_eq!(
        call(&mut s, "DELETE", &format!("{m}/POST"), &[], Value::Null).status,
        204
    );
    let gone = call(&mut s, "GET", &format!("{m}/POST"), &[], Value::Null);
    assert_eq!(err(&gone), (404, "NotFoundException"));
    assert_eq!(
        gone.body.unwrap()["message"],
        "Invalid Method identifier specified"
    );
    assert_eq!(
        err(&call(&mut s, "DELETE", &format!("{m}/POST"), &[], Value::Null)),
        (404, "NotFoundException")
    );
}

#[test]
fn integrations_put_get_update_delete() {
    let mut s = ApiGatewayState::default();
    let (id, _, rid) = api_with_method(&mut s);
    let m = format!("/restapis/{id}/resources/{rid}/methods");
    call(
        &mut s,
        "PUT",
        &format!("{m}/POST"),
        &[],
        json!({"authorizationType": "NONE"}),
    );
    let none = call(&mut s, "GET", &format!("{m}/POST/integration"), &[], Value::Null);
    assert_eq!(err(&none), (404, "NotFoundException"));
    assert_eq!(
        none.body.unwrap()["message"],
        "Invalid Integration identifier specified"
    );
    let uri = "arn:aws:apigateway:us-east-1:states:action/StartExecution";
    let put = ok_body(call(
        &mut s,
        "PUT",
        &format!("{m}/POST/integration"),
        &[],
        json!({"type": "AWS", "httpMethod": "POST", "uri": uri, "credentials": "arn:aws:iam::123456789012:role/r",
               "requestTemplates": {"application/json": "{}"}, "passthroughBehavior": "NEVER"}),
    ));
    assert_eq!(put["httpMethod"], "POST");
    assert_eq!(put["timeoutInMillis"], 29000);
    assert_eq!(put["cacheNamespace"], json!(rid));
    assert_eq!(put["cacheKeyParameters"], json!([]));
    let got = ok_body(call(
        &mut s,
        "GET",
        &format!("{m}/POST/integration"),
        &[],
        Value::Null,
    ));
    assert_eq!(got, put);
    let upd = ok_body(call(
        &mut s,
        "PATCH",
        &format!("{m}/POST/integration"),
        &[],
        json!({"patchOperations": [
            {"op": "replace", "path": "/uri", "value": "arn:aws:apigateway:us-east-1:states:action/StartSyncExecution"},
            {"op": "replace", "path": "/requestTemplates/application~1json", "value": "{\"a\":1}"},
            {"op": "replace", "path": "/timeoutInMillis", "value": "5000"},
            {"op": "replace", "path": "/passthroughBehavior", "value": "WHEN_NO_TEMPLATES"},
            {"op": "remove", "path": "/credentials"}
        ]}),
    ));
    assert_eq!(
        upd["uri"],
        "arn:aws:apigateway:us-east-1:states:action/StartSyncExecution"
    );
    assert_eq!(upd["requestTemplates"], json!({"application/json": "{\"a\":1}"}));
    assert_eq!(upd["timeoutInMillis"], 5000);
    assert!(upd.get("credentials").is_none());
    let bad = call(
        &mut s,
        "PATCH",
        &format!("{m}/POST/integration"),
        &[],
        json!({"patchOperations": [{"op": "replace", "path": "/timeoutInMillis", "value": "soon"}]}),
    );
    assert_eq!(err(&bad), (400, "BadRequestException"));
    assert_eq!(
        err(&call(
            &mut s,
            "PUT",
            &format!("{m}/POST/integration"),
            &[],
            json!({"type": "AWS"})
        )),
        (400, "BadRequestException")
    );
    assert_eq!(
        err(&call(
            &mut s,
            "PUT",
            &format!("{m}/POST/integration"),
            &[],
            json!({})
        )),
        (400, "BadRequestException")
    );
    assert_eq!(
        err(&call(
            &mut s,
            "PUT",
            &format!("{m}/PUT/integration"),
            &[],
            json!({"type": "MOCK"})
        )),
        (404, "NotFoundException")
    );
    assert_eq!(
        call(
            &mut s,
            "DELETE",
            &format!("{m}/POST/integration"),
            &[],
            Value::Null
        )
        .status,
        204
    );
    assert_eq!(
        err(&call(
            &mut s,
            "DELETE",
            &format!("{m}/POST/integration"),
            &[],
            Value::Null
        )),
        (404, "NotFoundException")
    );
}

#[test]
fn method_and_integration_responses() {
    let mut s = ApiGatewayState::default();
    let (id, _, rid) = api_with_method(&mut s);
    let m = format!("/restapis/{id}/resources/{rid}/methods/GET");
    let mr = ok_body(call(
        &mut s,
        "PUT",
        &format!("{m}/responses/200"),
        &[],
        json!({"responseModels": {"application/json": "Empty"}}),
    ));
    assert_eq!(
        mr,
        json!({"statusCode": "200", "responseModels": {"application/json": "Empty"}})
    );
    let ir = ok_body(call(
        &mut s,
        "PUT",
        &format!("{m}/integration/responses/200"),
        &[],
        json!({"selectionPattern": "", "responseTemplates": {"application/json": "$input.body"}}),
    ));
    assert_eq!(ir["statusCode"], "200");
    let method = ok_body(call(&mut s, "GET", &m, &[], Value::Null));
    assert_eq!(method["methodResponses"]["200"], mr);
    assert_eq!(method["methodIntegration"]["integrationResponses"]["200"], ir);
    assert_eq!(
        ok_body(call(
            &mut s,
            "GET",
            &format!("{m}/responses/200"),
            &[],
            Value::Null
        )),
        mr
    );
    assert_eq!(
        ok_body(call(
            &mut s,
            "GET",
            &format!("{m}/integration/responses/200"),
            &[],
            Value::Null
        )),
        ir
    );
    let upd = ok_body(call(
        &mut s,
        "PATCH",
        &format!("{m}/integration/responses/200"),
        &[],
        json!({"patchOperations": [{"op": "replace", "path": "/selectionPattern", "value": "2\\d{2}"},
                                   {"op": "add", "path": "/responseParameters/method.response.header.X", "value": "'a'"}]}),
    ));
    assert_eq!(upd["selectionPattern"], "2\\d{2}");
    assert_eq!(upd["responseParameters"]["method.response.header.X"], "'a'");
    let upd = ok_body(call(
        &mut s,
        "PATCH",
        &format!("{m}/responses/200"),
        &[],
        json!({"patchOperations": [{"op": "add", "path": "/responseParameters/method.response.header.X", "value": "true"}]}),
    ));
    assert_eq!(upd["responseParameters"]["method.response.header.X"], true);
    let missing = call(&mut s, "GET", &format!("{m}/responses/500"), &[], Value::Null);
    assert_eq!(err(&missing), (404, "NotFoundException"));
    assert_eq!(
        missing.body.unwrap()["message"],
        "Invalid Response status code specified"
    );
    assert_eq!(
        err(&call(
            &mut s,
            "PATCH",
            &format!("{m}/integration/responses/500"),
            &[],
            json!({"patchOperations": []})
        )),
        (404, "NotFoundException")
    );
    assert_eq!(
        call(
            &mut s,
            "DELETE",
            &format!("{m}/integration/responses/200"),
            &[],
            Value::Null
        )
        .status,
        204
    );
    assert_eq!(
        call(&mut s, "DELETE", &format!("{m}/responses/200"), &[], Value::Null).status,
        204
    );
    assert_eq!(
        err(&call(
            &mut s,
            "DELETE",
            &format!("{m}/responses/200"),
            &[],
            Value::Null
        )),
        (404, "NotFoundException")
    );
    assert_eq!(
        err(&call(
            &mut s,
            "GET",
            &format!("{m}/integration/responses/200"),
            &[],
            Value::Null
        )),
        (404, "NotFoundException")
    );
}

#[test]
fn deployments_and_stages() {
    let mut s = ApiGatewayState::default();
    let empty_api = ok_body(call(&mut s, "POST", "/restapis", &[], json!({"name": "empty"})));
    let e = call(
        &mut s,
        "POST",
        &format!("/restapis/{}/deployments", empty_api["id"].as_str().unwrap()),
        &[],
        json!({"stageName": "prod"}),
    );
    assert_eq!(err(&e), (400, "BadRequestException"));
    assert_eq!(
        e.body.unwrap()["message"],
        "The REST API doesn't contain any methods"
    );

    let (id, _, _) = api_with_method(&mut s);
    let d = format!("/restapis/{id}/deployments");
    let st = format!("/restapis/{id}/stages");
    let d1 = ok_body(call(
        &mut s,
        "POST",
        &d,
        &[],
        json!({"stageName": "prod", "description": "first", "variables": {"a": "1"}}),
    ));
    let d1id = d1["id"].as_str().unwrap().to_owned();
    let prod = ok_body(call(&mut s, "GET", &format!("{st}/prod"), &[], Value::Null));
    assert_eq!(prod["deploymentId"], json!(d1id));
    assert_eq!(prod["variables"], json!({"a": "1"}));
    let d2 = ok_body(call(
        &mut s,
        "POST",
        &d,
        &[],
        json!({"stageName": "prod", "description": "second"}),
    ));
    let d2id = d2["id"].as_str().unwrap().to_owned();
    let prod = ok_body(call(&mut s, "GET", &format!("{st}/prod"), &[], Value::Null));
    assert_eq!(
        prod["deploymentId"],
        json!(d2id),
        "the stage moved to the new deployment"
    );
    let list = ok_body(call(&mut s, "GET", &d, &[("limit", "1")], Value::Null));
    assert_eq!(list["item"][0]["description"], "first");
    assert_eq!(list["position"], "1");
    assert_eq!(
        ok_body(call(&mut s, "GET", &format!("{d}/{d1id}"), &[], Value::Null))["description"],
        "first"
    );
    assert_eq!(
        err(&call(&mut s, "GET", &format!("{d}/nope"), &[], Value::Null)),
        (404, "NotFoundException")
    );

    let dev = call(
        &mut s,
        "POST",
        &st,
        &[],
        json!({"stageName": "dev", "deploymentId": d1id, "description": "dev"}),
    );
    assert_eq!(dev.status, 201);
    assert_eq!(
        err(&call(
            &mut s,
            "POST",
            &st,
            &[],
            json!({"stageName": "dev", "deploymentId": d1id})
        )),
        (409, "ConflictException")
    );
    assert_eq!(
        err(&call(
            &mut s,
            "POST",
            &st,
            &[],
            json!({"stageName": "qa", "deploymentId": "nope"})
        )),
        (400, "BadRequestException")
    );
    let stages = ok_body(call(&mut s, "GET", &st, &[], Value::Null));
    assert_eq!(stages["item"].as_array().unwrap().len(), 2);
    let by_dep = ok_body(call(&mut s, "GET", &st, &[("deploymentId", &d1id)], Value::Null));
    assert_eq!(by_dep["item"][0]["stageName"], "dev");

    let busy = call(&mut s, "DELETE", &format!("{d}/{d1id}"), &[], Value::Null);
    assert_eq!(err(&busy), (400, "BadRequestException"));
    let upd = ok_body(call(
        &mut s,
        "PATCH",
        &format!("{st}/dev"),
        &[],
        json!({"patchOperations": [
            {"op": "replace", "path": "/deploymentId", "value": d2id},
            {"op": "replace", "path": "/description", "value": "moved"},
            {"op": "replace", "path": "/variables/x", "value": "y"}
        ]}),
    ));
    assert_eq!(upd["deploymentId"], json!(d2id));
    assert_eq!(upd["variables"], json!({"x": "y"}));
    let bad_move = call(
        &mut s,
        "PATCH",
        &format!("{st}/dev"),
        &[],
        json!({"patchOperations": [{"op": "replace", "path": "/deploymentId", "value": "nope"}]}),
    );
    assert_eq!(err(&bad_move), (400, "BadRequestException"));
    assert_eq!(
        call(&mut s, "DELETE", &format!("{d}/{d1id}"), &[], Value::Null).status,
        202
    );
    assert_eq!(
        call(&mut s, "DELETE", &format!("{st}/dev"), &[], Value::Null).status,
        202
    );
    let gone = call(&mut s, "GET", &format!("{st}/dev"), &[], Value::Null);
    assert_eq!(err(&gone), (404, "NotFoundException"));
    assert_eq!(
        gone.body.unwrap()["message"],
        "Invalid Stage identifier specified"
    );
    assert_eq!(
        err(&call(&mut s, "DELETE", &format!("{st}/dev"), &[], Value::Null)),
        (404, "NotFoundException")
    );
}

#[test]
fn tags_on_apis_and_stages() {
    let mut s = ApiGatewayState::default();
    let (id, _, _) = api_with_method(&mut s);
    call(
        &mut s,
        "POST",
        &format!("/restapis/{id}/deployments"),
        &[],
        json!({"stageName": "prod"}),
    );
    let api_arn = format!("arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2F{id}");
    let stage_arn = format!("arn:aws:apigateway:us-east-1::/restapis/{id}/stages/prod");
    assert_eq!(
        call(
            &mut s,
            "PUT",
            &format!("/tags/{api_arn}"),
            &[],
            json!({"tags": {"a": "1", "b": "2"}})
        )
        .status,
        204
    );
    assert_eq!(
        call(
            &mut s,
            "PUT",
            &format!("/tags/{stage_arn}"),
            &[],
            json!({"tags": {"s": "x"}})
        )
        .status,
        204
    );
    assert_eq!(
        ok_body(call(&mut s, "GET", &format!("/tags/{api_arn}"), &[], Value::Null))["tags"],
        json!({"a": "1", "b": "2"})
    );
    assert_eq!(
        ok_body(call(&mut s, "GET", &format!("/restapis/{id}"), &[], Value::Null))["tags"],
        json!({"a": "1", "b": "2"})
    );
    assert_eq!(
        call(
            &mut s,
            "DELETE",
            &format!("/tags/{api_arn}"),
            &[("tagKeys", "a"), ("tagKeys", "zz")],
            Value::Null
        )
        .status,
        204
    );
    assert_eq!(
        ok_body(call(&mut s, "GET", &format!("/tags/{api_arn}"), &[], Value::Null))["tags"],
        json!({"b": "2"})
    );
    assert_eq!(
        ok_body(call(
            &mut s,
            "GET",
            &format!("/tags/{stage_arn}"),
            &[],
            Value::Null
        ))["tags"],
        json!({"s": "x"})
    );
    let unknown = format!("arn:aws:apigateway:us-east-1::/restapis/{id}/stages/nope");
    assert_eq!(
        err(&call(
            &mut s,
            "GET",
            &format!("/tags/{unknown}"),
            &[],
            Value::Null
        )),
        (404, "NotFoundException")
    );
    assert_eq!(
        err(&call(
            &mut s,
            "GET",
            "/tags/arn:aws:apigateway:us-east-1::/restapis/zzz",
            &[],
            Value::Null
        )),
        (404, "NotFoundException")
    );
    assert_eq!(
        err(&call(&mut s, "GET", "/tags/garbage", &[], Value::Null)),
        (400, "BadRequestException")
    );
}

#[test]
fn tags_follow_aws_rules() {
    let mut s = ApiGatewayState::default();
    let (id, _, _) = api_with_method(&mut s);
    let arn = format!("/tags/arn:aws:apigateway:us-east-1::/restapis/{id}");
    let put = |s: &mut ApiGatewayState, tags: Value| call(s, "PUT", &arn, &[], json!({ "tags": tags }));
    // Letters, digits, spaces and _ . : / = + - @ are fine, in keys and values.
    assert_eq!(
        put(
            &mut s,
            json!({"sfn-operator.dev/integration/a": "v1 POST /x=7By=7D Delete prod", "k @+": "é ü"})
        )
        .status,
        204
    );
    for bad in [
        json!({"k": "{id}"}),
        json!({"k{": "v"}),
        json!({"": "v"}),
        json!({"aws:reserved": "v"}),
        json!({"k": "x".repeat(257)}),
        json!({"k".repeat(129): "v"}),
        json!({"k": 1}),
    ] {
        assert_eq!(
            err(&put(&mut s, bad.clone())),
            (400, "BadRequestException"),
            "{bad}"
        );
    }
    // At most 50 per resource, counting the ones already there (2) and overwrites once.
    let many: serde_json::Map<String, Value> = (0..48).map(|i| (format!("t{i}"), json!("v"))).collect();
    assert_eq!(put(&mut s, Value::Object(many)).status, 204);
    assert_eq!(put(&mut s, json!({"t0": "again"})).status, 204);
    assert_eq!(
        err(&put(&mut s, json!({"one-more": "v"}))),
        (400, "BadRequestException")
    );
    let too_many: serde_json::Map<String, Value> = (0..51).map(|i| (format!("t{i}"), json!("v"))).collect();
    let r = call(
        &mut s,
        "POST",
        "/restapis",
        &[],
        json!({"name": "x", "tags": too_many}),
    );
    assert_eq!(err(&r), (400, "BadRequestException"));
    let r = call(
        &mut s,
        "POST",
        "/restapis",
        &[],
        json!({"name": "x", "tags": {"k": "{"}}),
    );
    assert_eq!(err(&r), (400, "BadRequestException"));
}

#[test]
fn unknown_routes_and_state_round_trip() {
    let mut s = ApiGatewayState::default();
    let r = call(&mut s, "GET", "/nothing/here", &[], Value::Null);
    assert_eq!(err(&r), (404, "UnknownOperationException"));
    assert!(!r.mutated);
    let r = call(&mut s, "PUT", "/restapis", &[], Value::Null);
    assert_eq!(err(&r), (404, "UnknownOperationException"));
    api_with_method(&mut s);
    let text = serde_json::to_string(&s).unwrap();
    let back: ApiGatewayState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s);
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        text,
        "serialization is deterministic"
    );
    let mut s2 = back;
    assert_ne!(
        next_id(&mut s2),
        next_id(&mut ApiGatewayState::default()),
        "the counter persists"
    );
    let reads = call(&mut s, "GET", "/restapis", &[], Value::Null);
    assert!(!reads.mutated);
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%2Fb%3a%zz%4"), "a/b:%zz%4");
}

#[test]
fn read_answers_reads_like_handle_and_declines_writes() {
    let mut s = ApiGatewayState::default();
    let (id, _, rid) = api_with_method(&mut s);
    let ctx = ctx();
    let path = format!("/restapis/{id}/resources/{rid}/methods/GET/integration");
    let get = ApigwRequest {
        method: "GET",
        path: &path,
        query: &[],
        body: b"",
        ctx: &ctx,
    };
    let via_read = read(&s, &get).expect("GetIntegration is a read");
    assert_eq!(via_read, handle(&mut s, &get));
    assert_eq!(via_read.body.unwrap()["type"], "MOCK");
    let missing = format!("/restapis/{id}/resources/nope/methods/GET/integration");
    let miss = read(
        &s,
        &ApigwRequest {
            method: "GET",
            path: &missing,
            query: &[],
            body: b"",
            ctx: &ctx,
        },
    )
    .unwrap();
    assert_eq!(err(&miss), (404, "NotFoundException"));
    let arn = format!("/tags/arn:aws:apigateway:us-east-1::/restapis/{id}");
    let tags = read(
        &s,
        &ApigwRequest {
            method: "GET",
            path: &arn,
            query: &[],
            body: b"",
            ctx: &ctx,
        },
    )
    .unwrap();
    assert_eq!(tags.body.unwrap()["tags"], json!({}));
    let put = ApigwRequest {
        method: "PUT",
        path: &path,
        query: &[],
        body: b"{}",
        ctx: &ctx,
    };
    assert!(read(&s, &put).is_none());
    assert!(
        read(
            &s,
            &ApigwRequest {
                method: "GET",
                path: "/nope",
                query: &[],
                body: b"",
                ctx: &ctx
            }
        )
        .is_none()
    );
}
