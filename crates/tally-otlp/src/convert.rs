//! A registry snapshot as an OTLP `ExportMetricsServiceRequest`: names, units, kinds,
//! temporality, and exponential histograms.
//!
//! # Reusing the built metrics
//!
//! Building a request from scratch allocates every point's attributes (a `Vec` of
//! `KeyValue`s with two `String`s each) and, once encoded, frees them all again: for
//! 10,000 series that was most of a conversion. So the converter keeps each registered
//! metric's built OTLP metrics with what they were built from (help, label names, field
//! layout, every series' labels). When a metric's series and fields are the same as at the
//! previous conversion (compared label by label, no allocation), its points are updated in
//! place: values, start and time, histogram buckets in the `Vec`s they already have.
//! Anything else (a series added, removed or re-ordered, another layout, a value refused
//! now or at the previous conversion) rebuilds that metric from scratch, by the same code
//! that fills an updated point, so an updated request equals a rebuilt one. The cached
//! metrics are moved into the request and moved back once it is encoded
//! ([`Converter::give_back`]); a request that is not given back is simply rebuilt next
//! time.

use std::borrow::Cow;
use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use tally_snapshot::{
    FieldDesc, FieldKind, HistogramSnapshot, MetricSnapshot, NativeHistogram, RegistrySnapshot,
    SeriesSnapshot, SetSnapshot, Value,
};

/// Which totals a point carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Counters and histograms since the exporter started (OpenTelemetry's default, and
    /// what Prometheus-style backends want): a lost export loses nothing the next one does
    /// not carry.
    #[default]
    Cumulative,
    /// The change since the previous export, computed exactly from two consecutive
    /// snapshots (what Datadog-style and some OTLP backends want). An export that is
    /// dropped loses its interval's counts: [`ExportReport`](crate::ExportReport) says
    /// which.
    Delta,
}

/// A value OTLP cannot carry without changing it, refused rather than sent rounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The metric's name as it would have been sent.
    pub metric: String,
    /// The series' labels, `name=value`.
    pub labels: Vec<String>,
    /// Why.
    pub reason: String,
}

/// Turns snapshots into requests, keeping what delta temporality needs and the metrics it
/// built (see the module's docs).
#[derive(Debug)]
pub(crate) struct Converter {
    pairs: Vec<(String, String)>,
    resource: Resource,
    temporality: Temporality,
    /// Cumulative points' start: when the exporter was built.
    start_ns: u64,
    /// Delta: when the previous conversion's snapshot was taken.
    previous_ns: u64,
    /// Each registered metric that had series at the previous conversion, in name order.
    cache: Vec<Cached>,
    /// Whether the previous conversion's metrics are out in its request, not given back.
    lent: bool,
    /// Registered metrics updated in place and rebuilt, over all conversions.
    stats: CacheStats,
}

/// How often the cached metrics were reused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CacheStats {
    /// Registered metrics whose points were updated in place.
    pub updated: u64,
    /// Registered metrics built from scratch.
    pub rebuilt: u64,
}

/// One registered metric as last converted: what its OTLP metrics were built from, and
/// them.
#[derive(Debug)]
struct Cached {
    /// The registered name (the snapshot's key).
    name: String,
    help: String,
    label_names: Vec<String>,
    /// The field layout the metrics were built for (the first series').
    fields: Vec<FieldDesc>,
    /// Every series' labels, in the snapshot's order.
    labels: Vec<Vec<String>>,
    /// Delta: every series' snapshot at the previous conversion, in `labels`' order.
    previous: Vec<SetSnapshot>,
    /// The OTLP metrics (empty while lent to a request).
    metrics: Vec<Metric>,
    /// How many metrics the request holds while they are lent.
    lent: usize,
    /// Whether `metrics` hold, for every field in order, one point per series in order,
    /// nothing refused: only then are they updated in place.
    reusable: bool,
}

/// One conversion's request and what it holds.
#[derive(Debug)]
pub(crate) struct Converted {
    pub request: ExportMetricsServiceRequest,
    pub points: u64,
    pub start_ns: u64,
    pub refused: Vec<Refused>,
}

impl Converter {
    pub fn new(resource: Vec<(String, String)>, temporality: Temporality, start_ns: u64) -> Self {
        let pairs = resource.clone();
        let resource = Resource {
            attributes: resource.into_iter().map(|(k, v)| string_attribute(k, v)).collect(),
            ..Default::default()
        };
        Converter {
            pairs,
            resource,
            temporality,
            start_ns,
            previous_ns: start_ns,
            cache: Vec::new(),
            lent: false,
            stats: CacheStats::default(),
        }
    }

    pub fn resource_pairs(&self) -> Vec<(String, String)> {
        self.pairs.clone()
    }

    pub fn temporality(&self) -> Temporality {
        self.temporality
    }

    /// How often the cached metrics were reused so far.
    #[cfg(test)]
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// The request for `snapshot`, taken at `time_ns` (Unix nanoseconds). Its metrics are
    /// the converter's cached ones, moved: [`give_back`](Self::give_back) the request once
    /// it is encoded so that the next conversion can update them in place.
    pub fn convert(&mut self, snapshot: &RegistrySnapshot, time_ns: u64) -> Converted {
        let delta = self.temporality == Temporality::Delta;
        let start_ns = if delta { self.previous_ns } else { self.start_ns };
        let at = Point { start_ns, time_ns, delta };
        if std::mem::take(&mut self.lent) {
            // The previous request was kept by the caller: its metrics are rebuilt.
            for cached in &mut self.cache {
                cached.reusable = false;
            }
        }
        let mut out = Out { points: 0, refused: Vec::new() };
        let mut old = std::mem::take(&mut self.cache).into_iter().peekable();
        let mut cache = Vec::with_capacity(snapshot.metrics.len());
        // Both in name order: one walk pairs each metric with its previous conversion.
        for (name, metric) in &snapshot.metrics {
            if metric.series.is_empty() {
                continue;
            }
            while old.next_if(|c| c.name < *name).is_some() {}
            let mut earlier = old.next_if(|c| c.name == *name);
            if let Some(cached) = &mut earlier
                && cached.same_layout(metric)
                && cached.update(metric, at, &mut out.points)
            {
                self.stats.updated += 1;
                cache.extend(earlier);
                continue;
            }
            self.stats.rebuilt += 1;
            cache.push(Cached::build(name, metric, earlier.as_ref(), at, &mut out));
        }
        if delta {
            self.previous_ns = time_ns;
        }
        let mut metrics = Vec::with_capacity(cache.iter().map(|c| c.metrics.len()).sum());
        for cached in &mut cache {
            cached.lent = cached.metrics.len();
            metrics.append(&mut cached.metrics);
        }
        self.cache = cache;
        self.lent = true;
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "tally".to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..Default::default()
                    }),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        Converted { request, points: out.points, start_ns, refused: out.refused }
    }

    /// Takes back the metrics of the request the latest [`convert`](Self::convert) made,
    /// for the next conversion to update in place. A request of another shape is dropped
    /// (the next conversion then rebuilds).
    pub fn give_back(&mut self, request: ExportMetricsServiceRequest) {
        if !std::mem::take(&mut self.lent) {
            return;
        }
        let metrics = request
            .resource_metrics
            .into_iter()
            .next()
            .and_then(|r| r.scope_metrics.into_iter().next())
            .map(|s| s.metrics)
            .unwrap_or_default();
        if metrics.len() != self.cache.iter().map(|c| c.lent).sum::<usize>() {
            for cached in &mut self.cache {
                cached.reusable = false;
            }
            return;
        }
        let mut metrics = metrics.into_iter();
        for cached in &mut self.cache {
            cached.metrics.extend(metrics.by_ref().take(cached.lent));
        }
    }
}

impl Cached {
    /// Whether `metric` has exactly the series and fields these metrics were built for.
    fn same_layout(&self, metric: &MetricSnapshot) -> bool {
        self.reusable
            && self.help == metric.help
            && self.label_names == metric.label_names
            && self.labels.len() == metric.series.len()
            && self.labels.iter().zip(&metric.series).all(|(l, s)| *l == s.labels)
            && metric.series.first().is_some_and(|s| s.snapshot.fields() == self.fields)
    }

    /// Updates every point in place from `metric` (of the same layout); false, with the
    /// points left half updated, when a point cannot be (a value refused): then the metric
    /// is rebuilt.
    fn update(&mut self, metric: &MetricSnapshot, at: Point, points: &mut u64) -> bool {
        let n = metric.series.len();
        if self.metrics.len() != self.fields.len() {
            return false;
        }
        let previous = &self.previous;
        let earlier = |i: usize| if at.delta { previous.get(i) } else { None };
        for (index, m) in self.metrics.iter_mut().enumerate() {
            let numbers = match &mut m.data {
                Some(metric::Data::Sum(s)) => &mut s.data_points,
                Some(metric::Data::Gauge(g)) => &mut g.data_points,
                Some(metric::Data::ExponentialHistogram(h)) => {
                    if h.data_points.len() != n {
                        return false;
                    }
                    for (i, (p, series)) in h.data_points.iter_mut().zip(&metric.series).enumerate()
                    {
                        match point_value(series, earlier(i), index).as_deref() {
                            Some(Value::Histogram(h)) => fill_exponential(p, h, at),
                            _ => return false,
                        }
                    }
                    continue;
                }
                _ => return false,
            };
            if numbers.len() != n {
                return false;
            }
            for (i, (p, series)) in numbers.iter_mut().zip(&metric.series).enumerate() {
                let Some(value) = point_value(series, earlier(i), index) else { return false };
                let Ok(value) = number_value(&value) else { return false };
                fill_number(p, value, at);
            }
        }
        if at.delta {
            for (previous, series) in self.previous.iter_mut().zip(&metric.series) {
                previous.clone_from(&series.snapshot);
            }
        }
        *points += (n * self.fields.len()) as u64;
        true
    }

    /// Builds the metric from scratch; `earlier` is its previous conversion, whose
    /// snapshots delta temporality subtracts.
    fn build(
        name: &str,
        metric: &MetricSnapshot,
        earlier: Option<&Cached>,
        at: Point,
        out: &mut Out,
    ) -> Cached {
        let fields =
            metric.series.first().map(|s| s.snapshot.fields().to_vec()).unwrap_or_default();
        let mut families: Vec<Family> = fields
            .iter()
            .map(|field| {
                let family = tally_snapshot::family_name(name, field, true);
                let help = if field.help.is_empty() { metric.help.as_str() } else { &field.help };
                let says_seconds = tally_snapshot::help_says_seconds(field, true);
                let description = tally_snapshot::exposed_help(help, says_seconds).into_owned();
                Family::new(family, description, field)
            })
            .collect();
        let before: HashMap<&[String], &SetSnapshot> = match earlier {
            Some(e) if at.delta => e.labels.iter().map(Vec::as_slice).zip(&e.previous).collect(),
            _ => HashMap::new(),
        };
        let (points_before, refused_before) = (out.points, out.refused.len());
        for series in &metric.series {
            let attributes: Vec<KeyValue> = metric
                .label_names
                .iter()
                .zip(&series.labels)
                .map(|(k, v)| string_attribute(k.clone(), v.clone()))
                .collect();
            let earlier = before.get(series.labels.as_slice()).copied();
            for (index, family) in families.iter_mut().enumerate() {
                let Some(value) = point_value(series, earlier, index) else { continue };
                family.push(out, &attributes, series, &metric.label_names, &value, at);
            }
        }
        let mut metrics = Vec::with_capacity(families.len());
        for family in families {
            family.finish(&mut metrics, at.delta);
        }
        let complete = (metric.series.len() * fields.len()) as u64;
        let reusable = out.refused.len() == refused_before
            && out.points - points_before == complete
            && metrics.len() == fields.len();
        Cached {
            name: name.to_owned(),
            help: metric.help.clone(),
            label_names: metric.label_names.clone(),
            fields,
            labels: metric.series.iter().map(|s| s.labels.clone()).collect(),
            previous: if at.delta {
                metric.series.iter().map(|s| s.snapshot.clone()).collect()
            } else {
                Vec::new()
            },
            metrics,
            lent: 0,
            reusable,
        }
    }
}

/// When a point is, and whether it is a delta.
#[derive(Debug, Clone, Copy)]
struct Point {
    start_ns: u64,
    time_ns: u64,
    delta: bool,
}

/// What a conversion has counted so far.
struct Out {
    points: u64,
    refused: Vec<Refused>,
}

/// One field of one metric: an OTLP metric and its points.
struct Family {
    metric: Metric,
    kind: FieldKind,
    numbers: Vec<NumberDataPoint>,
    histograms: Vec<ExponentialHistogramDataPoint>,
}

impl Family {
    fn new(name: String, description: String, field: &FieldDesc) -> Self {
        let unit = tally_snapshot::exposed_unit(field, true).ucum().to_owned();
        Family {
            metric: Metric { name, description, unit, ..Default::default() },
            kind: field.kind,
            numbers: Vec::new(),
            histograms: Vec::new(),
        }
    }

    fn push(
        &mut self,
        out: &mut Out,
        attributes: &[KeyValue],
        series: &SeriesSnapshot,
        label_names: &[String],
        value: &Value,
        at: Point,
    ) {
        if let Value::Histogram(h) = value {
            let mut point = ExponentialHistogramDataPoint {
                attributes: attributes.to_vec(),
                ..Default::default()
            };
            fill_exponential(&mut point, h, at);
            self.histograms.push(point);
            out.points += 1;
            return;
        }
        match number_value(value) {
            Ok(value) => {
                let mut point =
                    NumberDataPoint { attributes: attributes.to_vec(), ..Default::default() };
                fill_number(&mut point, value, at);
                self.numbers.push(point);
                out.points += 1;
            }
            Err(reason) => out.refused.push(Refused {
                metric: self.metric.name.clone(),
                labels: label_pairs(label_names, &series.labels),
                reason,
            }),
        }
    }

    fn finish(mut self, metrics: &mut Vec<Metric>, delta: bool) {
        let temporality =
            if delta { AggregationTemporality::Delta } else { AggregationTemporality::Cumulative }
                as i32;
        let data = match self.kind {
            FieldKind::Histogram(_) if !self.histograms.is_empty() => {
                metric::Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: self.histograms,
                    aggregation_temporality: temporality,
                })
            }
            k if k.is_counter() && !self.numbers.is_empty() => metric::Data::Sum(Sum {
                data_points: self.numbers,
                aggregation_temporality: temporality,
                is_monotonic: true,
            }),
            k if k.is_gauge() && !self.numbers.is_empty() => {
                metric::Data::Gauge(Gauge { data_points: self.numbers })
            }
            _ => return,
        };
        self.metric.data = Some(data);
        metrics.push(self.metric);
    }
}

/// The value a series' point carries for field `index`: with delta temporality
/// (`earlier` given), `later - earlier` for a cumulative kind (counters, histograms), and
/// gauges as they are. None when the series has no such field.
fn point_value<'a>(
    series: &'a SeriesSnapshot,
    earlier: Option<&SetSnapshot>,
    index: usize,
) -> Option<Cow<'a, Value>> {
    use tally_snapshot::Delta;
    let value = series.snapshot.values().get(index)?;
    let Some(earlier) = earlier.and_then(|e| e.values().get(index)) else {
        return Some(Cow::Borrowed(value));
    };
    let delta = match (value, earlier) {
        (Value::Counter(a), Value::Counter(b)) => u64::delta(a, b).ok().map(Value::Counter),
        // Correctly rounded; exact when the difference is representable (see the crate
        // docs on float counters).
        (Value::CounterF64(a), Value::CounterF64(b)) => {
            tally_snapshot::float_count_delta(*a, *b).ok().map(Value::CounterF64)
        }
        (Value::Histogram(a), Value::Histogram(b)) => {
            HistogramSnapshot::delta(a, b).ok().map(|h| Value::Histogram(Box::new(h)))
        }
        // Gauges are levels: sent as they are.
        _ => None,
    };
    // A counter that went backwards belongs to a re-created series: its whole value is
    // new since the previous export.
    Some(delta.map_or(Cow::Borrowed(value), Cow::Owned))
}

/// A counter's or gauge's point value, or why OTLP cannot carry it unchanged.
fn number_value(value: &Value) -> Result<number_data_point::Value, String> {
    use number_data_point::Value::{AsDouble, AsInt};
    match value {
        Value::Counter(v) => i64::try_from(*v).map(AsInt).map_err(|_| {
            "the counter is above 2^63 - 1, the largest integer an OTLP point carries (sent \
             as a double it would be rounded)"
                .to_owned()
        }),
        Value::Gauge(v) => Ok(AsInt(*v)),
        Value::LastValue(l) => Ok(AsInt(l.value)),
        Value::CounterF64(v) | Value::GaugeF64(v) => Ok(AsDouble(*v)),
        Value::LastValueF64(l) => Ok(AsDouble(l.value)),
        // `Value` is non-exhaustive: a kind this exporter does not know is refused.
        other => Err(format!("a {} has no OTLP mapping in this version", other.kind().as_str())),
    }
}

/// Everything of a number point but its attributes: built and updated points are filled
/// by this one function, so they are equal.
fn fill_number(point: &mut NumberDataPoint, value: number_data_point::Value, at: Point) {
    point.start_time_unix_nano = at.start_ns;
    point.time_unix_nano = at.time_ns;
    point.value = Some(value);
}

/// Everything of an exponential-histogram point but its attributes, from a tally
/// histogram in its unit; the bucket counts reuse the point's `Vec`.
fn fill_exponential(point: &mut ExponentialHistogramDataPoint, h: &HistogramSnapshot, at: Point) {
    let Point { start_ns, time_ns, delta } = at;
    let config = h.config();
    let n = h.to_native_in_unit(NativeHistogram::schema_for(config));
    match (n.positive.first(), n.positive.last()) {
        (Some(&(first, _)), Some(&(last, _))) => {
            let buckets = point.positive.get_or_insert_with(Buckets::default);
            // Native bucket i is (base^(i-1), base^i]; OTLP's bucket i is (base^i, base^(i+1)].
            buckets.offset = first - 1;
            buckets.bucket_counts.clear();
            buckets.bucket_counts.resize((last - first) as usize + 1, 0);
            for &(i, c) in &n.positive {
                buckets.bucket_counts[(i - first) as usize] = c;
            }
        }
        _ => point.positive = None,
    }
    // A cumulative histogram's min and max are exact; a delta's are only bucket bounds, so
    // they are left out rather than sent approximate.
    let exact = |v: Option<u64>| if delta { None } else { v.map(|v| config.to_unit(v)) };
    point.start_time_unix_nano = start_ns;
    point.time_unix_nano = time_ns;
    point.count = n.count;
    point.sum = Some(n.sum);
    point.scale = i32::from(n.schema);
    point.zero_count = n.zero_count;
    point.min = exact(h.min());
    point.max = exact(h.max());
    point.zero_threshold = n.zero_threshold;
}

fn string_attribute(key: String, value: String) -> KeyValue {
    KeyValue {
        key,
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value)) }),
        ..Default::default()
    }
}

fn label_pairs(names: &[String], values: &[String]) -> Vec<String> {
    names.iter().zip(values).map(|(n, v)| format!("{n}={v}")).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tally::{Family, Registry};

    use super::*;

    tally::metric_set! {
        /// A model's work.
        struct Work {
            /// Requests handled.
            requests: Counter,
            /// Accelerator time.
            busy: CounterF64 in Seconds,
            /// Requests waiting.
            queued: Gauge,
            /// Cache fill.
            fill: GaugeF64 in Ratio,
            /// Time per request.
            latency: Histogram,
        }
    }

    tally::metric_set! {
        /// A counter that can pass what OTLP's integers hold.
        struct Big {
            /// Bytes moved.
            moved: Counter,
        }
    }

    /// A registry whose snapshots change step by step in every way the cache must notice.
    struct Steps {
        registry: Registry,
        work: Arc<Family<Work>>,
        big: Arc<Big>,
    }

    impl Steps {
        fn new() -> Steps {
            let registry = Registry::new();
            let work = registry.metric("work").help("Work.").family(&["model"]).unwrap();
            let big = registry.register::<Big>("big", "Big numbers.").unwrap();
            Steps { registry, work, big }
        }

        fn record(&self, model: &str, n: u64, latency_ns: u64) {
            self.work
                .with(&[model], |w| {
                    for k in 0..n {
                        w.record(|e| {
                            e.requests().inc();
                            e.busy().add(0.25);
                            e.queued().add(if k % 2 == 0 { 3 } else { -1 });
                            e.fill().add(0.125);
                            e.latency().record(latency_ns * (k + 1));
                        });
                    }
                })
                .unwrap();
        }

        /// Applies step `k` and returns the snapshot after it, and what the step is.
        fn step(&self, k: usize) -> (&'static str, RegistrySnapshot) {
            let what = match k {
                0 => {
                    self.record("bert", 3, 1_000);
                    self.big.record(|e| e.moved().add(10));
                    "first series"
                }
                1 => "nothing recorded",
                2 => {
                    self.record("bert", 5, 0);
                    self.record("bert", 4, 1 << 30);
                    "bert's histogram grows (zeros, and buckets far above)"
                }
                3 => {
                    self.work.with(&["llama"], |w| w.record(|e| e.requests().inc())).unwrap();
                    "series added (with an empty histogram)"
                }
                4 => {
                    self.record("llama", 2, 70_000);
                    self.record("bert", 1, 5);
                    "values change in both"
                }
                5 => {
                    self.work.remove(&["bert"]).unwrap().expect("bert was there");
                    self.record("bert", 1, 40);
                    "bert re-created with a smaller counter"
                }
                6 => {
                    self.big.record(|e| e.moved().add(i64::MAX as u64));
                    "a counter passes 2^63 - 1"
                }
                7 => {
                    self.record("llama", 1, 9);
                    "the refused counter stays above"
                }
                8 => {
                    let extra = self.registry.register::<Big>("extra", "Registered late.").unwrap();
                    extra.record(|e| e.moved().add(4));
                    "a metric registered between the others"
                }
                9 => {
                    self.work.remove(&["llama"]).unwrap();
                    self.record("gpt", 2, 60);
                    "a series replaced by another (as many series, other labels)"
                }
                10 => {
                    self.work.remove(&["gpt"]).unwrap();
                    "series removed"
                }
                11 => {
                    self.record("bert", 2, 300);
                    "values change after the removal"
                }
                _ => unreachable!(),
            };
            (what, self.registry.snapshot())
        }
    }

    const STEPS: usize = 12;

    fn resource() -> Vec<(String, String)> {
        vec![("service.name".to_owned(), "test".to_owned())]
    }

    fn time(k: usize) -> u64 {
        1_000_000 + 1_000 * k as u64
    }

    fn assert_same(k: usize, what: &str, reused: &Converted, fresh: &Converted) {
        assert_eq!(reused.request, fresh.request, "step {k} ({what}): the requests differ");
        assert_eq!(reused.points, fresh.points, "step {k} ({what}): points");
        assert_eq!(reused.refused, fresh.refused, "step {k} ({what}): refused values");
        assert_eq!(reused.start_ns, fresh.start_ns, "step {k} ({what}): start");
    }

    fn number(request: &ExportMetricsServiceRequest, name: &str, model: &str) -> i64 {
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let m = metrics.iter().find(|m| m.name == name).expect("the metric");
        let Some(metric::Data::Sum(s)) = &m.data else { panic!("{name} is a sum") };
        let p = s
            .data_points
            .iter()
            .find(|p| {
                p.attributes.iter().any(|a| {
                    a.value.as_ref().and_then(|v| v.value.as_ref())
                        == Some(&any_value::Value::StringValue(model.to_owned()))
                })
            })
            .expect("the model's point");
        let Some(number_data_point::Value::AsInt(v)) = p.value else { panic!("an int") };
        v
    }

    #[test]
    fn cumulative_points_updated_in_place_equal_a_fresh_converters() {
        let steps = Steps::new();
        let mut reused = Converter::new(resource(), Temporality::Cumulative, 500);
        let mut in_place = Vec::new();
        for k in 0..STEPS {
            let (what, snapshot) = steps.step(k);
            let before = reused.stats();
            let got = reused.convert(&snapshot, time(k));
            let fresh = Converter::new(resource(), Temporality::Cumulative, 500)
                .convert(&snapshot, time(k));
            assert_same(k, what, &got, &fresh);
            let refused: Vec<&str> = got.refused.iter().map(|r| r.metric.as_str()).collect();
            assert_eq!(refused, if k >= 6 { &["big_moved"][..] } else { &[] }, "step {k}");
            in_place.push(reused.stats().updated - before.updated);
            reused.give_back(got.request);
        }
        // What was reused: "big" and "work" from step 1, never a metric whose series changed
        // (steps 3, 9 and 10; step 5 re-creates bert under the same labels: updated in
        // place) or with a value refused: from step 6 on, "big" is rebuilt, and refused,
        // every step.
        assert_eq!(in_place, [0, 2, 2, 1, 2, 2, 1, 1, 1, 1, 1, 2], "metrics updated in place");
    }

    #[test]
    fn delta_points_updated_in_place_equal_a_computation_from_scratch() {
        let steps = Steps::new();
        let mut reused = Converter::new(resource(), Temporality::Delta, 500);
        let mut snapshots: Vec<RegistrySnapshot> = Vec::new();
        let mut in_place = Vec::new();
        for k in 0..STEPS {
            let (what, snapshot) = steps.step(k);
            let before = reused.stats();
            let got = reused.convert(&snapshot, time(k));
            in_place.push(reused.stats().updated - before.updated);
            // From scratch: a new converter given only the previous snapshot (its request
            // kept, so nothing of it is reused) and then this one.
            let mut scratch = Converter::new(resource(), Temporality::Delta, 500);
            if let Some(previous) = snapshots.last() {
                let _kept = scratch.convert(previous, time(k - 1));
            }
            let fresh = scratch.convert(&snapshot, time(k));
            assert_eq!(scratch.stats().updated, 0, "the reference reuses nothing");
            assert_same(k, what, &got, &fresh);
            let refused: Vec<&str> = got.refused.iter().map(|r| r.metric.as_str()).collect();
            assert_eq!(refused, if k == 6 { &["big_moved"][..] } else { &[] }, "step {k}");
            if k == 5 {
                // The re-created series' whole (smaller) count is new since step 4.
                assert_eq!(number(&got.request, "work_requests", "bert"), 1, "{what}");
            }
            if k == 4 {
                assert_eq!(number(&got.request, "work_requests", "bert"), 1, "a delta");
            }
            reused.give_back(got.request);
            snapshots.push(snapshot);
        }
        // As cumulative, except "big": its delta at step 7 (0) is sent again, so it is
        // rebuilt at steps 6 (refused) and 7 only.
        assert_eq!(in_place, [0, 2, 2, 1, 2, 2, 1, 1, 2, 2, 2, 3], "metrics updated in place");
    }

    #[test]
    fn a_request_not_given_back_is_rebuilt_equal() {
        let steps = Steps::new();
        let (_, snapshot) = steps.step(0);
        let mut converter = Converter::new(resource(), Temporality::Cumulative, 500);
        let first = converter.convert(&snapshot, time(0));
        // Kept by the caller (as `OtlpExporter::request` does): nothing is left to update.
        let second = converter.convert(&snapshot, time(1));
        assert_eq!(converter.stats(), CacheStats { updated: 0, rebuilt: 4 });
        let fresh =
            Converter::new(resource(), Temporality::Cumulative, 500).convert(&snapshot, time(1));
        assert_same(1, "kept", &second, &fresh);
        drop(first);
        // A request of another shape given back is refused, not spliced in.
        converter.give_back(ExportMetricsServiceRequest::default());
        let third = converter.convert(&snapshot, time(2));
        assert_eq!(converter.stats().updated, 0);
        let fresh =
            Converter::new(resource(), Temporality::Cumulative, 500).convert(&snapshot, time(2));
        assert_same(2, "a foreign request given back", &third, &fresh);
    }
}
