//! The daemon drives a stage canary (`ApiIntegration.spec.rollout`, SPEC §9) on its own: a
//! manifest edit puts the changed API on the stage's canary, the daemon comes back when the bake
//! is over and promotes it; a daemon killed with SIGKILL during the bake is replaced by a new one
//! that resumes from the progress tag on the REST API and promotes without a second deployment.
//! The AWS CLI reads the stage; waits poll a condition with a generous limit.

use std::time::{Duration, Instant};

use common::{Sandbox, aws_cli, rename_save};
use daemon::Daemon;
use serde_json::Value;

mod common;
#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/rollout.rs"]
mod rollout;

/// Polls `f` until it holds; fails the test after 90 s.
async fn poll(what: &str, mut f: impl FnMut() -> bool) {
    daemon::poll_within(what, Duration::from_secs(90), async || f()).await
}

fn manifests(version: &str) -> String {
    rollout::shop_manifests(version, "type: Canary, percent: 30, interval: 6s")
}

/// The stage `prod` of the API `shop`, `Null` until both exist.
fn stage(url: &str) -> Value {
    let Ok(apis) = aws_cli(url, &["apigateway", "get-rest-apis"]) else {
        return Value::Null;
    };
    let Some(api) = apis["items"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "shop"))
        .and_then(|a| a["id"].as_str())
    else {
        return Value::Null;
    };
    let mut s = aws_cli(
        url,
        &[
            "apigateway",
            "get-stage",
            "--rest-api-id",
            api,
            "--stage-name",
            "prod",
        ],
    )
    .unwrap_or(Value::Null);
    if let Ok(d) = aws_cli(url, &["apigateway", "get-deployments", "--rest-api-id", api]) {
        s["_deployments"] = d["items"].as_array().map(Vec::len).unwrap_or(0).into();
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_promotes_a_stage_canary_and_a_killed_daemon_is_resumed_without_a_second_deployment() {
    let sandbox = Sandbox::start().await;
    let url = sandbox.url();
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("manifests");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("shop.yaml");
    rename_save(&file, &manifests("1"));
    let d = Daemon::start(tmp.path(), &url, &[]).await;
    let mut base = String::new();
    poll("the stage deployed", || {
        let s = stage(&url);
        base = s["deploymentId"].as_str().unwrap_or_default().to_owned();
        !base.is_empty()
    })
    .await;

    // The edit goes to the canary; the daemon promotes it after the bake, on its own.
    rename_save(&file, &manifests("2"));
    let mut canary = String::new();
    let mut s = Value::Null;
    poll("the canary", || {
        s = stage(&url);
        canary = s["canarySettings"]["deploymentId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        !canary.is_empty()
    })
    .await;
    // The stage as it was when the canary was first seen (the bake may be over by now).
    assert_eq!(s["deploymentId"], base.as_str(), "{s}");
    assert_eq!(s["canarySettings"]["percentTraffic"], 30.0, "{s}");
    let seen = Instant::now();
    poll("the promotion", || stage(&url)["deploymentId"] == canary.as_str()).await;
    let s = stage(&url);
    assert!(s.get("canarySettings").is_none(), "{s}");
    assert_eq!(s["_deployments"], 2, "{s}");
    println!(
        "promoted {:.1} s after the canary was seen",
        seen.elapsed().as_secs_f64()
    );
    drop(d);

    // Another edit, the daemon killed during the bake, a new daemon: it resumes the rollout and
    // promotes the same canary (no second canary deployment).
    let d = Daemon::start(tmp.path(), &url, &[]).await;
    rename_save(&file, &manifests("3"));
    let mut third = String::new();
    poll("the second canary", || {
        let s = stage(&url);
        third = s["canarySettings"]["deploymentId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        !third.is_empty()
    })
    .await;
    d.kill();
    let _d = Daemon::start(tmp.path(), &url, &[]).await;
    poll("the promotion after the restart", || {
        stage(&url)["deploymentId"] == third.as_str()
    })
    .await;
    let s = stage(&url);
    assert!(s.get("canarySettings").is_none(), "{s}");
    assert_eq!(s["_deployments"], 3, "one deployment per configuration: {s}");
    sandbox.shutdown().await;
}
