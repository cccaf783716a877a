//! The floor: plain per-thread fields, no sharing, no protocol.

use std::hint::black_box;

use super::log2_bucket;
use crate::contender::Contender;
use crate::event::{Budget, Counts, drive};

/// Plain per-thread `u64`s in a local: `[total, successful, failed, cache_hits,
/// cache_misses]` picked by index, and a histogram of 64 log2 buckets plus a sum. Summed
/// after the threads finish; nothing can read it while it runs. `total`'s index is hidden
/// from the optimiser, which would otherwise fold `total += 1` into the loop count.
#[derive(Debug, Default)]
pub struct Floor;

#[inline(never)]
fn work_floor(thread: usize, budget: Budget<'_>) -> (u64, Counts) {
    let mut fields = [0u64; 5];
    let mut buckets = [0u64; 64];
    let mut sum = 0u64;
    let total = black_box(0);
    let n = drive(thread, budget, |e| {
        fields[total] += 1;
        fields[1 + e.outcome] += 1;
        fields[3 + e.cache] += 1;
        buckets[log2_bucket(e.latency_ns)] += 1;
        sum = sum.wrapping_add(e.latency_ns);
    });
    let (f, buckets, _) = black_box((fields, buckets, sum));
    let counts = Counts {
        total: f[0],
        outcome: [f[1], f[2]],
        cache: [f[3], f[4]],
        latencies: buckets.iter().sum(),
    };
    (n, counts)
}

impl Contender for Floor {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        work_floor(thread, budget)
    }

    fn read(&self) -> Option<Counts> {
        None
    }

    fn finish(&self, per_thread: &[Counts]) -> Counts {
        let mut c = Counts::default();
        per_thread.iter().for_each(|t| c.add(t));
        c
    }
}
