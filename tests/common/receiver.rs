//! Webhook receivers for the notification tests, real HTTP on 127.0.0.1: [`Receiver`] records
//! every body POSTed to it and answers 500 to the first `fail_first` requests, or to every request
//! for a while ([`Receiver::start_down_for`]): a receiver that is down, then recovers; [`Silent`]
//! accepts connections and never answers.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

#[derive(Default)]
struct Seen {
    fail_first: usize,
    /// Answer 500 to every request before this time.
    down_until: Option<Instant>,
    failed: usize,
    delivered: Vec<Value>,
    /// When each delivered body came.
    delivered_at: Vec<Instant>,
}

/// A receiver that fails its first requests, then takes every event.
pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    /// Starts a receiver answering 500 to its first `fail_first` requests.
    pub async fn start(fail_first: usize) -> Receiver {
        let seen = Arc::new(Mutex::new(Seen {
            fail_first,
            ..Seen::default()
        }));
        let app = axum::Router::new()
            .fallback(axum::routing::post(take))
            .with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, seen }
    }

    /// Starts a receiver that answers 500 to every request for `down` (from now), then 200.
    pub async fn start_down_for(down: Duration) -> Receiver {
        let r = Receiver::start(0).await;
        r.seen.lock().unwrap().down_until = Some(Instant::now() + down);
        r
    }

    /// Answers 500 to every request from now for `down`, then 200 (moves the end of an outage
    /// already under way).
    pub fn down_for(&self, down: Duration) {
        self.seen.lock().unwrap().down_until = Some(Instant::now() + down);
    }

    /// When the receiver answers 200 again ([`Receiver::start_down_for`], [`Receiver::down_for`]).
    pub fn up_at(&self) -> Option<Instant> {
        self.seen.lock().unwrap().down_until
    }

    /// When each delivered body came, in order.
    pub fn delivered_at(&self) -> Vec<Instant> {
        self.seen.lock().unwrap().delivered_at.clone()
    }

    /// The bodies it answered 200 to, in the order they came.
    pub fn delivered(&self) -> Vec<Value> {
        self.seen.lock().unwrap().delivered.clone()
    }

    /// The requests it answered 500 to.
    pub fn failed(&self) -> usize {
        self.seen.lock().unwrap().failed
    }
}

async fn take(State(seen): State<Arc<Mutex<Seen>>>, Json(body): Json<Value>) -> StatusCode {
    let mut s = seen.lock().unwrap();
    if s.failed < s.fail_first || s.down_until.is_some_and(|t| Instant::now() < t) {
        s.failed += 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    s.delivered.push(body);
    s.delivered_at.push(Instant::now());
    StatusCode::OK
}

/// A receiver that accepts connections and never answers (held until dropped).
pub struct Silent {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Silent {
    pub async fn start() -> Silent {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        Silent { url, task }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}
