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

/// Keeps the coarse clock of [`HistogramRef::start_coarse_timer`](crate::HistogramRef::start_coarse_timer)
/// fresh while it lives: a background thread refreshes the cached time every interval.
/// Dropping it stops the thread.
#[derive(Debug)]
pub struct CoarseClock {
    _upkeep: quanta::Handle,
}

/// Why the coarse clock could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoarseClockError {
    /// Another [`CoarseClock`] (or quanta upkeep thread) is already running: keep using
    /// that one.
    #[error("the coarse clock is already running: keep the CoarseClock you started first")]
    AlreadyRunning,
    /// The upkeep thread could not be spawned.
    #[error("could not spawn the coarse clock's thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// Starts refreshing the coarse clock every `interval` (1 ms is typical) until the returned
/// guard is dropped.
///
/// # Errors
///
/// [`CoarseClockError`] if one is already running or its thread cannot be spawned.
pub fn start_coarse_clock(interval: std::time::Duration) -> Result<CoarseClock, CoarseClockError> {
    match quanta::Upkeep::new(interval).start() {
        Ok(handle) => Ok(CoarseClock { _upkeep: handle }),
        Err(quanta::Error::UpkeepRunning) => Err(CoarseClockError::AlreadyRunning),
        Err(quanta::Error::FailedToSpawnUpkeepThread(e)) => Err(CoarseClockError::Spawn(e)),
    }
}
