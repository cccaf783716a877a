//! tally: lock-free, coherent metrics for high-throughput services.
//!
//! Record multi-field events from any number of threads without a lock; read snapshots in
//! which every event is whole, counters never go backwards, and no update is lost.
//!
//! ```
//! use std::thread;
//! use tally::{Cache, InferenceStats, Outcome};
//!
//! let stats = InferenceStats::new();
//! thread::scope(|s| {
//!     for worker in 0..4u64 {
//!         let stats = &stats;
//!         s.spawn(move || {
//!             for i in 0..10_000u64 {
//!                 // total, one outcome and one cache result: one event.
//!                 let outcome = Outcome::success_if(i % 50 != 0);
//!                 stats.record_request(outcome, Cache::hit_if((i + worker) % 4 != 0));
//!             }
//!         });
//!     }
//!     // get_stats() from another thread while workers run: never torn.
//!     let snap = stats.snapshot();
//!     assert_eq!(snap.successful_inferences + snap.failed_inferences, snap.total_inferences);
//!     assert!((0.0..=1.0).contains(&snap.success_rate()));
//! });
//! let snap = stats.snapshot();
//! assert_eq!(snap.total_inferences, 40_000);
//! assert_eq!(snap.failed_inferences, 800);
//! assert_eq!(snap.cache_hit_rate(), 0.75);
//! ```
//!
//! Declare your own sets with [`metric_set!`]; register them by name in a [`Registry`]
//! (or the process-wide [`global`] one) to collect everything at once.
//!
//! The main items:
//! - [`metric_set!`] and the field [`kind`]s (`Counter`, `Gauge`, `LastValue`, `Histogram`):
//!   declaring sets.
//! - [`InferenceStats`]: a ready-made set for an inference service, recorded with
//!   [`InferenceStats::record_request`]`(`[`Outcome`]`, `[`Cache`]`)`.
//! - [`Family`]: one set per combination of label values, lock-free lookup, bounded.
//! - [`Registry`], [`global`]: named sets and families, collected together
//!   ([`RegistrySnapshot`]).
//! - [`Collector`], [`Registry::gauge_fn`], [`Registry::counter_fn`]: values computed at
//!   collection, for figures owned by another structure; [`Registry::register_process_metrics`]:
//!   Prometheus' standard `process_*` metrics, read from `/proc`.
//! - [`epoch`]: published snapshots, coalesced refresh, rates between epochs.
//! - [`Merge`], [`Delta`], [`SetSnapshot`]: working with snapshots (from `tally-snapshot`).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod collector;
mod family;
mod inference;
mod process;
mod registry;
mod rejected;

pub use collector::Collector;
pub use family::{DEFAULT_CARDINALITY_LIMIT, Family, FamilyError, OVERFLOW_LABEL, Removed};
pub use inference::{Cache, InferenceStats, InferenceStatsEvent, InferenceStatsSnapshot, Outcome};
pub use process::{
    ProcessError, ProcessStats, ProcessStatsEvent, ProcessStatsSnapshot, read_process_stats,
};
pub use registry::{__global_initialisations, Registration, Registry, RegistryError, global};
pub use rejected::{RejectedValueStats, RejectedValueStatsEvent, RejectedValueStatsSnapshot};
pub use tally_snapshot::{
    InvalidSnapshot, MergeError, MetricSnapshot, RegistrySnapshot, SeriesSnapshot,
    is_valid_label_name, is_valid_metric_name, reserved_labels,
};

/// Publication of snapshots as epochs: [`Publisher`](epoch::Publisher) (latest epoch
/// through `arc-swap`, coalesced refresh, a background refresher, waits), and
/// [`Window`](epoch::Window) rates between epochs. The `tally-epoch` crate, re-exported.
///
/// ```
/// use std::sync::Arc;
/// use tally::{Cache, InferenceStats, Outcome, epoch::Publisher};
///
/// let stats = Arc::new(InferenceStats::new());
/// let source = Arc::clone(&stats);
/// let publisher = Publisher::new(move || source.snapshot());
/// stats.record_request(Outcome::Success, Cache::Hit);
/// let fresh = publisher.refresh(); // collects: sees the record above
/// assert_eq!(fresh.snapshot().total_inferences, 1);
/// // Dashboards read the published epoch: no collection, no writer cache lines.
/// assert_eq!(publisher.latest().number(), fresh.number());
/// ```
pub mod epoch {
    #[cfg(feature = "tokio")]
    pub use tally_epoch::EpochReceiver;
    pub use tally_epoch::{
        Clock, Epoch, EpochError, FieldRate, ManualClock, Publisher, PublisherBuilder, Rate,
        RefresherError, RefresherHandle, SystemClock, WaitError, Window,
    };
}

/// Shared-memory shards, for services that run as several processes (pre-fork servers,
/// worker pools): each process records into a file of its own, mapped in memory, and a
/// collector reads them all, folding the files of exited (or killed) processes into an
/// archive exactly once. From `tally-core`, re-exported; the Python package's
/// `tally.multiprocess` is built on it.
#[cfg(all(unix, target_has_atomic = "64"))]
pub mod shared {
    pub use tally_core::{
        GoneFile, SHARED_SUFFIX, SetDesc, ShardWriter, SharedCollection, SharedError, SharedFile,
        SharedSeries, claim_if_gone, collect_shared, read_shared, reset_shared,
    };
}

pub use tally_core::{
    CoarseClock, CoarseClockError, CounterF64Ref, CounterRef, Delta, DeltaError, Event, FieldDesc,
    FieldId, FieldKind, FieldUpdate, FloatSum, GaugeF64Ref, GaugeRef, HistogramConfig,
    HistogramRef, HistogramSnapshot, Kind, Last, LastF64, LastValueF64Ref, LastValueRef, Layout,
    LayoutError, Merge, MetricSet, RawSet, Rejected, RejectedValues, SetSnapshot, Snapshot, Timer,
    Unit, Value, count_rejected, is_valid_field_name, kind, metric_set, ratio, ratio_or_zero,
    rejected_values, start_coarse_clock, thread_slots_created, thread_slots_in_use,
};
// The old names of the field kinds, deprecated for one release (see `tally_core::Counter`).
#[allow(deprecated)]
pub use tally_core::{Counter, Gauge, Histogram, LastValue};
