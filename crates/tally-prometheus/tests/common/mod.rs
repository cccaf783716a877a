//! Shared by the integration tests: a strict parser of both formats, the exposition a
//! snapshot must produce (computed from the documented rules, independently of the
//! encoder), and a registry full of hostile label values and extreme numbers.
#![allow(dead_code)] // Each test file uses its own part.

pub mod parse;

use std::time::Duration;

use tally::{Registry, RegistrySnapshot};
use tally_prometheus::{DEFAULT_LATENCY_BUCKETS_NS, Format};
use tally_snapshot::{
    FieldDesc, FieldKind, HistogramConfig, HistogramSnapshot, Last, LastF64, MetricSnapshot,
    SeriesSnapshot, SetSnapshot, Unit, Value,
};

#[allow(unused_imports)] // Not every test file parses.
pub use parse::{Family, Sample, parse};

/// What encoding `snapshot` with the default options must give, family by family, in
/// output order. Assumes no name clashes and valid names (as the generators make).
pub fn expected(snapshot: &RegistrySnapshot, format: Format) -> Vec<Family> {
    let text = format == Format::Text;
    let mut families = Vec::new();
    for (metric_name, metric) in &snapshot.metrics {
        let Some(first) = metric.series.first() else { continue };
        let mut series: Vec<&SeriesSnapshot> = metric.series.iter().collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        for (j, field) in first.snapshot.fields().iter().enumerate() {
            // A field named like its metric is the metric itself.
            let prefix =
                if field.name == *metric_name { String::new() } else { format!("{metric_name}_") };
            let base = format!("{prefix}{}", field.name);
            // The declared unit, and whether a histogram's steps are divided into it.
            let (unit_declared, per, scaled) = match field.kind {
                FieldKind::Histogram(c) => {
                    let per = 10f64.powi(i32::from(c.decimals()));
                    (c.unit(), per, c.decimals() > 0)
                }
                _ => (field.unit, 1.0, false),
            };
            let ns_of_seconds = matches!(field.kind, FieldKind::Histogram(c)
                if c.unit() == Unit::Seconds && c.decimals() == 9);
            let kind = match field.kind {
                FieldKind::Counter | FieldKind::CounterF64 => "counter",
                FieldKind::Histogram(_) => "histogram",
                _ => "gauge",
            };
            let mut family = base.clone();
            if kind == "counter" {
                family = family.strip_suffix("_total").unwrap_or(&family).to_owned();
            }
            if ns_of_seconds {
                family = family.strip_suffix("_ns").unwrap_or(&family).to_owned();
            }
            let suffix = format!("_{}", unit_declared.as_str());
            if !unit_declared.is_none() && !family.ends_with(&suffix) {
                family.push_str(&suffix);
            }
            let help = if field.help.is_empty() { metric.help.as_str() } else { &field.help };
            // Runs of spaces collapse (doc comments joined over lines), and a field exposed in
            // seconds does not say nanoseconds.
            let mut help = help.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
            if ns_of_seconds {
                help = help.replace("nanosecond", "second").replace("Nanosecond", "Second");
            }
            let help = match (help.is_empty(), text) {
                (true, _) => None,
                (false, true) => Some(help.trim_start_matches([' ', '\t']).to_owned()),
                (false, false) => Some(help.to_owned()),
            };
            let unit = match (text, unit_declared.is_none(), metric.unit.as_deref()) {
                (true, _, _) => None,
                (false, false, _) => Some(unit_declared.as_str().to_owned()),
                (false, true, Some(u)) if !u.is_empty() && family.ends_with(&format!("_{u}")) => {
                    Some(u.to_owned())
                }
                _ => None,
            };
            let mut samples = Vec::new();
            for s in &series {
                let labels: Vec<(String, String)> =
                    metric.label_names.iter().cloned().zip(s.labels.iter().cloned()).collect();
                let sample = |suffix: &str, labels: Vec<(String, String)>, value: String| Sample {
                    name: format!("{family}{suffix}"),
                    labels,
                    value,
                };
                match &s.snapshot.values()[j] {
                    Value::Counter(v) => samples.push(sample("_total", labels, v.to_string())),
                    Value::Gauge(v) => samples.push(sample("", labels, v.to_string())),
                    Value::LastValue(l) => samples.push(sample("", labels, l.value.to_string())),
                    Value::CounterF64(v) => {
                        samples.push(sample("_total", labels, format!("{v:?}")))
                    }
                    Value::GaugeF64(v) => samples.push(sample("", labels, format!("{v:?}"))),
                    Value::LastValueF64(l) => {
                        samples.push(sample("", labels, format!("{:?}", l.value)))
                    }
                    Value::Histogram(h) => {
                        let cumulative = h.to_cumulative(&default_bounds_of(h.config()));
                        assert_eq!(cumulative.last(), Some(&(f64::INFINITY, h.count())));
                        for (bound, count) in cumulative {
                            let le = if bound.is_infinite() {
                                "+Inf".to_owned()
                            } else if scaled {
                                format!("{:?}", bound / per)
                            } else {
                                format!("{bound:?}")
                            };
                            let mut labels = labels.clone();
                            labels.push(("le".to_owned(), le));
                            samples.push(sample("_bucket", labels, count.to_string()));
                        }
                        let sum = if scaled {
                            format!("{:?}", h.config().sum_to_unit(h.sum()))
                        } else {
                            h.sum().to_string()
                        };
                        samples.push(sample("_sum", labels.clone(), sum));
                        samples.push(sample("_count", labels, h.count().to_string()));
                    }
                    other => panic!("a value of a kind these tests do not know: {other:?}"),
                }
            }
            let name =
                if text && kind == "counter" { format!("{family}_total") } else { family.clone() };
            families.push(Family { name, kind: kind.to_owned(), help, unit, samples });
        }
    }
    families.sort_by(|a, b| {
        // Output order is by family name; in the text format a counter is named by its
        // `_total` sample, so sort by the family name without it.
        let key = |f: &Family| -> String {
            if text && f.kind == "counter" {
                f.name.strip_suffix("_total").unwrap_or(&f.name).to_owned()
            } else {
                f.name.clone()
            }
        };
        key(a).cmp(&key(b))
    });
    families
}

/// The default classic bounds of a histogram, in steps, by the documented rule: seconds get
/// 1, 2.5, 5 × 10^n from 1 µs to 10 s, those from one step to `max_value`; other units
/// 1, 2.5, 5 × 10^n between `2^sub_bucket_bits` steps and `max_value`.
fn default_bounds_of(config: HistogramConfig) -> Vec<f64> {
    let per = 10f64.powi(i32::from(config.decimals()));
    if config.unit() == Unit::Seconds {
        // 10^(decimals - 9) steps per nanosecond; bounds from one step to the maximum.
        let d = i32::from(config.decimals());
        return DEFAULT_LATENCY_BUCKETS_NS
            .iter()
            .map(|&ns| if d >= 9 { ns * 10f64.powi(d - 9) } else { ns / 10f64.powi(9 - d) })
            .filter(|&b| b >= 1.0 && b <= config.max_value() as f64)
            .collect();
    }
    let (low, high) = ((1u64 << config.sub_bucket_bits()) as f64, config.max_value() as f64);
    let mut out = Vec::new();
    for n in -12..=20 {
        for m in [1.0, 2.5, 5.0] {
            // The bound in the unit, as a short decimal, then in steps.
            let in_unit: f64 = format!("{m}e{n}").parse().unwrap();
            let b = (in_unit * per).round();
            if b >= low && b <= high && in_unit * per >= low {
                out.push(b);
            }
        }
    }
    out
}

/// Label values a scraper must read back exactly: empty, quotes, backslashes (one ending
/// the value, before the closing quote), newlines, carriage return, tab, NUL, braces,
/// commas, `=`, a `#` after a space, and unicode including line separators.
pub const HOSTILE: &[&str] = &[
    "",
    "plain",
    "with \"quotes\"",
    "back\\slash",
    "trailing\\",
    "\\\"",
    "\\n is not a newline",
    "new\nline\n",
    "tab\tand\rcarriage",
    "nul\0byte",
    "}{,=\"",
    " # not a comment",
    "ünïcødé ✓ 😀 \u{2028}\u{85}\u{feff}",
];

tally::metric_set! {
    /// The set the external tests expose.
    pub struct Api {
        /// Requests served.
        requests: Counter,
        /// Requests that failed, already named with "_total" \ as Prometheus likes.
        errors_total: Counter,
        /// Requests being served right now.
        in_flight: Gauge,
        /// The temperature of the accelerator, in degrees Celsius.
        temperature_celsius: LastValue,
        /// Request latency.
        latency_ns: Histogram,
        /// Response size.
        response_size_bytes: Histogram(HistogramConfig::BYTES),
        /// Fraction of the accelerator busy, last sampled.
        gpu_busy: LastValueF64 in Ratio,
        /// CPU time spent serving.
        cpu_seconds_total: CounterF64 in Seconds,
        /// Batches queued, in fractions of a batch.
        queue_fill: GaugeF64,
        /// Prompt tokens per request.
        prompt_tokens: Histogram(TOKENS),
    }
}

/// A plain number from 0.5 to 100,000 within 2^-5 (steps of 0.01).
pub const TOKENS: HistogramConfig = match HistogramConfig::new(5, 10_000_000) {
    Ok(c) => match c.in_unit(Unit::None, 2) {
        Ok(c) => c,
        Err(_) => panic!("valid"),
    },
    Err(_) => panic!("valid"),
};

/// A registry with every kind of field, a plain set, a family with hostile label values and
/// an overflow series, run-time sets, and a hand-built metric of extreme values; collected.
pub fn hostile_snapshot() -> RegistrySnapshot {
    let registry = Registry::new();
    let api = registry.metric("api").help("The API.").unit("bytes").set::<Api>().unwrap();
    api.record(|e| {
        e.requests().add(3);
        e.errors_total().inc();
        e.in_flight().add(2);
        e.temperature_celsius().set(-7);
        e.latency_ns().record(1_500);
        e.latency_ns().record(2_000_000);
        e.response_size_bytes().record(1_234);
        e.gpu_busy().set(0.75);
        e.cpu_seconds_total().add(0.1);
        e.cpu_seconds_total().add(0.2);
        e.queue_fill().add(-0.3);
        e.prompt_tokens().record_f64(0.5);
        e.prompt_tokens().record_f64(1234.56);
    });
    let by_model = registry
        .metric("api_by_model")
        .help("Per model and device:\nthe API's figures \\ \"quoted\".")
        .cardinality_limit(HOSTILE.len() - 2)
        .family::<Api>(&["model", "device"])
        .unwrap();
    for (i, model) in HOSTILE.iter().enumerate() {
        let device = HOSTILE[HOSTILE.len() - 1 - i];
        by_model
            .with(&[model, device], |s| {
                s.record(|e| {
                    e.requests().add(i as u64 + 1);
                    e.in_flight().sub(i as i64);
                    e.latency_ns().record_duration(Duration::from_micros(10 << i));
                    e.response_size_bytes().record(1 << (3 * i));
                    e.gpu_busy().set(1.0 / (i as f64 + 3.0));
                    e.cpu_seconds_total().add(i as f64 * 1e-9);
                    e.queue_fill().sub(i as f64 / 7.0);
                    e.prompt_tokens().record_f64(i as f64 * 10.01);
                })
            })
            .unwrap();
    }
    let mut snapshot = registry.snapshot();
    // The overflow series is there, in label order among the others.
    let series = &snapshot.metrics["api_by_model"].series;
    assert!(series.iter().any(|s| s.labels.iter().all(|l| l == "__overflow__")));

    // Numbers no f64 holds exactly, the extremes of each type, and a histogram sum beyond
    // u64, on a metric with an empty help and a field with none.
    let fields = vec![
        FieldDesc::new("max_events", FieldKind::Counter, "u64::MAX."),
        FieldDesc::new("odd_events", FieldKind::Counter, "2^53 + 1: not an f64."),
        FieldDesc::new("lowest", FieldKind::Gauge, ""),
        FieldDesc::new("highest", FieldKind::LastValue, "i64::MAX, set."),
        FieldDesc::new("never_set", FieldKind::LastValue, "Never set."),
        FieldDesc::new("huge", FieldKind::Histogram(HistogramConfig::DEFAULT), "Huge values."),
        FieldDesc::new("float_max", FieldKind::CounterF64, "f64::MAX."),
        FieldDesc::new("float_tiny", FieldKind::GaugeF64, "The smallest subnormal, negative."),
        FieldDesc::new("float_third", FieldKind::LastValueF64, "1/3, set.").with_unit(Unit::Ratio),
    ];
    let huge = HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [0, 7, u64::MAX, u64::MAX])
        .unwrap();
    let values = vec![
        Value::Counter(u64::MAX),
        Value::Counter((1 << 53) + 1),
        Value::Gauge(i64::MIN),
        Value::LastValue(Last::new(i64::MAX, 1)),
        Value::LastValue(Last::default()),
        Value::Histogram(Box::new(huge)),
        Value::CounterF64(f64::MAX),
        Value::GaugeF64(-5e-324),
        Value::LastValueF64(LastF64::new(1.0 / 3.0, 7)),
    ];
    let extreme = SetSnapshot::new(fields, values).unwrap();
    snapshot.metrics.insert(
        "extreme".to_owned(),
        MetricSnapshot {
            help: String::new(),
            unit: None,
            label_names: vec![],
            series: vec![SeriesSnapshot { labels: vec![], snapshot: extreme }],
            overflow_redirects: 0,
        },
    );
    snapshot
}

/// Encodes with the default options.
pub fn encode(snapshot: &RegistrySnapshot, format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Text => tally_prometheus::encode_text(snapshot, &mut out),
        Format::OpenMetrics => tally_prometheus::encode_openmetrics(snapshot, &mut out),
        other => panic!("a format these tests do not know: {other:?}"),
    }
    out
}
