//! What a real inference server also shows beside its request counts, recorded the way users
//! write these figures: fractions as `f64` ratios, time as `f64` seconds, sizes in bytes.
//! The demo's stand-ins: the accelerator is the CPU spin of a cache miss, the result
//! cache's fill is a ratio, and every response has a size drawn for its model.

use std::time::Duration;

use tally::{HistogramConfig, RegistrySnapshot, Value};

tally::metric_set! {
    /// The simulated accelerator, the result cache and the responses.
    pub struct ResourceStats {
        /// The busy fraction of the worker that sampled last: inference time over wall
        /// time across its last 256 requests.
        gpu_utilization: LastValueF64 in Ratio,
        /// Inference time summed over every worker.
        gpu_busy: CounterF64 in Seconds,
        /// Entries the result cache holds over what it can hold (adds and removes of
        /// 1/capacity, summed over threads).
        cache_fill: GaugeF64 in Ratio,
        /// The size of each response.
        response_size: Histogram(HistogramConfig::BYTES),
    }
}

/// The registry name of the set (its fields are exposed as `resources_<field>_<unit>`).
pub const RESOURCES: &str = "resources";

/// A response's size in bytes for `model` and `input`: a model's typical size (a class
/// label is small, an image large) spread over a factor of 4 by the input.
pub fn response_bytes(model: usize, input: u64) -> u64 {
    const TYPICAL: [u64; 8] = [600, 2_000, 8_000, 24_000, 3_000, 1_500, 12_000, 800_000];
    let typical = TYPICAL[model % TYPICAL.len()];
    typical / 2 + typical * (input % 1024) * 3 / 2 / 1024
}

/// A worker's sampler of its own busy fraction.
#[derive(Debug, Default)]
pub struct Busy {
    busy: Duration,
    wall: Duration,
    requests: u32,
}

impl Busy {
    /// Requests per sample.
    const EVERY: u32 = 256;

    /// Adds one request that took `wall`, of which `busy` was inference; every
    /// [`EVERY`](Self::EVERY) requests, the fraction since the last sample.
    pub fn add(&mut self, busy: Duration, wall: Duration) -> Option<f64> {
        self.busy += busy;
        self.wall += wall;
        self.requests += 1;
        if self.requests < Self::EVERY {
            return None;
        }
        let fraction = if self.wall.is_zero() {
            0.0
        } else {
            (self.busy.as_secs_f64() / self.wall.as_secs_f64()).min(1.0)
        };
        *self = Busy::default();
        Some(fraction)
    }
}

/// The resources' figures in a registry snapshot, for the report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ResourceSummary {
    /// The last sampled busy fraction, if any was sampled.
    pub gpu_utilization: Option<f64>,
    /// Seconds of inference.
    pub gpu_busy_s: f64,
    /// The cache's fill ratio.
    pub cache_fill: f64,
    /// Responses whose size was recorded.
    pub responses: u64,
    /// Median, 99th percentile and largest response size in bytes (within the histogram's
    /// relative error, 2^-5).
    pub response_bytes_p50: Option<u64>,
    /// 99th percentile.
    pub response_bytes_p99: Option<u64>,
    /// Largest.
    pub response_bytes_max: Option<u64>,
}

impl ResourceSummary {
    /// The figures of the set registered as [`RESOURCES`] in `snap`.
    ///
    /// # Errors
    ///
    /// What is missing or of another kind.
    pub fn of(snap: &RegistrySnapshot) -> Result<ResourceSummary, String> {
        let metric =
            snap.metrics.get(RESOURCES).ok_or_else(|| format!("metric `{RESOURCES}` missing"))?;
        let [series] = metric.series.as_slice() else {
            return Err(format!("metric `{RESOURCES}` has {} series", metric.series.len()));
        };
        let set = &series.snapshot;
        let mut out = ResourceSummary::default();
        match set.get("gpu_utilization") {
            Some(Value::LastValueF64(l)) => {
                out.gpu_utilization = (l.stamp_ns != 0).then_some(l.value);
            }
            other => return Err(format!("`gpu_utilization` is {other:?}")),
        }
        match set.get("gpu_busy") {
            Some(Value::CounterF64(s)) => out.gpu_busy_s = *s,
            other => return Err(format!("`gpu_busy` is {other:?}")),
        }
        match set.get("cache_fill") {
            Some(Value::GaugeF64(f)) => out.cache_fill = *f,
            other => return Err(format!("`cache_fill` is {other:?}")),
        }
        match set.get("response_size") {
            Some(Value::Histogram(h)) => {
                out.responses = h.count();
                out.response_bytes_p50 = h.quantile(0.5);
                out.response_bytes_p99 = h.quantile(0.99);
                out.response_bytes_max = h.max();
            }
            other => return Err(format!("`response_size` is {other:?}")),
        }
        Ok(out)
    }
}

/// `1536` → `1.50 KiB`.
pub fn human_bytes(n: u64) -> String {
    let v = n as f64;
    match v {
        v if v >= (1u64 << 30) as f64 => format!("{:.2} GiB", v / (1u64 << 30) as f64),
        v if v >= (1u64 << 20) as f64 => format!("{:.2} MiB", v / (1u64 << 20) as f64),
        v if v >= 1024.0 => format!("{:.1} KiB", v / 1024.0),
        v => format!("{v:.0} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_samples_its_busy_fraction_every_256_requests() {
        let mut busy = Busy::default();
        for _ in 0..255 {
            assert_eq!(busy.add(Duration::from_micros(3), Duration::from_micros(4)), None);
        }
        let f = busy.add(Duration::from_micros(3), Duration::from_micros(4)).unwrap();
        assert!((f - 0.75).abs() < 1e-9, "{f}");
    }

    #[test]
    fn response_sizes_stay_within_a_factor_of_three_of_the_models_typical_size() {
        for model in 0..8 {
            let sizes: Vec<u64> = (0..2048).map(|i| response_bytes(model, i)).collect();
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(hi / lo.max(&1) <= 4, "model {model}: {lo}..{hi}");
        }
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.00 MiB");
    }

    #[test]
    fn the_summary_reads_what_was_recorded() {
        let registry = tally::Registry::new();
        let set = registry.register::<ResourceStats>(RESOURCES, "resources").unwrap();
        set.record(|e| {
            e.gpu_utilization().set(0.5);
            e.gpu_busy().add(0.25);
            e.cache_fill().add(0.125);
            e.response_size().record_units(4096);
        });
        let s = ResourceSummary::of(&registry.snapshot()).unwrap();
        assert_eq!(
            (s.gpu_utilization, s.gpu_busy_s, s.cache_fill, s.responses),
            (Some(0.5), 0.25, 0.125, 1)
        );
        assert_eq!(s.response_bytes_max, Some(4096));
    }
}
