//! SPEC §4: when any write on a REST API fails in a pass, that API's stages are not deployed in
//! that pass (the integrations deployed there say why), and the next pass deploys: a stage never
//! serves a half-written configuration. Through the real binary against the sandbox, observed
//! with the AWS SDK (what the stage serves) and the sandbox's request counts.

use common::{ManifestDir, Sandbox, entry, report, sdk_conf};
use serde_json::json;

mod common;

/// The reference system plus a second integration (`GET /status`) on the same API and stage;
/// `timeout` is the first integration's `timeoutInMillis`, `auth` the second's authorization.
fn manifests(dir: &ManifestDir, timeout: u32, auth: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    let api = std::fs::read_to_string(root.join("api.yaml")).unwrap().replace(
        "    integrationHttpMethod: POST\n",
        &format!("    integrationHttpMethod: POST\n    timeoutInMillis: {timeout}\n"),
    );
    let second = format!(
        "---
apiVersion: sfn-operator.dev/v1alpha1
kind: ApiIntegration
metadata:
  name: status
spec:
  restApi:
    ref: state-machine-api
  path: /status
  httpMethod: GET
  authorizationType: {auth}
  integration:
    type: AWS
    service: states
    action: DescribeExecution
    integrationHttpMethod: POST
    credentials: arn:aws:iam::${{AWS::AccountId}}:role/IntegrationIamRole
  stage: prod
"
    );
    dir.write("api.yaml", &format!("{}\n{second}", api.trim_end()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_write_holds_the_deployment_until_the_next_pass() {
    let sb = Sandbox::start().await;
    let url = sb.url();
    let dir = ManifestDir::reference();
    manifests(&dir, 29000, "NONE");
    let once = |args: &'static [&'static str]| common::run_binary_async(dir.path(), &url, args);
    assert_eq!(once(&["reconcile", "--once"]).await.status.code(), Some(0));
    let conf = sdk_conf(&url).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let apis = apigw.get_rest_apis().send().await.unwrap();
    let api = apis.items()[0].id().unwrap().to_owned();
    let serving = || async {
        apigw
            .get_stage()
            .rest_api_id(&api)
            .stage_name("prod")
            .send()
            .await
            .unwrap()
            .deployment_id()
            .unwrap()
            .to_owned()
    };
    let before = serving().await;

    // Both integrations change; the second one's write (UpdateMethod, for its authorization)
    // is refused, the first one's (PutIntegration) goes through.
    manifests(&dir, 12000, "AWS_IAM");
    sb.faults(json!({"errorCode": "AccessDeniedException", "operations": ["UpdateMethod"]}))
        .await;
    sb.reset().await;
    let out = once(&["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(1));
    let counts = sb.requests().await;
    assert_eq!(counts.count("PutIntegration"), 1, "{:?}", counts.0);
    assert_eq!(
        counts.count("CreateDeployment"),
        0,
        "no deployment: {:?}",
        counts.0
    );
    assert_eq!(
        serving().await,
        before,
        "the stage still serves the old deployment"
    );
    let r = report(&out);
    let status = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "status")
        .unwrap()
        .clone();
    assert_eq!(status["status"], "Failed");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("AccessDeniedException"),
        "{status}"
    );
    let start = entry(&r, "ApiIntegration").clone();
    assert_eq!(start["name"], "start-execution");
    assert_eq!(
        start["status"], "Failed",
        "its write went through, its stage did not: {start}"
    );
    let why = start["message"].as_str().unwrap();
    assert!(
        why.contains("stage prod not deployed") && why.contains("next pass"),
        "{why}"
    );

    // The write goes through now, and the pass deploys once; the pass after writes nothing.
    sb.faults(json!({})).await;
    sb.reset().await;
    assert_eq!(once(&["reconcile", "--once"]).await.status.code(), Some(0));
    let counts = sb.requests().await;
    assert_eq!(counts.count("UpdateMethod"), 1, "{:?}", counts.0);
    assert_eq!(counts.count("CreateDeployment"), 1, "{:?}", counts.0);
    assert_eq!(counts.count("PutIntegration"), 0, "{:?}", counts.0);
    assert_ne!(serving().await, before);
    assert_eq!(once(&["diff"]).await.status.code(), Some(0));
}
