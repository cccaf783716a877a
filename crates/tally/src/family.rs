//! Labelled families: one metric set per combination of label values.
//!
//! The label → series map is a [`Table`] of write-once slots behind an `ArcSwap`: a lookup of
//! an existing series is an arc-swap load (it writes only the calling thread's own debt
//! slot), a hash of the values and a probe, with no lock; a new series sets one empty slot in
//! place, and a table that would be more than half full is copied into one twice its size,
//! so a new series costs amortised O(1) however many series the family has. Before, the map
//! was an immutable `hashbrown` map copied whole for each new series: O(n) per series, so
//! filling a family was quadratic (21,500 series took a minute, 100,000 would have taken
//! tens of minutes).
//!
//! Why not a concurrent map crate: `papaya` (lock-free reads; tried first) made the lookup
//! of an existing series slower than the old map (about 18 ns against 15 ns, its reclamation
//! guard costing more than an arc-swap load), where this table takes about 13 ns; fills cost
//! the same. `benches/benches/family.rs` measures fills and lookups against the family's
//! size; `docs/PERFORMANCE.md` has the figures. The table needs no reclamation scheme of its
//! own: its slots are never emptied, and arc-swap frees a replaced table once its last
//! reader is done.
//!
//! New series are created one at a time, under a mutex (the writer mutex): the count of
//! series is then exact, and never passes the family's cardinality limit however many
//! threads race to insert. Past the limit, records go to one overflow series whose label
//! values are all [`OVERFLOW_LABEL`], and the family counts the redirects. A full family
//! answers a miss without the mutex (a flood of new label values costs no contention).
//!
//! Series are removed ([`Family::remove`], [`Family::retain`], idle expiry) by building a
//! table of the others and swapping it in, under the same mutex; the lookup path does not
//! change at all. How removal stays exact is in the `lifecycle` module.
//!
//! # Orderings
//!
//! - A slot is set once (`OnceLock::set`, Release) by the holder of the writer mutex, after
//!   its `Slot` is built, so that a reader whose `OnceLock::get` (Acquire) sees the slot set
//!   sees the whole `Slot`. A reader that sees a slot of a probe still empty stops there and
//!   misses: the miss path takes the mutex and searches the current table again.
//! - A grown or rebuilt table is filled before `ArcSwap::swap` publishes it, so that a reader
//!   whose `load` sees it sees its slots set (arc-swap's store and load pair up that way).
//! - `len` is written only under the mutex, after the new series is in the current table
//!   (Release), so that a thread that acquires the count `n` finds the `n` series in the table
//!   it then loads. The lock-free full check in `insert_or_overflow` loads it with Acquire:
//!   when it reads the limit and then misses the values, they have no series, so the record
//!   belongs in the overflow series. A thread that missed the values while another was
//!   inserting them, the insert that filled the map, finds them there.
//! - A removal can take a series out of the table only for a moment (it puts back series
//!   still in use) and frees room under the limit: the full check must not redirect a record
//!   on a miss seen during one. `removals` counts removals begun and ended (odd while one
//!   runs), like a sequence lock: the remover increments it (Release) before it swaps in the
//!   first table and again after the last; the full check loads it (Acquire) before `len`
//!   and after its miss, and redirects only if both loads read the same even value. A miss in
//!   a table swapped in by a removal means the remover's first increment happens-before the
//!   second load (the table's publication carries it), so the check sees a change and takes
//!   the mutex, where it waits for the removal to end.
//! - `len()` reads it Relaxed: a count for display, ordering nothing.

mod idle;
mod lifecycle;
mod table;

use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tally_core::MetricSet;
use tally_snapshot::{SeriesSnapshot, SetSnapshot, is_valid_label_name};

use self::idle::Idle;
use self::table::{Key, Lookup, Slot, Table};

pub use self::lifecycle::Removed;

/// The label value of every label of a family's overflow series. A lookup whose every value
/// is this one gets the overflow series itself (counted as a redirect), so that no series of
/// its own shares the overflow series' labels.
pub const OVERFLOW_LABEL: &str = "__overflow__";

/// The cardinality limit of a family unless configured otherwise: the number of distinct
/// label-value combinations it keeps before redirecting to the overflow series.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// What went wrong creating a family or looking up a series.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FamilyError {
    /// A label name breaks the Prometheus label-name rules.
    #[error(
        "label name {name:?} is not valid: use ASCII letters, digits and '_', not starting \
         with a digit or with '__' (Prometheus label-name rules)"
    )]
    InvalidLabelName {
        /// The rejected name.
        name: String,
    },
    /// Two labels of the family share a name.
    #[error("label name {name:?} appears twice: give each label of a family its own name")]
    DuplicateLabelName {
        /// The repeated name.
        name: String,
    },
    /// A lookup gave the wrong number of label values.
    #[error(
        "this family has {expected} labels ({names:?}) but {got} values were given: pass one \
         value per label, in that order"
    )]
    LabelCount {
        /// Labels the family has.
        expected: usize,
        /// Values given.
        got: usize,
        /// The family's label names.
        names: Vec<String>,
    },
    /// The cardinality limit is zero.
    #[error(
        "a family's cardinality limit must be at least 1 (the default is {DEFAULT_CARDINALITY_LIMIT})"
    )]
    ZeroLimit,
    /// [`Family::remove`] found the series still held outside the family: by a handle from
    /// [`Family::bind`], or by a [`Family::with`] call still running on it. Nothing was
    /// removed.
    #[error(
        "series {labels:?} is still in use (a handle from bind() is alive, or a with() call on \
         it is running): drop the handles, let the calls return, and remove it again; nothing \
         was removed"
    )]
    SeriesInUse {
        /// The series' label values.
        labels: Vec<String>,
    },
}

/// The table's hasher: foldhash, seeded per family (hashbrown's default hasher).
type MapHasher = foldhash::fast::RandomState;

/// A family of metric sets of type `S`, one per combination of label values.
///
/// ```
/// use tally::{Family, InferenceStats};
///
/// let by_model = Family::<InferenceStats>::new(&["model", "device"]).unwrap();
/// // Looked up on every call (lock-free): about a hash of the values.
/// by_model.with(&["resnet50", "gpu0"], |s| s.record_inference(true, false)).unwrap();
/// // Or bound once, for zero-lookup recording.
/// let bert = by_model.bind(&["bert", "gpu1"]).unwrap();
/// bert.record_inference(false, true);
///
/// let series = by_model.collect();
/// assert_eq!(series.len(), 2);
/// assert_eq!(series[0].labels, ["bert", "gpu1"]);
/// ```
pub struct Family<S> {
    label_names: Box<[String]>,
    table: ArcSwap<Table<S>>,
    hasher: MapHasher,
    /// Held by the one thread changing the table: creating a series (misses below the limit
    /// only) or removing some.
    writer: Mutex<Writer<S>>,
    /// The series in `table`: written under `writer`, after the change (see `# Orderings`).
    len: AtomicUsize,
    /// Removals begun and ended: odd while one runs (see `# Orderings`).
    removals: AtomicUsize,
    limit: usize,
    overflow: Arc<S>,
    redirects: FamilyStats,
    /// Idle expiry, when configured: the duration, and what the collections saw (locked
    /// for a whole collection, before `writer` when both are held).
    idle: Option<(Duration, Mutex<Idle>)>,
    make: Box<dyn Fn() -> S + Send + Sync>,
}

/// What the holder of the writer mutex keeps: the tables it replaced, until their last
/// reader is done (see the `lifecycle` module).
struct Writer<S> {
    retired: Vec<Weak<Table<S>>>,
}

impl<S> Writer<S> {
    /// Notes a replaced table; forgets those no reader holds any more.
    fn retire(&mut self, table: Arc<Table<S>>) {
        self.retired.retain(|t| t.strong_count() > 0);
        self.retired.push(Arc::downgrade(&table));
    }
}

crate::metric_set! {
    /// A family's own bookkeeping.
    struct FamilyStats {
        /// Lookups and binds redirected to the overflow series.
        redirects: Counter,
    }
}

impl<S: MetricSet> Family<S> {
    /// A family of `S` with these label names and the default cardinality limit.
    ///
    /// # Errors
    ///
    /// [`FamilyError`] for an invalid or repeated label name.
    pub fn new(label_names: &[&str]) -> Result<Self, FamilyError> {
        Self::with_limit(label_names, DEFAULT_CARDINALITY_LIMIT)
    }

    /// A family of `S` keeping at most `limit` series besides the overflow series.
    ///
    /// # Errors
    ///
    /// [`FamilyError`] for an invalid or repeated label name, or a zero limit.
    pub fn with_limit(label_names: &[&str], limit: usize) -> Result<Self, FamilyError> {
        Family::with_factory(label_names, limit, S::new_set)
    }
}

impl<S: Send + Sync + 'static> Family<S> {
    /// A family whose series are made by `make` (for sets built at run time, such as
    /// [`RawSet`](crate::RawSet)s of a layout read from configuration).
    ///
    /// # Errors
    ///
    /// As [`Family::with_limit`].
    pub fn with_factory(
        label_names: &[&str],
        limit: usize,
        make: impl Fn() -> S + Send + Sync + 'static,
    ) -> Result<Self, FamilyError> {
        for (i, name) in label_names.iter().enumerate() {
            if !is_valid_label_name(name) {
                return Err(FamilyError::InvalidLabelName { name: (*name).to_owned() });
            }
            if label_names[..i].contains(name) {
                return Err(FamilyError::DuplicateLabelName { name: (*name).to_owned() });
            }
        }
        if limit == 0 {
            return Err(FamilyError::ZeroLimit);
        }
        Ok(Family {
            label_names: label_names.iter().map(|s| (*s).to_owned()).collect(),
            table: ArcSwap::from_pointee(Table::with_len(Table::<S>::FIRST_LEN)),
            hasher: MapHasher::default(),
            writer: Mutex::new(Writer { retired: Vec::new() }),
            len: AtomicUsize::new(0),
            removals: AtomicUsize::new(0),
            limit,
            overflow: Arc::new(make()),
            redirects: FamilyStats::new(),
            idle: None,
            make: Box::new(make),
        })
    }

    /// The same family, whose series are removed at collection once nothing was recorded
    /// into them for `after` (see [`Family::collect_with`] for what counts as recorded
    /// into). A series held by a handle from [`bind`](Self::bind) is never expired: it can
    /// still be recorded into.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tally::{Family, InferenceStats};
    ///
    /// let by_user = Family::<InferenceStats>::new(&["user"])
    ///     .unwrap()
    ///     .expire_idle_after(Duration::ZERO);
    /// by_user.with(&["ana"], |s| s.record_inference(true, false)).unwrap();
    /// assert_eq!(by_user.collect().len(), 1); // first seen: recorded into
    /// assert_eq!(by_user.collect().len(), 0); // unchanged since: idle, removed
    /// assert!(by_user.is_empty());
    /// ```
    pub fn expire_idle_after(mut self, after: Duration) -> Self {
        self.idle = Some((after, Mutex::new(Idle::new(after))));
        self
    }

    /// The idle expiry, if configured ([`expire_idle_after`](Self::expire_idle_after)).
    pub fn idle_expiry(&self) -> Option<Duration> {
        self.idle.as_ref().map(|(after, _)| *after)
    }

    /// The label names, in order.
    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }

    /// The cardinality limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Runs `f` on the series of these label values, creating it on first use. Lock-free
    /// when the series exists; past the cardinality limit, `f` gets the overflow series.
    ///
    /// While `f` runs on an existing series, the calling thread holds an arc-swap guard of
    /// the family's table: a table outgrown meanwhile is freed only after `f` returns, and a
    /// removal of the series waits for `f` to return (for at most 100 ms, then it leaves
    /// the series in place and reports it in use).
    ///
    /// # Errors
    ///
    /// [`FamilyError::LabelCount`] when `values` has the wrong length; `f` is not called
    /// then, so nothing is recorded.
    #[inline]
    pub fn with<R>(&self, values: &[&str], f: impl FnOnce(&S) -> R) -> Result<R, FamilyError> {
        self.check_arity(values.len())?;
        let hash = self.hasher.hash_one(Lookup(values));
        if let Some(set) = self.table.load().find(hash, values) {
            return Ok(f(set));
        }
        let set = self.insert_or_overflow(hash, values);
        Ok(f(&set))
    }

    /// The series of these label values, to record into without further lookups. While
    /// the handle (or a clone of it) lives, the series is not removed:
    /// [`remove`](Self::remove) reports it in use and idle expiry skips it, so nothing
    /// recorded through the handle is ever lost.
    ///
    /// # Errors
    ///
    /// As [`with`](Self::with).
    pub fn bind(&self, values: &[&str]) -> Result<Arc<S>, FamilyError> {
        self.check_arity(values.len())?;
        let hash = self.hasher.hash_one(Lookup(values));
        if let Some(set) = self.table.load().find(hash, values) {
            return Ok(set.clone());
        }
        Ok(self.insert_or_overflow(hash, values))
    }

    /// The number of series (not counting the overflow series): those created and not
    /// removed.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether no series has been created.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lookups and binds redirected to the overflow series so far.
    pub fn overflow_redirects(&self) -> u64 {
        self.redirects.snapshot().redirects
    }

    #[inline]
    fn check_arity(&self, got: usize) -> Result<(), FamilyError> {
        if got == self.label_names.len() {
            Ok(())
        } else {
            Err(FamilyError::LabelCount {
                expected: self.label_names.len(),
                got,
                names: self.label_names.to_vec(),
            })
        }
    }

    /// The miss path of a lookup: never reached for values that have a series, so the
    /// overflow-labels check costs the hit path nothing.
    #[cold]
    fn insert_or_overflow(&self, hash: u64, values: &[&str]) -> Arc<S> {
        if !values.is_empty() && values.iter().all(|v| *v == OVERFLOW_LABEL) {
            // The overflow series' own labels: that series, never a second one under them.
            return self.redirect();
        }
        // A full map never takes another series, so a miss on it goes to the overflow
        // series without the lock: a flood of new label values costs no contention. The map
        // is searched again: another thread may have inserted these very values (filling the
        // map) since the caller missed them, and their records belong in that series.
        // Acquire: pairs with the remover's Release increments (see `# Orderings`).
        let removals = self.removals.load(Ordering::Acquire);
        // Acquire: pairs with the Release store below, so a full count means its series are
        // all in the table loaded next.
        if self.len.load(Ordering::Acquire) >= self.limit {
            if let Some(set) = self.table.load().find(hash, values) {
                return set.clone();
            }
            // Acquire, as above: a miss in a table a removal swapped in shows as a change.
            if removals.is_multiple_of(2) && self.removals.load(Ordering::Acquire) == removals {
                return self.redirect();
            }
            // A removal ran meanwhile: it may have freed room, or put these values back.
        }
        let mut writer = lock(&self.writer);
        let mut table = self.table.load_full();
        if let Some(set) = table.find(hash, values) {
            // Another thread inserted it while we waited.
            return set.clone();
        }
        // Written only under the lock: exact here.
        let len = self.len.load(Ordering::Relaxed);
        if len >= self.limit {
            return self.redirect();
        }
        let set = Arc::new((self.make)());
        if !table.has_room_for_one_more(len) {
            // Filled before it is published (see `# Orderings`); readers of the old table
            // that miss a series inserted from now on find it on the miss path.
            table = Arc::new(table.grown());
            writer.retire(self.table.swap(Arc::clone(&table)));
        }
        let key = Key::new(values);
        table.place(Slot { hash, key, set: Arc::clone(&set) });
        // Release: a thread that acquires the new count finds this series in the table.
        self.len.store(len + 1, Ordering::Release);
        set
    }

    fn redirect(&self) -> Arc<S> {
        self.redirects.redirects().inc();
        self.overflow.clone()
    }

    /// Every series' snapshot, the overflow series among them if anything was redirected to
    /// it, sorted by label values (`__overflow__` sorts like any other value: merges of
    /// snapshots find series by binary search); `collect_one` turns a set into its snapshot.
    ///
    /// Series created while it runs may or may not be in it.
    ///
    /// With idle expiry ([`expire_idle_after`](Self::expire_idle_after)), this is where
    /// series expire: a series counts as recorded into when its collected values changed
    /// since the previous collection (a counter's count, a gauge's level, a last value's
    /// stamp, a histogram's count; gauge moves that cancel out between two collections do
    /// not count), so the record path pays nothing. A series whose values stood still for
    /// the idle duration is removed, as by [`retain`](Self::retain), and left out of this
    /// collection; one held by a handle from [`bind`](Self::bind) stays. Collections of such
    /// a family take turns (they share what the previous one saw).
    pub fn collect_with(&self, collect_one: impl Fn(&S) -> SetSnapshot) -> Vec<SeriesSnapshot> {
        let mut idle = self.idle.as_ref().map(|(_, seen)| lock(seen));
        // The time of this collection: taken before the values are read, so that a series
        // counts as idle only for time it really was.
        let now = Instant::now();
        let table = self.table.load_full();
        let mut series: Vec<(Key, SeriesSnapshot)> = table
            .series()
            .map(|slot| {
                let snapshot = collect_one(&slot.set);
                (slot.key.clone(), SeriesSnapshot { labels: slot.key.to_labels(), snapshot })
            })
            .collect();
        // Held no longer: a removal waits for every reader of the tables it replaces.
        drop(table);
        if let Some(idle) = idle.as_deref_mut() {
            let expired = idle.observe(series.iter().map(|(k, s)| (k, &s.snapshot)), now);
            if !expired.is_empty() {
                let expired: std::collections::HashSet<Key> = expired.into_iter().collect();
                let removal = self.remove_where(|slot| expired.contains(&slot.key));
                idle.forget(removal.keys());
                let removed: std::collections::HashSet<&Key> = removal.keys().collect();
                series.retain(|(key, _)| !removed.contains(key));
            }
        }
        drop(idle);
        let mut series: Vec<SeriesSnapshot> = series.into_iter().map(|(_, s)| s).collect();
        if self.overflow_redirects() > 0 {
            series.push(SeriesSnapshot {
                labels: vec![OVERFLOW_LABEL.to_owned(); self.label_names.len()],
                snapshot: collect_one(&self.overflow),
            });
        }
        // Unstable is enough: no two series share labels (values all `OVERFLOW_LABEL` lead to
        // the overflow series itself).
        series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        series
    }
}

/// Locks `mutex`, whose data stays consistent even if a holder panicked (every change
/// under it is complete before anything that can panic).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: MetricSet> Family<S> {
    /// Every series' snapshot (see [`collect_with`](Self::collect_with)), collected from
    /// each set's untyped layer straight into its run-time values (no typed snapshot built
    /// and converted back).
    pub fn collect(&self) -> Vec<SeriesSnapshot> {
        self.collect_with(|s| s.raw().snapshot())
    }
}

impl<S> fmt::Debug for Family<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("label_names", &self.label_names)
            .field("series", &self.len.load(Ordering::Relaxed))
            .field("limit", &self.limit)
            .finish()
    }
}
