//! Labelled families: one metric set per combination of label values.
//!
//! The label → series map is a [`papaya`] hash map: a lookup of an existing series takes no
//! lock and writes no line that another thread writes (papaya's guard marks only the calling
//! thread's own cache-padded slot of its reclamation scheme, `seize`), and a new series costs
//! amortised O(1), however many series the family has. The map was first an immutable
//! `hashbrown` map behind an `ArcSwap`, copied whole for each new series: O(n) per series, so
//! filling a family was quadratic (21,500 series took a minute, 100,000 would have taken
//! tens of minutes); `benches/benches/family.rs` measures both costs against the family's size.
//!
//! New series are created one at a time, under a mutex: the count of series is then exact,
//! and never passes the family's cardinality limit however many threads race to insert. Past
//! the limit, records go to one overflow series whose label values are all
//! [`OVERFLOW_LABEL`], and the family counts the redirects. A full family answers a miss
//! without the mutex (a flood of new label values costs no contention).
//!
//! The map resizes in papaya's [`Blocking`](papaya::ResizeMode::Blocking) mode: the insert
//! that outgrows the table copies it (so that one insert costs O(n), the fill amortised O(1)),
//! while readers go on reading the old table, which stays the source of truth until the copy
//! is complete. Papaya's default incremental mode would spread the copy over later inserts,
//! and meanwhile have lookups probe two tables and `collect` finish the copy itself: with
//! series created rarely, a resize could stay half done for good.
//!
//! # Orderings
//!
//! - `len` is written only under the `insert` mutex, after the new series is in the map
//!   (Release), so that a thread that acquires the count `n` finds the `n` series in the map.
//!   The lock-free full check in `insert_or_overflow` loads it with Acquire: when it reads the
//!   limit and then misses the values in the map, they have no series and never will (the map
//!   is full for good), so the record belongs in the overflow series. A thread that missed the
//!   values while another was inserting them, the insert that filled the map, finds them there.
//! - `len()` reads it Relaxed: a count for display, ordering nothing.
//! - The map's own operations synchronise what they publish: a lookup that finds a series
//!   happens after its insert (papaya's Release/Acquire on the entry).

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use papaya::{Equivalent, HashMap, ResizeMode};
use tally_core::MetricSet;
use tally_snapshot::{SeriesSnapshot, SetSnapshot};

use crate::registry::is_valid_label_name;

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

/// The owned key of a series: its label values.
#[derive(PartialEq, Eq)]
struct Key(Box<[Box<str>]>);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_values(self.0.iter().map(|s| &**s), state);
    }
}

/// A borrowed key, for lookups without allocating.
struct Lookup<'a>(&'a [&'a str]);

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_values(self.0.iter().copied(), state);
    }
}

impl Equivalent<Key> for Lookup<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.0.len() == key.0.len() && self.0.iter().zip(key.0.iter()).all(|(a, b)| *a == &**b)
    }
}

fn hash_values<'a>(values: impl Iterator<Item = &'a str>, state: &mut impl Hasher) {
    for v in values {
        // `str`'s Hash writes the bytes and a terminator, so ["ab", "c"] != ["a", "bc"].
        v.hash(state);
    }
}

/// The map's hasher: foldhash, seeded per map (hashbrown's default, as before papaya).
type MapHasher = foldhash::fast::RandomState;

type Map<S> = HashMap<Key, Arc<S>, MapHasher>;

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
    map: Map<S>,
    /// Held by the one thread creating a series (misses below the limit only).
    insert: Mutex<()>,
    /// The series in `map`: written under `insert`, after the insert (see `# Orderings`).
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
            map: HashMap::builder()
                .hasher(MapHasher::default())
                .resize_mode(ResizeMode::Blocking)
                .build(),
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
    /// While `f` runs on an existing series, the calling thread holds the map's guard: a
    /// table the map outgrew meanwhile is freed only after `f` returns.
    ///
    /// # Errors
    ///
    /// [`FamilyError::LabelCount`] when `values` has the wrong length; `f` is not called
    /// then, so nothing is recorded.
    #[inline]
    pub fn with<R>(&self, values: &[&str], f: impl FnOnce(&S) -> R) -> Result<R, FamilyError> {
        self.check_arity(values.len())?;
        {
            let map = self.map.pin();
            if let Some(set) = map.get(&Lookup(values)) {
                return Ok(f(set));
            }
        }
        let set = self.insert_or_overflow(values);
        Ok(f(&set))
    }

    /// The series of these label values, to record into without further lookups.
    ///
    /// # Errors
    ///
    /// As [`with`](Self::with).
    pub fn bind(&self, values: &[&str]) -> Result<Arc<S>, FamilyError> {
        self.check_arity(values.len())?;
        if let Some(set) = self.map.pin().get(&Lookup(values)) {
            return Ok(set.clone());
        }
        Ok(self.insert_or_overflow(values))
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
    fn insert_or_overflow(&self, values: &[&str]) -> Arc<S> {
        if !values.is_empty() && values.iter().all(|v| *v == OVERFLOW_LABEL) {
            // The overflow series' own labels: that series, never a second one under them.
            return self.redirect();
        }
        // A full map never takes another series, so a miss on it goes to the overflow
        // series without the lock: a flood of new label values costs no contention. The map
        // is searched again: another thread may have inserted these very values (filling the
        // map) since the caller missed them, and their records belong in that series.
        // Acquire: pairs with the Release store below, so a full count means its series are
        // all in the map.
        if self.len.load(Ordering::Acquire) >= self.limit {
            return match self.map.pin().get(&Lookup(values)) {
                Some(set) => set.clone(),
                None => self.redirect(),
            };
        }
        let _guard = self.insert.lock().unwrap_or_else(|e| e.into_inner());
        let map = self.map.pin();
        if let Some(set) = map.get(&Lookup(values)) {
            // Another thread inserted it while we waited.
            return set.clone();
        }
        // Written only under the lock: exact here.
        let len = self.len.load(Ordering::Relaxed);
        if len >= self.limit {
            return self.redirect();
        }
        let set = Arc::new((self.make)());
        let key = Key(values.iter().map(|v| Box::<str>::from(*v)).collect());
        let fixed = foldhash::fast::FixedState::default();
        debug_assert_eq!(
            fixed.hash_one(&key),
            fixed.hash_one(Lookup(values)),
            "an owned key and its borrowed lookup hash alike"
        );
        let inserted = map.insert(key, set.clone());
        debug_assert!(inserted.is_none(), "inserts are serialised by the lock: no one else's");
        // Release: a thread that acquires the new count finds this series in the map.
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
        let mut series: Vec<SeriesSnapshot> = self
            .map
            .pin()
            .iter()
            .map(|(k, set)| SeriesSnapshot {
                labels: k.0.iter().map(|s| s.to_string()).collect(),
                snapshot: collect_one(set),
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
