//! Transient failures on every call, reads included, are retried until `--timeout` (SPEC §4):
//! `reconcile --once` on the reference manifests converges under 30 % throttling and 5xx, and the
//! pass after it (faults off) writes nothing and `diff` finds nothing to do. Against the sandbox
//! (its own faults, `POST /_sandbox/faults`) and against moto through a fault proxy
//! (`common/fault_proxy.rs`). Three seeds each, printed; `SFN_OPERATOR_FAULTS_SEED=N` runs one.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;

use fault_proxy::{FaultProxy, Faults};

/// Seeds that, before the fix, each left an integration Failed against moto (a faulted
/// PutMethodResponse whose existence check moto answers 500 to, retried until `--timeout`).
const SEEDS: [u64; 3] = [4, 6, 14];
/// Throttled share and 5xx share of every call: 30 % in all.
const THROTTLE: f64 = 0.15;
const UNAVAILABLE: f64 = 0.15;

fn seeds() -> Vec<u64> {
    match std::env::var("SFN_OPERATOR_FAULTS_SEED") {
        Ok(s) => vec![s.parse().expect("SFN_OPERATOR_FAULTS_SEED is a number")],
        Err(_) => SEEDS.to_vec(),
    }
}

fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests")
}

async fn run(url: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.push("--no-rate-limits");
    common::run_binary_async(&manifests(), url, &all).await
}

fn resources(out: &Output) -> Vec<Value> {
    common::report(out)["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The faulted pass converged: exit 0 and every resource Synced.
fn assert_converged(ctx: &str, out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{ctx}: the pass under faults did not converge:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rs = resources(out);
    assert!(!rs.is_empty(), "{ctx}: empty report");
    for r in &rs {
        assert_eq!(r["status"], "Synced", "{ctx}: {r}");
    }
}

/// The pass after a converged one: exit 0, nothing to do.
fn assert_noop(ctx: &str, out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{ctx}: second pass failed");
    for r in resources(out) {
        assert_eq!(r["action"], "noop", "{ctx}: second pass changed something: {r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandbox_faults_on_every_call_converge_then_nothing_to_write() {
    for seed in seeds() {
        eprintln!("sandbox faults: seed {seed} (SFN_OPERATOR_FAULTS_SEED={seed} replays it)");
        let ctx = format!("sandbox, seed {seed}");
        let sandbox = common::Sandbox::start().await;
        let url = sandbox.url();
        sandbox
            .faults(json!({"throttle": THROTTLE, "error": UNAVAILABLE, "latencyMs": 1, "seed": seed}))
            .await;
        let out = run(&url, &["reconcile", "--once"]).await;
        let counts = sandbox.requests().await;
        eprintln!("{ctx}: {}", counts.0);
        assert_converged(&ctx, &out);
        assert!(
            counts.injected() > 0,
            "{ctx}: no fault was injected: {}",
            counts.0
        );

        sandbox.faults(json!({})).await;
        sandbox.reset().await;
        let again = run(&url, &["reconcile", "--once"]).await;
        assert_noop(&ctx, &again);
        let counts = sandbox.requests().await;
        assert_eq!(counts.writes(), 0, "{ctx}: second pass wrote: {}", counts.0);
        let diff = run(&url, &["diff"]).await;
        assert_eq!(diff.status.code(), Some(0), "{ctx}: diff after convergence");
        sandbox.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moto_through_a_fault_proxy_converges_then_nothing_to_write() {
    let moto = common::start_moto().await;
    let proxy = FaultProxy::start(&moto.url).await;
    for seed in seeds() {
        eprintln!("moto faults: seed {seed} (SFN_OPERATOR_FAULTS_SEED={seed} replays it)");
        let ctx = format!("moto, seed {seed}");
        let reset = reqwest::Client::new()
            .post(format!("{}/moto-api/reset", moto.url))
            .send()
            .await
            .unwrap();
        assert!(reset.status().is_success());
        proxy.reset();
        proxy.set_faults(Faults {
            throttle: THROTTLE,
            unavailable: UNAVAILABLE,
            seed,
        });
        let out = run(&proxy.url, &["reconcile", "--once"]).await;
        let injected = proxy.injected();
        let mut faulted: Vec<&str> = injected.iter().map(|i| i.operation.as_str()).collect();
        faulted.sort();
        faulted.dedup();
        eprintln!("{ctx}: {} answers faulted, on {faulted:?}", injected.len());
        assert_converged(&ctx, &out);
        assert!(!injected.is_empty(), "{ctx}: no fault was injected");

        proxy.set_faults(Faults::default());
        proxy.reset();
        let again = run(&proxy.url, &["reconcile", "--once"]).await;
        assert_noop(&ctx, &again);
        let writes = proxy.writes();
        assert!(writes.is_empty(), "{ctx}: second pass wrote: {writes:?}");
        let diff = run(&proxy.url, &["diff"]).await;
        assert_eq!(diff.status.code(), Some(0), "{ctx}: diff after convergence");
    }
}

/// The read operations in a `/_sandbox/requests` snapshot (service, operation).
fn reads(counts: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for service in ["sfn", "apigateway", "sts", "tagging"] {
        if let Some(ops) = counts[service].as_object() {
            for op in ops.keys() {
                let read = ["Get", "Describe", "List"].iter().any(|p| op.starts_with(p));
                if read && !out.contains(op) {
                    out.push(op.clone());
                }
            }
        }
    }
    out
}

/// Every read a pass makes, creating and in sync, faulted on its own: its first call fails (the
/// seed is chosen so), and the pass still converges. The reads are the ones the sandbox counted
/// in an unfaulted create pass and in-sync pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_read_of_a_pass_is_retried_when_it_fails() {
    let probe = common::Sandbox::start().await;
    run(&probe.url(), &["reconcile", "--once"]).await;
    let mut ops = reads(&probe.requests().await.0);
    probe.reset().await;
    run(&probe.url(), &["reconcile", "--once"]).await;
    for op in reads(&probe.requests().await.0) {
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    probe.shutdown().await;
    for name in ["DescribeStateMachine", "GetRestApis", "GetResources", "GetStages"] {
        assert!(
            ops.iter().any(|o| o == name),
            "{name} not among the reads {ops:?}"
        );
    }
    // A seed whose first draw is a fault (a throttle below 0.25, a 5xx below 0.5) and whose next
    // three are not, so each read fails once and the retries stay short.
    let seed = (1u64..)
        .find(|s| {
            let mut rng = fastrand::Rng::with_seed(*s);
            rng.f64() < 0.5 && (0..3).all(|_| rng.f64() >= 0.5)
        })
        .unwrap();
    for op in &ops {
        let ctx = format!("{op} faulted (seed {seed})");
        eprintln!("{ctx}");
        let sandbox = common::Sandbox::start().await;
        let url = sandbox.url();
        sandbox
            .faults(json!({"throttle": 0.25, "error": 0.25, "seed": seed, "operations": [op]}))
            .await;
        let created = run(&url, &["reconcile", "--once"]).await;
        assert_converged(&ctx, &created);
        let in_sync = run(&url, &["reconcile", "--once"]).await;
        assert_noop(&ctx, &in_sync);
        let counts = sandbox.requests().await;
        assert!(counts.injected() > 0, "{ctx}: never faulted: {}", counts.0);
        sandbox.shutdown().await;
    }
}
