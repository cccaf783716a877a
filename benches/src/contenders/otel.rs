//! `opentelemetry_sdk`: an `SdkMeterProvider` with a `ManualReader`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};

use super::bounds_ns;
use crate::contender::Contender;
use crate::event::{Budget, Counts, drive, labels};

/// The provider owns its reader; this lets its user keep a handle to collect with (the
/// OpenTelemetry contender here, the OTLP push bench in `otlp.rs`).
#[derive(Debug, Clone)]
pub(crate) struct SharedReader(pub(crate) Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

const NAMES: [&str; 5] = ["inferences", "successful", "failed", "cache_hits", "cache_misses"];

/// Five `Counter<u64>`s and a `Histogram<u64>` (nanoseconds, the 22 bounds) from one
/// meter; readers `collect` through the manual reader (cumulative) and sum the data points.
pub struct Otel {
    _provider: SdkMeterProvider,
    reader: SharedReader,
    counters: [Counter<u64>; 5],
    latency: Histogram<u64>,
}

impl Default for Otel {
    fn default() -> Self {
        let reader = SharedReader(Arc::new(
            ManualReader::builder().with_temporality(Temporality::Cumulative).build(),
        ));
        let provider = SdkMeterProvider::builder().with_reader(reader.clone()).build();
        let meter = provider.meter("tally-benches");
        let counters = NAMES.map(|n| meter.u64_counter(n).build());
        let latency = meter.u64_histogram("latency_ns").with_boundaries(bounds_ns()).build();
        Otel { _provider: provider, reader, counters, latency }
    }
}

impl Otel {
    fn collected(&self) -> Counts {
        let mut rm = ResourceMetrics::default();
        self.reader.collect(&mut rm).expect("the provider is alive");
        let mut values = [0u64; 5];
        let mut latencies = 0;
        for scope in rm.scope_metrics() {
            for metric in scope.metrics() {
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        let i = NAMES
                            .iter()
                            .position(|n| *n == metric.name())
                            .expect("one of the five counters");
                        values[i] = sum.data_points().map(|p| p.value()).sum();
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                        latencies = h.data_points().map(|p| p.count()).sum();
                    }
                    other => panic!("unexpected metric data {other:?}"),
                }
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
fn work_otel(o: &Otel, thread: usize, budget: Budget<'_>) -> u64 {
    let c = &o.counters;
    drive(thread, budget, |e| {
        c[0].add(1, &[]);
        c[1 + e.outcome].add(1, &[]);
        c[3 + e.cache].add(1, &[]);
        o.latency.record(e.latency_ns, &[]);
    })
}

impl Contender for Otel {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        (work_otel(self, thread, budget), Counts::default())
    }

    fn read(&self) -> Option<Counts> {
        Some(self.collected())
    }

    fn finish(&self, _: &[Counts]) -> Counts {
        self.collected()
    }
}

/// [`Otel`] with two attributes (`model`, `device`; 8 combinations) built and passed on
/// every call, as instrumentation code does.
#[derive(Default)]
pub struct OtelAttrs(Otel);

#[inline(never)]
fn work_otel_attrs(o: &Otel, thread: usize, budget: Budget<'_>) -> u64 {
    let c = &o.counters;
    drive(thread, budget, |e| {
        let [model, device] = labels(e.series);
        let attrs = [KeyValue::new("model", model), KeyValue::new("device", device)];
        c[0].add(1, &attrs);
        c[1 + e.outcome].add(1, &attrs);
        c[3 + e.cache].add(1, &attrs);
        o.latency.record(e.latency_ns, &attrs);
    })
}

impl Contender for OtelAttrs {
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts) {
        (work_otel_attrs(&self.0, thread, budget), Counts::default())
    }

    fn read(&self) -> Option<Counts> {
        Some(self.0.collected())
    }

    fn finish(&self, _: &[Counts]) -> Counts {
        self.0.collected()
    }
}
