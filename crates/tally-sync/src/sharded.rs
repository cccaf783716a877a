//! [`MonitoredShardedLock`]: crossbeam's read-mostly [`ShardedLock`] recording into a
//! [`LockStats`].
//!
//! A `ShardedLock` keeps one small reader–writer lock per shard: a reader locks only its
//! thread's shard (no cache line shared with other readers), a writer locks all of them.
//! Use it for data read on every request and written rarely (a routing table, a config).
//! The statistics are recorded per thread by tally, so monitoring keeps the property that
//! readers on different threads never write the same cache line.
//!
//! `ShardedLock` poisons like `std`'s locks; this wrapper ignores poisoning (a guard is
//! returned whether or not an earlier holder panicked), for the same interface as the
//! `parking_lot`-based locks of this crate.

use std::fmt;
use std::sync::{Arc, PoisonError, TryLockError};

use crossbeam_utils::sync::{ShardedLock, ShardedLockReadGuard, ShardedLockWriteGuard};

use crate::stats::{self, Hold, LockStats, LockStatsSnapshot, Mode};

/// A read-mostly reader–writer lock ([`ShardedLock`]) that records each acquisition and
/// release into a [`LockStats`].
///
/// ```
/// use std::collections::HashMap;
/// use tally_sync::MonitoredShardedLock;
///
/// let routes = MonitoredShardedLock::new(HashMap::from([("/", "index")]));
/// std::thread::scope(|s| {
///     for _ in 0..2 {
///         s.spawn(|| assert_eq!(routes.read()["/"], "index"));
///     }
/// });
/// routes.write().insert("/about", "about");
///
/// let stats = routes.stats();
/// assert_eq!((stats.acquisitions, stats.shared), (3, 2));
/// ```
pub struct MonitoredShardedLock<T> {
    stats: Arc<LockStats>,
    inner: ShardedLock<T>,
}

/// Shared access to a [`MonitoredShardedLock`]'s value until dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MonitoredShardedLockReadGuard<'a, T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: ShardedLockReadGuard<'a, T>,
    _hold: Hold<'a>,
}

/// Exclusive access to a [`MonitoredShardedLock`]'s value until dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MonitoredShardedLockWriteGuard<'a, T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: ShardedLockWriteGuard<'a, T>,
    _hold: Hold<'a>,
}

/// `Some(guard)` if the attempt got the lock (poisoned or not), `None` if it would block.
fn attempt<G>(result: Result<G, TryLockError<G>>) -> Option<G> {
    match result {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl<T> MonitoredShardedLock<T> {
    /// A new unlocked lock holding `value`, with a set of statistics of its own.
    pub fn new(value: T) -> Self {
        Self::with_stats(value, stats::fresh())
    }

    /// A new unlocked lock holding `value` that records into `stats`.
    pub fn with_stats(value: T, stats: Arc<LockStats>) -> Self {
        MonitoredShardedLock { stats, inner: ShardedLock::new(value) }
    }

    /// Acquires shared access (this thread's shard), blocking while a writer holds it.
    #[inline]
    pub fn read(&self) -> MonitoredShardedLockReadGuard<'_, T> {
        let (guard, hold) = stats::acquire(
            &self.stats,
            Mode::Shared,
            || attempt(self.inner.try_read()),
            || self.inner.read().unwrap_or_else(PoisonError::into_inner),
        );
        MonitoredShardedLockReadGuard { guard, _hold: hold }
    }

    /// Acquires exclusive access (every shard), blocking until no one else holds any.
    #[inline]
    pub fn write(&self) -> MonitoredShardedLockWriteGuard<'_, T> {
        let (guard, hold) = stats::acquire(
            &self.stats,
            Mode::Exclusive,
            || attempt(self.inner.try_write()),
            || self.inner.write().unwrap_or_else(PoisonError::into_inner),
        );
        MonitoredShardedLockWriteGuard { guard, _hold: hold }
    }

    /// Shared access if it can be had now; a failed attempt records nothing.
    #[inline]
    pub fn try_read(&self) -> Option<MonitoredShardedLockReadGuard<'_, T>> {
        let guard = attempt(self.inner.try_read())?;
        let hold = stats::acquired(&self.stats, Mode::Shared, None, stats::now());
        Some(MonitoredShardedLockReadGuard { guard, _hold: hold })
    }

    /// Exclusive access if it can be had now; a failed attempt records nothing.
    #[inline]
    pub fn try_write(&self) -> Option<MonitoredShardedLockWriteGuard<'_, T>> {
        let guard = attempt(self.inner.try_write())?;
        let hold = stats::acquired(&self.stats, Mode::Exclusive, None, stats::now());
        Some(MonitoredShardedLockWriteGuard { guard, _hold: hold })
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
        self.inner.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.inner.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Default> Default for MonitoredShardedLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for MonitoredShardedLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitoredShardedLock").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

crate::guard::guard_impls!(MonitoredShardedLockReadGuard);
crate::guard::guard_impls!(MonitoredShardedLockWriteGuard, mut);
