//! A seeded property test of rollouts driven by the daemon on the sandbox (SPEC §9): random
//! sequences of manifest changes, alarm flips (`aws cloudwatch set-alarm-state`) and restarts of
//! the daemon (kill -9, then a new one) end with the alias on the newest healthy version, every
//! version holding the configuration of the change that published it (so one version per
//! configuration, and none for a restart or a lost pass), and `versionRetention` respected. The
//! seed is `PROPERTY_SEED` or random, printed. The AWS CLI reads every outcome; a small model
//! of what the rollouts may have done is checked after each step.
//!
//! The model: each change publishes the next version number. A change with the alarm off starts
//! a rollout (in flight); one with the alarm on is rolled back at once. An alarm turned on during
//! a rollout rolls it back (or finds it promoted, if the bake ended first); a wait with the alarm
//! off sees it promoted. Which version serves between those is a set of candidates, never a guess.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::{Sandbox, rename_save};
use daemon::{Daemon, poll_within};
use rollout::{machine_manifest, put_failed_alarm, routing, set_alarm, tags, version_definition, versions};

mod common;
#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/rollout.rs"]
mod rollout;

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:orders";
const ALARM: &str = "orders-failed";
const LIMIT: Duration = Duration::from_secs(45);

fn alias() -> String {
    format!("{MACHINE}:live")
}

/// The machine holding configuration `config` (its `Result`), behind alias `live`.
fn manifest(config: u32, rollout: &str, retention: u32) -> String {
    machine_manifest(
        "orders",
        &format!("{{Type: Pass, Result: config-{config}, End: true}}"),
        &format!("{rollout}, interval: 2s, alarms: [{ALARM}]"),
        &format!("  versionRetention: {retention}\n"),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Change,
    AlarmOn,
    AlarmOff,
    Restart,
    Wait,
}

fn steps(rng: &mut fastrand::Rng, n: usize) -> Vec<Step> {
    let mut out: Vec<Step> = (0..n)
        .map(|_| match rng.u32(0..20) {
            0..7 => Step::Change,
            7..10 => Step::AlarmOn,
            10..13 => Step::AlarmOff,
            13..17 => Step::Restart,
            _ => Step::Wait,
        })
        .collect();
    // Every sequence restarts the daemon and changes the manifest at least once.
    if !out.contains(&Step::Restart) {
        out[rng.usize(1..n)] = Step::Restart;
    }
    if !out.contains(&Step::Change) {
        out[0] = Step::Change;
    }
    out
}

/// What the test knows of the rollouts.
struct Model {
    /// The newest version (each change publishes the next number; version n holds config-n).
    newest: u32,
    /// The version of a rollout that may be in progress (started with the alarm off, not seen
    /// ended since).
    in_flight: Option<u32>,
    /// The versions that may serve 100 % when nothing is in flight (the `from` of one in flight).
    serving: BTreeSet<u32>,
    /// Versions seen rolled back.
    rolled_back: BTreeSet<u32>,
    alarm: bool,
    /// The alarm has been off since the last change.
    clean: bool,
}

/// The routing when the alias serves one version: that version.
fn single(r: &[(u32, u64)]) -> Option<u32> {
    match r {
        [(v, 100)] => Some(*v),
        _ => None,
    }
}

/// The progress tag of alias `live`, as the CLI lists the machine's tags.
fn progress(url: &str) -> String {
    tags(url, MACHINE)
        .remove("sfn-operator.dev/rollout.live")
        .unwrap_or_default()
}

async fn run_seed(seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let rollout = if rng.bool() {
        "type: Canary, percent: 20"
    } else {
        "type: Linear, percent: 50"
    };
    let retention = rng.u32(1..=2);
    let plan = steps(&mut rng, 8);
    eprintln!("PROPERTY_SEED={seed}: {rollout}, versionRetention {retention}, steps {plan:?}");

    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("manifests").join("orders.yaml");
    std::fs::create_dir(file.parent().unwrap()).unwrap();
    put_failed_alarm(&url, ALARM, 600, 1, &[]);
    rename_save(&file, &manifest(1, rollout, retention));
    let mut d = Daemon::start(tmp.path(), &url, &[]).await;
    poll_within("version 1 on the alias", LIMIT, async || {
        routing(&url, &alias()) == [(1, 100)]
    })
    .await;
    let mut m = Model {
        newest: 1,
        in_flight: None,
        serving: BTreeSet::from([1]),
        rolled_back: BTreeSet::new(),
        alarm: false,
        clean: true,
    };

    for (i, step) in plan.iter().enumerate() {
        eprintln!("seed {seed} step {i}: {step:?}");
        match step {
            Step::Change => change(&url, &file, &mut m, rollout, retention).await,
            Step::AlarmOn => {
                set_alarm(&url, ALARM, "ALARM");
                m.alarm = true;
                m.clean = false;
                settle(&url, &mut m, "the alarm on").await;
            }
            Step::AlarmOff => {
                set_alarm(&url, ALARM, "OK");
                m.alarm = false;
            }
            Step::Restart => {
                d.kill();
                d = Daemon::start(tmp.path(), &url, &[]).await;
            }
            Step::Wait => settle(&url, &mut m, "a wait").await,
        }
    }

    // The end: the alarm off, any rollout in flight over.
    set_alarm(&url, ALARM, "OK");
    m.alarm = false;
    settle(&url, &mut m, "the end").await;
    check_end(&url, &m, retention, seed).await;
    d.terminate().await;
    sandbox.shutdown().await;
}

/// A new configuration: one new version; its rollout in flight (alarm off) or rolled back at
/// once (alarm on).
async fn change(url: &str, file: &Path, m: &mut Model, rollout: &str, retention: u32) {
    let n = m.newest + 1;
    rename_save(file, &manifest(n, rollout, retention));
    poll_within(&format!("version {n} published"), LIMIT, async || {
        versions(url, MACHINE).last() == Some(&n)
    })
    .await;
    // A rollout superseded by this change may have been promoted before it.
    m.serving.extend(m.in_flight.take());
    m.newest = n;
    m.clean = !m.alarm;
    if m.alarm {
        poll_within(&format!("version {n} rolled back"), LIMIT, async || {
            let p = progress(url);
            p.contains(&format!("to={n} ")) && p.contains("phase=rolledback")
        })
        .await;
        m.rolled_back.insert(n);
        let r = routing(url, &alias());
        let v = single(&r).unwrap_or_else(|| panic!("rolled back but routed {r:?}"));
        assert!(
            m.serving.contains(&v),
            "rolled back to {v}, not one of {:?}",
            m.serving
        );
        m.serving = BTreeSet::from([v]);
    } else {
        poll_within(&format!("version {n} on the alias"), LIMIT, async || {
            routing(url, &alias()).iter().any(|(v, w)| *v == n && *w > 0)
        })
        .await;
        m.in_flight = Some(n);
    }
}

/// Waits for a rollout in flight to end (promoted with the alarm off; rolled back, or found
/// promoted, with it on) and checks that the alias serves one version the model allows.
async fn settle(url: &str, m: &mut Model, when: &str) {
    let mut r = Vec::new();
    poll_within(
        &format!("a single version on the alias after {when}"),
        LIMIT,
        async || {
            r = routing(url, &alias());
            single(&r).is_some()
        },
    )
    .await;
    let v = single(&r).unwrap_or_default();
    match m.in_flight.take() {
        Some(n) if v == n => m.serving = BTreeSet::from([n]),
        Some(n) => {
            assert!(
                m.alarm,
                "{when}: version {n} not promoted with the alarm off: {r:?}"
            );
            m.rolled_back.insert(n);
            assert!(
                m.serving.contains(&v),
                "{when}: {v} serves, not one of {:?}",
                m.serving
            );
            m.serving = BTreeSet::from([v]);
        }
        None => {
            assert!(
                m.serving.contains(&v),
                "{when}: {v} serves, not one of {:?}",
                m.serving
            );
            m.serving = BTreeSet::from([v]);
        }
    }
}

async fn check_end(url: &str, m: &Model, retention: u32, seed: u64) {
    let r = routing(url, &alias());
    let v = single(&r).unwrap_or_else(|| panic!("seed {seed}: the alias ends split: {r:?}"));
    eprintln!(
        "seed {seed}: ends on version {v} of {}; rolled back {:?}",
        m.newest, m.rolled_back
    );
    assert!(
        !m.rolled_back.contains(&v),
        "seed {seed}: ends on rolled back version {v}"
    );
    if m.clean {
        assert_eq!(
            v, m.newest,
            "seed {seed}: the last change, never alarmed, is not live"
        );
    }

    // Retention: the versions beyond `retention` that are not protected (routed, or the `from`
    // and `to` of the progress) are gone, the oldest first; no protected one is.
    let tag = progress(url);
    let field = |k: &str| -> Option<u32> {
        tag.split(' ')
            .find_map(|p| p.strip_prefix(&format!("{k}=")))
            .and_then(|n| n.parse().ok())
    };
    let protected: BTreeSet<u32> = [Some(v), field("to"), field("from")]
        .into_iter()
        .flatten()
        .collect();
    let mut listed = Vec::new();
    poll_within("versionRetention applied", LIMIT, async || {
        listed = versions(url, MACHINE);
        listed.iter().filter(|n| !protected.contains(n)).count() <= retention as usize
    })
    .await;
    eprintln!("seed {seed}: versions {listed:?}, protected {protected:?}, retention {retention}");
    assert!(
        protected.iter().all(|p| listed.contains(p)),
        "seed {seed}: a protected version was deleted"
    );
    assert_eq!(
        listed.last(),
        Some(&m.newest),
        "seed {seed}: no version beyond the changes"
    );
    let kept_free: Vec<u32> = listed
        .iter()
        .copied()
        .filter(|n| !protected.contains(n))
        .collect();
    let deleted: Vec<u32> = (1..=m.newest).filter(|n| !listed.contains(n)).collect();
    assert!(
        deleted.iter().all(|d| kept_free.iter().all(|k| d < k)),
        "seed {seed}: deleted {deleted:?} while keeping older {kept_free:?}"
    );

    // One version per configuration: version n holds config-n, the change that published it.
    for n in &listed {
        let definition = version_definition(url, MACHINE, *n);
        assert!(
            definition.contains(&format!("\"config-{n}\"")),
            "seed {seed}: version {n} holds {definition}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_changes_alarms_and_restarts_end_on_the_newest_healthy_version() {
    let seeds: Vec<u64> = match std::env::var("PROPERTY_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => (0..3).map(|_| fastrand::u64(..)).collect(),
    };
    eprintln!("PROPERTY_SEED values: {seeds:?}");
    for seed in seeds {
        run_seed(seed).await;
    }
}
