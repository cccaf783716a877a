//! Epochs, families and histograms, measured: what the issues ask of `tally-epoch`, the
//! families and the histogram field kind.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench epochs            # measure (~1 min), print tables
//! cargo bench --manifest-path benches/Cargo.toml --bench epochs -- --test  # each measurement once, tiny (CI)
//! ```
//!
//! Every figure is a median of repeated runs, compared with a baseline taken in the same run.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use tally::epoch::Publisher;
use tally::{Cache, Family, InferenceStats, InferenceStatsSnapshot, Outcome};

fn rng(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Opts {
    test: bool,
    reps: usize,
}

impl Opts {
    fn n(&self, full: u64) -> u64 {
        if self.test { 1_000 } else { full }
    }
    fn reps(&self) -> usize {
        if self.test { 1 } else { self.reps }
    }
}

/// ns per call of `f`, median over repetitions.
fn per_call(o: &Opts, n: u64, mut f: impl FnMut(u64)) -> f64 {
    let n = o.n(n);
    median(
        (0..o.reps())
            .map(|_| {
                let t = Instant::now();
                for i in 0..n {
                    f(i);
                }
                t.elapsed().as_nanos() as f64 / n as f64
            })
            .collect(),
    )
}

fn latest_cost(o: &Opts) {
    let stats = Arc::new(InferenceStats::new());
    let source = Arc::clone(&stats);
    let publisher = Publisher::new(move || source.snapshot());
    stats.record_request(Outcome::Success, Cache::Hit);
    publisher.refresh();
    let latest = per_call(o, 5_000_000, |_| {
        black_box(publisher.latest().snapshot().total_inferences);
    });
    let with_latest = per_call(o, 5_000_000, |_| {
        black_box(publisher.with_latest(|e| e.snapshot().total_inferences));
    });
    let collect = per_call(o, 200_000, |_| {
        black_box(stats.snapshot().total_inferences);
    });
    println!("\n## Reading the published epoch (1 thread)\n");
    println!("| operation | ns/call |\n|:--|--:|");
    println!("| `publisher.latest()` (Arc clone of the epoch) | {latest:.1} |");
    println!("| `publisher.with_latest(f)` (no refcount) | {with_latest:.1} |");
    println!("| `stats.snapshot()` (a fresh collection, 1 shard) | {collect:.1} |");
}

/// Events/s of `writers` threads recording flat out for `dur`, with `readers` threads
/// polling `latest()` flat out and a refresher collecting at most every 1 ms.
fn writers_with_readers(o: &Opts, writers: usize, readers: usize, dur: Duration) -> (f64, u64) {
    let stats = Arc::new(InferenceStats::new());
    let source = Arc::clone(&stats);
    let publisher = Publisher::new(move || source.snapshot());
    let stop = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    let start = Barrier::new(writers + readers + 1);
    let dur = if o.test { Duration::from_millis(20) } else { dur };
    let elapsed = thread::scope(|s| {
        let refresher =
            (readers > 0).then(|| publisher.spawn_refresher(Duration::from_millis(1)).unwrap());
        for _ in 0..readers {
            let (publisher, stop, reads, start) = (&publisher, &stop, &reads, &start);
            s.spawn(move || {
                start.wait();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += publisher.with_latest(|e| black_box(e.snapshot().total_inferences) & 1);
                    n += 1;
                }
                reads.fetch_add(n, Ordering::Relaxed);
            });
        }
        for w in 0..writers as u64 {
            let (stats, stop, start) = (&stats, &stop, &start);
            s.spawn(move || {
                start.wait();
                let mut x = w + 0x9E37_79B9;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..256 {
                        let r = rng(&mut x);
                        stats.record_request(
                            Outcome::success_if(r % 10 != 0),
                            Cache::hit_if(r & 64 != 0),
                        );
                    }
                }
            });
        }
        start.wait();
        let t = Instant::now();
        thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
        let e = t.elapsed();
        drop(refresher);
        e
    });
    let events = stats.snapshot().total_inferences;
    assert!(stats.snapshot().is_coherent());
    (events as f64 / elapsed.as_secs_f64(), reads.load(Ordering::Relaxed))
}

fn readers_slowdown(o: &Opts) {
    println!("\n## Writers with readers polling `latest()` flat out (refresh every 1 ms)\n");
    println!(
        "| writers | readers | alone (M events/s) | with readers (M events/s) | ratio | reads/s |"
    );
    println!("|--:|--:|--:|--:|--:|--:|");
    // 1 writer + 1 reader is one core each on a 2-core machine: it isolates what readers
    // do to writers' caches from what 50 threads do to their share of the CPU.
    for (writers, readers) in [(1, 1), (1, 50), (2, 50)] {
        let mut alone = Vec::new();
        let mut with = Vec::new();
        let mut reads = Vec::new();
        for _ in 0..o.reps().min(5) {
            alone.push(writers_with_readers(o, writers, 0, Duration::from_millis(400)).0);
            let (w, r) = writers_with_readers(o, writers, readers, Duration::from_millis(400));
            with.push(w);
            reads.push(r as f64 / 0.4);
        }
        let (a, w) = (median(alone), median(with));
        println!(
            "| {writers} | {readers} | {:.1} | {:.1} | {:.2} | {:.1} M |",
            a / 1e6,
            w / 1e6,
            w / a,
            median(reads) / 1e6
        );
    }
}

fn labelled_vs_bound(o: &Opts) {
    let family = Family::<InferenceStats>::new(&["model", "device"]).unwrap();
    let models = ["resnet50", "bert-base", "llama-7b", "whisper"];
    let devices = ["gpu0", "gpu1"];
    for m in models {
        for d in devices {
            family.bind(&[m, d]).unwrap();
        }
    }
    let bound = family.bind(&["bert-base", "gpu1"]).unwrap();
    let mut x = 7u64;
    let bound_ns = per_call(o, 10_000_000, |_| {
        let r = rng(&mut x);
        bound.record_request(Outcome::success_if(r % 10 != 0), Cache::hit_if(r & 64 != 0));
    });
    let looked_up_ns = per_call(o, 10_000_000, |i| {
        let r = rng(&mut x);
        let labels = [models[(i & 3) as usize], devices[((i >> 2) & 1) as usize]];
        family
            .with(&labels, |s| {
                s.record_request(Outcome::success_if(r % 10 != 0), Cache::hit_if(r & 64 != 0))
            })
            .unwrap();
    });
    println!("\n## A labelled record: looked up each time vs a bound handle (1 thread)\n");
    println!("| record | ns/event | vs bound |\n|:--|--:|--:|");
    println!("| bound handle (`family.bind(..)` once) | {bound_ns:.1} | 1.00x |");
    println!(
        "| 2 labels looked up each time (`family.with(&[model, device], ..)`) | {looked_up_ns:.1} | {:.2}x |",
        looked_up_ns / bound_ns
    );
}

tally::metric_set! {
    /// Sixteen counters.
    struct Sixteen {
        f00: Counter, f01: Counter, f02: Counter, f03: Counter,
        f04: Counter, f05: Counter, f06: Counter, f07: Counter,
        f08: Counter, f09: Counter, f10: Counter, f11: Counter,
        f12: Counter, f13: Counter, f14: Counter, f15: Counter,
    }
}

fn collection_of_64_shards(o: &Opts) {
    let set = Sixteen::new();
    // 64 threads alive at once, so 64 slots and 64 shards.
    let start = Barrier::new(64);
    thread::scope(|s| {
        for _ in 0..64 {
            let (set, start) = (&set, &start);
            s.spawn(move || {
                start.wait();
                set.record(|e| {
                    e.f00().inc();
                    e.f15().inc();
                });
                start.wait();
            });
        }
    });
    assert_eq!(set.raw().shard_count(), 64);
    let ns = per_call(o, 20_000, |_| {
        black_box(set.snapshot().f00);
    });
    println!("\n## A fresh collection of 64 shards × 16 counters (1 reader, writers idle)\n");
    println!("| collection | µs | ns per shard |\n|:--|--:|--:|");
    println!("| `set.snapshot()` | {:.2} | {:.1} |", ns / 1e3, ns / 64.0);
}

fn histogram_overhead(o: &Opts) {
    let stats = InferenceStats::new();
    let mut x = 11u64;
    let mut without = Vec::new();
    let mut with = Vec::new();
    for _ in 0..o.reps() {
        let oo = Opts { test: o.test, reps: 1 };
        without.push(per_call(&oo, 10_000_000, |_| {
            let r = rng(&mut x);
            stats.record_request(Outcome::success_if(r % 10 != 0), Cache::hit_if(r & 64 != 0));
        }));
        with.push(per_call(&oo, 10_000_000, |_| {
            let r = rng(&mut x);
            // Latencies of 100 µs .. ~10 ms in ns, as an inference service sees them.
            let latency = Duration::from_nanos(100_000 + (r & 0x7F_FFFF));
            stats.record_request_with_latency(
                Outcome::success_if(r % 10 != 0),
                Cache::hit_if(r & 64 != 0),
                latency,
            );
        }));
    }
    let (a, b) = (median(without), median(with));
    println!("\n## The cost of a latency histogram in the event (1 thread)\n");
    println!("| event | ns/event |\n|:--|--:|");
    println!("| total, outcome, cache result (`record_inference`) | {a:.2} |");
    println!("| the same plus a latency (`record_inference_with_latency`) | {b:.2} |");
    println!("| difference | {:+.2} |", b - a);
    let snap: InferenceStatsSnapshot = stats.snapshot();
    assert_eq!(
        snap.latency_ns.count() + (snap.total_inferences - snap.latency_ns.count()),
        snap.total_inferences
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = Opts {
        test: args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench"),
        reps: 7,
    };
    if o.test {
        println!("epochs --test: one tiny run of each measurement");
    } else {
        println!(
            "# tally epochs, families, histograms ({} CPUs)",
            thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    latest_cost(&o);
    labelled_vs_bound(&o);
    histogram_overhead(&o);
    collection_of_64_shards(&o);
    readers_slowdown(&o);
}
