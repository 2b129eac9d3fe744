//! The API Gateway half's breakages of issue 9, one test each, through the real binary against
//! the sandbox, observed with the AWS SDK and the sandbox's request counts.

use std::path::Path;
use std::time::Duration;

use common::{entry, paths, report, sdk_conf};
use serde_json::{Value, json};

mod common;

use common::requests_json as requests;

async fn post(url: &str, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// The reference system's manifests, with `api.yaml`'s integration given `extra` YAML lines.
fn manifests(dir: &Path, extra: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    for f in ["state-machine.yaml", "parallel-processing.asl.yaml"] {
        std::fs::copy(root.join(f), dir.join(f)).unwrap();
    }
    let api = std::fs::read_to_string(root.join("api.yaml")).unwrap();
    std::fs::write(dir.join("api.yaml"), format!("{}\n{extra}", api.trim_end())).unwrap();
}

async fn api_and_resource(conf: &aws_config::SdkConfig) -> (String, String) {
    let apigw = aws_sdk_apigateway::Client::new(conf);
    let apis = apigw.get_rest_apis().send().await.unwrap();
    assert_eq!(apis.items().len(), 1, "one REST API: {:?}", apis.items());
    let id = apis.items()[0].id().unwrap().to_owned();
    let res = apigw.get_resources().rest_api_id(&id).send().await.unwrap();
    let rid = res
        .items()
        .iter()
        .find(|r| r.path() == Some("/execution"))
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    (id, rid)
}

const RESPONSES: &str = "  responses:
    - statusCode: \"200\"
      responseTemplates:
        application/json: '{\"executionArn\": \"$input.path(''$.executionArn'')\"}'
    - statusCode: \"400\"
      selectionPattern: \"4\\\\d{2}\"
";

/// Point 2: edits inside `responses`, and an integration response deleted out of band, are
/// written (not only redeployed), and the next pass writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn response_edits_and_deleted_responses_are_written() {
    let (_state, sb) = common::sandbox().await;
    let url = sb.endpoint_url();
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path(), RESPONSES);
    assert_eq!(
        common::run_binary_async(dir.path(), &url, &["reconcile", "--once"])
            .await
            .status
            .code(),
        Some(0)
    );
    let conf = sdk_conf(&url).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let (api, res) = api_and_resource(&conf).await;

    // Edit the template and the pattern in the manifest.
    let edited = RESPONSES
        .replace("{\"executionArn\": ", "{\"arn\": ")
        .replace("4\\\\d{2}", "400");
    manifests(dir.path(), &edited);
    let out = common::run_binary_async(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    let changed = paths(entry(&report(&out), "ApiIntegration"));
    assert!(
        changed
            .iter()
            .any(|p| p.starts_with("responses.200.responseTemplates")),
        "{changed:?}"
    );
    assert!(
        changed.iter().any(|p| p == "responses.400.selectionPattern"),
        "{changed:?}"
    );
    post(&url, "/_sandbox/requests/reset", json!({})).await;
    assert_eq!(
        common::run_binary_async(dir.path(), &url, &["reconcile", "--once"])
            .await
            .status
            .code(),
        Some(0)
    );
    let c = requests(&url).await;
    assert_eq!(c["apigateway"]["PutIntegrationResponse"], 2, "{c}");
    assert_eq!(c["apigateway"]["CreateDeployment"], 1, "{c}");
    let ir = |code: &'static str| {
        apigw
            .get_integration_response()
            .rest_api_id(&api)
            .resource_id(&res)
            .http_method("POST")
            .status_code(code)
            .send()
    };
    let ok = ir("200").await.unwrap();
    assert_eq!(
        ok.response_templates()
            .and_then(|t| t.get("application/json"))
            .map(String::as_str),
        Some("{\"arn\": \"$input.path('$.executionArn')\"}")
    );
    assert_eq!(ir("400").await.unwrap().selection_pattern(), Some("400"));

    // Deleted out of band: put back, and the stage (which served it) is left as it is.
    apigw
        .delete_integration_response()
        .rest_api_id(&api)
        .resource_id(&res)
        .http_method("POST")
        .status_code("400")
        .send()
        .await
        .unwrap();
    post(&url, "/_sandbox/requests/reset", json!({})).await;
    assert_eq!(
        common::run_binary_async(dir.path(), &url, &["reconcile", "--once"])
            .await
            .status
            .code(),
        Some(0)
    );
    let c = requests(&url).await;
    assert_eq!(c["apigateway"]["PutIntegrationResponse"], 1, "{c}");
    assert!(ir("400").await.is_ok());

    // A response dropped from the manifest goes, its integration response first.
    manifests(
        dir.path(),
        edited.split("    - statusCode: \"400\"").next().unwrap(),
    );
    assert_eq!(
        common::run_binary_async(dir.path(), &url, &["reconcile", "--once"])
            .await
            .status
            .code(),
        Some(0)
    );
    assert!(ir("400").await.is_err());
    let m = apigw
        .get_method()
        .rest_api_id(&api)
        .resource_id(&res)
        .http_method("POST")
        .send()
        .await
        .unwrap();
    assert_eq!(m.method_responses().map(|r| r.len()), Some(1));

    post(&url, "/_sandbox/requests/reset", json!({})).await;
    assert_eq!(
        common::run_binary_async(dir.path(), &url, &["reconcile", "--once"])
            .await
            .status
            .code(),
        Some(0)
    );
    assert_eq!(requests(&url).await["writes"], 0);
}

/// Point 3: a deployment that failed is made by the next pass; until then `diff` shows the
/// stale stage.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_deployment_is_made_by_the_next_pass() {
    let (_state, sb) = common::sandbox().await;
    let url = sb.endpoint_url();
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path(), "");
    assert_eq!(
        common::run_binary_async(dir.path(), &url, &["reconcile", "--once"])
            .await
            .status
            .code(),
        Some(0)
    );
    let conf = sdk_conf(&url).await;
    let (api, _) = api_and_resource(&conf).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let stage = || apigw.get_stage().rest_api_id(&api).stage_name("prod").send();
    let before = stage().await.unwrap().deployment_id().unwrap().to_owned();

    // Change the integration; its deployment fails with a permanent error.
    manifests(dir.path(), "  # edited\n");
    let text = std::fs::read_to_string(dir.path().join("api.yaml"))
        .unwrap()
        .replace(
            "    integrationHttpMethod: POST\n",
            "    integrationHttpMethod: POST\n    timeoutInMillis: 12000\n",
        );
    std::fs::write(dir.path().join("api.yaml"), text).unwrap();
    post(
        &url,
        "/_sandbox/faults",
        json!({"errorCode": "AccessDeniedException", "operations": ["CreateDeployment"]}),
    )
    .await;
    let out = common::run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(1));
    let e = entry(&report(&out), "ApiIntegration").clone();
    assert_eq!(e["status"], "Failed");
    assert!(
        e["message"].as_str().unwrap().contains("AccessDeniedException"),
        "{e}"
    );
    post(&url, "/_sandbox/faults", json!({})).await;
    assert_eq!(stage().await.unwrap().deployment_id(), Some(before.as_str()));

    // The stage is stale: diff says so, and the next pass deploys, once.
    let out = common::run_binary_async(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    let e = entry(&report(&out), "ApiIntegration").clone();
    assert_eq!(paths(&e), vec!["stage[\"prod\"]".to_owned()], "{e}");
    post(&url, "/_sandbox/requests/reset", json!({})).await;
    assert_eq!(
        common::run_binary_async(dir.path(), &url, &["reconcile", "--once"])
            .await
            .status
            .code(),
        Some(0)
    );
    assert_eq!(requests(&url).await["apigateway"]["CreateDeployment"], 1);
    assert_ne!(stage().await.unwrap().deployment_id(), Some(before.as_str()));
    assert_eq!(
        common::run_binary_async(dir.path(), &url, &["diff"])
            .await
            .status
            .code(),
        Some(0)
    );
}

/// Points 4 and 5: lost answers to CreateRestApi, CreateResource, PutMethod and CreateDeployment
/// leave one of each, and the pass converges at once instead of retrying until `--timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_answers_to_creates_leave_one_of_each_and_do_not_stall() {
    for op in [
        "CreateRestApi",
        "CreateResource",
        "PutMethod",
        "PutMethodResponse",
        "CreateDeployment",
    ] {
        let (_state, sb) = common::sandbox().await;
        let url = sb.endpoint_url();
        let dir = tempfile::tempdir().unwrap();
        manifests(dir.path(), "");
        post(&url, "/_sandbox/faults", json!({"lost": 1.0, "operations": [op]})).await;
        let started = std::time::Instant::now();
        let out =
            common::run_binary_async(dir.path(), &url, &["reconcile", "--once", "--timeout", "60s"]).await;
        let took = started.elapsed();
        let c = requests(&url).await;
        assert!(c["injectedFaults"]["lost"].as_u64() >= Some(1), "{op}: {c}");
        post(&url, "/_sandbox/faults", json!({})).await;
        assert_eq!(out.status.code(), Some(0), "{op}");
        // Every attempt of `op` was lost, so only what the operator read back let it go on; a
        // stall would have run into the 60 s timeout.
        assert!(took < Duration::from_secs(60), "{op}: took {took:?}");
        assert_eq!(c["apigateway"][op], 1, "{op} sent once: {c}");
        let conf = sdk_conf(&url).await;
        let (api, _) = api_and_resource(&conf).await;
        let apigw = aws_sdk_apigateway::Client::new(&conf);
        let res = apigw.get_resources().rest_api_id(&api).send().await.unwrap();
        assert_eq!(res.items().len(), 2, "{op}: / and /execution only");
        let deps = apigw.get_deployments().rest_api_id(&api).send().await.unwrap();
        assert_eq!(deps.items().len(), 1, "{op}: one deployment");
        post(&url, "/_sandbox/requests/reset", json!({})).await;
        assert_eq!(
            common::run_binary_async(dir.path(), &url, &["reconcile", "--once"])
                .await
                .status
                .code(),
            Some(0)
        );
        assert_eq!(requests(&url).await["writes"], 0, "{op}: in sync after");
    }
}

/// Point 6: a throttled or failing GetCallerIdentity at start-up is retried, not the end of the
/// run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_caller_identity_is_retried_at_start_up() {
    let (_state, sb) = common::sandbox().await;
    let url = sb.endpoint_url();
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path(), "");
    post(
        &url,
        "/_sandbox/faults",
        json!({"throttle": 1.0, "operations": ["GetCallerIdentity"]}),
    )
    .await;
    let child = {
        let (dir, url) = (dir.path().to_owned(), url.clone());
        tokio::task::spawn_blocking(move || {
            // No --account-id: the account comes from STS.
            std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
                .args(["reconcile", "--once", "--timeout", "60s"])
                .arg(&dir)
                .args([
                    "--endpoint-url",
                    &url,
                    "--region",
                    "us-east-1",
                    "-o",
                    "json",
                    "-q",
                ])
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env_remove("AWS_PROFILE")
                .output()
                .unwrap()
        })
    };
    // Wait until a throttle was really answered, then let STS through.
    let mut throttled = 0;
    for _ in 0..600 {
        throttled = requests(&url).await["injectedFaults"]["throttle"]
            .as_u64()
            .unwrap_or(0);
        if throttled >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(throttled >= 1, "GetCallerIdentity was never throttled");
    post(&url, "/_sandbox/faults", json!({})).await;
    let out = child.await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(requests(&url).await["sts"]["GetCallerIdentity"].as_u64() >= Some(2));
}
