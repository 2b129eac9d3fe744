//! create → in sync → drift → restore against moto server, an independent implementation of the
//! AWS APIs, driving the real binary. Needs `$SFN_OPERATOR_PEERS_VENV/bin/moto_server` (fails if
//! missing), and pruning REST APIs and integrations.

use std::path::Path;
use std::process::Output;

use common::{
    drift_reference_system, entry, methods, paths, report, sdk_conf, set_endpoint_type, start_moto,
};

mod common;

fn run(dir: &Path, url: &str, args: &[&str]) -> Output {
    common::run_binary(dir, url, args)
}

#[tokio::test(flavor = "multi_thread")]
async fn create_in_sync_drift_restore_against_moto() {
    let moto = start_moto().await;
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    for f in ["state-machine.yaml", "parallel-processing.asl.yaml", "api.yaml"] {
        std::fs::copy(root.join(f), dir.path().join(f)).unwrap();
    }

    // Create from nothing.
    let out = run(dir.path(), &moto.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    assert_eq!(r["summary"]["create"], 3, "{r}");
    assert!(
        r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "Synced"),
        "{r}"
    );
    let api_id = entry(&r, "RestApi")["id"].as_str().unwrap().to_owned();

    // In sync.
    let out = run(dir.path(), &moto.url, &["diff"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(report(&out)["summary"]["noop"], 3);

    // Out-of-band changes with the SDK.
    let conf = sdk_conf(&moto.url).await;
    let drifted = drift_reference_system(&conf, &api_id, "sfn-operator.dev/deletion-policy", "Delete").await;

    let out = run(dir.path(), &moto.url, &["diff"]);
    assert_eq!(out.status.code(), Some(2));
    let r = report(&out);
    let sm = entry(&r, "StateMachine");
    assert_eq!(sm["status"], "Pending");
    let ip = paths(entry(&r, "ApiIntegration"));
    assert!(ip.contains(&"integration.credentials".to_owned()), "{ip:?}");
    assert!(
        ip.contains(&"integration.requestTemplates[\"application/json\"]".to_owned()),
        "{ip:?}"
    );
    let p = paths(sm);
    assert!(p.contains(&"roleArn".to_owned()), "{p:?}");
    assert!(p.contains(&drifted), "{p:?}");
    assert!(
        p.contains(&"tags[\"sfn-operator.dev/deletion-policy\"]".to_owned()),
        "{p:?}"
    );

    // Restore, then in sync again.
    let out = run(dir.path(), &moto.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    assert_eq!(entry(&r, "StateMachine")["action"], "update");
    assert_eq!(entry(&r, "ApiIntegration")["action"], "update");
    let out = run(dir.path(), &moto.url, &["diff"]);
    assert_eq!(out.status.code(), Some(0));
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

fn api_yaml(name: &str, policy: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: RestApi\nmetadata:\n  name: {name}\nspec:\n  name: {name}-live\n  deletionPolicy: {policy}\n"
    )
}

fn integration_yaml(name: &str, api: &str, path: &str, policy: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: ApiIntegration\nmetadata:\n  name: {name}\nspec:\n  restApi: {{ref: {api}}}\n  path: {path}\n  httpMethod: POST\n  deletionPolicy: {policy}\n  stage: prod\n  integration:\n    type: AWS\n    service: states\n    action: StartExecution\n    credentials: arn:aws:iam::123456789012:role/IntegrationIamRole\n"
    )
}

/// `endpointConfiguration` drift, and pruning REST APIs and integrations, against moto. The ownership records are set by
/// CreateRestApi, which moto keeps, so a fresh operator finds them. moto answers 404 to
/// UntagResource on a REST API ARN (PEERS.md), so after deleting a pruned integration's method
/// the operator cannot remove its record there: this test expects that failure, by name, where
/// AWS and the sandbox succeed.
#[tokio::test(flavor = "multi_thread")]
async fn prune_rest_apis_and_integrations_against_moto() {
    let moto = start_moto().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "kept.yaml",
        &(api_yaml("kept", "Retain") + "  endpointConfiguration:\n    types: [REGIONAL]\n"),
    );
    write(
        d,
        "kept-int.yaml",
        &integration_yaml("kept-int", "kept", "/keep", "Retain"),
    );
    write(
        d,
        "drop-int.yaml",
        &integration_yaml("drop-int", "kept", "/drop", "Delete"),
    );
    write(
        d,
        "gone.yaml",
        &format!(
            "{}---\n{}",
            api_yaml("gone", "Delete"),
            integration_yaml("gone-int", "gone", "/run", "Delete")
        ),
    );
    let out = run(d, &moto.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    let kept_id = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "kept")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = run(d, &moto.url, &["diff"]);
    assert_eq!(out.status.code(), Some(0), "records set at creation are in sync");

    let conf = sdk_conf(&moto.url).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let names = || async {
        let l = apigw.get_rest_apis().send().await.unwrap();
        let mut n: Vec<String> = l.items().iter().map(|a| a.name().unwrap().to_owned()).collect();
        n.sort();
        n
    };
    assert_eq!(names().await, ["gone-live", "kept-live"]);

    // endpointConfiguration drift, patched the way AWS (and moto) take it, found and restored.
    set_endpoint_type(&apigw, &kept_id, "REGIONAL", "EDGE").await;
    let out = run(d, &moto.url, &["diff"]);
    assert_eq!(out.status.code(), Some(2));
    let r = report(&out);
    let kept = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "kept")
        .unwrap();
    assert_eq!(paths(kept), ["endpointConfiguration.types"], "{kept}");
    let out = run(d, &moto.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    let out = run(d, &moto.url, &["diff"]);
    assert_eq!(out.status.code(), Some(0));

    std::fs::remove_file(d.join("gone.yaml")).unwrap();
    std::fs::remove_file(d.join("drop-int.yaml")).unwrap();
    let out = run(d, &moto.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0), "without --prune nothing is deleted");
    assert_eq!(names().await, ["gone-live", "kept-live"]);

    let out = run(d, &moto.url, &["reconcile", "--once", "--prune"]);
    let r = report(&out);
    let by_name = |n: &str| {
        r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .unwrap_or_else(|| panic!("{n} not in {r}"))
            .clone()
    };
    assert_eq!(by_name("gone")["action"], "delete");
    assert_eq!(by_name("gone")["status"], "Synced", "{r}");
    assert_eq!(names().await, ["kept-live"]);
    let drop = by_name("drop-int");
    assert_eq!(drop["action"], "delete");
    // moto's gap: the record cannot be removed (UntagResource answers a bare 404, no error
    // code), reported on that integration.
    assert_eq!(drop["status"], "Failed", "{drop}");
    let msg = drop["message"].as_str().unwrap_or("");
    assert!(
        msg.contains(&format!("removing ownership records from REST API {kept_id}")),
        "{msg}"
    );
    assert_eq!(out.status.code(), Some(1));
    // The method itself is gone, the kept one and the API stay.
    let methods = methods(&apigw, &kept_id).await;
    assert_eq!(methods, ["POST /keep"]);
    // An integration on a pruned API goes with it: no separate entry.
    assert!(
        !r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "gone-int"),
        "{r}"
    );
}
