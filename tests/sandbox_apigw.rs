//! The sandbox's API Gateway, driven by the real `aws-sdk-apigateway` client over HTTP.

use aws_sdk_apigateway::config::{Credentials, Region};
use aws_sdk_apigateway::types::{EndpointType, IntegrationType, Op, PatchOperation};
use sfn_operator::sandbox::{self, SandboxConfig, SandboxHandle};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn client(sandbox: &SandboxHandle) -> aws_sdk_apigateway::Client {
    let config = aws_sdk_apigateway::Config::builder()
        .endpoint_url(sandbox.endpoint_url())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(aws_sdk_apigateway::config::retry::RetryConfig::disabled())
        .behavior_version_latest()
        .build();
    aws_sdk_apigateway::Client::from_conf(config)
}

fn patch(op: Op, path: &str, value: Option<&str>) -> PatchOperation {
    PatchOperation::builder()
        .op(op)
        .path(path)
        .set_value(value.map(str::to_owned))
        .build()
}

/// A REST API with `GET /pets` (MOCK integration): (api id, root id, pets id).
async fn api_with_method(
    apigw: &aws_sdk_apigateway::Client,
    name: &str,
) -> Result<(String, String, String), Box<dyn std::error::Error>> {
    let api = apigw.create_rest_api().name(name).send().await?;
    let id = api.id().ok_or("no id")?.to_owned();
    let root = api.root_resource_id().ok_or("no root")?.to_owned();
    let pets = apigw
        .create_resource()
        .rest_api_id(&id)
        .parent_id(&root)
        .path_part("pets")
        .send()
        .await?;
    let pets = pets.id().ok_or("no resource id")?.to_owned();
    apigw
        .put_method()
        .rest_api_id(&id)
        .resource_id(&pets)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await?;
    apigw
        .put_integration()
        .rest_api_id(&id)
        .resource_id(&pets)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .request_templates("application/json", r#"{"statusCode": 200}"#)
        .send()
        .await?;
    Ok((id, root, pets))
}

#[tokio::test]
async fn rest_apis_resources_and_pagination() -> TestResult {
    let sandbox = sandbox::start(SandboxConfig::default()).await?;
    let apigw = client(&sandbox);

    let created = apigw
        .create_rest_api()
        .name("orders")
        .description("first")
        .tags("team", "a")
        .send()
        .await?;
    let id = created.id().ok_or("no id")?.to_owned();
    assert_eq!(id.len(), 10);
    assert!(id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    assert!(created.created_date().is_some());
    assert_eq!(created.api_key_source().map(|s| s.as_str()), Some("HEADER"));
    let types = created.endpoint_configuration().map(|e| e.types().to_vec());
    assert_eq!(types, Some(vec![EndpointType::Edge]));
    assert_eq!(
        created.tags().and_then(|t| t.get("team")).map(String::as_str),
        Some("a")
    );

    for i in 0..4 {
        apigw.create_rest_api().name(format!("api{i}")).send().await?;
    }
    let first = apigw.get_rest_apis().limit(2).send().await?;
    assert_eq!(first.items().len(), 2);
    assert!(first.position().is_some());
    let all = apigw
        .get_rest_apis()
        .limit(2)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await?;
    let names: Vec<&str> = all.iter().filter_map(|a| a.name()).collect();
    assert_eq!(names, ["orders", "api0", "api1", "api2", "api3"]);

    let updated = apigw
        .update_rest_api()
        .rest_api_id(&id)
        .patch_operations(patch(Op::Replace, "/name", Some("renamed")))
        .patch_operations(patch(Op::Replace, "/description", Some("second")))
        .patch_operations(patch(
            Op::Replace,
            "/endpointConfiguration/types/EDGE",
            Some("REGIONAL"),
        ))
        .send()
        .await?;
    assert_eq!(updated.name(), Some("renamed"));
    let got = apigw.get_rest_api().rest_api_id(&id).send().await?;
    assert_eq!(got.description(), Some("second"));
    let types = got.endpoint_configuration().map(|e| e.types().to_vec());
    assert_eq!(types, Some(vec![EndpointType::Regional]));

    // Resources: computed paths, a conflict on a duplicate path part, embed=methods.
    let (api, root, pets) = api_with_method(&apigw, "pets").await?;
    let child = apigw
        .create_resource()
        .rest_api_id(&api)
        .parent_id(&pets)
        .path_part("{petId}")
        .send()
        .await?;
    assert_eq!(child.path(), Some("/pets/{petId}"));
    let dup = apigw
        .create_resource()
        .rest_api_id(&api)
        .parent_id(&root)
        .path_part("pets")
        .send()
        .await
        .map_err(|e| e.into_service_error());
    assert!(dup.is_err_and(|e| e.is_conflict_exception()));

    let resources = apigw
        .get_resources()
        .rest_api_id(&api)
        .embed("methods")
        .send()
        .await?;
    assert_eq!(resources.items().len(), 3);
    let pets_res = resources
        .items()
        .iter()
        .find(|r| r.id() == Some(pets.as_str()))
        .ok_or("pets missing")?;
    let get = pets_res
        .resource_methods()
        .and_then(|m| m.get("GET"))
        .ok_or("GET not embedded")?;
    assert_eq!(
        get.method_integration().and_then(|i| i.r#type()),
        Some(&IntegrationType::Mock)
    );
    let paged = apigw
        .get_resources()
        .rest_api_id(&api)
        .limit(1)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await?;
    let paths: Vec<&str> = paged.iter().filter_map(|r| r.path()).collect();
    assert_eq!(paths, ["/", "/pets", "/pets/{petId}"]);
    let one = apigw
        .get_resource()
        .rest_api_id(&api)
        .resource_id(child.id().ok_or("no id")?)
        .send()
        .await?;
    assert_eq!(one.path_part(), Some("{petId}"));

    apigw
        .delete_resource()
        .rest_api_id(&api)
        .resource_id(&pets)
        .send()
        .await?;
    let left = apigw.get_resources().rest_api_id(&api).send().await?;
    assert_eq!(left.items().len(), 1, "the subtree went with /pets");

    apigw.delete_rest_api().rest_api_id(&id).send().await?;
    let gone = apigw
        .get_rest_api()
        .rest_api_id(&id)
        .send()
        .await
        .map_err(|e| e.into_service_error());
    let err = gone.err().ok_or("deleted API still answers")?;
    assert!(err.is_not_found_exception());
    assert_eq!(
        err.meta().message(),
        Some("Invalid REST API identifier specified")
    );
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn methods_integrations_and_responses() -> TestResult {
    let sandbox = sandbox::start(SandboxConfig::default()).await?;
    let apigw = client(&sandbox);
    let (api, _, pets) = api_with_method(&apigw, "pets").await?;

    apigw
        .put_method()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .authorization_type("AWS_IAM")
        .api_key_required(true)
        .request_parameters("method.request.header.X", true)
        .send()
        .await?;
    let no_integration = apigw
        .get_integration()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .send()
        .await
        .map_err(|e| e.into_service_error());
    let err = no_integration.err().ok_or("integration without a put")?;
    assert!(err.is_not_found_exception());
    assert_eq!(
        err.meta().message(),
        Some("Invalid Integration identifier specified")
    );

    let uri = "arn:aws:apigateway:us-east-1:states:action/StartExecution";
    let put = apigw
        .put_integration()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .r#type(IntegrationType::Aws)
        .integration_http_method("POST")
        .uri(uri)
        .credentials("arn:aws:iam::123456789012:role/apigw")
        .request_templates("application/json", "{}")
        .send()
        .await?;
    assert_eq!(put.http_method(), Some("POST"));
    assert_eq!(put.timeout_in_millis(), 29000);
    assert_eq!(put.cache_namespace(), Some(pets.as_str()));

    let updated = apigw
        .update_integration()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .patch_operations(patch(
            Op::Replace,
            "/uri",
            Some("arn:aws:apigateway:us-east-1:states:action/StartSyncExecution"),
        ))
        .patch_operations(patch(
            Op::Replace,
            "/requestTemplates/application~1json",
            Some("{\"a\":1}"),
        ))
        .patch_operations(patch(Op::Replace, "/timeoutInMillis", Some("5000")))
        .send()
        .await?;
    assert_eq!(updated.timeout_in_millis(), 5000);
    let got = apigw
        .get_integration()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .send()
        .await?;
    assert_eq!(
        got.uri(),
        Some("arn:aws:apigateway:us-east-1:states:action/StartSyncExecution")
    );
    assert_eq!(
        got.request_templates()
            .and_then(|t| t.get("application/json"))
            .map(String::as_str),
        Some("{\"a\":1}")
    );
    assert_eq!(got.credentials(), Some("arn:aws:iam::123456789012:role/apigw"));

    apigw
        .put_method_response()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .status_code("200")
        .response_models("application/json", "Empty")
        .send()
        .await?;
    apigw
        .put_integration_response()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .status_code("200")
        .selection_pattern("")
        .response_templates("application/json", "$input.body")
        .send()
        .await?;
    apigw
        .update_integration_response()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .status_code("200")
        .patch_operations(patch(Op::Replace, "/selectionPattern", Some("2\\d{2}")))
        .send()
        .await?;
    apigw
        .update_method_response()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .status_code("200")
        .patch_operations(patch(
            Op::Add,
            "/responseParameters/method.response.header.X",
            Some("true"),
        ))
        .send()
        .await?;
    let method = apigw
        .get_method()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .send()
        .await?;
    assert_eq!(method.authorization_type(), Some("AWS_IAM"));
    assert_eq!(method.api_key_required(), Some(true));
    let mr = method
        .method_responses()
        .and_then(|m| m.get("200"))
        .ok_or("no method response")?;
    assert_eq!(
        mr.response_parameters()
            .and_then(|p| p.get("method.response.header.X")),
        Some(&true)
    );
    let ir = method
        .method_integration()
        .and_then(|i| i.integration_responses())
        .and_then(|m| m.get("200"))
        .ok_or("no integration response")?;
    assert_eq!(ir.selection_pattern(), Some("2\\d{2}"));
    let ir = apigw
        .get_integration_response()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .status_code("200")
        .send()
        .await?;
    assert_eq!(ir.status_code(), Some("200"));
    let mr = apigw
        .get_method_response()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .status_code("200")
        .send()
        .await?;
    assert_eq!(
        mr.response_models()
            .and_then(|m| m.get("application/json"))
            .map(String::as_str),
        Some("Empty")
    );

    let m = apigw
        .update_method()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .patch_operations(patch(Op::Replace, "/apiKeyRequired", Some("false")))
        .send()
        .await?;
    assert_eq!(m.api_key_required(), Some(false));

    apigw
        .delete_integration_response()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .status_code("200")
        .send()
        .await?;
    apigw
        .delete_method_response()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .status_code("200")
        .send()
        .await?;
    let missing = apigw
        .get_method_response()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .status_code("200")
        .send()
        .await
        .map_err(|e| e.into_service_error());
    assert!(missing.is_err_and(|e| e.is_not_found_exception()));
    apigw
        .delete_integration()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .send()
        .await?;
    apigw
        .delete_method()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .send()
        .await?;
    let missing = apigw
        .get_method()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("POST")
        .send()
        .await
        .map_err(|e| e.into_service_error());
    assert!(missing.is_err_and(|e| e.is_not_found_exception()));
    let bad = apigw
        .put_integration()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("GET")
        .r#type(IntegrationType::Aws)
        .send()
        .await
        .map_err(|e| e.into_service_error());
    assert!(bad.is_err_and(|e| e.is_bad_request_exception()));
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn deployments_stages_tags_and_persistence() -> TestResult {
    let dir = tempfile::tempdir()?;
    let state_file = dir.path().join("state.json");
    let config = SandboxConfig {
        state_file: Some(state_file.clone()),
        ..SandboxConfig::default()
    };
    let sandbox = sandbox::start(config.clone()).await?;
    let apigw = client(&sandbox);

    let empty = apigw.create_rest_api().name("empty").send().await?;
    let no_methods = apigw
        .create_deployment()
        .rest_api_id(empty.id().ok_or("no id")?)
        .stage_name("prod")
        .send()
        .await
        .map_err(|e| e.into_service_error());
    let err = no_methods.err().ok_or("deployed an API without methods")?;
    assert!(err.is_bad_request_exception());
    assert_eq!(
        err.meta().message(),
        Some("The REST API doesn't contain any methods")
    );

    let (api, _, _) = api_with_method(&apigw, "pets").await?;
    let d1 = apigw
        .create_deployment()
        .rest_api_id(&api)
        .stage_name("prod")
        .description("first")
        .send()
        .await?;
    let d1 = d1.id().ok_or("no id")?.to_owned();
    let d2 = apigw
        .create_deployment()
        .rest_api_id(&api)
        .stage_name("prod")
        .description("second")
        .send()
        .await?;
    let d2 = d2.id().ok_or("no id")?.to_owned();
    let prod = apigw
        .get_stage()
        .rest_api_id(&api)
        .stage_name("prod")
        .send()
        .await?;
    assert_eq!(prod.deployment_id(), Some(d2.as_str()), "the stage moved");
    let deployments = apigw
        .get_deployments()
        .rest_api_id(&api)
        .limit(1)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await?;
    let descriptions: Vec<&str> = deployments.iter().filter_map(|d| d.description()).collect();
    assert_eq!(descriptions, ["first", "second"]);
    let got = apigw
        .get_deployment()
        .rest_api_id(&api)
        .deployment_id(&d1)
        .send()
        .await?;
    assert_eq!(got.description(), Some("first"));

    apigw
        .create_stage()
        .rest_api_id(&api)
        .stage_name("dev")
        .deployment_id(&d1)
        .variables("a", "1")
        .send()
        .await?;
    let again = apigw
        .create_stage()
        .rest_api_id(&api)
        .stage_name("dev")
        .deployment_id(&d1)
        .send()
        .await
        .map_err(|e| e.into_service_error());
    assert!(again.is_err_and(|e| e.is_conflict_exception()));
    let busy = apigw
        .delete_deployment()
        .rest_api_id(&api)
        .deployment_id(&d1)
        .send()
        .await
        .map_err(|e| e.into_service_error());
    assert!(busy.is_err_and(|e| e.is_bad_request_exception()));
    let dev = apigw
        .update_stage()
        .rest_api_id(&api)
        .stage_name("dev")
        .patch_operations(patch(Op::Replace, "/deploymentId", Some(&d2)))
        .patch_operations(patch(Op::Replace, "/variables/b", Some("2")))
        .patch_operations(patch(Op::Replace, "/description", Some("development")))
        .send()
        .await?;
    assert_eq!(dev.deployment_id(), Some(d2.as_str()));
    assert_eq!(dev.variables().map(|v| v.len()), Some(2));
    apigw
        .delete_deployment()
        .rest_api_id(&api)
        .deployment_id(&d1)
        .send()
        .await?;
    let stages = apigw.get_stages().rest_api_id(&api).send().await?;
    let names: Vec<&str> = stages.item().iter().filter_map(|s| s.stage_name()).collect();
    assert_eq!(names, ["prod", "dev"]);

    // Tags on the REST API and on a stage.
    let api_arn = format!("arn:aws:apigateway:us-east-1::/restapis/{api}");
    let stage_arn = format!("{api_arn}/stages/prod");
    apigw
        .tag_resource()
        .resource_arn(&api_arn)
        .tags("a", "1")
        .tags("b", "2")
        .send()
        .await?;
    apigw
        .tag_resource()
        .resource_arn(&stage_arn)
        .tags("s", "x")
        .send()
        .await?;
    apigw
        .untag_resource()
        .resource_arn(&api_arn)
        .tag_keys("a")
        .send()
        .await?;
    let tags = apigw.get_tags().resource_arn(&api_arn).send().await?;
    assert_eq!(tags.tags().map(|t| t.len()), Some(1));
    assert_eq!(
        tags.tags().and_then(|t| t.get("b")).map(String::as_str),
        Some("2")
    );
    let tags = apigw.get_tags().resource_arn(&stage_arn).send().await?;
    assert_eq!(
        tags.tags().and_then(|t| t.get("s")).map(String::as_str),
        Some("x")
    );
    let unknown = apigw
        .get_tags()
        .resource_arn("arn:aws:apigateway:us-east-1::/restapis/nothere")
        .send()
        .await
        .map_err(|e| e.into_service_error());
    assert!(unknown.is_err_and(|e| e.is_not_found_exception()));

    apigw
        .delete_stage()
        .rest_api_id(&api)
        .stage_name("dev")
        .send()
        .await?;
    let gone = apigw
        .get_stage()
        .rest_api_id(&api)
        .stage_name("dev")
        .send()
        .await
        .map_err(|e| e.into_service_error());
    assert!(gone.is_err_and(|e| e.is_not_found_exception()));

    // Restart on the same state file: everything is still there.
    let before = apigw
        .get_resources()
        .rest_api_id(&api)
        .embed("methods")
        .send()
        .await?;
    sandbox.shutdown().await;
    let text = std::fs::read_to_string(&state_file)?;
    let state: serde_json::Value = serde_json::from_str(&text)?;
    let apigw_state: sfn_operator::sandbox::apigw::ApiGatewayState =
        serde_json::from_value(state["apigw"].clone())?;
    let round = serde_json::to_value(&apigw_state)?;
    assert_eq!(
        round, state["apigw"],
        "the state survives serialize → deserialize unchanged"
    );

    let sandbox = sandbox::start(config).await?;
    let apigw = client(&sandbox);
    let after = apigw
        .get_resources()
        .rest_api_id(&api)
        .embed("methods")
        .send()
        .await?;
    assert_eq!(before.items(), after.items());
    let prod = apigw
        .get_stage()
        .rest_api_id(&api)
        .stage_name("prod")
        .send()
        .await?;
    assert_eq!(prod.deployment_id(), Some(d2.as_str()));
    let tags = apigw.get_tags().resource_arn(&stage_arn).send().await?;
    assert_eq!(
        tags.tags().and_then(|t| t.get("s")).map(String::as_str),
        Some("x")
    );
    let fresh = apigw.create_rest_api().name("after-restart").send().await?;
    assert_ne!(fresh.id(), Some(api.as_str()));
    sandbox.shutdown().await;
    Ok(())
}

/// An OpenAPI 3 document in YAML: `GET /pets` (a query parameter, a MOCK integration with a
/// default response) and `GET /pets/{petId}`.
const PETS_YAML: &str = r#"openapi: 3.0.1
info: {title: pets, description: from the document, version: "1"}
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - {name: limit, in: query}
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses:
          default: {statusCode: "200"}
          "Error.*": {statusCode: "500"}
  /pets/{petId}:
    get:
      responses:
        "200": {description: ok}
"#;

/// The resource paths of an API, sorted.
async fn paths_of(
    apigw: &aws_sdk_apigateway::Client,
    api: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let resources = apigw.get_resources().rest_api_id(api).send().await?;
    let mut paths: Vec<String> = resources
        .items()
        .iter()
        .filter_map(|r| r.path().map(str::to_owned))
        .collect();
    paths.sort();
    Ok(paths)
}

/// ImportRestApi and PutRestApi (merge, overwrite) with OpenAPI documents, and their refusals.
#[tokio::test]
async fn openapi_import_and_put() -> TestResult {
    use aws_sdk_apigateway::primitives::Blob;
    use aws_sdk_apigateway::types::PutMode;
    let sandbox = sandbox::start(SandboxConfig::default()).await?;
    let apigw = client(&sandbox);

    let imported = apigw
        .import_rest_api()
        .body(Blob::new(PETS_YAML))
        .fail_on_warnings(true)
        .send()
        .await?;
    assert_eq!(imported.name(), Some("pets"));
    assert_eq!(imported.description(), Some("from the document"));
    let api = imported.id().ok_or("no id")?.to_owned();
    assert_eq!(paths_of(&apigw, &api).await?, ["/", "/pets", "/pets/{petId}"]);
    let resources = apigw.get_resources().rest_api_id(&api).send().await?;
    let id_of = |path: &str| {
        resources
            .items()
            .iter()
            .find(|r| r.path() == Some(path))
            .and_then(|r| r.id())
            .map(str::to_owned)
            .ok_or(format!("no resource {path}"))
    };
    let pets = id_of("/pets")?;
    let method = apigw
        .get_method()
        .rest_api_id(&api)
        .resource_id(&pets)
        .http_method("GET")
        .send()
        .await?;
    assert_eq!(method.operation_name(), Some("listPets"));
    assert_eq!(
        method
            .request_parameters()
            .and_then(|p| p.get("method.request.querystring.limit")),
        Some(&false)
    );
    assert!(method.method_responses().is_some_and(|r| r.contains_key("200")));
    let integration = method.method_integration().ok_or("no integration")?;
    assert_eq!(integration.r#type(), Some(&IntegrationType::Mock));
    let responses = integration
        .integration_responses()
        .ok_or("no integration responses")?;
    assert_eq!(responses["200"].selection_pattern(), None);
    assert_eq!(responses["500"].selection_pattern(), Some("Error.*"));

    // A document without `paths` is refused and creates nothing.
    let refused = apigw
        .import_rest_api()
        .body(Blob::new("openapi: 3.0.1\ninfo: {title: broken}\n"))
        .send()
        .await
        .map_err(|e| e.into_service_error());
    assert!(
        refused
            .err()
            .ok_or("imported a document without paths")?
            .is_bad_request_exception()
    );
    let all = apigw.get_rest_apis().send().await?;
    assert_eq!(all.items().len(), 1);

    // Merge: the document's operations are added, the API's other methods stay.
    let post = "openapi: 3.0.1\ninfo: {title: other}\npaths:\n  /pets:\n    post:\n      responses:\n        \"201\": {description: created}\n";
    let merged = apigw
        .put_rest_api()
        .rest_api_id(&api)
        .body(Blob::new(post))
        .send()
        .await?;
    assert_eq!(merged.name(), Some("pets"));
    for verb in ["GET", "POST"] {
        apigw
            .get_method()
            .rest_api_id(&api)
            .resource_id(&pets)
            .http_method(verb)
            .send()
            .await?;
    }

    // Overwrite: the resources are the document's only, under a new root.
    let root_before = id_of("/")?;
    let other = "openapi: 3.0.1\ninfo: {title: other}\npaths:\n  /other:\n    get:\n      responses: {}\n";
    let overwritten = apigw
        .put_rest_api()
        .rest_api_id(&api)
        .mode(PutMode::Overwrite)
        .body(Blob::new(other))
        .send()
        .await?;
    assert_eq!(overwritten.name(), Some("pets"));
    assert_eq!(paths_of(&apigw, &api).await?, ["/", "/other"]);
    assert_ne!(overwritten.root_resource_id(), Some(root_before.as_str()));

    let bad_mode = apigw
        .put_rest_api()
        .rest_api_id(&api)
        .mode(PutMode::from("replace"))
        .body(Blob::new(other))
        .send()
        .await
        .map_err(|e| e.into_service_error());
    assert!(
        bad_mode
            .err()
            .ok_or("took mode=replace")?
            .is_bad_request_exception()
    );
    sandbox.shutdown().await;
    Ok(())
}
