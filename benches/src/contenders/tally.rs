//! tally: a bound set, and a labelled family looked up on every event.

use std::sync::Arc;
use std::time::Duration;

use tally::epoch::Publisher;
use tally::{
    Cache, Family, InferenceStats, InferenceStatsSnapshot, Outcome, Registry, RegistrySnapshot,
    Value,
};

use crate::contender::Contender;
use crate::event::{Budget, Counts, drive, labels};

/// How old an epoch a reader accepts before its `refresh()` collects a new one: the
/// coalescing a `/metrics` endpoint does.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

fn counts_of(s: &InferenceStatsSnapshot) -> Counts {
    Counts {
        total: s.total_inferences,
        outcome: [s.successful_inferences, s.failed_inferences],
        cache: [s.cache_hits, s.cache_misses],
        latencies: s.latency_ns.count(),
    }
}

/// One `InferenceStats` shared by every thread (a bound handle), and a publisher that
/// readers `refresh()` with a 1 ms minimum interval and read the epoch of.
pub struct TallyBound {
    stats: Arc<InferenceStats>,
    publisher: Publisher<InferenceStatsSnapshot>,
}

impl Default for TallyBound {
    fn default() -> Self {
        let stats = Arc::new(InferenceStats::new());
        let source = Arc::clone(&stats);
        let publisher =
            Publisher::builder(move || source.snapshot()).min_interval(MIN_INTERVAL).build();
        TallyBound { stats, publisher }
    }
}

#[inline(never)]
fn work_bound(stats: &InferenceStats, thread: usize, budget: Budget<'_>) -> u64 {
    drive(thread, budget, |e| {
        stats.record_request_with_latency(
            Outcome::success_if(e.success()),
            Cache::hit_if(e.hit()),
            Duration::from_nanos(e.latency_ns),
        );
    })
}

impl Contender for TallyBound {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        (work_bound(&self.stats, thread, budget), Counts::default())
    }

    fn read(&self) -> Option<Counts> {
        Some(counts_of(self.publisher.refresh().snapshot()))
    }

    fn finish(&self, _: &[Counts]) -> Counts {
        let s = self.stats.snapshot();
        counts_of(&s)
    }
}

/// A `Family<InferenceStats>` labelled `model`, `device` in a `Registry`, looked up with
/// `family.with(&[model, device], ..)` on every event; readers `refresh()` a
/// `Publisher<RegistrySnapshot>` (what a `/metrics` endpoint serves) and sum the series.
pub struct TallyLabelled {
    family: Arc<Family<InferenceStats>>,
    registry: Arc<Registry>,
    publisher: Publisher<RegistrySnapshot>,
}

/// The family's registered name.
const NAME: &str = "inference";

impl Default for TallyLabelled {
    fn default() -> Self {
        let registry = Arc::new(Registry::new());
        let family = registry
            .metric(NAME)
            .help("Inference requests.")
            .family::<InferenceStats>(&["model", "device"])
            .expect("a valid name and labels");
        let source = Arc::clone(&registry);
        let publisher =
            Publisher::builder(move || source.snapshot()).min_interval(MIN_INTERVAL).build();
        TallyLabelled { family, registry, publisher }
    }
}

#[inline(never)]
fn work_labelled(family: &Family<InferenceStats>, thread: usize, budget: Budget<'_>) -> u64 {
    drive(thread, budget, |e| {
        family
            .with(&labels(e.series), |s| {
                s.record_request_with_latency(
                    Outcome::success_if(e.success()),
                    Cache::hit_if(e.hit()),
                    Duration::from_nanos(e.latency_ns),
                )
            })
            .expect("two label values for two labels");
    })
}

/// The sum over the family's series in a registry snapshot.
fn counts_in(snapshot: &RegistrySnapshot) -> Counts {
    let mut c = Counts::default();
    let Some(metric) = snapshot.metrics.get(NAME) else { return c };
    let counter = |s: &tally::SetSnapshot, name: &str| match s.get(name) {
        Some(Value::Counter(n)) => *n,
        other => panic!("field {name} should be a counter, found {other:?}"),
    };
    for series in &metric.series {
        let s = &series.snapshot;
        c.add(&Counts {
            total: counter(s, "total_inferences"),
            outcome: [counter(s, "successful_inferences"), counter(s, "failed_inferences")],
            cache: [counter(s, "cache_hits"), counter(s, "cache_misses")],
            latencies: match s.get("latency_ns") {
                Some(Value::Histogram(h)) => h.count(),
                other => panic!("latency_ns should be a histogram, found {other:?}"),
            },
        });
    }
    c
}

impl Contender for TallyLabelled {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        (work_labelled(&self.family, thread, budget), Counts::default())
    }

    fn read(&self) -> Option<Counts> {
        Some(counts_in(self.publisher.refresh().snapshot()))
    }

    fn finish(&self, _: &[Counts]) -> Counts {
        counts_in(&self.registry.snapshot())
    }
}
