//! create → in sync (zero writes) → drift → diff names each path → restore with exactly one
//! deployment, against the in-process sandbox, driving the real binary and counting calls with
//! `GET /_sandbox/requests`.

use std::path::Path;
use std::process::Command;

use common::{drift_reference_system, entry, methods, paths, report, sdk_conf, set_endpoint_type};
use serde_json::Value;
use sfn_operator::sandbox::{SandboxConfig, start};

mod common;

use common::requests_json as requests;

/// Every (operation, count) in the requests document, whatever its nesting.
fn ops(v: &Value, out: &mut Vec<(String, u64)>) {
    if let Value::Object(m) = v {
        for (k, x) in m {
            match x {
                Value::Number(n) => out.push((k.clone(), n.as_u64().unwrap_or(0))),
                other => ops(other, out),
            }
        }
    }
}

async fn counts(url: &str) -> Vec<(String, u64)> {
    let v: Value = reqwest::get(format!("{url}/_sandbox/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    ops(&v, &mut out);
    out
}

fn count(c: &[(String, u64)], op: &str) -> u64 {
    c.iter().filter(|(k, _)| k == op).map(|(_, n)| n).sum()
}

fn writes(c: &[(String, u64)]) -> Vec<(String, u64)> {
    const WRITE: [&str; 7] = ["Create", "Update", "Put", "Tag", "Untag", "Delete", "Start"];
    c.iter()
        .filter(|(k, n)| *n > 0 && WRITE.iter().any(|w| k.starts_with(w)))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_in_sync_drift_restore() {
    let state = tempfile::tempdir().unwrap();
    let sandbox = start(SandboxConfig {
        state_file: Some(state.path().join("s.json")),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = sandbox.endpoint_url();
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    for f in ["state-machine.yaml", "parallel-processing.asl.yaml", "api.yaml"] {
        std::fs::copy(root.join(f), dir.path().join(f)).unwrap();
    }

    let out = common::run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(report(&out)["summary"]["create"], 3);
    assert_eq!(
        count(&counts(&url).await, "CreateDeployment"),
        1,
        "the missing stage is deployed once"
    );

    // A pass right after a successful one: no write call, the fewest reads.
    common::reset_requests(&url).await;
    let out = common::run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let c = counts(&url).await;
    assert_eq!(writes(&c), vec![], "in-sync pass wrote: {c:?}");
    for op in [
        "DescribeStateMachine",
        "ListTagsForResource",
        "GetRestApis",
        "GetResources",
        "GetStages",
    ] {
        assert_eq!(count(&c, op), 1, "{op}: {c:?}");
    }
    let out = common::run_binary_async(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(0));

    // Out-of-band changes with the SDK.
    let conf = sdk_conf(&url).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let api = apigw.get_rest_apis().send().await.unwrap();
    let api_id = api.items()[0].id().unwrap().to_owned();
    drift_reference_system(&conf, &api_id, "sfn-operator.dev/manifest", "StateMachine/x").await;

    common::reset_requests(&url).await;
    let out = common::run_binary_async(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(writes(&counts(&url).await), vec![], "diff never writes");
    let r = report(&out);
    let sm = paths(entry(&r, "StateMachine"));
    for p in [
        "roleArn",
        "definition.States.Parallel.Branches[0].States.SumValues.ResultSelector[\"sum.$\"]",
        "tags[\"sfn-operator.dev/manifest\"]",
    ] {
        assert!(sm.iter().any(|x| x == p), "{p} not in {sm:?}");
    }
    let ip = paths(entry(&r, "ApiIntegration"));
    for p in [
        "integration.credentials",
        "integration.requestTemplates[\"application/json\"]",
    ] {
        assert!(ip.iter().any(|x| x == p), "{p} not in {ip:?}");
    }

    common::reset_requests(&url).await;
    let out = common::run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let c = counts(&url).await;
    // The drift was never deployed: stage prod still serves the deployment of the manifests'
    // configuration, which the restore brings back, so there is nothing to redeploy.
    assert_eq!(count(&c, "CreateDeployment"), 0, "{c:?}");
    assert_eq!(count(&c, "UpdateStateMachine"), 1, "{c:?}");
    assert_eq!(count(&c, "PutIntegration"), 1, "{c:?}");
    let out = common::run_binary_async(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(0));

    // Drift that someone also deploys: the stage now serves it, so the restore redeploys, once.
    drift_reference_system(&conf, &api_id, "team", "x").await;
    apigw
        .create_deployment()
        .rest_api_id(&api_id)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    let out = common::run_binary_async(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    let ip = paths(entry(&report(&out), "ApiIntegration"));
    assert!(ip.iter().any(|p| p == "stage[\"prod\"]"), "{ip:?}");
    common::reset_requests(&url).await;
    let out = common::run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(count(&counts(&url).await, "CreateDeployment"), 1);
    let out = common::run_binary_async(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(0));
}

fn machine_yaml(name: &str, policy: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: {name}\nspec:\n  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole\n  deletionPolicy: {policy}\n  definition:\n    StartAt: A\n    States:\n      A:\n        Type: Pass\n        End: true\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_and_server_errors_still_converge() {
    let (_state, sb) = common::sandbox().await;
    let url = sb.endpoint_url();
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    for f in ["state-machine.yaml", "parallel-processing.asl.yaml", "api.yaml"] {
        std::fs::copy(root.join(f), dir.path().join(f)).unwrap();
    }
    for i in 0..10 {
        std::fs::write(
            dir.path().join(format!("m{i}.yaml")),
            machine_yaml(&format!("m{i}"), "Retain"),
        )
        .unwrap();
    }
    let faults = serde_json::json!({"throttle": 0.3, "error": 0.05, "seed": 7});
    let r = reqwest::Client::new()
        .post(format!("{url}/_sandbox/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let out = common::run_binary_async(dir.path(), &url, &["reconcile", "--once", "--timeout", "2m"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(report(&out)["summary"]["create"], 13);
    // The faults really fired (the sandbox counts what it injected).
    let injected = &requests(&url).await["injectedFaults"];
    assert!(injected["throttle"].as_u64().unwrap() > 0, "{injected}");
    assert!(injected["error"].as_u64().unwrap() > 0, "{injected}");
    let r = reqwest::Client::new()
        .post(format!("{url}/_sandbox/faults"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    common::reset_requests(&url).await;
    let out = common::run_binary_async(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(0), "converged to the right state");
    assert_eq!(report(&out)["summary"]["noop"], 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_manifest_writes_nothing_and_prune_matrix() {
    let (_state, sb) = common::sandbox().await;
    let url = sb.endpoint_url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, policy) in [
        ("keep", "Retain"),
        ("owned-retain", "Retain"),
        ("owned-delete", "Delete"),
    ] {
        std::fs::write(d.join(format!("{name}.yaml")), machine_yaml(name, policy)).unwrap();
    }
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    // An unowned machine, made by hand.
    let conf = sdk_conf(&url).await;
    let sfn = aws_sdk_sfn::Client::new(&conf);
    sfn.create_state_machine()
        .name("unowned")
        .role_arn("arn:aws:iam::123456789012:role/StepFunctionsIamRole")
        .definition(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#)
        .send()
        .await
        .unwrap();
    std::fs::remove_file(d.join("owned-retain.yaml")).unwrap();
    std::fs::remove_file(d.join("owned-delete.yaml")).unwrap();
    let names = || async {
        let l = sfn.list_state_machines().send().await.unwrap();
        let mut n: Vec<String> = l.state_machines().iter().map(|m| m.name().to_owned()).collect();
        n.sort();
        n
    };

    // An invalid manifest: exit 1, not a single AWS call.
    std::fs::write(
        d.join("bad.yaml"),
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: Bad_Name\nspec: {}\n",
    )
    .unwrap();
    common::reset_requests(&url).await;
    let out = common::run_binary_async(d, &url, &["reconcile", "--once", "--prune"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        counts(&url).await.iter().map(|(_, n)| n).sum::<u64>(),
        0,
        "no AWS call with invalid manifests"
    );
    std::fs::remove_file(d.join("bad.yaml")).unwrap();

    // Without --prune nothing is deleted.
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(names().await, ["keep", "owned-delete", "owned-retain", "unowned"]);

    // With --prune only owned ∧ Delete goes.
    let out = common::run_binary_async(d, &url, &["reconcile", "--once", "--prune"]).await;
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    assert_eq!(r["summary"]["delete"], 1, "{r}");
    assert_eq!(names().await, ["keep", "owned-retain", "unowned"]);
}

/// Issue 4: an injected AccessDenied on one resource fails only that resource and its
/// dependants, with the code in the report, and fast: one attempt, no retry loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn access_denied_fails_one_resource_and_its_dependants_once() {
    let (_state, sb) = common::sandbox().await;
    let url = sb.endpoint_url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("alpha.yaml"), machine_yaml("alpha", "Retain")).unwrap();
    std::fs::write(d.join("beta.yaml"), machine_yaml("beta", "Retain")).unwrap();
    let api = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/api.yaml"))
        .unwrap()
        .replace("stateMachineRef: parallel-processing", "stateMachineRef: alpha");
    assert!(api.contains("stateMachineRef: alpha"));
    std::fs::write(d.join("api.yaml"), api).unwrap();

    let faults = serde_json::json!({
        "errorCode": "AccessDeniedException",
        "operations": ["CreateStateMachine"],
        "match": "\"name\":\"alpha\"",
    });
    let r = reqwest::Client::new()
        .post(format!("{url}/_sandbox/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    common::reset_requests(&url).await;

    let started = std::time::Instant::now();
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    let by_name = |name: &str| {
        r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {r}"))
    };
    let alpha = by_name("alpha");
    assert_eq!(alpha["status"], "Failed", "{alpha}");
    assert!(
        alpha["message"]
            .as_str()
            .unwrap_or("")
            .contains("AccessDeniedException"),
        "{alpha}"
    );
    let integration = by_name("start-execution");
    assert_eq!(integration["status"], "Skipped", "{integration}");
    assert_eq!(by_name("beta")["status"], "Synced", "{r}");
    assert_eq!(by_name("state-machine-api")["status"], "Synced", "{r}");
    assert_eq!(r["summary"]["failed"], 1, "{r}");

    // Fast: exactly one CreateStateMachine each for alpha and beta — no retry of a permanent
    // error — and well within the pass deadline.
    let c = counts(&url).await;
    assert_eq!(count(&c, "CreateStateMachine"), 2, "{c:?}");
    assert!(took < std::time::Duration::from_secs(20), "took {took:?}");
}

/// Ctrl-C during `reconcile --once` (or a cancelled CI job's SIGINT): nothing new starts, the
/// calls in flight finish, the report says what was done and what was not, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_during_once_finishes_in_flight_work_and_reports_the_rest_skipped() {
    let sandbox = start(SandboxConfig::default()).await.unwrap();
    let url = sandbox.endpoint_url();
    let dir = tempfile::tempdir().unwrap();
    for i in 0..6 {
        std::fs::write(
            dir.path().join(format!("m{i}.yaml")),
            format!(
                "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata: {{name: m{i}}}\nspec:\n  roleArn: arn:aws:iam::123456789012:role/R\n  definition: {{StartAt: P, States: {{P: {{Type: Pass, End: true}}}}}}\n"
            ),
        )
        .unwrap();
    }
    // Every call takes 1.5 s: six creates two at a time need 9 s.
    let r = reqwest::Client::new()
        .post(format!("{url}/_sandbox/faults"))
        .json(&serde_json::json!({"latencyMs": 1500}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let child = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args(["reconcile", "--once", "--concurrency", "2", "-o", "json"])
        .arg(dir.path())
        .args(["--endpoint-url", &url, "--region", "us-east-1"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while count(&counts(&url).await, "CreateStateMachine") == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no create seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let interrupted = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(interrupted.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "not everything is in sync");
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    let rep = report(&out);
    let entries = rep["resources"].as_array().unwrap();
    assert_eq!(entries.len(), 6, "every resource is reported");
    let synced: Vec<&Value> = entries.iter().filter(|e| e["status"] == "Synced").collect();
    let skipped: Vec<&Value> = entries.iter().filter(|e| e["status"] == "Skipped").collect();
    assert!(!synced.is_empty(), "the creates in flight finished: {rep}");
    assert_eq!(synced.len() + skipped.len(), 6, "{rep}");
    assert!(
        skipped
            .iter()
            .all(|e| e["message"] == "not started: shutting down"),
        "{rep}"
    );
    assert_eq!(
        count(&counts(&url).await, "CreateStateMachine") as usize,
        synced.len(),
        "nothing was started after the interrupt"
    );
}

/// `reconcile --once ARGS` makes no write call and then `diff ARGS` exits 0.
async fn assert_in_sync(d: &Path, url: &str, args: &[&str]) {
    common::reset_requests(url).await;
    let once = [&["reconcile", "--once"][..], args].concat();
    let out = common::run_binary_async(d, url, &once).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        writes(&counts(url).await),
        vec![],
        "a pass after a successful one wrote"
    );
    let out = common::run_binary_async(d, url, &[&["diff"][..], args].concat()).await;
    assert_eq!(out.status.code(), Some(0));
}

fn rest_api_yaml(name: &str, policy: &str, extra: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: RestApi\nmetadata:\n  name: {name}\nspec:\n  name: {name}-live\n  deletionPolicy: {policy}\n{extra}"
    )
}

/// An `ApiIntegration` on `target` (a YAML flow mapping such as `{ref: a}`), `POST {path}`.
fn integration_yaml(
    name: &str,
    target: &str,
    path: &str,
    policy: &str,
    stage: Option<&str>,
    timeout: u32,
) -> String {
    let stage = stage.map(|s| format!("  stage: {s}\n")).unwrap_or_default();
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: ApiIntegration\nmetadata:\n  name: {name}\nspec:\n  restApi: {target}\n  path: {path}\n  httpMethod: POST\n  deletionPolicy: {policy}\n{stage}  integration:\n    type: AWS\n    service: states\n    action: StartExecution\n    timeoutInMillis: {timeout}\n    credentials: arn:aws:iam::123456789012:role/IntegrationIamRole\n"
    )
}

/// Live REST APIs by name: (id, tags).
async fn live_apis(
    apigw: &aws_sdk_apigateway::Client,
) -> std::collections::BTreeMap<String, (String, std::collections::HashMap<String, String>)> {
    let l = apigw.get_rest_apis().send().await.unwrap();
    l.items()
        .iter()
        .map(|a| {
            (
                a.name().unwrap().to_owned(),
                (a.id().unwrap().to_owned(), a.tags().cloned().unwrap_or_default()),
            )
        })
        .collect()
}

async fn deployments(apigw: &aws_sdk_apigateway::Client, api: &str) -> usize {
    let d = apigw.get_deployments().rest_api_id(api).send().await.unwrap();
    d.items().len()
}

fn deletes(r: &Value) -> Vec<String> {
    let mut out: Vec<String> = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "delete")
        .map(|e| {
            format!(
                "{}/{} {}",
                e["kind"].as_str().unwrap(),
                e["name"].as_str().unwrap(),
                e["status"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

/// SPEC §5 for REST APIs and API integrations: owned/unowned × Retain/Delete × with/without
/// `--prune` × an invalid manifest present. Only owned ∧ Delete ∧ `--prune` ∧ all valid deletes
/// anything; the operator that prunes is a fresh process reading other manifests than the one that
/// created (ownership lives on the live side); after pruning an integration its stage gets exactly
/// one deployment, merged with the one the pass makes anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prune_matrix_for_rest_apis_and_integrations() {
    let (_state, sb) = common::sandbox().await;
    let url = sb.endpoint_url();
    let apigw = aws_sdk_apigateway::Client::new(&sdk_conf(&url).await);

    // An API nobody manages, with a hand-made method; one manifest adds an integration to it.
    let unowned = apigw.create_rest_api().name("unowned-live").send().await.unwrap();
    let unowned_id = unowned.id().unwrap().to_owned();
    let root = unowned.root_resource_id().unwrap().to_owned();
    let hand = apigw
        .create_resource()
        .rest_api_id(&unowned_id)
        .parent_id(&root)
        .path_part("hand")
        .send()
        .await
        .unwrap();
    apigw
        .put_method()
        .rest_api_id(&unowned_id)
        .resource_id(hand.id().unwrap())
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    // An API that looks owned but lacks the managed-by tag: never ours.
    apigw
        .create_rest_api()
        .name("lookalike-live")
        .tags("sfn-operator.dev/manifest", "RestApi/lookalike")
        .tags("sfn-operator.dev/deletion-policy", "Delete")
        .send()
        .await
        .unwrap();

    let first = tempfile::tempdir().unwrap();
    let d = first.path();
    let files: &[(&str, String)] = &[
        ("api-keep.yaml", rest_api_yaml("api-keep", "Retain", "")),
        (
            "api-del.yaml",
            format!(
                "{}---\n{}",
                rest_api_yaml("api-del", "Delete", ""),
                integration_yaml(
                    "on-api-del",
                    "{ref: api-del}",
                    "/run",
                    "Delete",
                    Some("prod"),
                    29000
                )
            ),
        ),
        ("api-ret.yaml", rest_api_yaml("api-ret", "Retain", "")),
        (
            "int-keep.yaml",
            integration_yaml(
                "int-keep",
                "{ref: api-keep}",
                "/keep",
                "Retain",
                Some("prod"),
                29000,
            ),
        ),
        (
            "int-del.yaml",
            integration_yaml(
                "int-del",
                "{ref: api-keep}",
                "/shared/del",
                "Delete",
                Some("prod"),
                29000,
            ),
        ),
        (
            "int-ret.yaml",
            integration_yaml(
                "int-ret",
                "{ref: api-keep}",
                "/shared/ret",
                "Retain",
                Some("prod"),
                29000,
            ),
        ),
        (
            "int-unowned.yaml",
            integration_yaml(
                "int-unowned",
                "{name: unowned-live}",
                "/added",
                "Delete",
                Some("live"),
                29000,
            ),
        ),
    ];
    for (f, text) in files {
        std::fs::write(d.join(f), text).unwrap();
    }
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(report(&out)["summary"]["create"], 8);
    let apis = live_apis(&apigw).await;
    let keep_id = apis["api-keep-live"].0.clone();
    let keep_tags = &apis["api-keep-live"].1;
    assert_eq!(
        keep_tags
            .get("sfn-operator.dev/integration/int-del")
            .map(String::as_str),
        Some("v1 POST /shared/del Delete prod"),
        "recorded at creation: {keep_tags:?}"
    );
    // On the API no manifest manages, our record is the only change.
    let unowned_tags = &apis["unowned-live"].1;
    assert_eq!(
        unowned_tags.keys().collect::<Vec<_>>(),
        ["sfn-operator.dev/integration/int-unowned"],
        "{unowned_tags:?}"
    );
    assert_eq!(
        methods(&apigw, &keep_id).await,
        ["POST /keep", "POST /shared/del", "POST /shared/ret"]
    );
    assert_eq!(methods(&apigw, &unowned_id).await, ["GET /hand", "POST /added"]);
    let keep_deployments = deployments(&apigw, &keep_id).await;
    let unowned_deployments = deployments(&apigw, &unowned_id).await;

    // In sync: no write, including no ownership write.
    common::reset_requests(&url).await;
    let out = common::run_binary_async(d, &url, &["reconcile", "--once", "--prune"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(writes(&counts(&url).await), vec![]);
    assert_eq!(deletes(&report(&out)), Vec::<String>::new());

    // A fresh operator on other manifests: the removed ones are gone, int-keep changed.
    let second = tempfile::tempdir().unwrap();
    let d = second.path();
    std::fs::write(d.join("api-keep.yaml"), rest_api_yaml("api-keep", "Retain", "")).unwrap();
    std::fs::write(
        d.join("int-keep.yaml"),
        integration_yaml(
            "int-keep",
            "{ref: api-keep}",
            "/keep",
            "Retain",
            Some("prod"),
            10000,
        ),
    )
    .unwrap();
    std::fs::write(d.join("api-ret.yaml"), rest_api_yaml("api-ret", "Retain", "")).unwrap();
    std::fs::remove_file(first.path().join("api-ret.yaml")).unwrap();
    let everything = || async {
        let apis = live_apis(&apigw).await;
        let mut names: Vec<String> = apis.keys().cloned().collect();
        names.sort();
        (
            names,
            methods(&apigw, &keep_id).await,
            methods(&apigw, &unowned_id).await,
        )
    };
    let before = everything().await;

    // An invalid manifest present: nothing at all, even with --prune.
    std::fs::write(
        d.join("bad.yaml"),
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: RestApi\nmetadata:\n  name: Bad_Name\nspec: {}\n",
    )
    .unwrap();
    common::reset_requests(&url).await;
    let out = common::run_binary_async(d, &url, &["reconcile", "--once", "--prune"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        requests(&url).await["total"],
        0,
        "no AWS call with invalid manifests"
    );
    std::fs::remove_file(d.join("bad.yaml")).unwrap();

    // Without --prune: nothing deleted (only int-keep's own change).
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(deletes(&report(&out)), Vec::<String>::new());
    assert_eq!(everything().await, before);
    assert_eq!(deployments(&apigw, &keep_id).await, keep_deployments + 1);
    std::fs::write(
        d.join("int-keep.yaml"),
        integration_yaml(
            "int-keep",
            "{ref: api-keep}",
            "/keep",
            "Retain",
            Some("prod"),
            12000,
        ),
    )
    .unwrap();

    // `diff --prune`: the deletes `reconcile --prune` would make are Pending (exit 2), nothing is
    // written; plain `diff` shows no delete at all.
    common::reset_requests(&url).await;
    let out = common::run_binary_async(d, &url, &["diff", "--prune"]).await;
    assert_eq!(out.status.code(), Some(2));
    let diff = report(&out);
    let pending = [
        "ApiIntegration/int-del Pending",
        "ApiIntegration/int-unowned Pending",
        "RestApi/api-del Pending",
    ];
    assert_eq!(deletes(&diff), pending, "{diff}");
    let out = common::run_binary_async(d, &url, &["diff"]).await;
    assert_eq!(deletes(&report(&out)), Vec::<String>::new());
    assert_eq!(writes(&counts(&url).await), vec![], "diff never writes");

    // With --prune: only owned ∧ Delete.
    common::reset_requests(&url).await;
    let out = common::run_binary_async(d, &url, &["reconcile", "--once", "--prune"]).await;
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    assert_eq!(
        deletes(&r),
        [
            "ApiIntegration/int-del Synced",
            "ApiIntegration/int-unowned Synced",
            "RestApi/api-del Synced",
        ],
        "{r}"
    );
    assert_eq!(r["summary"]["delete"], 3, "{r}");
    let (names, keep_methods, unowned_methods) = everything().await;
    assert_eq!(
        names,
        ["api-keep-live", "api-ret-live", "lookalike-live", "unowned-live"]
    );
    // The method goes, the path resources stay (other methods may use them).
    assert_eq!(keep_methods, ["POST /keep", "POST /shared/ret"]);
    assert_eq!(unowned_methods, ["GET /hand"]);
    let apis = live_apis(&apigw).await;
    assert!(
        !apis["api-keep-live"]
            .1
            .contains_key("sfn-operator.dev/integration/int-del"),
        "the record goes with the method"
    );
    assert!(apis["unowned-live"].1.is_empty(), "{:?}", apis["unowned-live"].1);
    // Exactly one deployment per stage: int-keep's change and int-del's prune share prod's.
    let c = counts(&url).await;
    assert_eq!(count(&c, "CreateDeployment"), 2, "{c:?}");
    assert_eq!(deployments(&apigw, &keep_id).await, keep_deployments + 2);
    assert_eq!(deployments(&apigw, &unowned_id).await, unowned_deployments + 1);
    assert_eq!(count(&c, "DeleteRestApi"), 1, "{c:?}");
    assert_eq!(count(&c, "DeleteMethod"), 2, "{c:?}");

    // And then in sync: nothing left to prune, no write.
    assert_in_sync(d, &url, &["--prune"]).await;
}

/// `endpointConfiguration` drift is found by `diff` (exit 2, path named) and restored with
/// UpdateRestApi; a manifest without it (AWS's EDGE default) never changes; none of these, nor a
/// tags-only change, needs a deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endpoint_configuration_drift_is_restored_without_deployment() {
    let (_state, sb) = common::sandbox().await;
    let url = sb.endpoint_url();
    let apigw = aws_sdk_apigateway::Client::new(&sdk_conf(&url).await);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("regional.yaml"),
        format!(
            "{}---\n{}",
            rest_api_yaml(
                "regional",
                "Retain",
                "  endpointConfiguration:\n    types: [REGIONAL]\n  tags:\n    team: a\n"
            ),
            integration_yaml("reg-int", "{ref: regional}", "/go", "Retain", Some("prod"), 29000)
        ),
    )
    .unwrap();
    std::fs::write(d.join("default.yaml"), rest_api_yaml("default", "Retain", "")).unwrap();
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let apis = apigw.get_rest_apis().send().await.unwrap();
    let types = |name: &str| {
        apis.items()
            .iter()
            .find(|a| a.name() == Some(name))
            .and_then(|a| a.endpoint_configuration())
            .map(|e| {
                e.types()
                    .iter()
                    .map(|t| t.as_str().to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap()
    };
    assert_eq!(types("regional-live"), ["REGIONAL"]);
    assert_eq!(types("default-live"), ["EDGE"]);
    let id = apis
        .items()
        .iter()
        .find(|a| a.name() == Some("regional-live"))
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    common::reset_requests(&url).await;
    let out = common::run_binary_async(d, &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(0), "AWS's EDGE default makes no change");

    // Out of band: the endpoint type the way AWS patches it, and a tag.
    set_endpoint_type(&apigw, &id, "REGIONAL", "EDGE").await;
    apigw
        .tag_resource()
        .resource_arn(format!("arn:aws:apigateway:us-east-1::/restapis/{id}"))
        .tags("team", "b")
        .send()
        .await
        .unwrap();
    let out = common::run_binary_async(d, &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    let r = report(&out);
    let e = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "regional")
        .unwrap();
    let c = e["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "endpointConfiguration.types")
        .unwrap_or_else(|| panic!("{e}"));
    assert_eq!(
        (&c["before"], &c["after"]),
        (&serde_json::json!(["EDGE"]), &serde_json::json!(["REGIONAL"]))
    );
    assert!(paths(e).contains(&"tags.team".to_owned()), "{e}");

    common::reset_requests(&url).await;
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let c = counts(&url).await;
    assert_eq!(count(&c, "UpdateRestApi"), 1, "{c:?}");
    assert_eq!(count(&c, "TagResource"), 1, "{c:?}");
    assert_eq!(
        count(&c, "CreateDeployment"),
        0,
        "API-level changes need no deployment: {c:?}"
    );
    let out = common::run_binary_async(d, &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(0));
}

/// A renamed integration (same API, path and method) whose new manifest is skipped because a
/// dependency failed: pruning the old name removes only its stale record, never the method the
/// remaining manifest manages.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pruning_a_renamed_integration_keeps_the_method() {
    let (_state, sb) = common::sandbox().await;
    let url = sb.endpoint_url();
    let apigw = aws_sdk_apigateway::Client::new(&sdk_conf(&url).await);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("api.yaml"), rest_api_yaml("api", "Retain", "")).unwrap();
    std::fs::write(
        d.join("old.yaml"),
        integration_yaml("int-old", "{ref: api}", "/x", "Delete", Some("prod"), 29000),
    )
    .unwrap();
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let api_id = live_apis(&apigw).await["api-live"].0.clone();

    std::fs::remove_file(d.join("old.yaml")).unwrap();
    std::fs::write(d.join("broken.yaml"), machine_yaml("broken", "Retain")).unwrap();
    std::fs::write(
        d.join("new.yaml"),
        integration_yaml("int-new", "{ref: api}", "/x", "Delete", Some("prod"), 29000)
            + "  stateMachineRef: broken\n",
    )
    .unwrap();
    let faults = serde_json::json!({
        "errorCode": "AccessDeniedException",
        "operations": ["CreateStateMachine"],
        "match": "broken",
    });
    let r = reqwest::Client::new()
        .post(format!("{url}/_sandbox/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    common::reset_requests(&url).await;
    let out = common::run_binary_async(d, &url, &["reconcile", "--once", "--prune"]).await;
    assert_eq!(out.status.code(), Some(1), "the broken machine fails");
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
    assert_eq!(by_name("int-new")["status"], "Skipped", "{r}");
    let old = by_name("int-old");
    assert_eq!(
        (&old["action"], &old["status"]),
        (&"delete".into(), &"Synced".into()),
        "{old}"
    );
    assert!(
        old["message"]
            .as_str()
            .unwrap_or("")
            .contains("only the ownership record"),
        "{old}"
    );
    let c = counts(&url).await;
    assert_eq!(count(&c, "DeleteMethod"), 0, "{c:?}");
    assert_eq!(count(&c, "CreateDeployment"), 0, "{c:?}");
    assert_eq!(methods(&apigw, &api_id).await, ["POST /x"]);
    let tags = &live_apis(&apigw).await["api-live"].1;
    assert!(
        !tags
            .keys()
            .any(|k| k.starts_with("sfn-operator.dev/integration/")),
        "{tags:?}"
    );

    // Fixed: the new manifest takes the method over and records it.
    let r = reqwest::Client::new()
        .post(format!("{url}/_sandbox/faults"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let out = common::run_binary_async(d, &url, &["reconcile", "--once", "--prune"]).await;
    assert_eq!(out.status.code(), Some(0));
    let tags = &live_apis(&apigw).await["api-live"].1;
    assert_eq!(
        tags.get("sfn-operator.dev/integration/int-new")
            .map(String::as_str),
        Some("v1 POST /x Delete prod"),
        "{tags:?}"
    );
    assert_eq!(methods(&apigw, &api_id).await, ["POST /x"]);
    let out = common::run_binary_async(d, &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(0));
}

/// An integration whose manifest changes its path moves: the old method (ours, by its record) is
/// deleted, the new one created, the record rewritten, one deployment; `diff` names the move first.
/// An old method another manifest now manages is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_moved_integration_takes_its_old_method_away_unless_another_manifest_manages_it() {
    let (_state, sb) = common::sandbox().await;
    let url = sb.endpoint_url();
    let apigw = aws_sdk_apigateway::Client::new(&sdk_conf(&url).await);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, text: String| std::fs::write(d.join(name), text).unwrap();
    write("api.yaml", rest_api_yaml("api", "Retain", ""));
    write(
        "x.yaml",
        integration_yaml("x", "{ref: api}", "/a", "Retain", Some("prod"), 29000),
    );
    write(
        "y.yaml",
        integration_yaml("y", "{ref: api}", "/c", "Retain", Some("prod"), 29000),
    );
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let id = live_apis(&apigw).await["api-live"].0.clone();
    assert_eq!(methods(&apigw, &id).await, ["POST /a", "POST /c"]);
    let deployed = deployments(&apigw, &id).await;

    // x moves from /a to /b.
    write(
        "x.yaml",
        integration_yaml("x", "{ref: api}", "/b", "Retain", Some("prod"), 29000),
    );
    let out = common::run_binary_async(d, &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    let r = report(&out);
    let x = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "x")
        .unwrap();
    assert!(
        x["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == "method" && c["before"] == "POST /a" && c["after"] == "POST /b"),
        "{x}"
    );
    common::reset_requests(&url).await;
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(methods(&apigw, &id).await, ["POST /b", "POST /c"]);
    let c = counts(&url).await;
    assert_eq!(count(&c, "DeleteMethod"), 1, "{c:?}");
    assert_eq!(deployments(&apigw, &id).await, deployed + 1);
    let tags = live_apis(&apigw).await["api-live"].1.clone();
    assert_eq!(
        tags.get("sfn-operator.dev/integration/x").map(String::as_str),
        Some("v1 POST /b Retain prod")
    );
    assert_in_sync(d, &url, &[]).await;

    // x and y swap paths (x /b → /c, y /c → /b): each old method is now the other manifest's,
    // so nothing is deleted.
    write(
        "x.yaml",
        integration_yaml("x", "{ref: api}", "/c", "Retain", Some("prod"), 29000),
    );
    write(
        "y.yaml",
        integration_yaml("y", "{ref: api}", "/b", "Retain", Some("prod"), 29000),
    );
    common::reset_requests(&url).await;
    let out = common::run_binary_async(d, &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(count(&counts(&url).await, "DeleteMethod"), 0);
    assert_eq!(methods(&apigw, &id).await, ["POST /b", "POST /c"]);
    let out = common::run_binary_async(d, &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(0));
}
