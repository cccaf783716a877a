//! The encoder: plans the families of a registry snapshot (names, clashes, series order),
//! then writes them in either text format. The protobuf format (`protobuf.rs`) writes the
//! same plan.

use std::collections::HashMap;
use std::ops::Range;

use tally_snapshot::{
    FieldDesc, FieldKind, HistogramSnapshot, RegistrySnapshot, SeriesSnapshot, Value,
    is_valid_label_name, is_valid_metric_name, reserved_labels, reserved_suffixes,
};

use crate::naming::{family_name, scaled, unit_of};
use crate::write::{push_f64, push_help, push_i64, push_label_value, push_u64, push_u128};
use crate::{EncodeOptions, EncodeReport, Format, Skipped};

/// Encodes `snapshot` in the Prometheus text format 0.0.4 with the default
/// [`EncodeOptions`], appending to `out`. Serve it with [`TEXT_CONTENT_TYPE`](crate::TEXT_CONTENT_TYPE).
///
/// See the [crate docs](crate) for the naming rules and [`encode`] for what is left out of
/// an invalid snapshot.
///
/// # Examples
///
/// ```
/// use tally::{Cache, InferenceStats, Outcome, Registry};
///
/// let registry = Registry::new();
/// let stats = registry.register::<InferenceStats>("inference", "The model server.").unwrap();
/// stats.record_request(Outcome::Success, Cache::Miss);
///
/// let mut out = String::new();
/// tally_prometheus::encode_text(&registry.snapshot(), &mut out);
/// let help = "# HELP inference_total_inferences_total Inference requests completed.\n";
/// let kind = "# TYPE inference_total_inferences_total counter\n";
/// let sample = "inference_total_inferences_total 1\n";
/// assert!(out.contains(&format!("{help}{kind}{sample}")));
/// ```
pub fn encode_text(snapshot: &RegistrySnapshot, out: &mut String) {
    encode(snapshot, Format::Text, &EncodeOptions::default(), out);
}

/// Encodes `snapshot` in OpenMetrics 1.0 text with the default [`EncodeOptions`], appending
/// to `out` (ending with `# EOF`). Serve it with
/// [`OPENMETRICS_CONTENT_TYPE`](crate::OPENMETRICS_CONTENT_TYPE).
///
/// See the [crate docs](crate) for the naming, unit and histogram rules.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tally::{Cache, InferenceStats, Outcome, Registry};
///
/// let registry = Registry::new();
/// let by_model = registry
///     .metric("inference")
///     .help("The model server.")
///     .family::<InferenceStats>(&["model"])
///     .unwrap();
/// by_model
///     .with(&["bert"], |s| {
///         s.record_request_with_latency(Outcome::Success, Cache::Hit, Duration::from_millis(3))
///     })
///     .unwrap();
///
/// let mut out = String::new();
/// tally_prometheus::encode_openmetrics(&registry.snapshot(), &mut out);
/// assert!(out.contains(
///     "# TYPE inference_total_inferences counter\n\
///      inference_total_inferences_total{model=\"bert\"} 1\n"
/// ));
/// // `latency_ns` is exposed in seconds, with a unit.
/// assert!(out.contains("# TYPE inference_latency_seconds histogram\n# UNIT inference_latency_seconds seconds\n"));
/// assert!(out.contains("inference_latency_seconds_bucket{model=\"bert\",le=\"0.0025\"} 0\n"));
/// assert!(out.contains("inference_latency_seconds_bucket{model=\"bert\",le=\"0.005\"} 1\n"));
/// assert!(out.contains("inference_latency_seconds_bucket{model=\"bert\",le=\"+Inf\"} 1\n"));
/// assert!(out.contains("inference_latency_seconds_count{model=\"bert\"} 1\n"));
/// assert!(out.ends_with("# EOF\n"));
/// ```
pub fn encode_openmetrics(snapshot: &RegistrySnapshot, out: &mut String) {
    encode(snapshot, Format::OpenMetrics, &EncodeOptions::default(), out);
}

/// Encodes `snapshot` in `format` with `options`, appending to `out`, and reports what it
/// wrote and left out.
///
/// Nothing here fails: what cannot be written validly is left out and listed in
/// [`EncodeReport::skipped`] (see [`Skipped`]), and the rest is written. `format` is a text
/// format: given [`Format::Protobuf`], which a `String` cannot hold, it writes nothing and
/// reports [`Skipped::BinaryFormat`] (write that with
/// [`encode_bytes`](crate::encode_bytes)). Only a snapshot that fails
/// [`RegistrySnapshot::validate`] can lose anything here: a `tally::Registry` refuses at
/// registration what would clash or be invalid, and deserialization and merges refuse
/// invalid snapshots, so only one built by hand (its fields are public) can reach this
/// function invalid. Check such a snapshot with `validate` first, or read the report.
///
/// # Examples
///
/// ```
/// use tally_prometheus::{EncodeOptions, Format, Skipped, encode};
/// use tally_snapshot::{FieldDesc, FieldKind, MetricSnapshot, RegistrySnapshot, SeriesSnapshot, SetSnapshot, Value};
///
/// // Two fields that would both be exposed as the family `api_requests`.
/// let fields = vec![
///     FieldDesc::new("requests", FieldKind::Counter, "Requests."),
///     FieldDesc::new("requests_total", FieldKind::Counter, "Requests, again."),
/// ];
/// let snapshot = SetSnapshot::new(fields, vec![Value::Counter(1), Value::Counter(2)]).unwrap();
/// let mut registry = RegistrySnapshot::default();
/// registry.metrics.insert("api".into(), MetricSnapshot {
///     help: String::new(),
///     unit: None,
///     label_names: vec![],
///     series: vec![SeriesSnapshot { labels: vec![], snapshot }],
///     overflow_redirects: 0,
/// });
///
/// let mut out = String::new();
/// let report = encode(&registry, Format::Text, &EncodeOptions::default(), &mut out);
/// assert_eq!(out, "# HELP api_requests_total Requests.\n# TYPE api_requests_total counter\napi_requests_total 1\n");
/// assert_eq!((report.families, report.samples), (1, 1));
/// assert!(matches!(&report.skipped[..], [Skipped::NameClash { field, .. }] if field == "requests_total"));
/// ```
pub fn encode(
    snapshot: &RegistrySnapshot,
    format: Format,
    options: &EncodeOptions,
    out: &mut String,
) -> EncodeReport {
    let mut report = EncodeReport::default();
    if !format.is_text() {
        report.skipped.push(Skipped::BinaryFormat { format });
        return report;
    }
    let (metrics, families) = plan(snapshot, options, true, &mut report);
    out.reserve(estimate_len(&metrics, &families));
    for family in &families {
        report.samples += write_family(out, format, &metrics[family.metric], family);
    }
    report.families = families.len();
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    report
}

/// A metric's series, in output order, with their label pairs rendered once for all of
/// the metric's families, and their values gathered by field.
pub(crate) struct MetricPlan<'a> {
    /// The number of series written (valid, sorted by label values, no duplicates).
    pub(crate) len: usize,
    /// The metric's label names.
    pub(crate) label_names: &'a [String],
    /// Each series written, in output order (its raw label values).
    pub(crate) series: Vec<&'a SeriesSnapshot>,
    /// `name="value",…` of each series (no braces), in `rendered`; empty without labels,
    /// and when the plan is not rendered (the protobuf format needs raw labels only).
    spans: Vec<Range<usize>>,
    rendered: String,
    /// The values, field-major: field `j` of series `k` is at `j * len + k`. Gathered in
    /// one pass over the series, so that writing a family reads one dense column instead
    /// of visiting every series' own allocation once per field (a cache miss per sample
    /// at 10,000 series).
    cells: Vec<Cell<'a>>,
}

impl<'a> MetricPlan<'a> {
    /// The values of field `field`, one per series, in output order.
    pub(crate) fn column(&self, field: usize) -> &[Cell<'a>] {
        &self.cells[field * self.len..][..self.len]
    }
}

/// One value, as the encoder needs it.
#[derive(Clone, Copy)]
pub(crate) enum Cell<'a> {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Histogram(&'a HistogramSnapshot),
}

impl<'a> Cell<'a> {
    fn of(value: &'a Value) -> Self {
        match value {
            Value::Counter(v) => Cell::Unsigned(*v),
            Value::Gauge(v) => Cell::Signed(*v),
            Value::LastValue(last) => Cell::Signed(last.value),
            Value::Histogram(h) => Cell::Histogram(h),
            Value::CounterF64(v) | Value::GaugeF64(v) => Cell::Float(*v),
            Value::LastValueF64(last) => Cell::Float(last.value),
            // `plan` skips fields of kinds this encoder does not know (`Skipped::UnknownKind`)
            // before their values are gathered.
            other => unreachable!("a value of a kind this encoder does not know: {other:?}"),
        }
    }
}

/// One field of one metric, exposed as a family, with the fixed parts of its lines
/// prepared once.
pub(crate) struct FamilyPlan<'a> {
    /// The family name (see [`family_name`]).
    pub(crate) name: String,
    /// The metric's registered name.
    pub(crate) metric_name: &'a str,
    /// The field's name.
    pub(crate) field_name: &'a str,
    /// Index into the metric plans.
    pub(crate) metric: usize,
    /// Index of the field in each series' snapshot.
    pub(crate) field: usize,
    pub(crate) kind: FieldKind,
    pub(crate) help: std::borrow::Cow<'a, str>,
    pub(crate) unit: Option<&'a str>,
    /// Counters and gauges: what each line starts with, `name_total{` (or `name_total `
    /// without labels). Histograms: the same for the `_sum` line.
    head: String,
    /// Histograms: the start of the `_count` line.
    count_head: String,
    /// Histograms: the `le` bounds in the recorded unit (clean: sorted, finite, distinct).
    pub(crate) bounds: Vec<f64>,
    /// Histograms: what follows the series' labels on each bucket line, `,le="0.005"} `
    /// (no comma without labels: the bucket lines start `name_bucket{`), `+Inf` last, in
    /// the exposed unit.
    le: Vec<String>,
    /// Histograms: the `_sum` (and the bounds) are divided by `10^decimals`.
    pub(crate) scaled: bool,
}

fn same_schema(a: &[FieldDesc], b: &[FieldDesc]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.name == b.name && std::mem::discriminant(&a.kind) == std::mem::discriminant(&b.kind)
        })
}

/// The metrics and families of `snapshot` to write, families sorted by name, and what
/// must be left out (in `report`). `render`: render each series' labels for the text
/// formats.
pub(crate) fn plan<'a>(
    snapshot: &'a RegistrySnapshot,
    options: &EncodeOptions,
    render: bool,
    report: &mut EncodeReport,
) -> (Vec<MetricPlan<'a>>, Vec<FamilyPlan<'a>>) {
    let mut metrics = Vec::with_capacity(snapshot.metrics.len());
    let mut families = Vec::new();
    // Every name a kept family writes or reserves → that family's name.
    let mut taken: HashMap<String, String> = HashMap::new();
    for (metric_name, metric) in &snapshot.metrics {
        let names = &metric.label_names;
        if let Some(bad) = names
            .iter()
            .enumerate()
            .find(|(i, l)| !is_valid_label_name(l) || names[..*i].contains(l))
        {
            report.skipped.push(Skipped::InvalidLabelName {
                metric: metric_name.clone(),
                label: bad.1.clone(),
            });
            continue;
        }
        let Some(first) = metric.series.first() else { continue };
        let schema = first.snapshot.fields();

        let labels_of = |i: usize| &metric.series[i].labels;
        let mut order: Vec<usize> = Vec::with_capacity(metric.series.len());
        for (i, series) in metric.series.iter().enumerate() {
            if series.labels.len() == names.len() && same_schema(series.snapshot.fields(), schema) {
                order.push(i);
            } else {
                report.skipped.push(Skipped::SeriesMismatch {
                    metric: metric_name.clone(),
                    labels: series.labels.clone(),
                });
            }
        }
        // A family's collection is sorted already, but for the overflow series at the end.
        if !order.is_sorted_by(|&a, &b| labels_of(a) <= labels_of(b)) {
            // Stable: of equal label values, the first stays first and is the one kept.
            order.sort_by(|&a, &b| labels_of(a).cmp(labels_of(b)));
        }
        order.dedup_by(|next, kept| {
            let duplicate = labels_of(*next) == labels_of(*kept);
            if duplicate {
                report.skipped.push(Skipped::DuplicateSeries {
                    metric: metric_name.clone(),
                    labels: labels_of(*next).clone(),
                });
            }
            duplicate
        });

        let len = order.len();
        let mut rendered = String::new();
        let mut spans = Vec::with_capacity(if names.is_empty() || !render { 0 } else { len });
        let mut cells = vec![Cell::Unsigned(0); schema.len() * len];
        for (k, &i) in order.iter().enumerate() {
            if render && !names.is_empty() {
                let start = rendered.len();
                for (n, (name, value)) in names.iter().zip(labels_of(i)).enumerate() {
                    if n > 0 {
                        rendered.push(',');
                    }
                    rendered.push_str(name);
                    rendered.push_str("=\"");
                    push_label_value(&mut rendered, value);
                    rendered.push('"');
                }
                spans.push(start..rendered.len());
            }
            for (j, value) in metric.series[i].snapshot.values().iter().enumerate() {
                cells[j * len + k] = Cell::of(value);
            }
        }

        let metric_index = metrics.len();
        for (field_index, field) in schema.iter().enumerate() {
            let kind = field.kind;
            if !(kind.is_counter() || kind.is_gauge() || matches!(kind, FieldKind::Histogram(_))) {
                report.skipped.push(Skipped::UnknownKind {
                    metric: metric_name.clone(),
                    field: field.name.to_string(),
                    kind: kind.as_str(),
                });
                continue;
            }
            let name = family_name(metric_name, field, options);
            if !is_valid_metric_name(&name) {
                report.skipped.push(Skipped::InvalidName {
                    metric: metric_name.clone(),
                    field: field.name.to_string(),
                    name,
                });
                continue;
            }
            let is_histogram = matches!(kind, FieldKind::Histogram(_));
            if let Some(label) = names.iter().find(|l| reserved_labels(kind).contains(&l.as_str()))
            {
                report.skipped.push(Skipped::ReservedLabel {
                    metric: metric_name.clone(),
                    field: field.name.to_string(),
                    label: label.clone(),
                });
                continue;
            }
            let suffixes = reserved_suffixes(kind);
            let clash = suffixes.iter().find_map(|s| taken.get(&format!("{name}{s}")));
            if let Some(taken_by) = clash {
                report.skipped.push(Skipped::NameClash {
                    metric: metric_name.clone(),
                    field: field.name.to_string(),
                    name,
                    taken_by: taken_by.clone(),
                });
                continue;
            }
            for s in suffixes {
                taken.insert(format!("{name}{s}"), name.clone());
            }
            let scaled = scaled(field, options);
            let labelled = !names.is_empty();
            let head_of =
                |suffix: &str| format!("{name}{suffix}{}", if labelled { "{" } else { " " });
            let (head, count_head, bounds, le) = if is_histogram {
                let FieldKind::Histogram(config) = kind else { unreachable!("a histogram") };
                let per = config.steps_per_unit() as f64;
                let bounds = options.bounds_for(metric_name, &field.name, config).into_owned();
                let le_of =
                    |bound: &str| format!("{}le=\"{bound}\"}} ", if labelled { "," } else { "" });
                let mut le: Vec<String> = bounds
                    .iter()
                    .map(|&b| {
                        let mut bound = String::new();
                        push_f64(&mut bound, if scaled { b / per } else { b });
                        le_of(&bound)
                    })
                    .collect();
                le.push(le_of("+Inf"));
                (head_of("_sum"), head_of("_count"), bounds, le)
            } else {
                let suffix = if kind.is_counter() { "_total" } else { "" };
                (head_of(suffix), String::new(), Vec::new(), Vec::new())
            };
            let help = if field.help.is_empty() { metric.help.as_str() } else { &field.help };
            let help = tally_snapshot::exposed_help(
                help,
                tally_snapshot::help_says_seconds(field, options.is_in_unit()),
            );
            families.push(FamilyPlan {
                unit: unit_of(&name, field, metric.unit.as_deref(), options),
                name,
                metric_name,
                field_name: field.name.as_ref(),
                metric: metric_index,
                field: field_index,
                kind,
                help,
                head,
                count_head,
                bounds,
                le,
                scaled,
            });
        }
        let series = order.iter().map(|&i| &metric.series[i]).collect();
        metrics.push(MetricPlan { len, label_names: names, series, spans, rendered, cells });
    }
    families.sort_by(|a, b| a.name.cmp(&b.name));
    (metrics, families)
}

/// About how many bytes the families will take, so that `out` grows once.
fn estimate_len(metrics: &[MetricPlan<'_>], families: &[FamilyPlan<'_>]) -> usize {
    families
        .iter()
        .map(|f| {
            let m = &metrics[f.metric];
            let lines = if f.le.is_empty() { 1 } else { f.le.len() + 2 };
            let le_len: usize = f.le.iter().map(|s| s.len() + 1).sum();
            let per_line = f.name.len() + 32;
            128 + f.help.len() + lines * (m.len * per_line + m.rendered.len()) + le_len * m.len
        })
        .sum()
}

/// Starts a sample line: `head` (`name{` or `name `), then the labels and `} ` if any.
#[inline]
fn start_sample(out: &mut String, head: &str, labels: &str) {
    out.push_str(head);
    if !labels.is_empty() {
        out.push_str(labels);
        out.push_str("} ");
    }
}

/// Writes one family's metadata and samples; returns the number of sample lines.
fn write_family(
    out: &mut String,
    format: Format,
    metric: &MetricPlan<'_>,
    family: &FamilyPlan<'_>,
) -> usize {
    let name = family.name.as_str();
    let (type_name, meta_suffix) = match (family.kind, format) {
        (FieldKind::Histogram(_), _) => ("histogram", ""),
        // The text format names a counter by its sample, OpenMetrics by its family.
        (k, Format::Text) if k.is_counter() => ("counter", "_total"),
        (k, Format::OpenMetrics) if k.is_counter() => ("counter", ""),
        // `plan` keeps counters, gauges and histograms only.
        _ => ("gauge", ""),
    };
    let openmetrics = format == Format::OpenMetrics;
    if !family.help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push_str(meta_suffix);
        out.push(' ');
        push_help(out, &family.help, openmetrics);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push_str(meta_suffix);
    out.push(' ');
    out.push_str(type_name);
    out.push('\n');
    if let (true, Some(unit)) = (openmetrics, family.unit) {
        out.push_str("# UNIT ");
        out.push_str(name);
        out.push(' ');
        out.push_str(unit);
        out.push('\n');
    }

    let column = metric.column(family.field);
    let labels_of = |pos: usize| metric.spans.get(pos).map_or("", |r| &metric.rendered[r.clone()]);
    let head = family.head.as_str();
    if !matches!(family.kind, FieldKind::Histogram(_)) {
        for (pos, cell) in column.iter().enumerate() {
            start_sample(out, head, labels_of(pos));
            match *cell {
                Cell::Unsigned(v) => push_u64(out, v),
                Cell::Signed(v) => push_i64(out, v),
                Cell::Float(v) => push_f64(out, v),
                Cell::Histogram(_) => unreachable!("the column of a scalar field"),
            }
            out.push('\n');
        }
        return column.len();
    }

    // `name_bucket{labels`, once per series for all of its bucket lines.
    let mut bucket_head = String::new();
    let mut counts = Vec::with_capacity(family.le.len());
    for (pos, cell) in column.iter().enumerate() {
        let Cell::Histogram(h) = *cell else { unreachable!("the column of a histogram field") };
        let labels = labels_of(pos);
        bucket_head.clear();
        bucket_head.push_str(name);
        bucket_head.push_str("_bucket{");
        bucket_head.push_str(labels);
        // The bounds are clean (`EncodeOptions` sorts, deduplicates and drops non-finite ones).
        h.cumulative_counts_into(&family.bounds, &mut counts);
        for (count, le) in counts.iter().zip(&family.le) {
            out.push_str(&bucket_head);
            out.push_str(le);
            push_u64(out, *count);
            out.push('\n');
        }
        start_sample(out, head, labels);
        if family.scaled {
            push_f64(out, h.config().sum_to_unit(h.sum()));
        } else {
            push_u128(out, h.sum());
        }
        out.push('\n');
        start_sample(out, &family.count_head, labels);
        push_u64(out, h.count());
        out.push('\n');
    }
    column.len() * (family.le.len() + 2)
}
