//! [`MonitoredMutex`]: a `parking_lot` mutex that records into a [`LockStats`].
//!
//! Why `parking_lot` rather than `std::sync::Mutex`: both take an uncontended lock with one
//! compare-and-swap and release it with one more (7–12 ns a pair, measured on the
//! development VM), but `parking_lot` has no poisoning, so `lock()` returns a guard rather than a
//! `LockResult` and a panic in one critical section does not turn every later `lock()`
//! into an error. That matches tally itself, where a panicking recorder rolls its event
//! back and nothing else notices. (If you rely on poisoning to detect a half-done update,
//! keep a `std::sync::Mutex`: its poisoning cannot be recovered here.)

use std::fmt;
use std::sync::Arc;

use crate::stats::{self, Hold, LockStats, LockStatsSnapshot, Mode};

/// A mutual-exclusion lock that records each acquisition and release into a [`LockStats`].
///
/// ```
/// use tally_sync::MonitoredMutex;
///
/// let queue = MonitoredMutex::new(Vec::new());
/// queue.lock().push(1);
/// queue.lock().push(2);
/// assert_eq!(*queue.lock(), [1, 2]);
///
/// let stats = queue.stats();
/// assert_eq!(stats.acquisitions, 3);
/// assert_eq!(stats.contended, 0);
/// assert_eq!(stats.wait_ns.count(), 3);
/// assert_eq!(stats.hold_ns.count(), 3);
/// ```
pub struct MonitoredMutex<T> {
    stats: Arc<LockStats>,
    inner: parking_lot::Mutex<T>,
}

/// The RAII guard of a [`MonitoredMutex`]: the lock is held, and the hold timer runs, until
/// it is dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MonitoredMutexGuard<'a, T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: parking_lot::MutexGuard<'a, T>,
    _hold: Hold<'a>,
}

impl<T> MonitoredMutex<T> {
    /// A new unlocked mutex holding `value`, with a set of statistics of its own.
    pub fn new(value: T) -> Self {
        Self::with_stats(value, stats::fresh())
    }

    /// A new unlocked mutex holding `value` that records into `stats` (which other locks
    /// may share, and which may be registered in a [`tally::Registry`]).
    pub fn with_stats(value: T, stats: Arc<LockStats>) -> Self {
        MonitoredMutex { stats, inner: parking_lot::Mutex::new(value) }
    }

    /// Acquires the lock, blocking the thread until it is free. Records one acquisition
    /// event (contended if the lock was not free at once).
    ///
    /// Locking it again on the same thread while the guard lives deadlocks.
    #[inline]
    pub fn lock(&self) -> MonitoredMutexGuard<'_, T> {
        let (guard, hold) = stats::acquire(
            &self.stats,
            Mode::Exclusive,
            || self.inner.try_lock(),
            || self.inner.lock(),
        );
        MonitoredMutexGuard { guard, _hold: hold }
    }

    /// Acquires the lock if it is free now. A failed attempt records nothing; a successful
    /// one is an uncontended acquisition.
    ///
    /// ```
    /// let m = tally_sync::MonitoredMutex::new(0);
    /// let held = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(held);
    /// assert!(m.try_lock().is_some());
    /// assert_eq!(m.stats().acquisitions, 2);
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<MonitoredMutexGuard<'_, T>> {
        let guard = self.inner.try_lock()?;
        let hold = stats::acquired(&self.stats, Mode::Exclusive, None, stats::now());
        Some(MonitoredMutexGuard { guard, _hold: hold })
    }

    /// A coherent snapshot of the statistics.
    pub fn stats(&self) -> LockStatsSnapshot {
        self.stats.snapshot()
    }

    /// The set the statistics are recorded into.
    pub fn stats_set(&self) -> &Arc<LockStats> {
        &self.stats
    }

    /// The value, through `&mut self`: no locking, nothing recorded.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: Default> Default for MonitoredMutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for MonitoredMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitoredMutex")
            .field("locked", &self.inner.is_locked())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

crate::guard::guard_impls!(MonitoredMutexGuard, mut);
