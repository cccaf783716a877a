//! Memory per (series × thread), from the process's resident set.
//!
//! Each measurement should run in a fresh process (the `report` binary spawns itself with
//! `--memory`): freed memory from earlier work would otherwise be reused and hide the cost.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family as PeerFamily;
use prometheus_client::metrics::histogram::Histogram;
use tally::{Cache, Family, InferenceStats, Outcome};

use crate::event::XorShift;

/// This process's resident memory in bytes (`VmRSS` of `/proc/self/status`), or `None`
/// where there is no such file.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs `per_thread(t)` on `threads` threads that are all alive at once (so each holds
/// its own thread slot in tally, and its own shards).
fn on_threads(threads: usize, per_thread: impl Fn(usize) + Sync) {
    let together = Barrier::new(threads);
    thread::scope(|s| {
        for t in 0..threads {
            let (together, per_thread) = (&together, &per_thread);
            s.spawn(move || {
                together.wait();
                per_thread(t);
                together.wait();
            });
        }
    });
}

/// The latencies each (series, thread) records: 64 spread over 100 µs .. about 8.5 ms, or,
/// with [`DECADES_VAR`] set to `d`, 64 spread evenly in log scale over `d` decades from
/// 100 µs (two decades: 100 µs .. 10 ms; four: 100 µs .. 1 s).
fn latencies(seed: usize) -> impl Iterator<Item = u64> {
    let mut rng = XorShift::for_thread(seed);
    let decades: Option<f64> = std::env::var(DECADES_VAR).ok().and_then(|d| d.parse().ok());
    (0..64).map(move |_| {
        let r = rng.next_u64();
        match decades {
            None => 100_000 + ((r >> 8) & 0x7F_FFFF),
            Some(d) => {
                let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
                (100_000.0 * 10f64.powf(d * unit)) as u64
            }
        }
    })
}

/// The environment variable that spreads the memory measurement's latencies over this many
/// decades from 100 µs (see [`latencies`]).
pub const DECADES_VAR: &str = "TALLY_BENCHES_DECADES";

/// Which library [`bytes_per_series_thread`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryOf {
    /// A `Family<InferenceStats>`.
    Tally,
    /// `prometheus-client` families: 5 counters and a 22-bucket histogram per series.
    PrometheusClient,
}

/// Resident bytes added per (series × thread) when `threads` threads each record events
/// with latencies into every one of `series` series; `None` without `/proc`.
pub fn bytes_per_series_thread(of: MemoryOf, series: usize, threads: usize) -> Option<f64> {
    let before = resident_bytes()?;
    let names: Vec<String> = (0..series).map(|i| format!("model-{i:05}")).collect();
    let after = match of {
        MemoryOf::Tally => {
            let family =
                Family::<InferenceStats>::with_limit(&["model"], series + 1).expect("valid");
            on_threads(threads, |t| {
                for (i, name) in names.iter().enumerate() {
                    family
                        .with(&[name], |s| {
                            for ns in latencies(t * series + i) {
                                s.record_request_with_latency(
                                    Outcome::success_if(ns & 1 == 0),
                                    Cache::hit_if(ns & 2 == 0),
                                    Duration::from_nanos(ns),
                                );
                            }
                        })
                        .expect("one value for one label");
                }
            });
            let after = resident_bytes()?;
            assert_eq!(family.len(), series);
            after
        }
        MemoryOf::PrometheusClient => {
            type Labels = Vec<(String, String)>;
            let counters: Vec<PeerFamily<Labels, Counter>> =
                (0..5).map(|_| PeerFamily::default()).collect();
            let bounds = crate::contenders::bounds_seconds();
            let latency = PeerFamily::<Labels, Histogram, _>::new_with_constructor(move || {
                Histogram::new(bounds.iter().copied())
            });
            on_threads(threads, |t| {
                for (i, name) in names.iter().enumerate() {
                    let labels = vec![("model".to_owned(), name.clone())];
                    for ns in latencies(t * series + i) {
                        counters[0].get_or_create(&labels).inc();
                        counters[1 + (ns & 1) as usize].get_or_create(&labels).inc();
                        counters[3 + ((ns >> 1) & 1) as usize].get_or_create(&labels).inc();
                        latency.get_or_create(&labels).observe(ns as f64 * 1e-9);
                    }
                }
            });
            let after = resident_bytes()?;
            drop((counters, latency));
            after
        }
    };
    Some(after.saturating_sub(before) as f64 / (series * threads) as f64)
}

/// The environment variable that turns a binary into a memory-measuring child:
/// `tally,SERIES,THREADS` or `prometheus-client,SERIES,THREADS`.
pub const MEMORY_CHILD_VAR: &str = "TALLY_BENCHES_MEMORY";

/// In a binary's `main`, first thing: when [`MEMORY_CHILD_VAR`] is set, measures what it
/// names, prints bytes per (series × thread) on stdout and returns `true` (the caller then
/// exits); otherwise returns `false`.
pub fn memory_child_main() -> bool {
    let Ok(spec) = std::env::var(MEMORY_CHILD_VAR) else { return false };
    let parts: Vec<&str> = spec.split(',').collect();
    let parsed = match parts.as_slice() {
        [of, series, threads] => {
            let of = match *of {
                "tally" => Some(MemoryOf::Tally),
                "prometheus-client" => Some(MemoryOf::PrometheusClient),
                _ => None,
            };
            of.zip(series.parse().ok()).zip(threads.parse().ok())
        }
        _ => None,
    };
    let Some(((of, series), threads)) = parsed else {
        eprintln!("{MEMORY_CHILD_VAR}={spec:?}: expected tally|prometheus-client,SERIES,THREADS");
        std::process::exit(2)
    };
    match bytes_per_series_thread(of, series, threads) {
        Some(b) => println!("{b}"),
        None => {
            eprintln!("no /proc/self/status here: memory cannot be measured");
            std::process::exit(1)
        }
    }
    true
}

/// Bytes per (series × thread) measured in a fresh process: runs the current executable
/// with [`MEMORY_CHILD_VAR`] set (its `main` must call [`memory_child_main`] first).
/// `None` when the child fails or cannot measure.
pub fn memory_in_child(of: MemoryOf, series: usize, threads: usize) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let name = match of {
        MemoryOf::Tally => "tally",
        MemoryOf::PrometheusClient => "prometheus-client",
    };
    let out = std::process::Command::new(exe)
        .env(MEMORY_CHILD_VAR, format!("{name},{series},{threads}"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}
