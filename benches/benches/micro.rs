//! Criterion micro-benchmarks of tally's pieces, one group per question:
//!
//! - `record`: one event (the peers bench's event: 3 counters and a latency) through a
//!   bound `InferenceStats`, and through a 2-label `Family` looked up each time;
//! - `collect`: a fresh `snapshot()` of a 16-counter set against its shard count;
//! - `latest`: reading the published epoch (`latest()`, `with_latest`) and a coalesced
//!   `refresh()`;
//! - `family_lookup`: the lookup alone (`with` on an existing series, and `bind`);
//! - `encode_10k`: encoding 10,000 series, tally against `prometheus-client`;
//! - memory per (series × thread), printed first (each figure from a fresh process).
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench micro
//! cargo bench --manifest-path benches/Cargo.toml --bench micro -- --test   # each once (CI)
//! ```

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group};
use tally::epoch::Publisher;
use tally::{Cache, Family, InferenceStats, Outcome};
use tally_benches::{
    Event, MemoryOf, XorShift, labels, memory_child_main, memory_in_child, peer_registry,
    tally_registry,
};
use tally_prometheus::{EncodeOptions, Format};

fn record(c: &mut Criterion) {
    let mut g = c.benchmark_group("record");
    let stats = InferenceStats::new();
    let family = Family::<InferenceStats>::new(&["model", "device"]).expect("valid labels");
    let mut rng = XorShift::for_thread(0);
    g.bench_function("bound", |b| {
        b.iter(|| {
            let e = Event::from_bits(rng.next_u64());
            stats.record_request_with_latency(
                Outcome::success_if(e.success()),
                Cache::hit_if(e.hit()),
                Duration::from_nanos(e.latency_ns),
            );
        })
    });
    g.bench_function("labelled (2 labels looked up)", |b| {
        b.iter(|| {
            let e = Event::from_bits(rng.next_u64());
            family
                .with(&labels(e.series), |s| {
                    s.record_request_with_latency(
                        Outcome::success_if(e.success()),
                        Cache::hit_if(e.hit()),
                        Duration::from_nanos(e.latency_ns),
                    )
                })
                .expect("two values")
        })
    });
    g.finish();
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

/// A set with `shards` shards: as many threads alive at once, each recording once.
fn set_with_shards(shards: usize) -> Sixteen {
    let set = Sixteen::new();
    let together = Barrier::new(shards);
    thread::scope(|s| {
        for _ in 0..shards {
            let (set, together) = (&set, &together);
            s.spawn(move || {
                together.wait();
                set.record(|e| {
                    e.f00().inc();
                    e.f15().inc();
                });
                together.wait();
            });
        }
    });
    set
}

fn collect(c: &mut Criterion) {
    let mut g = c.benchmark_group("collect");
    for shards in [1usize, 4, 16, 64] {
        let set = set_with_shards(shards);
        assert!(set.raw().shard_count() >= shards, "every thread got its own shard");
        g.bench_with_input(BenchmarkId::new("snapshot, 16 counters", shards), &set, |b, set| {
            b.iter(|| black_box(set.snapshot().f00))
        });
    }
    g.finish();
}

fn latest(c: &mut Criterion) {
    let mut g = c.benchmark_group("latest");
    let stats = Arc::new(InferenceStats::new());
    let source = Arc::clone(&stats);
    let publisher = Publisher::builder(move || source.snapshot())
        .min_interval(Duration::from_secs(3600))
        .build();
    stats.record_request(Outcome::Success, Cache::Hit);
    g.bench_function("latest()", |b| {
        b.iter(|| black_box(publisher.latest().snapshot().total_inferences))
    });
    g.bench_function("with_latest(f)", |b| {
        b.iter(|| black_box(publisher.with_latest(|e| e.snapshot().total_inferences)))
    });
    g.bench_function("refresh() within min_interval", |b| {
        b.iter(|| black_box(publisher.refresh().snapshot().total_inferences))
    });
    g.finish();
}

fn family_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("family_lookup");
    let family = Family::<InferenceStats>::new(&["model", "device"]).expect("valid labels");
    for i in 0..8 {
        family.bind(&labels(i)).expect("two values");
    }
    let mut i = 0usize;
    g.bench_function("with (existing series, 2 labels)", |b| {
        b.iter(|| {
            i = (i + 1) & 7;
            family.with(&labels(i), |s| black_box(s as *const InferenceStats)).expect("two values")
        })
    });
    g.bench_function("bind (existing series, 2 labels)", |b| {
        b.iter(|| {
            i = (i + 1) & 7;
            family.bind(&labels(i)).expect("two values")
        })
    });
    g.finish();
}

fn encode_10k(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_10k");
    g.sample_size(10);
    for histogram in [false, true] {
        let workload = if histogram { "counters+gauge+histogram" } else { "counters+gauge" };
        let registry = tally_registry(10_000, histogram);
        let snapshot = registry.snapshot();
        let peer = peer_registry(10_000, histogram);
        let options = EncodeOptions::default();
        let mut out = String::new();
        g.bench_function(BenchmarkId::new("prometheus-client text::encode", workload), |b| {
            b.iter(|| {
                out.clear();
                prometheus_client::encoding::text::encode(&mut out, &peer).expect("to a String");
            })
        });
        g.bench_function(BenchmarkId::new("tally encode OpenMetrics", workload), |b| {
            b.iter(|| {
                out.clear();
                tally_prometheus::encode(&snapshot, Format::OpenMetrics, &options, &mut out);
            })
        });
        g.bench_function(BenchmarkId::new("tally snapshot+encode OpenMetrics", workload), |b| {
            b.iter(|| {
                out.clear();
                let snapshot = registry.snapshot();
                tally_prometheus::encode(&snapshot, Format::OpenMetrics, &options, &mut out);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, record, collect, latest, family_lookup, encode_10k);

fn memory(test: bool) {
    let (series, threads) = if test { (50, vec![1, 2]) } else { (1000, vec![1, 2, 4]) };
    println!("memory per (series × thread), {series} series, each from a fresh process:");
    for (name, of) in
        [("tally", MemoryOf::Tally), ("prometheus-client", MemoryOf::PrometheusClient)]
    {
        for &t in &threads {
            match memory_in_child(of, series, t) {
                Some(b) => println!("  {name:<18} {t} threads: {b:>8.0} bytes"),
                None => println!("  {name:<18} {t} threads: not measured"),
            }
        }
    }
}

fn main() {
    if memory_child_main() {
        return;
    }
    let test = std::env::args().any(|a| a == "--test");
    memory(test);
    benches();
    Criterion::default().configure_from_args().final_summary();
}
