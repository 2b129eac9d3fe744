//! The daemon as a user runs it: the real binary, against our sandbox (started in this process)
//! and against moto (an independent AWS peer). Edits in place, rename-saves and ConfigMap-style
//! symlink flips are applied without a restart; deleted manifests are pruned only under SPEC §5;
//! out-of-band drift is corrected on resync and counted; a failing resource backs off while others
//! converge and is retried at once when its manifest is fixed; SIGTERM during a pass exits 0 within
//! 10 s with nothing half-applied; a second daemon is refused. Waits poll a condition with a
//! generous limit.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use sfn_operator::sandbox::{SandboxConfig, SandboxHandle, start};

mod common;
#[path = "common/daemon.rs"]
mod daemon_proc;
#[path = "common/receiver.rs"]
mod receiver;

use common::rename_save;
use daemon_proc::{Daemon, daemon_command, get, poll, port};

const MANIFEST: &str = "apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: watched
spec:
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: P
    States:
      P: {Type: Pass, Result: RESULT, End: true}
";

#[tokio::test]
async fn edits_apply_live_a_second_daemon_is_refused_and_sigterm_exits_0() {
    let peer = common::start_moto().await;
    let moto = peer.url.as_str();
    let (dir, manifests) = manifests_dir();
    let file = manifests.join("m.yaml");
    write_file(&file, &MANIFEST.replace("RESULT", "1"));
    let first = Daemon::start(dir.path(), moto, &[]).await;

    // Edit in place: applied without a restart.
    write_file(&file, &MANIFEST.replace("RESULT", "2"));
    poll("the edit to be applied", async || {
        let m = first.resource("watched").await;
        m["status"] == "Synced" && m["changes"].to_string().contains("\"after\":2")
    })
    .await;

    // A second daemon on the same manifests is refused, naming the lock and the holder.
    let second = daemon_command(dir.path(), moto, port(), &[])
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(
        err.contains(".sfn-operator/lock") && err.contains(&format!("pid {}", first.pid())),
        "{err}"
    );

    // SIGTERM: exit 0 within 10 s.
    let took = first.terminate().await;
    assert!(took < Duration::from_secs(10), "exit took {took:?}");
}

// ---------------------------------------------------------------------------------------------
// Against our sandbox.

const ACCOUNT: &str = "123456789012";
const GOOD_ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsIamRole";

/// A StateMachine manifest whose definition returns `result` and whose tag `version` says the same,
/// so a half-applied update (definition without tags, or the reverse) shows.
fn machine(name: &str, result: u32, role: &str, policy: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: {name}
spec:
  roleArn: {role}
  deletionPolicy: {policy}
  tags:
    version: \"{result}\"
  definition:
    StartAt: P
    States:
      P: {{Type: Pass, Result: {result}, End: true}}
"
    )
}

fn arn(name: &str) -> String {
    format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{name}")
}

/// The sandbox plus SDK clients to look at it (and change it behind the daemon's back).
struct Live {
    sandbox: SandboxHandle,
    sfn: aws_sdk_sfn::Client,
}

impl Live {
    async fn start() -> Live {
        let sandbox = start(SandboxConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(sandbox.endpoint_url())
            .credentials_provider(aws_sdk_sfn::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        Live {
            sfn: aws_sdk_sfn::Client::new(&conf),
            sandbox,
        }
    }

    fn url(&self) -> String {
        self.sandbox.endpoint_url()
    }

    /// The `Result` of a live machine's only state, its `version` tag and its role; `None` when
    /// the machine does not exist.
    async fn machine(&self, name: &str) -> Option<(Value, Option<String>, String)> {
        let d = self
            .sfn
            .describe_state_machine()
            .state_machine_arn(arn(name))
            .send()
            .await
            .ok()?;
        let def: Value = serde_json::from_str(d.definition()).unwrap_or_default();
        let tags = self
            .sfn
            .list_tags_for_resource()
            .resource_arn(arn(name))
            .send()
            .await
            .ok()?;
        let version = tags
            .tags()
            .iter()
            .find(|t| t.key() == Some("version"))
            .and_then(|t| t.value().map(str::to_owned));
        Some((
            def["States"]["P"]["Result"].clone(),
            version,
            d.role_arn().to_owned(),
        ))
    }

    async fn result(&self, name: &str) -> Option<Value> {
        self.machine(name).await.map(|(r, _, _)| r)
    }

    async fn faults(&self, faults: Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/_sandbox/faults", self.url()))
            .json(&faults)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.status().is_success(), "{}", r.status());
    }

    async fn requests(&self, operation: &str) -> u64 {
        let v: Value = serde_json::from_str(
            &get(&format!("{}/_sandbox/requests", self.url()))
                .await
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        v["sfn"][operation].as_u64().unwrap_or(0)
    }
}

fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn manifests_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap_or_else(|e| panic!("{e}"));
    (dir, manifests)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_changes_of_every_kind_apply_live_and_deletions_prune_only_under_spec_rules() {
    use std::os::unix::fs::symlink;
    let live = Live::start().await;
    let (dir, m) = manifests_dir();
    let write = |name: &str, text: String| write_file(&m.join(name), &text);
    write("a.yaml", machine("a", 1, GOOD_ROLE, "Retain"));
    write("b.yaml", machine("b", 1, GOOD_ROLE, "Delete"));
    write("c.yaml", machine("c", 1, GOOD_ROLE, "Retain"));
    write("e.yaml", machine("e", 1, GOOD_ROLE, "Delete"));
    // A Kubernetes ConfigMap volume: the file is a link through `..data`, swapped atomically.
    let cm = m.join("configmap");
    std::fs::create_dir_all(cm.join("..2026_11_24_01")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        cm.join("..2026_11_24_01/d.yaml"),
        machine("d", 1, GOOD_ROLE, "Retain"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    symlink("..2026_11_24_01", cm.join("..data")).unwrap_or_else(|e| panic!("{e}"));
    symlink("..data/d.yaml", cm.join("d.yaml")).unwrap_or_else(|e| panic!("{e}"));

    let daemon = Daemon::start(dir.path(), &live.url(), &["--prune", "--resync-interval", "1h"]).await;
    for name in ["a", "b", "c", "d", "e"] {
        assert_eq!(
            live.result(name).await,
            Some(Value::from(1)),
            "{name} created by the first pass"
        );
    }

    // Edited in place.
    write("a.yaml", machine("a", 2, GOOD_ROLE, "Retain"));
    poll("in-place edit applied", async || {
        live.result("a").await == Some(Value::from(2))
    })
    .await;

    // Replaced by an editor's rename-save.
    rename_save(&m.join("a.yaml"), &machine("a", 3, GOOD_ROLE, "Retain"));
    poll("rename-save applied", async || {
        live.result("a").await == Some(Value::from(3))
    })
    .await;

    // Swapped by a ConfigMap-style symlink flip of `..data`.
    std::fs::create_dir(cm.join("..2026_11_24_02")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        cm.join("..2026_11_24_02/d.yaml"),
        machine("d", 2, GOOD_ROLE, "Retain"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    symlink("..2026_11_24_02", cm.join("..data_tmp")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(cm.join("..data_tmp"), cm.join("..data")).unwrap_or_else(|e| panic!("{e}"));
    poll("symlink flip applied", async || {
        live.result("d").await == Some(Value::from(2))
    })
    .await;
    assert_eq!(live.result("a").await, Some(Value::from(3)), "others untouched");

    // Deleted manifests, in one save: b (Delete) is pruned, c (Retain) stays, by the same pass.
    std::fs::remove_file(m.join("b.yaml")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(m.join("c.yaml")).unwrap_or_else(|e| panic!("{e}"));
    poll("b pruned", async || live.machine("b").await.is_none()).await;
    assert!(live.machine("c").await.is_some(), "Retain: never deleted");
    assert!(daemon.resource("c").await.is_null(), "c is no longer managed");

    // With an invalid manifest present nothing is pruned; once it is fixed, the prune happens.
    write("a.yaml", "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata: {name: a}\nspec: {roleArn: 7}\n".into());
    poll("a invalid", async || {
        daemon.resource("a").await["status"] == "Invalid"
    })
    .await;
    let invalid_series = "sfn_operator_reconcile_total{kind=\"StateMachine\",result=\"invalid\"}";
    let passes_before = daemon.metric(invalid_series).await;
    std::fs::remove_file(m.join("e.yaml")).unwrap_or_else(|e| panic!("{e}"));
    poll("the full pass after e's removal", async || {
        daemon.metric(invalid_series).await > passes_before && daemon.resource("e").await.is_null()
    })
    .await;
    assert!(
        live.machine("e").await.is_some(),
        "no pruning while a manifest is invalid (SPEC §5)"
    );
    assert_eq!(
        live.result("a").await,
        Some(Value::from(3)),
        "invalid: last valid state kept"
    );
    write("a.yaml", machine("a", 4, GOOD_ROLE, "Retain"));
    poll("e pruned once every manifest is valid", async || {
        live.machine("e").await.is_none()
    })
    .await;
    poll("a applied", async || {
        live.result("a").await == Some(Value::from(4))
    })
    .await;
    assert!(live.machine("c").await.is_some() && live.machine("d").await.is_some());
    assert!(daemon.terminate().await < Duration::from_secs(10));
}

/// Milliseconds since the epoch of an RFC 3339 UTC time as `/status` writes it.
fn millis(t: &Value) -> i64 {
    let s = t.as_str().unwrap_or_else(|| panic!("not a time: {t}"));
    let n = |r: std::ops::Range<usize>| -> i64 { s[r].parse().unwrap_or_else(|e| panic!("{s}: {e}")) };
    let (y, mo, d) = (n(0..4), n(5..7), n(8..10));
    // Days from the civil date (Howard Hinnant's days_from_civil).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    ((days * 24 + n(11..13)) * 60 + n(14..16)) * 60_000 + n(17..19) * 1000 + n(20..23)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_corrected_on_resync_and_counted_but_manifest_edits_are_not_drift() {
    let live = Live::start().await;
    let (dir, m) = manifests_dir();
    let write = |name: &str, text: String| write_file(&m.join(name), &text);
    write("x.yaml", machine("x", 1, GOOD_ROLE, "Retain"));
    write("y.yaml", machine("y", 1, GOOD_ROLE, "Retain"));
    let daemon = Daemon::start(dir.path(), &live.url(), &["--resync-interval", "2s"]).await;
    let drift = "sfn_operator_drift_corrected_total{kind=\"StateMachine\"}";
    let synced = "sfn_operator_reconcile_total{kind=\"StateMachine\",result=\"synced\"}";

    // A manifest edit is applied; resyncs after it find nothing to correct: not drift.
    write("y.yaml", machine("y", 2, GOOD_ROLE, "Retain"));
    poll("y edited", async || {
        live.result("y").await == Some(Value::from(2))
    })
    .await;
    let after_edit = daemon.metric(synced).await;
    poll("two resyncs after the edit", async || {
        daemon.metric(synced).await >= after_edit + 4.0
    })
    .await;
    assert_eq!(daemon.metric(drift).await, 0.0, "a manifest edit is not drift");
    // /status says how long a full resync takes, and under which share of AWS's quotas
    // (--endpoint-url keeps the client-side limits on; the daemon's full passes use half).
    let resync = daemon.status().await["resync"].clone();
    assert_eq!(resync["intervalSeconds"], 2.0, "{resync}");
    assert_eq!(resync["quotaShare"], 0.5, "{resync}");
    let took = resync["lastFullPassSeconds"].as_f64().unwrap_or(-1.0);
    assert!((0.0..2.0).contains(&took), "{resync}");
    assert_eq!(
        resync["quotaFloorSeconds"], 0.0,
        "two machines fit in every bucket: {resync}"
    );
    assert!(resync["lastFullPassTime"].is_string(), "{resync}");

    // Out of band: someone changes x's definition. The next resync puts it back and counts it.
    live.sfn
        .update_state_machine()
        .state_machine_arn(arn("x"))
        .definition(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":99,"End":true}}}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    poll("drift corrected", async || {
        live.result("x").await == Some(Value::from(1))
    })
    .await;
    poll("drift counted", async || daemon.metric(drift).await == 1.0).await;
    assert_eq!(live.result("y").await, Some(Value::from(2)));
    assert!(daemon.terminate().await < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_resource_backs_off_alone_and_fixing_its_manifest_retries_it_at_once() {
    let live = Live::start().await;
    let (dir, m) = manifests_dir();
    let write = |name: &str, text: String| write_file(&m.join(name), &text);
    write("x.yaml", machine("x", 1, GOOD_ROLE, "Retain"));
    write("y.yaml", machine("y", 2, GOOD_ROLE, "Retain"));
    let daemon = Daemon::start(dir.path(), &live.url(), &["--resync-interval", "1h"]).await;

    // y now needs a role the operator may not pass: every write of it is denied.
    live.faults(serde_json::json!({"errorCode": "AccessDeniedException", "match": "role/Denied"}))
        .await;
    write(
        "y.yaml",
        machine("y", 3, "arn:aws:iam::123456789012:role/Denied", "Retain"),
    );
    // The retry delay (next retry − last reconcile) grows with each failure: 1 s, 2 s, 4 s ±10 %.
    let mut delays: Vec<(u64, i64)> = Vec::new();
    poll("y failed three times", async || {
        let y = daemon.resource("y").await;
        let failures = y["failures"].as_u64().unwrap_or(0);
        if failures > 0 && delays.last().is_none_or(|(f, _)| *f != failures) {
            assert_eq!(y["status"], "Failed", "{y}");
            assert!(
                y["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("AccessDeniedException")),
                "{y}"
            );
            delays.push((
                failures,
                millis(&y["nextRetryTime"]) - millis(&y["lastReconcileTime"]),
            ));
        }
        failures >= 3
    })
    .await;
    assert!(delays.len() >= 2, "{delays:?}");
    for pair in delays.windows(2) {
        assert!(pair[1].1 > pair[0].1, "backoff grows: {delays:?}");
    }
    // Meanwhile the others converge.
    write("x.yaml", machine("x", 5, GOOD_ROLE, "Retain"));
    poll("x converges while y fails", async || {
        live.result("x").await == Some(Value::from(5))
    })
    .await;
    assert_eq!(daemon.resource("x").await["status"], "Synced");

    // Fixing y's manifest retries it at once, not at its next backoff time.
    let y = daemon.resource("y").await;
    let next_retry = millis(&y["nextRetryTime"]);
    write("y.yaml", machine("y", 4, GOOD_ROLE, "Retain"));
    poll("y fixed", async || {
        daemon.resource("y").await["status"] == "Synced"
    })
    .await;
    let y = daemon.resource("y").await;
    assert!(
        millis(&y["lastReconcileTime"]) < next_retry,
        "retried when its manifest changed, before the scheduled retry: {y}"
    );
    assert_eq!(y["failures"], 0);
    assert_eq!(
        live.machine("y").await,
        Some((Value::from(4), Some("4".into()), GOOD_ROLE.into()))
    );
    assert_eq!(
        daemon
            .metric("sfn_operator_drift_corrected_total{kind=\"StateMachine\"}")
            .await,
        0.0,
        "failures and fixes are not drift"
    );
    assert!(daemon.terminate().await < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_pass_exits_0_within_10_s_with_nothing_half_applied() {
    let live = Live::start().await;
    let (dir, m) = manifests_dir();
    let names: Vec<String> = (0..6).map(|i| format!("m{i}")).collect();
    for n in &names {
        std::fs::write(m.join(format!("{n}.yaml")), machine(n, 1, GOOD_ROLE, "Retain"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let daemon = Daemon::start(
        dir.path(),
        &live.url(),
        &["--concurrency", "2", "--resync-interval", "4s"],
    )
    .await;

    // Out of band, every machine's definition and tag change; the next resync (one pass over all
    // six) puts both back. Every call now takes 1.5 s, so that pass needs describe, tags, update,
    // tag: 6 s a machine, 18 s for six two at a time — longer than a shutdown may take.
    for n in &names {
        live.sfn
            .update_state_machine()
            .state_machine_arn(arn(n))
            .definition(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":9,"End":true}}}"#)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        live.sfn
            .tag_resource()
            .resource_arn(arn(n))
            .tags(
                aws_sdk_sfn::types::Tag::builder()
                    .key("version")
                    .value("9")
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let ours = live.requests("UpdateStateMachine").await;
    live.faults(serde_json::json!({"latencyMs": 1500})).await;
    poll("the resync pass writing", async || {
        live.requests("UpdateStateMachine").await > ours
    })
    .await;
    let took = daemon.terminate().await;
    assert!(took < Duration::from_secs(10), "exit took {took:?}");

    live.faults(serde_json::json!({})).await;
    let mut restored = 0;
    for n in &names {
        let (result, version, _) = live.machine(n).await.unwrap_or_else(|| panic!("{n} missing"));
        // Definition and tags move together: both drifted or both restored.
        let pair = (result.as_u64(), version.as_deref().and_then(|v| v.parse().ok()));
        assert!(
            pair == (Some(9), Some(9)) || pair == (Some(1), Some(1)),
            "{n} half-applied: {pair:?}"
        );
        restored += usize::from(pair.0 == Some(1));
    }
    assert!(restored >= 1, "the updates in flight were finished");
    assert!(restored < names.len(), "no resource was started after SIGTERM");
}

/// `--log-format json`: every stderr line is a JSON object; each reconcile is a span naming the kind
/// and the resource; no credential or request signature ever reaches the log, even at `-vv`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_have_a_span_per_reconcile_and_never_a_credential() {
    const SECRET: &str = "sEcReT/never+logged";
    const TOKEN: &str = "session-token-never-logged";
    let live = Live::start().await;
    let (dir, m) = manifests_dir();
    write_file(&m.join("logged.yaml"), &machine("logged", 1, GOOD_ROLE, "Retain"));
    let log_path = dir.path().join("daemon.log");
    let log = std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("{e}"));
    let listen = port();
    let mut command = daemon_command(dir.path(), &live.url(), listen, &["--log-format", "json", "-vv"]);
    command
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_SESSION_TOKEN", TOKEN)
        .stderr(log);
    let daemon = Daemon::spawn(command, listen).await;
    write_file(&m.join("logged.yaml"), &machine("logged", 2, GOOD_ROLE, "Retain"));
    poll("the edit applied", async || {
        live.result("logged").await == Some(Value::from(2))
    })
    .await;
    assert!(daemon.terminate().await < Duration::from_secs(10));

    let text = std::fs::read_to_string(&log_path).unwrap_or_else(|e| panic!("{e}"));
    // serde_json keeps the last of duplicate keys: look at the raw span object.
    for l in text.lines().filter_map(|l| l.find("\"span\":{").map(|i| &l[i..])) {
        let span = &l[..l.find('}').unwrap_or(l.len())];
        assert_eq!(span.matches("\"name\":").count(), 1, "duplicate key: {span}");
    }
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 5, "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string()),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l["span"]["name"] == "reconcile"
            && l["span"]["kind"] == "StateMachine"
            && l["span"]["resource"] == "logged"
            && l["fields"]["message"] == "applied"),
        "a reconcile span with kind and name around the apply: {text}"
    );
    for secret in [SECRET, TOKEN, "Signature=", "AWS4-HMAC-SHA256"] {
        assert!(!text.contains(secret), "{secret} in the log");
    }
}

/// The reference system's manifests in `manifests/` of a daemon's directory.
fn reference_system(manifests: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    for f in ["state-machine.yaml", "parallel-processing.asl.yaml", "api.yaml"] {
        std::fs::copy(root.join(f), manifests.join(f)).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The live `POST /execution` integration of the one REST API: (timeout, request template).
async fn live_integration(apigw: &aws_sdk_apigateway::Client) -> Option<(i32, String)> {
    let apis = apigw.get_rest_apis().send().await.ok()?;
    let api = apis.items().first()?.id()?.to_owned();
    let res = apigw.get_resources().rest_api_id(&api).send().await.ok()?;
    let rid = res
        .items()
        .iter()
        .find(|r| r.path() == Some("/execution"))?
        .id()?
        .to_owned();
    let i = apigw
        .get_integration()
        .rest_api_id(&api)
        .resource_id(&rid)
        .http_method("POST")
        .send()
        .await
        .ok()?;
    let t = i.request_templates()?.get("application/json")?.clone();
    Some((i.timeout_in_millis(), t))
}

/// Issue 9, points 1 and 7: an edited `ApiIntegration`, and an edit of the machine it references,
/// go live while the daemon runs (not at the next resync, an hour away); `/status` says Pending
/// while the work is under way, and a failed dependency's dependant is `Skipped` with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_integration_edits_go_live_and_dependants_of_a_failure_are_skipped() {
    let live = Live::start().await;
    let url = live.url();
    let (dir, manifests) = manifests_dir();
    reference_system(&manifests);
    let d = Daemon::start(dir.path(), &url, &["--no-rate-limits", "--resync-interval", "1h"]).await;
    let conf = common::sdk_conf(&url).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    assert_eq!(live_integration(&apigw).await.map(|l| l.0), Some(29000));

    // Edit the integration's timeout.
    let api_yaml = manifests.join("api.yaml");
    let text = std::fs::read_to_string(&api_yaml).unwrap_or_default();
    write_file(
        &api_yaml,
        &text.replace(
            "    integrationHttpMethod: POST\n",
            "    integrationHttpMethod: POST\n    timeoutInMillis: 12000\n",
        ),
    );
    let started = Instant::now();
    poll("the timeout edit to be live", async || {
        live_integration(&apigw).await.map(|l| l.0) == Some(12000)
    })
    .await;
    eprintln!("ApiIntegration edit live after {:?}", started.elapsed());
    poll("the integration Synced", async || {
        let r = d.resource("start-execution").await;
        r["status"] == "Synced" && r["failures"] == 0
    })
    .await;

    // Rename the machine it references: the integration's template follows.
    let sm_yaml = manifests.join("state-machine.yaml");
    let text = std::fs::read_to_string(&sm_yaml).unwrap_or_default();
    assert!(text.contains("name: ParallelProcessingMachine"), "{text}");
    write_file(
        &sm_yaml,
        &text.replace(
            "name: ParallelProcessingMachine",
            "name: ParallelProcessingMachine2",
        ),
    );
    poll("the template to name the renamed machine", async || {
        live_integration(&apigw)
            .await
            .is_some_and(|l| l.1.contains("stateMachine:ParallelProcessingMachine2\""))
    })
    .await;

    // The machine fails (permanently); its dependant integration is Skipped with the reason.
    live.faults(
        serde_json::json!({"errorCode": "AccessDeniedException", "operations": ["UpdateStateMachine"]}),
    )
    .await;
    let asl = manifests.join("parallel-processing.asl.yaml");
    let text = std::fs::read_to_string(&asl).unwrap_or_default();
    write_file(&asl, &text.replace("in parallel.", "in parallel (edited)."));
    poll("the machine Failed and the integration Skipped", async || {
        let s = d.status().await;
        let find = |kind: &str| {
            s["resources"]
                .as_array()
                .and_then(|a| a.iter().find(|r| r["kind"] == kind).cloned())
                .unwrap_or_default()
        };
        let (m, i) = (find("StateMachine"), find("ApiIntegration"));
        m["status"] == "Failed"
            && i["status"] == "Skipped"
            && i["message"].as_str().is_some_and(|t| {
                t.contains("StateMachine/parallel-processing") && t.contains("AccessDeniedException")
            })
            && s["summary"]["failed"] == 1
            && s["summary"]["skipped"] == 1
    })
    .await;
    live.faults(serde_json::json!({})).await;
    drop(d);
}

/// Issue 25, point 7: a YAML syntax error in a watched file is visible in `/status`
/// (`invalidManifests`, its resources kept as `Invalid`) and `/metrics`
/// (`sfn_operator_manifest_errors`); fixing the file brings both back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_is_listed_in_status_and_metrics_and_its_resources_stay_invalid_until_fixed() {
    let live = Live::start().await;
    let (dir, m) = manifests_dir();
    write_file(&m.join("x.yaml"), &machine("x", 1, GOOD_ROLE, "Retain"));
    write_file(&m.join("y.yaml"), &machine("y", 1, GOOD_ROLE, "Retain"));
    let daemon = Daemon::start(dir.path(), &live.url(), &["--resync-interval", "1h"]).await;
    poll("both synced", async || {
        daemon.resource("x").await["status"] == "Synced" && daemon.resource("y").await["status"] == "Synced"
    })
    .await;
    assert_eq!(daemon.status().await["invalidManifests"], serde_json::json!([]));
    assert_eq!(daemon.metric("sfn_operator_manifest_errors").await, 0.0);

    // An unclosed flow sequence: y.yaml no longer parses at all.
    rename_save(
        &m.join("y.yaml"),
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: y\nspec:\n  tags: [a, b\n",
    );
    poll("the syntax error listed", async || {
        daemon.status().await["invalidManifests"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    let status = daemon.status().await;
    let errors = status["invalidManifests"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{status}");
    let e = &errors[0];
    assert!(e["file"].as_str().is_some_and(|f| f.ends_with("y.yaml")), "{e}");
    assert!(e["line"].as_u64().is_some_and(|l| l > 0), "{e}");
    assert!(e["column"].as_u64().is_some_and(|c| c > 0), "{e}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    poll("y kept as Invalid", async || {
        daemon.resource("y").await["status"] == "Invalid"
    })
    .await;
    assert_eq!(daemon.resource("x").await["status"], "Synced");
    assert_eq!(daemon.metric("sfn_operator_manifest_errors").await, 1.0);
    assert_eq!(
        live.result("y").await,
        Some(Value::from(1)),
        "nothing written for y"
    );

    // Fixed (with an edit): the list empties, the metric is 0, y is Synced with the edit.
    rename_save(&m.join("y.yaml"), &machine("y", 2, GOOD_ROLE, "Retain"));
    poll("y synced again", async || {
        daemon.resource("y").await["status"] == "Synced"
    })
    .await;
    assert_eq!(daemon.status().await["invalidManifests"], serde_json::json!([]));
    assert_eq!(daemon.metric("sfn_operator_manifest_errors").await, 0.0);
    assert_eq!(live.result("y").await, Some(Value::from(2)));

    // Broken again, then fixed back to the very same content: Synced again too.
    rename_save(&m.join("y.yaml"), "kind: [\n");
    poll("y invalid again", async || {
        daemon.resource("y").await["status"] == "Invalid"
    })
    .await;
    rename_save(&m.join("y.yaml"), &machine("y", 2, GOOD_ROLE, "Retain"));
    poll("y synced after the same content came back", async || {
        daemon.resource("y").await["status"] == "Synced"
            && daemon.status().await["invalidManifests"] == serde_json::json!([])
    })
    .await;
    assert_eq!(daemon.metric("sfn_operator_manifest_errors").await, 0.0);
    assert!(daemon.terminate().await < Duration::from_secs(10));
}

/// The same for the API Gateway kinds: a file holding a `RestApi` and an `ApiIntegration` that
/// stops parsing keeps both listed as `Invalid` (the state machine in another file stays
/// `Synced`), nothing is written for them (read back with the SDK), and fixing the file (with an
/// edit) applies the edit and empties the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_in_the_api_file_keeps_the_rest_api_and_its_integration_invalid() {
    let live = Live::start().await;
    let url = live.url();
    let (dir, manifests) = manifests_dir();
    reference_system(&manifests);
    let d = Daemon::start(dir.path(), &url, &["--no-rate-limits", "--resync-interval", "1h"]).await;
    let names = ["state-machine-api", "start-execution", "parallel-processing"];
    poll("all synced", async || {
        let mut all = true;
        for n in names {
            all &= d.resource(n).await["status"] == "Synced";
        }
        all
    })
    .await;
    let conf = common::sdk_conf(&url).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    assert_eq!(live_integration(&apigw).await.map(|l| l.0), Some(29000));

    // The edit comes with a syntax error: the file does not parse, so nothing of it applies.
    let api_yaml = manifests.join("api.yaml");
    let text = std::fs::read_to_string(&api_yaml).unwrap_or_default();
    let edited = text.replace(
        "    integrationHttpMethod: POST\n",
        "    integrationHttpMethod: POST\n    timeoutInMillis: 12000\n",
    );
    rename_save(&api_yaml, &format!("{edited}  tags: [a, b\n"));
    poll("both API kinds kept as Invalid", async || {
        d.resource("state-machine-api").await["status"] == "Invalid"
            && d.resource("start-execution").await["status"] == "Invalid"
    })
    .await;
    let status = d.status().await;
    let errors = status["invalidManifests"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{status}");
    assert!(
        errors[0]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("api.yaml")),
        "{status}"
    );
    assert_eq!(d.resource("parallel-processing").await["status"], "Synced");
    assert_eq!(d.metric("sfn_operator_manifest_errors").await, 1.0);
    assert_eq!(
        live_integration(&apigw).await.map(|l| l.0),
        Some(29000),
        "nothing written while the file does not parse"
    );

    // Fixed: the edit goes live, the list empties, the metric is 0.
    rename_save(&api_yaml, &edited);
    poll("the edit live and all synced", async || {
        live_integration(&apigw).await.map(|l| l.0) == Some(12000)
            && d.resource("start-execution").await["status"] == "Synced"
            && d.resource("state-machine-api").await["status"] == "Synced"
    })
    .await;
    assert_eq!(d.status().await["invalidManifests"], serde_json::json!([]));
    assert_eq!(d.metric("sfn_operator_manifest_errors").await, 0.0);
    assert!(d.terminate().await < Duration::from_secs(10));
}

/// Issue 25, point 10: the daemon logs one `applied` line per resource its pass wrote, for every
/// kind (REST APIs and integrations as well as state machines), naming kind, name and action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_is_logged_for_every_kind_with_its_action() {
    let live = Live::start().await;
    let (dir, manifests) = manifests_dir();
    reference_system(&manifests);
    let log_path = dir.path().join("daemon.log");
    let log = std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("{e}"));
    let listen = port();
    let mut command = daemon_command(
        dir.path(),
        &live.url(),
        listen,
        &["--no-rate-limits", "--resync-interval", "1h"],
    );
    command.env("NO_COLOR", "1").stderr(log);
    let daemon = Daemon::spawn(command, listen).await;
    assert!(daemon.terminate().await < Duration::from_secs(10));
    let text = std::fs::read_to_string(&log_path).unwrap_or_else(|e| panic!("{e}"));
    let applied: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" INFO ") && l.contains("applied action=create"))
        .collect();
    for kind in ["StateMachine", "RestApi", "ApiIntegration"] {
        assert!(
            applied
                .iter()
                .any(|l| l.contains(&format!("kind={kind} resource="))),
            "an applied line for {kind}: {text}"
        );
    }
    // One line per resource written.
    let mut seen: Vec<&str> = applied
        .iter()
        .filter_map(|l| l.split("reconcile{").nth(1)?.split('}').next())
        .collect();
    let n = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), n, "{text}");
}

/// SPEC §12: a suspended machine is neither read nor created while the annotation is there; its
/// dependants go on; removing the annotation while the daemon runs reconciles it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_machine_is_untouched_until_its_annotation_is_removed_on_reload() {
    let live = Live::start().await;
    let (dir, manifests) = manifests_dir();
    let suspended = machine("x", 1, GOOD_ROLE, "Retain").replace(
        "  name: x\n",
        "  name: x\n  annotations:\n    sfn-operator.dev/suspend: \"true\"\n",
    );
    write_file(&manifests.join("x.yaml"), &suspended);
    write_file(&manifests.join("y.yaml"), &machine("y", 1, GOOD_ROLE, "Retain"));
    let d = Daemon::start(dir.path(), &live.url(), &["--resync-interval", "1h"]).await;
    let x = d.resource("x").await;
    assert_eq!(
        (x["status"].as_str(), x["health"].as_str()),
        (Some("Suspended"), Some("Suspended")),
        "{x}"
    );
    assert_eq!(d.resource("y").await["health"], "Healthy");
    assert_eq!(live.result("x").await, None, "never created while suspended");
    assert_eq!(live.result("y").await, Some(Value::from(1)));
    assert_eq!(live.requests("CreateStateMachine").await, 1, "only y");

    rename_save(&manifests.join("x.yaml"), &machine("x", 1, GOOD_ROLE, "Retain"));
    poll("x created once its annotation is gone", async || {
        live.result("x").await == Some(Value::from(1))
    })
    .await;
    poll("x Synced and Healthy", async || {
        let x = d.resource("x").await;
        x["status"] == "Synced" && x["health"] == "Healthy"
    })
    .await;
    assert!(d.terminate().await < Duration::from_secs(10));
}

/// SPEC §12: with `driftPolicy: Report`, a resync finds drift, reports it in `/status` and
/// `/metrics` and leaves it; a receiver that never answers slows no pass, and the bounded queue
/// drops (and counts) what does not fit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_drift_shows_in_status_and_metrics_and_a_silent_receiver_slows_no_pass() {
    let live = Live::start().await;
    let silent = receiver::Silent::start().await;
    let (dir, manifests) = manifests_dir();
    let report = |name: &str| {
        machine(name, 1, GOOD_ROLE, "Retain").replace("spec:\n", "spec:\n  driftPolicy: Report\n")
    };
    for name in ["x", "y", "z"] {
        write_file(&manifests.join(format!("{name}.yaml")), &report(name));
    }
    let url = format!("{}/hook/SECRETTOKEN", silent.url);
    let d = Daemon::start(
        dir.path(),
        &live.url(),
        &["--resync-interval", "1s", "--notify", &url, "--notify-queue", "1"],
    )
    .await;
    for name in ["x", "y", "z"] {
        live.sfn
            .update_state_machine()
            .state_machine_arn(arn(name))
            .definition(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":99,"End":true}}}"#)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    poll("all three Drifted in /status", async || {
        let s = d.status().await;
        s["resources"]
            .as_array()
            .is_some_and(|a| a.len() == 3 && a.iter().all(|r| r["status"] == "Drifted"))
    })
    .await;
    let x = d.resource("x").await;
    assert_eq!(x["health"], "Healthy", "{x}");
    assert_eq!(x["changes"][0]["path"], "definition.States.P.Result", "{x}");
    poll("drift counted", async || {
        d.metric("sfn_operator_drift_found_total{kind=\"StateMachine\"}")
            .await
            >= 3.0
    })
    .await;
    // One event is stuck in delivery, one waits; the third pushed the second out.
    poll("a dropped event counted", async || {
        d.metric("sfn_operator_notifications_total{result=\"dropped\"}")
            .await
            >= 1.0
    })
    .await;
    // Resyncs go on while the receiver hangs, and the drift stays.
    let synced_passes = d.status().await["resync"]["lastFullPassTime"].clone();
    poll("another resync", async || {
        d.status().await["resync"]["lastFullPassTime"] != synced_passes
    })
    .await;
    assert_eq!(live.result("x").await, Some(Value::from(99)));
    assert!(!d.status().await.to_string().contains("SECRETTOKEN"));
    assert!(d.terminate().await < Duration::from_secs(10));
}

/// A canary machine whose bake lasts an hour, watched by `alarm`.
fn canary(result: &str, alarm: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: checkout
spec:
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: P
    States:
      P: {{Type: Pass, Result: {result}, End: true}}
  aliases:
    - name: live
      rollout: {{type: Canary, percent: 10, interval: 1h, alarms: [{alarm}]}}
"
    )
}

/// The alias's routing, (version, weight), highest weight first; empty when there is no alias.
async fn alias_routing(sfn: &aws_sdk_sfn::Client) -> Vec<(u32, i32)> {
    let Ok(a) = sfn
        .describe_state_machine_alias()
        .state_machine_alias_arn(format!("{}:live", arn("checkout")))
        .send()
        .await
    else {
        return Vec::new();
    };
    let mut r: Vec<(u32, i32)> = a
        .routing_configuration()
        .iter()
        .map(|i| {
            let v = i.state_machine_version_arn().rsplit(':').next().unwrap_or("0");
            (v.parse().unwrap_or(0), i.weight())
        })
        .collect();
    r.sort_by_key(|x| std::cmp::Reverse(x.1));
    r
}

/// The alarm watch: a canary whose bake lasts an hour is rolled back as soon as its alarm is in
/// `ALARM` (nothing else could bring the machine back before the hour), and the watch reads the
/// alarms of every rollout in flight together: about one `DescribeAlarms` a second, not one per
/// machine.
#[tokio::test(flavor = "multi_thread")]
async fn the_alarm_watch_rolls_a_canary_back_long_before_its_step_is_due() {
    let live = Live::start().await;
    let conf = common::sdk_conf(&live.url()).await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&conf);
    let alarm = "checkout-errors";
    cloudwatch
        .put_metric_alarm()
        .alarm_name(alarm)
        .namespace("AWS/States")
        .metric_name("ExecutionsFailed")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", aws_sdk_cloudwatch::error::DisplayErrorContext(e)));
    let (tmp, manifests) = manifests_dir();
    write_file(&manifests.join("checkout.yaml"), &canary("1", alarm));
    let d = Daemon::start(tmp.path(), &live.url(), &[]).await;
    poll("version 1 on the alias", async || {
        alias_routing(&live.sfn).await == [(1, 100)]
    })
    .await;

    rename_save(&manifests.join("checkout.yaml"), &canary("2", alarm));
    poll("the canary", async || {
        alias_routing(&live.sfn).await == [(1, 90), (2, 10)]
    })
    .await;
    poll("Progressing in /status", async || {
        d.resource("checkout").await["status"] == "Progressing"
    })
    .await;

    // Three looks of the watch with the alarm OK: about one DescribeAlarms each.
    let described = || async {
        let v: Value = serde_json::from_str(
            &get(&format!("{}/_sandbox/requests", live.url()))
                .await
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        v["cloudwatch"]["DescribeAlarms"].as_u64().unwrap_or(0)
    };
    let before = described().await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reads = described().await - before;
    let looks = started.elapsed().as_secs_f64();
    eprintln!("{reads} DescribeAlarms in {looks:.1} s of watching one rollout");
    assert!(
        reads as f64 <= looks + 2.0,
        "{reads} alarm reads in {looks:.1} s: more than one a look"
    );

    let tripped = Instant::now();
    cloudwatch
        .set_alarm_state()
        .alarm_name(alarm)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", aws_sdk_cloudwatch::error::DisplayErrorContext(e)));
    poll("the roll back", async || {
        alias_routing(&live.sfn).await == [(1, 100)]
    })
    .await;
    eprintln!(
        "rolled back {:.2} s after the alarm",
        tripped.elapsed().as_secs_f64()
    );
    poll("Degraded in /status", async || {
        d.resource("checkout").await["status"] == "Degraded"
    })
    .await;
    let message = d.resource("checkout").await["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains(alarm), "{message}");
    d.terminate().await;
}
