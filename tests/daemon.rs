//! The daemon as a user runs it: the real binary against moto (an independent AWS peer). An edit
//! in place is applied without a restart, a second daemon is refused naming the lock, and
//! SIGTERM exits 0. Waits poll a condition with a generous limit.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        .unwrap_or_else(|e| panic!("{e}"))
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

async fn get(url: &str) -> Option<String> {
    let r = reqwest::get(url).await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.text().await.ok()
}

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
    let venv = std::env::var("SFN_OPERATOR_PEERS_VENV").unwrap_or_else(|_| "/work/.venv-peers".into());
    let moto_bin = Path::new(&venv).join("bin/moto_server");
    assert!(moto_bin.exists(), "{} missing", moto_bin.display());
    let moto_port = port();
    let _moto = Kill(
        Command::new(&moto_bin)
            .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    poll("moto", async || {
        get(&format!("http://127.0.0.1:{moto_port}/moto-api/"))
            .await
            .is_some()
    })
    .await;

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap_or_else(|e| panic!("{e}"));
    let file = manifests.join("m.yaml");
    std::fs::write(&file, MANIFEST.replace("RESULT", "1")).unwrap_or_else(|e| panic!("{e}"));
    let listen = port();
    let daemon = |listen: u16| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sfn-operator"));
        c.current_dir(dir.path())
            .args([
                "reconcile",
                "manifests",
                "--listen",
                &format!("127.0.0.1:{listen}"),
            ])
            .args(["--endpoint-url", &format!("http://127.0.0.1:{moto_port}")])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    let mut first = Kill(daemon(listen).spawn().unwrap_or_else(|e| panic!("{e}")));
    let base = format!("http://127.0.0.1:{listen}");
    poll("ready", async || get(&format!("{base}/readyz")).await.is_some()).await;

    // Edit in place: applied without a restart.
    std::fs::write(&file, MANIFEST.replace("RESULT", "2")).unwrap_or_else(|e| panic!("{e}"));
    poll("the edit to be applied", async || {
        get(&format!("{base}/status")).await.is_some_and(|s| {
            let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_default();
            v["resources"][0]["status"] == "Synced"
                && v["resources"][0]["changes"].to_string().contains("\"after\":2")
        })
    })
    .await;

    // A second daemon on the same manifests is refused, naming the lock and the holder.
    let second = daemon(port()).output().unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(
        err.contains(".sfn-operator/lock") && err.contains(&format!("pid {}", first.0.id())),
        "{err}"
    );

    // SIGTERM: exit 0 within 10 s.
    let pid = first.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success())
    );
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = first.0.try_wait() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no exit within 10 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
