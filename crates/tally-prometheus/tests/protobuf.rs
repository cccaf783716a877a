//! The protobuf format, decoded back with the same `prost` messages and compared with the
//! snapshot field for field: the text formats' families (names, help, units, labels, order),
//! exact values, native histograms equal to `HistogramSnapshot::to_native_in_unit` at the
//! documented schema, classic buckets on request, integers never rounded; and the
//! documented quantile bound, checked against a model of Prometheus' `histogram_quantile`.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use prost::Message;
use tally_prometheus::proto::{self, MetricFamily, MetricType};
use tally_prometheus::{
    EncodeOptions, Format, NATIVE_ZERO_THRESHOLD, Skipped, encode, encode_bytes, encode_protobuf,
    family_name,
};
use tally_snapshot::{
    FieldDesc, FieldKind, HistogramConfig, HistogramSnapshot, MetricSnapshot, RegistrySnapshot,
    SeriesSnapshot, SetSnapshot, Value,
};

/// Every `MetricFamily` of a delimited body, in order; the whole body is consumed.
fn decode(mut body: &[u8]) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    while !body.is_empty() {
        families
            .push(MetricFamily::decode_length_delimited(&mut body).expect("a delimited family"));
    }
    families
}

/// The positive buckets `(index, count)` of a native histogram, from its spans and deltas
/// as Prometheus reads them (the first offset is an index, later ones gaps).
fn positive_buckets(h: &proto::Histogram) -> Vec<(i32, u64)> {
    let mut deltas = h.positive_delta.iter();
    let (mut index, mut count) = (0i32, 0i64);
    let mut out = Vec::new();
    for span in &h.positive_span {
        index += span.offset();
        for _ in 0..span.length() {
            count += deltas.next().expect("a delta per bucket");
            out.push((index, u64::try_from(count).expect("counts are not negative")));
            index += 1;
        }
    }
    assert!(deltas.next().is_none(), "more deltas than buckets");
    out
}

/// A one-series metric `name` with `fields` holding `values`.
fn one_series(name: &str, fields: Vec<FieldDesc>, values: Vec<Value>) -> RegistrySnapshot {
    let mut registry = RegistrySnapshot::default();
    registry.metrics.insert(
        name.to_owned(),
        MetricSnapshot {
            help: String::new(),
            unit: None,
            label_names: vec![],
            series: vec![SeriesSnapshot {
                labels: vec![],
                snapshot: SetSnapshot::new(fields, values).unwrap(),
            }],
            overflow_redirects: 0,
        },
    );
    registry
}

fn histogram_field(name: &'static str, config: HistogramConfig) -> FieldDesc {
    FieldDesc::new(name, FieldKind::Histogram(config), "A histogram.")
}

fn histogram_value(config: HistogramConfig, values: impl IntoIterator<Item = u64>) -> Value {
    Value::Histogram(Box::new(HistogramSnapshot::from_values(config, values).unwrap()))
}

/// The snapshot's integers that no `f64` holds (`u64::MAX`, 2^53 + 1, `i64::MAX`).
const INEXACT_FIELDS: [&str; 3] = ["max_events", "odd_events", "highest"];

#[test]
fn every_family_of_the_text_formats_is_written_with_the_same_name_help_unit_and_labels() {
    let snapshot = common::hostile_snapshot();
    let mut body = Vec::new();
    let report = encode_protobuf(&snapshot, &mut body);
    let families = decode(&body);

    // OpenMetrics' families, computed from the documented rules independently of the
    // encoder: the same ones, in the same order, less the inexact integers' families.
    let expected: Vec<common::Family> = common::expected(&snapshot, Format::OpenMetrics)
        .into_iter()
        .filter(|f| !INEXACT_FIELDS.iter().any(|field| f.name == format!("extreme_{field}")))
        .collect();
    assert_eq!(families.len(), expected.len());
    assert_eq!(report.families, families.len());
    assert_eq!(report.samples, families.iter().map(|f| f.metric.len()).sum::<usize>());
    for (got, want) in families.iter().zip(&expected) {
        // A counter is stored under its `_total` sample name, as the text format's
        // `# TYPE` line names it.
        let (kind, name) = match want.kind.as_str() {
            "counter" => (MetricType::Counter, format!("{}_total", want.name)),
            "gauge" => (MetricType::Gauge, want.name.clone()),
            _ => (MetricType::Histogram, want.name.clone()),
        };
        assert_eq!(got.name(), name);
        assert_eq!(got.r#type(), kind, "{name}");
        // Help and unit as OpenMetrics has them, unescaped (OpenMetrics keeps leading blanks).
        assert_eq!(got.help.as_deref(), want.help.as_deref(), "{name}");
        assert_eq!(got.unit.as_deref(), want.unit.as_deref(), "{name}");
        // The series' labels, in the order of the OpenMetrics samples (by label values).
        let want_labels: Vec<Vec<(String, String)>> = want
            .samples
            .iter()
            .filter(|s| !s.name.ends_with("_bucket") && !s.name.ends_with("_sum"))
            .map(|s| s.labels.clone())
            .collect();
        let got_labels: Vec<Vec<(String, String)>> = got
            .metric
            .iter()
            .map(|m| m.label.iter().map(|l| (l.name().to_owned(), l.value().to_owned())).collect())
            .collect();
        assert_eq!(got_labels, want_labels, "{name}");
    }
    // Every series carries exactly its snapshot's value.
    check_values(&snapshot, &families, &EncodeOptions::default());
    // The inexact integers, and nothing else, are left out, each reported with its value.
    let skipped: Vec<(&str, &str)> = report
        .skipped
        .iter()
        .map(|s| match s {
            Skipped::InexactInteger { metric, field, labels, value } => {
                assert!(metric == "extreme" && labels.is_empty(), "{s}");
                (field.as_str(), value.as_str())
            }
            other => panic!("unexpected: {other}"),
        })
        .collect();
    assert_eq!(
        skipped,
        [
            ("highest", "9223372036854775807"),
            ("max_events", "18446744073709551615"),
            ("odd_events", "9007199254740993")
        ]
    );
}

/// Checks each decoded series against the snapshot's value of the field the family comes
/// from: counters and gauges equal as `f64` (integers exactly, floats bit for bit),
/// histograms with the native buckets of `to_native_in_unit` (or `to_native`, in steps)
/// at `NativeHistogram::schema_for`, their exact count and their sum as the text formats write it.
fn check_values(snapshot: &RegistrySnapshot, families: &[MetricFamily], options: &EncodeOptions) {
    // Family name → (metric, field index).
    let mut origin = BTreeMap::new();
    for (metric_name, metric) in &snapshot.metrics {
        for (j, field) in metric.series[0].snapshot.fields().iter().enumerate() {
            let name = family_name(metric_name, field, options);
            let name = if field.kind.is_counter() { format!("{name}_total") } else { name };
            origin.insert(name, (metric, j));
        }
    }
    let mut checked = 0;
    for family in families {
        let (metric, j) = origin[family.name()];
        for m in &family.metric {
            let labels: Vec<String> = m.label.iter().map(|l| l.value().to_owned()).collect();
            let names: Vec<String> = m.label.iter().map(|l| l.name().to_owned()).collect();
            assert_eq!(names, metric.label_names);
            let series = metric.series.iter().find(|s| s.labels == labels).expect("a series");
            let value = &series.snapshot.values()[j];
            let scalar =
                m.counter.as_ref().and_then(|c| c.value).or(m.gauge.as_ref().and_then(|g| g.value));
            match value {
                Value::Counter(v) => assert_eq!(scalar.map(|f| f as u64), Some(*v)),
                Value::Gauge(v) => assert_eq!(scalar.map(|f| f as i64), Some(*v)),
                Value::LastValue(l) => assert_eq!(scalar.map(|f| f as i64), Some(l.value)),
                Value::CounterF64(v) | Value::GaugeF64(v) => {
                    assert_eq!(scalar.map(f64::to_bits), Some(v.to_bits()));
                }
                Value::LastValueF64(l) => {
                    assert_eq!(scalar.map(f64::to_bits), Some(l.value.to_bits()))
                }
                Value::Histogram(h) => {
                    let got = m.histogram.as_ref().expect("a histogram");
                    let config = h.config();
                    let scaled = options.is_in_unit() && config.decimals() > 0;
                    let schema = tally_snapshot::NativeHistogram::schema_for(config);
                    let native =
                        if scaled { h.to_native_in_unit(schema) } else { h.to_native(schema) };
                    assert_eq!(got.schema(), i32::from(schema));
                    assert_eq!(got.schema(), i32::from(config.sub_bucket_bits().min(8)));
                    assert_eq!(got.sample_count(), h.count());
                    let sum = if scaled { config.sum_to_unit(h.sum()) } else { h.sum() as f64 };
                    assert_eq!(got.sample_sum().to_bits(), sum.to_bits());
                    assert_eq!(got.zero_threshold(), NATIVE_ZERO_THRESHOLD);
                    assert_eq!(got.zero_count(), native.zero_count);
                    assert_eq!(positive_buckets(got), native.positive);
                    assert_eq!(
                        got.zero_count() + native.positive.iter().map(|b| b.1).sum::<u64>(),
                        h.count()
                    );
                    assert!(m.counter.is_none() && m.gauge.is_none());
                }
                other => panic!("a value of a kind these tests do not know: {other:?}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn native_buckets_are_to_native_in_unit_at_the_configs_sub_bucket_bits() {
    // 1,000 latencies from 100 µs to 1 s, recorded in nanoseconds (seconds, k = 5), and
    // the same in a histogram with 2^10 sub-buckets (schema clamped to 8).
    let ns: Vec<u64> = (0..1000).map(|i| (1e5 * 10f64.powf(f64::from(i) * 4e-3)) as u64).collect();
    let fine = HistogramConfig::new(10, 100_000_000_000)
        .unwrap()
        .in_unit(tally_snapshot::Unit::Seconds, 9)
        .unwrap();
    let snapshot = one_series(
        "api",
        vec![histogram_field("latency", HistogramConfig::DEFAULT), histogram_field("fine", fine)],
        vec![
            histogram_value(HistogramConfig::DEFAULT, ns.clone()),
            histogram_value(fine, ns.clone()),
        ],
    );
    let mut body = Vec::new();
    assert!(encode_protobuf(&snapshot, &mut body).skipped.is_empty());
    let families = decode(&body);
    let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["api_fine_seconds", "api_latency_seconds"]);
    check_values(&snapshot, &families, &EncodeOptions::default());
    let schemas: Vec<i32> =
        families.iter().map(|f| f.metric[0].histogram.as_ref().unwrap().schema()).collect();
    assert_eq!(schemas, [8, 5]);
    // In seconds: the buckets hold the values' range, 100 µs to 1 s.
    let h = families[1].metric[0].histogram.as_ref().unwrap();
    let buckets = positive_buckets(h);
    let bound = |i: i32| (f64::from(i) / 32.0).exp2();
    assert!(bound(buckets[0].0 - 1) < 1e-4 * 1.04 && bound(buckets[0].0) >= 1e-4 * 0.96);
    assert!(
        bound(buckets.last().unwrap().0) >= 0.96 && bound(buckets.last().unwrap().0 - 1) < 1.04
    );
    // Native only by default.
    assert!(h.bucket.is_empty());

    // Not in the unit: raw nanosecond steps, named so, the sum an exact integer.
    let options = EncodeOptions::new().in_unit(false);
    let mut body = Vec::new();
    encode_bytes(&snapshot, Format::Protobuf, &options, &mut body);
    let families = decode(&body);
    assert_eq!(families[1].name(), "api_latency");
    assert_eq!(families[1].unit, None);
    check_values(&snapshot, &families, &options);
}

#[test]
fn a_histogram_without_values_is_native_for_every_prometheus_version() {
    // Prometheus 2.42 takes a histogram as native if it has a bucket or a positive zero
    // threshold; later versions also read a no-op span as "native, empty".
    let snapshot = one_series(
        "api",
        vec![
            histogram_field("latency", HistogramConfig::DEFAULT),
            histogram_field("zeros", HistogramConfig::BYTES),
        ],
        vec![
            histogram_value(HistogramConfig::DEFAULT, []),
            histogram_value(HistogramConfig::BYTES, [0, 0]),
        ],
    );
    let mut body = Vec::new();
    encode_protobuf(&snapshot, &mut body);
    let families = decode(&body);
    let empty = families[0].metric[0].histogram.as_ref().unwrap();
    assert_eq!((empty.sample_count(), empty.sample_sum(), empty.zero_count()), (0, 0.0, 0));
    assert!(empty.zero_threshold() > 0.0);
    assert_eq!(empty.positive_span, [proto::BucketSpan { offset: Some(0), length: Some(0) }]);
    assert!(empty.positive_delta.is_empty());
    let zeros = families[1].metric[0].histogram.as_ref().unwrap();
    assert_eq!((zeros.sample_count(), zeros.zero_count()), (2, 2));
    assert_eq!(zeros.zero_threshold(), 2f64.powi(-128));
    check_values(&snapshot, &families, &EncodeOptions::default());
}

#[test]
fn integers_without_an_exact_f64_are_left_out_and_reported_never_rounded() {
    let two53 = 1u64 << 53;
    let fields = vec![
        FieldDesc::new("odd", FieldKind::Counter, ""),
        FieldDesc::new("even", FieldKind::Counter, ""),
        FieldDesc::new("lowest", FieldKind::Gauge, ""),
        FieldDesc::new("low_odd", FieldKind::Gauge, ""),
        histogram_field("size", HistogramConfig::BYTES),
        histogram_field("small", HistogramConfig::BYTES),
    ];
    let values = vec![
        Value::Counter(two53 + 1),
        Value::Counter(two53 + 2),
        Value::Gauge(i64::MIN),
        Value::Gauge(-(two53 as i64) - 1),
        // A sum in whole bytes of 2^53 + 1: the text formats write it exactly.
        histogram_value(HistogramConfig::BYTES, [two53, 1]),
        histogram_value(HistogramConfig::BYTES, [two53, 2]),
    ];
    let snapshot = one_series("x", fields, values);
    let mut body = Vec::new();
    let report = encode_protobuf(&snapshot, &mut body);
    let families = decode(&body);
    let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["x_even_total", "x_lowest", "x_small_bytes"]);
    assert_eq!(families[0].metric[0].counter.as_ref().unwrap().value, Some((two53 + 2) as f64));
    assert_eq!(families[1].metric[0].gauge.as_ref().unwrap().value, Some(-(2f64.powi(63))));
    let small = families[2].metric[0].histogram.as_ref().unwrap();
    assert_eq!(small.sample_sum(), (two53 + 2) as f64);
    let skipped: Vec<String> = report.skipped.iter().map(ToString::to_string).collect();
    assert_eq!(skipped.len(), 3, "{skipped:#?}");
    for (s, (field, value)) in report.skipped.iter().zip([
        // In family-name order, as written.
        ("low_odd", "-9007199254740993"),
        ("odd", "9007199254740993"),
        ("size", "9007199254740993"),
    ]) {
        assert!(
            matches!(s, Skipped::InexactInteger { field: f, value: v, .. } if f == field && v == value),
            "{s}"
        );
        assert!(s.to_string().contains("serve the text format"), "{s}");
    }
    // The text format writes all of them exactly.
    let mut text = String::new();
    encode(&snapshot, Format::Text, &EncodeOptions::default(), &mut text);
    assert!(text.contains("\nx_odd_total 9007199254740993\n"), "{text}");
    assert!(text.contains("\nx_low_odd -9007199254740993\n"), "{text}");
    assert!(text.contains("\nx_size_bytes_sum 9007199254740993\n"), "{text}");
}

#[test]
fn classic_buckets_are_added_only_when_asked_and_equal_the_text_formats() {
    let snapshot = common::hostile_snapshot();
    let options = EncodeOptions::new().classic_in_protobuf(true);
    let mut body = Vec::new();
    encode_bytes(&snapshot, Format::Protobuf, &options, &mut body);
    let families = decode(&body);
    // The text format's `_bucket` lines, parsed: (family, labels, le) → count.
    let mut text = String::new();
    encode(&snapshot, Format::Text, &options, &mut text);
    let parsed = common::parse(&text, Format::Text).unwrap();
    let mut classic = 0;
    for family in families.iter().filter(|f| f.r#type() == MetricType::Histogram) {
        let text_family = parsed.iter().find(|f| f.name == family.name()).unwrap();
        for m in &family.metric {
            let labels: Vec<(String, String)> =
                m.label.iter().map(|l| (l.name().to_owned(), l.value().to_owned())).collect();
            let h = m.histogram.as_ref().unwrap();
            let text_buckets: Vec<(f64, u64)> = text_family
                .samples
                .iter()
                .filter(|s| s.name.ends_with("_bucket") && s.labels[..labels.len()] == labels[..])
                .map(|s| (s.labels.last().unwrap().1.parse().unwrap(), s.value.parse().unwrap()))
                .collect();
            // The same bounds and counts, `+Inf` implied (its count is `sample_count`).
            let (last, finite) = text_buckets.split_last().unwrap();
            assert_eq!(*last, (f64::INFINITY, h.sample_count()));
            let got: Vec<(f64, u64)> =
                h.bucket.iter().map(|b| (b.upper_bound(), b.cumulative_count())).collect();
            assert_eq!(got, finite, "{}", family.name());
            // And the native buckets beside them.
            assert!(!h.positive_span.is_empty() && h.schema.is_some());
            classic += got.len();
        }
    }
    assert!(classic > 0);
    check_values(&snapshot, &families, &options);
}

#[test]
fn encode_writes_no_protobuf_into_a_string_and_encode_bytes_writes_every_format() {
    let snapshot = common::hostile_snapshot();
    let mut out = String::from("kept");
    let report = encode(&snapshot, Format::Protobuf, &EncodeOptions::default(), &mut out);
    assert_eq!(out, "kept");
    assert_eq!(report.skipped, [Skipped::BinaryFormat { format: Format::Protobuf }]);
    assert_eq!((report.families, report.samples), (0, 0));
    for format in [Format::Text, Format::OpenMetrics] {
        let mut bytes = b"head".to_vec();
        let r = encode_bytes(&snapshot, format, &EncodeOptions::default(), &mut bytes);
        let mut text = String::from("head");
        let t = encode(&snapshot, format, &EncodeOptions::default(), &mut text);
        assert_eq!(bytes, text.into_bytes());
        assert_eq!(r, t);
    }
    let mut a = Vec::new();
    let mut b = Vec::new();
    assert_eq!(
        encode_protobuf(&snapshot, &mut a),
        encode_bytes(&snapshot, Format::Protobuf, &EncodeOptions::default(), &mut b)
    );
    assert_eq!(a, b);
}

/// Prometheus' `histogram_quantile` on a native histogram of positive values
/// (`histogramQuantile`, promql/quantile.go at v2.42.0): the bucket where the cumulative
/// count first reaches `q × count` (the zero bucket first), then linear interpolation
/// inside it; a zero bucket's lower bound is 0 when only positive buckets exist.
fn prometheus_quantile(q: f64, h: &proto::Histogram) -> f64 {
    let count = h.sample_count() as f64;
    let rank = q * count;
    let scale = (-f64::from(h.schema())).exp2();
    let threshold = h.zero_threshold();
    let mut buckets = vec![(-threshold, threshold, h.zero_count() as f64)];
    for (i, c) in positive_buckets(h) {
        buckets.push((
            ((f64::from(i) - 1.0) * scale).exp2(),
            (f64::from(i) * scale).exp2(),
            c as f64,
        ));
    }
    let mut seen = 0.0;
    let mut bucket = buckets[0];
    for &b in &buckets {
        bucket = b;
        seen += b.2;
        if seen >= rank {
            break;
        }
    }
    if bucket.0 < 0.0 && bucket.1 > 0.0 && buckets.len() > 1 {
        bucket.0 = 0.0;
    }
    let seen = seen.min(count);
    if seen < rank {
        return bucket.1;
    }
    let rank = rank - (seen - bucket.2);
    bucket.0 + (bucket.1 - bucket.0) * (rank / bucket.2)
}

/// The f64 rounding the crate docs allow around the bound: a relative 2^-50.
const ROUNDING: f64 = 1.0 / (1u64 << 50) as f64;

proptest! {
    /// The crate docs' bound ("The protobuf format", "Quantiles"): with `γ = 2^(2^-schema)`
    /// and `ε = 2^-k`, Prometheus' quantile `P` of the native histogram is within
    /// `X(1 − ε/2)/γ < P < X(1 + ε/2)γ` of the exact quantile `X`, and, for ranks other than
    /// the first and last, within `T/γ < P < (T + ½ step)γ` of tally's own quantile `T`.
    #[test]
    fn prometheus_quantiles_of_the_native_histogram_are_within_the_documented_bound(
        k in 1u8..=10,
        decimals in 0u8..=9,
        mut values in prop::collection::vec(1u64..=1_000_000_000, 1..300),
        qs in prop::collection::vec(0.0f64..=1.0, 1..6),
    ) {
        let config = HistogramConfig::new(k, 1_000_000_000).unwrap()
            .in_unit(tally_snapshot::Unit::Seconds, decimals).unwrap();
        let snapshot = one_series("h", vec![histogram_field("v", config)], vec![histogram_value(config, values.clone())]);
        let mut body = Vec::new();
        encode_protobuf(&snapshot, &mut body);
        let families = decode(&body);
        let h = families[0].metric[0].histogram.as_ref().unwrap();
        let Value::Histogram(tally) = &snapshot.metrics["h"].series[0].snapshot.values()[0] else { unreachable!() };

        values.sort_unstable();
        let per = config.steps_per_unit() as f64;
        let gamma = (-f64::from(h.schema())).exp2().exp2();
        let eps = config.relative_error();
        let count = values.len() as u64;
        for q in qs.into_iter().chain([0.5, 0.9, 0.99]).filter(|&q| q > 0.0) {
            let p = prometheus_quantile(q, h);
            // The rank both use: ceil(q × count), from the same f64 product.
            let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
            let exact = values[rank as usize - 1] as f64 / per;
            let low = exact * (1.0 - eps / 2.0) / gamma * (1.0 - ROUNDING);
            let high = exact * (1.0 + eps / 2.0) * gamma * (1.0 + ROUNDING);
            prop_assert!(low < p && p < high, "q {q}: exact {exact}, Prometheus {p}, bound ({low}, {high})");
            if 1 < rank && rank < count {
                let t = tally.quantile(q).unwrap() as f64;
                let low = t / per / gamma * (1.0 - ROUNDING);
                let high = (t + 0.5) / per * gamma * (1.0 + ROUNDING);
                prop_assert!(low < p && p < high, "q {q}: tally {t} steps, Prometheus {p}, bound ({low}, {high})");
            }
        }
    }
}
