//! How each handle maps `metrics` calls onto tally fields: absolute counters, exact `f64`
//! gauge levels, `record_many`, and values that cannot be recorded.

mod common;

use common::{capture_logs, counter, gauge, histogram, last, lines_about, recorder};

#[test]
fn absolute_raises_a_counter_to_the_highest_value_and_ignores_decreases() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        let c = metrics::counter!("source_total");
        c.absolute(10);
        c.absolute(7); // a restarted source: no change
        assert_eq!(counter(&registry.snapshot(), "source_total", &[]), 10);
        c.absolute(12);
        // Another handle on the same series shares the high-water mark.
        metrics::counter!("source_total").absolute(11);
        // Increments add to it.
        c.increment(5);
    });
    assert_eq!(counter(&registry.snapshot(), "source_total", &[]), 17);
}

#[test]
fn a_gauge_holds_its_exact_f64_level_through_sets_and_moves() {
    let (registry, recorder) = recorder();
    let level = || gauge(&registry.snapshot(), "load", &[]);
    metrics::with_local_recorder(&recorder, || {
        let g = metrics::gauge!("load");
        g.increment(0.4);
        assert_eq!(level(), 0.4);
        g.increment(0.4);
        assert_eq!(level(), 0.4 + 0.4);
        let mut expected = 0.4 + 0.4;
        for _ in 0..10 {
            g.increment(0.4);
            expected += 0.4;
        }
        assert_eq!(level(), expected);
        g.set(-2.5);
        assert_eq!(level(), -2.5);
        g.decrement(0.5);
        assert_eq!(level(), -3.0);
        g.set(0.75);
        assert_eq!(level(), 0.75);
        // Another handle on the same series shares the level.
        metrics::gauge!("load").increment(10.0);
    });
    assert_eq!(level(), 10.75);
    assert_eq!(recorder.stats().rejected_values, 0);
}

#[test]
fn gauge_increments_of_a_tenth_equal_the_f64_sum_computed_the_same_way() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        let g = metrics::gauge!("progress");
        for _ in 0..10 {
            g.increment(0.1);
        }
    });
    let mut sum = 0.0_f64;
    for _ in 0..10 {
        sum += 0.1;
    }
    // Neither rounded to an integer nor to a decimal: exactly what f64 addition gives.
    assert_eq!(gauge(&registry.snapshot(), "progress", &[]).to_bits(), sum.to_bits());
    assert_ne!(sum, 1.0);
}

#[test]
fn a_gauge_is_a_stamped_last_value_and_a_series_never_set_reads_unset() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!("temperature", "zone" => "a").set(21.5);
        // A handle taken but never used.
        let _ = metrics::gauge!("temperature", "zone" => "b");
    });
    let snap = registry.snapshot();
    let a = last(&snap, "temperature", &["a"]);
    assert!(a.is_set());
    assert_eq!(a.value, 21.5);
    // Bound but never written: the field's zero state.
    let b = last(&snap, "temperature", &["b"]);
    assert!(!b.is_set());
    assert_eq!(b.value, 0.0);
}

#[test]
fn values_a_field_cannot_hold_are_dropped_counted_in_both_stats_and_logged_once() {
    capture_logs();
    let (registry, recorder) = recorder();
    let before = tally::rejected_values();
    metrics::with_local_recorder(&recorder, || {
        let h = metrics::histogram!("sizes");
        h.record(3.0);
        h.record(-1.0);
        h.record(f64::NAN);
        h.record(f64::INFINITY);
        h.record_many(-2.0, 3); // one refused value, however many times
        let g = metrics::gauge!("level");
        g.set(4.0);
        g.set(f64::NAN);
        g.set(f64::NEG_INFINITY);
        g.increment(f64::INFINITY);
        g.increment(f64::MAX);
        g.increment(f64::MAX); // would overflow to infinity
        g.decrement(f64::NAN);
    });
    let after = tally::rejected_values();
    let snap = registry.snapshot();
    let h = histogram(&snap, "sizes", &[]);
    assert_eq!((h.count(), h.sum()), (1, 300_000));
    assert_eq!(h.config().sum_to_unit(h.sum()), 3.0);
    assert_eq!(gauge(&snap, "level", &[]), 4.0 + f64::MAX);
    // 4 from the histogram, 5 from the gauge.
    assert_eq!(recorder.stats().rejected_values, 9);
    // The process-wide counts, by reason, include them (other tests of this binary may
    // refuse values meanwhile: at least these).
    assert!(after.negative >= before.negative + 2, "{before:?} → {after:?}");
    assert!(after.not_finite >= before.not_finite + 7, "{before:?} → {after:?}");
    // Logged once per metric.
    for metric in ["sizes", "level"] {
        let lines = lines_about(metric);
        assert_eq!(lines.len(), 1, "{metric}: {lines:?}");
        assert!(lines[0].contains("rejected_values"), "{lines:?}");
    }
}

#[test]
fn record_many_records_every_value_as_one_event() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("tokens").record_many(128.0, 4);
        metrics::histogram!("prefill_seconds").record_many(0.0125, 2);
    });
    let snap = registry.snapshot();
    let h = histogram(&snap, "tokens", &[]);
    assert_eq!((h.count(), h.sum()), (4, 4 * 12_800_000));
    assert_eq!(h.config().sum_to_unit(h.sum()), 512.0);
    let h = histogram(&snap, "prefill_seconds", &[]);
    assert_eq!((h.count(), h.sum()), (2, 25_000_000));
}
