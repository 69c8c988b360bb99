//! Wall-clock time as UTC Unix milliseconds, the one time representation stored on both backends.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The current time in UTC Unix milliseconds.
pub fn now_ms() -> Millis {
    // A clock before 1970 is a broken machine; clamp rather than panic.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds elapsed from `earlier` to `later` (never negative: clock skew counts as zero).
pub fn seconds_between(earlier: Millis, later: Millis) -> f64 {
    ((later - earlier).max(0)) as f64 / 1000.0
}
