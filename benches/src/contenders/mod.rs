//! The contenders, one file per kind.

mod floor;
mod metrics_rs;
mod naive;
mod otel;
pub(crate) use otel::SharedReader;
mod prom;
mod prom_client;
mod tally;
mod text;

pub use self::floor::Floor;
pub use self::metrics_rs::MetricsRs;
pub use self::naive::{Locked, SharedAtomics};
pub use self::otel::{Otel, OtelAttrs};
pub use self::prom::{Prom, PromLocal};
pub use self::prom_client::PromClient;
pub use self::tally::{TallyBound, TallyLabelled};

/// The log2 bucket of a latency, for the hand-written histograms (floor, mutex, atomics).
#[inline(always)]
fn log2_bucket(ns: u64) -> usize {
    63 - (ns | 1).leading_zeros() as usize
}

/// The 22 bucket bounds every peer histogram gets (tally-prometheus's default latency
/// buckets), in nanoseconds.
fn bounds_ns() -> Vec<f64> {
    tally_prometheus::DEFAULT_LATENCY_BUCKETS_NS.to_vec()
}

/// The same bounds in seconds, for the peers that take `f64` seconds.
pub(crate) fn bounds_seconds() -> Vec<f64> {
    bounds_ns().iter().map(|b| b / 1e9).collect()
}
