//! Across processes, by messages: a parent spawns child processes (this same program,
//! re-executed with `child <index> <requests>`); each records a known workload into its own
//! registry from two threads, and sends its `RegistrySnapshot` back over its stdout pipe
//! (one frame: a header line, then JSON; see `support/wire.rs`). The parent merges the
//! snapshots with `RegistrySnapshot::try_merge` and checks that the merged totals equal
//! the sum of what each child was told to record, and that the merge equals one registry
//! that recorded every workload itself. Prints a table; exits non-zero on any mismatch or
//! failed child.
//!
//! Run with `cargo run --release -p tallyx --example cross_process [children]`.
//!
//! No memory is shared: each child's counters live in its own address space, and only
//! plain-data snapshots cross the process boundary. Merging is exact (counters and
//! histogram buckets add), so nothing is lost or counted twice, whatever the order.

use std::io::{self, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::thread;

use tally::{Family, Registry, RegistrySnapshot, Value};

#[path = "support/wire.rs"]
mod wire;

tally::metric_set! {
    /// What the workers of one process did: one event per request.
    struct Work {
        /// Requests handled.
        requests: Counter,
        /// Requests that succeeded.
        succeeded: Counter,
        /// Requests that failed.
        failed: Counter,
        /// Time per request, in nanoseconds.
        latency_ns: Histogram,
    }
}

tally::metric_set! {
    /// Tokens generated, per model (a labelled family).
    struct Tokens {
        /// Tokens generated.
        generated: Counter,
    }
}

const MODELS: [&str; 3] = ["bert", "llama", "resnet"];
const THREADS: u64 = 2;

/// Request `k` of a workload: whether it fails, its latency in ns, its model and tokens.
fn request(k: u64) -> (bool, u64, usize, u64) {
    (k % 7 == 3, (k % 50 + 1) * 1_000, (k % 3) as usize, k % 16 + 1)
}

/// Registers the workload's metrics: a set and a labelled family.
fn register(registry: &Registry) -> (Arc<Work>, Arc<Family<Tokens>>) {
    let work = registry.register::<Work>("work", "What the workers did.").expect("fresh registry");
    let tokens = registry
        .metric("tokens")
        .help("Tokens generated, by model.")
        .family(&["model"])
        .expect("fresh registry");
    (work, tokens)
}

/// Records requests `0..requests`, split over [`THREADS`] threads.
fn record_workload(work: &Work, tokens: &Family<Tokens>, requests: u64) {
    thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for k in (t..requests).step_by(THREADS as usize) {
                    let (failed, latency, model, n) = request(k);
                    work.record(|e| {
                        e.requests().inc();
                        if failed {
                            e.failed().inc();
                        } else {
                            e.succeeded().inc();
                        }
                        e.latency_ns().record(latency);
                    });
                    tokens.with(&[MODELS[model]], |s| s.generated().add(n)).expect("one label");
                }
            });
        }
    });
}

/// The totals a workload of `requests` requests must produce, computed without tally.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Totals {
    requests: u64,
    succeeded: u64,
    failed: u64,
    latency_count: u64,
    latency_sum: u128,
    tokens: [u64; 3],
}

impl Totals {
    fn expected(requests: u64) -> Totals {
        let mut t = Totals::default();
        for k in 0..requests {
            let (failed, latency, model, n) = request(k);
            t.requests += 1;
            if failed {
                t.failed += 1;
            } else {
                t.succeeded += 1;
            }
            t.latency_count += 1;
            t.latency_sum += u128::from(latency);
            t.tokens[model] += n;
        }
        t
    }

    fn add(&mut self, o: &Totals) {
        self.requests += o.requests;
        self.succeeded += o.succeeded;
        self.failed += o.failed;
        self.latency_count += o.latency_count;
        self.latency_sum += o.latency_sum;
        for (a, b) in self.tokens.iter_mut().zip(o.tokens) {
            *a += b;
        }
    }

    /// The totals a snapshot holds (zero for what it lacks).
    fn of(snap: &RegistrySnapshot) -> Totals {
        let mut t = Totals::default();
        if let Some(work) = snap.metrics.get("work").and_then(|m| m.series.first()) {
            let counter = |name| match work.snapshot.get(name) {
                Some(Value::Counter(n)) => *n,
                _ => 0,
            };
            t.requests = counter("requests");
            t.succeeded = counter("succeeded");
            t.failed = counter("failed");
            if let Some(Value::Histogram(h)) = work.snapshot.get("latency_ns") {
                t.latency_count = h.count();
                t.latency_sum = h.sum();
            }
        }
        for series in snap.metrics.get("tokens").map_or(&[][..], |m| &m.series) {
            if let (Some(i), Some(Value::Counter(n))) = (
                MODELS.iter().position(|m| series.labels == [*m]),
                series.snapshot.get("generated"),
            ) {
                t.tokens[i] = *n;
            }
        }
        t
    }
}

fn child(requests: u64) -> ExitCode {
    let registry = Registry::new();
    let (work, tokens) = register(&registry);
    record_workload(&work, &tokens, requests);
    let stdout = io::stdout();
    match wire::write_frame(&mut stdout.lock(), &registry.snapshot()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("child: sending the snapshot failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for `child` and reads its one frame.
fn collect(child: Child) -> Result<RegistrySnapshot, String> {
    let output = child.wait_with_output().map_err(|e| format!("waiting for it failed: {e}"))?;
    if !output.status.success() {
        return Err(format!("it exited with {}", output.status));
    }
    wire::decode_frame(&output.stdout).map_err(|e| e.to_string())
}

fn parent(children: u64) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("cannot find this program to re-execute it: {e}");
            return ExitCode::FAILURE;
        }
    };
    let told: Vec<u64> = (0..children).map(|i| 10_000 + 2_500 * i).collect();
    // All children run at once; each one's stdout is a pipe the parent reads to the end.
    let spawned: Vec<_> = told
        .iter()
        .enumerate()
        .map(|(i, requests)| {
            Command::new(&exe)
                .args(["child", &i.to_string(), &requests.to_string()])
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect();

    let mut merged = RegistrySnapshot::default();
    let mut expected = Totals::default();
    let mut ok = true;
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<8} {:>9} {:>9} {:>7} {:>11} {:>14} {:>8} {:>8} {:>8}",
        "process",
        "requests",
        "succeeded",
        "failed",
        "lat. count",
        "lat. sum (ns)",
        "bert",
        "llama",
        "resnet"
    );
    let row = |out: &mut io::StdoutLock<'_>, name: &str, t: &Totals| {
        let _ = writeln!(
            out,
            "{name:<8} {:>9} {:>9} {:>7} {:>11} {:>14} {:>8} {:>8} {:>8}",
            t.requests,
            t.succeeded,
            t.failed,
            t.latency_count,
            t.latency_sum,
            t.tokens[0],
            t.tokens[1],
            t.tokens[2]
        );
    };
    for (i, (child, requests)) in spawned.into_iter().zip(&told).enumerate() {
        let snapshot = child.map_err(|e| format!("spawning it failed: {e}")).and_then(collect);
        let want = Totals::expected(*requests);
        expected.add(&want);
        match snapshot {
            Ok(snapshot) => {
                let got = Totals::of(&snapshot);
                row(&mut out, &format!("child {i}"), &got);
                if got != want {
                    ok = false;
                    let _ = writeln!(
                        out,
                        "  MISMATCH: child {i} was told {requests} requests: {want:?}"
                    );
                }
                if let Err(e) = merged.try_merge(&snapshot) {
                    ok = false;
                    let _ = writeln!(out, "  child {i}: its snapshot does not merge: {e}");
                }
            }
            Err(e) => {
                ok = false;
                let _ = writeln!(out, "child {i}: no snapshot: {e}");
            }
        }
    }
    let total = Totals::of(&merged);
    row(&mut out, "merged", &total);
    row(&mut out, "expected", &expected);

    // The merge must also equal one registry that recorded every workload itself.
    let reference = Registry::new();
    let (work, tokens) = register(&reference);
    for requests in &told {
        record_workload(&work, &tokens, *requests);
    }
    let same_as_one_process = merged == reference.snapshot();
    let _ = writeln!(
        out,
        "merged snapshot {} one registry that recorded all {children} workloads",
        if same_as_one_process { "equals" } else { "DIFFERS FROM" }
    );
    if ok && total == expected && same_as_one_process {
        let _ = writeln!(out, "OK: {children} processes, merged totals exact");
        ExitCode::SUCCESS
    } else {
        let _ = writeln!(out, "FAILED: merged totals differ from what the children were told");
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["child", _index, requests] => match requests.parse() {
            Ok(requests) => child(requests),
            Err(e) => {
                eprintln!("child: bad request count {requests:?}: {e}");
                ExitCode::FAILURE
            }
        },
        [] => parent(4),
        [n] if n.parse::<u64>().is_ok_and(|n| (1..=64).contains(&n)) => parent(n.parse().unwrap()),
        _ => {
            eprintln!("usage: cross_process [children, 1 to 64]");
            ExitCode::FAILURE
        }
    }
}
