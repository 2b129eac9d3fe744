//! The operator controls of SPEC §12, end to end through the binary against the sandbox: drift
//! policies (`Report` leaves drift in place, `Ignore` compares nothing), `ignoreDifferences`, and
//! the suspend annotation, on every kind, and `--notify` to a real local webhook receiver. The SDK
//! reads the live values back and `/_sandbox/requests` counts the calls.

use aws_sdk_apigateway::types::{Op, PatchOperation};
use common::{
    ManifestDir, Sandbox, drift_reference_system, entry, paths, report, run_binary_async, sdk_conf,
};
use serde_json::Value;

mod common;
#[path = "common/receiver.rs"]
mod receiver;

use receiver::Receiver;

const MACHINE_ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:ParallelProcessingMachine";

/// The reference system with extra spec lines (two-space indented YAML) in each document, and
/// `description: managed` on the REST API.
fn reference_with(extra_machine: &str, extra_api: &str, extra_integration: &str) -> ManifestDir {
    let dir = ManifestDir::new();
    common::write_reference_with(dir.path(), extra_machine, extra_api, extra_integration);
    dir
}

/// Every document with the same extra spec lines.
fn reference_all(extra: &str) -> ManifestDir {
    reference_with(extra, extra, extra)
}

struct Live {
    definition: String,
    role: String,
    description: String,
    credentials: String,
}

/// The live values the out-of-band edits touch, read with the SDK.
async fn read_live(conf: &aws_config::SdkConfig, api_id: &str) -> Live {
    let sfn = aws_sdk_sfn::Client::new(conf);
    let m = sfn
        .describe_state_machine()
        .state_machine_arn(MACHINE_ARN)
        .send()
        .await
        .unwrap();
    let apigw = aws_sdk_apigateway::Client::new(conf);
    let api = apigw.get_rest_api().rest_api_id(api_id).send().await.unwrap();
    let resources = apigw.get_resources().rest_api_id(api_id).send().await.unwrap();
    let res = resources
        .items()
        .iter()
        .find(|r| r.path() == Some("/execution"))
        .and_then(|r| r.id())
        .unwrap();
    let i = apigw
        .get_integration()
        .rest_api_id(api_id)
        .resource_id(res)
        .http_method("POST")
        .send()
        .await
        .unwrap();
    Live {
        definition: m.definition().to_owned(),
        role: m.role_arn().to_owned(),
        description: api.description().unwrap_or_default().to_owned(),
        credentials: i.credentials().unwrap_or_default().to_owned(),
    }
}

/// Creates the system, then edits it out of band: the machine's definition and role, the API's
/// description, the integration's credentials and template. The REST API's id, and the
/// definition path the edit changed.
async fn create_and_drift(sandbox: &Sandbox, dir: &ManifestDir) -> (aws_config::SdkConfig, String, String) {
    let url = sandbox.url();
    let out = run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    for kind in ["StateMachine", "RestApi", "ApiIntegration"] {
        assert_eq!(
            entry(&r, kind)["action"],
            "create",
            "a missing resource is created: {r}"
        );
    }
    let conf = sdk_conf(&url).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let apis = apigw.get_rest_apis().send().await.unwrap();
    let api_id = apis.items()[0].id().unwrap().to_owned();
    let path = drift_reference_system(&conf, &api_id, "team", "x").await;
    apigw
        .update_rest_api()
        .rest_api_id(&api_id)
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/description")
                .value("edited in the console")
                .build(),
        )
        .send()
        .await
        .unwrap();
    (conf, api_id, path)
}

/// The report's entries, by kind, in a pass of `args`.
async fn pass(sandbox: &Sandbox, dir: &ManifestDir, args: &[&str], code: i32) -> Value {
    let out = run_binary_async(dir.path(), &sandbox.url(), args).await;
    assert_eq!(out.status.code(), Some(code));
    report(&out)
}

fn assert_drift_left(live: &Live) {
    assert!(live.definition.contains("$.wrong"), "{}", live.definition);
    assert_eq!(live.role, "arn:aws:iam::123456789012:role/Other");
    assert_eq!(live.description, "edited in the console");
    assert_eq!(live.credentials, "arn:aws:iam::123456789012:role/Other");
}

#[tokio::test(flavor = "multi_thread")]
async fn report_finds_drift_on_every_kind_leaves_it_and_removing_it_reverts_the_drift() {
    let sandbox = Sandbox::start().await;
    let dir = reference_all("  driftPolicy: Report\n");
    let (conf, api_id, def_path) = create_and_drift(&sandbox, &dir).await;

    sandbox.reset().await;
    let r = pass(&sandbox, &dir, &["reconcile", "--once"], 0).await;
    for kind in ["StateMachine", "RestApi", "ApiIntegration"] {
        let e = entry(&r, kind);
        assert_eq!(e["status"], "Drifted", "{e}");
        assert_eq!(e["action"], "update", "{e}");
    }
    let sm = paths(entry(&r, "StateMachine"));
    assert!(
        sm.contains(&def_path) && sm.contains(&"roleArn".to_owned()),
        "{sm:?}"
    );
    assert_eq!(paths(entry(&r, "RestApi")), ["description"]);
    let ip = paths(entry(&r, "ApiIntegration"));
    assert!(ip.contains(&"integration.credentials".to_owned()), "{ip:?}");
    assert_eq!(r["summary"]["drifted"], 3, "{r}");
    let requests = sandbox.requests().await;
    assert_eq!(requests.writes(), 0, "Report never writes: {:?}", requests.0);
    assert_drift_left(&read_live(&conf, &api_id).await);

    // diff: what reconcile would do, which is nothing; the drift is still shown.
    let r = pass(&sandbox, &dir, &["diff"], 0).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Drifted");

    // Without the policy the next pass puts the manifests back.
    let dir = reference_all("");
    sandbox.reset().await;
    let r = pass(&sandbox, &dir, &["reconcile", "--once"], 0).await;
    for kind in ["StateMachine", "RestApi", "ApiIntegration"] {
        let e = entry(&r, kind);
        assert_eq!(
            (e["status"].as_str(), e["action"].as_str()),
            (Some("Synced"), Some("update")),
            "{e}"
        );
    }
    let live = read_live(&conf, &api_id).await;
    assert!(!live.definition.contains("$.wrong"));
    assert_eq!(live.description, "managed");
    assert_eq!(
        live.credentials,
        "arn:aws:iam::123456789012:role/IntegrationIamRole"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ignore_compares_nothing_and_writes_nothing_across_three_passes() {
    let sandbox = Sandbox::start().await;
    let dir = reference_all("  driftPolicy: Ignore\n");
    let (conf, api_id, _) = create_and_drift(&sandbox, &dir).await;
    sandbox.reset().await;
    for _ in 0..3 {
        let r = pass(&sandbox, &dir, &["reconcile", "--once"], 0).await;
        for kind in ["StateMachine", "RestApi", "ApiIntegration"] {
            let e = entry(&r, kind);
            assert_eq!(
                (e["status"].as_str(), e["action"].as_str()),
                (Some("Synced"), Some("noop")),
                "{e}"
            );
            assert!(paths(e).is_empty(), "{e}");
        }
    }
    let requests = sandbox.requests().await;
    assert_eq!(requests.writes(), 0, "{:?}", requests.0);
    assert_drift_left(&read_live(&conf, &api_id).await);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ignored_paths_are_neither_reported_nor_written_and_other_changes_keep_them() {
    let sandbox = Sandbox::start().await;
    let (conf, api_id, def_path) = create_and_drift(&sandbox, &reference_all("")).await;
    let machine_ignores = format!(
        "  ignoreDifferences: ['{}', roleArn]\n",
        def_path.replace('\'', "''")
    );
    let dir = reference_with(
        &machine_ignores,
        "  ignoreDifferences: [description]\n",
        "  ignoreDifferences: [integration.credentials, integration.requestTemplates.*, responses.*]\n",
    );
    sandbox.reset().await;
    for _ in 0..3 {
        let r = pass(&sandbox, &dir, &["reconcile", "--once"], 0).await;
        for kind in ["StateMachine", "RestApi", "ApiIntegration"] {
            let e = entry(&r, kind);
            assert_eq!(
                (e["status"].as_str(), e["action"].as_str()),
                (Some("Synced"), Some("noop")),
                "{e}"
            );
        }
    }
    let requests = sandbox.requests().await;
    assert_eq!(requests.writes(), 0, "{:?}", requests.0);
    assert_drift_left(&read_live(&conf, &api_id).await);

    // A change the manifest does make is written, and the ignored fields keep their live values.
    let dir = reference_with(
        &format!("{machine_ignores}  tracingConfiguration: {{enabled: true}}\n"),
        "  ignoreDifferences: [description]\n",
        "  ignoreDifferences: [integration.credentials, integration.requestTemplates.*, responses.*]\n  authorizationType: AWS_IAM\n",
    );
    let r = pass(&sandbox, &dir, &["reconcile", "--once"], 0).await;
    assert_eq!(paths(entry(&r, "StateMachine")), ["tracingConfiguration.enabled"]);
    assert_eq!(paths(entry(&r, "ApiIntegration"))[0], "authorizationType");
    assert_drift_left(&read_live(&conf, &api_id).await);
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let m = sfn
        .describe_state_machine()
        .state_machine_arn(MACHINE_ARN)
        .send()
        .await
        .unwrap();
    assert_eq!(m.tracing_configuration().map(|t| t.enabled()), Some(true));
    sandbox.shutdown().await;
}

#[test]
fn bad_controls_are_named_at_their_place_and_nothing_is_written() {
    let dir = reference_with(
        "  driftPolicy: Sometimes\n  ignoreDifferences: [definition.States.A, endpointConfiguration.types]\n",
        "  ignoreDifferences: ['*']\n",
        "",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .arg("validate")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let file = dir.path().join("state-machine.yaml");
    let api = dir.path().join("api.yaml");
    for line in [
        format!(
            "{}:7:16: spec.driftPolicy: \"Sometimes\" is not one of Correct, Report, Ignore",
            file.display()
        ),
        format!(
            "{}:8:44: spec.ignoreDifferences: \"endpointConfiguration.types\" can never match a change of a \
             StateMachine (its change paths start with type, roleArn, definition, loggingConfiguration, \
             tracingConfiguration, encryptionConfiguration, tags)",
            file.display()
        ),
        format!(
            "{}:8:23: spec.ignoreDifferences: \"*\" would ignore every field; use `driftPolicy: Ignore` instead",
            api.display()
        ),
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "expected\n  {line}\nin\n{stderr}"
        );
    }
}

/// `reconcile --once ARGS` on `dir` against `url`, with `-vv` logs (not `-q`, as `run_binary`).
async fn once_verbose(dir: &ManifestDir, url: &str, args: &[&str]) -> std::process::Output {
    let dir_path = dir.path().to_owned();
    let mut all: Vec<String> = vec![
        "reconcile".into(),
        "--once".into(),
        "-vv".into(),
        "-o".into(),
        "json".into(),
    ];
    all.extend(["--endpoint-url", url, "--region", "us-east-1"].map(String::from));
    all.extend(args.iter().map(|s| (*s).to_owned()));
    all.push(dir_path.display().to_string());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        common::run_clean(
            &dir_path,
            &args,
            &[("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")],
            std::time::Duration::from_secs(120),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_found_is_posted_once_per_resource_in_order_through_a_failing_receiver_and_the_url_never_logged()
 {
    let sandbox = Sandbox::start().await;
    let dir = reference_all("  driftPolicy: Report\n");
    let (_conf, _api_id, def_path) = create_and_drift(&sandbox, &dir).await;

    // 500 to the first three requests, then 200: every event arrives once, in the report's order
    // (manifest order: api.yaml, then state-machine.yaml).
    let receiver = Receiver::start(3).await;
    let url = format!("{}/services/T0000/B0000/SECRETTOKEN", receiver.url);
    let out = once_verbose(&dir, &sandbox.url(), &["--notify", &url]).await;
    assert_eq!(out.status.code(), Some(0));
    let delivered = receiver.delivered();
    let resources: Vec<&str> = delivered.iter().filter_map(|e| e["resource"].as_str()).collect();
    assert_eq!(
        resources,
        [
            "RestApi/state-machine-api",
            "ApiIntegration/start-execution",
            "StateMachine/parallel-processing"
        ],
        "{delivered:?}"
    );
    assert_eq!(receiver.failed(), 3);
    for e in &delivered {
        assert_eq!(e["type"], "drift_found", "{e}");
        assert_eq!(e["owner"], "default");
    }
    let machine_paths: Vec<&str> = delivered[2]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(machine_paths.contains(&def_path.as_str()), "{machine_paths:?}");
    for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(text);
        assert!(!text.contains("SECRETTOKEN"), "the URL's token is in {what}");
    }

    // A Slack-shaped payload: `text` and nothing else.
    let slack = Receiver::start(0).await;
    let out = once_verbose(
        &dir,
        &sandbox.url(),
        &["--notify", &slack.url, "--notify-format", "slack"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let bodies = slack.delivered();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    for b in &bodies {
        let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["text"], "{b}");
        assert!(b["text"].as_str().unwrap().contains("drifted"), "{b}");
    }
    sandbox.shutdown().await;
}

#[test]
fn a_malformed_notify_url_is_refused_without_showing_it() {
    let dir = ManifestDir::reference();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args([
            "reconcile",
            "--once",
            "--sandbox",
            "--notify",
            "not a url SECRETTOKEN",
        ])
        .arg(dir.path())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("--notify: URL #1 is not an http or https URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRETTOKEN"), "{stderr}");
}

/// The reference system with `extra` in every spec and `sfn-operator.dev/suspend: "true"` on the
/// documents named.
fn suspended(extra: &str, names: &[&str]) -> ManifestDir {
    let dir = reference_all(extra);
    common::suspend_in(dir.path(), names);
    dir
}

const ALL: [&str; 3] = ["parallel-processing", "state-machine-api", "start-execution"];

#[tokio::test(flavor = "multi_thread")]
async fn suspended_resources_of_every_kind_get_no_call_are_never_pruned_and_hold_no_dependant_back() {
    let sandbox = Sandbox::start().await;
    let delete = "  deletionPolicy: Delete\n";
    let (conf, api_id, _) = create_and_drift(&sandbox, &reference_all(delete)).await;

    // Everything suspended, pruning on: no call for any resource, nothing written or deleted.
    let dir = suspended(delete, &ALL);
    sandbox.reset().await;
    let r = pass(&sandbox, &dir, &["reconcile", "--once", "--prune"], 0).await;
    for kind in ["StateMachine", "RestApi", "ApiIntegration"] {
        let e = entry(&r, kind);
        assert_eq!(
            (e["status"].as_str(), e["health"].as_str()),
            (Some("Suspended"), Some("Suspended")),
            "{e}"
        );
    }
    assert_eq!(r["summary"]["suspended"], 3, "{r}");
    let requests = sandbox.requests().await;
    assert_eq!(requests.writes(), 0, "{:?}", requests.0);
    let sfn_calls: u64 = requests.0["sfn"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
    assert_eq!(sfn_calls, 0, "no Step Functions call: {:?}", requests.0);
    let api_calls: Vec<&String> = requests.0["apigateway"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, v)| *k != "GetRestApis" && v.as_u64() > Some(0))
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();
    assert!(
        api_calls.is_empty(),
        "only the pass's listing of REST APIs: {:?}",
        requests.0
    );
    assert_drift_left(&read_live(&conf, &api_id).await);
    let r = pass(&sandbox, &dir, &["diff", "--prune"], 0).await;
    assert_eq!(entry(&r, "StateMachine")["status"], "Suspended");

    // The machine and the API suspended: the integration that depends on both is reconciled.
    let dir = suspended(delete, &ALL[..2]);
    let r = pass(&sandbox, &dir, &["reconcile", "--once", "--prune"], 0).await;
    let e = entry(&r, "ApiIntegration");
    assert_eq!(
        (e["status"].as_str(), e["action"].as_str()),
        (Some("Synced"), Some("update")),
        "{e}"
    );
    let live = read_live(&conf, &api_id).await;
    assert_eq!(
        live.credentials,
        "arn:aws:iam::123456789012:role/IntegrationIamRole"
    );
    assert!(
        live.definition.contains("$.wrong"),
        "the suspended machine keeps its drift"
    );
    assert_eq!(live.description, "edited in the console");
    sandbox.shutdown().await;
}
