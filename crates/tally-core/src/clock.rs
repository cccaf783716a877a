//! Stamps for last-value gauges.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, monotonic within this process: the wall clock read
/// once at first use plus a monotonic clock's elapsed time. Never 0 (0 means "never set").
pub(crate) fn stamp_ns() -> u64 {
    static BASE: OnceLock<(Instant, u64)> = OnceLock::new();
    let (instant, wall) = *BASE.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        (Instant::now(), wall)
    });
    let elapsed = u64::try_from(instant.elapsed().as_nanos()).unwrap_or(u64::MAX);
    wall.saturating_add(elapsed).max(1)
}
