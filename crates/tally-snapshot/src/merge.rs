//! Exact merging of snapshot values.

use crate::Last;

/// Exact combination of two snapshots of the same thing (two processes, two shards, two
/// hosts).
///
/// Laws, checked by this crate's property tests for every implementation here:
/// `a.merge(b)` equals `b.merge(a)` (commutative), merging is associative, and merging the
/// [`Default`] value changes nothing (identity).
///
/// ```
/// use tally_snapshot::Merge;
/// let mut a = 2i64;
/// a.merge(&-5);
/// assert_eq!(a, -3);
/// ```
pub trait Merge {
    /// Adds `other` into `self`.
    fn merge(&mut self, other: &Self);

    /// Returns the merge of `self` and `other`, leaving both untouched.
    fn merged(&self, other: &Self) -> Self
    where
        Self: Clone,
    {
        let mut out = self.clone();
        out.merge(other);
        out
    }
}

/// Counters add, saturating at `u64::MAX` (centuries at a billion events a second): a
/// counter never goes backwards, and saturating addition is still commutative and
/// associative (`min(a + b + c, MAX)` in any order), so merge stays exact below the
/// maximum and pinned at it. A counter at `u64::MAX` stays there; its `delta` is then 0.
impl Merge for u64 {
    fn merge(&mut self, other: &Self) {
        *self = self.saturating_add(*other);
    }
}

/// Summed gauges add (with wrapping, for the same reason as counters).
impl Merge for i64 {
    fn merge(&mut self, other: &Self) {
        *self = self.wrapping_add(*other);
    }
}

/// Last-value gauges keep the newer write: the larger stamp, and on equal stamps the larger
/// value, so that the result does not depend on the order of merging.
impl Merge for Last {
    fn merge(&mut self, other: &Self) {
        if (other.stamp_ns, other.value) > (self.stamp_ns, self.value) {
            *self = *other;
        }
    }
}
