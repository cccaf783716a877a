//! The histogram field kind on the write path: every value counted once, in the same event
//! as its paired counter, dropped with it when the closure panics, and coherent under
//! concurrent snapshots.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use tally_core::{HistogramConfig, HistogramSnapshot};

const SMALL: HistogramConfig = match HistogramConfig::new(3, 1 << 20) {
    Ok(c) => c,
    Err(_) => panic!("valid config"),
};

tally_core::metric_set! {
    /// Requests and their latency.
    pub struct Timed {
        /// Requests.
        requests: Counter,
        /// Latency in nanoseconds (default configuration).
        latency: Histogram,
        /// Sizes in bytes (a small configuration: many pages touched, overflow reachable).
        size: Histogram(SMALL),
    }
}

fn model(values: &[u64], config: HistogramConfig) -> HistogramSnapshot {
    HistogramSnapshot::from_values(config, values.iter().copied()).unwrap()
}

#[test]
fn recorded_values_match_a_sequential_model_including_edges_and_overflow() {
    let set = Timed::new();
    let values = [0, 1, 2, 31, 32, 33, 1_000, 65_535, 1 << 20, (1 << 20) + 1, u64::MAX, 7, 7, 7];
    for &v in &values {
        set.record(|e| {
            e.requests().inc();
            e.latency().record(v);
            e.size().record(v);
        });
    }
    let snap = set.snapshot();
    assert_eq!(snap.requests, values.len() as u64);
    assert_eq!(snap.latency, model(&values, HistogramConfig::DEFAULT));
    assert_eq!(snap.size, model(&values, SMALL));
    assert_eq!(snap.size.min(), Some(0));
    assert_eq!(snap.size.max(), Some(u64::MAX));
    assert_eq!(snap.size.sum(), values.iter().map(|&v| u128::from(v)).sum::<u128>());
}

#[test]
fn several_buckets_in_one_event_are_all_kept() {
    let set = Timed::new();
    set.record(|e| {
        for v in [1u64, 100, 10_000, 1_000_000, 5, 100] {
            e.size().record(v);
        }
        e.requests().add(6);
    });
    let snap = set.snapshot();
    assert_eq!(snap.size, model(&[1, 100, 10_000, 1_000_000, 5, 100], SMALL));
    // And the second copy caught up: another event after it sees the same buckets.
    set.requests().inc();
    assert_eq!(set.snapshot().size, snap.size);
}

#[test]
fn a_panicking_event_leaves_no_histogram_trace() {
    let set = Timed::new();
    set.record(|e| {
        e.requests().inc();
        e.latency().record(500);
    });
    let before = set.snapshot();
    let r = catch_unwind(AssertUnwindSafe(|| {
        set.record(|e| {
            e.requests().inc();
            e.latency().record(9_999_999);
            e.size().record(3);
            e.size().record(300_000);
            panic!("inference failed mid-record");
        })
    }));
    assert!(r.is_err());
    assert_eq!(set.snapshot(), before);
    set.record(|e| {
        e.requests().inc();
        e.latency().record(700);
    });
    let after = set.snapshot();
    assert_eq!(after.requests, 2);
    assert_eq!(after.latency, model(&[500, 700], HistogramConfig::DEFAULT));
}

#[test]
fn a_nested_record_with_histograms_joins_the_outer_event() {
    let set = Timed::new();
    set.record(|e| {
        e.requests().inc();
        set.record(|inner| {
            inner.size().record(10);
            inner.size().record(100_000);
        });
        e.size().record(20);
    });
    let snap = set.snapshot();
    assert_eq!(snap.size, model(&[10, 100_000, 20], SMALL));
    // Copy 1 caught up with the nested buckets too.
    set.requests().inc();
    assert_eq!(set.snapshot().size, snap.size);
}

#[test]
fn histogram_count_equals_its_paired_counter_in_every_concurrent_snapshot() {
    let set = Timed::new();
    let stop = AtomicBool::new(false);
    // The writers start once the reader has: at a few ns per event they would otherwise
    // be done before the reader's first snapshot.
    let reading = AtomicBool::new(false);
    let per_writer = 200_000u64;
    let (snapshots, violations) = thread::scope(|s| {
        for w in 0..2u64 {
            let (set, reading) = (&set, &reading);
            s.spawn(move || {
                while !reading.load(Ordering::Relaxed) {
                    thread::yield_now();
                }
                let mut x = w + 1;
                for _ in 0..per_writer {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    set.record(|e| {
                        e.requests().inc();
                        e.latency().record(x % 50_000_000);
                        e.size().record(x % 3_000_000);
                    });
                }
            });
        }
        let reader = s.spawn(|| {
            let (mut n, mut bad, mut last) = (0u64, 0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let snap = set.snapshot();
                reading.store(true, Ordering::Relaxed);
                n += 1;
                let bucket_total: u64 =
                    snap.size.buckets().map(|(_, _, c)| c).sum::<u64>() + snap.size.overflow();
                if snap.latency.count() != snap.requests
                    || snap.size.count() != snap.requests
                    || bucket_total != snap.requests
                    || snap.requests < last
                {
                    bad += 1;
                }
                last = snap.requests;
            }
            (n, bad)
        });
        while set.snapshot().requests < 2 * per_writer {
            thread::yield_now();
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(snapshots > 0);
    assert_eq!(violations, 0, "{violations} of {snapshots} snapshots were torn");
    assert_eq!(set.snapshot().latency.count(), 2 * per_writer);
}
