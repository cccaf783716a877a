//! The async [`MonitoredMutex`]: `tokio::sync::Mutex` recording into a [`LockStats`].

use std::fmt;
use std::sync::Arc;

use crate::stats::{self, Hold, LockStats, LockStatsSnapshot, Mode};

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
    inner: tokio::sync::Mutex<T>,
}

/// The RAII guard of an async [`MonitoredMutex`].
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MonitoredMutexGuard<'a, T> {
    // Declared first, so dropped first: the lock is released before `hold` records.
    guard: tokio::sync::MutexGuard<'a, T>,
    _hold: Hold<'a>,
}

impl<T> MonitoredMutex<T> {
    /// A new unlocked mutex holding `value`, with a set of statistics of its own.
    pub fn new(value: T) -> Self {
        Self::with_stats(value, stats::fresh())
    }

    /// A new unlocked mutex holding `value` that records into `stats`.
    pub fn with_stats(value: T, stats: Arc<LockStats>) -> Self {
        MonitoredMutex { stats, inner: tokio::sync::Mutex::new(value) }
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
        f.debug_struct("MonitoredMutex").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

crate::guard::guard_impls!(MonitoredMutexGuard, mut);
