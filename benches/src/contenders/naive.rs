//! What a user writes by hand: one `Mutex<Stats>`, or shared atomics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::log2_bucket;
use crate::contender::Contender;
use crate::event::{Budget, Counts, drive};

/// The fields behind the mutex.
#[derive(Debug, Clone)]
struct Stats {
    total: u64,
    outcome: [u64; 2],
    cache: [u64; 2],
    buckets: [u64; 64],
    sum: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats { total: 0, outcome: [0; 2], cache: [0; 2], buckets: [0; 64], sum: 0 }
    }
}

impl Stats {
    fn counts(&self) -> Counts {
        Counts {
            total: self.total,
            outcome: self.outcome,
            cache: self.cache,
            latencies: self.buckets.iter().sum(),
        }
    }
}

/// One `std::sync::Mutex<Stats>` shared by every thread; readers lock and copy.
#[derive(Debug, Default)]
pub struct Locked(Mutex<Stats>);

#[inline(never)]
fn work_mutex(stats: &Mutex<Stats>, thread: usize, budget: Budget<'_>) -> u64 {
    drive(thread, budget, |e| {
        let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
        s.total += 1;
        s.outcome[e.outcome] += 1;
        s.cache[e.cache] += 1;
        s.buckets[log2_bucket(e.latency_ns)] += 1;
        s.sum = s.sum.wrapping_add(e.latency_ns);
    })
}

impl Contender for Locked {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        (work_mutex(&self.0, thread, budget), Counts::default())
    }

    fn read(&self) -> Option<Counts> {
        let copy = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Some(copy.counts())
    }

    fn finish(&self, _: &[Counts]) -> Counts {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).counts()
    }
}

/// Shared atomics, adjacent as a naive user declares them, `fetch_add(1, Relaxed)` each.
#[derive(Debug)]
pub struct SharedAtomics {
    total: AtomicU64,
    outcome: [AtomicU64; 2],
    cache: [AtomicU64; 2],
    sum: AtomicU64,
    buckets: [AtomicU64; 64],
}

impl Default for SharedAtomics {
    fn default() -> Self {
        SharedAtomics {
            total: AtomicU64::new(0),
            outcome: Default::default(),
            cache: Default::default(),
            sum: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

#[inline(never)]
fn work_atomic(s: &SharedAtomics, thread: usize, budget: Budget<'_>) -> u64 {
    drive(thread, budget, |e| {
        s.total.fetch_add(1, Ordering::Relaxed);
        s.outcome[e.outcome].fetch_add(1, Ordering::Relaxed);
        s.cache[e.cache].fetch_add(1, Ordering::Relaxed);
        s.buckets[log2_bucket(e.latency_ns)].fetch_add(1, Ordering::Relaxed);
        s.sum.fetch_add(e.latency_ns, Ordering::Relaxed);
    })
}

impl Contender for SharedAtomics {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        (work_atomic(self, thread, budget), Counts::default())
    }

    fn read(&self) -> Option<Counts> {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Some(Counts {
            total: get(&self.total),
            outcome: [get(&self.outcome[0]), get(&self.outcome[1])],
            cache: [get(&self.cache[0]), get(&self.cache[1])],
            latencies: self.buckets.iter().map(get).sum(),
        })
    }

    fn finish(&self, _: &[Counts]) -> Counts {
        self.read().expect("atomics are always readable")
    }
}
