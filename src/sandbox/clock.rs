//! The sandbox's wall clock and dice: the one place handlers take the time and chance from (ids come from
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

/// The sandbox's dice: which version an alias starts and whether a stage's canary serves a
/// request. Seeded from `SFN_OPERATOR_SANDBOX_SEED` when set (a run is then repeatable, for
/// tests), else from the OS.
static DICE: std::sync::Mutex<Option<fastrand::Rng>> = std::sync::Mutex::new(None);

/// Seeds the dice (as `SFN_OPERATOR_SANDBOX_SEED` does), for a repeatable run in process.
pub fn seed_dice(seed: u64) {
    if let Ok(mut dice) = DICE.lock() {
        *dice = Some(fastrand::Rng::with_seed(seed));
    }
}

/// A number in `0..n` (0 when `n` is 0).
pub fn roll(n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    let Ok(mut dice) = DICE.lock() else {
        return fastrand::u32(0..n);
    };
    let rng = dice.get_or_insert_with(|| {
        match std::env::var("SFN_OPERATOR_SANDBOX_SEED")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        }
    });
    rng.u32(0..n)
}
