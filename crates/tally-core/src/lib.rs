//! tally's write path: wait-free per-thread shards, the latch protocol, metric sets and
//! collection.
//!
//! ```
//! use std::thread;
//!
//! tally_core::metric_set! {
//!     /// What an inference server did.
//!     pub struct Stats {
//!         /// Requests received.
//!         total: Counter,
//!         /// Requests answered.
//!         ok: Counter,
//!         /// Requests that failed.
//!         failed: Counter,
//!     }
//! }
//!
//! let stats = Stats::new();
//! thread::scope(|s| {
//!     for t in 0..4 {
//!         let stats = &stats;
//!         s.spawn(move || {
//!             for i in 0..1000 {
//!                 // One event: total and exactly one outcome, in one latch section.
//!                 stats.record(|e| {
//!                     e.total().inc();
//!                     if (i + t) % 10 == 0 { e.failed().inc() } else { e.ok().inc() }
//!                 });
//!             }
//!         });
//!     }
//!     // A reader running alongside never sees half an event.
//!     let snap = stats.snapshot();
//!     assert_eq!(snap.ok + snap.failed, snap.total);
//! });
//! let snap = stats.snapshot();
//! assert_eq!(snap.total, 4000);
//! assert_eq!(snap.failed, 400);
//! ```
//!
//! How it works, in one paragraph: each thread claims a *slot* once (the only
//! read-modify-write it ever does) and records into its own cache-padded *shard* of each
//! set. A shard keeps two copies of the fields behind a sequence number (a *latch*): the
//! writer steers readers to one copy while it updates the other, with relaxed loads and
//! stores only, so the hot path has no lock, no CAS and no `lock`-prefixed instruction,
//! and a reader never waits for a writer, even one descheduled mid-event. The argument
//! for the orderings is in `docs/DESIGN.md`.
//!
//! The main items:
//! - [`metric_set!`]: declare a set; get the set, its `…Snapshot` and its `…Event`.
//! - [`kind::Counter`], [`kind::Gauge`], [`kind::LastValue`], [`kind::Histogram`]: the
//!   field kinds.
//! - [`RawSet`], [`Layout`]: sets described at run time.
//! - [`MetricSet`], [`Snapshot`]: generic over declared sets.
//! - [`thread_slots_created`], [`thread_slots_in_use`]: what the shards cost.
#![deny(missing_docs)]

mod clock;
mod event;
mod field;
mod latch;
mod layout;
mod macros;
mod op;
#[cfg(not(loom))]
mod pool;
mod rejected;
mod set;
#[cfg(all(unix, not(loom), target_has_atomic = "64"))]
mod shared;
#[cfg(any(loom, all(unix, target_has_atomic = "64")))]
mod shared_latch;
mod slot;
mod sync;
mod table;
mod traits;
mod update;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

#[doc(hidden)]
pub mod __private;

pub use clock::{CoarseClock, CoarseClockError, start_coarse_clock};
pub use event::Event;
pub use field::{
    CounterF64Ref, CounterRef, GaugeF64Ref, GaugeRef, HistogramRef, Kind, LastValueF64Ref,
    LastValueRef, Sink, Timer,
};
pub use rejected::{RejectedValues, count_rejected, rejected_values};

/// The field kinds a [`metric_set!`] field is declared with (`total: Counter`): markers
/// that say what a field is, not values to record into (a set's accessors give the
/// handles, [`CounterRef`] and its siblings).
///
/// ```
/// use tally_core::{Kind, kind};
/// assert_eq!(<kind::Counter as Kind>::KIND, tally_core::FieldKind::Counter);
/// ```
pub mod kind {
    pub use crate::field::{
        Counter, CounterF64, Gauge, GaugeF64, Histogram, LastValue, LastValueF64,
    };
}

/// Deprecated: the field kind [`kind::Counter`], a marker, not a counter to increment.
#[deprecated(
    since = "0.2.0",
    note = "the field kinds moved to `kind` (`kind::Counter`); `metric_set!` fields are \
            still declared as `total: Counter`"
)]
pub type Counter = kind::Counter;
/// Deprecated: the field kind [`kind::Gauge`].
#[deprecated(since = "0.2.0", note = "the field kinds moved to `kind` (`kind::Gauge`)")]
pub type Gauge = kind::Gauge;
/// Deprecated: the field kind [`kind::LastValue`].
#[deprecated(since = "0.2.0", note = "the field kinds moved to `kind` (`kind::LastValue`)")]
pub type LastValue = kind::LastValue;
/// Deprecated: the field kind [`kind::Histogram`].
#[deprecated(since = "0.2.0", note = "the field kinds moved to `kind` (`kind::Histogram`)")]
pub type Histogram = kind::Histogram;
pub use layout::{Layout, LayoutError, pages_of, words_of};
pub use set::{FieldId, RawSet};
#[cfg(all(unix, not(loom), target_has_atomic = "64"))]
pub use shared::{
    GoneFile, SHARED_SUFFIX, SetDesc, ShardWriter, SharedCollection, SharedError, SharedFile,
    SharedSeries, claim_if_gone, collect_shared, read_shared, reset_shared,
};
pub use slot::{thread_slots_created, thread_slots_in_use};
pub use traits::{MetricSet, Snapshot};
pub use update::FieldUpdate;

pub use tally_snapshot::{
    Delta, DeltaError, FieldDesc, FieldKind, FloatSum, HistogramConfig, HistogramSnapshot, Last,
    LastF64, Merge, Rejected, SetSnapshot, Unit, Value, is_valid_field_name, ratio, ratio_or_zero,
};
