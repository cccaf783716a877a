//! `prometheus` 0.14, with shared metrics and with its thread-local counters.

use prometheus::local::{LocalHistogram, LocalIntCounter};
use prometheus::{Histogram, HistogramOpts, IntCounter, Registry};

use super::bounds_seconds;
use crate::contender::Contender;
use crate::event::{Budget, Counts, drive};

/// Five `IntCounter`s and a `Histogram` (22 buckets) in a `Registry`; readers `gather()`
/// the registry (the step before encoding) and read the values.
pub struct Prom {
    registry: Registry,
    counters: [IntCounter; 5],
    latency: Histogram,
}

const NAMES: [&str; 5] = [
    "inferences_total",
    "successful_total",
    "failed_total",
    "cache_hits_total",
    "cache_misses_total",
];

impl Default for Prom {
    fn default() -> Self {
        let registry = Registry::new();
        let counters =
            NAMES.map(|n| IntCounter::new(n, "A counter.").expect("a valid counter name"));
        let latency = Histogram::with_opts(
            HistogramOpts::new("latency_seconds", "Request latency.").buckets(bounds_seconds()),
        )
        .expect("valid histogram options");
        for c in &counters {
            registry.register(Box::new(c.clone())).expect("a new name");
        }
        registry.register(Box::new(latency.clone())).expect("a new name");
        Prom { registry, counters, latency }
    }
}

impl Prom {
    fn gathered(&self) -> Counts {
        let mut values = [0u64; 5];
        let mut latencies = 0;
        for family in self.registry.gather() {
            let Some(metric) = family.get_metric().first() else { continue };
            match NAMES.iter().position(|n| *n == family.name()) {
                Some(i) => values[i] = metric.get_counter().get_value() as u64,
                None => latencies = metric.get_histogram().get_sample_count(),
            }
        }
        Counts {
            total: values[0],
            outcome: [values[1], values[2]],
            cache: [values[3], values[4]],
            latencies,
        }
    }
}

#[inline(never)]
fn work_prom(c: &[IntCounter; 5], latency: &Histogram, thread: usize, budget: Budget<'_>) -> u64 {
    drive(thread, budget, |e| {
        c[0].inc();
        c[1 + e.outcome].inc();
        c[3 + e.cache].inc();
        latency.observe(e.latency_seconds());
    })
}

impl Contender for Prom {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        (work_prom(&self.counters, &self.latency, thread, budget), Counts::default())
    }

    fn read(&self) -> Option<Counts> {
        Some(self.gathered())
    }

    fn finish(&self, _: &[Counts]) -> Counts {
        self.gathered()
    }
}

/// The same metrics, recorded through per-thread `local()` counters and histogram that
/// each thread flushes every [`FLUSH_EVERY`] events and when it finishes (the crate's
/// documented fast path). Readers see only what was flushed.
#[derive(Default)]
pub struct PromLocal(Prom);

/// Events between two flushes of the local metrics.
pub const FLUSH_EVERY: u64 = 1024;

struct Locals {
    counters: [LocalIntCounter; 5],
    latency: LocalHistogram,
}

impl Locals {
    fn flush(&self) {
        self.counters.iter().for_each(LocalIntCounter::flush);
        self.latency.flush();
    }
}

#[inline(never)]
fn work_local(l: &Locals, thread: usize, budget: Budget<'_>) -> u64 {
    let mut n = 0u64;
    let done = drive(thread, budget, |e| {
        l.counters[0].inc();
        l.counters[1 + e.outcome].inc();
        l.counters[3 + e.cache].inc();
        l.latency.observe(e.latency_seconds());
        n += 1;
        if n % FLUSH_EVERY == 0 {
            l.flush();
        }
    });
    l.flush();
    done
}

impl Contender for PromLocal {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        let locals = Locals {
            counters: self.0.counters.each_ref().map(IntCounter::local),
            latency: self.0.latency.local(),
        };
        (work_local(&locals, thread, budget), Counts::default())
    }

    fn read(&self) -> Option<Counts> {
        Some(self.0.gathered())
    }

    fn finish(&self, _: &[Counts]) -> Counts {
        self.0.gathered()
    }
}
