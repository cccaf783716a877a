//! Shared by the integration tests: a recorder on a registry of its own, reading one
//! series' value back out of a registry snapshot, and capturing the recorder's warnings.
#![allow(dead_code)] // Each test file uses its own part.

use std::sync::{Arc, Mutex, Once};

use tally::{FieldDesc, HistogramSnapshot, LastF64, Registry, RegistrySnapshot, Value};
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

/// A gauge's last-value field: its newest write and that write's stamp.
pub fn last(snap: &RegistrySnapshot, metric: &str, labels: &[&str]) -> LastF64 {
    match value(snap, metric, labels) {
        Some(Value::LastValueF64(last)) => last,
        other => panic!("{metric}{labels:?} is not a float last-value gauge: {other:?}"),
    }
}

/// A gauge's level: the exact `f64` of its last-value field.
pub fn gauge(snap: &RegistrySnapshot, metric: &str, labels: &[&str]) -> f64 {
    let last = last(snap, metric, labels);
    assert!(last.is_set(), "{metric}{labels:?} was never written");
    last.value
}

/// The description of the one field of `metric` (its kind and tally unit).
pub fn field(snap: &RegistrySnapshot, metric: &str) -> FieldDesc {
    let m = snap.metrics.get(metric).unwrap_or_else(|| panic!("no metric {metric}"));
    let series = m.series.first().unwrap_or_else(|| panic!("{metric} has no series"));
    let fields = series.snapshot.fields();
    assert_eq!(fields.len(), 1, "{metric}: one field per metric");
    fields[0].clone()
}

/// A histogram.
pub fn histogram(snap: &RegistrySnapshot, metric: &str, labels: &[&str]) -> HistogramSnapshot {
    match value(snap, metric, labels) {
        Some(Value::Histogram(h)) => *h,
        other => panic!("{metric}{labels:?} is not a histogram: {other:?}"),
    }
}

/// Captures warnings for the whole test binary, so that tests can count the lines about
/// their own metric (each test uses metric names of its own).
struct Capture;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LINES.lock().unwrap().push(format!("{} {}", record.level(), record.args()));
    }
    fn flush(&self) {}
}

/// Starts capturing warnings (once per test binary).
pub fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Warn);
    });
}

/// The captured lines that name `metric` (as the recorder quotes it: `` `metric` ``).
pub fn lines_about(metric: &str) -> Vec<String> {
    LINES.lock().unwrap().iter().filter(|l| l.contains(&format!("`{metric}`"))).cloned().collect()
}
