//! The simulated inference service: a request looks up the result cache, "infers" on a
//! miss (a CPU spin), may fail, and is recorded as whole events into the overall
//! `InferenceStats` and into its model's series of the per-model family; the accelerator's
//! busy time, the cache's fill and the response's size go to `ResourceStats`.

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tally::{InferenceStats, Outcome};
use tally_sync::{LockStats, MonitoredMutex};

use crate::cache::Cache;
use crate::counts::Issued;
use crate::resources::{Busy, ResourceStats, response_bytes};
use crate::rng::RequestRng;

thread_local! {
    /// This worker's busy-fraction sampler.
    static BUSY: RefCell<Busy> = RefCell::new(Busy::default());
}

/// What a request does, fixed for the run.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Seed of the per-request draws.
    pub seed: u64,
    /// Models; a request's model is its input modulo this.
    pub models: usize,
    /// Cache entries.
    pub cache_size: u64,
    /// Target hit rate once warm (sets the input space).
    pub hit_rate: f64,
    /// Probability that a request fails.
    pub failure_rate: f64,
    /// Spin rounds per inference.
    pub spin: u64,
}

/// The service: its metric sets, its cache, its configuration.
#[derive(Debug)]
pub struct Service {
    config: ServiceConfig,
    /// Distinct inputs requests draw from.
    input_space: u64,
    stats: Arc<InferenceStats>,
    models: Vec<Arc<InferenceStats>>,
    resources: Arc<ResourceStats>,
    cache: MonitoredMutex<Cache>,
}

impl Service {
    /// A service recording into `stats` overall, `models[i]` for model `i`, `resources`
    /// for its accelerator, cache and responses, and `lock` for its cache lock.
    pub fn new(
        config: ServiceConfig,
        stats: Arc<InferenceStats>,
        models: Vec<Arc<InferenceStats>>,
        resources: Arc<ResourceStats>,
        lock: Arc<LockStats>,
    ) -> Self {
        assert_eq!(models.len(), config.models, "one series per model");
        // Uniform inputs over `cache_size / hit_rate` values against a random-eviction
        // cache of `cache_size` entries hit at about `hit_rate` once warm.
        let input_space = if config.hit_rate > 0.0 {
            ((config.cache_size as f64 / config.hit_rate).ceil() as u64).max(1)
        } else {
            u64::MAX
        };
        let cache = MonitoredMutex::with_stats(Cache::new(config.cache_size as usize), lock);
        Service { config, input_space, stats, models, resources, cache }
    }

    /// Serves request `id` (unique in the run), records it, and counts it in `issued`.
    #[inline]
    pub fn serve(&self, id: u64, issued: &mut Issued) {
        let start = Instant::now();
        self.stats.record(|e| e.in_flight().inc());

        let mut rng = RequestRng::new(self.config.seed, id);
        let input = rng.below(self.input_space);
        let model = (input % self.config.models as u64) as usize;
        let success = !rng.chance(self.config.failure_rate);

        let cached = self.cache.lock().get(input);
        let hit = cached.is_some();
        let (mut busy, mut grew) = (Duration::ZERO, false);
        if !hit {
            let spin = Instant::now();
            let result = infer(input, self.config.spin);
            busy = spin.elapsed();
            if success {
                grew = self.cache.lock().insert(input, result, rng.next_u64());
            }
        }
        let latency = start.elapsed();
        let utilization = BUSY.with(|b| b.borrow_mut().add(busy, latency));
        let capacity = self.config.cache_size.max(1) as f64;
        self.resources.record(|e| {
            if !busy.is_zero() {
                e.gpu_busy().add(busy.as_secs_f64());
            }
            if grew {
                e.cache_fill().add(1.0 / capacity);
            }
            if let Some(u) = utilization {
                e.gpu_utilization().set(u);
            }
            e.response_size().record_units(response_bytes(model, input));
        });

        // The model's series first, then the overall set: a snapshot that collects the
        // family after the overall set (the registry collects in name order) therefore
        // never shows a request overall that is missing from the per-model breakdown.
        self.models[model].record_request_with_latency(
            Outcome::success_if(success),
            tally::Cache::hit_if(hit),
            latency,
        );
        finish_request(&self.stats, success, hit, latency);
        issued.count(model, success, hit);
    }

    /// How long one inference takes, roughly (for the report): the mean of a few spins.
    pub fn inference_cost(&self) -> Duration {
        let start = Instant::now();
        for i in 0..16 {
            black_box(infer(i, self.config.spin));
        }
        start.elapsed() / 16
    }
}

/// Records a request's end into the overall set as one event: the in-flight end with the
/// counters and latency that `record_request_with_latency` records.
#[inline]
pub(crate) fn finish_request(stats: &InferenceStats, success: bool, hit: bool, latency: Duration) {
    let latency_ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
    stats.record(|e| {
        e.in_flight().dec();
        e.total_inferences().inc();
        if success {
            e.successful_inferences().inc();
        } else {
            e.failed_inferences().inc();
        }
        if hit {
            e.cache_hits().inc();
        } else {
            e.cache_misses().inc();
        }
        e.latency_ns().record(latency_ns);
    });
}

/// The stand-in for a model: `rounds` dependent multiply-adds.
#[inline]
fn infer(input: u64, rounds: u64) -> u64 {
    let mut x = input;
    for _ in 0..rounds {
        x = black_box(
            x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407),
        );
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(failure_rate: f64, hit_rate: f64) -> Service {
        let config =
            ServiceConfig { seed: 3, models: 3, cache_size: 64, hit_rate, failure_rate, spin: 10 };
        let models = (0..3).map(|_| Arc::new(InferenceStats::new())).collect();
        Service::new(
            config,
            Arc::new(InferenceStats::new()),
            models,
            Arc::new(ResourceStats::new()),
            Arc::new(LockStats::new()),
        )
    }

    #[test]
    fn every_request_is_recorded_once_overall_and_once_in_its_model() {
        let svc = service(0.1, 0.5);
        let mut issued = Issued::new(3);
        for id in 0..5_000 {
            svc.serve(id, &mut issued);
        }
        let overall = svc.stats.snapshot();
        assert_eq!(crate::counts::Counts::of(&overall), issued.overall);
        assert_eq!((overall.in_flight, overall.latency_ns.count()), (0, 5_000));
        for (m, set) in svc.models.iter().enumerate() {
            assert_eq!(crate::counts::Counts::of(&set.snapshot()), issued.per_model[m]);
        }
        // Every response sized; the cache's fill is its entries over its capacity.
        let resources = svc.resources.snapshot();
        assert_eq!(resources.response_size.count(), 5_000);
        assert_eq!(resources.cache_fill, svc.cache.lock().len() as f64 / 64.0);
        assert!(resources.gpu_busy > 0.0);
        assert!(resources.gpu_utilization.stamp_ns != 0);
        // Warm cache near its target hit rate; failures near theirs.
        let hit = overall.cache_hit_rate();
        assert!((0.3..0.6).contains(&hit), "hit rate {hit}");
        let failed = overall.failed_inferences as f64 / 5_000.0;
        assert!((0.07..0.13).contains(&failed), "failure rate {failed}");
    }

    #[test]
    fn zero_hit_rate_never_hits_and_full_failure_always_fails() {
        let svc = service(1.0, 0.0);
        let mut issued = Issued::new(3);
        for id in 0..500 {
            svc.serve(id, &mut issued);
        }
        assert_eq!(issued.overall.cache_hits, 0);
        assert_eq!(issued.overall.successful_inferences, 0);
    }
}
