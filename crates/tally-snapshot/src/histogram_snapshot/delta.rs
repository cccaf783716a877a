//! `later − earlier` of two snapshots of one histogram.

use super::{HistogramSnapshot, config_mismatch};
use crate::{Delta, DeltaError};

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
        config_mismatch(later.config, earlier.config)
            .map_err(|reason| DeltaError::SchemaMismatch { reason })?;
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
            if let Some(&(j, c)) = e.peek()
                && j < i
            {
                // In `earlier` but gone from `later`.
                return Err(backwards(format!("bucket[{j}]"), c, 0));
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
