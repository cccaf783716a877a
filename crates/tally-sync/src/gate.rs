//! [`ReadyGate`]: a one-way gate (Python's `threading.Event` / `asyncio.Event` without
//! `clear`) for tasks and threads, recording its waiters into a [`GateStats`].
//!
//! # Orderings
//!
//! - `open` is set with a `swap(true, AcqRel)`: its Release half makes everything the
//!   opener did before [`ReadyGate::set`] visible to a waiter whose `Acquire` load reads
//!   `true`; its Acquire half is for the opener that finds the gate already open (it then
//!   sees what the first opener did, and wakes no one).
//! - `is_set` and every waiter load `open` with `Acquire`, the mirror of that Release.
//! - Async waiters do not miss the wake-up: each one registers with the `Notify`
//!   (`Notified::enable`) *before* loading `open`, and `set` stores `open` *before*
//!   `notify_waiters`; `Notify` orders the two, so a waiter either sees `true` or is
//!   registered in time to be woken.
//! - Blocking waiters check `open` while holding `lock`, and `set` takes `lock` after its
//!   store and before `notify_all`: a waiter either saw `true`, or was already parked on the
//!   condition variable (which releases `lock` atomically) when `set` notified.

use std::fmt;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

tally::metric_set! {
    /// What a [`ReadyGate`]'s waiters did. Each wait that found the gate shut is two
    /// events: `waiters + 1, waited + 1` when it starts, and `waiters − 1` with one of
    /// `woken`, `timed_out` or `cancelled` when it ends. So once no one waits,
    /// `waited == woken + timed_out + cancelled`. Waits that find the gate open record
    /// nothing.
    pub struct GateStats {
        /// Tasks and threads waiting now.
        waiters: Gauge,
        /// Waits that found the gate shut.
        waited: Counter,
        /// Of those, the ones that saw it open.
        woken: Counter,
        /// Of those, the ones whose timeout expired first.
        timed_out: Counter,
        /// Of those, async waits whose future was dropped while waiting.
        cancelled: Counter,
    }
}

/// A gate that opens once and stays open: [`set`](Self::set) opens it and wakes every
/// waiter, async ([`wait`](Self::wait)) or blocking ([`wait_blocking`](Self::wait_blocking)).
///
/// ```
/// use std::sync::Arc;
/// use tally_sync::tokio::ReadyGate;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let ready = Arc::new(ReadyGate::new());
/// let workers: Vec<_> = (0..3)
///     .map(|_| {
///         let ready = ready.clone();
///         tokio::spawn(async move { ready.wait().await })
///     })
///     .collect();
/// tokio::task::yield_now().await; // the workers start and wait
/// assert_eq!(ready.stats().waiters, 3);
/// ready.set(); // e.g. the model finished loading
/// for w in workers {
///     w.await.unwrap();
/// }
/// let stats = ready.stats();
/// assert_eq!((stats.waiters, stats.woken), (0, 3));
/// # });
/// ```
///
/// There is no `clear`: a gate that could shut again would need each waiter to know
/// whether it was woken by the `set` it waited for (Python's `Event.wait` returns `True`
/// to a woken waiter even if the event was cleared since). Use a new gate per round, or
/// a `tokio::sync::watch` channel for a value that changes.
pub struct ReadyGate {
    open: AtomicBool,
    notify: Notify,
    lock: parking_lot::Mutex<()>,
    condvar: parking_lot::Condvar,
    stats: Arc<GateStats>,
}

/// Records the end of a wait that found the gate shut; `cancelled` if dropped undecided.
struct Waiter<'a> {
    stats: &'a GateStats,
    decided: bool,
}

impl<'a> Waiter<'a> {
    fn start(stats: &'a GateStats) -> Self {
        stats.record(|e| {
            e.waiters().inc();
            e.waited().inc();
        });
        Waiter { stats, decided: false }
    }

    /// Records the outcome and returns whether the gate was open.
    fn finish(mut self, open: bool) -> bool {
        self.decided = true;
        self.stats.record(|e| {
            e.waiters().dec();
            if open {
                e.woken().inc();
            } else {
                e.timed_out().inc();
            }
        });
        open
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if !self.decided {
            self.stats.record(|e| {
                e.waiters().dec();
                e.cancelled().inc();
            });
        }
    }
}

impl ReadyGate {
    /// A shut gate with a set of statistics of its own.
    pub fn new() -> Self {
        Self::with_stats(Arc::new(GateStats::new()))
    }

    /// A shut gate that records into `stats`.
    pub fn with_stats(stats: Arc<GateStats>) -> Self {
        ReadyGate {
            open: AtomicBool::new(false),
            notify: Notify::new(),
            lock: parking_lot::Mutex::new(()),
            condvar: parking_lot::Condvar::new(),
            stats,
        }
    }

    /// Opens the gate and wakes every waiter; later waits return at once. Opening an open
    /// gate does nothing.
    pub fn set(&self) {
        // AcqRel: see `# Orderings`.
        if self.open.swap(true, Ordering::AcqRel) {
            return;
        }
        self.notify.notify_waiters();
        let _lock = self.lock.lock();
        self.condvar.notify_all();
    }

    /// Whether the gate is open.
    pub fn is_set(&self) -> bool {
        // Acquire: see `# Orderings`.
        self.open.load(Ordering::Acquire)
    }

    /// Resolves once the gate is open.
    pub async fn wait(&self) {
        if self.is_set() {
            return;
        }
        let waiter = Waiter::start(&self.stats);
        self.opened().await;
        waiter.finish(true);
    }

    /// Waits at most `timeout` for the gate to open; returns whether it is open (Python's
    /// `Event.wait(timeout)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let gate = tally_sync::tokio::ReadyGate::new();
    /// assert!(!gate.wait_timeout(Duration::from_secs(1)).await);
    /// gate.set();
    /// assert!(gate.wait_timeout(Duration::from_secs(1)).await);
    /// assert_eq!(gate.stats().timed_out, 1);
    /// # });
    /// ```
    #[must_use = "false means the timeout expired with the gate still shut"]
    pub async fn wait_timeout(&self, timeout: Duration) -> bool {
        if self.is_set() {
            return true;
        }
        let waiter = Waiter::start(&self.stats);
        let opened = tokio::time::timeout(timeout, self.opened()).await.is_ok();
        // It may have opened just as the timeout expired: report what is true now.
        waiter.finish(opened || self.is_set())
    }

    async fn opened(&self) {
        loop {
            let mut notified = pin!(self.notify.notified());
            // Registered before the check: see `# Orderings`.
            notified.as_mut().enable();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }

    /// Blocks the thread until the gate is open. Not for async tasks: it would stall
    /// their runtime thread; use [`wait`](Self::wait) there.
    ///
    /// ```
    /// let gate = tally_sync::tokio::ReadyGate::new();
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| gate.wait_blocking());
    ///     gate.set();
    ///     waiter.join().unwrap();
    /// });
    /// assert!(gate.is_set());
    /// ```
    pub fn wait_blocking(&self) {
        if self.is_set() {
            return;
        }
        let waiter = Waiter::start(&self.stats);
        let mut lock = self.lock.lock();
        while !self.is_set() {
            self.condvar.wait(&mut lock);
        }
        drop(lock);
        waiter.finish(true);
    }

    /// Blocks the thread for at most `timeout` until the gate is open; returns whether it
    /// is open.
    #[must_use = "false means the timeout expired with the gate still shut"]
    pub fn wait_blocking_timeout(&self, timeout: Duration) -> bool {
        if self.is_set() {
            return true;
        }
        let waiter = Waiter::start(&self.stats);
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut lock = self.lock.lock();
        while !self.is_set() {
            match deadline {
                Some(deadline) => {
                    if self.condvar.wait_until(&mut lock, deadline).timed_out() {
                        break;
                    }
                }
                // A timeout beyond the clock's range: wait as long as it takes.
                None => self.condvar.wait(&mut lock),
            }
        }
        drop(lock);
        waiter.finish(self.is_set())
    }

    /// A coherent snapshot of the statistics.
    pub fn stats(&self) -> GateStatsSnapshot {
        self.stats.snapshot()
    }

    /// The set the statistics are recorded into.
    pub fn stats_set(&self) -> &Arc<GateStats> {
        &self.stats
    }
}

impl Default for ReadyGate {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ReadyGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadyGate")
            .field("open", &self.is_set())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
