//! A real headless browser for the tests: Debian's `chromium`, driven by `chromedriver` over the
//! W3C WebDriver protocol (plain HTTP and JSON, through reqwest). Each [`Browser`] has its own
//! chromedriver on a free port, its own session and a fresh profile in a temporary directory; it
//! is quit (and chromedriver killed) on drop, also when a test panics.
//!
//! scripts/test.sh installs both packages (`chromium`, `chromium-driver`) as root or through sudo;
//! without them [`Browser::start`] fails saying how to install them.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a wait for the page lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

fn binary(name: &str, package: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(name);
    if path.is_file() {
        return path;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "{name} is not installed: scripts/test.sh installs it (as root or with sudo: \
             `apt-get install -y chromium chromium-driver`, Debian package {package})"
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless chromium session with a `width`×`height` window.
    pub async fn start(width: u32, height: u32) -> Browser {
        let chromium = binary("chromium", "chromium");
        let chromedriver = binary("chromedriver", "chromium-driver");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .expect("HTTP client");
        // A port taken between choosing and binding makes chromedriver exit: choose again.
        let mut attempts = 0;
        let (driver, base) = loop {
            attempts += 1;
            let port = free_port();
            let mut driver = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run chromedriver");
            let base = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + WAIT;
            let ready = loop {
                if driver.try_wait().ok().flatten().is_some() {
                    break false;
                }
                let status = http.get(format!("{base}/status")).send().await;
                if let Ok(r) = status {
                    let v: Value = r.json().await.unwrap_or_default();
                    if v["value"]["ready"] == true {
                        break true;
                    }
                }
                assert!(Instant::now() < deadline, "chromedriver did not become ready");
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            if ready {
                break (driver, base);
            }
            let _ = driver.kill();
            let _ = driver.wait();
            assert!(attempts < 3, "chromedriver exited at start three times");
        };
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(), // root in a container has no user namespaces for the sandbox
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--force-device-scale-factor=1".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"pageLoad": 60_000, "script": 60_000, "implicit": 0}
        }}});
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            http,
            _profile: profile,
        };
        let created = browser.call("POST", "/session", caps).await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        eprintln!(
            "browser: chromium {} through chromedriver at {}",
            created["capabilities"]["browserVersion"].as_str().unwrap_or("?"),
            browser.base
        );
        browser
    }

    /// One WebDriver command; its `value`, or a panic naming the WebDriver error.
    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status();
        let v: Value = response.json().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status}: {} {}",
            v["value"]["error"],
            v["value"]["message"].as_str().unwrap_or_default()
        );
        v["value"].clone()
    }

    async fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body).await
    }

    /// Loads `url` (returns once the page has loaded).
    pub async fn go(&self, url: &str) {
        self.session_call("POST", "/url", json!({ "url": url })).await;
    }

    /// The elements `css` matches now.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self
            .session_call(
                "POST",
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element `css` matches, waiting up to [`WAIT`] for one.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on the page within {WAIT:?}:\n{}",
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn text(&self, e: &Element) -> String {
        let v = self
            .session_call("GET", &format!("/element/{}/text", e.0), Value::Null)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// An attribute of `e` (empty when it has none).
    pub async fn attribute(&self, e: &Element, name: &str) -> String {
        let path = format!("/element/{}/attribute/{name}", e.0);
        let v = self.session_call("GET", &path, Value::Null).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    pub async fn click(&self, e: &Element) {
        self.session_call("POST", &format!("/element/{}/click", e.0), json!({}))
            .await;
    }

    pub async fn clear(&self, e: &Element) {
        self.session_call("POST", &format!("/element/{}/clear", e.0), json!({}))
            .await;
    }

    /// Types `text` into `e`, key by key.
    pub async fn type_text(&self, e: &Element, text: &str) {
        self.session_call(
            "POST",
            &format!("/element/{}/value", e.0),
            json!({ "text": text }),
        )
        .await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; what it returns.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.session_call("POST", "/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Runs `script`, which calls its last argument with the result, in the page.
    pub async fn script_async(&self, script: &str, args: Value) -> Value {
        self.session_call("POST", "/execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// The current page's HTML.
    pub async fn source(&self) -> String {
        let v = self.session_call("GET", "/source", Value::Null).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    pub async fn url(&self) -> String {
        let v = self.session_call("GET", "/url", Value::Null).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The browser's console messages since the last call (chromedriver's log endpoint):
    /// `(level, message)`, e.g. `("SEVERE", "javascript … Uncaught ReferenceError: …")`.
    pub async fn console(&self) -> Vec<(String, String)> {
        let v = self
            .session_call("POST", "/se/log", json!({"type": "browser"}))
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_owned(),
                            e["message"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Fails when the browser logged an error (`SEVERE`) since the last look, saying where.
    pub async fn assert_no_console_errors(&self, place: &str) {
        let errors: Vec<String> = self
            .console()
            .await
            .into_iter()
            .filter(|(level, _)| level == "SEVERE")
            .map(|(_, m)| m)
            .collect();
        assert!(
            errors.is_empty(),
            "{place}: browser console errors:\n{}",
            errors.join("\n")
        );
    }

    /// A PNG of the viewport, or of `element` only, saved as `path` (whose path is printed).
    pub async fn screenshot(&self, element: Option<&Element>, path: &Path) {
        let endpoint = match element {
            Some(e) => format!("/element/{}/screenshot", e.0),
            None => "/screenshot".to_owned(),
        };
        let v = self.session_call("GET", &endpoint, Value::Null).await;
        let png = sfn_operator::encoding::base64_decode(v.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("artifact dir");
        }
        std::fs::write(path, &png).expect("write screenshot");
        println!("screenshot: {}", path.display());
        eprintln!("screenshot: {}", path.display());
    }
}

impl Drop for Browser {
    /// Ends the session (chromedriver then closes chromium) and stops chromedriver. Blocking and
    /// bounded: a drop may run while a test unwinds, with no runtime to await on.
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let addr = self.base.trim_start_matches("http://").to_owned();
            if let Ok(mut stream) = TcpStream::connect(&addr) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                let request = format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
                    self.session
                );
                if stream.write_all(request.as_bytes()).is_ok() {
                    let mut answer = Vec::new();
                    let _ = stream.read_to_end(&mut answer);
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where a test's screenshots go: `$CARGO_TARGET_DIR/test-artifacts/TEST/` (else `target/…`).
pub fn artifacts(test: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("test-artifacts").join(test)
}
