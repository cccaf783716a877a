//! A registry snapshot as an OTLP `ExportMetricsServiceRequest`: names, units, kinds,
//! temporality, and exponential histograms.

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
    FieldDesc, FieldKind, HistogramConfig, NativeHistogram, RegistrySnapshot, SeriesSnapshot,
    SetSnapshot, Value,
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

/// The exponential-histogram scale for a histogram configuration: its `sub_bucket_bits`
/// (as many exponential buckets per power of two as it has linear ones), at most 8; the
/// schema Prometheus native histograms use too ([`NativeHistogram::schema_for`]).
///
/// ```
/// use tally_snapshot::HistogramConfig;
/// assert_eq!(tally_otlp::scale_for(HistogramConfig::SECONDS), 5);
/// ```
pub fn scale_for(config: HistogramConfig) -> i8 {
    NativeHistogram::schema_for(config)
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

/// Turns snapshots into requests, keeping what delta temporality needs.
#[derive(Debug)]
pub(crate) struct Converter {
    pairs: Vec<(String, String)>,
    resource: Resource,
    temporality: Temporality,
    /// Cumulative points' start: when the exporter was built.
    start_ns: u64,
    /// Delta: each series' snapshot at the previous conversion, by metric, then labels.
    previous: HashMap<String, HashMap<Vec<String>, SetSnapshot>>,
    /// Delta: when the previous conversion's snapshot was taken.
    previous_ns: u64,
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
            previous: HashMap::new(),
            previous_ns: start_ns,
        }
    }

    pub fn resource_pairs(&self) -> Vec<(String, String)> {
        self.pairs.clone()
    }

    pub fn temporality(&self) -> Temporality {
        self.temporality
    }

    /// The request for `snapshot`, taken at `time_ns` (Unix nanoseconds).
    pub fn convert(&mut self, snapshot: &RegistrySnapshot, time_ns: u64) -> Converted {
        let delta = self.temporality == Temporality::Delta;
        let start_ns = if delta { self.previous_ns } else { self.start_ns };
        let mut out = Out { metrics: Vec::new(), points: 0, refused: Vec::new() };
        let mut current = HashMap::new();
        for (metric_name, metric) in &snapshot.metrics {
            let Some(first) = metric.series.first() else { continue };
            let mut families: Vec<Family> = first
                .snapshot
                .fields()
                .iter()
                .map(|field| {
                    let name = tally_snapshot::family_name(metric_name, field, true);
                    let help =
                        if field.help.is_empty() { metric.help.as_str() } else { &field.help };
                    let says_seconds = tally_snapshot::help_says_seconds(field, true);
                    let description = tally_snapshot::exposed_help(help, says_seconds).into_owned();
                    Family::new(name, description, field)
                })
                .collect();
            let before = if delta { self.previous.get(metric_name.as_str()) } else { None };
            let mut now = HashMap::new();
            for series in &metric.series {
                let attributes: Vec<KeyValue> = metric
                    .label_names
                    .iter()
                    .zip(&series.labels)
                    .map(|(k, v)| string_attribute(k.clone(), v.clone()))
                    .collect();
                let earlier = before.and_then(|b| b.get(series.labels.as_slice()));
                let point = Point { start_ns, time_ns, delta };
                for (index, family) in families.iter_mut().enumerate() {
                    let Some(value) = series.snapshot.values().get(index) else { continue };
                    let value = match earlier.and_then(|e| e.values().get(index)) {
                        // A counter that went backwards belongs to a re-created series:
                        // its whole value is new since the previous export.
                        Some(e) => value_delta(value, e).map_or(Cow::Borrowed(value), Cow::Owned),
                        None => Cow::Borrowed(value),
                    };
                    family.push(&mut out, &attributes, series, &metric.label_names, &value, point);
                }
                if delta {
                    now.insert(series.labels.clone(), series.snapshot.clone());
                }
            }
            for family in families {
                family.finish(&mut out, delta);
            }
            if delta {
                current.insert(metric_name.clone(), now);
            }
        }
        if delta {
            self.previous = current;
            self.previous_ns = time_ns;
        }
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "tally".to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..Default::default()
                    }),
                    metrics: out.metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        Converted { request, points: out.points, start_ns, refused: out.refused }
    }
}

/// When a point is, and whether it is a delta.
#[derive(Debug, Clone, Copy)]
struct Point {
    start_ns: u64,
    time_ns: u64,
    delta: bool,
}

/// What a conversion has built so far.
struct Out {
    metrics: Vec<Metric>,
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
        let int = |v: u64| i64::try_from(v).ok().map(number_data_point::Value::AsInt);
        let point = match value {
            Value::Counter(v) => int(*v),
            Value::Gauge(v) => Some(number_data_point::Value::AsInt(*v)),
            Value::LastValue(l) => Some(number_data_point::Value::AsInt(l.value)),
            Value::CounterF64(v) | Value::GaugeF64(v) => {
                Some(number_data_point::Value::AsDouble(*v))
            }
            Value::LastValueF64(l) => Some(number_data_point::Value::AsDouble(l.value)),
            Value::Histogram(h) => {
                self.histograms.push(exponential_point(h, attributes.to_vec(), at));
                out.points += 1;
                return;
            }
            // `Value` is non-exhaustive: a kind this exporter does not know is refused.
            #[allow(unreachable_patterns)]
            other => {
                out.refused.push(Refused {
                    metric: self.metric.name.clone(),
                    labels: label_pairs(label_names, &series.labels),
                    reason: format!(
                        "a {} has no OTLP mapping in this version",
                        other.kind().as_str()
                    ),
                });
                return;
            }
        };
        let labels = &series.labels;
        let number = |value: number_data_point::Value| NumberDataPoint {
            attributes: attributes.to_vec(),
            start_time_unix_nano: at.start_ns,
            time_unix_nano: at.time_ns,
            value: Some(value),
            ..Default::default()
        };
        match point {
            Some(p) => {
                self.numbers.push(number(p));
                out.points += 1;
            }
            None => out.refused.push(Refused {
                metric: self.metric.name.clone(),
                labels: label_pairs(label_names, labels),
                reason: "the counter is above 2^63 - 1, the largest integer an OTLP point \
                         carries (sent as a double it would be rounded)"
                    .to_owned(),
            }),
        }
    }

    fn finish(mut self, out: &mut Out, delta: bool) {
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
        out.metrics.push(self.metric);
    }
}

/// `later - earlier` for a cumulative kind (counters, histograms); gauges as they are.
/// `None` when a counter went backwards.
fn value_delta(later: &Value, earlier: &Value) -> Option<Value> {
    use tally_snapshot::Delta;
    Some(match (later, earlier) {
        (Value::Counter(a), Value::Counter(b)) => Value::Counter(u64::delta(a, b).ok()?),
        (Value::CounterF64(a), Value::CounterF64(b)) => {
            // Correctly rounded; exact when the difference is representable (see the crate
            // docs on float counters).
            Value::CounterF64(tally_snapshot::float_count_delta(*a, *b).ok()?)
        }
        (Value::Histogram(a), Value::Histogram(b)) => {
            Value::Histogram(Box::new(tally_snapshot::HistogramSnapshot::delta(a, b).ok()?))
        }
        (v, _) => v.clone(),
    })
}

/// A tally histogram as an OTLP exponential-histogram point, in its unit.
fn exponential_point(
    h: &tally_snapshot::HistogramSnapshot,
    attributes: Vec<KeyValue>,
    at: Point,
) -> ExponentialHistogramDataPoint {
    let Point { start_ns, time_ns, delta } = at;
    let config = h.config();
    let n = h.to_native_in_unit(scale_for(config));
    let positive = match (n.positive.first(), n.positive.last()) {
        (Some(&(first, _)), Some(&(last, _))) => {
            let mut counts = vec![0u64; (last - first) as usize + 1];
            for &(i, c) in &n.positive {
                counts[(i - first) as usize] = c;
            }
            // Native bucket i is (base^(i-1), base^i]; OTLP's bucket i is (base^i, base^(i+1)].
            Some(Buckets { offset: first - 1, bucket_counts: counts })
        }
        _ => None,
    };
    // A cumulative histogram's min and max are exact; a delta's are only bucket bounds, so
    // they are left out rather than sent approximate.
    let exact = |v: Option<u64>| if delta { None } else { v.map(|v| config.to_unit(v)) };
    ExponentialHistogramDataPoint {
        attributes,
        start_time_unix_nano: start_ns,
        time_unix_nano: time_ns,
        count: n.count,
        sum: Some(n.sum),
        scale: i32::from(n.schema),
        zero_count: n.zero_count,
        positive,
        negative: None,
        min: exact(h.min()),
        max: exact(h.max()),
        zero_threshold: n.zero_threshold,
        ..Default::default()
    }
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
