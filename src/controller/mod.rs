//! The daemon of SPEC §6: a loop around the same pass as `reconcile --once`. It decides *when*
//! and *what* to reconcile (file events, resync, retries); the reconciler decides *how*. The
//! command wires these parts together (`commands/reconcile.rs`).
//!
//! Must not: import `cli` or `commands` (it takes plain values), or write to AWS itself.

pub mod alarms;
pub mod daemon;
pub mod http;
pub mod notify;
pub use crate::lock;
pub mod queue;
pub mod status;
pub mod watcher;

use std::time::Duration;

/// How long in-flight reconciles may take to finish after SIGINT/SIGTERM (SPEC §6: exit within 10 s).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// The share of every AWS quota the daemon's full passes (the first one and every resync) keep
/// to: other tools in the account share the quotas, and a resync is never urgent.
pub const RESYNC_QUOTA_SHARE: f64 = 0.5;
