//! Arbitrary bytes deserialized (JSON) into every snapshot type: `RegistrySnapshot`,
//! `MetricSnapshot`, `SeriesSnapshot`, `SetSnapshot`, `HistogramSnapshot`,
//! `HistogramConfig`, `Value`, `FieldDesc`, `Last`, and the snapshot structs `metric_set!`
//! generates (`InferenceStatsSnapshot`, and one with a custom histogram config).
//!
//! - Never a panic: bad input is an error (the validating deserializers refuse what breaks
//!   an invariant, so nothing after them can panic on it).
//! - What parses re-serializes, and parsing that again gives an equal value.
//! - What parses can be used: merged (with itself, with an empty value, across configs),
//!   subtracted from itself (a zero delta), its quantiles taken (within `[min, max]`), its
//!   classic and native buckets computed (counts add up), and a registry snapshot encoded
//!   in both exposition formats into output the strict parser reads (hostile names and
//!   series are left out and reported, never written), in the protobuf format into
//!   families that decode back, and into OTLP requests (cumulative and delta) that do.
#![no_main]

#[path = "../../crates/tally-prometheus/tests/common/parse.rs"]
mod parse;

use libfuzzer_sys::fuzz_target;
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tally::{
    Delta, FieldDesc, HistogramConfig, HistogramSnapshot, InferenceStatsSnapshot, Last, Merge,
    MetricSnapshot, RegistrySnapshot, SeriesSnapshot, SetSnapshot, Value,
};
use tally_otlp::opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use tally_prometheus::{EncodeOptions, Format, encode, encode_bytes, proto};

const NARROW: HistogramConfig = match HistogramConfig::new(2, 1000) {
    Ok(c) => c,
    Err(_) => panic!("a valid config"),
};

tally::metric_set! {
    struct Custom {
        /// Requests.
        requests: Counter,
        /// Level.
        level: Gauge,
        /// Newest.
        newest: LastValue,
        /// A narrow histogram.
        sizes: Histogram(NARROW),
    }
}

/// Parses `data` as `T`; if it parses, checks the serde round trip and returns the value.
fn round_trip<T>(data: &[u8]) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let value: T = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return None;
        }
    };
    let json = serde_json::to_vec(&value).expect("a parsed snapshot serializes");
    let again: T = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!("re-serialized {value:?} does not parse: {e}\n{}", String::from_utf8_lossy(&json))
    });
    assert_eq!(again, value, "the serde round trip changed the value");
    Some(value)
}

fn use_histogram(h: &HistogramSnapshot) {
    for q in [0.0, 0.01, 0.5, 0.9, 0.999, 1.0] {
        let estimate = h.quantile(q);
        match (h.min(), h.max()) {
            (Some(min), Some(max)) => {
                let e = estimate.expect("a non-empty histogram has quantiles");
                assert!(min <= e && e <= max, "quantile {q} = {e} outside [{min}, {max}]");
            }
            _ => assert_eq!(estimate, None),
        }
    }
    let _ = h.mean();
    // Merges: with itself (exact), into an empty one, and across configs (approximate).
    let mut twice = h.clone();
    twice.try_merge(h).expect("same config");
    assert_eq!(twice.count(), h.count().wrapping_mul(2));
    let mut adopted = HistogramSnapshot::default();
    adopted.merge(h);
    if h.count() > 0 {
        assert_eq!(&adopted, h, "an empty snapshot adopts what it merges");
    }
    for config in [HistogramConfig::DEFAULT, NARROW] {
        let mut other = HistogramSnapshot::from_values(config, [0, 1, 999, 1_000_000]).unwrap();
        other.merge(h);
        let _ = other.quantile(0.5);
        let mut reverse = h.clone();
        reverse.merge(&other);
        let _ = reverse.quantile(0.5);
    }
    let zero = HistogramSnapshot::delta(h, h).expect("a snapshot minus itself");
    assert_eq!(zero.count(), 0);
    let cumulative = h.to_cumulative(&tally_prometheus::DEFAULT_LATENCY_BUCKETS_NS);
    assert_eq!(cumulative.last(), Some(&(f64::INFINITY, h.count())));
    let native = h.to_native(h.config().sub_bucket_bits() as i8);
    let total = native.positive.iter().fold(native.zero_count, |t, &(_, c)| t.wrapping_add(c));
    assert_eq!(total, h.count());
}

fn use_set(s: &SetSnapshot) {
    let mut twice = s.clone();
    twice.try_merge(s).expect("same fields");
    SetSnapshot::delta(s, s).expect("a snapshot minus itself");
    for (_, v) in s.iter() {
        if let Value::Histogram(h) = v {
            use_histogram(h);
        }
        let _ = v.as_f64();
    }
}

fn use_registry(r: &RegistrySnapshot) {
    let mut twice = r.clone();
    // Hand-written snapshots may repeat label values or mix schemas: an error, or a merge.
    let _ = twice.try_merge(r);
    for m in r.metrics.values() {
        m.series.iter().for_each(|s| use_set(&s.snapshot));
    }
    for format in [Format::Text, Format::OpenMetrics] {
        let mut out = String::new();
        let report = encode(r, format, &EncodeOptions::default(), &mut out);
        let parsed = parse::parse(&out, format).unwrap_or_else(|e| {
            panic!("{format:?} output of a deserialized snapshot does not parse: {e}\n{out}")
        });
        assert_eq!(parsed.len(), report.families);
        assert_eq!(parsed.iter().map(|f| f.samples.len()).sum::<usize>(), report.samples);
    }
    // The protobuf format: length-delimited families that decode back, one per family
    // the report counts, native histograms' bucket counts adding up to their count.
    let mut bytes = Vec::new();
    let report = encode_bytes(r, Format::Protobuf, &EncodeOptions::default(), &mut bytes);
    let mut rest = bytes.as_slice();
    let mut families = 0;
    while !rest.is_empty() {
        let family = proto::MetricFamily::decode_length_delimited(&mut rest)
            .unwrap_or_else(|e| panic!("protobuf output does not decode: {e}"));
        for m in &family.metric {
            if let Some(h) = &m.histogram {
                let buckets: i64 = h
                    .positive_delta
                    .iter()
                    .scan(0i64, |c, d| {
                        *c = c.wrapping_add(*d);
                        Some(*c)
                    })
                    .sum();
                let expected = h.sample_count.unwrap_or(0) as i64;
                assert_eq!(buckets.wrapping_add(h.zero_count.unwrap_or(0) as i64), expected);
            }
        }
        families += 1;
    }
    assert_eq!(families, report.families);
    // OTLP, cumulative and delta: a request that encodes and decodes to itself, and
    // whose points are every (series, field) of a kind OTLP carries, less the refused.
    for temporality in [tally_otlp::Temporality::Cumulative, tally_otlp::Temporality::Delta] {
        let mut exporter = tally_otlp::OtlpExporter::builder()
            .temporality(temporality)
            .build()
            .expect("default settings");
        for _ in 0..2 {
            let request = exporter.request(r);
            let encoded = request.encode_to_vec();
            let decoded = ExportMetricsServiceRequest::decode(encoded.as_slice())
                .expect("an encoded request decodes");
            assert_eq!(decoded, request);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(r) = round_trip::<RegistrySnapshot>(data) {
        use_registry(&r);
    }
    if let Some(m) = round_trip::<MetricSnapshot>(data) {
        m.series.iter().for_each(|s| use_set(&s.snapshot));
    }
    if let Some(s) = round_trip::<SeriesSnapshot>(data) {
        use_set(&s.snapshot);
    }
    if let Some(s) = round_trip::<SetSnapshot>(data) {
        use_set(&s);
    }
    if let Some(h) = round_trip::<HistogramSnapshot>(data) {
        use_histogram(&h);
    }
    if let Some(Value::Histogram(h)) = round_trip::<Value>(data) {
        use_histogram(&h);
    }
    if let Some(c) = round_trip::<HistogramConfig>(data) {
        assert!(c.bucket_count() > 0 && c.index(c.max_value()) == Some(c.bucket_count() - 1));
    }
    round_trip::<FieldDesc>(data);
    if let Some(l) = round_trip::<Last>(data) {
        let mut merged = Last::default();
        merged.merge(&l);
    }
    if let Some(s) = round_trip::<InferenceStatsSnapshot>(data) {
        let _ = (s.success_rate(), s.cache_hit_rate(), s.is_coherent());
        use_histogram(&s.latency_ns);
        InferenceStatsSnapshot::delta(&s, &s).expect("a snapshot minus itself");
    }
    if let Some(s) = round_trip::<CustomSnapshot>(data) {
        assert_eq!(s.sizes.config(), NARROW, "a generated snapshot keeps its declared config");
        use_histogram(&s.sizes);
        let mut twice = s.clone();
        twice.merge(&s);
    }
});
