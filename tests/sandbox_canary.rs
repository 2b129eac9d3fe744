//! API Gateway stage canaries in the sandbox (SPEC §9 "The sandbox"): `CreateDeployment` with
//! `canarySettings`, GetStage showing them, `UpdateStage` on `/canarySettings/...`, the promotion
//! of AWS's guide (`copy` ops) and `remove /canarySettings`, AWS's refusals, all through the AWS
//! CLI; and the invoke URL sending `percentTraffic` % of requests to the canary's deployment with
//! its stage variable overrides, observed over 1,000 HTTP invokes.

#[path = "common/mod.rs"]
mod common;

use common::aws_cli;
use serde_json::Value;

/// The CLI's answer, failing the test with its stderr.
fn cli(url: &str, args: &[&str]) -> Value {
    aws_cli(url, args).unwrap_or_else(|e| panic!("aws {args:?}: {e}"))
}

/// The CLI's refusal (its stderr), failing the test when the call succeeded.
fn refused(url: &str, args: &[&str]) -> String {
    match aws_cli(url, args) {
        Ok(v) => panic!("aws {args:?} succeeded: {v}"),
        Err(e) => e,
    }
}

fn response_template(version: &str) -> String {
    format!(
        r#"{{"responseTemplates":{{"application/json":"{{\"v\":\"{version}\",\"x\":\"$stageVariables.x\",\"canary\":$context.isCanaryRequest}}"}}}}"#
    )
}

/// A REST API with `GET /pets` answering (MOCK) the template's version, `$stageVariables.x` and
/// `$context.isCanaryRequest`: (api id, pets resource id).
fn mock_api(url: &str) -> (String, String) {
    let api = cli(url, &["apigateway", "create-rest-api", "--name", "canaries"]);
    let id = api["id"].as_str().unwrap().to_owned();
    let root = api["rootResourceId"].as_str().unwrap().to_owned();
    let pets = cli(
        url,
        &[
            "apigateway",
            "create-resource",
            "--rest-api-id",
            &id,
            "--parent-id",
            &root,
            "--path-part",
            "pets",
        ],
    );
    let pets = pets["id"].as_str().unwrap().to_owned();
    let base = [
        "apigateway",
        "--rest-api-id",
        &id,
        "--resource-id",
        &pets,
        "--http-method",
        "GET",
    ];
    let with = |op: &str, extra: &[&str]| {
        let mut args: Vec<&str> = vec![base[0], op];
        args.extend_from_slice(&base[1..]);
        args.extend_from_slice(extra);
        cli(url, &args)
    };
    with("put-method", &["--authorization-type", "NONE"]);
    with(
        "put-integration",
        &[
            "--type",
            "MOCK",
            "--request-templates",
            r#"{"application/json":"{\"statusCode\": 200}"}"#,
        ],
    );
    with("put-method-response", &["--status-code", "200"]);
    let template = response_template("1");
    with(
        "put-integration-response",
        &["--status-code", "200", "--cli-input-json", &template],
    );
    (id, pets)
}

async fn invoke(http: &reqwest::Client, url: &str, api: &str) -> Value {
    let r = http
        .get(format!("{url}/restapis/{api}/prod/_user_request_/pets"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("invoke: {e}"));
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(status, 200, "invoke answered {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("invoke body {text}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_canary_serves_its_share_with_its_overrides_and_is_promoted_as_aws_guides() {
    let seed: u64 = std::env::var("CANARY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    println!("dice seed {seed} (CANARY_SEED)");
    sfn_operator::sandbox::seed_dice(seed);
    let sandbox = common::Sandbox::start().await;
    let url = sandbox.url();
    let (api, pets) = mock_api(&url);
    let base = cli(
        &url,
        &[
            "apigateway",
            "create-deployment",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
            "--variables",
            "x=base",
        ],
    );
    let base_id = base["id"].as_str().unwrap().to_owned();

    // A canary on a stage that does not exist is refused.
    let e = refused(
        &url,
        &[
            "apigateway",
            "create-deployment",
            "--rest-api-id",
            &api,
            "--stage-name",
            "beta",
            "--canary-settings",
            "percentTraffic=10",
        ],
    );
    assert!(e.contains("BadRequestException"), "{e}");

    // Version 2 of the method, deployed to the canary at 10 % with x overridden.
    let template = response_template("2");
    cli(
        &url,
        &[
            "apigateway",
            "put-integration-response",
            "--rest-api-id",
            &api,
            "--resource-id",
            &pets,
            "--http-method",
            "GET",
            "--status-code",
            "200",
            "--cli-input-json",
            &template,
        ],
    );
    let e = refused(
        &url,
        &[
            "apigateway",
            "create-deployment",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
            "--canary-settings",
            "percentTraffic=101",
        ],
    );
    assert!(e.contains("BadRequestException"), "{e}");
    let canary = cli(
        &url,
        &[
            "apigateway",
            "create-deployment",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
            "--canary-settings",
            r#"{"percentTraffic":10,"stageVariableOverrides":{"x":"canary"}}"#,
        ],
    );
    let canary_id = canary["id"].as_str().unwrap().to_owned();
    let stage = cli(
        &url,
        &[
            "apigateway",
            "get-stage",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
        ],
    );
    assert_eq!(stage["deploymentId"], base_id.as_str(), "{stage}");
    assert_eq!(
        stage["canarySettings"]["deploymentId"],
        canary_id.as_str(),
        "{stage}"
    );
    assert_eq!(stage["canarySettings"]["percentTraffic"], 10.0, "{stage}");
    assert_eq!(
        stage["canarySettings"]["stageVariableOverrides"]["x"], "canary",
        "{stage}"
    );
    assert_eq!(stage["canarySettings"]["useStageCache"], false, "{stage}");
    let stages = cli(&url, &["apigateway", "get-stages", "--rest-api-id", &api]);
    assert_eq!(
        stages["item"][0]["canarySettings"], stage["canarySettings"],
        "{stages}"
    );

    // The canary's deployment is in use: it cannot be deleted.
    let e = refused(
        &url,
        &[
            "apigateway",
            "delete-deployment",
            "--rest-api-id",
            &api,
            "--deployment-id",
            &canary_id,
        ],
    );
    assert!(e.contains("BadRequestException"), "{e}");

    // 1,000 invokes: 10 % ± 3 % on the canary, each one the canary's deployment and overrides.
    let http = reqwest::Client::new();
    let mut on_canary = 0;
    for _ in 0..1000 {
        let answer = invoke(&http, &url, &api).await;
        if answer["canary"] == true {
            on_canary += 1;
            assert_eq!(
                (answer["v"].as_str(), answer["x"].as_str()),
                (Some("2"), Some("canary")),
                "{answer}"
            );
        } else {
            assert_eq!(
                (answer["v"].as_str(), answer["x"].as_str()),
                (Some("1"), Some("base")),
                "{answer}"
            );
        }
    }
    println!("{on_canary} of 1000 invokes on the canary at 10 %");
    assert!(
        (70..=130).contains(&on_canary),
        "{on_canary} of 1000 on the canary"
    );

    // UpdateStage edits the canary; a deployment that does not exist or a share over 100 is refused.
    let stage_args = [
        "apigateway",
        "update-stage",
        "--rest-api-id",
        &api,
        "--stage-name",
        "prod",
        "--patch-operations",
    ];
    let update = |ops: &str| -> Result<Value, String> {
        let mut args = stage_args.to_vec();
        args.push(ops);
        aws_cli(&url, &args)
    };
    let stage = update(
        r#"[{"op":"replace","path":"/canarySettings/percentTraffic","value":"50"},
            {"op":"replace","path":"/canarySettings/stageVariableOverrides/x","value":"canary2"},
            {"op":"replace","path":"/canarySettings/stageVariableOverrides/y","value":"new"}]"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stage["canarySettings"]["percentTraffic"], 50.0, "{stage}");
    assert_eq!(
        stage["canarySettings"]["stageVariableOverrides"]["x"], "canary2",
        "{stage}"
    );
    let stage = update(r#"[{"op":"remove","path":"/canarySettings/stageVariableOverrides/y"}]"#)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        stage["canarySettings"]["stageVariableOverrides"]
            .as_object()
            .map(|m| m.len()),
        Some(1),
        "{stage}"
    );
    let e =
        update(r#"[{"op":"replace","path":"/canarySettings/deploymentId","value":"nosuchid"}]"#).unwrap_err();
    assert!(e.contains("BadRequestException"), "{e}");
    let e =
        update(r#"[{"op":"replace","path":"/canarySettings/percentTraffic","value":"100.5"}]"#).unwrap_err();
    assert!(e.contains("BadRequestException"), "{e}");
    let e = update(r#"[{"op":"replace","path":"/canarySettings/nosuchfield","value":"1"}]"#).unwrap_err();
    assert!(e.contains("BadRequestException"), "{e}");
    let stage = cli(
        &url,
        &[
            "apigateway",
            "get-stage",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
        ],
    );
    assert_eq!(
        stage["canarySettings"]["percentTraffic"], 50.0,
        "a refused patch changed nothing: {stage}"
    );

    // The promotion of AWS's guide, then the canary removed: every request runs version 2.
    let stage = update(
        r#"[{"op":"replace","path":"/canarySettings/percentTraffic","value":"0.0"},
            {"op":"copy","from":"/canarySettings/stageVariableOverrides","path":"/variables"},
            {"op":"copy","from":"/canarySettings/deploymentId","path":"/deploymentId"}]"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stage["deploymentId"], canary_id.as_str(), "{stage}");
    assert_eq!(stage["variables"]["x"], "canary2", "{stage}");
    assert_eq!(stage["canarySettings"]["percentTraffic"], 0.0, "{stage}");
    update(r#"[{"op":"remove","path":"/canarySettings"}]"#).unwrap_or_else(|e| panic!("{e}"));
    let stage = cli(
        &url,
        &[
            "apigateway",
            "get-stage",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
        ],
    );
    assert!(stage.get("canarySettings").is_none(), "{stage}");
    for _ in 0..50 {
        let answer = invoke(&http, &url, &api).await;
        assert_eq!(
            (answer["v"].as_str(), answer["x"].as_str(), &answer["canary"]),
            (Some("2"), Some("canary2"), &Value::Bool(false)),
            "{answer}"
        );
    }
    // The old base deployment is free again.
    cli(
        &url,
        &[
            "apigateway",
            "delete-deployment",
            "--rest-api-id",
            &api,
            "--deployment-id",
            &base_id,
        ],
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_replaced_by_deployment_id_and_removed_rolls_back_to_the_base() {
    sfn_operator::sandbox::seed_dice(3);
    let sandbox = common::Sandbox::start().await;
    let url = sandbox.url();
    let (api, _) = mock_api(&url);
    let base = cli(
        &url,
        &[
            "apigateway",
            "create-deployment",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
            "--variables",
            "x=base",
        ],
    );
    let base_id = base["id"].as_str().unwrap().to_owned();
    let canary = cli(
        &url,
        &[
            "apigateway",
            "create-deployment",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
            "--canary-settings",
            r#"{"percentTraffic":100,"stageVariableOverrides":{"x":"canary"}}"#,
        ],
    );
    let canary_id = canary["id"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    // At 100 % every request is the canary's.
    for _ in 0..20 {
        let answer = invoke(&http, &url, &api).await;
        assert_eq!(
            (answer["x"].as_str(), &answer["canary"]),
            (Some("canary"), &Value::Bool(true)),
            "{answer}"
        );
    }
    // Removing the canary (a rollback) sends everything back to the base deployment.
    let stage = cli(
        &url,
        &[
            "apigateway",
            "update-stage",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
            "--patch-operations",
            "op=remove,path=/canarySettings",
        ],
    );
    assert!(stage.get("canarySettings").is_none(), "{stage}");
    assert_eq!(stage["deploymentId"], base_id.as_str());
    for _ in 0..20 {
        let answer = invoke(&http, &url, &api).await;
        assert_eq!(
            (answer["x"].as_str(), &answer["canary"]),
            (Some("base"), &Value::Bool(false)),
            "{answer}"
        );
    }
    // The other promotion: the stage's deployment replaced by the canary's id.
    let stage = cli(
        &url,
        &[
            "apigateway",
            "update-stage",
            "--rest-api-id",
            &api,
            "--stage-name",
            "prod",
            "--patch-operations",
            &format!("op=replace,path=/deploymentId,value={canary_id}"),
        ],
    );
    assert_eq!(stage["deploymentId"], canary_id.as_str(), "{stage}");
    sandbox.shutdown().await;
}
