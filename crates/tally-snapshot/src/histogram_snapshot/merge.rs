//! Adding histograms: exact for equal configs, re-bucketed otherwise, or refused
//! ([`HistogramSnapshot::try_merge`]).

use super::{HistogramSnapshot, add, config_mismatch};
use crate::{Merge, MergeError};

impl HistogramSnapshot {
    /// Adds `other` into `self`, refusing a different config.
    ///
    /// # Errors
    ///
    /// [`MergeError::SchemaMismatch`] when the configs differ; `self` is then unchanged.
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
    pub fn try_merge(&mut self, other: &Self) -> Result<(), MergeError> {
        config_mismatch(self.config, other.config)
            .map_err(|reason| MergeError::SchemaMismatch { reason })?;
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
