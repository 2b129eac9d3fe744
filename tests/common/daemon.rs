//! The daemon (`sfn-operator reconcile PATH` without `--once`) as a child process of a test: started
//! on a free port, waited for until `/readyz` answers, read through `/status` and `/metrics`, and
//! stopped with SIGTERM (or killed when dropped). Waits poll a condition with a deadline.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A child process killed when dropped.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on 127.0.0.1.
pub fn port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Polls `f` every 100 ms until it holds; fails the test after 60 s.
pub async fn poll(what: &str, f: impl AsyncFnMut() -> bool) {
    poll_within(what, Duration::from_secs(60), f).await
}

/// Polls `f` every 100 ms until it holds; fails the test after `limit`.
pub async fn poll_within(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// The body of a successful GET, `None` otherwise.
pub async fn get(url: &str) -> Option<String> {
    let r = reqwest::get(url).await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.text().await.ok()
}

/// `sfn-operator reconcile manifests` (the daemon) in `dir`, against `endpoint`, listening on
/// `listen`, with test credentials; stdout discarded, stderr left to the caller.
pub fn daemon_command(dir: &Path, endpoint: &str, listen: u16, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sfn-operator"));
    c.current_dir(dir)
        .args([
            "reconcile",
            "manifests",
            "--listen",
            &format!("127.0.0.1:{listen}"),
        ])
        .args(["--endpoint-url", endpoint, "--region", "us-east-1"])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::null());
    c
}

/// A daemon child process on a manifest directory.
pub struct Daemon {
    pub child: Kill,
    /// `http://127.0.0.1:PORT` of `/status`, `/metrics`, `/readyz`.
    pub base: String,
}

impl Daemon {
    /// Starts a daemon on `dir/manifests` (its log on the test's stderr) and waits until it is ready.
    pub async fn start(dir: &Path, endpoint: &str, extra: &[&str]) -> Daemon {
        let listen = port();
        let mut command = daemon_command(dir, endpoint, listen, extra);
        command.stderr(Stdio::inherit());
        Daemon::spawn(command, listen).await
    }

    /// Spawns `command`, a daemon listening on `listen`, and waits until it is ready.
    pub async fn spawn(mut command: Command, listen: u16) -> Daemon {
        let child = command.spawn().unwrap_or_else(|e| panic!("{e}"));
        let daemon = Daemon {
            child: Kill(child),
            base: format!("http://127.0.0.1:{listen}"),
        };
        poll("ready", async || {
            get(&format!("{}/readyz", daemon.base)).await.is_some()
        })
        .await;
        daemon
    }

    /// `/status` (`Value::Null` when it does not answer).
    pub async fn status(&self) -> Value {
        let text = get(&format!("{}/status", self.base)).await.unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_default()
    }

    /// `/status` of one resource (`Value::Null` when it is not listed).
    pub async fn resource(&self, name: &str) -> Value {
        let s = self.status().await;
        s["resources"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == name).cloned())
            .unwrap_or_default()
    }

    /// The value of one metric line (`name{labels}`), 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = get(&format!("{}/metrics", self.base)).await.unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// The full passes finished so far (`/status` `resync.fullPasses`; the first pass is one).
    pub async fn full_passes(&self) -> u64 {
        self.status().await["resync"]["fullPasses"].as_u64().unwrap_or(0)
    }

    /// Waits until `n` more full passes than `since` have finished; the count reached.
    pub async fn wait_full_passes(&self, since: u64, n: u64) -> u64 {
        let mut reached = since;
        poll(&format!("{n} full passes after pass {since}"), async || {
            reached = self.full_passes().await;
            reached >= since + n
        })
        .await;
        reached
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// kill -9: SIGKILL, no chance to finish anything, and waits for the process to be gone.
    pub fn kill(mut self) {
        self.child.0.kill().unwrap_or_else(|e| panic!("SIGKILL: {e}"));
        let _ = self.child.0.wait();
    }

    /// Sends SIGTERM and returns how long the exit took; asserts exit code 0.
    pub async fn terminate(mut self) -> Duration {
        let pid = self.pid().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .is_ok_and(|s| s.success())
        );
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.0.try_wait() {
                assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
                return start.elapsed();
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no exit after SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
