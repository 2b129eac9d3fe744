//! The daemon drives an alias rollout on the sandbox and survives kill -9 in the middle of each
//! step (SPEC §9): the publish, a shift, the promotion and a roll back, each held by the
//! sandbox's latency fault until `/_sandbox/requests` shows the call, then the daemon killed and
//! started again. The AWS CLI is the observer: one version per change, every step seen in order,
//! and each step taken when the bake the first daemon began is over (the alias's `updateDate`, the
//! time the sandbox counted the held call). And a stand-in that fails on the new version trips
//! the alarm, and the running daemon rolls the alias back on its own.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Sandbox, rename_save};
use daemon::{Daemon, poll_within};
use rollout::{alarm_state, alias_state, machine_manifest, put_failed_alarm, routing, set_alarm, versions};

mod common;
#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/host_prefix.rs"]
mod host_prefix;
#[path = "common/rollout.rs"]
mod rollout;

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:checkout";
const ALARM: &str = "checkout-failed";
/// The bake of each step, seconds.
const BAKE: f64 = 10.0;

fn alias() -> String {
    format!("{MACHINE}:live")
}

/// A machine passing `result`, behind a `Linear` alias: 40 %, 80 %, then 100 %, 10 s apart.
fn linear(result: &str) -> String {
    machine_manifest(
        "checkout",
        &format!("{{Type: Pass, Result: {result:?}, End: true}}"),
        &format!("type: Linear, percent: 40, interval: 10s, alarms: [{ALARM}]"),
        "",
    )
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Waits until the alias's routing is no longer `from` (the CLI reads it); the routing it moved
/// to and its `updateDate`.
async fn next_routing(url: &str, from: &[(u32, u64)], limit: Duration) -> (Vec<(u32, u64)>, f64) {
    let mut seen = (from.to_vec(), 0.0);
    poll_within(&format!("the alias to move from {from:?}"), limit, async || {
        seen = alias_state(url, &alias());
        seen.0 != from
    })
    .await;
    seen
}

/// Holds every `operation` call for 5 s (the sandbox's latency fault) and zeroes the counts.
async fn hold(sandbox: &Sandbox, operation: &str) {
    sandbox
        .faults(serde_json::json!({"latencyMs": 5000, "operations": [operation]}))
        .await;
    sandbox.reset().await;
}

/// Waits until the sandbox has received a held `operation` call; when (Unix seconds).
async fn called(sandbox: &Sandbox, operation: &str, limit: Duration) -> f64 {
    poll_within(&format!("a call of {operation}"), limit, async || {
        sandbox.requests().await.count(operation) > 0
    })
    .await;
    now()
}

/// kill -9 of the daemon, the faults turned off (or `operation` held, the counts zeroed), and a
/// new daemon on the same manifests.
async fn restart(d: Daemon, sandbox: &Sandbox, dir: &Path, holding: Option<&str>) -> Daemon {
    d.kill();
    match holding {
        Some(operation) => hold(sandbox, operation).await,
        None => sandbox.faults(serde_json::json!({})).await,
    }
    Daemon::start(dir, &sandbox.url(), &[]).await
}

/// Asserts a step was taken `BAKE` after the step before it began (a second early at most: the
/// progress tag keeps whole seconds; `late` later at most: a loaded machine is slow, and a bake
/// restarted by the daemon killed half way would be `BAKE / 2` late at least, plus its start).
fn on_time(what: &str, began: f64, taken: f64, late: f64) {
    let after = taken - began;
    eprintln!("{what}: {after:.2} s after the step before it began");
    assert!(
        after >= BAKE - 1.1,
        "{what} {after:.2} s after its step began: the bake was skipped"
    );
    assert!(
        after <= BAKE + late,
        "{what} {after:.2} s after its step began: the bake was restarted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_daemon_in_each_step_publishes_one_version_skips_no_step_and_keeps_the_bake() {
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("manifests").join("checkout.yaml");
    std::fs::create_dir(file.parent().unwrap()).unwrap();
    put_failed_alarm(&url, ALARM, 600, 1, &[]);
    rename_save(&file, &linear("v1"));
    let d = Daemon::start(tmp.path(), &url, &[]).await;
    let limit = Duration::from_secs(60);
    poll_within("version 1 on the alias", limit, async || {
        versions(&url, MACHINE) == [1] && routing(&url, &alias()) == [(1, 100)]
    })
    .await;

    // Publish: the update that publishes version 2 is held, the daemon killed.
    hold(&sandbox, "UpdateStateMachine").await;
    rename_save(&file, &linear("v2"));
    called(&sandbox, "UpdateStateMachine", limit).await;
    let d = restart(d, &sandbox, tmp.path(), None).await;
    let (step1, t1) = next_routing(&url, &[(1, 100)], limit).await;
    assert_eq!(step1, [(1, 60), (2, 40)], "the first step");

    // In the bake: killed with no call in flight; the new daemon takes the next step when the
    // bake the killed one began is over, not a bake after its own start. That step's alias
    // update is held and the daemon killed again (a shift).
    let kill_at = Duration::from_secs_f64(BAKE * 0.5);
    tokio::time::sleep(kill_at.saturating_sub(Duration::from_secs_f64(now() - t1))).await;
    assert!(
        now() - t1 < BAKE - 2.0,
        "the machine is too slow: the bake was nearly over before the kill"
    );
    let d = restart(d, &sandbox, tmp.path(), Some("UpdateStateMachineAlias")).await;
    let ready = now();
    let asked = called(&sandbox, "UpdateStateMachineAlias", limit).await;
    // A daemon slow to start (a loaded machine) takes the step as soon as it is ready.
    on_time(
        "the second step, by a restarted daemon",
        t1,
        asked,
        2.5_f64.max(ready - t1 - BAKE + 2.5),
    );
    let d = restart(d, &sandbox, tmp.path(), None).await;
    let (step2, t2) = next_routing(&url, &step1, limit).await;
    assert_eq!(step2, [(2, 80), (1, 20)], "the second step, after the first");
    assert_eq!(versions(&url, MACHINE), [1, 2], "one change, one version");

    // Promote: the alias update to 100 % held, the daemon killed; the new one promotes at once.
    hold(&sandbox, "UpdateStateMachineAlias").await;
    let asked = called(&sandbox, "UpdateStateMachineAlias", limit).await;
    on_time("the promotion", t2, asked, 4.0);
    let d = restart(d, &sandbox, tmp.path(), None).await;
    let (promoted, t3) = next_routing(&url, &step2, limit).await;
    assert_eq!(promoted, [(2, 100)], "promoted after the second step");
    on_time("the promotion carried out after the restart", t2, t3, 8.0);
    assert_eq!(versions(&url, MACHINE), [1, 2]);

    // Roll back: version 3's first step, the alarm in ALARM; the alias update back to version
    // 2 held and the daemon killed; the new daemon rolls back and reports it.
    rename_save(&file, &linear("v3"));
    let (step1, _) = next_routing(&url, &promoted, limit).await;
    assert_eq!(step1, [(2, 60), (3, 40)]);
    hold(&sandbox, "UpdateStateMachineAlias").await;
    set_alarm(&url, ALARM, "ALARM");
    called(&sandbox, "UpdateStateMachineAlias", limit).await;
    let d = restart(d, &sandbox, tmp.path(), None).await;
    poll_within("the roll back", limit, async || {
        routing(&url, &alias()) == [(2, 100)]
    })
    .await;
    assert_eq!(
        versions(&url, MACHINE),
        [1, 2, 3],
        "the roll back published nothing"
    );
    poll_within("Degraded in /status", limit, async || {
        d.resource("checkout").await["status"] == "Degraded"
    })
    .await;
    let r = d.resource("checkout").await;
    let message = r["message"].as_str().unwrap_or_default();
    assert!(message.contains(ALARM) && message.contains("step 1"), "{r}");
    assert_eq!(
        d.metric("sfn_operator_rollouts_total{result=\"rolled_back\"}")
            .await,
        1.0,
        "the roll back the killed daemon began is counted by the one that finished it"
    );

    // Held: the daemon's next passes write nothing.
    sandbox.reset().await;
    let passes = d.full_passes().await;
    d.terminate().await;
    let d = Daemon::start(tmp.path(), &url, &["--resync-interval", "1s"]).await;
    d.wait_full_passes(d.full_passes().await, 2).await;
    assert_eq!(
        sandbox.requests().await.writes(),
        0,
        "held after the roll back ({passes} passes before)"
    );
    assert_eq!(routing(&url, &alias()), [(2, 100)]);
    d.terminate().await;
    sandbox.shutdown().await;
}

const FUNCTIONS: &str =
    "Good: {return: {ok: true}}\nBad: {throw: {error: Checkout.Broken, cause: version 2 fails}}\n";

/// A machine whose Task calls the stand-in `function`, behind a 10 % canary with an hour's bake.
fn calling(function: &str) -> String {
    machine_manifest(
        "checkout",
        &format!(
            "{{Type: Task, Resource: \"arn:aws:lambda:us-east-1:123456789012:function:{function}\", End: true}}"
        ),
        &format!("type: Canary, percent: 10, interval: 1h, alarms: [{ALARM}]"),
        "",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stand_in_failing_on_the_new_version_trips_the_alarm_and_the_running_daemon_rolls_back() {
    let sandbox = Sandbox::with_functions(FUNCTIONS).await;
    let url = sandbox.url();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("manifests").join("checkout.yaml");
    std::fs::create_dir(file.parent().unwrap()).unwrap();
    rename_save(&file, &calling("Good"));
    let d = Daemon::start(tmp.path(), &url, &[]).await;
    let limit = Duration::from_secs(60);
    poll_within("version 1 on the alias", limit, async || {
        routing(&url, &alias()) == [(1, 100)]
    })
    .await;
    // Version 2's failures: one in the last minute (six 10 s periods) is enough.
    put_failed_alarm(
        &url,
        ALARM,
        10,
        6,
        &[
            "--datapoints-to-alarm",
            "1",
            "--dimensions",
            &format!("Name=StateMachineArn,Value={MACHINE}:2"),
        ],
    );

    rename_save(&file, &calling("Bad"));
    poll_within("the canary", limit, async || {
        routing(&url, &alias()) == [(1, 90), (2, 10)]
    })
    .await;
    assert_eq!(d.resource("checkout").await["status"], "Progressing");
    assert_ne!(alarm_state(&url, ALARM), "ALARM", "nothing ran version 2 yet");

    // Callers through the alias until one lands on version 2 and its stand-in fails.
    let sfn = host_prefix::sfn_client(&url);
    let mut started = 0;
    let failed_at = loop {
        started += 1;
        assert!(started <= 500, "no execution ran version 2 in 500");
        let e = sfn
            .start_sync_execution()
            .state_machine_arn(alias())
            .input("{}")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", aws_sdk_sfn::error::DisplayErrorContext(e)));
        if e.status().as_str() == "FAILED" {
            assert_eq!(e.error(), Some("Checkout.Broken"));
            break Instant::now();
        }
    };
    eprintln!("execution {started} ran version 2 and failed");

    // The daemon's alarm watch sees it and rolls back; nothing else could before the hour.
    poll_within("the roll back", limit, async || {
        routing(&url, &alias()) == [(1, 100)]
    })
    .await;
    eprintln!(
        "rolled back {:.2} s after the failure",
        failed_at.elapsed().as_secs_f64()
    );
    assert_eq!(alarm_state(&url, ALARM), "ALARM");
    poll_within("Degraded in /status", limit, async || {
        d.resource("checkout").await["status"] == "Degraded"
    })
    .await;
    let r = d.resource("checkout").await;
    let message = r["message"].as_str().unwrap_or_default();
    assert!(message.contains(ALARM) && message.contains("step 1"), "{r}");
    assert_eq!(r["rollouts"][0]["phase"], "RolledBack", "{r}");
    assert_eq!(versions(&url, MACHINE), [1, 2]);
    d.terminate().await;
    sandbox.shutdown().await;
}
