//! `describe_*!` becomes the registry's help text and unit, whether it comes before or
//! after the first use. A histogram is registered under its own (sanitized) name, and its
//! unit, from its description or else its name, sets how its values are recorded: times in
//! a seconds histogram of nanosecond steps, sizes in whole bytes, anything else a plain
//! number in steps of 10^-5. Nothing is rounded to an integer of the value as given.

mod common;

use common::{capture_logs, counter, field, histogram, lines_about, recorder};
use metrics::Unit;
use tally::{FieldKind, HistogramConfig};

/// The configuration of an undescribed histogram whose name says no unit.
fn plain_number() -> HistogramConfig {
    HistogramConfig::for_range(tally::Unit::None, 1e-3, 1e12, 5).unwrap()
}

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
fn counters_and_gauges_described_in_seconds_or_bytes_carry_that_unit_in_their_field() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("cpu", Unit::Seconds, "CPU time.");
        metrics::counter!("cpu").increment(3);
        metrics::describe_gauge!("resident", Unit::Bytes, "Resident memory.");
        metrics::gauge!("resident").set(4096.0);
        // Other units: the values as given, no tally unit (the registry keeps the name).
        metrics::describe_gauge!("lag", Unit::Milliseconds, "Replication lag.");
        metrics::gauge!("lag").set(12.5);
        metrics::describe_gauge!("busy", Unit::Percent, "Busy share.");
        metrics::gauge!("busy").set(37.5);
    });
    let snap = registry.snapshot();
    assert_eq!(
        (field(&snap, "cpu").kind, field(&snap, "cpu").unit),
        (FieldKind::Counter, tally::Unit::Seconds)
    );
    let resident = field(&snap, "resident");
    assert_eq!((resident.kind, resident.unit), (FieldKind::LastValueF64, tally::Unit::Bytes));
    for (name, unit, level) in [("lag", "milliseconds", 12.5), ("busy", "percent", 37.5)] {
        assert_eq!(field(&snap, name).unit, tally::Unit::None, "{name}");
        assert_eq!(snap.metrics[name].unit.as_deref(), Some(unit), "{name}");
        assert_eq!(common::gauge(&snap, name, &[]), level, "{name}");
    }
}

#[test]
fn a_histogram_named_seconds_records_exact_nanosecond_steps_under_its_own_name() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("rpc_duration_seconds", Unit::Seconds, "RPC time.");
        let h = metrics::histogram!("rpc_duration_seconds", "method" => "get");
        h.record(0.0125);
        h.record(1.5e-9); // 1.5 ns: the nearest step, halves up, is 2 ns
        h.record(2.0);
        // Undescribed, the name alone says seconds.
        metrics::histogram!("request_duration_seconds").record(0.0125);
    });
    let snap = registry.snapshot();
    // No renaming: no `_ns` metric.
    let names: Vec<&str> = snap.metrics.keys().map(String::as_str).collect();
    assert_eq!(names, ["request_duration_seconds", "rpc_duration_seconds"]);
    let m = &snap.metrics["rpc_duration_seconds"];
    assert_eq!(m.help, "RPC time.");
    assert_eq!(m.unit.as_deref(), Some("seconds"));
    let h = histogram(&snap, "rpc_duration_seconds", &["get"]);
    assert_eq!(h.config(), HistogramConfig::SECONDS);
    assert_eq!(h.count(), 3);
    assert_eq!(h.sum(), 12_500_000 + 2 + 2_000_000_000);
    assert_eq!((h.min(), h.max()), (Some(2), Some(2_000_000_000)));
    assert_eq!(h.config().sum_to_unit(h.sum()), 2.012500002);

    let undescribed = histogram(&snap, "request_duration_seconds", &[]);
    assert_eq!(undescribed.config(), HistogramConfig::SECONDS);
    assert_eq!(undescribed.sum(), 12_500_000);
    assert_eq!(undescribed.config().sum_to_unit(undescribed.sum()), 0.0125);
}

#[test]
fn a_histogram_described_in_seconds_before_first_use_records_nanoseconds() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("warmup", Unit::Seconds, "Model warm-up.");
        metrics::histogram!("warmup").record(0.25);
    });
    let snap = registry.snapshot();
    let h = histogram(&snap, "warmup", &[]);
    assert_eq!(h.config(), HistogramConfig::SECONDS);
    assert_eq!(h.sum(), 250_000_000);
    assert_eq!(snap.metrics["warmup"].unit.as_deref(), Some("seconds"));
}

#[test]
fn histograms_described_in_smaller_time_units_record_nanosecond_steps_of_seconds() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("db_query_time", Unit::Milliseconds, "Query time.");
        metrics::histogram!("db_query_time").record(12.5);
        metrics::describe_histogram!("parse_time", Unit::Microseconds, "Parse time.");
        metrics::histogram!("parse_time").record(12.5);
        metrics::describe_histogram!("syscall_time", Unit::Nanoseconds, "Syscall time.");
        metrics::histogram!("syscall_time").record(12.5); // the nearest ns, halves up: 13
    });
    let snap = registry.snapshot();
    for (name, steps, seconds) in [
        ("db_query_time", 12_500_000, 0.0125),
        ("parse_time", 12_500, 1.25e-5),
        ("syscall_time", 13, 1.3e-8),
    ] {
        let h = histogram(&snap, name, &[]);
        assert_eq!(h.config(), HistogramConfig::SECONDS, "{name}");
        assert_eq!((h.count(), h.sum()), (1, steps), "{name}");
        assert_eq!(h.config().sum_to_unit(h.sum()), seconds, "{name}");
    }
    // The registry keeps the unit as described.
    assert_eq!(snap.metrics["db_query_time"].unit.as_deref(), Some("milliseconds"));
}

#[test]
fn a_histogram_in_bytes_records_whole_bytes() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("response_size", Unit::Bytes, "Response sizes.");
        metrics::histogram!("response_size").record(1536.4); // the nearest byte
        metrics::describe_histogram!("chunk", Unit::Kibibytes, "Chunk sizes.");
        metrics::histogram!("chunk").record(1.5);
        metrics::describe_histogram!("image", Unit::Mebibytes, "Image sizes.");
        metrics::histogram!("image").record(2.0);
        // Undescribed, the name alone says bytes.
        metrics::histogram!("body_bytes").record(100.0);
    });
    let snap = registry.snapshot();
    for (name, bytes) in
        [("response_size", 1536), ("chunk", 1536), ("image", 2 << 20), ("body_bytes", 100)]
    {
        let h = histogram(&snap, name, &[]);
        assert_eq!(h.config(), HistogramConfig::BYTES, "{name}");
        assert_eq!((h.count(), h.sum()), (1, bytes), "{name}");
    }
}

#[test]
fn an_undescribed_plain_histogram_keeps_fractions_exactly() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        let h = metrics::histogram!("batch_fill");
        for v in [0.5, 0.3, 2.25] {
            h.record(v);
        }
        let h = metrics::histogram!("batch_size");
        for v in [1.0, 2.5, 31.49, 1e6] {
            h.record(v);
        }
    });
    let snap = registry.snapshot();
    let h = histogram(&snap, "batch_fill", &[]);
    assert_eq!(h.config(), plain_number());
    assert_eq!((h.config().unit(), h.config().decimals()), (tally::Unit::None, 5));
    // Steps of 10^-5: 0.5 and 0.3 are whole numbers of steps, nothing is rounded away.
    assert_eq!(h.count(), 3);
    assert_eq!(h.sum(), 50_000 + 30_000 + 225_000);
    assert_eq!((h.min(), h.max()), (Some(30_000), Some(225_000)));
    assert_eq!(h.config().to_unit(h.min().unwrap()), 0.3);
    assert_eq!(h.config().to_unit(h.max().unwrap()), 2.25);
    // The sum in the unit: 305,000 steps / 10^5, correctly rounded, is the f64 nearest 3.05.
    assert_eq!(h.config().sum_to_unit(h.sum()), 305_000.0 / 100_000.0);
    assert_eq!(h.config().sum_to_unit(h.sum()), 3.05);

    let h = histogram(&snap, "batch_size", &[]);
    assert_eq!(h.count(), 4);
    assert_eq!(h.sum(), 100_000 + 250_000 + 3_149_000 + 100_000_000_000);
    assert_eq!(h.config().sum_to_unit(h.sum()), 1_000_034.99);
}

#[test]
fn a_unit_described_for_another_kind_does_not_apply_to_a_histogram() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_gauge!("payload", Unit::Bytes, "Payload.");
        metrics::histogram!("payload").record(0.5);
    });
    let h = histogram(&registry.snapshot(), "payload", &[]);
    assert_eq!(h.config(), plain_number());
    assert_eq!(h.config().to_unit(h.min().unwrap()), 0.5);
}

#[test]
fn a_unit_described_after_first_use_is_logged_once_and_the_first_unit_kept() {
    capture_logs();
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("late").record(2.4);
        metrics::describe_histogram!("late", Unit::Seconds, "Described late.");
        metrics::histogram!("late").record(0.6);
        metrics::describe_histogram!("late", Unit::Seconds, "Described late again.");
        // The same unit as the first use: nothing to say.
        metrics::histogram!("timely_seconds").record(0.5);
        metrics::describe_histogram!("timely_seconds", Unit::Seconds, "Described late.");
        // A counter recorded without a unit, described in bytes. (Not `late_total`: the
        // registry refuses a counter whose family name, `late`, is the histogram's.)
        metrics::counter!("tardy_total").increment(1);
        metrics::describe_counter!("tardy_total", Unit::Bytes, "Described late.");
    });
    let snap = registry.snapshot();
    // Still a plain number: 2.4 + 0.6, in steps of 10^-5.
    let h = histogram(&snap, "late", &[]);
    assert_eq!(h.config(), plain_number());
    assert_eq!((h.count(), h.sum()), (2, 300_000));
    assert_eq!(h.config().sum_to_unit(h.sum()), 3.0);
    assert_eq!(snap.metrics["late"].help, "Described late again.");
    let lines = lines_about("late");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("WARN"), "{lines:?}");
    assert!(lines[0].contains("after its first use"), "{lines:?}");
    assert!(lines_about("timely_seconds").is_empty(), "{:?}", lines_about("timely_seconds"));

    assert_eq!(field(&snap, "tardy_total").unit, tally::Unit::None);
    assert_eq!(counter(&snap, "tardy_total", &[]), 1);
    assert_eq!(lines_about("tardy_total").len(), 1, "{:?}", lines_about("tardy_total"));
}

/// A histogram named `…_seconds` records seconds from its first use: described later in
/// milliseconds, it keeps reading values as seconds, and says so once (the description's
/// unit differs from the one its values were read in, though both are times).
#[test]
fn a_seconds_histogram_described_later_in_milliseconds_is_logged_and_keeps_seconds() {
    capture_logs();
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("flush_seconds").record(0.5);
        metrics::describe_histogram!("flush_seconds", Unit::Milliseconds, "Flush time.");
        metrics::histogram!("flush_seconds").record(0.25);
        // Bytes, described later in kibibytes: the same, for sizes.
        metrics::histogram!("frame_bytes").record(512.0);
        metrics::describe_histogram!("frame_bytes", Unit::Kibibytes, "Frame sizes.");
        metrics::histogram!("frame_bytes").record(512.0);
    });
    let snap = registry.snapshot();
    let h = histogram(&snap, "flush_seconds", &[]);
    assert_eq!(h.config(), HistogramConfig::SECONDS);
    assert_eq!(h.sum(), 750_000_000);
    let h = histogram(&snap, "frame_bytes", &[]);
    assert_eq!(h.config(), HistogramConfig::BYTES);
    assert_eq!(h.sum(), 1024);
    for name in ["flush_seconds", "frame_bytes"] {
        let lines = lines_about(name);
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        assert!(lines[0].contains("after its first use"), "{lines:?}");
    }
}
