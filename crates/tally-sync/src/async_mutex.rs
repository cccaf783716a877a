//! The async [`MonitoredMutex`]: `tokio::sync::Mutex` recording into a [`LockStats`].

use std::fmt;
use std::sync::Arc;

use crate::stats::{self, Hold, LockStats, LockStatsSnapshot, Mode, OwnedHold};

/// An async mutex ([`tokio::sync::Mutex`]) that records each acquisition and release into
/// a [`LockStats`]: hold it across `.await` points, where a blocking mutex would stall the
/// runtime's thread.
///
/// ```
/// use std::sync::Arc;
/// use tally_sync::tokio::MonitoredMutex;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let balance = Arc::new(MonitoredMutex::new(0u64));
/// let tasks: Vec<_> = (0..10)
///     .map(|_| {
///         let balance = balance.clone();
///         tokio::spawn(async move {
///             // Read, await, write back: safe, because the guard is held across the await.
///             let mut b = balance.lock().await;
///             let read = *b;
///             tokio::task::yield_now().await;
///             *b = read + 10;
///         })
///     })
///     .collect();
/// for t in tasks {
///     t.await.unwrap();
/// }
/// assert_eq!(*balance.lock().await, 100);
/// let stats = balance.stats();
/// assert_eq!(stats.acquisitions, 11);
/// assert!(stats.contended > 0); // tasks found the lock held across the yield
/// # });
/// ```
///
/// The guard is `Send` (for `T: Send + Sync`), so a task holding it may move to another
/// thread: its release is then recorded there (see [`LockStats`] on what that means for a
/// snapshot taken meanwhile). A `lock()` future dropped while waiting records nothing.
pub struct MonitoredMutex<T> {
    stats: Arc<LockStats>,
    /// In an `Arc` so that owned guards ([`MonitoredMutex::lock_owned`]) can hold it. Only
    /// owned guards clone it, and each also holds the `Arc` of this mutex: while one lives,
    /// nobody has `&mut self`, so `get_mut` and `into_inner` find it unique.
    inner: Arc<tokio::sync::Mutex<T>>,
}

/// The RAII guard of an async [`MonitoredMutex`].
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MonitoredMutexGuard<'a, T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: tokio::sync::MutexGuard<'a, T>,
    _hold: Hold<'a>,
}

/// The RAII guard of an async [`MonitoredMutex`] that owns a reference to the mutex (from
/// [`MonitoredMutex::lock_owned`]): `'static`, so it can move into a spawned task and be
/// released when that task drops it. Its acquisition and release are recorded as a borrowed
/// guard's are.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedMonitoredMutexGuard<T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: tokio::sync::OwnedMutexGuard<T>,
    _hold: OwnedHold,
    /// Keeps `&mut` access to the mutex away while the guard lives (see `inner`).
    _mutex: Arc<MonitoredMutex<T>>,
}

impl<T> MonitoredMutex<T> {
    /// A new unlocked mutex holding `value`, with a set of statistics of its own.
    pub fn new(value: T) -> Self {
        Self::with_stats(value, stats::fresh())
    }

    /// A new unlocked mutex holding `value` that records into `stats`.
    pub fn with_stats(value: T, stats: Arc<LockStats>) -> Self {
        MonitoredMutex { stats, inner: Arc::new(tokio::sync::Mutex::new(value)) }
    }

    /// Acquires the lock, waiting (without blocking the thread) until it is free; tokio's
    /// mutex hands it over in the order the waiters arrived.
    pub async fn lock(&self) -> MonitoredMutexGuard<'_, T> {
        if let Ok(guard) = self.inner.try_lock() {
            let hold = stats::acquired(&self.stats, Mode::Exclusive, None, stats::now());
            return MonitoredMutexGuard { guard, _hold: hold };
        }
        let start = stats::now();
        let guard = self.inner.lock().await;
        let held_since = stats::now();
        let wait = held_since.saturating_duration_since(start);
        let hold = stats::acquired(&self.stats, Mode::Exclusive, Some(wait), held_since);
        MonitoredMutexGuard { guard, _hold: hold }
    }

    /// Acquires the lock if it is free now; a failed attempt records nothing.
    pub fn try_lock(&self) -> Option<MonitoredMutexGuard<'_, T>> {
        let guard = self.inner.try_lock().ok()?;
        let hold = stats::acquired(&self.stats, Mode::Exclusive, None, stats::now());
        Some(MonitoredMutexGuard { guard, _hold: hold })
    }

    /// As [`lock`](Self::lock), for a guard that owns a reference to the mutex and so can
    /// move into a spawned task (tokio's `Mutex::lock_owned`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tally_sync::tokio::MonitoredMutex;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let log = Arc::new(MonitoredMutex::new(Vec::new()));
    /// let mut guard = log.lock_owned().await;
    /// let task = tokio::spawn(async move {
    ///     guard.push("written by the task"); // released when the task ends
    /// });
    /// task.await.unwrap();
    /// assert_eq!(*log.lock().await, ["written by the task"]);
    /// let stats = log.stats();
    /// assert_eq!((stats.acquisitions, stats.hold_ns.count()), (2, 2));
    /// # });
    /// ```
    pub async fn lock_owned(self: &Arc<Self>) -> OwnedMonitoredMutexGuard<T> {
        if let Ok(guard) = Arc::clone(&self.inner).try_lock_owned() {
            return self.owned(guard, None, stats::now());
        }
        let start = stats::now();
        let guard = Arc::clone(&self.inner).lock_owned().await;
        let held_since = stats::now();
        self.owned(guard, Some(held_since.saturating_duration_since(start)), held_since)
    }

    /// As [`try_lock`](Self::try_lock), for an owned guard (tokio's
    /// `Mutex::try_lock_owned`).
    pub fn try_lock_owned(self: &Arc<Self>) -> Option<OwnedMonitoredMutexGuard<T>> {
        let guard = Arc::clone(&self.inner).try_lock_owned().ok()?;
        Some(self.owned(guard, None, stats::now()))
    }

    fn owned(
        self: &Arc<Self>,
        guard: tokio::sync::OwnedMutexGuard<T>,
        wait: Option<std::time::Duration>,
        held_since: quanta::Instant,
    ) -> OwnedMonitoredMutexGuard<T> {
        let stats = Arc::clone(&self.stats);
        let hold = stats::acquired_owned(stats, Mode::Exclusive, wait, held_since);
        OwnedMonitoredMutexGuard { guard, _hold: hold, _mutex: Arc::clone(self) }
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

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        Arc::into_inner(self.inner).expect(UNIQUE).into_inner()
    }
}

impl<T: Default> Default for MonitoredMutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for MonitoredMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitoredMutex").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

/// Why the inner mutex is unique wherever `&mut self` or `self` is at hand.
const UNIQUE: &str = "owned guards hold the mutex's own Arc: none lives while &mut self does";

crate::guard::guard_impls!(MonitoredMutexGuard, mut);

crate::guard::owned_guard_impls!(OwnedMonitoredMutexGuard, mut);
