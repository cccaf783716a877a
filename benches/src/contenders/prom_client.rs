//! `prometheus-client` 0.25.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::bounds_seconds;
use super::text::{Names, counts};
use crate::contender::Contender;
use crate::event::{Budget, Counts, drive};

/// Five `Counter`s and a `Histogram` (22 buckets) registered in a `Registry`; readers
/// `encode` the registry (OpenMetrics, what its users serve) and parse it.
pub struct PromClient {
    registry: Registry,
    counters: [Counter; 5],
    latency: Histogram,
}

const NAMES: Names = Names {
    total: "inferences_total",
    outcome: ["successful_total", "failed_total"],
    cache: ["cache_hits_total", "cache_misses_total"],
    latency_count: "latency_seconds_count",
};

impl Default for PromClient {
    fn default() -> Self {
        let mut registry = Registry::default();
        let counters: [Counter; 5] = Default::default();
        let names = ["inferences", "successful", "failed", "cache_hits", "cache_misses"];
        for (c, name) in counters.iter().zip(names) {
            registry.register(name, "A counter.", c.clone());
        }
        let latency = Histogram::new(bounds_seconds());
        registry.register("latency_seconds", "Request latency.", latency.clone());
        PromClient { registry, counters, latency }
    }
}

#[inline(never)]
fn work_client(c: &[Counter; 5], latency: &Histogram, thread: usize, budget: Budget<'_>) -> u64 {
    drive(thread, budget, |e| {
        c[0].inc();
        c[1 + e.outcome].inc();
        c[3 + e.cache].inc();
        latency.observe(e.latency_seconds());
    })
}

impl PromClient {
    fn encoded(&self) -> Counts {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        counts(&text, &NAMES)
    }
}

impl Contender for PromClient {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        (work_client(&self.counters, &self.latency, thread, budget), Counts::default())
    }

    fn read(&self) -> Option<Counts> {
        Some(self.encoded())
    }

    fn finish(&self, _: &[Counts]) -> Counts {
        self.encoded()
    }
}
