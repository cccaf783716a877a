//! Windows between epochs: deltas, per-second rates on an injected clock, and refusals.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tally_epoch::{EpochError, ManualClock, Publisher, Rate};
use tally_snapshot::{
    Delta, DeltaError, FieldDesc, FieldKind, HistogramConfig, HistogramSnapshot, Last, SetSnapshot,
    Value,
};

/// A tiny typed snapshot: one counter and one summed gauge.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Tiny {
    total: u64,
    in_flight: i64,
}

impl Delta for Tiny {
    fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError> {
        Ok(Tiny {
            total: u64::delta(&later.total, &earlier.total).map_err(|e| e.in_field("total"))?,
            in_flight: i64::delta(&later.in_flight, &earlier.in_flight)?,
        })
    }
}

/// A publisher of whatever `state` holds, on a manual clock.
fn tiny_publisher() -> (Publisher<Tiny>, Arc<Mutex<Tiny>>, ManualClock) {
    let state = Arc::new(Mutex::new(Tiny::default()));
    let source = Arc::clone(&state);
    let clock = ManualClock::new();
    let publisher =
        Publisher::builder(move || *source.lock().unwrap()).clock(clock.clone()).build();
    (publisher, state, clock)
}

#[test]
fn rate_is_the_delta_over_the_injected_clock_time() {
    let (publisher, state, clock) = tiny_publisher();
    let start = publisher.latest();
    *state.lock().unwrap() = Tiny { total: 250, in_flight: 4 };
    clock.advance(Duration::from_millis(2500));
    let end = publisher.refresh();

    let window = end.since(&start).unwrap();
    assert_eq!((window.earlier_number(), window.later_number()), (0, 1));
    assert_eq!(window.elapsed(), Duration::from_millis(2500));
    assert_eq!(*window.delta(), Tiny { total: 250, in_flight: 4 });
    assert_eq!(window.rate(|d| d.total), Some(100.0));
    assert_eq!(window.per_second(window.delta().in_flight as f64), Some(1.6));
}

#[test]
fn a_window_of_zero_length_has_no_rate_rather_than_nan_or_infinity() {
    let (publisher, state, _clock) = tiny_publisher();
    let start = publisher.latest();
    let same = start.since(&start).unwrap();
    assert_eq!(same.rate(|d| d.total), None);

    // Two collections within one clock tick: events but no elapsed time.
    state.lock().unwrap().total = 10;
    let window = publisher.refresh().since(&start).unwrap();
    assert_eq!(window.delta().total, 10);
    assert_eq!(window.elapsed(), Duration::ZERO);
    assert_eq!(window.rate(|d| d.total), None);
    assert_eq!(window.per_second(f64::NAN), None);
}

#[test]
fn a_non_finite_amount_gives_no_rate() {
    let (publisher, _state, clock) = tiny_publisher();
    let start = publisher.latest();
    clock.advance(Duration::from_secs(1));
    let window = publisher.refresh().since(&start).unwrap();
    assert_eq!(window.per_second(f64::INFINITY), None);
    assert_eq!(window.per_second(f64::NAN), None);
}

#[test]
fn a_window_refuses_epochs_in_the_wrong_order() {
    let (publisher, _state, clock) = tiny_publisher();
    let older = publisher.latest();
    clock.advance(Duration::from_secs(1));
    let newer = publisher.refresh();
    let err = older.since(&newer).unwrap_err();
    assert_eq!(err, EpochError::OutOfOrder { later: 0, earlier: 1 });
    assert!(err.to_string().contains("newer.since(&older)"), "{err}");
}

#[test]
fn a_window_refuses_a_counter_that_went_backwards() {
    let (publisher, state, clock) = tiny_publisher();
    state.lock().unwrap().total = 100;
    let start = publisher.refresh();
    state.lock().unwrap().total = 40; // a restarted source
    clock.advance(Duration::from_secs(1));
    let err = publisher.refresh().since(&start).unwrap_err();
    assert!(
        matches!(
            &err,
            EpochError::Delta {
                later: 2,
                earlier: 1,
                source: DeltaError::CounterWentBackwards { earlier: 100, later: 40, .. },
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_window_refuses_epochs_of_two_publishers() {
    let (a, _, _) = tiny_publisher();
    let (b, _, _) = tiny_publisher();
    let err = a.latest().since(&b.latest()).unwrap_err();
    assert!(matches!(err, EpochError::DifferentPublishers { .. }), "{err:?}");
    // Clones are the same publisher.
    assert!(a.clone().refresh().since(&a.latest()).is_ok());
}

#[test]
fn a_window_refuses_a_clock_that_went_backwards() {
    let (publisher, _state, clock) = tiny_publisher();
    clock.set(Duration::from_secs(10));
    let start = publisher.refresh();
    clock.set(Duration::from_secs(3));
    let err = publisher.refresh().since(&start).unwrap_err();
    assert!(matches!(err, EpochError::ClockWentBackwards { later: 2, earlier: 1, .. }), "{err:?}");
}

#[test]
fn set_snapshot_rates_cover_every_field_and_histograms_give_window_quantiles() {
    let cfg = HistogramConfig::DEFAULT;
    let fields = vec![
        FieldDesc::new("requests", FieldKind::Counter, "Requests completed."),
        FieldDesc::new("in_flight", FieldKind::Gauge, "Requests being served."),
        FieldDesc::new("temperature", FieldKind::LastValue, "Last temperature."),
        FieldDesc::new("latency_ns", FieldKind::Histogram(cfg), "Request latency."),
    ];
    // (latencies recorded so far, in-flight level, last temperature)
    let state = Arc::new(Mutex::new((Vec::<u64>::new(), 0i64, Last::default())));
    let source = Arc::clone(&state);
    let clock = ManualClock::new();
    let publisher = Publisher::builder(move || {
        let (latencies, in_flight, temperature) = &*source.lock().unwrap();
        let histogram = HistogramSnapshot::from_values(cfg, latencies.iter().copied()).unwrap();
        let values = vec![
            Value::Counter(latencies.len() as u64),
            Value::Gauge(*in_flight),
            Value::LastValue(*temperature),
            Value::Histogram(Box::new(histogram)),
        ];
        SetSnapshot::new(fields.clone(), values).unwrap()
    })
    .clock(clock.clone())
    .build();

    // Before the window: 1000 slow requests (5 s each) that must not show in its p99.
    {
        let mut s = state.lock().unwrap();
        s.0.extend(std::iter::repeat_n(5_000_000_000, 1000));
        s.1 = 7;
    }
    clock.advance(Duration::from_secs(100));
    let start = publisher.refresh();

    // In the 10 s window: 200 requests of 1..=200 ms, in-flight down by 2, one reading.
    {
        let mut s = state.lock().unwrap();
        s.0.extend((1..=200).map(|ms| ms * 1_000_000));
        s.1 = 5;
        s.2 = Last::new(41, 123);
    }
    clock.advance(Duration::from_secs(10));
    let end = publisher.refresh();

    let window = end.since_by(&start, SetSnapshot::delta).unwrap();
    let rates: Vec<_> = window.rates().collect();
    let names: Vec<_> = rates.iter().map(|r| r.field.name.as_ref()).collect();
    assert_eq!(names, ["requests", "in_flight", "temperature", "latency_ns"]);
    assert_eq!(rates[0].rate, Rate::Counter { delta: 200, per_second: Some(20.0) });
    assert_eq!(rates[1].rate, Rate::Gauge { change: -2, per_second: Some(-0.2) });
    assert_eq!(rates[2].rate, Rate::LastValue(Last::new(41, 123)));
    let Rate::Histogram { delta, per_second } = rates[3].rate else {
        panic!("latency_ns is a histogram: {:?}", rates[3].rate)
    };
    assert_eq!((delta.count(), per_second), (200, Some(20.0)));
    let p99 = delta.quantile(0.99).unwrap();
    assert!(
        p99.abs_diff(198_000_000) as f64 <= cfg.relative_error() * 198e6,
        "p99 over the window is {p99} ns, expected about 198 ms"
    );

    assert_eq!(window.counter_rate("requests"), Some(20.0));
    assert_eq!(window.counter_rate("in_flight"), None); // a gauge, not a counter
    assert_eq!(window.counter_rate("missing"), None);
    assert_eq!(window.histogram("latency_ns"), Some(delta));
    assert_eq!(window.field_rate("temperature"), Some(Rate::LastValue(Last::new(41, 123))));
}

#[test]
fn set_snapshot_windows_refuse_a_changed_schema() {
    let schema_b = Arc::new(Mutex::new(false));
    let source = Arc::clone(&schema_b);
    let publisher = Publisher::new(move || {
        let name = if *source.lock().unwrap() { "b" } else { "a" };
        SetSnapshot::new(
            vec![FieldDesc::new(name, FieldKind::Counter, "")],
            vec![Value::Counter(0)],
        )
        .unwrap()
    });
    let start = publisher.latest();
    *schema_b.lock().unwrap() = true;
    let err = publisher.refresh().since_by(&start, SetSnapshot::delta).unwrap_err();
    assert!(
        matches!(err, EpochError::Delta { source: DeltaError::SchemaMismatch { .. }, .. }),
        "{err:?}"
    );
}
