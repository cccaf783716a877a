//! What a reader does to a writer, and how long a collection takes against hot writers.
//!
//! ```text
//! cargo run --release --manifest-path benches/Cargo.toml --bin interference
//! cargo run --release --manifest-path benches/Cargo.toml --bin interference -- --seconds 1
//! ```
//!
//! 1. One writer records `InferenceStats` events with latencies flat out (one set, so one
//!    hot shard); alone, then with a reader taking a snapshot every millisecond, then with
//!    a reader snapshotting flat out. Prints the writer's rate in each case, its slowdown
//!    against the alone run, and the reader's snapshots per second and their duration
//!    (median and p99, from timing each one).
//! 2. Two writers record into a family of 10,000 series (every event into the next series,
//!    round robin) while the main thread collects the registry: the duration of each
//!    collection (median, p99, max).
//!
//! Runs are interleaved (alone, 1 kHz, flat out, repeated) and each figure is the median
//! over repetitions. Wall-clock figures on a shared machine swing with its load: the load
//! average is printed with them.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tally::{Cache, Family, InferenceStats, Outcome, Registry};
use tally_benches::{Event, XorShift};

/// The benchmark's event: an inference with its outcome, cache result and latency.
#[inline(always)]
fn record(stats: &InferenceStats, e: Event) {
    stats.record_request_with_latency(
        Outcome::success_if(e.success()),
        Cache::hit_if(e.hit()),
        Duration::from_nanos(e.latency_ns),
    );
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reader {
    None,
    /// A reader thread that wakes every millisecond and takes no snapshot: what the
    /// wake-ups alone cost the writer (the 1 kHz row's reference).
    Wake1ms,
    Every1ms,
    FlatOut,
}

/// One run: the writer's events per second and the reader's snapshot durations.
fn run(reader: Reader, seconds: f64) -> (f64, Vec<Duration>) {
    let stats = Arc::new(InferenceStats::new());
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stats, stop, events) = (stats.clone(), stop.clone(), events.clone());
        thread::spawn(move || {
            let mut rng = XorShift::for_thread(0);
            let mut n = 0u64;
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..256 {
                    let e = Event::from_bits(rng.next_u64());
                    record(&stats, e);
                }
                n += 256;
            }
            events.store(n, Ordering::Relaxed);
            start.elapsed()
        })
    };
    let mut durations = Vec::new();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline {
        match reader {
            Reader::None => thread::sleep(Duration::from_millis(10)),
            Reader::Wake1ms => thread::sleep(Duration::from_millis(1)),
            Reader::Every1ms | Reader::FlatOut => {
                let t = Instant::now();
                let snap = stats.snapshot();
                durations.push(t.elapsed());
                assert!(snap.is_coherent(), "torn snapshot: {snap:?}");
                black_box(snap);
                if reader == Reader::Every1ms {
                    thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = writer.join().expect("writer");
    (events.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(), durations)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Collections of a 10,000-series family while two threads record into it.
fn family_collections(seconds: f64, quiet_runs: usize) -> Vec<Duration> {
    const SERIES: usize = 10_000;
    let registry = Arc::new(Registry::new());
    let family: Arc<Family<InferenceStats>> = registry
        .metric("requests")
        .help("Requests by shard.")
        .cardinality_limit(2 * SERIES)
        .family(&["shard"])
        .expect("family");
    let labels: Vec<String> = (0..SERIES).map(|i| format!("s{i}")).collect();
    let handles: Arc<Vec<Arc<InferenceStats>>> =
        Arc::new(labels.iter().map(|l| family.bind(&[l]).expect("series")).collect());
    // Every series recorded into from both threads' shards before timing, with the hot
    // phase's events (so the same histogram pages are allocated): what collection costs
    // without writers, for comparison.
    thread::scope(|s| {
        for t in 0..2 {
            let handles = &handles;
            s.spawn(move || {
                let mut rng = XorShift::for_thread(t);
                for _ in 0..64 {
                    handles.iter().for_each(|h| record(h, Event::from_bits(rng.next_u64())));
                }
            });
        }
    });
    let quiet: Vec<Duration> = (0..quiet_runs)
        .map(|_| {
            let t = Instant::now();
            black_box(registry.snapshot());
            t.elapsed()
        })
        .collect();
    let mut quiet = quiet;
    println!(
        "10,000-series family, no writer running: {} collections, p50 {:.1} ms, min {:.1} ms, max {:.1} ms",
        quiet.len(),
        quantile(&mut quiet, 0.5).as_secs_f64() * 1e3,
        quantile(&mut quiet, 0.0).as_secs_f64() * 1e3,
        quantile(&mut quiet, 1.0).as_secs_f64() * 1e3
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let (handles, stop) = (handles.clone(), stop.clone());
            thread::spawn(move || {
                let mut rng = XorShift::for_thread(t);
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..256 {
                        let e = Event::from_bits(rng.next_u64());
                        record(&handles[i % SERIES], e);
                        i += 1;
                    }
                }
            })
        })
        .collect();
    let mut durations = Vec::new();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    while durations.is_empty() || Instant::now() < deadline {
        let t = Instant::now();
        black_box(registry.snapshot());
        durations.push(t.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    writers.into_iter().for_each(|w| w.join().expect("writer"));
    durations
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let reps = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(3usize);
    println!("load average before: {}", load_average());
    let modes = [Reader::None, Reader::Wake1ms, Reader::Every1ms, Reader::FlatOut];
    let mut rates = [vec![], vec![], vec![], vec![]];
    let mut snaps: [Vec<Duration>; 4] = [vec![], vec![], vec![], vec![]];
    let mut counts = [vec![], vec![], vec![], vec![]];
    for _ in 0..reps {
        for (m, mode) in modes.iter().enumerate() {
            let (rate, d) = run(*mode, seconds);
            rates[m].push(rate);
            counts[m].push(d.len() as f64 / seconds);
            snaps[m].extend(d);
        }
    }
    let alone = median(&mut rates[0]);
    println!();
    println!(
        "| reader | writer events/s | writer slowdown | snapshots/s | snapshot p50 | snapshot p99 |"
    );
    println!("|---|--:|--:|--:|--:|--:|");
    for (m, mode) in modes.iter().enumerate() {
        let rate = median(&mut rates[m]);
        let slowdown = (1.0 - rate / alone) * 100.0;
        let per_s = median(&mut counts[m]);
        let (p50, p99) = (quantile(&mut snaps[m], 0.5), quantile(&mut snaps[m], 0.99));
        let name = match mode {
            Reader::None => "none",
            Reader::Wake1ms => "(reference) wakes every 1 ms, no snapshot",
            Reader::Every1ms => "every 1 ms",
            Reader::FlatOut => "flat out",
        };
        println!(
            "| {name} | {:.1} M | {slowdown:.1}% | {per_s:.0} | {:.2} µs | {:.2} µs |",
            rate / 1e6,
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
    // The same snapshot with no writer running: what reading and building it costs alone.
    let stats = InferenceStats::new();
    let mut rng = XorShift::for_thread(0);
    for _ in 0..1_000_000 {
        let e = Event::from_bits(rng.next_u64());
        record(&stats, e);
    }
    let mut idle: Vec<Duration> = (0..10_000)
        .map(|_| {
            let t = Instant::now();
            black_box(stats.snapshot());
            t.elapsed()
        })
        .collect();
    println!(
        "(reference) the same snapshot, no writer running: p50 {:.2} µs, p99 {:.2} µs",
        quantile(&mut idle, 0.5).as_secs_f64() * 1e6,
        quantile(&mut idle, 0.99).as_secs_f64() * 1e6
    );
    let quiet_runs = args
        .iter()
        .position(|a| a == "--quiet-collections")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5usize);
    let mut fam = family_collections(seconds, quiet_runs);
    println!();
    println!(
        "10,000-series family, 2 hot writers: {} collections, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        fam.len(),
        quantile(&mut fam, 0.5).as_secs_f64() * 1e3,
        quantile(&mut fam, 0.99).as_secs_f64() * 1e3,
        quantile(&mut fam, 1.0).as_secs_f64() * 1e3
    );
    println!("load average after: {}", load_average());
}
