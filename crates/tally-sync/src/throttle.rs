//! [`Throttle`]: a bounded semaphore over `tokio::sync::Semaphore` recording into a
//! [`ThrottleStats`].
//!
//! # Orderings
//!
//! `capacity` (the permits in circulation, held or free) is a budget that orders nothing
//! else: every change is a read-modify-write, and read-modify-writes of one atomic always
//! read the latest value in its modification order, so `Relaxed` suffices for the bound
//! to hold. It is raised before permits are added to the semaphore and lowered after they
//! are removed, so it is never below the permits really in circulation.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{AcquireError, Semaphore, TryAcquireError};
use tokio::time::Instant;

use crate::permit::{OwnedPermit, Permit};

tally::metric_set! {
    /// What a [`Throttle`] did; see [`Throttle`] for the events. In every snapshot `queue_wait_ns.count() == acquired`.
    ///
    /// The gauges are exact whenever no permit is moving; a snapshot taken while tasks on
    /// several threads acquire and release is a cut of per-thread prefixes
    /// (`docs/DESIGN.md`), in which a gauge can be off by the events in flight (an
    /// `in_flight − 1` on one thread not yet seen, the `+ 1` that followed on another
    /// already seen). On a current-thread runtime every snapshot is exact.
    pub struct ThrottleStats {
        /// Permits handed out (by `acquire`, `try_acquire` and their `_timeout` and `_owned`
        /// forms).
        acquired: Counter,
        /// `acquire_timeout` calls that gave up.
        timed_out: Counter,
        /// `try_acquire` calls that found no free permit.
        rejected: Counter,
        /// Waits abandoned by dropping the acquiring future.
        cancelled: Counter,
        /// Permits held now.
        in_flight: Gauge,
        /// Callers waiting for a permit now.
        waiting: Gauge,
        /// From asking for a permit to getting it (0 when one was free).
        queue_wait_ns: Histogram,
    }
}

/// A bounded semaphore with statistics: at most `bound` permits exist at once, each one an
/// RAII guard ([`Permit`]) that gives itself back when dropped.
///
/// Python's `asyncio.BoundedSemaphore`, with the release that would exceed the bound
/// turned into an error ([`add_permits`](Self::add_permits)), and the release of a permit
/// twice made impossible: a permit is a value that dropping consumes.
///
/// ```
/// use std::sync::Arc;
/// use tally_sync::tokio::Throttle;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let throttle = Arc::new(Throttle::new(2));
/// let tasks: Vec<_> = (0..5)
///     .map(|_| {
///         let throttle = throttle.clone();
///         tokio::spawn(async move {
///             let _permit = throttle.acquire().await;
///             tokio::task::yield_now().await; // at most 2 tasks are here at once
///         })
///     })
///     .collect();
/// for t in tasks {
///     t.await.unwrap();
/// }
/// let stats = throttle.stats();
/// assert_eq!((stats.acquired, stats.in_flight, stats.waiting), (5, 0, 0));
/// assert_eq!(stats.queue_wait_ns.count(), 5);
/// # });
/// ```
///
/// # Events
///
/// | what happened | one event |
/// |---|---|
/// | a permit was free at once | `acquired + 1`, `in_flight + 1`, `queue_wait_ns ← 0` |
/// | a caller starts waiting | `waiting + 1` |
/// | a waiter gets its permit | `waiting − 1`, `acquired + 1`, `in_flight + 1`, `queue_wait_ns ← wait` |
/// | a waiter's timeout expires | `waiting − 1`, `timed_out + 1` |
/// | a waiting future is dropped | `waiting − 1`, `cancelled + 1` |
/// | `try_acquire` finds none free | `rejected + 1` |
/// | a permit is dropped or forgotten | `in_flight − 1` (recorded before the permit goes back) |
///
/// Each row is one tally event, so `queue_wait_ns.count() == acquired` in every snapshot.
/// Queue waits are read from `tokio::time::Instant`, which follows tokio's paused clock in
/// tests.
pub struct Throttle {
    /// In an `Arc` so that owned permits ([`Throttle::acquire_owned`]) can hold it.
    semaphore: Arc<Semaphore>,
    bound: usize,
    /// Permits in circulation (held or free), at most `bound`; see `# Orderings`.
    pub(crate) capacity: AtomicUsize,
    pub(crate) stats: Arc<ThrottleStats>,
}

/// [`Throttle::acquire_timeout`] gave up: no permit became free in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "no permit became free within {timeout:?}: retry later, raise the throttle's bound, or shed the request"
)]
#[non_exhaustive]
pub struct TimedOut {
    /// How long the caller waited.
    pub timeout: Duration,
}

/// [`Throttle::try_acquire`] found every permit in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "all {capacity} permits are in use: retry later, or wait for one with acquire().await or acquire_timeout()"
)]
#[non_exhaustive]
pub struct Rejected {
    /// The permits in circulation when the attempt was made.
    pub capacity: usize,
}

/// [`Throttle::add_permits`] would have put more permits in circulation than the bound.
/// Nothing was added: the call is all or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "adding {requested} permits would exceed the throttle's bound of {bound} (room for {room}); nothing was added: add at most {room}, or build a Throttle with a larger bound"
)]
#[non_exhaustive]
pub struct AddPermitsError {
    /// The permits asked for.
    pub requested: usize,
    /// How many could have been added.
    pub room: usize,
    /// The throttle's bound.
    pub bound: usize,
}

/// Records `waiting − 1` with the outcome of a wait; `cancelled` if dropped undecided.
struct Waiting<'a> {
    stats: &'a ThrottleStats,
    decided: bool,
}

impl<'a> Waiting<'a> {
    fn start(stats: &'a ThrottleStats) -> Self {
        stats.waiting().inc();
        Waiting { stats, decided: false }
    }

    fn acquired(mut self, start: Instant) {
        self.decided = true;
        let wait = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.record(|e| {
            e.waiting().dec();
            e.acquired().inc();
            e.in_flight().inc();
            e.queue_wait_ns().record(wait);
        });
    }

    fn timed_out(mut self) {
        self.decided = true;
        self.stats.record(|e| {
            e.waiting().dec();
            e.timed_out().inc();
        });
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.decided {
            self.stats.record(|e| {
                e.waiting().dec();
                e.cancelled().inc();
            });
        }
    }
}

const CLOSED: &str = "a Throttle's semaphore is private and never closed";
const NO_TIMEOUT: &str = "a wait without a timeout never times out";

impl Throttle {
    /// A throttle with `bound` permits, all free, and a set of statistics of its own.
    ///
    /// # Panics
    ///
    /// If `bound` exceeds [`Semaphore::MAX_PERMITS`].
    pub fn new(bound: usize) -> Self {
        Self::with_stats(bound, Arc::new(ThrottleStats::new()))
    }

    /// A throttle with `bound` permits that records into `stats` (which may be registered
    /// in a [`tally::Registry`] or shared by several throttles).
    ///
    /// # Panics
    ///
    /// If `bound` exceeds [`Semaphore::MAX_PERMITS`].
    pub fn with_stats(bound: usize, stats: Arc<ThrottleStats>) -> Self {
        Throttle {
            semaphore: Arc::new(Semaphore::new(bound)),
            bound,
            capacity: AtomicUsize::new(bound),
            stats,
        }
    }

    /// Records a permit that was free at once.
    fn free_at_once(&self) {
        self.stats.record(|e| {
            e.acquired().inc();
            e.in_flight().inc();
            e.queue_wait_ns().record(0);
        });
    }

    /// The one acquisition path, for borrowed and owned permits alike: a permit free now is
    /// taken without queueing; otherwise the caller waits (for at most `timeout`), and each
    /// outcome is one event (see [`Throttle`]'s table).
    async fn obtain<P, F>(
        &self,
        try_now: impl FnOnce() -> Result<P, TryAcquireError>,
        wait: impl FnOnce() -> F,
        timeout: Option<Duration>,
    ) -> Result<P, TimedOut>
    where
        F: Future<Output = Result<P, AcquireError>>,
    {
        if let Ok(permit) = try_now() {
            self.free_at_once();
            return Ok(permit);
        }
        let waiting = Waiting::start(&self.stats);
        let start = Instant::now();
        let permit = match timeout {
            None => wait().await,
            Some(timeout) => match tokio::time::timeout(timeout, wait()).await {
                Ok(permit) => permit,
                Err(_elapsed) => {
                    waiting.timed_out();
                    return Err(TimedOut { timeout });
                }
            },
        };
        waiting.acquired(start);
        Ok(permit.expect(CLOSED))
    }

    /// Waits for a permit, first come first served. Dropping the future while it waits
    /// gives up its place (counted in `cancelled`).
    pub async fn acquire(&self) -> Permit<'_> {
        let permit =
            self.obtain(|| self.semaphore.try_acquire(), || self.semaphore.acquire(), None);
        Permit::new(self, permit.await.expect(NO_TIMEOUT))
    }

    /// Waits for a permit for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`TimedOut`] if none became free in time (counted in `timed_out`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tally_sync::tokio::Throttle;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let throttle = Throttle::new(1);
    /// let held = throttle.acquire().await;
    /// let err = throttle.acquire_timeout(Duration::from_millis(50)).await.unwrap_err();
    /// assert_eq!(err.timeout, Duration::from_millis(50));
    /// drop(held);
    /// assert!(throttle.acquire_timeout(Duration::from_millis(50)).await.is_ok());
    /// assert_eq!((throttle.stats().acquired, throttle.stats().timed_out), (2, 1));
    /// # });
    /// ```
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Permit<'_>, TimedOut> {
        let permit = self.obtain(
            || self.semaphore.try_acquire(),
            || self.semaphore.acquire(),
            Some(timeout),
        );
        Ok(Permit::new(self, permit.await?))
    }

    /// A permit if one is free now (it never jumps the queue of waiters).
    ///
    /// # Errors
    ///
    /// [`Rejected`] if none is (counted in `rejected`).
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        match self.semaphore.try_acquire() {
            Ok(permit) => {
                self.free_at_once();
                Ok(Permit::new(self, permit))
            }
            Err(_) => Err(self.rejected()),
        }
    }

    /// Waits for a permit that owns a reference to the throttle, so that it can move into a
    /// spawned task (`tokio::spawn` needs `'static`) and be given back when that task drops
    /// it; otherwise as [`acquire`](Self::acquire), statistics included. tokio's
    /// `Semaphore::acquire_owned`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tally_sync::tokio::Throttle;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let throttle = Arc::new(Throttle::new(2));
    /// let mut tasks = Vec::new();
    /// for job in 0..5u64 {
    ///     // Acquired before spawning: at most 2 jobs exist at once, queued ones never start.
    ///     let permit = throttle.acquire_owned().await;
    ///     tasks.push(tokio::spawn(async move {
    ///         let _permit = permit; // given back when the task ends
    ///         tokio::task::yield_now().await;
    ///         job * 2
    ///     }));
    /// }
    /// for t in tasks {
    ///     t.await.unwrap();
    /// }
    /// let stats = throttle.stats();
    /// assert_eq!((stats.acquired, stats.in_flight, stats.waiting), (5, 0, 0));
    /// # });
    /// ```
    pub async fn acquire_owned(self: &Arc<Self>) -> OwnedPermit {
        let semaphore = &self.semaphore;
        let permit = self.obtain(
            || Arc::clone(semaphore).try_acquire_owned(),
            || Arc::clone(semaphore).acquire_owned(),
            None,
        );
        OwnedPermit::new(Arc::clone(self), permit.await.expect(NO_TIMEOUT))
    }

    /// [`acquire_owned`](Self::acquire_owned) for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`TimedOut`] if no permit became free in time (counted in `timed_out`).
    pub async fn acquire_owned_timeout(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Result<OwnedPermit, TimedOut> {
        let semaphore = &self.semaphore;
        let permit = self.obtain(
            || Arc::clone(semaphore).try_acquire_owned(),
            || Arc::clone(semaphore).acquire_owned(),
            Some(timeout),
        );
        Ok(OwnedPermit::new(Arc::clone(self), permit.await?))
    }

    /// [`try_acquire`](Self::try_acquire), for a permit that owns a reference to the
    /// throttle (see [`acquire_owned`](Self::acquire_owned)).
    ///
    /// # Errors
    ///
    /// [`Rejected`] if no permit is free (counted in `rejected`).
    pub fn try_acquire_owned(self: &Arc<Self>) -> Result<OwnedPermit, Rejected> {
        match Arc::clone(&self.semaphore).try_acquire_owned() {
            Ok(permit) => {
                self.free_at_once();
                Ok(OwnedPermit::new(Arc::clone(self), permit))
            }
            Err(_) => Err(self.rejected()),
        }
    }

    fn rejected(&self) -> Rejected {
        self.stats.rejected().inc();
        Rejected { capacity: self.capacity() }
    }

    /// Puts `n` permits (back) into circulation, as long as that keeps the permits in
    /// circulation within the bound: the ones taken out by [`forget_permits`] or
    /// [`Permit::forget`].
    ///
    /// [`forget_permits`]: Self::forget_permits
    ///
    /// # Errors
    ///
    /// [`AddPermitsError`] if that would exceed the bound (Python's `BoundedSemaphore`
    /// raises `ValueError` there); nothing is added then.
    ///
    /// ```
    /// let throttle = tally_sync::tokio::Throttle::new(4);
    /// assert_eq!(throttle.forget_permits(3), 3);
    /// let err = throttle.add_permits(4).unwrap_err();
    /// assert_eq!((err.requested, err.room), (4, 3));
    /// assert_eq!(throttle.capacity(), 1); // nothing was added
    /// throttle.add_permits(3).unwrap();
    /// assert_eq!(throttle.available_permits(), 4);
    /// ```
    pub fn add_permits(&self, n: usize) -> Result<(), AddPermitsError> {
        let mut capacity = self.capacity.load(Ordering::Relaxed);
        loop {
            let room = self.bound - capacity;
            if n > room {
                return Err(AddPermitsError { requested: n, room, bound: self.bound });
            }
            // Relaxed: see `# Orderings`; the compare-exchange fails if another change came
            // in between, and we retry on the value it read.
            match self.capacity.compare_exchange_weak(
                capacity,
                capacity + n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => capacity = now,
            }
        }
        self.semaphore.add_permits(n);
        Ok(())
    }

    /// Takes up to `n` free permits out of circulation (held permits are not affected);
    /// returns how many it took. [`add_permits`](Self::add_permits) puts them back.
    pub fn forget_permits(&self, n: usize) -> usize {
        let taken = self.semaphore.forget_permits(n);
        // Relaxed: see `# Orderings`. Lowered after the permits left the semaphore.
        self.capacity.fetch_sub(taken, Ordering::Relaxed);
        taken
    }

    /// The most permits that can ever be in circulation.
    pub fn bound(&self) -> usize {
        self.bound
    }

    /// The permits in circulation now, held or free: the bound less those forgotten.
    pub fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    /// The permits free now.
    pub fn available_permits(&self) -> usize {
        self.semaphore.available_permits()
    }

    /// A coherent snapshot of the statistics.
    pub fn stats(&self) -> ThrottleStatsSnapshot {
        self.stats.snapshot()
    }

    /// The set the statistics are recorded into.
    pub fn stats_set(&self) -> &Arc<ThrottleStats> {
        &self.stats
    }
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("bound", &self.bound)
            .field("capacity", &self.capacity())
            .field("available", &self.available_permits())
            .field("stats", &self.stats())
            .finish()
    }
}
