//! Shared by the integration tests: a recorder on a registry of its own, and reading one
//! series' value back out of a registry snapshot.
#![allow(dead_code)] // Each test file uses its own part.

use std::sync::Arc;

use tally::{HistogramSnapshot, Registry, RegistrySnapshot, Value};
use tally_metrics::TallyRecorder;

/// A recorder on a fresh registry (not the global one: tests run in parallel).
pub fn recorder() -> (Arc<Registry>, TallyRecorder) {
    recorder_with_limit(tally::DEFAULT_CARDINALITY_LIMIT)
}

/// As [`recorder`], with a cardinality limit.
pub fn recorder_with_limit(limit: usize) -> (Arc<Registry>, TallyRecorder) {
    let registry = Arc::new(Registry::new());
    let recorder = TallyRecorder::builder()
        .registry(registry.clone())
        .cardinality_limit(limit)
        .build()
        .expect("a fresh registry takes a recorder");
    (registry, recorder)
}

/// A recorder on a fresh registry that registers its own stats there
/// ([`TallyRecorder::builder`]'s `expose_stats`).
pub fn recorder_exposing_stats() -> (Arc<Registry>, TallyRecorder) {
    let registry = Arc::new(Registry::new());
    let recorder = TallyRecorder::builder()
        .registry(registry.clone())
        .expose_stats(true)
        .build()
        .expect("a fresh registry takes a recorder");
    (registry, recorder)
}

/// The value of the series of `metric` with these label values (its one field is named
/// like the metric), if there is one.
pub fn value(snap: &RegistrySnapshot, metric: &str, labels: &[&str]) -> Option<Value> {
    let m = snap.metrics.get(metric)?;
    let series = m.series.iter().find(|s| s.labels == labels)?;
    series.snapshot.get(metric).cloned()
}

/// A counter's count (0 when the series does not exist).
pub fn counter(snap: &RegistrySnapshot, metric: &str, labels: &[&str]) -> u64 {
    match value(snap, metric, labels) {
        Some(Value::Counter(n)) => n,
        None => 0,
        other => panic!("{metric}{labels:?} is not a counter: {other:?}"),
    }
}

/// A gauge's level.
pub fn gauge(snap: &RegistrySnapshot, metric: &str, labels: &[&str]) -> i64 {
    match value(snap, metric, labels) {
        Some(Value::Gauge(n)) => n,
        other => panic!("{metric}{labels:?} is not a gauge: {other:?}"),
    }
}

/// A histogram.
pub fn histogram(snap: &RegistrySnapshot, metric: &str, labels: &[&str]) -> HistogramSnapshot {
    match value(snap, metric, labels) {
        Some(Value::Histogram(h)) => *h,
        other => panic!("{metric}{labels:?} is not a histogram: {other:?}"),
    }
}
