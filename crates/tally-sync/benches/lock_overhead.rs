//! Uncontended overhead of each monitored lock against the bare lock it wraps: one
//! lock/unlock pair per iteration, on one thread, nanoseconds per pair (best of several
//! runs) and the ratio. Printed twice: with quanta's TSC clock read on every acquisition
//! and release, then with tally's coarse clock running (a memory read).
//!
//! `cargo bench -p tally-sync --all-features --bench lock_overhead`; add `-- --test` for
//! a quick run with tiny counts (CI).

use std::hint::black_box;
use std::time::{Duration, Instant};

use crossbeam_utils::sync::ShardedLock;
use tally_sync::{MonitoredMutex, MonitoredRwLock, MonitoredShardedLock};

struct Run {
    iterations: u64,
    repeats: u32,
}

impl Run {
    /// Best-of-`repeats` nanoseconds per call of `pair`.
    fn ns(&self, mut pair: impl FnMut()) -> f64 {
        for _ in 0..self.iterations / 10 {
            pair();
        }
        (0..self.repeats)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..self.iterations {
                    pair();
                }
                start.elapsed().as_nanos() as f64 / self.iterations as f64
            })
            .fold(f64::INFINITY, f64::min)
    }

    fn row(&self, name: &str, bare: impl FnMut(), monitored: impl FnMut()) {
        let bare = self.ns(bare);
        let monitored = self.ns(monitored);
        println!("| {name:<22} | {bare:>7.1} | {monitored:>12.1} | {:>5.1}× |", monitored / bare);
    }

    fn table(&self, title: &str) {
        println!("\n{title}\n");
        println!("| lock (uncontended)     | bare ns | monitored ns | ratio |");
        println!("|------------------------|--------:|-------------:|-------:|");

        let (bare, monitored) = (parking_lot::Mutex::new(0u64), MonitoredMutex::new(0u64));
        self.row("Mutex", || *black_box(&bare).lock() += 1, || *black_box(&monitored).lock() += 1);

        let (bare, monitored) = (parking_lot::RwLock::new(0u64), MonitoredRwLock::new(0u64));
        self.row(
            "RwLock read",
            || _ = black_box(*black_box(&bare).read()),
            || _ = black_box(*black_box(&monitored).read()),
        );
        self.row(
            "RwLock write",
            || *black_box(&bare).write() += 1,
            || *black_box(&monitored).write() += 1,
        );

        let (bare, monitored) = (ShardedLock::new(0u64), MonitoredShardedLock::new(0u64));
        self.row(
            "ShardedLock read",
            || _ = black_box(*black_box(&bare).read().unwrap()),
            || _ = black_box(*black_box(&monitored).read()),
        );
        self.row(
            "ShardedLock write",
            || *black_box(&bare).write().unwrap() += 1,
            || *black_box(&monitored).write() += 1,
        );

        #[cfg(feature = "tokio")]
        self.async_mutex_row();
    }

    /// The async mutex, polled to completion without a runtime: an uncontended `lock()`
    /// is ready on its first poll.
    #[cfg(feature = "tokio")]
    fn async_mutex_row(&self) {
        use std::future::Future;
        use std::pin::pin;
        use std::task::{Context, Poll, Waker};

        fn now<F: Future>(f: F) -> F::Output {
            match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(v) => v,
                Poll::Pending => unreachable!("an uncontended lock is ready at once"),
            }
        }
        let bare = tokio::sync::Mutex::new(0u64);
        let monitored = tally_sync::tokio::MonitoredMutex::new(0u64);
        self.row(
            "tokio Mutex (async)",
            || *now(black_box(&bare).lock()) += 1,
            || *now(black_box(&monitored).lock()) += 1,
        );
    }
}

fn main() {
    let test = std::env::args().any(|a| a == "--test");
    let run = if test {
        Run { iterations: 1_000, repeats: 1 }
    } else {
        Run { iterations: 2_000_000, repeats: 7 }
    };
    run.table("Clock: quanta's TSC clock (no coarse clock running)");
    let _clock = tally::start_coarse_clock(Duration::from_millis(1))
        .expect("no other coarse clock runs in this bench");
    std::thread::sleep(Duration::from_millis(5));
    run.table("Clock: tally's coarse clock (tally::start_coarse_clock, 1 ms)");
    if test {
        println!("\nlock_overhead: test mode, figures not meaningful");
    }
}
