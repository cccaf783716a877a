//! No update is lost: T threads (1 to 16, so oversubscribed on a small machine) each
//! record N events, all started together by a barrier, and the final snapshot holds exactly
//! the sum of what they recorded. More than 10^7 events are recorded across this file.

use std::sync::Barrier;
use std::thread;

use tally::{Cache, InferenceStats, Outcome};

/// Thread counts to try: from one thread to well past the number of cores.
const THREADS: [u64; 5] = [1, 2, 4, 8, 16];

/// Events recorded per thread count, spread over the threads (so 5 × 10^6 per test).
const EVENTS_PER_RUN: u64 = 1_000_000;

/// Whether request `i` of thread `t` succeeded / hit the cache: a fixed, uneven pattern
/// that gives each thread a different mix.
fn outcome(t: u64, i: u64) -> (bool, bool) {
    (!(i * 7 + t).is_multiple_of(10), (i + t).is_multiple_of(3))
}

/// Runs `threads` threads, released together by a barrier, each calling `body(t)`.
fn run_together(threads: u64, body: impl Fn(u64) + Sync) {
    let barrier = Barrier::new(threads as usize);
    thread::scope(|s| {
        for t in 0..threads {
            let (barrier, body) = (&barrier, &body);
            s.spawn(move || {
                barrier.wait();
                body(t);
            });
        }
    });
}

#[test]
fn record_inference_totals_are_exact_for_1_to_16_threads() {
    for threads in THREADS {
        let per_thread = EVENTS_PER_RUN / threads;
        let stats = InferenceStats::new();
        run_together(threads, |t| {
            for i in 0..per_thread {
                let (success, hit) = outcome(t, i);
                stats.record_request(Outcome::success_if(success), Cache::hit_if(hit));
            }
        });

        let (mut ok, mut hits) = (0, 0);
        for t in 0..threads {
            for i in 0..per_thread {
                let (success, hit) = outcome(t, i);
                ok += u64::from(success);
                hits += u64::from(hit);
            }
        }
        let total = per_thread * threads;
        let snap = stats.snapshot();
        assert_eq!(snap.total_inferences, total, "{threads} threads");
        assert_eq!(snap.successful_inferences, ok, "{threads} threads");
        assert_eq!(snap.failed_inferences, total - ok, "{threads} threads");
        assert_eq!(snap.cache_hits, hits, "{threads} threads");
        assert_eq!(snap.cache_misses, total - hits, "{threads} threads");
        assert_eq!(snap.in_flight, 0, "{threads} threads");
        // Each recording thread holds one slot for its whole life, so the set has at most
        // one shard per thread that recorded into it.
        let shards = stats.raw().shard_count();
        assert!((1..=threads as usize).contains(&shards), "{shards} shards for {threads} threads");
    }
}

tally::metric_set! {
    /// A request-serving set with a summed gauge and fields updated on their own.
    struct Served {
        /// Requests handled.
        requests: Counter,
        /// Bytes sent (several per request).
        bytes: Counter,
        /// Requests that ended in an error (a single-field event of its own).
        errors: Counter,
        /// Requests in progress: incremented on entry, decremented on exit.
        in_flight: Gauge,
        /// A gauge moved by signed amounts that cancel out per thread.
        balance: Gauge,
    }
}

#[test]
fn custom_set_totals_are_exact_and_in_flight_gauge_returns_to_zero() {
    for threads in THREADS {
        let per_thread = EVENTS_PER_RUN / threads;
        let set = Served::new();
        run_together(threads, |t| {
            for i in 0..per_thread {
                // Single-field events, bracketing a multi-field one.
                set.in_flight().inc();
                set.record(|e| {
                    e.requests().inc();
                    e.bytes().add(i % 7 + 1);
                    e.balance().add(if (i + t) % 2 == 0 { 5 } else { -5 });
                });
                if i % 13 == 0 {
                    set.errors().inc();
                }
                set.in_flight().dec();
            }
            // Leaves `balance` at 0 for this thread whatever the parity of per_thread.
            if per_thread % 2 == 1 {
                set.balance().sub(if t % 2 == 0 { 5 } else { -5 });
            }
        });

        let bytes_per_thread: u64 = (0..per_thread).map(|i| i % 7 + 1).sum();
        let errors_per_thread = per_thread.div_ceil(13);
        let snap = set.snapshot();
        assert_eq!(snap.requests, per_thread * threads, "{threads} threads");
        assert_eq!(snap.bytes, bytes_per_thread * threads, "{threads} threads");
        assert_eq!(snap.errors, errors_per_thread * threads, "{threads} threads");
        assert_eq!(snap.in_flight, 0, "{threads} threads");
        assert_eq!(snap.balance, 0, "{threads} threads");
    }
}

#[test]
fn gauge_sums_signed_updates_exactly_across_threads() {
    let threads = 8;
    let per_thread: i64 = 50_000;
    let set = Served::new();
    run_together(threads, |t| {
        let t = t as i64;
        for i in 0..per_thread {
            // Net per thread: +t per iteration on `in_flight`, going through negatives.
            set.in_flight().add(-(i % 5) - 1);
            set.in_flight().add((i % 5) + 1 + t);
        }
    });
    let expected: i64 = (0..threads as i64).map(|t| t * per_thread).sum();
    assert_eq!(set.snapshot().in_flight, expected);
}
