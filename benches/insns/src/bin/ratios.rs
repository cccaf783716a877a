//! Time per event of tally's write path against its floors, the cases interleaved:
//! the ratios issue 18 asks for (`docs/PERFORMANCE.md`, "The write path").
//!
//! ```text
//! cargo run --release --manifest-path benches/Cargo.toml -p tally-insns --bin ratios
//! cargo run --release --manifest-path benches/Cargo.toml -p tally-insns --bin ratios -- --reps 21 --events 20000000
//! ```
//!
//! The same case functions as the instruction counts (`cases.rs`): for 1 and 2 threads,
//! each repetition runs every case once, in rotating order, each thread recording
//! `--events` events from a barrier (into one shared set for tally's cases); a case's time
//! is the wall time from the barrier to the last thread's end. Reported: ns per event per
//! thread (median) and, per repetition, tally's time over its floor's, as median (min–max):
//! the inference event with latency over the floor with tally's bucket index, and the
//! counters-only event over the counters-only floor. Wall-clock figures on a shared machine
//! swing with its load: the load average is printed with them.

// Shared with `insns`, which uses all of it.
#[allow(dead_code)]
#[path = "../cases.rs"]
mod cases;

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Cases timed, and the pairs whose ratio is reported.
const CASES: [&str; 7] = [
    "floor",
    "floor_tally_index",
    "inference_latency",
    "sketch_latency",
    "floor_counters",
    "inference_counters",
    "sketch_counters",
];
/// (case, its floor, the target ratio; `None` for a reference row).
const PAIRS: [(&str, &str, Option<f64>); 4] = [
    ("inference_latency", "floor_tally_index", Some(1.3)),
    ("sketch_latency", "floor_tally_index", None),
    ("inference_counters", "floor_counters", Some(1.1)),
    ("sketch_counters", "floor_counters", None),
];

fn time(sets: &cases::Sets, case: &str, threads: usize, events: u64) -> Duration {
    let barrier = Barrier::new(threads);
    let start = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let barrier = &barrier;
                s.spawn(move || {
                    sets.warm_this_thread();
                    barrier.wait();
                    let start = Instant::now();
                    cases::dispatch(sets, case, events, false).expect("a known case");
                    (start, Instant::now())
                })
            })
            .collect();
        let spans: Vec<_> = handles.into_iter().map(|h| h.join().expect("case thread")).collect();
        let first = spans.iter().map(|s| s.0).min().expect("a thread");
        let last = spans.iter().map(|s| s.1).max().expect("a thread");
        last - first
    });
    sets.read();
    start
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reps: usize = arg(&args, "--reps", 11);
    let events: u64 = arg(&args, "--events", 10_000_000);
    println!("load average before: {}", load_average());
    println!();
    println!("| threads | case | ns/event (median) |");
    println!("|--:|---|--:|");
    let mut ratio_rows = Vec::new();
    for threads in [1, 2] {
        let sets = cases::Sets::warm();
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); CASES.len()];
        for rep in 0..reps {
            for k in 0..CASES.len() {
                let i = (k + rep) % CASES.len();
                let t = time(&sets, CASES[i], threads, events);
                times[i].push(t.as_secs_f64() * 1e9 / events as f64);
            }
        }
        for (case, t) in CASES.iter().zip(&times) {
            let mut t = t.clone();
            t.sort_by(f64::total_cmp);
            println!("| {threads} | `{case}` | {:.2} |", t[t.len() / 2]);
        }
        for (tally, floor, target) in PAIRS {
            let (a, b) = (
                &times[CASES.iter().position(|c| *c == tally).expect("case")],
                &times[CASES.iter().position(|c| *c == floor).expect("case")],
            );
            let mut r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
            r.sort_by(f64::total_cmp);
            let target = target.map_or("(reference)".to_string(), |t| format!("≤ {t}×"));
            ratio_rows.push(format!(
                "| {threads} | `{tally}` / `{floor}` | {:.2}× ({:.2}–{:.2}) | {target} |",
                r[r.len() / 2],
                r[0],
                r[r.len() - 1]
            ));
        }
    }
    println!();
    println!("| threads | ratio | median (min–max) per repetition | target |");
    println!("|--:|---|--:|--:|");
    ratio_rows.iter().for_each(|r| println!("{r}"));
    println!();
    println!("load average after: {}", load_average());
}
