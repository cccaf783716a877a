//! The `io.prometheus.client` protobuf messages that the protobuf exposition format
//! ([`Format::Protobuf`](crate::Format::Protobuf)) is made of, declared with `prost`'s
//! derive: what [`encode_protobuf`](crate::encode_protobuf) writes, and what a test or tool
//! decodes it back with.
//!
//! Field numbers, types and labels are those of `io/prometheus/client/metrics.proto` in
//! prometheus/client_model at commit `10dc9dfb541a117fe0a6457192564ec609c78615` (proto2:
//! every singular field is optional, so each is an `Option` here, and repeated numbers are
//! not packed). Only the fields tally writes are declared; the others (exemplars, created
//! timestamps, summaries, untyped values, float counts and negative buckets of histograms,
//! `Metric.timestamp_ms`) are left out, and a decoder given them skips them, as protobuf
//! decoders skip unknown fields.
//!
//! No crate fit instead: the `prometheus` crate's generated types are rust-protobuf's and
//! come with its whole client library, and `prometheus-client` generates the OpenMetrics
//! data model, not `io.prometheus.client`.
//!
//! The body of a response is a sequence of `MetricFamily` messages, each preceded by its
//! length as a varint (`encoding=delimited`):
//!
//! ```
//! use prost::Message;
//! use tally_prometheus::proto::{MetricFamily, MetricType};
//!
//! let registry = tally::Registry::new();
//! let stats = registry.register::<tally::InferenceStats>("inference", "The model server.").unwrap();
//! stats.record_inference(true, false);
//! let mut body = Vec::new();
//! tally_prometheus::encode_protobuf(&registry.snapshot(), &mut body);
//!
//! let mut rest = &body[..];
//! let mut families = Vec::new();
//! while !rest.is_empty() {
//!     families.push(MetricFamily::decode_length_delimited(&mut rest).unwrap());
//! }
//! let total = families.iter().find(|f| f.name() == "inference_total_inferences_total").unwrap();
//! assert_eq!(total.r#type(), MetricType::Counter);
//! assert_eq!(total.metric[0].counter.as_ref().unwrap().value, Some(1.0));
//! ```

/// A label's name and value (`LabelPair`).
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct LabelPair {
    /// The label's name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// The label's value, any UTF-8, unescaped.
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// A family's type (`MetricType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    /// Its metrics have `counter`.
    Counter = 0,
    /// Its metrics have `gauge`.
    Gauge = 1,
    /// Its metrics have `summary` (tally writes none).
    Summary = 2,
    /// Its metrics have `untyped` (tally writes none).
    Untyped = 3,
    /// Its metrics have `histogram`.
    Histogram = 4,
    /// Its metrics have `histogram`, a gauge histogram (tally writes none).
    GaugeHistogram = 5,
}

/// A gauge's value (`Gauge`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Gauge {
    /// The value.
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

/// A counter's value (`Counter`, without its exemplar and created timestamp).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Counter {
    /// The value.
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

/// A histogram: classic buckets, native buckets, or both (`Histogram`, without its float
/// counts, negative buckets, exemplars and created timestamp).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// The number of values.
    #[prost(uint64, optional, tag = "1")]
    pub sample_count: Option<u64>,
    /// The sum of the values.
    #[prost(double, optional, tag = "2")]
    pub sample_sum: Option<f64>,
    /// Classic buckets, by increasing upper bound; the `+Inf` bucket is implied.
    #[prost(message, repeated, tag = "3")]
    pub bucket: Vec<Bucket>,
    /// Native: the resolution, `-4..=8`; bucket boundaries are powers of `2^(2^-schema)`.
    #[prost(sint32, optional, tag = "5")]
    pub schema: Option<i32>,
    /// Native: values whose magnitude is at most this are in the zero bucket.
    #[prost(double, optional, tag = "6")]
    pub zero_threshold: Option<f64>,
    /// Native: the zero bucket's count.
    #[prost(uint64, optional, tag = "7")]
    pub zero_count: Option<u64>,
    /// Native: runs of consecutive positive buckets.
    #[prost(message, repeated, tag = "12")]
    pub positive_span: Vec<BucketSpan>,
    /// Native: each positive bucket's count minus the previous one's (the first minus 0),
    /// in span order.
    #[prost(sint64, repeated, packed = "false", tag = "13")]
    pub positive_delta: Vec<i64>,
}

/// A classic bucket (`Bucket`, without its float count and exemplar).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Bucket {
    /// The number of values at most `upper_bound`.
    #[prost(uint64, optional, tag = "1")]
    pub cumulative_count: Option<u64>,
    /// The bucket's inclusive upper bound.
    #[prost(double, optional, tag = "2")]
    pub upper_bound: Option<f64>,
}

/// A run of consecutive native buckets (`BucketSpan`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct BucketSpan {
    /// The first span: the index of its first bucket; a later one: the number of buckets
    /// skipped since the previous span.
    #[prost(sint32, optional, tag = "1")]
    pub offset: Option<i32>,
    /// The number of buckets in the run.
    #[prost(uint32, optional, tag = "2")]
    pub length: Option<u32>,
}

/// One series of a family: its labels and its value (`Metric`, without untyped values,
/// summaries and a timestamp).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metric {
    /// The series' labels, in the metric's label-name order.
    #[prost(message, repeated, tag = "1")]
    pub label: Vec<LabelPair>,
    /// A gauge family's value.
    #[prost(message, optional, tag = "2")]
    pub gauge: Option<Gauge>,
    /// A counter family's value.
    #[prost(message, optional, tag = "3")]
    pub counter: Option<Counter>,
    /// A histogram family's value.
    #[prost(message, optional, tag = "7")]
    pub histogram: Option<Histogram>,
}

/// A metric family: its name, help, type, unit and series (`MetricFamily`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricFamily {
    /// The name Prometheus stores the series under (a counter's ends with `_total`).
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// The help text, unescaped.
    #[prost(string, optional, tag = "2")]
    pub help: Option<String>,
    /// The type of every metric in it.
    #[prost(enumeration = "MetricType", optional, tag = "3")]
    pub r#type: Option<i32>,
    /// The series.
    #[prost(message, repeated, tag = "4")]
    pub metric: Vec<Metric>,
    /// The unit (`seconds`, `bytes`, ...), when the family declares one.
    #[prost(string, optional, tag = "5")]
    pub unit: Option<String>,
}
