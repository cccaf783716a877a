//! The cost of recording, measured in the same run: bursts of records on one thread
//! against an empty loop over the same inputs; the difference per event is the cost.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde::Serialize;
use tally::{Cache, InferenceStats, Outcome};

use crate::service::finish_request;

/// How long a burst of records should take: long enough to dwarf the clock's resolution
/// and a context switch or two, short enough to repeat (and to keep debug builds quick).
const BURST: Duration = Duration::from_millis(4);
/// Events per burst, at least and at most.
const EVENTS: (u64, u64) = (10_000, 2_000_000);
/// Bursts of each kind; the fastest counts (the least disturbed by other threads).
const ROUNDS: usize = 7;

/// What recording costs one thread, uncontended.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RecordCost {
    /// Events per burst.
    pub events_per_burst: u64,
    /// The empty loop, per iteration (ns).
    pub baseline_ns: f64,
    /// One `record_request_with_latency` (five counters and a histogram, one event),
    /// minus the baseline (ns).
    pub event_ns: f64,
    /// What the demo records per request (the in-flight start, the model's event, the
    /// overall event with the in-flight end: three events), minus the baseline (ns).
    pub request_ns: f64,
}

/// Measures on the calling thread, into sets of its own.
pub fn measure() -> RecordCost {
    let overall = InferenceStats::new();
    let model = InferenceStats::new();
    let input =
        |i: u64| (!i.is_multiple_of(31), i % 5 < 3, Duration::from_nanos(2_000 + (i & 4095)));
    // Calibrate: enough events for a burst of about `BURST`.
    let probe = timed(|| {
        for i in 0..EVENTS.0 {
            let (ok, hit, latency) = input(black_box(i));
            overall.record_request_with_latency(
                Outcome::success_if(ok),
                Cache::hit_if(hit),
                latency,
            );
        }
    });
    let events = (EVENTS.0 as f64 * BURST.as_secs_f64() / probe.as_secs_f64().max(1e-9)) as u64;
    let events = events.clamp(EVENTS.0, EVENTS.1);

    let empty = || {
        timed(|| {
            for i in 0..events {
                black_box(input(black_box(i)));
            }
        })
    };
    let event = || {
        timed(|| {
            for i in 0..events {
                let (ok, hit, latency) = input(black_box(i));
                overall.record_request_with_latency(
                    Outcome::success_if(ok),
                    Cache::hit_if(hit),
                    latency,
                );
            }
        })
    };
    let request = || {
        timed(|| {
            for i in 0..events {
                let (ok, hit, latency) = input(black_box(i));
                overall.record(|e| e.in_flight().inc());
                model.record_request_with_latency(
                    Outcome::success_if(ok),
                    Cache::hit_if(hit),
                    latency,
                );
                finish_request(&overall, ok, hit, latency);
            }
        })
    };
    // Interleaved, so that a disturbance hits all three alike; a first pass warms up.
    let (mut base, mut one, mut three) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        base = base.min(empty());
        one = one.min(event());
        three = three.min(request());
    }
    let per = |d: Duration| d.as_nanos() as f64 / events as f64;
    RecordCost {
        events_per_burst: events,
        baseline_ns: per(base),
        event_ns: (per(one) - per(base)).max(0.0),
        request_ns: (per(three) - per(base)).max(0.0),
    }
}

fn timed(f: impl Fn()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}
