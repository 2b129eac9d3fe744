//! The operator controls of SPEC §12 with the daemon running (`sfn-operator reconcile PATH`), as
//! issue 22's "Done means" asks:
//! - against moto, with the AWS CLI editing all three kinds out of band while the daemon runs and
//!   reading the result back, and a write-counting proxy between the daemon and moto:
//!   `driftPolicy: Report` finds and reports the drift (`/status`, `/metrics`, one notification
//!   with the changed path) and leaves it; `Ignore` and `ignoreDifferences` write nothing across
//!   three resyncs; removing the control from the manifest file reverts the drift in one pass;
//!   suspended resources get no call of any kind and are never pruned;
//! - notifications under faults, on every kind: a receiver down for 10 s gets every event once,
//!   in order, after it recovers; a receiver that never answers does not slow the passes (timed
//!   against passes with no `--notify`) nor hold back another receiver; Slack-format payloads are
//!   a `text` field only; a notify URL's token never shows in 2 MB of `-vv` logs; a resource
//!   failing, then fixed by its manifest, is told `failed` then `recovered`.
//!
//! Resyncs are counted with `/status` `resync.fullPasses`, never waited for with a sleep. Needs
//! `$SFN_OPERATOR_PEERS_VENV` (moto_server and the AWS CLI).

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{aws_cli, start_moto, suspend_in, write_reference_with};
use daemon_proc::{Daemon, daemon_command, poll, poll_within, port};
use fault_proxy::FaultProxy;
use receiver::{Receiver, Silent};
use serde_json::Value;

mod common;
#[path = "common/daemon.rs"]
mod daemon_proc;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/receiver.rs"]
mod receiver;

const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/EditedInTheConsole";
const MACHINE_ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsIamRole";
const INTEGRATION_ROLE: &str = "arn:aws:iam::123456789012:role/IntegrationIamRole";
const EDITED_DESCRIPTION: &str = "edited in the console";

/// The reference system's three resources, by kind and `metadata.name`.
const RESOURCES: [(&str, &str); 3] = [
    ("StateMachine", "parallel-processing"),
    ("RestApi", "state-machine-api"),
    ("ApiIntegration", "start-execution"),
];

/// A temporary directory with `manifests/` in it (the daemon runs in the directory).
fn workdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    (dir, manifests)
}

/// A daemon whose stderr goes to `dir/daemon.log` (`NO_COLOR`), against `endpoint`.
async fn daemon_logged(dir: &Path, endpoint: &str, extra: &[&str]) -> (Daemon, PathBuf) {
    let log_path = dir.join("daemon.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let listen = port();
    let mut command = daemon_command(dir, endpoint, listen, extra);
    command.env("NO_COLOR", "1").stderr(log);
    (Daemon::spawn(command, listen).await, log_path)
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The live system in moto, named for the AWS CLI.
struct LiveSystem {
    moto: String,
    machine_arn: String,
    api_id: String,
    /// The id of the `/execution` resource the integration is on.
    resource_id: String,
}

impl LiveSystem {
    /// Finds the ids in the daemon's `/status` and the `/execution` resource with the CLI.
    async fn find(moto: &str, d: &Daemon) -> LiveSystem {
        let machine_arn = d.resource("parallel-processing").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let api_id = d.resource("state-machine-api").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let resources = cli(moto, &["apigateway", "get-resources", "--rest-api-id", &api_id]);
        let resource_id = resources["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"] == "/execution")
            .and_then(|r| r["id"].as_str())
            .unwrap()
            .to_owned();
        LiveSystem {
            moto: moto.to_owned(),
            machine_arn,
            api_id,
            resource_id,
        }
    }

    /// Edits all three out of band, as a colleague in the console would: the machine's role, the
    /// API's description, the integration's credentials.
    fn edit(&self) {
        for i in 0..RESOURCES.len() {
            self.edit_one(i);
        }
    }

    /// Edits `RESOURCES[i]` out of band. moto has no `UpdateIntegration` (it answers 500), so the
    /// integration is edited with `put-integration`, which replaces it.
    fn edit_one(&self, i: usize) {
        match i {
            0 => {
                cli(
                    &self.moto,
                    &[
                        "stepfunctions",
                        "update-state-machine",
                        "--state-machine-arn",
                        &self.machine_arn,
                        "--role-arn",
                        OTHER_ROLE,
                    ],
                );
            }
            1 => {
                cli(
                    &self.moto,
                    &[
                        "apigateway",
                        "update-rest-api",
                        "--rest-api-id",
                        &self.api_id,
                        "--patch-operations",
                        &format!("op=replace,path=/description,value={EDITED_DESCRIPTION}"),
                    ],
                );
            }
            _ => self.edit_integration(),
        }
    }

    fn edit_integration(&self) {
        let live = self.integration();
        cli(
            &self.moto,
            &[
                "apigateway",
                "put-integration",
                "--rest-api-id",
                &self.api_id,
                "--resource-id",
                &self.resource_id,
                "--http-method",
                "POST",
                "--type",
                "AWS",
                "--integration-http-method",
                "POST",
                "--uri",
                live["uri"].as_str().unwrap(),
                "--credentials",
                OTHER_ROLE,
                "--request-templates",
                &live["requestTemplates"].to_string(),
            ],
        );
    }

    fn integration(&self) -> Value {
        cli(
            &self.moto,
            &[
                "apigateway",
                "get-integration",
                "--rest-api-id",
                &self.api_id,
                "--resource-id",
                &self.resource_id,
                "--http-method",
                "POST",
            ],
        )
    }

    /// The machine's role, the API's description and the integration's credentials, read with
    /// the AWS CLI.
    fn live(&self) -> [String; 3] {
        let m = cli(
            &self.moto,
            &[
                "stepfunctions",
                "describe-state-machine",
                "--state-machine-arn",
                &self.machine_arn,
            ],
        );
        let api = cli(
            &self.moto,
            &["apigateway", "get-rest-api", "--rest-api-id", &self.api_id],
        );
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        [
            text(&m["roleArn"]),
            text(&api["description"]),
            text(&self.integration()["credentials"]),
        ]
    }

    fn edited() -> [String; 3] {
        [OTHER_ROLE, EDITED_DESCRIPTION, OTHER_ROLE].map(str::to_owned)
    }

    fn manifest() -> [String; 3] {
        [MACHINE_ROLE, "managed", INTEGRATION_ROLE].map(str::to_owned)
    }
}

fn cli(moto: &str, args: &[&str]) -> Value {
    aws_cli(moto, args).unwrap_or_else(|e| panic!("aws {args:?}: {e}"))
}

/// The `/status` entries of the three resources, by kind.
async fn entries(d: &Daemon) -> Vec<Value> {
    let mut out = Vec::new();
    for (_, name) in RESOURCES {
        out.push(d.resource(name).await);
    }
    out
}

fn paths(e: &Value) -> Vec<String> {
    e["changes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["path"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Rewrites the manifests (while the daemon runs) and waits until the daemon has reloaded them
/// (one more `manifests reloaded` line in its log).
async fn rewrite(manifests: &Path, log: &Path, write: impl FnOnce(&Path)) {
    let reloads = |text: &str| text.matches("manifests reloaded").count();
    let before = reloads(&read_log(log));
    write(manifests);
    poll("the manifests reloaded", async || {
        reloads(&read_log(log)) > before
    })
    .await;
}

/// Waits three resyncs and asserts that nothing was written and every resource is `Synced`
/// with nothing to do.
async fn three_quiet_resyncs(d: &Daemon, proxy: &FaultProxy, what: &str) {
    let from = d.full_passes().await;
    d.wait_full_passes(from, 3).await;
    assert_eq!(proxy.writes(), vec![], "{what}: no write across three resyncs");
    for e in entries(d).await {
        assert_eq!(
            (e["status"].as_str(), e["action"].as_str()),
            (Some("Synced"), Some("noop")),
            "{what}: {e}"
        );
        assert!(paths(&e).is_empty(), "{what}: {e}");
    }
}

/// What the AWS CLI's edits change, as the report names the paths: the machine's role, the API's
/// description, and the integration's credentials (moto's `put-integration` also drops the
/// integration's responses and its passthrough behaviour, which the manifest does not set).
const EDITED_PATHS: [&[&str]; 3] = [
    &["roleArn"],
    &["description"],
    &[
        "integration.credentials",
        "integration.passthroughBehavior",
        "responses.200.integrationResponse",
    ],
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_ignored_paths_report_and_reverting_on_every_kind_against_moto_with_the_daemon_running() {
    let moto = start_moto().await;
    let proxy = FaultProxy::start(&moto.url).await;
    let hook = Receiver::start(0).await;
    let (dir, manifests) = workdir();
    let ignore = "  driftPolicy: Ignore\n";
    write_reference_with(&manifests, ignore, ignore, ignore);
    let (d, log) = daemon_logged(
        dir.path(),
        &proxy.url,
        &["--resync-interval", "1s", "--notify", &hook.url],
    )
    .await;
    for e in entries(&d).await {
        assert_eq!(
            e["status"], "Synced",
            "a missing resource is created under Ignore: {e}"
        );
    }
    let live = LiveSystem::find(&moto.url, &d).await;
    assert_eq!(live.live(), LiveSystem::manifest());

    // Ignore: the CLI edits every kind; three resyncs later nothing was written or reported.
    proxy.reset();
    live.edit();
    assert_eq!(live.live(), LiveSystem::edited());
    three_quiet_resyncs(&d, &proxy, "Ignore").await;
    assert_eq!(live.live(), LiveSystem::edited(), "Ignore leaves the drift");

    // ignoreDifferences on the edited paths (driftPolicy back to its default, Correct), the
    // manifest files rewritten while the daemon runs: the same.
    let yaml_list = |p: &[&str]| p.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", ");
    let ignoring = EDITED_PATHS.map(|p| format!("  ignoreDifferences: [{}]\n", yaml_list(p)));
    proxy.reset();
    rewrite(&manifests, &log, |m| {
        write_reference_with(m, &ignoring[0], &ignoring[1], &ignoring[2])
    })
    .await;
    three_quiet_resyncs(&d, &proxy, "ignoreDifferences").await;
    assert_eq!(live.live(), LiveSystem::edited(), "ignored paths are not written");
    assert_eq!(hook.delivered(), Vec::<Value>::new(), "nothing to tell so far");

    // Report: found, reported in /status and /metrics, told once per resource with its paths,
    // and left as it is, across three resyncs.
    let report = "  driftPolicy: Report\n";
    proxy.reset();
    rewrite(&manifests, &log, |m| {
        write_reference_with(m, report, report, report)
    })
    .await;
    poll("all three Drifted in /status", async || {
        entries(&d).await.iter().all(|e| e["status"] == "Drifted")
    })
    .await;
    for (e, expected) in entries(&d).await.iter().zip(EDITED_PATHS) {
        assert_eq!(e["health"], "Healthy", "{e}");
        assert_eq!(paths(e), expected, "{e}");
    }
    for (kind, _) in RESOURCES {
        let found = d
            .metric(&format!("sfn_operator_drift_found_total{{kind=\"{kind}\"}}"))
            .await;
        assert!(found >= 1.0, "drift found counted for {kind}: {found}");
    }
    let from = d.full_passes().await;
    d.wait_full_passes(from, 3).await;
    assert_eq!(proxy.writes(), vec![], "Report writes nothing");
    assert_eq!(live.live(), LiveSystem::edited(), "Report leaves the drift");
    let told = hook.delivered();
    assert_eq!(told.len(), 3, "one event per drifted resource: {told:?}");
    for ((kind, name), expected) in RESOURCES.iter().zip(EDITED_PATHS) {
        let key = format!("{kind}/{name}");
        let e = told
            .iter()
            .find(|e| e["resource"] == key.as_str())
            .unwrap_or_else(|| panic!("no event for {key}: {told:?}"));
        assert_eq!(e["type"], "drift_found", "{e}");
        assert_eq!(e["paths"], serde_json::json!(expected), "{e}");
    }

    // driftPolicy: Report removed from the files: one pass puts every kind back (one `applied`
    // line each), and the passes after it write nothing.
    let log_before = read_log(&log).len();
    rewrite(&manifests, &log, |m| write_reference_with(m, "", "", "")).await;
    poll("the drift reverted, read with the CLI", async || {
        live.live() == LiveSystem::manifest()
    })
    .await;
    proxy.reset();
    let from = d.full_passes().await;
    d.wait_full_passes(from, 2).await;
    assert_eq!(
        proxy.writes(),
        vec![],
        "the passes after the revert write nothing"
    );
    let text = read_log(&log);
    let since = &text[log_before..];
    for (kind, _) in RESOURCES {
        let applied = since
            .lines()
            .filter(|l| l.contains("applied action=update") && l.contains(&format!("kind={kind} ")))
            .count();
        assert_eq!(applied, 1, "{kind} reverted in one pass:\n{since}");
    }
    assert_eq!(
        hook.delivered().len(),
        3,
        "applying a manifest edit is not drift: {:?}",
        hook.delivered()
    );
    assert!(d.terminate().await < Duration::from_secs(10));
}

/// Forwarded requests that name `needle` (an ARN, a REST API id) in their path or body.
fn calls_naming(proxy: &FaultProxy, needle: &str) -> Vec<String> {
    proxy
        .forwarded()
        .into_iter()
        .filter(|f| f.mentions(needle))
        .map(|f| f.operation)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_resources_of_every_kind_get_no_call_and_are_never_pruned_against_moto_with_the_daemon_running()
 {
    let moto = start_moto().await;
    let proxy = FaultProxy::start(&moto.url).await;
    let (dir, manifests) = workdir();
    let delete = "  deletionPolicy: Delete\n";
    write_reference_with(&manifests, delete, delete, delete);
    let (d, log) = daemon_logged(dir.path(), &proxy.url, &["--resync-interval", "1s", "--prune"]).await;
    let live = LiveSystem::find(&moto.url, &d).await;
    let names = RESOURCES.map(|(_, name)| name);

    // All three suspended while the daemon runs; then edited with the CLI.
    rewrite(&manifests, &log, |m| suspend_in(m, &names)).await;
    poll("all three Suspended in /status", async || {
        entries(&d)
            .await
            .iter()
            .all(|e| e["status"] == "Suspended" && e["health"] == "Suspended")
    })
    .await;
    let from = d.full_passes().await;
    d.wait_full_passes(from, 1).await;
    live.edit();
    proxy.reset();
    let from = d.full_passes().await;
    d.wait_full_passes(from, 3).await;
    let forwarded = proxy.forwarded();
    assert!(!forwarded.is_empty(), "the resyncs ran (their listings)");
    assert_eq!(
        calls_naming(&proxy, &live.machine_arn),
        Vec::<String>::new(),
        "no call names the suspended machine"
    );
    assert_eq!(
        calls_naming(&proxy, &live.api_id),
        Vec::<String>::new(),
        "no call names the suspended API"
    );
    assert_eq!(proxy.writes(), vec![]);
    assert_eq!(
        live.live(),
        LiveSystem::edited(),
        "neither read back nor corrected"
    );

    // The integration's manifest removed while its API is suspended: pruning it would write to
    // the suspended API, so nothing is deleted and the API still gets no call.
    proxy.reset();
    rewrite(&manifests, &log, |m| {
        let api = std::fs::read_to_string(m.join("api.yaml")).unwrap();
        let rest_api = api.split("\n---\n").next().unwrap().to_owned();
        common::rename_save(&m.join("api.yaml"), &rest_api);
    })
    .await;
    let from = d.full_passes().await;
    d.wait_full_passes(from, 3).await;
    assert_eq!(
        calls_naming(&proxy, &live.api_id),
        Vec::<String>::new(),
        "no call names the suspended API"
    );
    assert_eq!(calls_naming(&proxy, &live.machine_arn), Vec::<String>::new());
    assert_eq!(proxy.writes(), vec![]);
    assert_eq!(
        live.integration()["credentials"],
        OTHER_ROLE,
        "the integration is still there"
    );

    // The API resumed: the next full pass puts it back and prunes the integration on it.
    rewrite(&manifests, &log, |m| {
        write_reference_with(m, delete, delete, delete);
        suspend_in(m, &names[..1]);
        let api = std::fs::read_to_string(m.join("api.yaml")).unwrap();
        let rest_api = api.split("\n---\n").next().unwrap().to_owned();
        common::rename_save(&m.join("api.yaml"), &rest_api);
    })
    .await;
    poll("the integration pruned once its API is resumed", async || {
        let r = cli(
            &moto.url,
            &[
                "apigateway",
                "get-resources",
                "--rest-api-id",
                &live.api_id,
                "--embed",
                "methods",
            ],
        );
        !r.to_string().contains("\"POST\"")
    })
    .await;
    assert_eq!(live.live()[1], "managed", "the resumed API is reconciled");
    assert_eq!(live.live()[0], OTHER_ROLE, "the machine is still suspended");
    assert!(d.terminate().await < Duration::from_secs(10));
}

/// The kinds in the order of their first `drift found` line in the daemon's log: the order the
/// daemon found them.
fn found_order(log: &str) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for line in log.lines().filter(|l| l.contains("drift found; left in place")) {
        let kind = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("kind="))
            .unwrap_or_else(|| panic!("no kind in {line}"))
            .to_owned();
        if !order.contains(&kind) {
            order.push(kind);
        }
    }
    order
}

/// `driftPolicy: Report` on every kind, the three edited with the AWS CLI one after another while
/// the daemon runs and its receiver is down: the three `drift_found` events wait, and once the
/// receiver answers again (10 s after the last was found) each is delivered exactly once, after
/// the recovery, in the order the daemon found them (the reverse of the resources' own order).
/// A manifest edit that changes none of the drifts does not tell them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_wait_out_a_receiver_down_for_10_s_and_arrive_once_in_order_on_every_kind() {
    let moto = start_moto().await;
    let hook = Receiver::start(0).await;
    let (dir, manifests) = workdir();
    let report = "  driftPolicy: Report\n";
    write_reference_with(&manifests, report, report, report);
    let (d, log) = daemon_logged(
        dir.path(),
        &moto.url,
        &["--resync-interval", "1s", "--notify", &hook.url],
    )
    .await;
    poll("all three Synced", async || {
        entries(&d).await.iter().all(|e| e["status"] == "Synced")
    })
    .await;
    let live = LiveSystem::find(&moto.url, &d).await;

    // Down from before the first edit until 10 s after the last drift was found.
    hook.down_for(Duration::from_secs(3600));
    let edit_order = [2, 1, 0];
    for i in edit_order {
        live.edit_one(i);
        let name = RESOURCES[i].1;
        poll(&format!("{name} Drifted in /status"), async || {
            d.resource(name).await["status"] == "Drifted"
        })
        .await;
    }
    hook.down_for(Duration::from_secs(10));
    let up_at = hook.up_at().unwrap();
    assert_eq!(
        hook.delivered(),
        Vec::<Value>::new(),
        "nothing gets through while down"
    );
    assert!(hook.failed() >= 1, "the first event was tried while down");

    poll(
        "three events delivered after the receiver recovered",
        async || hook.delivered().len() >= 3,
    )
    .await;
    // Two more resyncs find the same drift again: nothing more to tell.
    let from = d.full_passes().await;
    d.wait_full_passes(from, 2).await;
    let told = hook.delivered();
    let at = hook.delivered_at();
    let resources: Vec<&str> = told.iter().map(|e| e["resource"].as_str().unwrap()).collect();
    let expected: Vec<String> = edit_order
        .iter()
        .map(|&i| format!("{}/{}", RESOURCES[i].0, RESOURCES[i].1))
        .collect();
    assert_eq!(resources, expected, "each once, in the order found: {told:?}");
    let found: Vec<String> = edit_order.iter().map(|&i| RESOURCES[i].0.to_owned()).collect();
    assert_eq!(found_order(&read_log(&log)), found, "the daemon's log agrees");
    for (e, &i) in told.iter().zip(&edit_order) {
        assert_eq!(e["type"], "drift_found", "{e}");
        assert_eq!(e["paths"], serde_json::json!(EDITED_PATHS[i]), "{e}");
    }
    assert!(
        at.iter().all(|t| *t >= up_at),
        "every event came after the recovery"
    );
    let times: Vec<&str> = told.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(times.is_sorted(), "made in the order delivered: {times:?}");
    assert_eq!(
        d.metric("sfn_operator_notifications_total{result=\"delivered\"}")
            .await,
        3.0
    );
    assert_eq!(
        d.metric("sfn_operator_notifications_total{result=\"failed\"}")
            .await,
        0.0,
        "no event given up"
    );
    assert_eq!(live.live(), LiveSystem::edited(), "Report leaves the drift");

    // A manifest edit that leaves every drift as it was (an ignored path nobody changed): the
    // three are reconciled again and found drifted again, and the same drift is not told twice.
    let report_ignoring = |path: &str| format!("{report}  ignoreDifferences: ['{path}']\n");
    let (machine, api, integration) = (
        report_ignoring("tags.team"),
        report_ignoring("tags.team"),
        report_ignoring("integration.requestTemplates.*"),
    );
    rewrite(&manifests, &log, |m| {
        write_reference_with(m, &machine, &api, &integration)
    })
    .await;
    let from = d.full_passes().await;
    d.wait_full_passes(from, 2).await;
    for (e, expected) in entries(&d).await.iter().zip(EDITED_PATHS) {
        assert_eq!(e["status"], "Drifted", "{e}");
        assert_eq!(paths(e), expected, "{e}");
    }
    assert_eq!(
        hook.delivered().len(),
        3,
        "a manifest edit is no new drift: {:?}",
        hook.delivered()
    );
    assert!(d.terminate().await < Duration::from_secs(10));
}

/// How long each of the next `n` full passes took, in seconds (`/status`
/// `resync.lastFullPassSeconds`).
async fn pass_seconds(d: &Daemon, n: u64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut from = d.full_passes().await;
    for _ in 0..n {
        from = d.wait_full_passes(from, 1).await;
        out.push(
            d.status().await["resync"]["lastFullPassSeconds"]
                .as_f64()
                .unwrap(),
        );
    }
    out
}

/// A receiver that never answers does not slow the passes that have nothing to write: three
/// resyncs of the reference system (`driftPolicy: Report` on every kind, drifted with the AWS CLI)
/// are timed with no `--notify`, then by a second daemon whose first `--notify` URL never answers
/// while its events are stuck there; they are no slower (within 2× + 1 s). The second URL, a
/// working receiver, gets every event meanwhile (a queue per URL), and the daemon still exits
/// within 10 s of SIGTERM with events undelivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_slows_no_pass_and_holds_back_no_other_receiver() {
    let moto = start_moto().await;
    let silent = Silent::start().await;
    let hook = Receiver::start(0).await;
    let (dir, manifests) = workdir();
    let report = "  driftPolicy: Report\n";
    write_reference_with(&manifests, report, report, report);

    let (quiet, _) = daemon_logged(dir.path(), &moto.url, &["--resync-interval", "1s"]).await;
    poll("all three Synced", async || {
        entries(&quiet).await.iter().all(|e| e["status"] == "Synced")
    })
    .await;
    let live = LiveSystem::find(&moto.url, &quiet).await;
    live.edit();
    poll("all three Drifted", async || {
        entries(&quiet).await.iter().all(|e| e["status"] == "Drifted")
    })
    .await;
    let without = pass_seconds(&quiet, 3).await;
    assert!(quiet.terminate().await < Duration::from_secs(10));

    let (told, _) = daemon_logged(
        dir.path(),
        &moto.url,
        &[
            "--resync-interval",
            "1s",
            "--notify",
            &format!("{}/hook/SILENTTOKEN", silent.url),
            "--notify",
            &hook.url,
        ],
    )
    .await;
    poll("the working receiver told of all three", async || {
        hook.delivered().len() >= 3
    })
    .await;
    let with = pass_seconds(&told, 3).await;
    eprintln!("full passes without --notify: {without:?} s; with a silent receiver: {with:?} s");
    let slowest = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    assert!(
        slowest(&with) <= 2.0 * slowest(&without) + 1.0,
        "a silent receiver slowed the passes: {with:?} against {without:?}"
    );
    assert_eq!(hook.delivered().len(), 3, "{:?}", hook.delivered());
    assert_eq!(
        told.metric("sfn_operator_notifications_total{result=\"delivered\"}")
            .await,
        3.0,
        "the silent receiver's events are still in flight"
    );
    assert_eq!(live.live(), LiveSystem::edited());
    assert!(
        told.terminate().await < Duration::from_secs(10),
        "the exit's flush is bounded"
    );
}

/// Whether `body` has the shape a Slack incoming webhook takes from us: an object whose only
/// field is `text`, a non-empty string.
fn slack_shaped(body: &Value) -> bool {
    body.as_object().is_some_and(|o| {
        o.len() == 1
            && o.get("text")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
    })
}

/// `--notify-format slack` with the daemon: every kind's drift (AWS CLI edits, `driftPolicy:
/// Report`) reaches the receiver as a Slack webhook payload (a `text` field only) naming the
/// resource and its changed path. And the URLs' token (in a path, a query and a password, to a
/// receiver that takes everything, one that answers 500 to everything and a port nobody listens
/// on) never shows in at least 2 MB of `-vv` logs, nor in `/status` or `/metrics`. The log grows
/// with a resync due every 2 ms (a `resync` line each; the passes themselves follow as fast as
/// their share of the quotas lets them, each logging every resource and its drift) until the
/// failing URLs' retries gave up (about a minute of backoff).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_payloads_are_text_only_and_the_notify_token_never_shows_in_2_mb_of_vv_logs() {
    const TOKEN: &str = "T0KEN5ECRETxoxb";
    const MIN_LOG: u64 = 2 * 1024 * 1024;
    let moto = start_moto().await;
    let slack = Receiver::start(0).await;
    let failing = Receiver::start(usize::MAX).await;
    let (dir, manifests) = workdir();
    let report = "  driftPolicy: Report\n";
    write_reference_with(&manifests, report, report, report);
    let slack_url = format!("{}/services/T000/B000/{TOKEN}", slack.url);
    let failing_url = format!("{}/hook?token={TOKEN}", failing.url);
    let refused_url = format!("http://user:{TOKEN}@127.0.0.1:{}/{TOKEN}", port());
    let (d, log) = daemon_logged(
        dir.path(),
        &moto.url,
        &[
            "-vv",
            "--resync-interval",
            "2ms",
            "--notify-format",
            "slack",
            "--notify",
            &slack_url,
            "--notify",
            &failing_url,
            "--notify",
            &refused_url,
        ],
    )
    .await;
    poll("all three Synced", async || {
        entries(&d).await.iter().all(|e| e["status"] == "Synced")
    })
    .await;
    let live = LiveSystem::find(&moto.url, &d).await;
    live.edit();
    poll("three Slack payloads", async || slack.delivered().len() >= 3).await;
    let told = slack.delivered();
    assert_eq!(told.len(), 3, "{told:?}");
    for body in &told {
        assert!(slack_shaped(body), "not a Slack webhook payload: {body}");
    }
    for ((kind, name), paths) in RESOURCES.iter().zip(EDITED_PATHS) {
        let about = format!("{kind}/{name} drifted");
        let text = told
            .iter()
            .filter_map(|b| b["text"].as_str())
            .find(|t| t.contains(&about))
            .unwrap_or_else(|| panic!("no payload about {kind}/{name}: {told:?}"));
        assert!(text.contains(paths[0]), "{text}");
    }

    poll_within(
        "2 MB of logs and the failing URLs' retries given up",
        Duration::from_secs(300),
        async || {
            let size = std::fs::metadata(&log).map_or(0, |m| m.len());
            size >= MIN_LOG
                && d.metric("sfn_operator_notifications_total{result=\"failed\"}")
                    .await
                    >= 2.0
        },
    )
    .await;
    let status = d.status().await.to_string();
    let metrics = daemon_proc::get(&format!("{}/metrics", d.base)).await.unwrap();
    assert!(d.terminate().await < Duration::from_secs(10));
    let text = read_log(&log);
    eprintln!("{} bytes of -vv logs", text.len());
    assert!(text.len() as u64 >= MIN_LOG);
    assert!(
        text.contains("notification not delivered; gave up"),
        "the failures were logged"
    );
    assert!(text.contains("drift found"), "the resyncs were logged");
    for (what, shown) in [("the log", &text), ("/status", &status), ("/metrics", &metrics)] {
        assert!(!shown.contains(TOKEN), "the token shows in {what}");
    }
    assert_eq!(slack.delivered().len(), 3, "nothing told twice");
}

/// An integration pointed (by a manifest edit while the daemon runs) at a REST API id that does
/// not exist in moto fails, and is told `failed` once; pointing it back at its API reconciles it
/// and is told `recovered`: the first outcome after the manifest fix is judged against the
/// failure, not against the edit's pending mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_resource_fixed_by_its_manifest_is_told_failed_then_recovered() {
    let moto = start_moto().await;
    let hook = Receiver::start(0).await;
    let (dir, manifests) = workdir();
    write_reference_with(&manifests, "", "", "");
    let (d, log) = daemon_logged(
        dir.path(),
        &moto.url,
        &["--resync-interval", "1s", "--notify", &hook.url],
    )
    .await;
    poll("all three Synced", async || {
        entries(&d).await.iter().all(|e| e["status"] == "Synced")
    })
    .await;
    let api = manifests.join("api.yaml");
    let good = std::fs::read_to_string(&api).unwrap();
    let nowhere = good.replacen(
        "restApi:\n    ref: state-machine-api",
        "restApi: {id: doesnotexist}",
        1,
    );
    assert_ne!(nowhere, good);
    rewrite(&manifests, &log, |_| common::rename_save(&api, &nowhere)).await;
    poll("the integration Failed", async || {
        d.resource("start-execution").await["status"] == "Failed"
    })
    .await;
    let from = d.full_passes().await;
    d.wait_full_passes(from, 2).await;
    rewrite(&manifests, &log, |_| common::rename_save(&api, &good)).await;
    poll("the integration Synced again", async || {
        d.resource("start-execution").await["status"] == "Synced"
    })
    .await;
    poll("two events", async || hook.delivered().len() >= 2).await;
    let from = d.full_passes().await;
    d.wait_full_passes(from, 2).await;
    let told: Vec<(String, String)> = hook
        .delivered()
        .iter()
        .map(|e| (e["type"].to_string(), e["resource"].to_string()))
        .collect();
    let integration = "\"ApiIntegration/start-execution\"".to_owned();
    assert_eq!(
        told,
        [
            ("\"failed\"".to_owned(), integration.clone()),
            ("\"recovered\"".to_owned(), integration)
        ],
        "{:?}",
        hook.delivered()
    );
    assert!(d.terminate().await < Duration::from_secs(10));
}
