//! The sandbox's wall clock: the one place handlers take the time from (ids come from
//! [`crate::encoding::random_uuid_v4`]).
//!
//! Must not: be used by the interpreter's own logic (executions get time through
//! [`crate::exec::Clock`], which the runner implements over [`now_ms`]).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the system clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch with milliseconds, as AWS's JSON timestamps carry them.
pub fn now_secs() -> f64 {
    now_ms() as f64 / 1000.0
}
