//! Every update through the `metrics` macros lands exactly once, from many threads at
//! once, while snapshots are taken; counters never go backwards in those snapshots, and a
//! gauge's field ends at its exact `f64` level once updates stop.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use tally_metrics::TallyRecorder;

use common::{counter, gauge, histogram, last, recorder};

const THREADS: u64 = 8;
const PER_THREAD: u64 = 20_000;

/// Runs `work(t)` on `THREADS` threads at once (`t` in `0..THREADS`), each with `recorder`
/// as its local recorder.
fn on_every_thread(recorder: &TallyRecorder, work: impl Fn(u64) + Sync) {
    thread::scope(|s| {
        for t in 0..THREADS {
            let work = &work;
            s.spawn(move || metrics::with_local_recorder(recorder, || work(t)));
        }
    });
}

#[test]
fn counter_increments_from_many_threads_sum_exactly_and_never_go_backwards() {
    let (registry, recorder) = recorder();
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut last = 0;
            let mut seen = 0;
            while !done.load(Ordering::Acquire) {
                let snap = registry.snapshot();
                let now = counter(&snap, "requests_total", &["even"])
                    + counter(&snap, "requests_total", &["odd"]);
                assert!(now >= last, "the total went back from {last} to {now}");
                last = now;
                seen += 1;
            }
            seen
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let recorder = &recorder;
                s.spawn(move || {
                    metrics::with_local_recorder(recorder, || {
                        let parity = if t % 2 == 0 { "even" } else { "odd" };
                        // Half through the macro on every call (a lookup each), half through
                        // a handle bound once.
                        for _ in 0..PER_THREAD / 2 {
                            metrics::counter!("requests_total", "parity" => parity).increment(1);
                        }
                        let bound = metrics::counter!("requests_total", "parity" => parity);
                        for _ in 0..PER_THREAD / 2 {
                            bound.increment(1);
                        }
                    })
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        assert!(reader.join().unwrap() > 0);
    });
    let snap = registry.snapshot();
    assert_eq!(counter(&snap, "requests_total", &["even"]), THREADS / 2 * PER_THREAD);
    assert_eq!(counter(&snap, "requests_total", &["odd"]), THREADS / 2 * PER_THREAD);
    assert_eq!(snap.metrics["requests_total"].series.len(), 2);
}

#[test]
fn histogram_observations_from_many_threads_are_all_counted_with_an_exact_step_sum() {
    let (registry, recorder) = recorder();
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut last = 0;
            while !done.load(Ordering::Acquire) {
                let snap = registry.snapshot();
                // The family is registered before its first series is inserted: a
                // snapshot in between holds the metric with no series yet.
                if let Some(m) = snap.metrics.get("work_seconds").filter(|m| !m.series.is_empty()) {
                    let h = histogram(&snap, "work_seconds", &[]);
                    // Building the snapshot checked count == the buckets' sum. Count and sum
                    // come from the same observations (each is 1000..=PER_THREAD × 1000 ns),
                    // and the count never goes back.
                    let (count, sum) = (u128::from(h.count()), h.sum());
                    assert!(sum >= count * 1000 && sum <= count * u128::from(PER_THREAD) * 1000);
                    assert!(h.count() >= last);
                    last = h.count();
                    assert_eq!(m.series.len(), 1);
                }
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let recorder = &recorder;
                s.spawn(move || {
                    metrics::with_local_recorder(recorder, || {
                        for i in 1..=PER_THREAD {
                            // i microseconds, in seconds: recorded as i × 1000 ns steps.
                            metrics::histogram!("work_seconds").record(i as f64 * 1e-6);
                        }
                    })
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap();
    });
    let snap = registry.snapshot();
    // Registered under its own name: nothing renamed to `_ns`.
    let names: Vec<&str> = snap.metrics.keys().map(String::as_str).collect();
    assert_eq!(names, ["work_seconds"]);
    let h = histogram(&snap, "work_seconds", &[]);
    assert_eq!(h.config(), tally::HistogramConfig::SECONDS);
    assert_eq!(h.count(), THREADS * PER_THREAD);
    let per_thread: u128 = (1..=u128::from(PER_THREAD)).sum::<u128>() * 1000;
    assert_eq!(h.sum(), u128::from(THREADS) * per_thread);
    assert_eq!(h.min(), Some(1000));
    assert_eq!(h.max(), Some(PER_THREAD * 1000));
    // In seconds: 8 × (20,000 × 20,001 / 2) µs = 1,600.08 s.
    assert_eq!(h.config().sum_to_unit(h.sum()), 1_600.08);
}

#[test]
fn gauge_moves_from_many_threads_add_up_to_the_exact_level() {
    let (registry, recorder) = recorder();
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let reader = s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                let snap = registry.snapshot();
                let Some(m) = snap.metrics.get("in_flight").filter(|m| !m.series.is_empty()) else {
                    continue;
                };
                let level = last(&snap, "in_flight", &[]).value;
                // Every level the series holds is a multiple of 0.25 between 0 and the
                // total plus each thread's 0.75 more mid-round; the field holds one of them.
                let top = (THREADS * PER_THREAD) as f64 * 0.75 + THREADS as f64 * 0.75;
                assert!((0.0..=top).contains(&level) && (level * 4.0).fract() == 0.0, "{level}");
                assert_eq!(m.series.len(), 1);
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let recorder = &recorder;
                s.spawn(move || {
                    metrics::with_local_recorder(recorder, || {
                        let g = metrics::gauge!("in_flight");
                        for _ in 0..PER_THREAD {
                            g.increment(1.5);
                            g.decrement(1.0);
                            g.increment(0.25);
                        }
                    })
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap();
    });
    // 0.75 per round, and every partial sum a multiple of 0.25 far below 2^53: each
    // addition is exact in any order, so the level is exactly 8 × 20,000 × 0.75.
    let snap = registry.snapshot();
    assert_eq!(gauge(&snap, "in_flight", &[]), (THREADS * PER_THREAD) as f64 * 0.75);
    assert_eq!(recorder.stats().rejected_values, 0);
}

#[test]
fn concurrent_gauge_sets_leave_the_level_last_stored_once_quiet() {
    let (registry, recorder) = recorder();
    // Each thread's values are its own (t + i / 2^20): the last stored is one of the
    // threads' last values.
    let value = |t: u64, i: u64| t as f64 + i as f64 / f64::from(1 << 20);
    on_every_thread(&recorder, |t| {
        let g = metrics::gauge!("temperature");
        for i in 0..PER_THREAD {
            g.set(value(t, i));
        }
    });
    let quiet = gauge(&registry.snapshot(), "temperature", &[]);
    let finals: Vec<f64> = (0..THREADS).map(|t| value(t, PER_THREAD - 1)).collect();
    assert!(finals.contains(&quiet), "{quiet} is none of the last values {finals:?}");
    // The field is the recorder's level itself: a move from it lands on it exactly.
    metrics::with_local_recorder(&recorder, || metrics::gauge!("temperature").increment(0.5));
    assert_eq!(gauge(&registry.snapshot(), "temperature", &[]), quiet + 0.5);
}

#[test]
fn concurrent_gauge_sets_and_moves_end_at_the_last_set_exactly() {
    let (registry, recorder) = recorder();
    on_every_thread(&recorder, |t| {
        let g = metrics::gauge!("fan_speed");
        for i in 0..PER_THREAD {
            g.set((t * PER_THREAD + i) as f64 * 0.25);
            g.increment(0.25);
        }
    });
    metrics::with_local_recorder(&recorder, || metrics::gauge!("fan_speed").set(41.6));
    // Not rounded: 41.6 as f64.
    assert_eq!(gauge(&registry.snapshot(), "fan_speed", &[]), 41.6);
}

#[test]
fn absolute_counter_values_from_many_threads_reach_the_highest() {
    let (registry, recorder) = recorder();
    on_every_thread(&recorder, |t| {
        let c = metrics::counter!("bytes_read_total");
        // Interleaved, out of order, with decreases.
        for i in 0..PER_THREAD {
            c.absolute((i * THREADS + t) ^ 7);
        }
    });
    let highest = (0..THREADS)
        .flat_map(|t| (0..PER_THREAD).map(move |i| (i * THREADS + t) ^ 7))
        .max()
        .unwrap();
    assert_eq!(counter(&registry.snapshot(), "bytes_read_total", &[]), highest);
}

#[test]
fn racing_first_uses_of_new_series_lose_nothing_and_keep_the_cap() {
    const LIMIT: usize = 50;
    const USERS: u64 = 200;
    let (registry, recorder) = common::recorder_with_limit(LIMIT);
    on_every_thread(&recorder, |t| {
        // Every thread creates the same series in a different order, so that first
        // uses race; past the cap, updates go to the overflow series.
        for i in 0..USERS {
            let user = ((i * 7 + t * 13) % USERS).to_string();
            metrics::counter!("logins_total", "user" => user.clone()).increment(1);
            metrics::histogram!("login_size", "user" => user).record(3.0);
        }
    });
    let snap = registry.snapshot();
    for (metric, field_total) in
        [("logins_total", THREADS * USERS), ("login_size", THREADS * USERS)]
    {
        let m = &snap.metrics[metric];
        assert_eq!(m.series.len(), LIMIT + 1, "{metric}: the cap plus the overflow series");
        let total: u64 = m
            .series
            .iter()
            .map(|s| match s.snapshot.get(metric) {
                Some(tally::Value::Counter(n)) => *n,
                Some(tally::Value::Histogram(h)) => h.count(),
                other => panic!("{other:?}"),
            })
            .sum();
        assert_eq!(total, field_total, "{metric}: every update in some series");
        // Each kept series got one update per thread; the rest went to the overflow series.
        let overflow = m.series.last().unwrap();
        assert_eq!(overflow.labels, [tally::OVERFLOW_LABEL]);
        assert_eq!(m.overflow_redirects, THREADS * (USERS - LIMIT as u64));
    }
    assert_eq!(
        counter(&snap, "logins_total", &[tally::OVERFLOW_LABEL]),
        THREADS * (USERS - LIMIT as u64)
    );
}
