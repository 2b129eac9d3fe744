//! Issue 10, points 1 and 2 (SPEC §3, §5): pruning never deletes by accident.
//! - Two operator instances (`--owner-id`, `SFN_OPERATOR_OWNER_ID`) in one account never prune,
//!   update or adopt each other's resources; a same-named resource of the other fails, naming it.
//! - Manifests that vanish (an emptied directory, a ConfigMap that kubelet empties, a git-sync link
//!   swapped to an empty commit) hold the prune back: said in the report and in `/status`, and
//!   `reconcile --once --prune` exits 1; `--allow-empty` lets it go ahead.
//!
//! For `--once` and the daemon, against the sandbox, read back with the AWS SDK.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sfn_operator::sandbox::{SandboxConfig, SandboxHandle, start};

mod common;

const ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsIamRole";

fn machine(name: &str, live_name: &str, policy: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: {name}\nspec:\n  name: {live_name}\n  roleArn: {ROLE}\n  deletionPolicy: {policy}\n  definition:\n    StartAt: A\n    States:\n      A: {{Type: Pass, End: true}}\n"
    )
}

fn rest_api(name: &str, live_name: &str, policy: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: RestApi\nmetadata:\n  name: {name}\nspec:\n  name: {live_name}\n  deletionPolicy: {policy}\n"
    )
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// Runs the binary on `paths` in `cwd` against `url`; `env` adds variables. Output echoed.
async fn run(cwd: &Path, url: &str, args: &[&str], paths: &[&Path], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sfn-operator"));
    c.current_dir(cwd)
        .args(args)
        .args(paths)
        .args(["--endpoint-url", url, "--region", "us-east-1", "-o", "json", "-q"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("SFN_OPERATOR_OWNER_ID");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    eprintln!(
        "{args:?} {paths:?} {env:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON report: {e}"))
}

fn deletes(r: &Value) -> Vec<String> {
    let mut v: Vec<String> = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "delete")
        .map(|e| format!("{}/{}", e["kind"].as_str().unwrap(), e["name"].as_str().unwrap()))
        .collect();
    v.sort();
    v
}

struct Live {
    _state: tempfile::TempDir,
    sandbox: SandboxHandle,
    sfn: aws_sdk_sfn::Client,
    apigw: aws_sdk_apigateway::Client,
}

impl Live {
    async fn start() -> Live {
        let state = tempfile::tempdir().unwrap();
        let sandbox = start(SandboxConfig {
            state_file: Some(state.path().join("s.json")),
            ..Default::default()
        })
        .await
        .unwrap();
        let conf = common::sdk_conf(&sandbox.endpoint_url()).await;
        Live {
            _state: state,
            sfn: aws_sdk_sfn::Client::new(&conf),
            apigw: aws_sdk_apigateway::Client::new(&conf),
            sandbox,
        }
    }

    fn url(&self) -> String {
        self.sandbox.endpoint_url()
    }

    /// Live state machines: name → tags.
    async fn machines(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let l = self.sfn.list_state_machines().send().await.unwrap();
        for m in l.state_machines() {
            let t = self
                .sfn
                .list_tags_for_resource()
                .resource_arn(m.state_machine_arn())
                .send()
                .await
                .unwrap();
            let tags = t
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or("").to_owned(),
                        t.value().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            out.insert(m.name().to_owned(), tags);
        }
        out
    }

    async fn machine_names(&self) -> Vec<String> {
        self.machines().await.into_keys().collect()
    }

    /// Live REST APIs: (name, owner tag).
    async fn apis(&self) -> Vec<(String, Option<String>)> {
        let l = self.apigw.get_rest_apis().send().await.unwrap();
        let mut v: Vec<(String, Option<String>)> = l
            .items()
            .iter()
            .map(|a| {
                (
                    a.name().unwrap_or("").to_owned(),
                    a.tags().and_then(|t| t.get("sfn-operator.dev/owner").cloned()),
                )
            })
            .collect();
        v.sort();
        v
    }
}

/// Point 2: two owner ids in one account. Each instance tags what it makes with its id; `--prune`
/// in one never deletes the other's `Delete` resources (nor those of `default`, which old
/// resources without an owner tag belong to); a same-named machine or API of the other instance
/// fails the manifest, naming the owner, and is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_owner_ids_never_prune_or_touch_each_other() {
    let live = Live::start().await;
    let url = live.url();
    let work = tempfile::tempdir().unwrap();
    let (prod, staging, plain) = (
        work.path().join("prod"),
        work.path().join("staging"),
        work.path().join("plain"),
    );
    write(&prod.join("m.yaml"), &machine("orders", "ProdOrders", "Delete"));
    write(&prod.join("api.yaml"), &rest_api("api", "orders-api", "Delete"));
    write(
        &staging.join("m.yaml"),
        &machine("orders", "StagingOrders", "Delete"),
    );
    write(&plain.join("m.yaml"), &machine("legacy", "Legacy", "Delete"));

    let out = run(
        work.path(),
        &url,
        &["reconcile", "--once", "--owner-id", "prod"],
        &[&prod],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    // The environment variable works as the flag does.
    let out = run(
        work.path(),
        &url,
        &["reconcile", "--once"],
        &[&staging],
        &[("SFN_OPERATOR_OWNER_ID", "staging")],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let out = run(work.path(), &url, &["reconcile", "--once"], &[&plain], &[]).await;
    assert_eq!(out.status.code(), Some(0));
    let tags = live.machines().await;
    let owner = |m: &str| tags[m].get("sfn-operator.dev/owner").cloned();
    assert_eq!(owner("ProdOrders").as_deref(), Some("prod"));
    assert_eq!(owner("StagingOrders").as_deref(), Some("staging"));
    assert_eq!(owner("Legacy").as_deref(), Some("default"));
    assert_eq!(
        live.apis().await,
        [("orders-api".to_owned(), Some("prod".to_owned()))]
    );

    // A resource from before the owner tag existed belongs to `default`: strip the tag by hand.
    let legacy_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:Legacy";
    live.sfn
        .untag_resource()
        .resource_arn(legacy_arn)
        .tag_keys("sfn-operator.dev/owner")
        .send()
        .await
        .unwrap();

    // Staging's manifest set changes: its machine goes, a same-named API and machine of prod's
    // appear. --prune deletes staging's own machine only.
    std::fs::remove_file(staging.join("m.yaml")).unwrap();
    write(
        &staging.join("api.yaml"),
        &rest_api("api", "orders-api", "Delete"),
    );
    write(
        &staging.join("clash.yaml"),
        &machine("clash", "ProdOrders", "Delete"),
    );
    let out = run(
        work.path(),
        &url,
        &["reconcile", "--once", "--prune", "--owner-id", "staging"],
        &[&staging],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "the clashing manifests fail");
    let r = report(&out);
    assert_eq!(deletes(&r), ["StateMachine/orders"], "{r}");
    for (kind, name) in [("RestApi", "api"), ("StateMachine", "clash")] {
        let e = r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind && e["name"] == name)
            .unwrap_or_else(|| panic!("{kind}/{name} in {r}"));
        assert_eq!(e["status"], "Failed", "{e}");
        let msg = e["message"].as_str().unwrap_or("");
        assert!(msg.contains("\"prod\"") && msg.contains("\"staging\""), "{msg}");
    }
    assert_eq!(live.machine_names().await, ["Legacy", "ProdOrders"]);
    let tags = live.machines().await;
    assert_eq!(
        tags["ProdOrders"]
            .get("sfn-operator.dev/manifest")
            .map(String::as_str),
        Some("StateMachine/orders"),
        "prod's machine untouched"
    );
    assert_eq!(
        live.apis().await,
        [("orders-api".to_owned(), Some("prod".to_owned()))]
    );

    // `default` prunes the untagged legacy machine (its own), never prod's.
    std::fs::remove_file(plain.join("m.yaml")).unwrap();
    write(&plain.join("other.yaml"), &machine("other", "Other", "Retain"));
    let out = run(
        work.path(),
        &url,
        &["reconcile", "--once", "--prune"],
        &[&plain],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(deletes(&report(&out)), ["StateMachine/legacy"]);
    assert_eq!(live.machine_names().await, ["Other", "ProdOrders"]);
}

/// Point 1, `--once`: each way manifests vanish holds the prune back (report, exit 1, nothing
/// deleted) until `--allow-empty` is given; `diff --prune` says the same and exits 1.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vanished_manifests_hold_the_prune_back_unless_allow_empty() {
    use std::os::unix::fs::symlink;
    let live = Live::start().await;
    let url = live.url();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();

    // 1. A plain directory.
    let dir = w.join("plain");
    write(&dir.join("m.yaml"), &machine("plain", "Plain", "Delete"));
    // 2. A ConfigMap volume: `m.yaml -> ..data/m.yaml`, `..data -> ..v1`.
    let cm = w.join("configmap");
    write(&cm.join("..v1/m.yaml"), &machine("cm", "FromConfigMap", "Delete"));
    symlink("..v1", cm.join("..data")).unwrap();
    symlink("..data/m.yaml", cm.join("m.yaml")).unwrap();
    // 3. A git-sync checkout: `repo -> .worktrees/one`.
    write(
        &w.join(".worktrees/one/m.yaml"),
        &machine("git", "FromGit", "Delete"),
    );
    symlink(".worktrees/one", w.join("repo")).unwrap();
    let (plain, configmap, repo) = (dir.clone(), cm.clone(), w.join("repo"));
    let all: [&Path; 3] = [&plain, &configmap, &repo];
    let out = run(w, &url, &["reconcile", "--once", "--prune"], &all, &[]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(live.machine_names().await, ["FromConfigMap", "FromGit", "Plain"]);

    // Each source vanishes in its own way.
    std::fs::remove_file(dir.join("m.yaml")).unwrap();
    std::fs::create_dir(cm.join("..v2")).unwrap();
    symlink("..v2", cm.join("..data_tmp")).unwrap();
    std::fs::rename(cm.join("..data_tmp"), cm.join("..data")).unwrap();
    std::fs::remove_file(cm.join("m.yaml")).unwrap();
    std::fs::create_dir_all(w.join(".worktrees/two")).unwrap();
    symlink(".worktrees/two", w.join("repo.tmp")).unwrap();
    std::fs::rename(w.join("repo.tmp"), w.join("repo")).unwrap();

    for empty in all {
        let out = run(w, &url, &["reconcile", "--once", "--prune"], &[empty], &[]).await;
        assert_eq!(out.status.code(), Some(1), "{}", empty.display());
        let r = report(&out);
        let why = r["pruneHeldBack"].as_str().unwrap_or_default();
        assert!(
            why.contains(&empty.display().to_string()) && why.contains("--allow-empty"),
            "{r}"
        );
        assert_eq!(deletes(&r), Vec::<String>::new());
        assert_eq!(live.machine_names().await, ["FromConfigMap", "FromGit", "Plain"]);
        // diff --prune says the same, and exits 1 as the reconcile would.
        let out = run(w, &url, &["diff", "--prune"], &[empty], &[]).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(report(&out)["pruneHeldBack"].is_string());
    }
    // Without --prune an empty PATH is no failure: there is nothing to hold back.
    let out = run(w, &url, &["reconcile", "--once"], &[&plain], &[]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(report(&out).get("pruneHeldBack").is_none());

    // A ConfigMap key that came up as an empty file holds no manifest either.
    write(&cm.join("..v2/m.yaml"), "# emptied\n");
    symlink("..data/m.yaml", cm.join("m.yaml")).unwrap();
    let out = run(w, &url, &["reconcile", "--once", "--prune"], &[&configmap], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(live.machine_names().await, ["FromConfigMap", "FromGit", "Plain"]);

    // --allow-empty: the user means it.
    let out = run(
        w,
        &url,
        &["reconcile", "--once", "--prune", "--allow-empty"],
        &all,
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    assert_eq!(
        deletes(&r),
        ["StateMachine/cm", "StateMachine/git", "StateMachine/plain"],
        "{r}"
    );
    assert_eq!(live.machine_names().await, Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// The daemon.

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

async fn poll(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn status(base: &str) -> Value {
    let Ok(r) = reqwest::get(format!("{base}/status")).await else {
        return Value::Null;
    };
    r.json().await.unwrap_or_default()
}

/// Starts `reconcile PATH --prune` (the daemon) in `cwd` and waits until it is ready.
async fn daemon(cwd: &Path, path: &Path, url: &str, extra: &[&str]) -> (Kill, String) {
    let listen = port();
    let child = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .current_dir(cwd)
        .arg("reconcile")
        .arg(path)
        .args([
            "--prune",
            "--debounce",
            "100ms",
            "--listen",
            &format!("127.0.0.1:{listen}"),
        ])
        .args(["--endpoint-url", url, "--region", "us-east-1"])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("SFN_OPERATOR_OWNER_ID")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{listen}");
    let d = (Kill(child), base);
    poll("ready", async || {
        reqwest::get(format!("{}/readyz", d.1))
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    d
}

/// Point 1 and 2, the daemon: emptying its `PATH` holds the prune back (said in `/status`) and
/// deletes nothing; filling it again clears the note; a daemon with `--allow-empty` prunes the
/// emptied set, and only its own owner's resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daemon_holds_back_a_prune_of_an_emptied_path_and_prunes_only_its_own() {
    let live = Live::start().await;
    let url = live.url();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (mine, theirs) = (w.join("mine"), w.join("theirs"));
    write(&mine.join("a.yaml"), &machine("a", "Mine", "Delete"));
    write(&theirs.join("b.yaml"), &machine("b", "Theirs", "Delete"));
    let out = run(
        w,
        &url,
        &["reconcile", "--once", "--owner-id", "team-b"],
        &[&theirs],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));

    let (d, base) = daemon(w, &mine, &url, &[]).await;
    assert_eq!(
        live.machine_names().await,
        ["Mine", "Theirs"],
        "team-b's machine is not pruned"
    );
    std::fs::remove_file(mine.join("a.yaml")).unwrap();
    poll("the held-back prune in /status", async || {
        status(&base).await["pruneHeldBack"]
            .as_str()
            .is_some_and(|s| s.contains("--allow-empty"))
    })
    .await;
    // The full pass that held the prune back is over: nothing was deleted.
    assert_eq!(live.machine_names().await, ["Mine", "Theirs"]);
    // Filled again: the next full pass clears the note.
    write(&mine.join("a.yaml"), &machine("a", "Mine", "Delete"));
    poll("the note cleared", async || {
        let s = status(&base).await;
        s.is_object() && s.get("pruneHeldBack").is_none()
    })
    .await;
    drop(d);

    // With --allow-empty an emptied PATH is pruned (own resources only).
    std::fs::remove_file(mine.join("a.yaml")).unwrap();
    let (_d, _base) = daemon(w, &mine, &url, &["--allow-empty"]).await;
    assert_eq!(live.machine_names().await, ["Theirs"]);
}

/// Point 1, the daemon, each way manifests vanish: with three `PATH`s (a directory, a ConfigMap
/// volume, a git-sync link), emptying any one holds the whole prune back and says which in
/// `/status`; nothing is deleted while the daemon keeps running its full passes; a daemon started
/// with `--allow-empty` on the same PATHs prunes them.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daemon_holds_back_for_an_emptied_configmap_and_a_git_sync_swap_too() {
    use std::os::unix::fs::symlink;
    let live = Live::start().await;
    let url = live.url();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (plain, cm, repo) = (w.join("plain"), w.join("configmap"), w.join("repo"));
    write(&plain.join("m.yaml"), &machine("plain", "Plain", "Delete"));
    write(&cm.join("..v1/m.yaml"), &machine("cm", "FromConfigMap", "Delete"));
    symlink("..v1", cm.join("..data")).unwrap();
    symlink("..data/m.yaml", cm.join("m.yaml")).unwrap();
    write(
        &w.join(".worktrees/one/m.yaml"),
        &machine("git", "FromGit", "Delete"),
    );
    symlink(".worktrees/one", &repo).unwrap();
    // One daemon watching all three (its PATHs after the first).
    let (_d, base) = daemon(w, &plain, &url, &[cm.to_str().unwrap(), repo.to_str().unwrap()]).await;
    let all = ["FromConfigMap", "FromGit", "Plain"];
    assert_eq!(live.machine_names().await, all);

    let held_for = |path: std::path::PathBuf| {
        let base = base.clone();
        async move {
            poll(&format!("pruneHeldBack naming {}", path.display()), async || {
                status(&base).await["pruneHeldBack"]
                    .as_str()
                    .is_some_and(|s| s.contains(&path.display().to_string()))
            })
            .await;
        }
    };
    // kubelet empties the ConfigMap: new empty data dir, `..data` swapped, the key's link removed.
    std::fs::create_dir(cm.join("..v2")).unwrap();
    symlink("..v2", cm.join("..data_tmp")).unwrap();
    std::fs::rename(cm.join("..data_tmp"), cm.join("..data")).unwrap();
    std::fs::remove_file(cm.join("m.yaml")).unwrap();
    held_for(cm.clone()).await;
    assert_eq!(live.machine_names().await, all);

    // git-sync swaps its link to an empty commit.
    std::fs::create_dir_all(w.join(".worktrees/two")).unwrap();
    symlink(".worktrees/two", w.join("repo.tmp")).unwrap();
    std::fs::rename(w.join("repo.tmp"), &repo).unwrap();
    held_for(repo.clone()).await;
    assert_eq!(live.machine_names().await, all);
    drop(_d);

    // With --allow-empty the same emptied ConfigMap and git-sync checkout are pruned: the user
    // means it. The plain directory still holds its manifest, so its machine stays.
    let extra = [cm.to_str().unwrap(), repo.to_str().unwrap(), "--allow-empty"];
    let (_d, base) = daemon(w, &plain, &url, &extra).await;
    assert_eq!(live.machine_names().await, ["Plain"]);
    assert!(status(&base).await.get("pruneHeldBack").is_none());
}

fn integration(name: &str, api_name: &str, path: &str, policy: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: ApiIntegration\nmetadata:\n  name: {name}\nspec:\n  restApi: {{name: {api_name}}}\n  path: {path}\n  httpMethod: POST\n  deletionPolicy: {policy}\n  integration:\n    service: states\n    action: StartExecution\n    credentials: arn:aws:iam::123456789012:role/IntegrationIamRole\n"
    )
}

/// Point 2 for API integrations, whose ownership lives in records on their REST API's tags: two
/// instances adding integrations to one API nobody manages each record theirs with their owner
/// id; one never prunes the other's method, and a same-named integration of the other fails,
/// naming it, leaving the record as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_owner_ids_keep_their_integration_records_apart() {
    let live = Live::start().await;
    let url = live.url();
    let api = live.apigw.create_rest_api().name("shared").send().await.unwrap();
    let api_id = api.id().unwrap().to_owned();
    let work = tempfile::tempdir().unwrap();
    let (prod, staging) = (work.path().join("prod"), work.path().join("staging"));
    write(
        &prod.join("i.yaml"),
        &integration("start", "shared", "/prod", "Delete"),
    );
    write(
        &staging.join("i.yaml"),
        &integration("start-staging", "shared", "/staging", "Delete"),
    );
    for (dir, owner) in [(&prod, "prod"), (&staging, "staging")] {
        let out = run(
            work.path(),
            &url,
            &["reconcile", "--once", "--owner-id", owner],
            &[dir],
            &[],
        )
        .await;
        assert_eq!(out.status.code(), Some(0));
    }
    let tags = || async {
        live.apigw
            .get_rest_api()
            .rest_api_id(&api_id)
            .send()
            .await
            .unwrap()
            .tags()
            .cloned()
            .unwrap_or_default()
    };
    let t = tags().await;
    assert_eq!(
        t.get("sfn-operator.dev/integration/start").map(String::as_str),
        Some("v2 prod POST /prod Delete")
    );
    assert_eq!(
        t.get("sfn-operator.dev/integration/start-staging")
            .map(String::as_str),
        Some("v2 staging POST /staging Delete")
    );

    // Staging drops its integration and claims prod's name: --prune deletes only its own method;
    // the clash fails naming prod and changes nothing.
    std::fs::remove_file(staging.join("i.yaml")).unwrap();
    write(
        &staging.join("clash.yaml"),
        &integration("start", "shared", "/elsewhere", "Delete"),
    );
    let out = run(
        work.path(),
        &url,
        &["reconcile", "--once", "--prune", "--owner-id", "staging"],
        &[&staging],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    assert_eq!(deletes(&r), ["ApiIntegration/start-staging"], "{r}");
    let clash = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "start" && e["action"] != "delete")
        .unwrap()
        .clone();
    assert_eq!(clash["status"], "Failed", "{clash}");
    let msg = clash["message"].as_str().unwrap_or_default();
    assert!(msg.contains("\"prod\"") && msg.contains("\"staging\""), "{msg}");
    assert_eq!(common::methods(&live.apigw, &api_id).await, ["POST /prod"]);
    let t = tags().await;
    assert_eq!(
        t.get("sfn-operator.dev/integration/start").map(String::as_str),
        Some("v2 prod POST /prod Delete"),
        "prod's record untouched"
    );
    assert!(!t.contains_key("sfn-operator.dev/integration/start-staging"));
}
