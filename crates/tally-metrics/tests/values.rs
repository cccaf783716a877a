//! How each handle maps `metrics` calls onto tally fields: absolute counters, rounded
//! gauge levels, `record_many`, and values that cannot be recorded.

mod common;

use common::{counter, gauge, histogram, recorder};

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
fn a_gauge_holds_its_level_rounded_without_accumulating_rounding_error() {
    let (registry, recorder) = recorder();
    let level = || gauge(&registry.snapshot(), "load", &[]);
    metrics::with_local_recorder(&recorder, || {
        let g = metrics::gauge!("load");
        g.increment(0.4);
        assert_eq!(level(), 0);
        g.increment(0.4); // 0.8
        assert_eq!(level(), 1);
        for _ in 0..10 {
            g.increment(0.4); // 4.8: ten rounded steps would say 10
        }
        assert_eq!(level(), 5);
        g.set(-2.5);
        assert_eq!(level(), -3);
        g.decrement(0.5);
        assert_eq!(level(), -3);
        // Another handle on the same series shares the level.
        metrics::gauge!("load").increment(10.0);
    });
    assert_eq!(level(), 7);
}

#[test]
fn values_a_field_cannot_hold_are_dropped_and_counted() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        let h = metrics::histogram!("sizes");
        h.record(3.0);
        h.record(-1.0);
        h.record(f64::NAN);
        h.record(f64::INFINITY);
        let g = metrics::gauge!("level");
        g.set(4.0);
        g.set(f64::NAN);
        g.increment(f64::INFINITY);
        g.increment(f64::MAX);
        g.increment(f64::MAX); // would overflow to infinity
    });
    let snap = registry.snapshot();
    let h = histogram(&snap, "sizes", &[]);
    assert_eq!((h.count(), h.sum()), (1, 3));
    assert_eq!(gauge(&snap, "level", &[]), i64::MAX);
    assert_eq!(recorder.stats().rejected_values, 6);
}

#[test]
fn record_many_records_every_value_as_one_event() {
    let (registry, recorder) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("tokens").record_many(128.0, 4);
    });
    let h = histogram(&registry.snapshot(), "tokens", &[]);
    assert_eq!((h.count(), h.sum()), (4, 512));
}
