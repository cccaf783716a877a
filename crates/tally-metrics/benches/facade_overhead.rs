//! What the `metrics` facade costs over recording into tally directly: nanoseconds per
//! update on one thread (best of several runs), and the ratio to the direct tally record of
//! the same kind in the same run. Rows:
//!
//! - **bound handle**: `let c = counter!(…)` once, then `c.increment(1)` in the loop: one
//!   tally record through the handle's dynamic call;
//! - **macro per call**: `counter!("…", "route" => "a").increment(1)` in the loop: a
//!   registration (two lock-free lookups and an `Arc` clone) per update;
//! - **dynamic label**: as above with a label value built at run time (`String`), which
//!   `metrics` turns into an owned key per call.
//!
//! `cargo bench -p tally-metrics --bench facade_overhead`; add `-- --test` for a quick run
//! with tiny counts (CI).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use tally_metrics::TallyRecorder;

tally::metric_set! {
    /// The baseline: the same kinds, recorded directly.
    struct Direct {
        /// A counter.
        requests: Counter,
        /// A gauge.
        level: Gauge,
        /// A histogram in nanoseconds.
        latency_ns: Histogram,
    }
}

struct Run {
    iterations: u64,
    repeats: u32,
}

impl Run {
    /// Best-of-`repeats` nanoseconds per call of `update`.
    fn ns(&self, mut update: impl FnMut(u64)) -> f64 {
        for i in 0..self.iterations / 10 {
            update(i);
        }
        (0..self.repeats)
            .map(|_| {
                let start = Instant::now();
                for i in 0..self.iterations {
                    update(i);
                }
                start.elapsed().as_nanos() as f64 / self.iterations as f64
            })
            .fold(f64::INFINITY, f64::min)
    }

    fn row(&self, name: &str, baseline: f64, update: impl FnMut(u64)) {
        let ns = self.ns(update);
        println!("| {name:<34} | {ns:>7.1} | {:>5.1}× |", ns / baseline);
    }
}

fn main() {
    let test = std::env::args().any(|a| a == "--test");
    let run = if test {
        Run { iterations: 1_000, repeats: 1 }
    } else {
        Run { iterations: 5_000_000, repeats: 5 }
    };
    let registry = Arc::new(tally::Registry::new());
    let recorder = TallyRecorder::builder().registry(registry.clone()).build().expect("fresh");
    let direct = Direct::new();
    let _guard = metrics::set_default_local_recorder(&recorder);

    println!("\ntally-metrics: ns per update on one thread, ratio to direct tally\n");
    println!("| update                             |      ns | ratio |");
    println!("|------------------------------------|--------:|------:|");

    let base = run.ns(|_| black_box(&direct).requests().inc());
    println!("| {:<34} | {base:>7.1} | {:>5.1}× |", "counter: tally `inc()` (baseline)", 1.0);
    let bound = metrics::counter!("requests_total", "route" => "a");
    run.row("counter: bound handle", base, |_| black_box(&bound).increment(1));
    run.row("counter: `counter!` per call", base, |_| {
        metrics::counter!("requests_total", "route" => "a").increment(1)
    });
    let routes: Vec<String> = (0..8).map(|i| format!("route{i}")).collect();
    run.row("counter: `counter!` dynamic label", base, |i| {
        metrics::counter!("requests_total", "route" => routes[(i % 8) as usize].clone())
            .increment(1)
    });

    let base = run.ns(|i| black_box(&direct).level().add(if i % 2 == 0 { 1 } else { -1 }));
    println!("| {:<34} | {base:>7.1} | {:>5.1}× |", "gauge: tally `add()` (baseline)", 1.0);
    let gauge = metrics::gauge!("level");
    run.row("gauge: bound `increment`", base, |i| {
        black_box(&gauge).increment(if i % 2 == 0 { 1.0 } else { -1.0 })
    });
    run.row("gauge: bound `set`", base, |i| black_box(&gauge).set((i % 64) as f64));

    let base = run.ns(|i| black_box(&direct).latency_ns().record(1_000 + (i % 4096) * 1_000));
    println!("| {:<34} | {base:>7.1} | {:>5.1}× |", "histogram: tally `record()` (baseline)", 1.0);
    let histogram = metrics::histogram!("latency_seconds");
    run.row("histogram: bound `record` (seconds)", base, |i| {
        black_box(&histogram).record((1_000 + (i % 4096) * 1_000) as f64 * 1e-9)
    });

    // The counts are exact (the benchmark is also a check).
    let snap = registry.snapshot();
    let total: u64 = snap.metrics["requests_total"]
        .series
        .iter()
        .map(|s| match s.snapshot.get("requests_total") {
            Some(tally::Value::Counter(n)) => *n,
            other => panic!("{other:?}"),
        })
        .sum();
    let per_row = run.iterations / 10 + run.iterations * u64::from(run.repeats);
    assert_eq!(total, 3 * per_row, "every facade increment is counted");
    assert_eq!(recorder.stats(), Default::default(), "nothing rejected");
}
