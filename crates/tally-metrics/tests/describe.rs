//! `describe_*!` becomes the registry's help text and unit, whether it comes before or
//! after the first use; a seconds histogram records nanoseconds.

mod common;

use common::{counter, histogram, recorder};
use metrics::Unit;

#[test]
fn a_description_before_first_use_gives_help_and_unit() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("upload_bytes_total", Unit::Bytes, "Bytes uploaded.");
        metrics::counter!("upload_bytes_total").increment(4096);
    });
    let snap = registry.snapshot();
    let m = &snap.metrics["upload_bytes_total"];
    assert_eq!(m.help, "Bytes uploaded.");
    assert_eq!(m.unit.as_deref(), Some("bytes"));
    assert_eq!(counter(&snap, "upload_bytes_total", &[]), 4096);
}

#[test]
fn a_description_after_first_use_replaces_help_and_unit() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!("queue_depth", "queue" => "fast").set(3.0);
        assert_eq!(registry.snapshot().metrics["queue_depth"].help, "");
        metrics::describe_gauge!("queue_depth", Unit::Count, "Jobs waiting.");
    });
    let m = &registry.snapshot().metrics["queue_depth"];
    assert_eq!(m.help, "Jobs waiting.");
    assert_eq!(m.unit.as_deref(), Some("count"));
}

#[test]
fn a_histogram_named_seconds_records_rounded_nanoseconds_under_an_ns_name() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("rpc_duration_seconds", Unit::Seconds, "RPC time.");
        let h = metrics::histogram!("rpc_duration_seconds", "method" => "get");
        h.record(0.0125);
        h.record(1.5e-9); // 1.5 ns: rounds to 2
        h.record(2.0);
    });
    let snap = registry.snapshot();
    assert!(!snap.metrics.contains_key("rpc_duration_seconds"));
    let m = &snap.metrics["rpc_duration_ns"];
    assert_eq!(m.help, "RPC time.");
    assert_eq!(m.unit.as_deref(), Some("nanoseconds"));
    let h = histogram(&snap, "rpc_duration_ns", &["get"]);
    assert_eq!(h.count(), 3);
    assert_eq!(h.sum(), 12_500_000 + 2 + 2_000_000_000);
    assert_eq!(h.min(), Some(2));
}

#[test]
fn a_histogram_described_in_seconds_before_first_use_records_nanoseconds() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("warmup", Unit::Seconds, "Model warm-up.");
        metrics::histogram!("warmup").record(0.25);
    });
    let snap = registry.snapshot();
    assert_eq!(histogram(&snap, "warmup_ns", &[]).sum(), 250_000_000);
}

#[test]
fn a_histogram_described_in_seconds_after_first_use_keeps_whole_values() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("late").record(2.4);
        metrics::describe_histogram!("late", Unit::Seconds, "Described late.");
        metrics::histogram!("late").record(0.6);
    });
    let snap = registry.snapshot();
    let h = histogram(&snap, "late", &[]);
    assert_eq!((h.count(), h.sum()), (2, 3));
    assert_eq!(snap.metrics["late"].help, "Described late.");
}

#[test]
fn other_histograms_record_their_values_rounded_to_integers() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        let h = metrics::histogram!("batch_size");
        for v in [1.0, 2.5, 31.49, 1e6] {
            h.record(v);
        }
    });
    let h = histogram(&registry.snapshot(), "batch_size", &[]);
    assert_eq!(h.count(), 4);
    assert_eq!(h.sum(), 1 + 3 + 31 + 1_000_000);
    assert_eq!((h.min(), h.max()), (Some(1), Some(1_000_000)));
}
