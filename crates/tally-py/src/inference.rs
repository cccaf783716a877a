//! The ready-made set for an inference service, with a fast `record_inference`.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use tally::{Cache, Outcome};

use crate::args;
use crate::fields::FieldTable;
use crate::set::{Backing, MetricSet, SetCore};

/// What an inference service did: `total_inferences`, `successful_inferences`,
/// `failed_inferences`, `cache_hits`, `cache_misses` (counters), `in_flight` (gauge) and
/// `latency_ns` (histogram) — the same set as Rust's `tally::InferenceStats`.
///
/// ```python
/// stats = tally.InferenceStats()
/// stats.record_inference(success=True, cache_hit=False, latency_s=0.012)  # one event
/// snap = stats.snapshot()
/// assert snap.successful_inferences + snap.failed_inferences == snap.total_inferences
/// ```
///
/// Everything a `MetricSet` does works here too (`record`, `snapshot`, `latest`, ...).
#[pyclass(frozen, extends = MetricSet, module = "tally._tally", name = "InferenceStats")]
#[derive(Debug)]
pub struct InferenceStats {
    stats: Arc<tally::InferenceStats>,
}

impl InferenceStats {
    pub(crate) fn initializer(
        py: Python<'_>,
        stats: Arc<tally::InferenceStats>,
    ) -> PyClassInitializer<InferenceStats> {
        let table = Arc::new(FieldTable::new(py, tally::MetricSet::raw(&*stats), &[]));
        let core = SetCore::new(Backing::Inference(stats.clone()), table);
        PyClassInitializer::from(MetricSet::from_core(core)).add_subclass(InferenceStats { stats })
    }
}

#[pymethods]
impl InferenceStats {
    /// A new, unregistered set (register one by name with `Registry.inference_stats`).
    #[new]
    fn new(py: Python<'_>) -> PyClassInitializer<InferenceStats> {
        InferenceStats::initializer(py, Arc::new(tally::InferenceStats::new()))
    }

    /// Records one finished request as one event: `total_inferences`, one outcome
    /// (`successful_` or `failed_inferences`), one cache result (`cache_hits` or
    /// `cache_misses`), and `latency_ns` if `latency_s` (seconds, finite, >= 0) is given.
    /// A bad latency raises ValueError and records nothing.
    #[pyo3(signature = (success=true, cache_hit=false, latency_s=None))]
    fn record_inference(
        &self,
        #[pyo3(from_py_with = args::success)] success: bool,
        #[pyo3(from_py_with = args::cache_hit)] cache_hit: bool,
        #[pyo3(from_py_with = args::latency_s)] latency_s: Option<f64>,
    ) {
        match latency_s {
            None => {
                self.stats.record_request(Outcome::success_if(success), Cache::hit_if(cache_hit))
            }
            Some(s) => {
                // Checked finite and >= 0; `as` saturates at u64::MAX.
                let ns = (s * 1e9).round() as u64;
                self.stats.record_request_with_latency(
                    Outcome::success_if(success),
                    Cache::hit_if(cache_hit),
                    Duration::from_nanos(ns),
                );
            }
        }
    }

    /// Adds `n` (default 1) to the `in_flight` gauge: call when a request starts, and
    /// `request_finished()` when it ends.
    #[pyo3(signature = (n=1))]
    fn request_started(&self, #[pyo3(from_py_with = args::n)] n: i64) {
        self.stats.record(|e| e.in_flight().add(n));
    }

    /// Subtracts `n` (default 1) from the `in_flight` gauge.
    #[pyo3(signature = (n=1))]
    fn request_finished(&self, #[pyo3(from_py_with = args::n)] n: i64) {
        self.stats.record(|e| e.in_flight().sub(n));
    }

    fn __repr__(&self) -> String {
        let s = self.stats.snapshot();
        format!(
            "InferenceStats(total_inferences={}, success_rate={:.4}, cache_hit_rate={:.4})",
            s.total_inferences,
            s.success_rate(),
            s.cache_hit_rate()
        )
    }
}
