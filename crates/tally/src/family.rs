//! Labelled families: one metric set per combination of label values.
//!
//! Lookup is lock-free: the label → series map is an immutable `hashbrown` map behind an
//! `ArcSwap`, read without any shared write (arc-swap's load touches only a thread-local
//! debt slot). A miss takes a mutex, copies the map with the new series added, and swaps
//! it in (copy-on-write); misses are rare by construction, since the map is bounded by the
//! family's cardinality limit. Past the limit, records go to one overflow series whose label
//! values are all [`OVERFLOW_LABEL`], and the family counts the redirects.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use hashbrown::{Equivalent, HashMap};
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

/// The owned key of a series: its label values.
#[derive(Clone, PartialEq, Eq)]
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

type Map<S> = HashMap<Key, Arc<S>>;

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
    map: ArcSwap<Map<S>>,
    insert: Mutex<()>,
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
            map: ArcSwap::from_pointee(Map::default()),
            insert: Mutex::new(()),
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
    /// # Errors
    ///
    /// [`FamilyError::LabelCount`] when `values` has the wrong length; `f` is not called
    /// then, so nothing is recorded.
    #[inline]
    pub fn with<R>(&self, values: &[&str], f: impl FnOnce(&S) -> R) -> Result<R, FamilyError> {
        self.check_arity(values.len())?;
        {
            let map = self.map.load();
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
        if let Some(set) = self.map.load().get(&Lookup(values)) {
            return Ok(set.clone());
        }
        Ok(self.insert_or_overflow(values))
    }

    /// The number of series (not counting the overflow series).
    pub fn len(&self) -> usize {
        self.map.load().len()
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
        // is loaded again: another thread may have inserted these very values (filling the
        // map) since the caller missed them, and their records belong in that series.
        let map = self.map.load();
        if map.len() >= self.limit {
            return match map.get(&Lookup(values)) {
                Some(set) => set.clone(),
                None => self.redirect(),
            };
        }
        drop(map);
        let _guard = self.insert.lock().unwrap_or_else(|e| e.into_inner());
        let map = self.map.load();
        if let Some(set) = map.get(&Lookup(values)) {
            // Another thread inserted it while we waited.
            return set.clone();
        }
        if map.len() >= self.limit {
            return self.redirect();
        }
        let set = Arc::new((self.make)());
        let mut next = Map::with_capacity_and_hasher(map.len() + 1, map.hasher().clone());
        next.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
        let key = Key(values.iter().map(|v| Box::<str>::from(*v)).collect());
        debug_assert_eq!(next.hasher().hash_one(&key), next.hasher().hash_one(Lookup(values)));
        next.insert(key, set.clone());
        self.map.store(Arc::new(next));
        set
    }

    fn redirect(&self) -> Arc<S> {
        self.redirects.redirects().inc();
        self.overflow.clone()
    }

    /// Every series' snapshot, sorted by label values, then the overflow series if anything
    /// was redirected to it; `collect_one` turns a set into its snapshot.
    pub fn collect_with(&self, collect_one: impl Fn(&S) -> SetSnapshot) -> Vec<SeriesSnapshot> {
        let map = self.map.load_full();
        let mut series: Vec<SeriesSnapshot> = map
            .iter()
            .map(|(k, set)| SeriesSnapshot {
                labels: k.0.iter().map(|s| s.to_string()).collect(),
                snapshot: collect_one(set),
            })
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        if self.overflow_redirects() > 0 {
            series.push(SeriesSnapshot {
                labels: vec![OVERFLOW_LABEL.to_owned(); self.label_names.len()],
                snapshot: collect_one(&self.overflow),
            });
        }
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
            .field("series", &self.map.load().len())
            .field("limit", &self.limit)
            .finish()
    }
}
