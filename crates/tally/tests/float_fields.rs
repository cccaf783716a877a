//! Float fields and histograms in a unit keep the guarantees of the integer ones: under
//! real concurrency every event is in a snapshot whole or not at all, float totals never go
//! backwards, and the final totals are exactly what was recorded (exact where the recorded
//! values sum exactly; otherwise exactly the documented rounding: each thread's part summed
//! in order, the parts summed exactly and rounded once). Refused values are recorded
//! nowhere and counted.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use tally::{FloatSum, HistogramConfig, Rejected, Unit};

tally::metric_set! {
    /// A batch worker, with float fields recorded beside integer ones.
    struct Worker {
        /// Batches processed.
        batches: Counter,
        /// GPU time, a quarter second per batch.
        gpu_seconds: CounterF64 in Seconds,
        /// Batches in flight, in fractions of a batch.
        queue_fill: GaugeF64 in Ratio,
        /// GPU utilisation, last sampled.
        busy: LastValueF64 in Ratio,
        /// Time per batch.
        latency: Histogram,
        /// Bytes per batch.
        payload: Histogram(HistogramConfig::BYTES),
    }
}

const THREADS: usize = 8;
const PER_THREAD: u64 = 50_000;

/// Runs `THREADS` writers released together, and a reader calling `read` until they end.
fn with_reader(write: impl Fn(usize) + Sync, read: impl Fn() + Sync) {
    let barrier = Barrier::new(THREADS + 1);
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let reader = s.spawn(|| {
            barrier.wait();
            while !done.load(Ordering::Acquire) {
                read();
            }
            read();
        });
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (barrier, write) = (&barrier, &write);
                s.spawn(move || {
                    barrier.wait();
                    write(t);
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap();
    });
}

#[test]
fn float_fields_are_whole_in_every_snapshot_never_backwards_and_exact_at_the_end() {
    let w = Worker::new();
    let last = std::sync::Mutex::new((0u64, 0.0f64));
    with_reader(
        |t| {
            for i in 0..PER_THREAD {
                w.record(|e| {
                    e.batches().inc();
                    e.gpu_seconds().add(0.25);
                    e.queue_fill().add(0.5);
                    e.latency().record_f64(0.012);
                    e.payload().record_f64(1536.0);
                });
                w.record(|e| {
                    e.queue_fill().sub(0.5);
                    e.busy().set((t as f64 + i as f64) / 1024.0);
                });
            }
        },
        || {
            let s = w.snapshot();
            // Whole events: each batch added 0.25 s and one value to each histogram.
            assert_eq!(s.gpu_seconds, s.batches as f64 * 0.25);
            assert_eq!(s.latency.count(), s.batches);
            assert_eq!(s.latency.sum(), u128::from(s.batches) * 12_000_000);
            assert_eq!(s.payload.sum(), u128::from(s.batches) * 1536);
            // At most one add per thread not yet matched by its sub.
            assert!((0.0..=THREADS as f64 * 0.5).contains(&s.queue_fill), "{}", s.queue_fill);
            assert_eq!(s.queue_fill % 0.5, 0.0);
            // Never backwards.
            let mut last = last.lock().unwrap();
            assert!(s.batches >= last.0 && s.gpu_seconds >= last.1);
            *last = (s.batches, s.gpu_seconds);
        },
    );
    let s = w.snapshot();
    let n = THREADS as u64 * PER_THREAD;
    assert_eq!(s.batches, n);
    assert_eq!(s.gpu_seconds, n as f64 * 0.25);
    assert_eq!(s.queue_fill, 0.0);
    assert_eq!(HistogramConfig::SECONDS.sum_to_unit(s.latency.sum()), n as f64 * 0.012);
    assert_eq!(s.latency.min(), Some(12_000_000));
    assert_eq!((s.payload.min(), s.payload.max()), (Some(1536), Some(1536)));
    // The newest set of some thread: its last value, stamped last.
    let finals: Vec<f64> =
        (0..THREADS).map(|t| (t as f64 + (PER_THREAD - 1) as f64) / 1024.0).collect();
    assert!(finals.contains(&s.busy.value), "{}", s.busy.value);
}

#[test]
fn inexact_float_totals_are_each_threads_sum_added_exactly_and_rounded_once() {
    let w = Worker::new();
    // 0.1 has no exact f64: each thread's part is 0.1 added PER_THREAD times in order.
    with_reader(
        |_| {
            for _ in 0..PER_THREAD {
                w.gpu_seconds().add(0.1);
                w.queue_fill().add(0.1);
                w.queue_fill().sub(0.3);
            }
        },
        || {
            let _ = w.snapshot();
        },
    );
    let mut part = 0.0f64;
    let mut level = 0.0f64;
    for _ in 0..PER_THREAD {
        part += 0.1;
        level += 0.1;
        level += -0.3;
    }
    let mut total = FloatSum::new();
    let mut levels = FloatSum::new();
    for _ in 0..THREADS {
        total.add(part);
        levels.add(level);
    }
    let s = w.snapshot();
    assert_eq!(s.gpu_seconds, total.value());
    assert_eq!(s.queue_fill, levels.value());
    // And within a millionth of the decimal total the events meant.
    assert!((s.gpu_seconds - THREADS as f64 * PER_THREAD as f64 * 0.1).abs() < 1e-6);
}

#[test]
fn refused_values_are_recorded_nowhere_and_counted_by_reason() {
    let w = Worker::new();
    let before = tally::rejected_values();
    w.record(|e| {
        e.batches().inc();
        assert_eq!(e.gpu_seconds().try_add(-1.0), Err(Rejected::Negative));
        assert_eq!(e.gpu_seconds().try_add(f64::INFINITY), Err(Rejected::NotFinite));
        assert_eq!(e.queue_fill().try_add(f64::NAN), Err(Rejected::NotFinite));
        assert_eq!(e.queue_fill().try_add(f64::NEG_INFINITY), Err(Rejected::NotFinite));
        assert_eq!(e.busy().try_set(f64::NAN), Err(Rejected::NotFinite));
        assert_eq!(e.latency().try_record_f64(-0.001), Err(Rejected::Negative));
        assert_eq!(e.latency().try_record_f64(1e12), Err(Rejected::TooLarge));
        assert_eq!(e.payload().try_record_f64(f64::NAN), Err(Rejected::NotFinite));
        // What can be taken is: -0.0 is 0, and a last value may be infinite.
        assert_eq!(e.gpu_seconds().try_add(-0.0), Ok(()));
        assert_eq!(e.latency().try_record_f64(-0.0), Ok(()));
        assert_eq!(e.busy().try_set(f64::INFINITY), Ok(()));
    });
    let after = tally::rejected_values();
    // Other tests of this binary may refuse values too: at least ours are counted.
    assert!(after.negative >= before.negative + 2);
    assert!(after.not_finite >= before.not_finite + 5);
    assert!(after.too_large > before.too_large);
    let s = w.snapshot();
    assert_eq!(s.batches, 1);
    assert_eq!((s.gpu_seconds, s.queue_fill), (0.0, 0.0));
    assert_eq!(s.busy.value, f64::INFINITY);
    assert_eq!((s.latency.count(), s.latency.sum()), (1, 0));
    assert_eq!(s.payload.count(), 0);
}

#[test]
fn a_histogram_records_f64s_and_durations_in_its_own_steps() {
    tally::metric_set! {
        struct Scales {
            /// Milliseconds of a seconds histogram.
            ms: Histogram(MS),
            /// A ratio from 0.001 to 1.
            fill: Histogram(FILL),
        }
    }
    const MS: HistogramConfig = match HistogramConfig::new(5, 3_600_000) {
        Ok(c) => match c.in_unit(Unit::Seconds, 3) {
            Ok(c) => c,
            Err(_) => panic!(),
        },
        Err(_) => panic!(),
    };
    // Declared as a constant by hand: `for_range` gives the same (checked below).
    const FILL: HistogramConfig = match HistogramConfig::new(5, 100_000) {
        Ok(c) => match c.in_unit(Unit::Ratio, 5) {
            Ok(c) => c,
            Err(_) => panic!(),
        },
        Err(_) => panic!(),
    };
    assert_eq!(HistogramConfig::for_range(Unit::Ratio, 0.001, 1.0, 5), Ok(FILL));
    let s = Scales::new();
    s.record(|e| {
        e.ms().record_duration(Duration::from_micros(12_499)); // 12.499 ms → 12 steps
        e.ms().record_f64(0.0125); // 12.5 ms → 13 steps (halves up)
        e.fill().record_f64(0.75);
        e.fill().record_f64(0.00001);
        e.ms().record_units(2); // 2 s: 2,000 steps of a millisecond
        assert_eq!(e.fill().try_record_units(1 << 50), Err(Rejected::TooLarge));
    });
    let snap = s.snapshot();
    assert_eq!(snap.ms.sum(), 2_025);
    assert_eq!(MS.sum_to_unit(snap.ms.sum()), 2.025);
    assert_eq!(snap.fill.sum(), 75_001);
    assert_eq!(FILL.to_unit(snap.fill.max().unwrap()), 0.75);
    assert_eq!(FILL.to_unit(snap.fill.min().unwrap()), 0.00001);

    // The core's one-instruction conversion is `HistogramConfig::steps_of`, value for value.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let check = tally::RawSet::new(
        tally::Layout::new(vec![tally::FieldDesc::new("h", tally::FieldKind::Histogram(MS), "")])
            .unwrap(),
    );
    let h = check.field("h").unwrap();
    for _ in 0..5_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = f64::from_bits(x);
        let scaled = [v, v.abs() % 1e6, (x % 10_000) as f64 / 7.0, -(x as f64)];
        for v in scaled {
            let before = check.snapshot();
            let got = check.record(|e| e.handle::<tally::kind::Histogram>(h).try_record_f64(v));
            let after = check.snapshot();
            let Some(tally::Value::Histogram(a)) = after.get("h") else { panic!() };
            let Some(tally::Value::Histogram(b)) = before.get("h") else { panic!() };
            match MS.steps_of(v) {
                Ok(steps) => {
                    assert_eq!(got, Ok(()), "{v}");
                    assert_eq!(a.sum() - b.sum(), u128::from(steps), "{v}");
                }
                Err(reason) => {
                    assert_eq!(got, Err(reason), "{v}");
                    assert_eq!(a.count(), b.count(), "{v}");
                }
            }
        }
    }
}
