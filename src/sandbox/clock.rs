//! The sandbox's wall clock and random ids: the one place handlers take the time and a UUID from.
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

/// A random version-4 UUID in its text form (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`).
pub fn uuid() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48 & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_have_the_v4_shape() {
        let id = super::uuid();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert!(
            id.as_bytes()[14] == b'4' && b"89ab".contains(&id.as_bytes()[19]),
            "{id}"
        );
    }
}
