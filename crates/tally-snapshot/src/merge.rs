//! Exact merging of snapshot values, and why a checked merge refuses.

use crate::{DeltaError, InvalidSnapshot, Last, LastF64};

/// Why a checked merge (`try_merge` of [`RegistrySnapshot`](crate::RegistrySnapshot),
/// [`SetSnapshot`](crate::SetSnapshot) or [`HistogramSnapshot`](crate::HistogramSnapshot))
/// refused: the target is then unchanged.
///
/// It converts into a [`DeltaError`] (what these merges returned before), so code that
/// propagates merge failures as `DeltaError` with `?` keeps compiling.
///
/// ```
/// use tally_snapshot::{HistogramConfig, HistogramSnapshot, MergeError};
///
/// let mut a = HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [1, 2]).unwrap();
/// let b = HistogramSnapshot::from_values(HistogramConfig::new(3, 1000).unwrap(), [3]).unwrap();
/// match a.try_merge(&b) {
///     Err(MergeError::SchemaMismatch { reason }) => assert!(reason.contains("configs differ")),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// The two sides describe different things: other fields, other label names for a
    /// metric of the same name, other histogram configs.
    #[error(
        "the snapshots describe different metrics ({reason}): only snapshots of the same \
         metric set (same fields, labels and histogram configs) merge exactly"
    )]
    SchemaMismatch {
        /// What differs.
        reason: String,
    },
    /// A registry snapshot taking part, or the result of the merge, is not valid (see
    /// [`RegistrySnapshot::validate`](crate::RegistrySnapshot::validate)).
    #[error("{0}")]
    InvalidSnapshot(#[from] InvalidSnapshot),
}

/// For code written when merges returned [`DeltaError`]: the same variant there.
impl From<MergeError> for DeltaError {
    fn from(e: MergeError) -> Self {
        match e {
            MergeError::SchemaMismatch { reason } => DeltaError::SchemaMismatch { reason },
            MergeError::InvalidSnapshot(e) => DeltaError::InvalidSnapshot(e),
        }
    }
}

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

/// Adds: the two totals' sum rounded to nearest, as `f64` addition does (exact when it is
/// representable: integers below 2^53, or multiples of one power of two whose sum stays
/// below 2^53 of it). Commutative always; associative when exact.
impl Merge for f64 {
    fn merge(&mut self, other: &Self) {
        *self += *other;
    }
}

/// The newest write wins (equal stamps: the larger value, so that merging is commutative).
impl Merge for LastF64 {
    fn merge(&mut self, other: &Self) {
        let newer = other.stamp_ns.cmp(&self.stamp_ns).then(other.value.total_cmp(&self.value));
        if newer.is_gt() {
            *self = *other;
        }
    }
}
