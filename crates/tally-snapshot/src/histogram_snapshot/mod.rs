//! A histogram's state at one instant: sparse bucket counts with exact count, sum, min and
//! max, the invariants every constructor checks, and the accessors.
//!
//! The rest of its behaviour, one concept per file: quantile estimates (`quantile.rs`),
//! merging (`merge.rs`), deltas (`delta.rs`), serde (`serde_impls.rs`), the construction
//! error (`error.rs`); the Prometheus conversions are in `crate::export`.

mod delta;
mod error;
mod merge;
mod quantile;
mod serde_impls;

pub use error::HistogramError;

use crate::HistogramConfig;

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
/// `min` and `max` are exact, except in a [`Delta`](crate::Delta) (see [`HistogramSnapshot::delta`]).
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
            if let Some(previous) = previous
                && index <= previous
            {
                return Err(HistogramError::BucketsNotSorted { index, previous });
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

    /// The same counts, read as measuring `unit` in steps of `10^-decimals` of it (the
    /// bucket layout is unchanged: the recorded integers stay what they are).
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot, Unit};
    /// let ms = HistogramSnapshot::from_values(HistogramConfig::new(5, 60_000).unwrap(), [12]).unwrap();
    /// let s = ms.with_unit(Unit::Seconds, 3).unwrap();
    /// assert_eq!(s.config().sum_to_unit(s.sum()), 0.012);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`HistogramConfig::in_unit`].
    pub fn with_unit(
        mut self,
        unit: crate::Unit,
        decimals: u8,
    ) -> Result<Self, crate::HistogramConfigError> {
        self.config = self.config.in_unit(unit, decimals)?;
        Ok(self)
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
}

/// Why two configs are not the same, for the error of a merge or a delta that needs them
/// equal.
fn config_mismatch(a: HistogramConfig, b: HistogramConfig) -> Result<(), String> {
    if a == b {
        Ok(())
    } else {
        Err(format!(
            "histogram configs differ: sub_bucket_bits {} max_value {} vs sub_bucket_bits {} \
             max_value {}",
            a.sub_bucket_bits(),
            a.max_value(),
            b.sub_bucket_bits(),
            b.max_value()
        ))
    }
}
