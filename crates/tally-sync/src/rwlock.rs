//! [`MonitoredRwLock`]: a `parking_lot` reader–writer lock that records into a
//! [`LockStats`]. `parking_lot` for the reasons given on
//! [`MonitoredMutex`](crate::MonitoredMutex); its `RwLock` is also task-fair (a reader
//! waits behind a waiting writer), so writers are not starved by a stream of readers.

use std::fmt;
use std::sync::Arc;

use crate::stats::{self, Hold, LockStats, LockStatsSnapshot, Mode};

/// A reader–writer lock that records each acquisition (shared or exclusive) and release
/// into a [`LockStats`]. Read acquisitions count in `acquisitions` and in `shared`.
///
/// ```
/// use tally_sync::MonitoredRwLock;
///
/// let config = MonitoredRwLock::new(String::from("v1"));
/// {
///     let a = config.read();
///     let b = config.read(); // readers share the lock
///     assert_eq!((a.as_str(), b.as_str()), ("v1", "v1"));
/// }
/// config.write().push_str(".1");
/// assert_eq!(*config.read(), "v1.1");
///
/// let stats = config.stats();
/// assert_eq!((stats.acquisitions, stats.shared), (4, 3));
/// assert_eq!(stats.hold_ns.count(), 4);
/// ```
///
/// A thread that takes a read lock twice can deadlock if a writer starts waiting in
/// between (the lock is task-fair): take it once and pass the guard down.
pub struct MonitoredRwLock<T> {
    stats: Arc<LockStats>,
    inner: parking_lot::RwLock<T>,
}

/// Shared access to a [`MonitoredRwLock`]'s value until dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MonitoredRwLockReadGuard<'a, T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: parking_lot::RwLockReadGuard<'a, T>,
    _hold: Hold<'a>,
}

/// Exclusive access to a [`MonitoredRwLock`]'s value until dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MonitoredRwLockWriteGuard<'a, T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: parking_lot::RwLockWriteGuard<'a, T>,
    _hold: Hold<'a>,
}

impl<T> MonitoredRwLock<T> {
    /// A new unlocked lock holding `value`, with a set of statistics of its own.
    pub fn new(value: T) -> Self {
        Self::with_stats(value, stats::fresh())
    }

    /// A new unlocked lock holding `value` that records into `stats`.
    pub fn with_stats(value: T, stats: Arc<LockStats>) -> Self {
        MonitoredRwLock { stats, inner: parking_lot::RwLock::new(value) }
    }

    /// Acquires shared access, blocking while a writer holds or waits for the lock.
    #[inline]
    pub fn read(&self) -> MonitoredRwLockReadGuard<'_, T> {
        let (guard, hold) = stats::acquire(
            &self.stats,
            Mode::Shared,
            || self.inner.try_read(),
            || self.inner.read(),
        );
        MonitoredRwLockReadGuard { guard, _hold: hold }
    }

    /// Acquires exclusive access, blocking until no one else holds the lock.
    #[inline]
    pub fn write(&self) -> MonitoredRwLockWriteGuard<'_, T> {
        let (guard, hold) = stats::acquire(
            &self.stats,
            Mode::Exclusive,
            || self.inner.try_write(),
            || self.inner.write(),
        );
        MonitoredRwLockWriteGuard { guard, _hold: hold }
    }

    /// Shared access if it can be had now; a failed attempt records nothing.
    #[inline]
    pub fn try_read(&self) -> Option<MonitoredRwLockReadGuard<'_, T>> {
        let guard = self.inner.try_read()?;
        let hold = stats::acquired(&self.stats, Mode::Shared, None, stats::now());
        Some(MonitoredRwLockReadGuard { guard, _hold: hold })
    }

    /// Exclusive access if it can be had now; a failed attempt records nothing.
    ///
    /// ```
    /// let lock = tally_sync::MonitoredRwLock::new(1);
    /// let reader = lock.read();
    /// assert!(lock.try_write().is_none());
    /// drop(reader);
    /// *lock.try_write().unwrap() += 1;
    /// assert_eq!(lock.stats().acquisitions, 2);
    /// ```
    #[inline]
    pub fn try_write(&self) -> Option<MonitoredRwLockWriteGuard<'_, T>> {
        let guard = self.inner.try_write()?;
        let hold = stats::acquired(&self.stats, Mode::Exclusive, None, stats::now());
        Some(MonitoredRwLockWriteGuard { guard, _hold: hold })
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

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: Default> Default for MonitoredRwLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for MonitoredRwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitoredRwLock")
            .field("locked", &self.inner.is_locked())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

crate::guard::guard_impls!(MonitoredRwLockReadGuard);
crate::guard::guard_impls!(MonitoredRwLockWriteGuard, mut);
