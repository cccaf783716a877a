//! Several worker threads record inference events while a reader checks live snapshots;
//! prints a coherent summary. Run with `cargo run --release -p tallyx --example inference`.
//! The smallest version of the main job (`cargo run --release -p tally-demo`), in one file
//! with no dependency but tally.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tally::{Cache, InferenceStats, Outcome};

fn main() {
    let workers = thread::available_parallelism().map_or(2, |n| n.get()).max(2);
    let per_worker: u64 = 2_000_000;
    let stats = InferenceStats::new();
    let done = AtomicBool::new(false);
    let start = Instant::now();

    let (snapshots, violations) = thread::scope(|s| {
        let reader = s.spawn(|| {
            let (mut taken, mut bad, mut last_total) = (0u64, 0u64, 0u64);
            while !done.load(Ordering::Relaxed) {
                let snap = stats.snapshot();
                taken += 1;
                let rates_ok = (0.0..=1.0).contains(&snap.success_rate())
                    && (0.0..=1.0).contains(&snap.cache_hit_rate());
                if !snap.is_coherent() || !rates_ok || snap.total_inferences < last_total {
                    bad += 1;
                }
                last_total = snap.total_inferences;
                thread::sleep(Duration::from_micros(200));
            }
            (taken, bad)
        });
        let handles: Vec<_> = (0..workers as u64)
            .map(|w| {
                let stats = &stats;
                s.spawn(move || {
                    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (w + 1);
                    for _ in 0..per_worker {
                        // xorshift: a cheap per-thread random outcome.
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        stats.record_request(
                            Outcome::success_if(x % 100 >= 3),
                            Cache::hit_if(x % 10 < 6),
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("worker panicked");
        }
        done.store(true, Ordering::Relaxed);
        reader.join().expect("reader panicked")
    });

    let elapsed = start.elapsed();
    let snap = stats.snapshot();
    let expected = workers as u64 * per_worker;
    println!("tally example: {workers} workers × {per_worker} events, 1 live reader");
    println!("  total_inferences       {:>12}  (expected {expected})", snap.total_inferences);
    println!(
        "  successful / failed    {:>12} / {}",
        snap.successful_inferences, snap.failed_inferences
    );
    println!("  cache hits / misses    {:>12} / {}", snap.cache_hits, snap.cache_misses);
    println!("  success rate           {:>12.4}", snap.success_rate());
    println!("  cache hit rate         {:>12.4}", snap.cache_hit_rate());
    println!("  live snapshots taken   {snapshots:>12}, invariant violations: {violations}");
    println!(
        "  throughput             {:>12.1} M events/s ({:.1} ns/event/thread)",
        expected as f64 / elapsed.as_secs_f64() / 1e6,
        elapsed.as_nanos() as f64 * workers as f64 / expected as f64
    );
    println!("  shards                 {:>12}", stats.raw().shard_count());
    if snap.total_inferences != expected || violations != 0 || !snap.is_coherent() {
        eprintln!("FAILED: lost counts or broken invariants");
        std::process::exit(1);
    }
}
