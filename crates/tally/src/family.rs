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
//! own: its slots are never emptied, and arc-swap frees an outgrown table once its last
//! reader is done.
//!
//! New series are created one at a time, under a mutex: the count of series is then exact,
//! and never passes the family's cardinality limit however many threads race to insert. Past
//! the limit, records go to one overflow series whose label values are all
//! [`OVERFLOW_LABEL`], and the family counts the redirects. A full family answers a miss
//! without the mutex (a flood of new label values costs no contention).
//!
//! # Orderings
//!
//! - A slot is set once (`OnceLock::set`, Release) by the holder of the insert mutex, after
//!   its `Slot` is built, so that a reader whose `OnceLock::get` (Acquire) sees the slot set
//!   sees the whole `Slot`. A reader that sees a slot of a probe still empty stops there and
//!   misses: the miss path takes the mutex and searches the current table again.
//! - A grown table is filled before `ArcSwap::store` publishes it, so that a reader whose
//!   `load` sees it sees its slots set (arc-swap's store and load pair up that way).
//! - `len` is written only under the mutex, after the new series is in the current table
//!   (Release), so that a thread that acquires the count `n` finds the `n` series in the table
//!   it then loads. The lock-free full check in `insert_or_overflow` loads it with Acquire:
//!   when it reads the limit and then misses the values, they have no series and never will
//!   (the map is full for good), so the record belongs in the overflow series. A thread that
//!   missed the values while another was inserting them, the insert that filled the map,
//!   finds them there.
//! - `len()` reads it Relaxed: a count for display, ordering nothing.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use tally_core::MetricSet;
use tally_snapshot::{SeriesSnapshot, SetSnapshot};

use tally_snapshot::is_valid_label_name;

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
}

/// The owned key of a series: its label values, each as its byte length (a native-endian
/// `usize`) then its bytes, in one allocation, shared by the tables a family outgrows. One
/// allocation rather than a box per value: a lookup of a series not in cache then waits for
/// one miss fewer (`family_with/spread` in `benches/benches/family.rs`).
#[derive(Clone)]
struct Key(Arc<[u8]>);

/// The bytes of a value's length in a [`Key`].
const LEN: usize = size_of::<usize>();

impl Key {
    fn new(values: &[&str]) -> Self {
        let mut bytes = Vec::with_capacity(values.iter().map(|v| LEN + v.len()).sum());
        for v in values {
            bytes.extend_from_slice(&v.len().to_ne_bytes());
            bytes.extend_from_slice(v.as_bytes());
        }
        Key(bytes.into())
    }

    /// The label values, in order (as given to [`Key::new`]).
    fn values(&self) -> impl Iterator<Item = &str> {
        let mut rest = &self.0[..];
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<LEN>()?;
            let (value, tail) = tail.split_at(usize::from_ne_bytes(*len));
            rest = tail;
            Some(std::str::from_utf8(value).expect("written from a str"))
        })
    }
}

/// A borrowed key, for lookups without allocating. Only a `Lookup` is ever hashed: a `Slot`
/// keeps the hash of the values it was created for.
struct Lookup<'a>(&'a [&'a str]);

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for v in self.0 {
            // `str`'s Hash writes the bytes and a terminator, so ["ab", "c"] != ["a", "bc"].
            v.hash(state);
        }
    }
}

impl Lookup<'_> {
    /// Whether `key` holds exactly these values (lengths compared first, so `["ab", "c"]`
    /// never matches `["a", "bc"]`).
    fn matches(&self, key: &Key) -> bool {
        let bytes = &key.0[..];
        let mut at = 0;
        for v in self.0 {
            let start = at + LEN;
            let end = start + v.len();
            if bytes.get(at..start) != Some(&v.len().to_ne_bytes()[..]) {
                return false;
            }
            if bytes.get(start..end) != Some(v.as_bytes()) {
                return false;
            }
            at = end;
        }
        at == bytes.len()
    }
}

/// The table's hasher: foldhash, seeded per family (hashbrown's default hasher).
type MapHasher = foldhash::fast::RandomState;

/// A series in the [`Table`]: the hash of its label values (a probe past another series
/// compares hashes first), its label values and its set.
struct Slot<S> {
    hash: u64,
    key: Key,
    set: Arc<S>,
}

impl<S> Clone for Slot<S> {
    fn clone(&self) -> Self {
        Slot { hash: self.hash, key: self.key.clone(), set: Arc::clone(&self.set) }
    }
}

/// An insert-only open-addressing table (linear probing) of write-once slots.
///
/// Invariants, kept by the one writer, the holder of the family's insert mutex:
/// - the length is a power of two and at most half the slots are set, so that every probe
///   reaches an empty slot and ends;
/// - a slot, once set, is never cleared or changed, so that a series' probe sequence from its
///   hash to its slot is all set slots, for good.
///
/// A table whose next series would make it more than half full is copied into one twice its
/// size, which replaces it (a slot's copy shares its key and set: two reference counts, no
/// allocation): each doubling copies as many series as were added since the last one, so a
/// new series costs amortised O(1).
struct Table<S> {
    slots: Box<[OnceLock<Slot<S>>]>,
}

impl<S> Table<S> {
    /// The length of a new family's table.
    const FIRST_LEN: usize = 8;

    fn with_len(len: usize) -> Self {
        debug_assert!(len.is_power_of_two());
        Table { slots: (0..len).map(|_| OnceLock::new()).collect() }
    }

    /// The series of `values`, whose hash is `hash`, if this table has it.
    #[inline]
    fn find(&self, hash: u64, values: &[&str]) -> Option<&Arc<S>> {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            // An empty slot ends the probe: the values have no series here.
            let slot = self.slots[i].get()?;
            if slot.hash == hash && Lookup(values).matches(&slot.key) {
                return Some(&slot.set);
            }
            i = (i + 1) & mask;
        }
    }

    /// Whether one more series keeps the table at most half full.
    fn has_room_for_one_more(&self, len: usize) -> bool {
        (len + 1) * 2 <= self.slots.len()
    }

    /// Sets the first empty slot of `slot`'s probe sequence. Only the holder of the insert
    /// mutex calls it, on a table with room (so that no other thread sets a slot meanwhile).
    fn place(&self, slot: Slot<S>) {
        let mask = self.slots.len() - 1;
        let mut i = slot.hash as usize & mask;
        while self.slots[i].get().is_some() {
            i = (i + 1) & mask;
        }
        let placed = self.slots[i].set(slot);
        debug_assert!(placed.is_ok(), "one writer: the slot found empty is still empty");
    }

    /// A copy twice the size, with every series of this one.
    fn grown(&self) -> Self {
        let next = Table::with_len(self.slots.len() * 2);
        for slot in self.series() {
            next.place(slot.clone());
        }
        next
    }

    /// The series, in slot order.
    fn series(&self) -> impl Iterator<Item = &Slot<S>> {
        self.slots.iter().filter_map(OnceLock::get)
    }
}

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
    /// Held by the one thread creating a series (misses below the limit only).
    insert: Mutex<()>,
    /// The series in `table`: written under `insert`, after the insert (see `# Orderings`).
    len: AtomicUsize,
    limit: usize,
    overflow: Arc<S>,
    redirects: FamilyStats,
    make: Box<dyn Fn() -> S + Send + Sync>,
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
            insert: Mutex::new(()),
            len: AtomicUsize::new(0),
            limit,
            overflow: Arc::new(make()),
            redirects: FamilyStats::new(),
            make: Box::new(make),
        })
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
    /// the family's table: a table outgrown meanwhile is freed only after `f` returns.
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

    /// The series of these label values, to record into without further lookups.
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

    /// The number of series (not counting the overflow series).
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
        // Acquire: pairs with the Release store below, so a full count means its series are
        // all in the table loaded next.
        if self.len.load(Ordering::Acquire) >= self.limit {
            return match self.table.load().find(hash, values) {
                Some(set) => set.clone(),
                None => self.redirect(),
            };
        }
        let _guard = self.insert.lock().unwrap_or_else(|e| e.into_inner());
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
            self.table.store(Arc::clone(&table));
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
    pub fn collect_with(&self, collect_one: impl Fn(&S) -> SetSnapshot) -> Vec<SeriesSnapshot> {
        let table = self.table.load_full();
        let mut series: Vec<SeriesSnapshot> = table
            .series()
            .map(|slot| SeriesSnapshot {
                labels: slot.key.values().map(str::to_owned).collect(),
                snapshot: collect_one(&slot.set),
            })
            .collect();
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

impl<S: MetricSet> Family<S> {
    /// Every series' snapshot (see [`collect_with`](Self::collect_with)).
    pub fn collect(&self) -> Vec<SeriesSnapshot> {
        self.collect_with(|s| tally_core::Snapshot::to_set_snapshot(&s.snapshot()))
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

#[cfg(test)]
mod tests {
    use super::{Key, Lookup};

    #[test]
    fn a_key_gives_back_its_values_and_matches_exactly_them() {
        let cases: &[&[&str]] = &[
            &[],
            &[""],
            &["", ""],
            &["ab", "c"],
            &["a", "bc"],
            &["abc"],
            &["ünïcödé ✓", "new\nline", "\u{0}"],
            &["model-001", "gpu12"],
        ];
        for (i, values) in cases.iter().enumerate() {
            let key = Key::new(values);
            assert_eq!(key.values().collect::<Vec<_>>(), *values);
            for (j, other) in cases.iter().enumerate() {
                assert_eq!(Lookup(other).matches(&key), i == j, "{other:?} against {values:?}");
            }
        }
    }
}
