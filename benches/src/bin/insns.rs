//! Exact instruction counts per recorded event, with callgrind: immune to the shared
//! machine's load, so they compare across runs and can gate CI.
//!
//! ```text
//! cargo run --release --manifest-path benches/Cargo.toml --bin insns             # every case
//! cargo run --release --manifest-path benches/Cargo.toml --bin insns -- counter_add
//! ```
//!
//! For each case, the binary runs itself under `valgrind --tool=callgrind` twice, recording
//! `N` and then `2N` events, and prints `(Ir(2N) - Ir(N)) / N`: the instructions one more
//! event costs, start-up, thread-slot claim and shard allocation cancelled out. The loop
//! and its argument (a value hidden from the optimiser) are included: two instructions or
//! so. Needs `valgrind` on the `PATH`.

use std::hint::black_box;
use std::process::{Command, exit};

tally::metric_set! {
    /// Three counters recorded as one event.
    struct Three {
        /// Requests.
        total: Counter,
        /// Requests that succeeded.
        ok: Counter,
        /// Requests answered from the cache.
        hits: Counter,
    }
}

tally::metric_set! {
    /// One counter and one gauge, recorded alone.
    struct One {
        /// A count.
        count: Counter,
        /// A level.
        level: Gauge,
    }
}

/// The cases: name, what it records per event.
const CASES: [(&str, &str); 4] = [
    ("counter_inc", "`count().inc()`: a lone counter increment, its own event"),
    ("counter_add", "`count().add(n)`: a lone counter add (saturating), its own event"),
    ("gauge_add", "`level().add(n)`: a lone gauge add (wrapping), its own event"),
    ("event_three_counters", "`record(|e| { total.inc(); ok.inc(); hits.add(n) })`: one event"),
];

/// Records `events` events of `case` (in the child, under callgrind).
fn run(case: &str, events: u64) {
    let one = One::new();
    let three = Three::new();
    // Warm: the thread's slot and the sets' shards exist before counting starts.
    one.count().inc();
    one.level().add(1);
    three.record(|e| e.total().inc());
    let n = black_box(3u64);
    match case {
        "counter_inc" => (0..events).for_each(|_| one.count().inc()),
        "counter_add" => (0..events).for_each(|_| one.count().add(black_box(n))),
        "gauge_add" => (0..events).for_each(|_| one.level().add(black_box(n) as i64)),
        "event_three_counters" => (0..events).for_each(|_| {
            three.record(|e| {
                e.total().inc();
                e.ok().inc();
                e.hits().add(black_box(n));
            })
        }),
        other => {
            eprintln!("insns: unknown case {other:?}");
            exit(2)
        }
    }
    black_box((one.snapshot(), three.snapshot()));
}

/// Total instructions (`Ir`) of one callgrind run of this binary recording `events`.
fn instructions(case: &str, events: u64) -> u64 {
    let out =
        std::env::temp_dir().join(format!("tally-insns-{}-{case}-{events}", std::process::id()));
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe().expect("this binary"))
        .args(["--child", case, &events.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| {
            eprintln!("insns: could not run valgrind ({e}): install it (apt-get install valgrind)");
            exit(1)
        });
    if !status.success() {
        eprintln!("insns: valgrind exited with {status}");
        exit(1)
    }
    let text = std::fs::read_to_string(&out).expect("callgrind's output file");
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .and_then(|s| s.trim().parse().ok())
        .expect("a `summary:` line in callgrind's output")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let events = args.get(2).and_then(|n| n.parse().ok()).expect("--child CASE EVENTS");
        return run(&args[1], events);
    }
    const N: u64 = 100_000;
    println!("| case | instructions per event | what one event does |");
    println!("|------|-----------------------:|---------------------|");
    for (case, what) in CASES {
        if !args.is_empty() && !args.iter().any(|a| a == case) {
            continue;
        }
        let (one, two) = (instructions(case, N), instructions(case, 2 * N));
        let per_event = two.saturating_sub(one) as f64 / N as f64;
        println!("| `{case}` | {per_event:.2} | {what} |");
    }
}
