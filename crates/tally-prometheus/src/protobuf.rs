//! The Prometheus protobuf format: the families the text formats write (the same plan:
//! names, help, units, labels, order, what is left out), as length-delimited
//! `io.prometheus.client.MetricFamily` messages, histograms as native histograms.

use prost::Message;
use tally_snapshot::{FieldKind, HistogramSnapshot, NativeHistogram, RegistrySnapshot};

use crate::encode::{Cell, FamilyPlan, plan};
use crate::proto::{
    Bucket, BucketSpan, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use crate::write::{exact_f64, exact_f64_u128};
use crate::{EncodeOptions, EncodeReport, Format, Skipped, encode};

/// The threshold of the zero bucket of every native histogram tally writes: 2^-128, the
/// Prometheus Go client's default (`DefNativeHistogramZeroThreshold`).
///
/// Only zeros are at or below it: the smallest value a histogram records above zero is one
/// step, at least 10^-12 of its unit
/// ([`HistogramConfig::MAX_DECIMALS`](tally_snapshot::HistogramConfig::MAX_DECIMALS)), so the zero bucket holds exactly
/// the zeros, as [`NativeHistogram::zero_count`] counts them. It is positive so that
/// Prometheus versions that tell a native histogram from a classic one by a non-empty
/// bucket or a positive threshold (2.42 does) take a histogram with no values yet as
/// native too; a no-op span (offset 0, length 0) says the same to later versions.
///
/// ```
/// assert_eq!(tally_prometheus::NATIVE_ZERO_THRESHOLD, 2f64.powi(-128));
/// ```
pub const NATIVE_ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;

/// Encodes `snapshot` in the Prometheus protobuf format with the default
/// [`EncodeOptions`] (native histogram buckets only), appending to `out`, and reports what
/// it wrote and left out. Serve it with
/// [`PROTOBUF_CONTENT_TYPE`](crate::PROTOBUF_CONTENT_TYPE).
///
/// A series whose integer value has no exact `f64` (a counter above 2^53, say 2^53 + 1)
/// is left out and reported as [`Skipped::InexactInteger`]: serve the text format, which
/// writes it exactly, for that scrape. Otherwise, as [`encode`]: only an invalid snapshot
/// built by hand loses anything.
///
/// See the [crate docs](crate), "The protobuf format", for what is written; the messages
/// are [`proto`](crate::proto)'s.
///
/// # Examples
///
/// ```
/// use prost::Message;
/// use tally_prometheus::proto::MetricFamily;
///
/// tally::metric_set! {
///     /// An API.
///     pub struct Api {
///         /// Time per request.
///         latency: Histogram,
///     }
/// }
/// let registry = tally::Registry::new();
/// let api = registry.register::<Api>("api", "The API.").unwrap();
/// api.record(|e| e.latency().record_f64(0.012)); // 12 ms
///
/// let mut body = Vec::new();
/// let report = tally_prometheus::encode_protobuf(&registry.snapshot(), &mut body);
/// assert!(report.skipped.is_empty());
/// let family = MetricFamily::decode_length_delimited(&body[..]).unwrap();
/// assert_eq!(family.name(), "api_latency_seconds");
/// assert_eq!(family.unit(), "seconds");
/// let h = family.metric[0].histogram.as_ref().unwrap();
/// assert_eq!((h.sample_count(), h.sample_sum()), (1, 0.012));
/// assert_eq!(h.schema(), 5);
/// // One native bucket, (2^((i-1)/32), 2^(i/32)], holds the 12 ms.
/// let i = h.positive_span[0].offset();
/// assert!(2f64.powf(f64::from(i - 1) / 32.0) < 0.012 && 0.012 <= 2f64.powf(f64::from(i) / 32.0));
/// assert_eq!(h.positive_delta, [1]);
/// ```
pub fn encode_protobuf(snapshot: &RegistrySnapshot, out: &mut Vec<u8>) -> EncodeReport {
    write_protobuf(snapshot, &EncodeOptions::default(), out)
}

/// Encodes `snapshot` in any `format`, with `options`, appending its bytes to `out`: the
/// text formats as [`encode`] writes them (UTF-8), [`Format::Protobuf`] as
/// [`encode_protobuf`] does. What a server that negotiated with
/// [`Format::from_accept_with_protobuf`] calls.
///
/// # Examples
///
/// ```
/// use tally_prometheus::{EncodeOptions, Format, encode_bytes};
///
/// let registry = tally::Registry::new();
/// let stats = registry.register::<tally::InferenceStats>("inference", "The model server.").unwrap();
/// stats.record_inference(true, false);
/// let snapshot = registry.snapshot();
/// let options = EncodeOptions::default();
///
/// let mut text = Vec::new();
/// encode_bytes(&snapshot, Format::Text, &options, &mut text);
/// assert!(String::from_utf8(text).unwrap().contains("\ninference_total_inferences_total 1\n"));
///
/// let mut proto = Vec::new();
/// let report = encode_bytes(&snapshot, Format::Protobuf, &options, &mut proto);
/// assert!(report.families > 0 && report.skipped.is_empty());
/// ```
pub fn encode_bytes(
    snapshot: &RegistrySnapshot,
    format: Format,
    options: &EncodeOptions,
    out: &mut Vec<u8>,
) -> EncodeReport {
    if format == Format::Protobuf {
        return write_protobuf(snapshot, options, out);
    }
    let mut text = String::new();
    let report = encode(snapshot, format, options, &mut text);
    if out.is_empty() {
        *out = text.into_bytes();
    } else {
        out.extend_from_slice(text.as_bytes());
    }
    report
}

fn write_protobuf(
    snapshot: &RegistrySnapshot,
    options: &EncodeOptions,
    out: &mut Vec<u8>,
) -> EncodeReport {
    let mut report = EncodeReport::default();
    let (metrics, families) = plan(snapshot, options, false, &mut report);
    let mut counts = Vec::new();
    for family in &families {
        let metric = &metrics[family.metric];
        // Counters are stored under their `_total` sample name, as the text format names
        // them (and as the Prometheus client libraries name the family in this format).
        let (kind, name) = match family.kind {
            FieldKind::Histogram(_) => (MetricType::Histogram, family.name.clone()),
            k if k.is_counter() => (MetricType::Counter, format!("{}_total", family.name)),
            // `plan` keeps counters, gauges and histograms only.
            _ => (MetricType::Gauge, family.name.clone()),
        };
        let mut message = MetricFamily {
            name: Some(name),
            help: (!family.help.is_empty()).then(|| family.help.clone().into_owned()),
            r#type: Some(kind as i32),
            metric: Vec::with_capacity(metric.len),
            unit: family.unit.map(str::to_owned),
        };
        for (cell, series) in metric.column(family.field).iter().zip(&metric.series) {
            let inexact = |value: String| Skipped::InexactInteger {
                metric: family.metric_name.to_owned(),
                field: family.field_name.to_owned(),
                labels: series.labels.clone(),
                value,
            };
            let mut m = Metric {
                label: metric
                    .label_names
                    .iter()
                    .zip(&series.labels)
                    .map(|(name, value)| LabelPair {
                        name: Some(name.clone()),
                        value: Some(value.clone()),
                    })
                    .collect(),
                ..Metric::default()
            };
            // A counter's or a gauge's value; a histogram's message is set here.
            let value = match *cell {
                Cell::Float(v) => Some(v),
                Cell::Unsigned(v) => match exact_f64(i128::from(v)) {
                    Some(exact) => Some(exact),
                    None => {
                        report.skipped.push(inexact(v.to_string()));
                        continue;
                    }
                },
                Cell::Signed(v) => match exact_f64(i128::from(v)) {
                    Some(exact) => Some(exact),
                    None => {
                        report.skipped.push(inexact(v.to_string()));
                        continue;
                    }
                },
                Cell::Histogram(h) => match histogram(h, family, options, &mut counts) {
                    Ok(histogram) => {
                        m.histogram = Some(histogram);
                        None
                    }
                    Err(sum) => {
                        report.skipped.push(inexact(sum.to_string()));
                        continue;
                    }
                },
            };
            match value {
                Some(value) if kind == MetricType::Counter => {
                    m.counter = Some(Counter { value: Some(value) });
                }
                Some(value) => m.gauge = Some(Gauge { value: Some(value) }),
                None => {}
            }
            message.metric.push(m);
        }
        if message.metric.is_empty() {
            continue;
        }
        report.families += 1;
        report.samples += message.metric.len();
        // A `Vec` grows as needed: only a fixed-size buffer can be too small.
        message.encode_length_delimited(out).expect("a Vec<u8> has room for any message");
    }
    report
}

/// The `Histogram` message of `h`: native buckets, and classic ones if the options say
/// so; `Err(sum)` if its sum is an integer with no exact `f64` (a histogram exposed in
/// whole steps whose sum is above 2^53 and odd, say).
fn histogram(
    h: &HistogramSnapshot,
    family: &FamilyPlan<'_>,
    options: &EncodeOptions,
    counts: &mut Vec<u64>,
) -> Result<Histogram, u128> {
    let schema = NativeHistogram::schema_for(h.config());
    // In the unit when the text formats write it in the unit (same bounds, same sum).
    let native = if family.scaled { h.to_native_in_unit(schema) } else { h.to_native(schema) };
    let sum = if family.scaled { native.sum } else { exact_f64_u128(h.sum()).ok_or(h.sum())? };
    let (spans, deltas) = native.positive_spans();
    let positive_span = if spans.is_empty() {
        // No value above zero: the no-op span marks the histogram native.
        vec![BucketSpan { offset: Some(0), length: Some(0) }]
    } else {
        spans
            .into_iter()
            .map(|(offset, length)| BucketSpan { offset: Some(offset), length: Some(length) })
            .collect()
    };
    let mut bucket = Vec::new();
    if options.is_classic_in_protobuf() {
        let per = h.config().steps_per_unit() as f64;
        // The bounds are clean (sorted, distinct, finite); the last count is `+Inf`'s,
        // which this format leaves implied.
        h.cumulative_counts_into(&family.bounds, counts);
        bucket = family
            .bounds
            .iter()
            .zip(counts.iter())
            .map(|(&b, &c)| Bucket {
                cumulative_count: Some(c),
                upper_bound: Some(if family.scaled { b / per } else { b }),
            })
            .collect();
    }
    Ok(Histogram {
        sample_count: Some(h.count()),
        sample_sum: Some(sum),
        bucket,
        schema: Some(i32::from(native.schema)),
        zero_threshold: Some(NATIVE_ZERO_THRESHOLD),
        zero_count: Some(native.zero_count),
        positive_span,
        positive_delta: deltas,
    })
}
