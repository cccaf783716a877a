//! Plain-data snapshots of tally metric sets.
//!
//! This crate holds no atomics and no shared state: it is what a collection produces and
//! what exporters consume. Every type here is `Send + Sync + Clone`, serializes with serde,
//! and merges exactly, so snapshots from several processes can be added up.
//!
//! ```
//! use tally_snapshot::{Delta, Last, Merge, ratio};
//!
//! // Counters merge by addition and subtract into deltas.
//! let mut total = 10u64;
//! total.merge(&5);
//! assert_eq!(total, 15);
//! assert_eq!(u64::delta(&15, &10).unwrap(), 5);
//! // A counter that went backwards is an error, not a huge number.
//! assert!(u64::delta(&3, &10).is_err());
//!
//! // Last-value gauges keep the newest write.
//! let mut temp = Last::new(40, 1_000);
//! temp.merge(&Last::new(45, 2_000));
//! assert_eq!(temp.value, 45);
//!
//! // Ratios define the empty case instead of dividing by zero.
//! assert_eq!(ratio(3, 4), Some(0.75));
//! assert_eq!(ratio(0, 0), None);
//! ```
//!
//! The main items:
//! - [`Merge`]: exact, associative, commutative combination (`u64`, `i64`, [`Last`], and
//!   the snapshot structs that `tally::metric_set!` generates).
//! - [`Delta`]: `later - earlier`, an error ([`DeltaError`]) when a counter went backwards.
//! - `try_merge` of registry, set and histogram snapshots: a merge that refuses
//!   ([`MergeError`]) instead of approximating or mixing different metrics.
//! - [`FieldKind`], [`FieldDesc`], [`Value`]: the description of a metric set's fields and
//!   a dynamically typed view of their values, for exporters.
//! - [`ratio`] and [`ratio_or_zero`]: the zero-denominator case defined.
//! - [`HistogramConfig`]: the log-linear bucket layout of latency histograms (relative
//!   error `2^-sub_bucket_bits`) and its index math, shared with the core's write path.
//! - [`HistogramSnapshot`]: a histogram's sparse buckets with exact count, sum, min and
//!   max; quantiles with a documented error bound, exact [`Merge`], [`Delta`], validated
//!   serde; [`HistogramSnapshot::to_cumulative`] and [`HistogramSnapshot::to_native`]
//!   ([`NativeHistogram`]) for Prometheus exposition.
//! - [`RegistrySnapshot`], [`MetricSnapshot`], [`SeriesSnapshot`]: a whole registry
//!   collected, what exporters encode and what processes send each other to merge;
//!   [`InvalidSnapshot`]: why one is refused on the way in.
//! - The naming rules, one home for every crate: [`is_valid_metric_name`],
//!   [`is_valid_label_name`], [`is_valid_field_name`], [`is_valid_unit`],
//!   [`reserved_labels`], [`family_name`], [`exposed_names`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod delta;
mod export;
mod field;
mod float_sum;
mod histogram;
mod histogram_snapshot;
mod last;
mod merge;
mod names;
mod ratio;
mod registry;
mod rejected;
mod unit;
mod validate;

pub use delta::{Delta, DeltaError, float_count_delta};
pub use export::NativeHistogram;
pub use field::{FieldDesc, FieldKind, SetSnapshot, Value};
pub use float_sum::{FloatSum, exact_sum};
pub use histogram::{HistogramConfig, HistogramConfigError};
pub use histogram_snapshot::{HistogramError, HistogramSnapshot};
pub use last::{Last, LastF64};
pub use merge::{Merge, MergeError};
pub use names::{
    HISTOGRAM_BOUND_LABEL, exposed_help, exposed_names, exposed_unit, family_name,
    help_says_seconds, is_valid_field_name, is_valid_label_name, is_valid_metric_name,
    is_valid_unit, reserved_label_in, reserved_labels, reserved_suffixes,
};
pub use ratio::{ratio, ratio_or_zero};
pub use registry::{MetricSnapshot, RegistrySnapshot, SeriesSnapshot};
pub use rejected::Rejected;
pub use unit::Unit;
pub use validate::{ExposedNames, InvalidSnapshot};

/// The README's examples, run as doctests so that they keep compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
