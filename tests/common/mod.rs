//! The harness shared by the integration tests: the peers (moto server, the AWS CLI,
//! kubernetes-validate), running the real binary against an endpoint and reading its JSON report,
//! and SDK clients for out-of-band changes.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Runs `sfn-operator ARGS DIR` against `url` with test credentials and a JSON report; the output
/// is echoed to stderr for failing tests.
pub fn run_binary(dir: &Path, url: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args(args)
        .arg(dir)
        .args(["--endpoint-url", url, "--region", "us-east-1", "-o", "json", "-q"])
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

/// Runs the binary in `cwd` with a clean environment (no credentials anywhere: HOME is `cwd`,
/// instance metadata disabled, region `us-east-1`) plus `env`, killing it and failing the test if
/// it still runs after `limit` (so a wait that should not happen fails instead of hanging).
pub fn run_clean(cwd: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sfn-operator"));
    c.current_dir(cwd)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "{args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A sandbox in this process with its state in a temporary file (kept while the `TempDir` lives).
pub async fn sandbox() -> (tempfile::TempDir, sfn_operator::sandbox::SandboxHandle) {
    let state = tempfile::tempdir().unwrap();
    let h = sfn_operator::sandbox::start(sfn_operator::sandbox::SandboxConfig {
        state_file: Some(state.path().join("s.json")),
        ..Default::default()
    })
    .await
    .unwrap();
    (state, h)
}

/// An in-process sandbox (state in a temporary file) and its `/_sandbox/*` routes.
pub struct Sandbox {
    _state: tempfile::TempDir,
    handle: sfn_operator::sandbox::SandboxHandle,
}

impl Sandbox {
    /// Starts a sandbox with fresh state.
    pub async fn start() -> Sandbox {
        let (state, handle) = sandbox().await;
        Sandbox {
            _state: state,
            handle,
        }
    }

    /// Starts a sandbox with fresh state and the Lambda stand-ins of `functions` (the YAML of
    /// `--functions`).
    pub async fn with_functions(functions: &str) -> Sandbox {
        let state = tempfile::tempdir().unwrap();
        let handle = sfn_operator::sandbox::start(sfn_operator::sandbox::SandboxConfig {
            state_file: Some(state.path().join("s.json")),
            functions: sfn_operator::standins::Functions::parse(functions)
                .unwrap_or_else(|e| panic!("stand-ins: {e}")),
            ..Default::default()
        })
        .await
        .unwrap();
        Sandbox {
            _state: state,
            handle,
        }
    }

    /// The endpoint URL (`--endpoint-url`).
    pub fn url(&self) -> String {
        self.handle.endpoint_url()
    }

    /// The calls counted since the last [`Sandbox::reset`] (`GET /_sandbox/requests`).
    pub async fn requests(&self) -> Requests {
        Requests(requests_json(&self.url()).await)
    }

    /// Zeroes the request counts.
    pub async fn reset(&self) {
        reset_requests(&self.url()).await
    }

    /// Sets the injected faults (`POST /_sandbox/faults`; `{}` turns them off).
    pub async fn faults(&self, faults: Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/_sandbox/faults", self.url()))
            .json(&faults)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.status().is_success(), "faults: {}", r.status());
    }

    pub async fn shutdown(self) {
        self.handle.shutdown().await
    }
}

/// A snapshot of `GET /_sandbox/requests`.
#[derive(Debug, Clone)]
pub struct Requests(pub Value);

impl Requests {
    /// Calls of `operation`, in whichever service answers it.
    pub fn count(&self, operation: &str) -> u64 {
        ["sfn", "apigateway", "sts", "tagging"]
            .iter()
            .filter_map(|s| self.0[s][operation].as_u64())
            .sum()
    }

    /// Write calls, all services together.
    pub fn writes(&self) -> u64 {
        self.0["writes"].as_u64().unwrap_or(0)
    }

    /// Throttles and 5xx the sandbox injected.
    pub fn injected(&self) -> u64 {
        let f = &self.0["injectedFaults"];
        ["throttle", "error", "errorCode", "lost"]
            .iter()
            .filter_map(|k| f[k].as_u64())
            .sum()
    }
}

/// The execution `arn` as `/_sandbox/executions` lists it, once it has ended.
pub async fn finished(url: &str, arn: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all: Value = reqwest::get(format!("{url}/_sandbox/executions"))
            .await
            .expect("GET /_sandbox/executions")
            .json()
            .await
            .expect("JSON");
        let found = all["executions"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["executionArn"] == arn))
            .cloned();
        if let Some(e) = found.filter(|e| e["status"] != "RUNNING") {
            return e;
        }
        assert!(Instant::now() < deadline, "{arn} did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET /_sandbox/requests` of the sandbox at `url`.
pub async fn requests_json(url: &str) -> Value {
    reqwest::get(format!("{url}/_sandbox/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A temporary manifests directory, written file by file.
pub struct ManifestDir {
    dir: tempfile::TempDir,
}

impl ManifestDir {
    pub fn new() -> ManifestDir {
        ManifestDir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The reference system: `manifests/`'s state machine, its definition and the API.
    pub fn reference() -> ManifestDir {
        let d = ManifestDir::new();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
        for f in ["state-machine.yaml", "parallel-processing.asl.yaml", "api.yaml"] {
            std::fs::copy(root.join(f), d.path().join(f)).unwrap();
        }
        d
    }

    /// Writes `text` to `name` (parent directories made).
    pub fn write(&self, name: &str, text: &str) -> &ManifestDir {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Writes `text` to `path` the way editors save: a temporary file beside it, then a rename (a
/// daemon watching the directory never reads half a file).
pub fn rename_save(path: &Path, text: &str) {
    let tmp = path.with_extension("yaml.tmp~");
    std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Writes the reference system of `manifests/` (the state machine, its definition, the REST API
/// with `description: managed`, the integration) into `dir`, with `machine`, `api` and
/// `integration` (spec lines, two-space indented) added to the spec of each document. Each file
/// is replaced by a rename.
pub fn write_reference_with(dir: &Path, machine: &str, api: &str, integration: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    let read = |f: &str| std::fs::read_to_string(root.join(f)).unwrap();
    let with = |text: &str, extra: &str| text.replacen("spec:\n", &format!("spec:\n{extra}"), 1);
    rename_save(
        &dir.join("parallel-processing.asl.yaml"),
        &read("parallel-processing.asl.yaml"),
    );
    rename_save(
        &dir.join("state-machine.yaml"),
        &with(&read("state-machine.yaml"), machine),
    );
    let text = read("api.yaml");
    let (rest_api, rest) = text.split_once("---\n").unwrap();
    rename_save(
        &dir.join("api.yaml"),
        &format!(
            "{}---\n{}",
            with(rest_api, &format!("  description: managed\n{api}")),
            with(rest, integration)
        ),
    );
}

/// Adds `sfn-operator.dev/suspend: "true"` to the documents named (`metadata.name`) in the
/// reference system's files in `dir`.
pub fn suspend_in(dir: &Path, names: &[&str]) {
    for file in ["state-machine.yaml", "api.yaml"] {
        let path = dir.join(file);
        let mut text = std::fs::read_to_string(&path).unwrap();
        for name in names {
            text = text.replace(
                &format!("  name: {name}\n"),
                &format!("  name: {name}\n  annotations:\n    sfn-operator.dev/suspend: \"true\"\n"),
            );
        }
        rename_save(&path, &text);
    }
}

/// [`run_binary`] off the async threads, for tokio tests.
pub async fn run_binary_async(dir: &Path, url: &str, args: &[&str]) -> Output {
    let (dir, url) = (dir.to_owned(), url.to_owned());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(&dir, &url, &args)
    })
    .await
    .unwrap()
}

/// The JSON report on stdout.
pub fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("JSON report on stdout")
}

/// The first report entry of `kind`.
pub fn entry<'a>(r: &'a Value, kind: &str) -> &'a Value {
    r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {r}"))
}

/// The changed paths of a report entry.
pub fn paths(e: &Value) -> Vec<String> {
    e["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_owned())
        .collect()
}

/// SDK configuration for out-of-band changes at `url`.
/// Zeroes the sandbox's `/_sandbox/requests` counts.
pub async fn reset_requests(url: &str) {
    let r = reqwest::Client::new()
        .post(format!("{url}/_sandbox/requests/reset"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success());
}

pub async fn sdk_conf(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

/// The "METHOD path" pairs of an API.
pub async fn methods(apigw: &aws_sdk_apigateway::Client, api: &str) -> Vec<String> {
    let r = apigw
        .get_resources()
        .rest_api_id(api)
        .embed("methods")
        .send()
        .await
        .unwrap();
    let mut out: Vec<String> = r
        .items()
        .iter()
        .flat_map(|r| {
            r.resource_methods()
                .into_iter()
                .flatten()
                .map(|(m, _)| format!("{m} {}", r.path().unwrap_or("")))
        })
        .collect();
    out.sort();
    out
}

/// Out of band: replaces endpoint type `from` with `to` on REST API `id`, the way AWS patches it.
pub async fn set_endpoint_type(apigw: &aws_sdk_apigateway::Client, id: &str, from: &str, to: &str) {
    apigw
        .update_rest_api()
        .rest_api_id(id)
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path(format!("/endpointConfiguration/types/{from}"))
                .value(to)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Out of band, on the reference system of `manifests/`: changes the state machine's definition (one
/// `ResultSelector`), its role and its tag `key` (to `value`), and the `POST /execution` integration's
/// credentials and request template on REST API `api_id`. Returns the definition path changed.
pub async fn drift_reference_system(
    conf: &aws_config::SdkConfig,
    api_id: &str,
    key: &str,
    value: &str,
) -> String {
    let sfn = aws_sdk_sfn::Client::new(conf);
    let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:ParallelProcessingMachine";
    let live = sfn
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
        .unwrap();
    let mut def: Value = serde_json::from_str(live.definition()).unwrap();
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
        .tags(aws_sdk_sfn::types::Tag::builder().key(key).value(value).build())
        .send()
        .await
        .unwrap();

    let apigw = aws_sdk_apigateway::Client::new(conf);
    let resources = apigw.get_resources().rest_api_id(api_id).send().await.unwrap();
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
        .rest_api_id(api_id)
        .resource_id(&res_id)
        .http_method("POST")
        .send()
        .await
        .unwrap();
    apigw
        .put_integration()
        .rest_api_id(api_id)
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
    format!("definition.States.{start}.Branches[0].States.SumValues.ResultSelector[\"sum.$\"]")
}

/// A program of the peers virtualenv: `$SFN_OPERATOR_PEERS_VENV/bin/NAME`, else the `.venv-peers`
/// that `scripts/test.sh` creates in the repository. Fails (never skips) when it is missing.
pub fn peers_bin(name: &str) -> PathBuf {
    let venv = std::env::var_os("SFN_OPERATOR_PEERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-peers"));
    let bin = venv.join("bin").join(name);
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test.sh to create the peers venv",
        bin.display()
    );
    bin
}

/// Runs the AWS CLI of the peers venv against `url` (test credentials, `us-east-1`, no retries):
/// its JSON answer, or its stderr when it failed.
pub fn aws_cli(url: &str, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(peers_bin("aws"))
        .args(["--endpoint-url", url, "--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
}

/// moto server on a free port, killed on drop.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto server and waits (up to 60 s) until it answers.
pub async fn start_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let child = Command::new(peers_bin("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("{}/moto-api/", moto.url)).await
            && r.status().is_success()
        {
            return moto;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
