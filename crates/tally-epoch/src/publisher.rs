//! The publisher: serialized, coalesced collections published through an `ArcSwap`.
//!
//! # Orderings
//!
//! One atomic carries a happens-before edge, `Shared::tickets`:
//!
//! - a refresh caller's `fetch_add(1, Release)` on entry → the `load(Acquire)` of
//!   `tickets` with which a later collection starts. Every later modification of
//!   `tickets` is also a `fetch_add`, so it continues the caller's release sequence: a
//!   collection whose load reads the caller's ticket or any later one synchronizes with
//!   the caller's entry. This is what makes the returned epoch reflect everything that
//!   happened before the call (proof on [`Publisher::refresh`]).
//!
//! Everything else is ordered by the `collect` mutex (who collects, the epoch numbers and
//! the order of publication), by arc-swap (a reader that loads an epoch sees it fully
//! built), and by the `published` mutex (blocking waiters; see `wait.rs`).

use std::fmt;
// portable-atomic: 64-bit tickets on targets without native 64-bit atomics (32-bit PowerPC,
// MIPS), where std has no `AtomicU64`.
use portable_atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::{Clock, Epoch, SystemClock};

/// The source of publisher ids. Relaxed: the ids need only be distinct, which the
/// atomicity of `fetch_add` gives; nothing is published through them.
static NEXT_PUBLISHER_ID: AtomicU64 = AtomicU64::new(0);

type Source<S> = Box<dyn Fn() -> S + Send + Sync + 'static>;

/// What all clones of one [`Publisher`] share.
pub(crate) struct Shared<S> {
    pub(crate) id: u64,
    source: Source<S>,
    clock: Arc<dyn Clock>,
    min_interval: Option<Duration>,
    /// The newest published epoch, for lock-free readers. Stored only by the one thread
    /// that holds the `collecting` flag, so successive stores carry increasing numbers.
    pub(crate) latest: ArcSwap<Epoch<S>>,
    /// Refresh tickets handed out so far (see the module's `# Orderings`).
    tickets: AtomicU64,
    /// Who collects, and the newest published epoch. Held only briefly: never while the
    /// source runs.
    collect: Mutex<CollectState<S>>,
    /// Notified when a collection ends (published, or its source panicked).
    collected: Condvar,
    /// The number of the newest published epoch, for blocking waiters: written after
    /// `latest` is stored, and `published_cv` notified, while this mutex is held.
    pub(crate) published: Mutex<u64>,
    pub(crate) published_cv: Condvar,
    /// Held by the one [`Publisher::latest_or_collect`] caller that collects for a stale
    /// epoch (see there).
    stale: Mutex<()>,
    #[cfg(feature = "tokio")]
    pub(crate) watch: tokio::sync::watch::Sender<Arc<Epoch<S>>>,
}

/// The state behind [`Shared::collect`].
struct CollectState<S> {
    /// Whether a collection is running. Set by the caller that starts one, cleared (by
    /// [`Collecting`]'s drop) when it ends, so collections run one at a time.
    collecting: bool,
    /// The newest published epoch.
    last: Arc<Epoch<S>>,
}

/// Publishes a metric source's snapshots as numbered [`Epoch`]s.
///
/// A publisher owns a *source*, a closure that collects a snapshot (typically
/// `move || stats.snapshot()` on a tally metric set or registry). Readers call
/// [`latest`](Self::latest), which never collects; [`refresh`](Self::refresh) collects
/// (coalescing concurrent callers into one collection) and publishes a new epoch;
/// [`spawn_refresher`](Self::spawn_refresher) does that on a period in a background
/// thread; [`wait_until`](Self::wait_until) and [`wait_for_next`](Self::wait_for_next)
/// block until a new epoch is published.
///
/// `Publisher` is a handle: clones share the same source and epochs.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tally_epoch::Publisher;
///
/// let requests = Arc::new(AtomicU64::new(0));
/// let source = Arc::clone(&requests);
/// let publisher = Publisher::new(move || source.load(Ordering::Relaxed));
///
/// requests.fetch_add(3, Ordering::Relaxed);
/// assert_eq!(*publisher.latest().snapshot(), 0); // latest() does not collect
/// let epoch = publisher.refresh();
/// assert_eq!((epoch.number(), *epoch.snapshot()), (1, 3));
/// ```
pub struct Publisher<S> {
    pub(crate) shared: Arc<Shared<S>>,
}

impl<S> Clone for Publisher<S> {
    fn clone(&self) -> Self {
        Publisher { shared: Arc::clone(&self.shared) }
    }
}

/// Configures a [`Publisher`]: its clock and minimum refresh interval.
///
/// ```
/// use std::time::Duration;
/// use tally_epoch::{ManualClock, Publisher};
///
/// let clock = ManualClock::new();
/// let publisher = Publisher::builder(|| 0u64)
///     .clock(clock.clone())
///     .min_interval(Duration::from_millis(100))
///     .build();
/// assert_eq!(publisher.refresh().number(), 0); // younger than 100 ms: not collected
/// clock.advance(Duration::from_millis(100));
/// assert_eq!(publisher.refresh().number(), 1);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct PublisherBuilder<S> {
    source: Source<S>,
    clock: Arc<dyn Clock>,
    min_interval: Option<Duration>,
}

impl<S: Send + Sync + 'static> PublisherBuilder<S> {
    /// Stamps epochs with `clock` instead of a [`SystemClock`] (a
    /// [`ManualClock`](crate::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Makes [`refresh`](Publisher::refresh) return the latest epoch without collecting
    /// while that epoch is younger than `interval` (by the publisher's clock).
    ///
    /// This bounds the collection rate whatever the number of callers, at a price: a
    /// refresh may then return an epoch collected up to `interval` *before* the call, so
    /// it no longer promises to reflect everything recorded before the call. A zero
    /// interval is the same as none.
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = (!interval.is_zero()).then_some(interval);
        self
    }

    /// Collects the first snapshot (epoch 0) and returns the publisher.
    pub fn build(self) -> Publisher<S> {
        let collected_at = self.clock.now();
        let first = Arc::new(Epoch {
            number: 0,
            collected_at,
            publisher: NEXT_PUBLISHER_ID.fetch_add(1, Ordering::Relaxed),
            covers: 0,
            snapshot: (self.source)(),
        });
        Publisher {
            shared: Arc::new(Shared {
                id: first.publisher,
                source: self.source,
                clock: self.clock,
                min_interval: self.min_interval,
                latest: ArcSwap::new(Arc::clone(&first)),
                tickets: AtomicU64::new(0),
                #[cfg(feature = "tokio")]
                watch: tokio::sync::watch::Sender::new(Arc::clone(&first)),
                collect: Mutex::new(CollectState { collecting: false, last: first }),
                collected: Condvar::new(),
                published: Mutex::new(0),
                published_cv: Condvar::new(),
                stale: Mutex::new(()),
            }),
        }
    }
}

impl<S: Send + Sync + 'static> Publisher<S> {
    /// A publisher of `source`'s snapshots with a [`SystemClock`] and no minimum interval.
    /// Calls `source` once, for epoch 0.
    pub fn new(source: impl Fn() -> S + Send + Sync + 'static) -> Self {
        Publisher::builder(source).build()
    }

    /// A builder, to set a clock or a minimum refresh interval.
    pub fn builder(source: impl Fn() -> S + Send + Sync + 'static) -> PublisherBuilder<S> {
        PublisherBuilder {
            source: Box::new(source),
            clock: Arc::new(SystemClock::new()),
            min_interval: None,
        }
    }

    /// The newest published epoch. Never collects and never touches the metric set's
    /// writer shards.
    ///
    /// Cost: an `ArcSwap` load plus one increment of the epoch's reference count, tens of
    /// nanoseconds; the increment is an atomic RMW on a line shared by every reader of the
    /// same epoch, so many threads calling this in a tight loop contend on it. Use
    /// [`with_latest`](Self::with_latest) to read without touching the count.
    pub fn latest(&self) -> Arc<Epoch<S>> {
        self.shared.latest.load_full()
    }

    /// The publisher's clock now: the time stamp a collection starting now would get.
    ///
    /// Compare it with [`Epoch::collected_at`] to know how old an epoch is, for instance to
    /// [`refresh`](Self::refresh) only when [`latest`](Self::latest) is older than some
    /// bound (as the `tally-http` endpoint does). Only this publisher's epochs are stamped
    /// by this clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tally_epoch::{ManualClock, Publisher};
    ///
    /// let clock = ManualClock::new();
    /// let publisher = Publisher::builder(|| 0u64).clock(clock.clone()).build();
    /// clock.advance(Duration::from_secs(3));
    /// let age = publisher.now().saturating_sub(publisher.latest().collected_at());
    /// assert_eq!(age, Duration::from_secs(3));
    /// ```
    pub fn now(&self) -> Duration {
        self.shared.clock.now()
    }

    /// The newest published epoch if it was collected less than `max_age` ago, measured on
    /// the publisher's clock from the start of its collection; else `None`.
    ///
    /// The one staleness rule of tally: [`refresh`](Self::refresh) applies it with the
    /// [`min_interval`](PublisherBuilder::min_interval), and
    /// [`latest_or_collect`](Self::latest_or_collect) (what `tally-http` serves scrapes
    /// with) with its `max_age`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tally_epoch::{ManualClock, Publisher};
    /// let clock = ManualClock::new();
    /// let publisher = Publisher::builder(|| 1u64).clock(clock.clone()).build();
    /// assert!(publisher.latest_within(Duration::from_secs(1)).is_some());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(publisher.latest_within(Duration::from_secs(1)).is_none());
    /// ```
    pub fn latest_within(&self, max_age: Duration) -> Option<Arc<Epoch<S>>> {
        let latest = self.shared.latest.load_full();
        let age = self.shared.clock.now().saturating_sub(latest.collected_at);
        (age < max_age).then_some(latest)
    }

    /// The newest published epoch if it is younger than `max_age`
    /// ([`latest_within`](Self::latest_within)), else a new one: what a scrape wants.
    ///
    /// Callers that find the epoch stale together share one collection: the first takes
    /// a lock and [`refresh`](Self::refresh)es; the others wait for the lock, find the
    /// epoch it published young, and return it. That is weaker than `refresh`'s promise
    /// (which waits for a collection that *starts* after the call, so that it sees the
    /// caller's own records) and cheaper: "collected at most `max_age` ago" is all a
    /// scraper is promised, so N scrapers arriving together cost one collection, not two.
    /// Blocks while a collection runs: call it where blocking is allowed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tally_epoch::{ManualClock, Publisher};
    /// let clock = ManualClock::new();
    /// let publisher = Publisher::builder(|| 1u64).clock(clock.clone()).build();
    /// let first = publisher.latest_or_collect(Duration::from_secs(1));
    /// assert_eq!(first.number(), 0); // young: served as it is
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(publisher.latest_or_collect(Duration::from_secs(1)).number(), 1);
    /// ```
    pub fn latest_or_collect(&self, max_age: Duration) -> Arc<Epoch<S>> {
        if let Some(epoch) = self.latest_within(max_age) {
            return epoch;
        }
        // Poison carries no broken state: the mutex guards nothing but who collects, and a
        // source that panicked published nothing.
        let _collecting = self.shared.stale.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(epoch) = self.latest_within(max_age) {
            return epoch;
        }
        self.refresh()
    }

    /// Calls `f` with the newest published epoch, without cloning its `Arc`: an
    /// `ArcSwap` load (tens of nanoseconds) that does not contend with other readers.
    ///
    /// Do not block in `f` or call it recursively more than a few levels deep: arc-swap
    /// lends each thread a few fast slots, and a held guard keeps one.
    ///
    /// ```
    /// let publisher = tally_epoch::Publisher::new(|| 7u64);
    /// assert_eq!(publisher.with_latest(|e| *e.snapshot()), 7);
    /// ```
    pub fn with_latest<R>(&self, f: impl FnOnce(&Epoch<S>) -> R) -> R {
        f(&self.shared.latest.load())
    }

    /// Collects a new snapshot, unless a collection that started after this call began
    /// publishes one first, and returns that epoch.
    ///
    /// Concurrent callers coalesce: collections run one at a time, and callers that arrive
    /// while one runs wait for the next one together and all return its epoch. With a
    /// [`min_interval`](PublisherBuilder::min_interval), a latest epoch younger than the
    /// interval is returned at once, without collecting.
    ///
    /// If the source panics, the panic propagates to the caller that ran it; the callers
    /// waiting on that collection then run the next one, and nothing is published for the
    /// failed one.
    ///
    /// # Guarantees, and why they hold
    ///
    /// Without a minimum interval:
    ///
    /// 1. **Fresh.** The returned epoch was collected by a collection that started after
    ///    this call began: everything that happened before the call (records by this
    ///    thread, and by threads whose records happen-before it) is in the snapshot.
    /// 2. **Coalesced.** However many callers arrive while a collection runs, they cost
    ///    one more collection between them, not one each.
    /// 3. **Ordered.** Epoch numbers strictly increase in publication order, and
    ///    [`latest`](Self::latest) never goes back to an older epoch.
    ///
    /// The protocol. On entry a caller draws a ticket `t = tickets.fetch_add(1, Release)`
    /// and takes the `collect` mutex, which guards a `collecting` flag and the last
    /// published epoch `last`. Then, in a loop: if `last.covers > t`, it returns `last`;
    /// else, if no collection is running, it sets `collecting`, releases the mutex and
    /// runs one; else it sleeps on a condvar until the running collection ends. A
    /// collection reads `covers = tickets.load(Acquire)`, then stamps the clock and calls
    /// the source, publishes an epoch numbered `last.number + 1` that records `covers`,
    /// and finally, under the mutex, installs it as `last`, clears `collecting` and wakes
    /// all sleepers (the last step also runs, minus the install, if the source panics).
    ///
    /// *Proof of 1.* Say the caller returns epoch `E` with `E.covers = v > t`, where `v` is
    /// the value that `E`'s collection read with its `Acquire` load `L` (when the caller
    /// collected `E` itself, `v > t` holds too: `L` follows the caller's own ticket
    /// increment in program order, so by coherence it reads that increment or a later
    /// one). Every modification of `tickets` adds 1, so `v > t` means `L` read the value
    /// written by the caller's increment `R` or by a later one in `tickets`'
    /// modification order. Every modification of `tickets` is a read-modify-write, so all
    /// those later ones belong to the release sequence headed by `R`, a `Release`
    /// operation. An `Acquire` load that reads from a release sequence synchronizes with
    /// its head: `R` synchronizes with `L`. So everything before the caller's call
    /// happens-before `L`, which is sequenced before the source is called. ∎
    ///
    /// The ticket must be a write: a caller that merely *loaded* a counter of started
    /// collections on entry would also find a collection that started "later" by that
    /// counter, but a load releases nothing, so that collection could still miss records
    /// the caller made just before calling. The `fetch_add` is what publishes them.
    ///
    /// *Proof of 2.* Let collection `C` run while callers `a₁ … aₙ` arrive. None of them
    /// collects while `C` runs (`collecting` is set); they sleep. When `C` ends it wakes
    /// them all. Those whose tickets `C` covers return. Of the rest, the first to take the
    /// mutex starts `C'`, whose load `L'` of `tickets` comes after every `aᵢ` drew its
    /// ticket (each drew before sleeping, and `C'` started after they slept, both under the
    /// mutex), so `C'` covers them all: when `C'` ends, every `aᵢ` returns. The `aᵢ` thus
    /// cost at most the one collection `C'`. ∎
    ///
    /// (Why sleep on a condvar rather than queue on a mutex held during the collection:
    /// with such a mutex, a caller whose epoch is already published must still wait for
    /// the mutex, and a caller that just returned and calls again can take it first and
    /// start a collection that everyone queued must then sit through. On two cores that
    /// shrank the batches to about two callers per collection; here a covered caller
    /// never waits for a collection it does not need.)
    ///
    /// *Proof of 3.* Only the thread that set `collecting` numbers and publishes an epoch,
    /// and the flag passes from one collection to the next through the mutex, so
    /// collections are ordered by happens-before; each numbers its epoch `last.number +
    /// 1` with `last` its predecessor's, and stores it in `latest` (and the other
    /// channels) before clearing the flag. So the stores to `latest` carry increasing
    /// numbers in the order they are made. A load of `latest` reads the pointer behind the
    /// `ArcSwap` from one atomic, whose reads are coherent: a thread's later load never
    /// returns a store older than one it has seen. ∎
    ///
    /// With a minimum interval, guarantee 1 is relaxed to: the returned epoch was
    /// collected at most `min_interval` before the call, or after it began.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use tally_epoch::Publisher;
    ///
    /// let counter = Arc::new(AtomicU64::new(0));
    /// let source = Arc::clone(&counter);
    /// let publisher = Publisher::new(move || source.load(Ordering::Relaxed));
    /// counter.store(5, Ordering::Relaxed);
    /// // Whatever happened before the call is in the epoch it returns.
    /// assert_eq!(*publisher.refresh().snapshot(), 5);
    /// ```
    pub fn refresh(&self) -> Arc<Epoch<S>> {
        let shared = &*self.shared;
        if let Some(epoch) = shared.min_interval.and_then(|interval| self.latest_within(interval)) {
            return epoch;
        }
        // Release: a collection whose Acquire load of `tickets` reads this increment or a
        // later one (all later ones are RMWs, so in this increment's release sequence)
        // sees everything this thread did before calling (proof above).
        let ticket = shared.tickets.fetch_add(1, Ordering::Release);
        let mut state = lock(&shared.collect);
        loop {
            if state.last.covers > ticket {
                return Arc::clone(&state.last);
            }
            if !state.collecting {
                break;
            }
            state = shared.collected.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.collecting = true;
        let number = state.last.number + 1;
        drop(state);
        // Dropped also if the source panics, so that the waiting callers go on.
        let mut collecting = Collecting { shared, epoch: None };
        let epoch = self.collect(number);
        collecting.epoch = Some(Arc::clone(&epoch));
        drop(collecting);
        epoch
    }

    /// Runs one collection and publishes its epoch. The caller holds the `collecting`
    /// flag.
    fn collect(&self, number: u64) -> Arc<Epoch<S>> {
        let shared = &*self.shared;
        // Acquire: pairs with the Release ticket increments of the callers this collection
        // covers, so their earlier records are visible to the source call below.
        let covers = shared.tickets.load(Ordering::Acquire);
        let collected_at = shared.clock.now();
        let snapshot = (shared.source)();
        let epoch =
            Arc::new(Epoch { number, collected_at, publisher: shared.id, covers, snapshot });
        shared.latest.store(Arc::clone(&epoch));
        {
            let mut published = lock(&shared.published);
            *published = number;
            shared.published_cv.notify_all();
        }
        #[cfg(feature = "tokio")]
        shared.watch.send_replace(Arc::clone(&epoch));
        epoch
    }
}

/// Holds the `collecting` flag for the duration of one collection. Its drop installs the
/// new epoch as `last` (if the collection finished), clears the flag and wakes the
/// callers waiting for the collection, also when the source panicked.
struct Collecting<'a, S> {
    shared: &'a Shared<S>,
    epoch: Option<Arc<Epoch<S>>>,
}

impl<S> Drop for Collecting<'_, S> {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.collect);
        if let Some(epoch) = self.epoch.take() {
            state.last = epoch;
        }
        state.collecting = false;
        drop(state);
        self.shared.collected.notify_all();
    }
}

/// Locks `mutex`, ignoring poisoning. No mutex here is held while user code (the source,
/// a wait predicate) runs, and each one's data is consistent between statements, so a
/// poisoned mutex carries no broken invariant.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S> fmt::Debug for Publisher<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let latest = self.shared.latest.load();
        f.debug_struct("Publisher")
            .field("id", &self.shared.id)
            .field("latest_number", &latest.number)
            .field("latest_collected_at", &latest.collected_at)
            .field("min_interval", &self.shared.min_interval)
            .finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for PublisherBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublisherBuilder")
            .field("min_interval", &self.min_interval)
            .finish_non_exhaustive()
    }
}
