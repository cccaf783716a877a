//! A histogram's state at one instant: sparse bucket counts, quantiles, merge, delta, serde.

use serde::{Deserialize, Serialize};

use crate::{Delta, DeltaError, HistogramConfig, Merge};

/// A snapshot of a latency (or size) histogram: exact `count`, `sum`, `min`, `max`, the
/// overflow count, and sparse per-bucket counts in the layout of its [`HistogramConfig`].
///
/// Invariants, checked by every constructor and by deserialization:
/// - buckets are sorted by strictly increasing index, every index is below
///   [`config.bucket_count()`](HistogramConfig::bucket_count), no count is zero;
/// - the bucket counts plus `overflow` add up to `count`;
/// - an empty snapshot (`count == 0`) has `sum == 0` and no min or max; a non-empty one
///   has both, with `min <= max`.
///
/// `min` and `max` are exact, except in a [`Delta`] (see [`HistogramSnapshot::delta`]).
/// They are stored as `u64::MAX` and `0` while empty (so that combining them needs no
/// branch); the accessors return `Option`, and serde writes `null`.
///
/// # Examples
///
/// ```
/// use tally_snapshot::{HistogramConfig, HistogramSnapshot, Merge};
///
/// let mut a = HistogramSnapshot::empty(HistogramConfig::DEFAULT);
/// for ns in [1_200, 1_500, 90_000, 2_000_000] {
///     a.record(ns);
/// }
/// assert_eq!(a.count(), 4);
/// assert_eq!(a.min(), Some(1_200));
/// assert_eq!(a.quantile(1.0), Some(2_000_000));
/// let p50 = a.quantile(0.5).unwrap(); // the 2nd value, 1,500, within 3.1%
/// assert!(p50.abs_diff(1_500) as f64 <= 1_500.0 * HistogramConfig::DEFAULT.relative_error());
///
/// let b = HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [700, 800]).unwrap();
/// a.merge(&b);
/// assert_eq!((a.count(), a.min()), (6, Some(700)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HistogramSnapshot {
    config: HistogramConfig,
    count: u64,
    sum: u128,
    /// `u64::MAX` when empty.
    min: u64,
    /// `0` when empty.
    max: u64,
    overflow: u64,
    /// `(index, count)`, strictly increasing indices, no zero counts.
    buckets: Vec<(u32, u64)>,
}

/// Why a [`HistogramSnapshot`] could not be built (from parts, or deserialized).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistogramError {
    /// The bucket counts and overflow do not add up to `count`.
    #[error(
        "count is {count} but the buckets hold {buckets} and the overflow {overflow}: count \
         must equal their sum (is the snapshot torn or hand-edited?)"
    )]
    CountMismatch {
        /// The stated count.
        count: u64,
        /// The sum of the bucket counts.
        buckets: u128,
        /// The stated overflow.
        overflow: u64,
    },
    /// A bucket index is not below the config's bucket count.
    #[error(
        "bucket index {index} is out of range: this config has {bucket_count} buckets \
         (indices 0..{bucket_count}); values above max_value belong in `overflow`"
    )]
    BucketOutOfRange {
        /// The offending index.
        index: u64,
        /// The config's [`HistogramConfig::bucket_count`].
        bucket_count: usize,
    },
    /// Sparse buckets are not in strictly increasing index order.
    #[error(
        "bucket index {index} follows {previous}: list each bucket once, in increasing \
         index order"
    )]
    BucketsNotSorted {
        /// The offending index.
        index: u32,
        /// The index before it.
        previous: u32,
    },
    /// A sparse bucket has a zero count.
    #[error("bucket {index} has count 0: leave empty buckets out of the sparse list")]
    EmptyBucket {
        /// The offending index.
        index: u32,
    },
    /// `count` is 0 but the snapshot has a sum, min or max.
    #[error(
        "count is 0 but sum, min or max is set: an empty histogram has sum 0 and no min \
         or max (null)"
    )]
    EmptyWithData,
    /// `count` is not 0 but min or max is missing.
    #[error("count is {count} but min or max is missing: a non-empty histogram needs both")]
    MissingMinMax {
        /// The stated count.
        count: u64,
    },
    /// `min > max`.
    #[error("min {min} is above max {max}: swap them, or check where they came from")]
    MinAboveMax {
        /// The stated min.
        min: u64,
        /// The stated max.
        max: u64,
    },
}

impl Default for HistogramSnapshot {
    /// An empty histogram with [`HistogramConfig::DEFAULT`].
    fn default() -> Self {
        HistogramSnapshot::empty(HistogramConfig::DEFAULT)
    }
}

/// Adds two counts the way [`Merge`] does for counters.
fn add(a: &mut u64, b: u64) {
    *a = a.wrapping_add(b);
}

impl HistogramSnapshot {
    /// A histogram with no values.
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
    /// let h = HistogramSnapshot::empty(HistogramConfig::DEFAULT);
    /// assert_eq!((h.count(), h.min(), h.quantile(0.5)), (0, None, None));
    /// ```
    pub const fn empty(config: HistogramConfig) -> Self {
        HistogramSnapshot {
            config,
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
            overflow: 0,
            buckets: Vec::new(),
        }
    }

    /// Builds a snapshot from dense per-bucket counts, as the core collects them.
    ///
    /// `dense[i]` is the count of bucket `i`. It may be shorter than
    /// [`bucket_count`](HistogramConfig::bucket_count) (missing buckets are 0, e.g. pages
    /// never allocated) or longer (the tail of the last page), provided the extra entries
    /// are 0. When `count == 0`, `min` and `max` are ignored (the core's `u64::MAX` / `0`
    /// sentinels are fine).
    ///
    /// # Errors
    ///
    /// [`HistogramError::CountMismatch`] if `dense` plus `overflow` do not add up to
    /// `count`; [`HistogramError::BucketOutOfRange`] for a non-zero count beyond the last
    /// bucket; [`HistogramError::EmptyWithData`] for `count == 0` with a non-zero `sum`;
    /// [`HistogramError::MinAboveMax`] for `count > 0` with `min > max`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
    /// let cfg = HistogramConfig::new(2, 100).unwrap();
    /// let mut dense = vec![0u64; cfg.bucket_count()];
    /// dense[cfg.index(3).unwrap()] += 1;
    /// dense[cfg.index(50).unwrap()] += 2;
    /// // one value (500) beyond max_value
    /// let h = HistogramSnapshot::from_dense(cfg, 4, 3 + 50 + 50 + 500, 3, 500, 1, &dense)
    ///     .unwrap();
    /// assert_eq!(h, HistogramSnapshot::from_values(cfg, [3, 50, 50, 500]).unwrap());
    /// ```
    pub fn from_dense(
        config: HistogramConfig,
        count: u64,
        sum: u128,
        min: u64,
        max: u64,
        overflow: u64,
        dense: &[u64],
    ) -> Result<Self, HistogramError> {
        let bucket_count = config.bucket_count();
        let mut buckets = Vec::new();
        let mut total: u128 = 0;
        for (i, &c) in dense.iter().enumerate() {
            if c == 0 {
                continue;
            }
            if i >= bucket_count {
                return Err(HistogramError::BucketOutOfRange { index: i as u64, bucket_count });
            }
            total += u128::from(c);
            // bucket_count <= 56,320, so indices fit u32.
            buckets.push((i as u32, c));
        }
        let (min, max) = if count == 0 { (None, None) } else { (Some(min), Some(max)) };
        Self::checked(config, count, sum, min, max, overflow, buckets, total)
    }

    /// Builds a snapshot from sparse parts, checking every invariant.
    ///
    /// `buckets` are `(index, count)` pairs in strictly increasing index order, with no zero
    /// counts; `min` and `max` are `None` exactly when `count == 0`. This is what
    /// deserialization calls.
    ///
    /// # Errors
    ///
    /// The [`HistogramError`] naming the first invariant (see [`HistogramSnapshot`]) that
    /// does not hold.
    pub fn from_parts(
        config: HistogramConfig,
        count: u64,
        sum: u128,
        min: Option<u64>,
        max: Option<u64>,
        overflow: u64,
        buckets: Vec<(u32, u64)>,
    ) -> Result<Self, HistogramError> {
        let bucket_count = config.bucket_count();
        let mut total: u128 = 0;
        let mut previous: Option<u32> = None;
        for &(index, c) in &buckets {
            if index as usize >= bucket_count {
                return Err(HistogramError::BucketOutOfRange { index: index.into(), bucket_count });
            }
            if let Some(previous) = previous {
                if index <= previous {
                    return Err(HistogramError::BucketsNotSorted { index, previous });
                }
            }
            if c == 0 {
                return Err(HistogramError::EmptyBucket { index });
            }
            total += u128::from(c);
            previous = Some(index);
        }
        Self::checked(config, count, sum, min, max, overflow, buckets, total)
    }

    /// The checks shared by the constructors; `buckets` are already known to be sorted,
    /// in range and non-zero, summing to `total`.
    #[allow(clippy::too_many_arguments)]
    fn checked(
        config: HistogramConfig,
        count: u64,
        sum: u128,
        min: Option<u64>,
        max: Option<u64>,
        overflow: u64,
        buckets: Vec<(u32, u64)>,
        total: u128,
    ) -> Result<Self, HistogramError> {
        if total + u128::from(overflow) != u128::from(count) {
            return Err(HistogramError::CountMismatch { count, buckets: total, overflow });
        }
        let (min, max) = match (count, min, max) {
            (0, None, None) if sum == 0 => (u64::MAX, 0),
            (0, _, _) => return Err(HistogramError::EmptyWithData),
            (_, Some(min), Some(max)) if min <= max => (min, max),
            (_, Some(min), Some(max)) => return Err(HistogramError::MinAboveMax { min, max }),
            (count, _, _) => return Err(HistogramError::MissingMinMax { count }),
        };
        Ok(HistogramSnapshot { config, count, sum, min, max, overflow, buckets })
    }

    /// The histogram of `values`.
    ///
    /// # Errors
    ///
    /// Never for fewer than 2^64 values ([`HistogramError::CountMismatch`] if the count
    /// wraps).
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
    /// let h = HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [5, 7, 9]).unwrap();
    /// assert_eq!((h.count(), h.sum(), h.mean()), (3, 21, Some(7.0)));
    /// ```
    pub fn from_values(
        config: HistogramConfig,
        values: impl IntoIterator<Item = u64>,
    ) -> Result<Self, HistogramError> {
        let mut dense: Vec<u64> = Vec::new();
        let (mut count, mut sum, mut min, mut max, mut overflow) = (0u64, 0u128, u64::MAX, 0, 0);
        for v in values {
            count = count.wrapping_add(1);
            sum += u128::from(v);
            min = min.min(v);
            max = max.max(v);
            match config.index(v) {
                Some(i) => {
                    if dense.len() <= i {
                        dense.resize(i + 1, 0);
                    }
                    dense[i] += 1;
                }
                None => overflow += 1,
            }
        }
        Self::from_dense(config, count, sum, min, max, overflow, &dense)
    }

    /// Adds one value (for tests and models; the core records into its own shards).
    ///
    /// `O(buckets)` in the worst case (a sorted insert).
    ///
    /// ```
    /// use tally_snapshot::HistogramSnapshot;
    /// let mut h = HistogramSnapshot::default();
    /// h.record(42);
    /// h.record(u64::MAX); // beyond max_value: counted as overflow
    /// assert_eq!((h.count(), h.overflow(), h.max()), (2, 1, Some(u64::MAX)));
    /// ```
    pub fn record(&mut self, v: u64) {
        add(&mut self.count, 1);
        self.sum = self.sum.wrapping_add(u128::from(v));
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        match self.config.index(v) {
            Some(i) => {
                let i = i as u32;
                match self.buckets.binary_search_by_key(&i, |&(j, _)| j) {
                    Ok(at) => add(&mut self.buckets[at].1, 1),
                    Err(at) => self.buckets.insert(at, (i, 1)),
                }
            }
            None => add(&mut self.overflow, 1),
        }
    }

    /// The bucket layout.
    pub const fn config(&self) -> HistogramConfig {
        self.config
    }

    /// The number of values recorded.
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// The exact sum of the values recorded.
    pub const fn sum(&self) -> u128 {
        self.sum
    }

    /// `sum / count`, or `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        if self.count == 0 { None } else { Some(self.sum as f64 / self.count as f64) }
    }

    /// The smallest value recorded (`None` when empty). Exact, except in a delta.
    pub const fn min(&self) -> Option<u64> {
        if self.count == 0 { None } else { Some(self.min) }
    }

    /// The largest value recorded (`None` when empty). Exact, except in a delta.
    pub const fn max(&self) -> Option<u64> {
        if self.count == 0 { None } else { Some(self.max) }
    }

    /// How many values were above [`max_value`](HistogramConfig::max_value) (they have no
    /// bucket).
    pub const fn overflow(&self) -> u64 {
        self.overflow
    }

    /// The non-empty buckets as `(index, count)`, in increasing index order.
    pub fn sparse_buckets(&self) -> &[(u32, u64)] {
        &self.buckets
    }

    /// The non-empty buckets as `(low, high, count)`, both bounds inclusive, in increasing
    /// order. Overflow is not included.
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
    /// let cfg = HistogramConfig::new(2, 1000).unwrap();
    /// let h = HistogramSnapshot::from_values(cfg, [1, 17, 18, 5000]).unwrap();
    /// let b: Vec<_> = h.buckets().collect();
    /// assert_eq!(b, [(1, 1, 1), (16, 19, 2)]);
    /// ```
    pub fn buckets(&self) -> impl ExactSizeIterator<Item = (u64, u64, u64)> + '_ {
        let cfg = self.config;
        self.buckets
            .iter()
            .map(move |&(i, c)| (cfg.bucket_low(i as usize), cfg.bucket_high(i as usize), c))
    }

    /// The value of bucket `i` that stands for the values counted in it: its midpoint,
    /// clamped to `[min, max]`.
    fn representative(&self, i: usize) -> u64 {
        self.config.bucket_mid(i).max(self.min).min(self.max)
    }

    /// An estimate of the `q`-quantile, or `None` when the histogram is empty or `q` is
    /// not in `[0, 1]` (NaN included).
    ///
    /// The rank is `r = max(1, ceil(q × count))` (computed in `f64`, capped at `count`),
    /// and the exact quantile is the `r`-th smallest value (1-based): `q = 0` is the
    /// minimum, `q = 1` the maximum, `q = 0.5` of 4 values the 2nd.
    ///
    /// The estimate:
    /// - rank 1 returns `min` and rank `count` returns `max`: exact (but see deltas below);
    /// - any other rank whose value has a bucket returns that bucket's midpoint clamped to
    ///   `[min, max]`;
    /// - any other rank in the overflow returns `max`, which is at least the exact
    ///   quantile; no relative bound holds there: choose `max_value` above the values you
    ///   care about.
    ///
    /// **Bound.** For ranks whose exact value is at most `max_value`, with
    /// `ε = config.relative_error() = 2^-k`:
    ///
    /// `|estimate − exact| ≤ ε × exact`, and in fact `≤ ε/2 × exact` except for the
    /// min and max of a delta.
    ///
    /// Why: a bucket `[low, high]` above `2^k` has width `2^s ≤ ε × low`, and the midpoint
    /// is at most `2^(s-1)` from any value in it; buckets below `2^k` are exact; clamping
    /// to `[min, max]`, which contain the exact value, only moves the estimate closer. The
    /// bound holds for snapshots collected, recorded, merged with equal configs, and their
    /// deltas. A delta's `min` and `max` are bucket bounds (see [`Delta`]), so its ranks 1
    /// and `count` are within `ε × exact`, not exact. After merging a different config,
    /// see [`Merge`] below.
    ///
    /// # Examples
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
    /// let cfg = HistogramConfig::DEFAULT;
    /// let h = HistogramSnapshot::from_values(cfg, 1..=1000).unwrap();
    /// let p99 = h.quantile(0.99).unwrap(); // exact: 990
    /// assert!(p99.abs_diff(990) as f64 <= cfg.relative_error() / 2.0 * 990.0);
    /// assert_eq!(h.quantile(0.0), Some(1));
    /// assert_eq!(h.quantile(1.0), Some(1000));
    /// assert_eq!(h.quantile(1.5), None);
    /// assert_eq!(h.quantile(f64::NAN), None);
    /// ```
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = quantile_rank(q, self.count);
        if rank == 1 {
            return Some(self.min);
        }
        if rank == self.count {
            return Some(self.max);
        }
        let mut seen = 0u64;
        for &(i, c) in &self.buckets {
            seen = seen.saturating_add(c);
            if seen >= rank {
                return Some(self.representative(i as usize));
            }
        }
        Some(self.max)
    }

    /// Adds `other` into `self`, refusing a different config.
    ///
    /// # Errors
    ///
    /// [`DeltaError::SchemaMismatch`] when the configs differ; `self` is then unchanged.
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
    /// let mut a = HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [1, 2]).unwrap();
    /// let b = HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [3]).unwrap();
    /// a.try_merge(&b).unwrap();
    /// assert_eq!(a, HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [1, 2, 3]).unwrap());
    /// let c = HistogramSnapshot::empty(HistogramConfig::new(3, 1000).unwrap());
    /// assert!(a.try_merge(&c).is_err());
    /// ```
    pub fn try_merge(&mut self, other: &Self) -> Result<(), DeltaError> {
        check_same_config(self.config, other.config)?;
        self.merge_same_config(other);
        Ok(())
    }

    fn merge_scalars(&mut self, other: &Self) {
        add(&mut self.count, other.count);
        self.sum = self.sum.wrapping_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        add(&mut self.overflow, other.overflow);
    }

    fn merge_same_config(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        self.merge_scalars(other);
        self.buckets = merge_sorted(&self.buckets, other.buckets.iter().copied());
    }

    /// Merges a histogram of another config: each of its buckets is re-bucketed at its
    /// representative value.
    fn merge_rebucketed(&mut self, other: &Self) {
        let mut extra_overflow = 0u64;
        let mut moved: Vec<(u32, u64)> = Vec::with_capacity(other.buckets.len());
        for &(i, c) in &other.buckets {
            match self.config.index(other.representative(i as usize)) {
                // Representatives grow with i and index is monotone: `moved` stays
                // sorted, with runs of equal indices to coalesce.
                Some(j) => match moved.last_mut() {
                    Some((last, n)) if *last == j as u32 => add(n, c),
                    _ => moved.push((j as u32, c)),
                },
                None => add(&mut extra_overflow, c),
            }
        }
        self.merge_scalars(other);
        add(&mut self.overflow, extra_overflow);
        self.buckets = merge_sorted(&self.buckets, moved.into_iter());
    }
}

/// The 1-based rank of the `q`-quantile among `count` values: `max(1, ceil(q × count))`,
/// at most `count`. `q` must be in `[0, 1]` and `count > 0`.
fn quantile_rank(q: f64, count: u64) -> u64 {
    // `as` saturates; the product is in [0, count] up to rounding.
    ((q * count as f64).ceil() as u64).clamp(1, count)
}

/// The union of two sorted sparse bucket lists, adding counts at equal indices.
fn merge_sorted(a: &[(u32, u64)], b: impl Iterator<Item = (u32, u64)>) -> Vec<(u32, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.size_hint().0);
    let mut a = a.iter().copied().peekable();
    let mut b = b.peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(&(i, x)), Some(&(j, y))) => {
                if i < j {
                    a.next();
                    (i, x)
                } else if j < i {
                    b.next();
                    (j, y)
                } else {
                    a.next();
                    b.next();
                    (i, x.wrapping_add(y))
                }
            }
            (Some(_), None) => a.next().expect("peeked"),
            (None, Some(_)) => b.next().expect("peeked"),
            (None, None) => break,
        };
        // A count can only reach 0 by wrapping at 2^64; keep the no-zero invariant.
        if next.1 != 0 {
            out.push(next);
        }
    }
    out
}

fn check_same_config(a: HistogramConfig, b: HistogramConfig) -> Result<(), DeltaError> {
    if a == b {
        Ok(())
    } else {
        Err(DeltaError::SchemaMismatch {
            reason: format!(
                "histogram configs differ: sub_bucket_bits {} max_value {} vs sub_bucket_bits \
                 {} max_value {}",
                a.sub_bucket_bits(),
                a.max_value(),
                b.sub_bucket_bits(),
                b.max_value()
            ),
        })
    }
}

/// Adds `other` into `self`.
///
/// **Equal configs: exact.** Bucket counts, `count`, `sum` and `overflow` add; `min` and
/// `max` combine. The result equals the histogram of the union of the values, and the
/// [`Merge`] laws hold: commutative, associative, and the empty snapshot is the identity.
///
/// **An empty `self` adopts `other`'s config** (it becomes a copy of `other`), and an
/// empty `other` changes nothing, so [`Default`] is the identity for every non-empty
/// snapshot whatever its config, and folding snapshots into a [`Default`] works. (Empty
/// snapshots of different configs stay distinct values.)
///
/// **Different configs, both non-empty: approximate, never a panic.** `self` keeps its
/// config. Each of `other`'s buckets is counted at its representative (its midpoint
/// clamped to `other`'s `[min, max]`) in `self`'s bucket for that value, or in `self`'s
/// overflow if beyond `self`'s `max_value`; `other`'s overflow adds to `self`'s overflow.
/// `count`, `sum`, `min` and `max` stay exact. A value moved this way may now sit up to
/// `ε_other / 2` (relative) from where it was, so the quantile bound loosens to about
/// `(ε_self + ε_other) / 2` relative (plus overflow effects when `self`'s `max_value` is
/// smaller). Use [`HistogramSnapshot::try_merge`] to refuse instead.
impl Merge for HistogramSnapshot {
    fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 && self.config != other.config {
            *self = other.clone();
        } else if self.config == other.config {
            self.merge_same_config(other);
        } else {
            self.merge_rebucketed(other);
        }
    }
}

impl HistogramSnapshot {
    /// `later − earlier`: the histogram of the values recorded in between. The same as
    /// [`Delta::delta`], as an inherent function for discoverability.
    ///
    /// Bucket counts, `count`, `sum` and `overflow` subtract exactly. `min` and `max` of
    /// the values in between are not knowable, so the delta carries bounds that contain
    /// them (same-config history):
    /// - `min` = the low bound of the lowest non-empty bucket (or `max_value + 1` if only
    ///   overflow grew), raised to `later`'s min if that is larger;
    /// - `max` = the high bound of the highest non-empty bucket, lowered to `later`'s max
    ///   if smaller; `later`'s max if the overflow grew;
    /// - `min` is finally capped at `max`.
    ///
    /// If `earlier` is empty the delta is `later` itself, with exact min and max; if
    /// nothing happened in between it is empty.
    ///
    /// # Errors
    ///
    /// [`DeltaError::SchemaMismatch`] for different configs (or a `sum` that changed while
    /// `count` did not); [`DeltaError::CounterWentBackwards`] naming `count`, `overflow`,
    /// `bucket[i]` (`i` the bucket index) or `sum` when `later` has less than `earlier`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot, Merge};
    /// let cfg = HistogramConfig::DEFAULT;
    /// let earlier = HistogramSnapshot::from_values(cfg, [10, 20]).unwrap();
    /// let mut later = earlier.clone();
    /// later.record(1_000);
    /// let d = HistogramSnapshot::delta(&later, &earlier).unwrap();
    /// assert_eq!((d.count(), d.sum()), (1, 1_000));
    /// let (lo, hi) = (d.min().unwrap(), d.max().unwrap());
    /// assert!(lo <= 1_000 && 1_000 <= hi); // bounds, not exact
    /// assert!(HistogramSnapshot::delta(&earlier, &later).is_err()); // wrong order
    /// ```
    pub fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError> {
        <Self as Delta>::delta(later, earlier)
    }
}

fn backwards(field: impl Into<String>, earlier: u64, later: u64) -> DeltaError {
    DeltaError::CounterWentBackwards { field: field.into(), earlier, later }
}

/// See [`HistogramSnapshot::delta`].
impl Delta for HistogramSnapshot {
    fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError> {
        check_same_config(later.config, earlier.config)?;
        let config = later.config;
        let count = later
            .count
            .checked_sub(earlier.count)
            .ok_or_else(|| backwards("count", earlier.count, later.count))?;
        let overflow = later
            .overflow
            .checked_sub(earlier.overflow)
            .ok_or_else(|| backwards("overflow", earlier.overflow, later.overflow))?;
        // Buckets: every index of `earlier` must be in `later` with at least its count.
        let mut buckets = Vec::with_capacity(later.buckets.len());
        let mut e = earlier.buckets.iter().copied().peekable();
        for &(i, l) in &later.buckets {
            if let Some(&(j, c)) = e.peek() {
                if j < i {
                    // In `earlier` but gone from `later`.
                    return Err(backwards(format!("bucket[{j}]"), c, 0));
                }
            }
            let before = match e.peek() {
                Some(&(j, c)) if j == i => {
                    e.next();
                    c
                }
                _ => 0,
            };
            let d = l
                .checked_sub(before)
                .ok_or_else(|| backwards(format!("bucket[{i}]"), before, l))?;
            if d != 0 {
                buckets.push((i, d));
            }
        }
        if let Some((j, c)) = e.next() {
            return Err(backwards(format!("bucket[{j}]"), c, 0));
        }
        let sum = later.sum.checked_sub(earlier.sum).ok_or_else(|| {
            let sat = |s: u128| u64::try_from(s).unwrap_or(u64::MAX);
            backwards("sum", sat(earlier.sum), sat(later.sum))
        })?;
        if count == 0 {
            if sum != 0 {
                return Err(DeltaError::SchemaMismatch {
                    reason: format!(
                        "histogram sum changed by {sum} while its count did not: not two \
                         snapshots of the same histogram"
                    ),
                });
            }
            return Ok(HistogramSnapshot::empty(config));
        }
        if earlier.count == 0 {
            return Ok(later.clone());
        }
        let max = match buckets.last() {
            Some(&(i, _)) if overflow == 0 => config.bucket_high(i as usize).min(later.max),
            // The overflow grew (or, impossibly here, no bucket did): only later's max
            // bounds those values.
            _ => later.max,
        };
        let min = match buckets.first() {
            Some(&(i, _)) => config.bucket_low(i as usize),
            None => config.max_value().saturating_add(1),
        };
        let min = min.max(later.min).min(max);
        Ok(HistogramSnapshot { config, count, sum, min, max, overflow, buckets })
    }
}

/// Serde's view of [`HistogramSnapshot`]: buckets sparse as `[index, count]` pairs, min and
/// max `null` when empty.
#[derive(Serialize)]
struct RawHistogramRef<'a> {
    config: HistogramConfig,
    count: u64,
    #[serde(serialize_with = "sum_serde::serialize")]
    sum: u128,
    min: Option<u64>,
    max: Option<u64>,
    overflow: u64,
    buckets: &'a [(u32, u64)],
}

#[derive(Deserialize)]
struct RawHistogram {
    config: HistogramConfig,
    count: u64,
    #[serde(deserialize_with = "sum_serde::deserialize")]
    sum: u128,
    min: Option<u64>,
    max: Option<u64>,
    overflow: u64,
    buckets: Vec<(u32, u64)>,
}

/// `sum` is a `u128`: a plain number while it fits a `u64` (the common case, and what
/// every JSON reader handles), a decimal string beyond (2^64 ns is only 213 days of a
/// thousand seconds of latency per second), since many formats, `serde_json::Value`
/// included, have no 128-bit integers. Reads a `u64`, a decimal string, or a `u128` from
/// formats that have them (a JSON number beyond `u64` is read as a float and refused).
mod sum_serde {
    use std::fmt;

    use serde::{Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(sum: &u128, s: S) -> Result<S::Ok, S::Error> {
        match u64::try_from(*sum) {
            Ok(small) => s.serialize_u64(small),
            Err(_) => s.collect_str(sum),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        d.deserialize_any(SumVisitor)
    }

    struct SumVisitor;

    impl de::Visitor<'_> for SumVisitor {
        type Value = u128;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer, or one as a decimal string")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u128, E> {
            Ok(v.into())
        }
        fn visit_u128<E: de::Error>(self, v: u128) -> Result<u128, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u128, E> {
            u128::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u128, E> {
            v.parse().map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
}

/// Writes `{config, count, sum, min, max, overflow, buckets: [[index, count], ...]}`;
/// `min` and `max` are `null` when empty; `sum` is a number, or a decimal string if it
/// exceeds `u64::MAX`.
impl Serialize for HistogramSnapshot {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawHistogramRef {
            config: self.config,
            count: self.count,
            sum: self.sum,
            min: self.min(),
            max: self.max(),
            overflow: self.overflow,
            buckets: &self.buckets,
        }
        .serialize(serializer)
    }
}

/// Reads what [`Serialize`] writes and checks every invariant (see [`HistogramSnapshot`]
/// and [`HistogramSnapshot::from_parts`]): hostile input is an error, never a panic.
impl<'de> Deserialize<'de> for HistogramSnapshot {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawHistogram::deserialize(deserializer)?;
        HistogramSnapshot::from_parts(
            raw.config,
            raw.count,
            raw.sum,
            raw.min,
            raw.max,
            raw.overflow,
            raw.buckets,
        )
        .map_err(serde::de::Error::custom)
    }
}
