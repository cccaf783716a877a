//! Why a histogram snapshot could not be built.

/// Why a [`HistogramSnapshot`](super::HistogramSnapshot) could not be built (from parts, or deserialized).
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
        /// The config's [`HistogramConfig::bucket_count`](crate::HistogramConfig::bucket_count).
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
