//! `metrics` 0.24 with `metrics-exporter-prometheus`'s recorder.

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use super::bounds_seconds;
use super::text::{Names, counts};
use crate::contender::Contender;
use crate::event::{Budget, Counts, drive};

/// Handles registered once through the recorder (`metrics::with_local_recorder`), so each
/// event is the handles' own cost, not a registry lookup. The histogram has the same 22
/// buckets as the other peers (without buckets the exporter would keep a summary). Readers
/// `render()` the exposition, as the exporter's HTTP listener does, and parse it.
pub struct MetricsRs {
    _recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    counters: [Counter; 5],
    latency: Histogram,
}

const NAMES: Names = Names {
    total: "inferences_total",
    outcome: ["successful_total", "failed_total"],
    cache: ["cache_hits_total", "cache_misses_total"],
    latency_count: "latency_seconds_count",
};

impl Default for MetricsRs {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&bounds_seconds())
            .expect("nonempty buckets")
            .build_recorder();
        let handle = recorder.handle();
        let (counters, latency) = metrics::with_local_recorder(&recorder, || {
            (
                [
                    metrics::counter!(NAMES.total),
                    metrics::counter!(NAMES.outcome[0]),
                    metrics::counter!(NAMES.outcome[1]),
                    metrics::counter!(NAMES.cache[0]),
                    metrics::counter!(NAMES.cache[1]),
                ],
                metrics::histogram!("latency_seconds"),
            )
        });
        MetricsRs { _recorder: recorder, handle, counters, latency }
    }
}

#[inline(never)]
fn work_metrics(c: &[Counter; 5], latency: &Histogram, thread: usize, budget: Budget<'_>) -> u64 {
    drive(thread, budget, |e| {
        c[0].increment(1);
        c[1 + e.outcome].increment(1);
        c[3 + e.cache].increment(1);
        latency.record(e.latency_seconds());
    })
}

impl Contender for MetricsRs {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        (work_metrics(&self.counters, &self.latency, thread, budget), Counts::default())
    }

    fn read(&self) -> Option<Counts> {
        Some(counts(&self.handle.render(), &NAMES))
    }

    fn finish(&self, _: &[Counts]) -> Counts {
        counts(&self.handle.render(), &NAMES)
    }
}
