//! create → in sync → drift → restore against moto server, an independent implementation of the
//! AWS APIs, driving the real binary. Needs `$SFN_OPERATOR_PEERS_VENV/bin/moto_server` (fails if
//! missing). Only the state machine is exercised here: REST API reconciliation is not in this build.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Moto {
    let venv = std::env::var("SFN_OPERATOR_PEERS_VENV")
        .expect("SFN_OPERATOR_PEERS_VENV must point at the peers venv");
    let bin = PathBuf::from(venv).join("bin/moto_server");
    assert!(bin.exists(), "moto_server missing at {}", bin.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start moto_server");
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: x\r\n\r\n");
            let mut buf = [0u8; 16];
            if s.read(&mut buf)
                .map(|n| buf[..n].starts_with(b"HTTP/1.0 200") || buf[..n].starts_with(b"HTTP/1.1 200"))
                .unwrap_or(false)
            {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { child, url }
}

fn run(dir: &Path, url: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args(args)
        .arg(dir)
        .args(["--endpoint-url", url, "--region", "us-east-1", "-o", "json"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run sfn-operator");
    eprintln!(
        "{args:?} stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("JSON report on stdout")
}

fn paths(report: &serde_json::Value, i: usize) -> Vec<String> {
    report["resources"][i]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_owned())
        .collect()
}

fn entry<'a>(report: &'a serde_json::Value, kind: &str) -> (usize, &'a serde_json::Value) {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find(|(_, r)| r["kind"] == kind)
        .expect("resource in report")
}

#[tokio::test(flavor = "multi_thread")]
async fn create_in_sync_drift_restore_against_moto() {
    let moto = start_moto();
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
    let api_id = entry(&r, "RestApi").1["id"].as_str().unwrap().to_owned();

    // In sync.
    let out = run(dir.path(), &moto.url, &["diff"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(report(&out)["summary"]["noop"], 3);

    // Out-of-band changes with the SDK.
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:ParallelProcessingMachine";
    let live = sfn
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
        .unwrap();
    let mut def: serde_json::Value = serde_json::from_str(live.definition()).unwrap();
    let start = def["StartAt"].as_str().unwrap().to_owned();
    def["States"][&start]["Branches"][0]["States"]["SumValues"]["ResultSelector"] =
        serde_json::json!({"sum.$": "$.wrong"});
    sfn.update_state_machine()
        .state_machine_arn(arn)
        .definition(def.to_string())
        .role_arn("arn:aws:iam::123456789012:role/Other")
        .send()
        .await
        .unwrap();
    sfn.tag_resource()
        .resource_arn(arn)
        .tags(
            aws_sdk_sfn::types::Tag::builder()
                .key("sfn-operator.dev/deletion-policy")
                .value("Delete")
                .build(),
        )
        .send()
        .await
        .unwrap();

    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let resources = apigw.get_resources().rest_api_id(&api_id).send().await.unwrap();
    let res_id = resources
        .items()
        .iter()
        .find(|r| r.path() == Some("/execution"))
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let integration = apigw
        .get_integration()
        .rest_api_id(&api_id)
        .resource_id(&res_id)
        .http_method("POST")
        .send()
        .await
        .unwrap();
    apigw
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(&res_id)
        .http_method("POST")
        .r#type(aws_sdk_apigateway::types::IntegrationType::Aws)
        .uri(integration.uri().unwrap())
        .integration_http_method("POST")
        .credentials("arn:aws:iam::123456789012:role/Other")
        .request_templates("application/json", "{}")
        .send()
        .await
        .unwrap();

    let out = run(dir.path(), &moto.url, &["diff"]);
    assert_eq!(out.status.code(), Some(2));
    let r = report(&out);
    let (i, sm) = entry(&r, "StateMachine");
    assert_eq!(sm["status"], "Pending");
    let (ii, _) = entry(&r, "ApiIntegration");
    let ip = paths(&r, ii);
    assert!(ip.contains(&"integration.credentials".to_owned()), "{ip:?}");
    assert!(
        ip.contains(&"integration.requestTemplates[\"application/json\"]".to_owned()),
        "{ip:?}"
    );
    let p = paths(&r, i);
    assert!(p.contains(&"roleArn".to_owned()), "{p:?}");
    assert!(
        p.contains(&format!(
            "definition.States.{start}.Branches[0].States.SumValues.ResultSelector[\"sum.$\"]"
        )),
        "{p:?}"
    );
    assert!(
        p.contains(&"tags[\"sfn-operator.dev/deletion-policy\"]".to_owned()),
        "{p:?}"
    );

    // Restore, then in sync again.
    let out = run(dir.path(), &moto.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    assert_eq!(entry(&r, "StateMachine").1["action"], "update");
    assert_eq!(entry(&r, "ApiIntegration").1["action"], "update");
    let out = run(dir.path(), &moto.url, &["diff"]);
    assert_eq!(out.status.code(), Some(0));
}
