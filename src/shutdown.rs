//! The process is shutting down (SIGINT/SIGTERM): stop taking work, finish what is in flight. One
//! process-wide flag, like the signal context of other operators, because the pass it governs is
//! the same for every caller: a resource not yet started is not started, while a resource whose
//! calls have begun gets to finish them, so nothing is left half-applied (a new definition without
//! its tags). Its transient failures are still retried, but only for [`RETRY_GRACE`] after the
//! request, so an exit is never held up for long.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long after a shutdown request in-flight resources may still retry transient failures.
pub const RETRY_GRACE: Duration = Duration::from_secs(5);

static REQUESTED: OnceLock<Instant> = OnceLock::new();

/// Asks everything running in this process to wind down.
pub fn request() {
    let _ = REQUESTED.set(Instant::now());
}

/// Whether a shutdown was asked for.
pub fn requested() -> bool {
    REQUESTED.get().is_some()
}

/// Whether in-flight work should stop retrying: a shutdown was asked for over [`RETRY_GRACE`] ago.
pub fn retries_over() -> bool {
    REQUESTED.get().is_some_and(|at| at.elapsed() >= RETRY_GRACE)
}

/// Resolves on SIGINT or SIGTERM (SIGINT only where SIGTERM cannot be listened for).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; SIGINT only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
