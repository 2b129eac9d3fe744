//! The sandbox's plain records (issue 23), written through the real AWS SDK clients and read back
//! by the AWS CLI as the independent observer: API Gateway API keys, usage plans and their keys,
//! custom domain names and base path mappings, models, request validators, authorizers, gateway
//! responses, documentation parts, the account; Step Functions activities. Each with AWS's shapes
//! and errors, and kept across a restart on the same state file.

mod common;

use aws_sdk_apigateway::error::ProvideErrorMetadata;
use aws_sdk_apigateway::error::SdkError;
use aws_sdk_apigateway::types::{
    AuthorizerType, DocumentationPartLocation, DocumentationPartType, EndpointConfiguration, EndpointType,
    GatewayResponseType, Op, PatchOperation, QuotaPeriodType, QuotaSettings, ThrottleSettings,
};
use common::{aws_cli, sdk_conf};
use serde_json::Value;
use sfn_operator::sandbox::{self, SandboxConfig, SandboxHandle};

/// `Code: message` of a call that must fail.
fn refused<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    r: Result<T, SdkError<E, R>>,
) -> String {
    match r {
        Ok(ok) => panic!("expected an error, got {ok:?}"),
        Err(e) => match e.as_service_error() {
            Some(s) => format!("{}: {}", s.code().unwrap_or("?"), s.message().unwrap_or("")),
            None => panic!("not a service error: {e:?}"),
        },
    }
}

fn patch(op: Op, path: &str, value: &str) -> PatchOperation {
    PatchOperation::builder().op(op).path(path).value(value).build()
}

async fn start(state: &std::path::Path) -> SandboxHandle {
    sandbox::start(SandboxConfig {
        state_file: Some(state.join("s.json")),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

fn cli(url: &str, args: &[&str]) -> Value {
    aws_cli(url, args).unwrap_or_else(|e| panic!("aws {args:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_usage_plans_with_aws_shapes_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = start(dir.path()).await;
    let url = sandbox.endpoint_url();
    let apigw = aws_sdk_apigateway::Client::new(&sdk_conf(&url).await);

    let short = apigw.create_api_key().name("k").value("too-short").send().await;
    assert_eq!(
        refused(short),
        "BadRequestException: API Key value should be at least 20 characters"
    );
    let key = apigw
        .create_api_key()
        .name("partner-one")
        .value("0123456789abcdefghij")
        .customer_id("acme")
        .send()
        .await
        .unwrap();
    let key_id = key.id().unwrap().to_owned();
    assert_eq!(key.value(), Some("0123456789abcdefghij"));
    assert!(!key.enabled());
    let again = apigw
        .create_api_key()
        .name("x")
        .value("0123456789abcdefghij")
        .send()
        .await;
    assert!(refused(again).starts_with("ConflictException"));
    let generated = apigw.create_api_key().name("partner-two").send().await.unwrap();
    assert!(generated.value().unwrap().len() >= 20, "{generated:?}");
    let hidden = apigw.get_api_key().api_key(&key_id).send().await.unwrap();
    assert_eq!(
        hidden.value(),
        None,
        "GetApiKey shows the value only with includeValue"
    );
    let shown = apigw
        .get_api_key()
        .api_key(&key_id)
        .include_value(true)
        .send()
        .await
        .unwrap();
    assert_eq!(shown.value(), Some("0123456789abcdefghij"));
    let missing = apigw.get_api_key().api_key("nope").send().await;
    assert_eq!(
        refused(missing),
        "NotFoundException: Invalid API Key identifier specified"
    );

    let plan = apigw
        .create_usage_plan()
        .name("gold")
        .quota(
            QuotaSettings::builder()
                .limit(1000)
                .period(QuotaPeriodType::Day)
                .build(),
        )
        .throttle(
            ThrottleSettings::builder()
                .burst_limit(20)
                .rate_limit(10.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan_id = plan.id().unwrap().to_owned();
    apigw.create_usage_plan().name("silver").send().await.unwrap();
    let unknown_key = apigw
        .create_usage_plan_key()
        .usage_plan_id(&plan_id)
        .key_id("nope")
        .key_type("API_KEY")
        .send()
        .await;
    assert_eq!(
        refused(unknown_key),
        "NotFoundException: Invalid API Key identifier specified"
    );
    let plan_key = apigw
        .create_usage_plan_key()
        .usage_plan_id(&plan_id)
        .key_id(&key_id)
        .key_type("API_KEY")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (plan_key.id(), plan_key.name()),
        (Some(key_id.as_str()), Some("partner-one"))
    );
    let updated = apigw
        .update_usage_plan()
        .usage_plan_id(&plan_id)
        .patch_operations(patch(Op::Replace, "/quota/limit", "5000"))
        .patch_operations(patch(Op::Replace, "/throttle/rateLimit", "2.5"))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.quota().map(|q| q.limit()), Some(5000));
    assert_eq!(updated.throttle().map(|t| t.rate_limit()), Some(2.5));

    // The AWS CLI reads what the SDK wrote: the plan of the key, and the key in the plan.
    let plans = cli(&url, &["apigateway", "get-usage-plans", "--key-id", &key_id]);
    let names: Vec<&str> = plans["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["gold"]);
    assert_eq!(plans["items"][0]["quota"]["limit"], 5000);
    assert_eq!(plans["items"][0]["quota"]["period"], "DAY");
    let keys = cli(&url, &["apigateway", "get-api-keys", "--name-query", "partner-"]);
    assert_eq!(keys["items"].as_array().unwrap().len(), 2, "{keys}");
    assert!(
        keys["items"][0].get("value").is_none(),
        "values only with --include-values"
    );

    // Restarted on the same state file, the records are there; deleting the key takes it out of
    // the plan.
    sandbox.shutdown().await;
    let sandbox = start(dir.path()).await;
    let url = sandbox.endpoint_url();
    let apigw = aws_sdk_apigateway::Client::new(&sdk_conf(&url).await);
    let plan_keys = cli(
        &url,
        &["apigateway", "get-usage-plan-keys", "--usage-plan-id", &plan_id],
    );
    assert_eq!(plan_keys["items"][0]["value"], "0123456789abcdefghij");
    apigw.delete_api_key().api_key(&key_id).send().await.unwrap();
    let plan_keys = cli(
        &url,
        &["apigateway", "get-usage-plan-keys", "--usage-plan-id", &plan_id],
    );
    assert_eq!(plan_keys["items"], serde_json::json!([]));
    let gone = apigw.get_usage_plan().usage_plan_id("nope").send().await;
    assert_eq!(
        refused(gone),
        "NotFoundException: Invalid Usage Plan ID specified"
    );
    sandbox.shutdown().await;
}

/// A REST API with one stage `prod` (a MOCK `GET /`): its id.
async fn api_with_stage(apigw: &aws_sdk_apigateway::Client) -> String {
    let api = apigw.create_rest_api().name("records").send().await.unwrap();
    let (id, root) = (
        api.id().unwrap().to_owned(),
        api.root_resource_id().unwrap().to_owned(),
    );
    apigw
        .put_method()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    apigw
        .put_integration()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(aws_sdk_apigateway::types::IntegrationType::Mock)
        .send()
        .await
        .unwrap();
    apigw
        .create_deployment()
        .rest_api_id(&id)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_names_and_base_path_mappings_check_their_api_and_stage() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = start(dir.path()).await;
    let url = sandbox.endpoint_url();
    let apigw = aws_sdk_apigateway::Client::new(&sdk_conf(&url).await);
    let api = api_with_stage(&apigw).await;

    let domain = apigw
        .create_domain_name()
        .domain_name("api.example.com")
        .regional_certificate_arn("arn:aws:acm:us-east-1:123456789012:certificate/abc")
        .endpoint_configuration(
            EndpointConfiguration::builder()
                .types(EndpointType::Regional)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let regional = domain.regional_domain_name().unwrap();
    assert!(regional.starts_with("d-") && regional.ends_with(".execute-api.us-east-1.amazonaws.com"));
    assert_eq!(domain.domain_name_status().map(|s| s.as_str()), Some("AVAILABLE"));
    let edge = apigw
        .create_domain_name()
        .domain_name("edge.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        edge.distribution_domain_name()
            .unwrap()
            .ends_with(".cloudfront.net")
    );

    let mapping = |base: &str, stage: &str| {
        apigw
            .create_base_path_mapping()
            .domain_name("api.example.com")
            .rest_api_id(&api)
            .base_path(base)
            .stage(stage)
            .send()
    };
    assert_eq!(
        refused(mapping("v1", "nope").await),
        "BadRequestException: Invalid stage identifier specified"
    );
    assert!(
        refused(mapping("a/b", "prod").await)
            .starts_with("BadRequestException: API Gateway V1 doesn't support")
    );
    let made = mapping("v1", "prod").await.unwrap();
    assert_eq!((made.base_path(), made.stage()), (Some("v1"), Some("prod")));
    assert_eq!(
        refused(mapping("v1", "prod").await),
        "ConflictException: Base path already exists for this domain name"
    );
    let moved = apigw
        .update_base_path_mapping()
        .domain_name("api.example.com")
        .base_path("v1")
        .patch_operations(patch(Op::Replace, "/basePath", "v2"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.base_path(), Some("v2"));

    let seen = cli(
        &url,
        &[
            "apigateway",
            "get-base-path-mappings",
            "--domain-name",
            "api.example.com",
        ],
    );
    assert_eq!(
        seen["items"],
        serde_json::json!([{"basePath": "v2", "restApiId": api, "stage": "prod"}])
    );
    let domains = cli(&url, &["apigateway", "get-domain-names"]);
    assert_eq!(domains["items"].as_array().unwrap().len(), 2);

    apigw
        .delete_domain_name()
        .domain_name("api.example.com")
        .send()
        .await
        .unwrap();
    let gone = apigw
        .get_base_path_mappings()
        .domain_name("api.example.com")
        .send()
        .await;
    assert_eq!(
        refused(gone),
        "NotFoundException: Invalid domain name identifier specified"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_api_records_and_gateway_response_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = start(dir.path()).await;
    let url = sandbox.endpoint_url();
    let apigw = aws_sdk_apigateway::Client::new(&sdk_conf(&url).await);
    let api = api_with_stage(&apigw).await;

    let model = apigw
        .create_model()
        .rest_api_id(&api)
        .name("Pet")
        .content_type("application/json")
        .schema(r#"{"type":"object"}"#)
        .send()
        .await
        .unwrap();
    assert!(model.id().is_some());
    let twice = apigw
        .create_model()
        .rest_api_id(&api)
        .name("Pet")
        .content_type("application/json")
        .send()
        .await;
    assert!(refused(twice).starts_with("ConflictException"));
    let fetched = apigw
        .get_model()
        .rest_api_id(&api)
        .model_name("Pet")
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.schema(), Some(r#"{"type":"object"}"#));

    let validator = apigw
        .create_request_validator()
        .rest_api_id(&api)
        .name("body-only")
        .validate_request_body(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            validator.validate_request_body(),
            validator.validate_request_parameters()
        ),
        (true, false)
    );
    let changed = apigw
        .update_request_validator()
        .rest_api_id(&api)
        .request_validator_id(validator.id().unwrap())
        .patch_operations(patch(Op::Replace, "/validateRequestParameters", "true"))
        .send()
        .await
        .unwrap();
    assert!(changed.validate_request_parameters());

    let no_uri = apigw
        .create_authorizer()
        .rest_api_id(&api)
        .name("a")
        .r#type(AuthorizerType::Token)
        .send()
        .await;
    assert!(refused(no_uri).starts_with("BadRequestException"));
    let authorizer = apigw
        .create_authorizer()
        .rest_api_id(&api)
        .name("tokens")
        .r#type(AuthorizerType::Token)
        .authorizer_uri("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations")
        .identity_source("method.request.header.Authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(authorizer.authorizer_result_ttl_in_seconds(), Some(300));
    let unknown = apigw
        .get_authorizer()
        .rest_api_id(&api)
        .authorizer_id("nope")
        .send()
        .await;
    assert_eq!(
        refused(unknown),
        "NotFoundException: Invalid Authorizer identifier specified"
    );

    // Gateway responses: every type has AWS's default until one is put.
    let default = apigw
        .get_gateway_response()
        .rest_api_id(&api)
        .response_type(GatewayResponseType::AccessDenied)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (default.default_response(), default.status_code()),
        (true, Some("403"))
    );
    apigw
        .put_gateway_response()
        .rest_api_id(&api)
        .response_type(GatewayResponseType::AccessDenied)
        .status_code("401")
        .response_templates("application/json", r#"{"error":"denied"}"#)
        .send()
        .await
        .unwrap();
    let all = cli(
        &url,
        &["apigateway", "get-gateway-responses", "--rest-api-id", &api],
    );
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 21, "one per response type");
    let denied = items
        .iter()
        .find(|r| r["responseType"] == "ACCESS_DENIED")
        .unwrap();
    assert_eq!(
        (&denied["defaultResponse"], &denied["statusCode"]),
        (&Value::Bool(false), &Value::from("401"))
    );
    apigw
        .delete_gateway_response()
        .rest_api_id(&api)
        .response_type(GatewayResponseType::AccessDenied)
        .send()
        .await
        .unwrap();
    let back = cli(
        &url,
        &[
            "apigateway",
            "get-gateway-response",
            "--rest-api-id",
            &api,
            "--response-type",
            "ACCESS_DENIED",
        ],
    );
    assert_eq!(back["defaultResponse"], true);

    let location = DocumentationPartLocation::builder()
        .r#type(DocumentationPartType::Api)
        .build()
        .unwrap();
    apigw
        .create_documentation_part()
        .rest_api_id(&api)
        .location(location.clone())
        .properties(r#"{"description":"Pets"}"#)
        .send()
        .await
        .unwrap();
    let twice = apigw
        .create_documentation_part()
        .rest_api_id(&api)
        .location(location)
        .properties("{}")
        .send()
        .await;
    assert!(refused(twice).starts_with("ConflictException"));
    let parts = cli(
        &url,
        &[
            "apigateway",
            "get-documentation-parts",
            "--rest-api-id",
            &api,
            "--type",
            "API",
        ],
    );
    assert_eq!(parts["items"][0]["properties"], r#"{"description":"Pets"}"#);

    // The records of a deleted REST API go with it.
    apigw.delete_rest_api().rest_api_id(&api).send().await.unwrap();
    let gone = apigw.get_models().rest_api_id(&api).send().await;
    assert!(refused(gone).starts_with("NotFoundException"));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_settings_start_at_aws_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = start(dir.path()).await;
    let url = sandbox.endpoint_url();
    let apigw = aws_sdk_apigateway::Client::new(&sdk_conf(&url).await);
    let account = cli(&url, &["apigateway", "get-account"]);
    assert_eq!(
        account["throttleSettings"],
        serde_json::json!({"burstLimit": 5000, "rateLimit": 10000.0})
    );
    assert!(account.get("cloudwatchRoleArn").is_none());
    let role = "arn:aws:iam::123456789012:role/apigw-logs";
    apigw
        .update_account()
        .patch_operations(patch(Op::Replace, "/cloudwatchRoleArn", role))
        .patch_operations(patch(Op::Add, "/features", "UsagePlans"))
        .send()
        .await
        .unwrap();
    let account = cli(&url, &["apigateway", "get-account"]);
    assert_eq!(
        (account["cloudwatchRoleArn"].as_str(), &account["features"]),
        (Some(role), &serde_json::json!(["UsagePlans"]))
    );
    let removed = apigw
        .update_account()
        .patch_operations(patch(Op::Remove, "/features", "UsagePlans"))
        .send()
        .await;
    assert_eq!(
        refused(removed),
        "BadRequestException: Usage Plans cannot be disabled once enabled"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_with_aws_names_idempotence_pages_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = start(dir.path()).await;
    let url = sandbox.endpoint_url();
    let sfn = aws_sdk_sfn::Client::new(&sdk_conf(&url).await);
    let tag = |k: &str, v: &str| aws_sdk_sfn::types::Tag::builder().key(k).value(v).build();

    let long = sfn.create_activity().name("a".repeat(81)).send().await;
    assert!(refused(long).starts_with("ValidationException: 1 validation error detected"));
    let spaced = sfn.create_activity().name("with space").send().await;
    assert_eq!(refused(spaced), "InvalidName: Invalid Name: 'with space'");

    let first = sfn
        .create_activity()
        .name("approve")
        .tags(tag("team", "ops"))
        .send()
        .await
        .unwrap();
    let arn = first.activity_arn().to_owned();
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:activity:approve");
    let repeat = sfn
        .create_activity()
        .name("approve")
        .tags(tag("team", "other"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (repeat.activity_arn(), repeat.creation_date()),
        (arn.as_str(), first.creation_date())
    );
    let encryption = aws_sdk_sfn::types::EncryptionConfiguration::builder()
        .r#type(aws_sdk_sfn::types::EncryptionType::AwsOwnedKey)
        .build()
        .unwrap();
    let changed = sfn
        .create_activity()
        .name("approve")
        .encryption_configuration(encryption)
        .send()
        .await;
    assert!(refused(changed).starts_with("ActivityAlreadyExists"));

    for n in 1..5 {
        sfn.create_activity()
            .name(format!("step-{n}"))
            .send()
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .list_activities()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.activities().len() <= 2);
        names.extend(page.activities().iter().map(|a| a.name().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(
        names,
        ["approve", "step-1", "step-2", "step-3", "step-4"],
        "creation order"
    );

    // Tags: the repeat's were ignored; the CLI tags and reads them.
    cli(
        &url,
        &[
            "stepfunctions",
            "tag-resource",
            "--resource-arn",
            &arn,
            "--tags",
            "key=stage,value=prod",
        ],
    );
    let tags = cli(
        &url,
        &["stepfunctions", "list-tags-for-resource", "--resource-arn", &arn],
    );
    assert_eq!(
        tags["tags"],
        serde_json::json!([{"key": "team", "value": "ops"}, {"key": "stage", "value": "prod"}])
    );
    sfn.untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = cli(
        &url,
        &["stepfunctions", "list-tags-for-resource", "--resource-arn", &arn],
    );
    assert_eq!(
        tags["tags"],
        serde_json::json!([{"key": "stage", "value": "prod"}])
    );

    let described = cli(
        &url,
        &["stepfunctions", "describe-activity", "--activity-arn", &arn],
    );
    assert_eq!(described["encryptionConfiguration"]["type"], "AWS_OWNED_KEY");
    let task = sfn.get_activity_task().activity_arn(&arn).send().await.unwrap();
    assert_eq!(task.task_token(), None, "the sandbox schedules no activity tasks");

    sandbox.shutdown().await;
    let sandbox = start(dir.path()).await;
    let url = sandbox.endpoint_url();
    let sfn = aws_sdk_sfn::Client::new(&sdk_conf(&url).await);
    assert_eq!(
        sfn.describe_activity()
            .activity_arn(&arn)
            .send()
            .await
            .unwrap()
            .name(),
        "approve"
    );
    sfn.delete_activity().activity_arn(&arn).send().await.unwrap();
    let gone = sfn.describe_activity().activity_arn(&arn).send().await;
    assert_eq!(
        refused(gone),
        format!("ActivityDoesNotExist: Activity Does Not Exist: '{arn}'")
    );
    sandbox.shutdown().await;
}
