//! [`LockStats`], the set every monitored lock records into, and the two events it records.
//!
//! # The two events
//!
//! - **Acquisition**, recorded once the lock is held: `acquisitions + 1`, `shared + 1` for a
//!   read lock, `contended + 1` if the first `try_lock` failed, and the wait into
//!   `wait_ns` (0 when the `try_lock` succeeded: an uncontended acquisition waits for
//!   nothing, so the clock is not read for it).
//! - **Release**, recorded when the guard drops, after the lock is released: the hold time
//!   into `hold_ns`.
//!
//! Each is one tally event, so in every snapshot `wait_ns.count() == acquisitions`,
//! `contended <= acquisitions` and `shared <= acquisitions` hold, and once every guard is
//! dropped `hold_ns.count() == acquisitions`. Between the two events a snapshot shows the
//! guards held now: `acquisitions - hold_ns.count()` (exactly so within one thread; see
//! [`LockStats`] for guards released on another thread than the one that took them).
//!
//! # The clock
//!
//! Wait and hold times are read from `quanta::Instant::recent()`: quanta's TSC-based clock
//! (about half the cost of `std::time::Instant` here), or, while the process runs tally's
//! coarse clock ([`tally::start_coarse_clock`]), a plain memory read whose resolution is the
//! clock's interval. The hold time costs two reads per critical section whatever the
//! choice; the wait time costs two more reads, only when the acquisition was contended.
//! The crate's `CONCURRENCY.md` ("What monitoring costs") has the measured figures.

use std::sync::Arc;
use std::time::Duration;

tally::metric_set! {
    /// What one lock (or a group of locks sharing the set) did: acquisitions, how many had
    /// to wait, how long they waited and how long the lock was held.
    ///
    /// Each acquisition is one event and each release another (see the crate docs), so in
    /// every snapshot `wait_ns.count() == acquisitions` and `contended <= acquisitions`.
    ///
    /// Share one set among several locks by passing the same `Arc<LockStats>` to their
    /// `with_stats` constructors, or register it in a [`tally::Registry`] first:
    ///
    /// ```
    /// use tally_sync::{LockStats, MonitoredMutex};
    ///
    /// let registry = tally::Registry::new();
    /// let stats = registry.register::<LockStats>("cache_locks", "The cache's shard locks.").unwrap();
    /// let shards: Vec<_> = (0..4).map(|_| MonitoredMutex::with_stats(0u64, stats.clone())).collect();
    /// for shard in &shards {
    ///     *shard.lock() += 1;
    /// }
    /// assert_eq!(stats.snapshot().acquisitions, 4);
    /// assert_eq!(registry.snapshot().metrics["cache_locks"].series.len(), 1);
    /// ```
    ///
    /// A guard released on another thread than the one that took it (the async mutex's
    /// guard can move between a runtime's threads) records its release there. Counts stay
    /// exact, but a snapshot is a cut of per-thread prefixes (`docs/DESIGN.md`), so while
    /// guards are moving it may count a release whose acquisition it does not count yet.
    pub struct LockStats {
        /// Acquisitions, exclusive and shared.
        acquisitions: Counter,
        /// Of the acquisitions, those in shared (read) mode.
        shared: Counter,
        /// Of the acquisitions, those whose first `try_lock` failed and that had to wait.
        contended: Counter,
        /// How long each acquisition waited (0 when uncontended).
        wait_ns: Histogram,
        /// How long each guard held the lock.
        hold_ns: Histogram,
    }
}

/// The clock behind wait and hold times: see the module docs.
#[inline(always)]
pub(crate) fn now() -> quanta::Instant {
    quanta::Instant::recent()
}

#[inline(always)]
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Whether an acquisition is exclusive or shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Exclusive,
    Shared,
}

/// Records the acquisition event and starts the hold timer. `wait` is `None` when the
/// first `try_lock` succeeded.
#[inline(always)]
pub(crate) fn acquired(
    stats: &LockStats,
    mode: Mode,
    wait: Option<Duration>,
    held_since: quanta::Instant,
) -> Hold<'_> {
    record_acquisition(stats, mode, wait);
    Hold { stats, since: held_since }
}

/// [`acquired`], for a guard that owns its lock (and so a reference to the statistics).
#[cfg(feature = "tokio")]
pub(crate) fn acquired_owned(
    stats: Arc<LockStats>,
    mode: Mode,
    wait: Option<Duration>,
    held_since: quanta::Instant,
) -> OwnedHold {
    record_acquisition(&stats, mode, wait);
    OwnedHold { stats, since: held_since }
}

/// The acquisition event.
#[inline(always)]
fn record_acquisition(stats: &LockStats, mode: Mode, wait: Option<Duration>) {
    stats.record(|e| {
        e.acquisitions().inc();
        if mode == Mode::Shared {
            e.shared().inc();
        }
        match wait {
            None => e.wait_ns().record(0),
            Some(wait) => {
                e.contended().inc();
                e.wait_ns().record(nanos(wait));
            }
        }
    });
}

/// Acquires a blocking lock: `try_lock` first, then, only if that failed, `lock` between
/// two clock reads. Records the acquisition event.
#[inline(always)]
pub(crate) fn acquire<'a, G>(
    stats: &'a LockStats,
    mode: Mode,
    try_lock: impl FnOnce() -> Option<G>,
    lock: impl FnOnce() -> G,
) -> (G, Hold<'a>) {
    match try_lock() {
        Some(guard) => (guard, acquired(stats, mode, None, now())),
        None => {
            let start = now();
            let guard = lock();
            let held_since = now();
            let wait = held_since.saturating_duration_since(start);
            (guard, acquired(stats, mode, Some(wait), held_since))
        }
    }
}

/// The release half: records the hold time into `hold_ns` when dropped. Guards declare it
/// after the inner lock guard, so it drops after the lock is released and the release
/// event is recorded outside the critical section.
#[derive(Debug)]
pub(crate) struct Hold<'a> {
    stats: &'a LockStats,
    since: quanta::Instant,
}

impl Drop for Hold<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        record_release(self.stats, self.since);
    }
}

/// [`Hold`], owning a reference to the statistics: the release half of a guard that owns
/// its lock and may outlive the scope that took it.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub(crate) struct OwnedHold {
    stats: Arc<LockStats>,
    since: quanta::Instant,
}

#[cfg(feature = "tokio")]
impl Drop for OwnedHold {
    fn drop(&mut self) {
        record_release(&self.stats, self.since);
    }
}

/// The release event: the hold time into `hold_ns`.
#[inline(always)]
fn record_release(stats: &LockStats, since: quanta::Instant) {
    let held = now().saturating_duration_since(since);
    stats.hold_ns().record(nanos(held));
}

/// A fresh set, for constructors that are not given one.
pub(crate) fn fresh() -> Arc<LockStats> {
    Arc::new(LockStats::new())
}
