//! Quantile estimates, with their error bound.

use super::HistogramSnapshot;
#[cfg(doc)]
use crate::{Delta, Merge};

impl HistogramSnapshot {
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
}

/// The 1-based rank of the `q`-quantile among `count` values: `max(1, ceil(q × count))`,
/// at most `count`. `q` must be in `[0, 1]` and `count > 0`.
fn quantile_rank(q: f64, count: u64) -> u64 {
    // `as` saturates; the product is in [0, count] up to rounding.
    ((q * count as f64).ceil() as u64).clamp(1, count)
}
