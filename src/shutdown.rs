//! The process is shutting down (SIGINT/SIGTERM in the daemon): stop taking work, finish what is
//! in flight. One process-wide flag, like the signal context of other operators, because the pass
//! it governs is the same for every caller: a resource not yet started is not started, and a
//! transient failure is not retried, but AWS calls already sent run to their end, so a resource
//! whose writes have begun gets its remaining writes rather than being cut in half.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks everything running in this process to wind down.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a shutdown was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
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
