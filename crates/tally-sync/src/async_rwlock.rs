//! The async [`MonitoredRwLock`]: `tokio::sync::RwLock` recording into a [`LockStats`],
//! with borrowed guards and owned ones (tokio's `read_owned` / `write_owned`) that move into
//! spawned tasks.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

use crate::stats::{self, Hold, LockStats, LockStatsSnapshot, Mode, OwnedHold};

/// An async reader–writer lock ([`tokio::sync::RwLock`], fair: a waiting writer goes
/// before readers that come after it) that records each acquisition and release into a
/// [`LockStats`], as the blocking [`MonitoredRwLock`](crate::MonitoredRwLock) does: read
/// acquisitions count in `acquisitions` and in `shared`.
///
/// ```
/// use std::sync::Arc;
/// use tally_sync::tokio::MonitoredRwLock;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let config = Arc::new(MonitoredRwLock::new(String::from("v1")));
/// {
///     let (a, b) = (config.read().await, config.read().await); // readers share it
///     assert_eq!((a.as_str(), b.as_str()), ("v1", "v1"));
/// }
/// // An owned write guard, moved into a task and released when the task ends.
/// let mut w = config.write_owned().await;
/// tokio::spawn(async move { w.push_str(".1") }).await.unwrap();
/// assert_eq!(*config.read().await, "v1.1");
/// let stats = config.stats();
/// assert_eq!((stats.acquisitions, stats.shared, stats.hold_ns.count()), (4, 3, 4));
/// # });
/// ```
pub struct MonitoredRwLock<T> {
    stats: Arc<LockStats>,
    /// In an `Arc` so that owned guards can hold it. Only owned guards clone it, and each
    /// also holds the `Arc` of this lock: while one lives, nobody has `&mut self`, so
    /// `get_mut` and `into_inner` find it unique.
    inner: Arc<RwLock<T>>,
}

/// Shared access to an async [`MonitoredRwLock`]'s value until dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MonitoredRwLockReadGuard<'a, T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: RwLockReadGuard<'a, T>,
    _hold: Hold<'a>,
}

/// Exclusive access to an async [`MonitoredRwLock`]'s value until dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MonitoredRwLockWriteGuard<'a, T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: RwLockWriteGuard<'a, T>,
    _hold: Hold<'a>,
}

/// Shared access that owns a reference to the lock ([`MonitoredRwLock::read_owned`]):
/// `'static`, so it can move into a spawned task.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedMonitoredRwLockReadGuard<T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: OwnedRwLockReadGuard<T>,
    _hold: OwnedHold,
    _lock: Arc<MonitoredRwLock<T>>,
}

/// Exclusive access that owns a reference to the lock ([`MonitoredRwLock::write_owned`]):
/// `'static`, so it can move into a spawned task.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedMonitoredRwLockWriteGuard<T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: OwnedRwLockWriteGuard<T>,
    _hold: OwnedHold,
    _lock: Arc<MonitoredRwLock<T>>,
}

/// Why the inner lock is unique wherever `&mut self` or `self` is at hand.
const UNIQUE: &str = "owned guards hold the lock's own Arc: none lives while &mut self does";

impl<T> MonitoredRwLock<T> {
    /// A new unlocked lock holding `value`, with a set of statistics of its own.
    pub fn new(value: T) -> Self {
        Self::with_stats(value, stats::fresh())
    }

    /// A new unlocked lock holding `value` that records into `stats`.
    pub fn with_stats(value: T, stats: Arc<LockStats>) -> Self {
        MonitoredRwLock { stats, inner: Arc::new(RwLock::new(value)) }
    }

    /// Acquires shared access, waiting (without blocking the thread) while a writer holds
    /// or waits for the lock.
    pub async fn read(&self) -> MonitoredRwLockReadGuard<'_, T> {
        let (guard, wait, since) = timed(|| self.inner.try_read().ok(), || self.inner.read()).await;
        let hold = stats::acquired(&self.stats, Mode::Shared, wait, since);
        MonitoredRwLockReadGuard { guard, _hold: hold }
    }

    /// Acquires exclusive access, waiting (without blocking the thread) until no one else
    /// holds the lock.
    pub async fn write(&self) -> MonitoredRwLockWriteGuard<'_, T> {
        let (guard, wait, since) =
            timed(|| self.inner.try_write().ok(), || self.inner.write()).await;
        let hold = stats::acquired(&self.stats, Mode::Exclusive, wait, since);
        MonitoredRwLockWriteGuard { guard, _hold: hold }
    }

    /// Shared access if it can be had now; a failed attempt records nothing.
    pub fn try_read(&self) -> Option<MonitoredRwLockReadGuard<'_, T>> {
        let guard = self.inner.try_read().ok()?;
        let hold = stats::acquired(&self.stats, Mode::Shared, None, stats::now());
        Some(MonitoredRwLockReadGuard { guard, _hold: hold })
    }

    /// Exclusive access if it can be had now; a failed attempt records nothing.
    pub fn try_write(&self) -> Option<MonitoredRwLockWriteGuard<'_, T>> {
        let guard = self.inner.try_write().ok()?;
        let hold = stats::acquired(&self.stats, Mode::Exclusive, None, stats::now());
        Some(MonitoredRwLockWriteGuard { guard, _hold: hold })
    }

    /// As [`read`](Self::read), for a guard that owns a reference to the lock (tokio's
    /// `RwLock::read_owned`).
    pub async fn read_owned(self: &Arc<Self>) -> OwnedMonitoredRwLockReadGuard<T> {
        let inner = &self.inner;
        let (guard, wait, since) =
            timed(|| Arc::clone(inner).try_read_owned().ok(), || Arc::clone(inner).read_owned())
                .await;
        let hold = stats::acquired_owned(Arc::clone(&self.stats), Mode::Shared, wait, since);
        OwnedMonitoredRwLockReadGuard { guard, _hold: hold, _lock: Arc::clone(self) }
    }

    /// As [`write`](Self::write), for a guard that owns a reference to the lock (tokio's
    /// `RwLock::write_owned`).
    pub async fn write_owned(self: &Arc<Self>) -> OwnedMonitoredRwLockWriteGuard<T> {
        let inner = &self.inner;
        let (guard, wait, since) =
            timed(|| Arc::clone(inner).try_write_owned().ok(), || Arc::clone(inner).write_owned())
                .await;
        let hold = stats::acquired_owned(Arc::clone(&self.stats), Mode::Exclusive, wait, since);
        OwnedMonitoredRwLockWriteGuard { guard, _hold: hold, _lock: Arc::clone(self) }
    }

    /// As [`try_read`](Self::try_read), for an owned guard.
    pub fn try_read_owned(self: &Arc<Self>) -> Option<OwnedMonitoredRwLockReadGuard<T>> {
        let guard = Arc::clone(&self.inner).try_read_owned().ok()?;
        let hold = stats::acquired_owned(Arc::clone(&self.stats), Mode::Shared, None, stats::now());
        Some(OwnedMonitoredRwLockReadGuard { guard, _hold: hold, _lock: Arc::clone(self) })
    }

    /// As [`try_write`](Self::try_write), for an owned guard.
    pub fn try_write_owned(self: &Arc<Self>) -> Option<OwnedMonitoredRwLockWriteGuard<T>> {
        let guard = Arc::clone(&self.inner).try_write_owned().ok()?;
        let hold =
            stats::acquired_owned(Arc::clone(&self.stats), Mode::Exclusive, None, stats::now());
        Some(OwnedMonitoredRwLockWriteGuard { guard, _hold: hold, _lock: Arc::clone(self) })
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
        Arc::get_mut(&mut self.inner).expect(UNIQUE).get_mut()
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        Arc::into_inner(self.inner).expect(UNIQUE).into_inner()
    }
}

/// Acquires with `try_now` first and, only if that fails, waits for `wait` between two
/// clock reads: the guard, the wait (`None` when uncontended) and when the hold began.
async fn timed<G, F: Future<Output = G>>(
    try_now: impl FnOnce() -> Option<G>,
    wait: impl FnOnce() -> F,
) -> (G, Option<Duration>, quanta::Instant) {
    if let Some(guard) = try_now() {
        return (guard, None, stats::now());
    }
    let start = stats::now();
    let guard = wait().await;
    let held_since = stats::now();
    (guard, Some(held_since.saturating_duration_since(start)), held_since)
}

impl<T: Default> Default for MonitoredRwLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for MonitoredRwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitoredRwLock").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

crate::guard::guard_impls!(MonitoredRwLockReadGuard);
crate::guard::guard_impls!(MonitoredRwLockWriteGuard, mut);
crate::guard::owned_guard_impls!(OwnedMonitoredRwLockReadGuard);
crate::guard::owned_guard_impls!(OwnedMonitoredRwLockWriteGuard, mut);
