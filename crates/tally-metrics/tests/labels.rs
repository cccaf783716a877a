//! Labels become series; label keys that differ, names used as two kinds, names taken by
//! other code and the cardinality cap are handled as documented: nothing silently lost,
//! every deviation counted, the first per metric logged.

mod common;

use common::{capture_logs, counter, gauge, lines_about, recorder, recorder_with_limit};
use tally::{InferenceStats, OVERFLOW_LABEL};

#[test]
fn each_label_value_combination_is_one_series_in_label_order() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        for (model, device, n) in [("bert", "gpu1", 2), ("resnet", "gpu0", 3), ("bert", "gpu0", 5)]
        {
            metrics::counter!("inferences_total", "model" => model, "device" => device)
                .increment(n);
        }
        metrics::counter!("inferences_total", "model" => "bert", "device" => "gpu1").increment(1);
    });
    let snap = registry.snapshot();
    let m = &snap.metrics["inferences_total"];
    assert_eq!(m.label_names, ["model", "device"]);
    let labels: Vec<_> = m.series.iter().map(|s| s.labels.clone()).collect();
    assert_eq!(labels, [["bert", "gpu0"], ["bert", "gpu1"], ["resnet", "gpu0"]]);
    assert_eq!(counter(&snap, "inferences_total", &["bert", "gpu1"]), 3);
    assert_eq!(counter(&snap, "inferences_total", &["bert", "gpu0"]), 5);
    assert_eq!(recorder.stats().label_conflicts, 0);
}

#[test]
fn the_same_label_keys_in_another_order_are_the_same_series_and_no_conflict() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("hits_total", "a" => "1", "b" => "2").increment(1);
        for _ in 0..3 {
            metrics::counter!("hits_total", "b" => "2", "a" => "1").increment(1);
        }
    });
    let snap = registry.snapshot();
    assert_eq!(snap.metrics["hits_total"].series.len(), 1);
    assert_eq!(counter(&snap, "hits_total", &["1", "2"]), 4);
    assert_eq!(recorder.stats().label_conflicts, 0);
}

#[test]
fn differing_label_keys_record_into_the_metrics_own_labels_counted_and_logged_once() {
    capture_logs();
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        // The first use fixes the labels: [method].
        metrics::counter!("conflicted_total", "method" => "GET").increment(1);
        // Missing `method`: recorded with method="".
        metrics::counter!("conflicted_total", "status" => "500").increment(10);
        metrics::counter!("conflicted_total").increment(100);
        // Extra `status`: recorded under method="GET", `status` dropped.
        metrics::counter!("conflicted_total", "method" => "GET", "status" => "200").increment(1000);
    });
    let snap = registry.snapshot();
    let m = &snap.metrics["conflicted_total"];
    assert_eq!(m.label_names, ["method"]);
    assert_eq!(counter(&snap, "conflicted_total", &[""]), 110);
    assert_eq!(counter(&snap, "conflicted_total", &["GET"]), 1001);
    // Nothing lost from the total.
    let total: u64 =
        m.series.iter().map(|s| counter(&snap, "conflicted_total", &[&s.labels[0]])).sum();
    assert_eq!(total, 1111);
    assert_eq!(recorder.stats().label_conflicts, 3);
    assert_eq!(recorder.stats().rejected_updates, 0);
    let lines = lines_about("conflicted_total");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("WARN") && lines[0].contains("label"), "{lines:?}");
}

#[test]
fn a_name_used_as_two_kinds_drops_the_second_kind_counted_and_logged_once() {
    capture_logs();
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("two_kinds").increment(5);
        let g = metrics::gauge!("two_kinds");
        g.set(1.0);
        g.increment(2.0);
        metrics::histogram!("two_kinds").record(3.0);
    });
    let snap = registry.snapshot();
    assert_eq!(counter(&snap, "two_kinds", &[]), 5);
    assert_eq!(recorder.stats().rejected_updates, 3);
    assert_eq!(lines_about("two_kinds").len(), 1, "{:?}", lines_about("two_kinds"));
}

#[test]
fn a_name_registered_by_other_code_is_left_alone_and_its_updates_counted() {
    capture_logs();
    let (registry, recorder) = common::recorder_exposing_stats();
    let stats = registry.register::<InferenceStats>("inference", "The model server.").unwrap();
    #[allow(deprecated)] // issue 22: record_request(Outcome::Success, Cache::Hit)
    stats.record_inference(true, true);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("inference").increment(1);
        metrics::counter!("inference").increment(1);
    });
    let snap = registry.snapshot();
    assert_eq!(
        snap.metrics["inference"].series[0].snapshot.get("total_inferences"),
        Some(&tally::Value::Counter(1))
    );
    assert_eq!(recorder.stats().rejected_updates, 2);
    let lines = lines_about("inference");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("ERROR") && lines[0].contains("already registered"), "{lines:?}");
    // Asked for, the recorder's own stats are in the registry too, with the same count.
    let own = &snap.metrics[tally_metrics::STATS_METRIC].series[0].snapshot;
    assert_eq!(own.get("rejected_updates"), Some(&tally::Value::Counter(2)));
}

#[test]
fn past_the_cardinality_limit_updates_go_to_the_overflow_series() {
    let (registry, recorder) = recorder_with_limit(3);
    metrics::with_local_recorder(&recorder, || {
        for user in 0..10 {
            let user = user.to_string();
            metrics::counter!("per_user_total", "user" => user.clone()).increment(1);
            metrics::gauge!("per_user_level", "user" => user).set(2.0);
        }
    });
    let snap = registry.snapshot();
    let m = &snap.metrics["per_user_total"];
    let labels: Vec<_> = m.series.iter().map(|s| s.labels[0].clone()).collect();
    assert_eq!(labels, ["0", "1", "2", OVERFLOW_LABEL]);
    assert_eq!(counter(&snap, "per_user_total", &[OVERFLOW_LABEL]), 7);
    assert_eq!(m.overflow_redirects, 7);
    // The overflow series is one series: sets there set its level.
    assert_eq!(gauge(&snap, "per_user_level", &["1"]), 2.0);
    assert_eq!(gauge(&snap, "per_user_level", &[OVERFLOW_LABEL]), 2.0);
}

#[test]
fn a_second_recorder_on_one_registry_is_refused_with_a_clear_error() {
    use tally_metrics::{RecorderError, TallyRecorder};
    // Neither exposes its stats: the registry holds nothing of the first but its metrics.
    let (registry, first) = recorder();
    metrics::with_local_recorder(&first, || metrics::counter!("jobs_total").increment(1));
    let second = || TallyRecorder::builder().registry(registry.clone()).build().unwrap_err();
    let err = second();
    assert!(matches!(err, RecorderError::AlreadyUsed), "{err:?}");
    assert!(err.to_string().contains("one recorder per registry"), "{err}");
    // Still refused once the first is dropped: its metrics are still registered.
    drop(first);
    assert!(matches!(second(), RecorderError::AlreadyUsed));
    let exposing = TallyRecorder::builder().registry(registry.clone()).expose_stats(true);
    assert!(matches!(exposing.build().unwrap_err(), RecorderError::AlreadyUsed));
    // Another registry takes one.
    let other = std::sync::Arc::new(tally::Registry::new());
    assert!(TallyRecorder::builder().registry(other).build().is_ok());
}

#[test]
fn exposing_stats_under_a_name_other_code_took_is_refused_and_claims_nothing() {
    use tally_metrics::{RecorderError, STATS_METRIC, TallyRecorder};
    let registry = std::sync::Arc::new(tally::Registry::new());
    registry.register::<InferenceStats>(STATS_METRIC, "Not the recorder's.").unwrap();
    let exposing = TallyRecorder::builder().registry(registry.clone()).expose_stats(true);
    let err = exposing.build().unwrap_err();
    assert!(matches!(err, RecorderError::StatsNameTaken(_)), "{err:?}");
    assert!(err.to_string().contains("leave `expose_stats` off"), "{err}");
    // The registry is not claimed by the failed build: a recorder without exposed stats
    // records into it.
    let recorder = TallyRecorder::builder().registry(registry.clone()).build().unwrap();
    metrics::with_local_recorder(&recorder, || metrics::counter!("jobs_total").increment(2));
    assert_eq!(counter(&registry.snapshot(), "jobs_total", &[]), 2);
}

#[test]
fn a_zero_cardinality_limit_is_refused() {
    let err = tally_metrics::TallyRecorder::builder()
        .registry(std::sync::Arc::new(tally::Registry::new()))
        .cardinality_limit(0)
        .build()
        .unwrap_err();
    assert!(matches!(err, tally_metrics::RecorderError::ZeroLimit));
}

/// Regression (the sibling of the family's quadratic fill): the recorder's key → series and
/// name → metric maps were copied whole for each new entry, so the n-th new series or
/// metric cost O(n). 20,000 series of one metric and 5,000 metrics, each bound once and
/// counted exactly (no timing asserted; the old maps made this take minutes).
#[test]
fn many_series_and_many_metrics_are_each_bound_once_and_counted_exactly() {
    let (registry, recorder) = recorder_with_limit(20_000);
    let values: Vec<String> = (0..20_000).map(|i| format!("t{i}")).collect();
    metrics::with_local_recorder(&recorder, || {
        for round in 0..2 {
            for v in &values {
                metrics::counter!("requests_by_tenant", "tenant" => v.clone()).increment(1);
            }
            for m in 0..5_000 {
                metrics::counter!(format!("metric_{m}")).increment(round + 1);
            }
        }
    });
    let snap = registry.snapshot();
    assert_eq!(snap.metrics["requests_by_tenant"].series.len(), 20_000);
    for v in values.iter().step_by(997) {
        assert_eq!(counter(&snap, "requests_by_tenant", &[v]), 2);
    }
    assert_eq!(counter(&snap, "metric_4999", &[]), 3);
    assert_eq!(snap.metrics.keys().filter(|k| k.starts_with("metric_")).count(), 5_000);
}
