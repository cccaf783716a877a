//! An event is whole or absent: while writers record multi-field events continuously,
//! every snapshot taken concurrently satisfies the invariants each event preserves.
//! Readers run until they have taken their share of snapshots (10^6 in all for
//! `InferenceStats`); writers run until the readers are done.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use tally::{Cache, FieldId, InferenceStats, Outcome, Snapshot, Value};

/// What the readers of one run saw.
#[derive(Debug, Default)]
struct Seen {
    snapshots: u64,
    violations: u64,
    /// Snapshots that differed from the previous one of the same reader: evidence that
    /// the writers really ran while the readers read.
    changes: u64,
}

/// Runs `writers` threads calling `write(w, i)` for i = 0, 1, … until the `readers`
/// threads have each taken `per_reader` snapshots with `snapshot` and checked them with
/// `is_valid`. Returns what the readers saw, summed.
fn writers_against_readers<S: PartialEq>(
    writers: usize,
    readers: usize,
    per_reader: u64,
    write: impl Fn(usize, u64) + Sync,
    snapshot: impl Fn() -> S + Sync,
    is_valid: impl Fn(&S) -> bool + Sync,
) -> Seen {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(writers + readers);
    thread::scope(|s| {
        for w in 0..writers {
            let (stop, start, write) = (&stop, &start, &write);
            s.spawn(move || {
                start.wait();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    write(w, i);
                    i += 1;
                }
            });
        }
        let handles: Vec<_> = (0..readers)
            .map(|_| {
                let (start, snapshot, is_valid) = (&start, &snapshot, &is_valid);
                s.spawn(move || {
                    start.wait();
                    let mut seen = Seen::default();
                    let mut previous = snapshot();
                    for _ in 0..per_reader {
                        let snap = snapshot();
                        seen.snapshots += 1;
                        seen.violations += u64::from(!is_valid(&snap));
                        seen.changes += u64::from(snap != previous);
                        previous = snap;
                    }
                    seen
                })
            })
            .collect();
        let mut total = Seen::default();
        for h in handles {
            let seen = h.join().expect("reader panicked");
            total.snapshots += seen.snapshots;
            total.violations += seen.violations;
            total.changes += seen.changes;
        }
        stop.store(true, Ordering::Relaxed);
        total
    })
}

const WRITERS: usize = 2;

#[test]
fn every_concurrent_snapshot_of_inference_stats_partitions_total_with_rates_in_unit_range() {
    let stats = InferenceStats::new();
    let seen = writers_against_readers(
        WRITERS,
        2,
        500_000,
        |w, i| {
            stats.in_flight().inc();
            stats.record_request(
                Outcome::success_if(!(i + w as u64).is_multiple_of(5)),
                Cache::hit_if(i % 3 == 0),
            );
            stats.in_flight().dec();
        },
        || stats.snapshot(),
        |snap| {
            snap.successful_inferences + snap.failed_inferences == snap.total_inferences
                && snap.cache_hits + snap.cache_misses == snap.total_inferences
                && snap.is_coherent()
                && (0.0..=1.0).contains(&snap.success_rate())
                && (0.0..=1.0).contains(&snap.cache_hit_rate())
                // Each writer's in_flight is 0 or 1 in any prefix of its events.
                && (0..=WRITERS as i64).contains(&snap.in_flight)
        },
    );
    assert_eq!(seen.snapshots, 1_000_000);
    assert_eq!(seen.violations, 0, "{seen:?}");
    assert!(seen.changes > 0, "the writers never ran while the readers read: {seen:?}");
    let last = stats.snapshot();
    assert!(last.is_coherent() && last.in_flight == 0 && last.total_inferences > 0);
}

/// Snapshots for the histogram run: 10^6 in release builds (what CI runs, with
/// `cargo test --release --test coherence`), fewer in debug builds, where each collection
/// of a histogram is much slower.
const HISTOGRAM_SNAPSHOTS: u64 = if cfg!(debug_assertions) { 20_000 } else { 1_000_000 };

#[test]
fn every_concurrent_snapshot_pairs_the_latency_histogram_with_total() {
    let stats = InferenceStats::new();
    let seen = writers_against_readers(
        WRITERS,
        2,
        HISTOGRAM_SNAPSHOTS / 2,
        |w, i| {
            // Latencies over several octaves, so that several bucket pages are in use.
            let latency =
                std::time::Duration::from_nanos((i * 7919 + w as u64 * 104_729) % 50_000_000);
            stats.record_request_with_latency(
                Outcome::success_if(i % 7 != 0),
                Cache::hit_if(i % 2 == 0),
                latency,
            );
        },
        || stats.snapshot(),
        |snap| {
            let h = &snap.latency_ns;
            let in_buckets: u64 = h.buckets().map(|(_, _, c)| c).sum::<u64>() + h.overflow();
            snap.is_coherent()
                && h.count() == snap.total_inferences
                && in_buckets == h.count()
                && (0.0..=1.0).contains(&snap.success_rate())
                && h.quantile(0.99).is_some() == (h.count() > 0)
        },
    );
    assert_eq!(seen.snapshots, HISTOGRAM_SNAPSHOTS);
    assert_eq!(seen.violations, 0, "{seen:?}");
    assert!(seen.changes > 0, "the writers never ran while the readers read: {seen:?}");
    let last = stats.snapshot();
    assert_eq!(last.latency_ns.count(), last.total_inferences);
}

tally::metric_set! {
    /// Seventy counters, so that one event touches words past the 63rd, which the latch
    /// tracks with a single "far" bit rather than one bit per word.
    struct Wide {
        c00: Counter, c01: Counter, c02: Counter, c03: Counter, c04: Counter,
        c05: Counter, c06: Counter, c07: Counter, c08: Counter, c09: Counter,
        c10: Counter, c11: Counter, c12: Counter, c13: Counter, c14: Counter,
        c15: Counter, c16: Counter, c17: Counter, c18: Counter, c19: Counter,
        c20: Counter, c21: Counter, c22: Counter, c23: Counter, c24: Counter,
        c25: Counter, c26: Counter, c27: Counter, c28: Counter, c29: Counter,
        c30: Counter, c31: Counter, c32: Counter, c33: Counter, c34: Counter,
        c35: Counter, c36: Counter, c37: Counter, c38: Counter, c39: Counter,
        c40: Counter, c41: Counter, c42: Counter, c43: Counter, c44: Counter,
        c45: Counter, c46: Counter, c47: Counter, c48: Counter, c49: Counter,
        c50: Counter, c51: Counter, c52: Counter, c53: Counter, c54: Counter,
        c55: Counter, c56: Counter, c57: Counter, c58: Counter, c59: Counter,
        c60: Counter, c61: Counter, c62: Counter, c63: Counter, c64: Counter,
        c65: Counter, c66: Counter, c67: Counter, c68: Counter, c69: Counter,
    }
}

/// The counters of a `Wide` snapshot, in order.
fn wide_counters(snap: &WideSnapshot) -> Vec<u64> {
    snap.values()
        .into_iter()
        .map(|v| match v {
            Value::Counter(c) => c,
            other => panic!("not a counter: {other:?}"),
        })
        .collect()
}

/// The ids of `Wide`'s counters, for recording through the untyped set.
fn wide_ids(set: &Wide) -> Vec<FieldId> {
    (0..70).map(|k| set.raw().field(&format!("c{k:02}")).unwrap()).collect()
}

/// Adds `k + 1` to counter `k` for every `k`, as one event (through the untyped set, so
/// that all seventy words are touched by one closure).
fn record_wide_event(set: &Wide, ids: &[FieldId]) {
    set.raw().record(|e| {
        for (k, id) in ids.iter().enumerate() {
            e.add_counter(*id, k as u64 + 1);
        }
    });
}

#[test]
fn an_event_touching_seventy_words_is_whole_in_every_concurrent_snapshot() {
    assert_eq!(Wide::FIELDS.len(), 70);
    let set = Wide::new();
    let ids = wide_ids(&set);
    let seen = writers_against_readers(
        WRITERS,
        2,
        20_000,
        |_, _| record_wide_event(&set, &ids),
        || set.snapshot(),
        |snap| {
            // Every event added k + 1 to counter k: all counters hold (k + 1) × events.
            let c = wide_counters(snap);
            let events = c[0];
            c.iter().enumerate().all(|(k, &v)| v == (k as u64 + 1) * events)
        },
    );
    assert_eq!(seen.snapshots, 40_000);
    assert_eq!(seen.violations, 0, "{seen:?}");
    assert!(seen.changes > 0, "the writers never ran while the readers read: {seen:?}");
}

#[test]
fn typed_event_on_a_wide_set_updates_far_words_together() {
    // The typed event handles reach the far words too; a reader running alongside never
    // sees c00 and c69 differ.
    let set = Wide::new();
    let seen = writers_against_readers(
        WRITERS,
        1,
        20_000,
        |_, i| {
            set.record(|e| {
                e.c69().add(i % 3 + 1);
                e.c64().add(i % 3 + 1);
                e.c00().add(i % 3 + 1);
            })
        },
        || set.snapshot(),
        |snap| snap.c00 == snap.c69 && snap.c00 == snap.c64 && snap.c63 == 0 && snap.c01 == 0,
    );
    assert_eq!(seen.violations, 0, "{seen:?}");
    assert!(seen.changes > 0, "the writers never ran while the readers read: {seen:?}");
}
