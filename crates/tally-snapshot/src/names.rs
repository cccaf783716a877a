//! The naming rules, in one place: what a metric, label, field and unit may be called,
//! which labels a kind of field reserves, and which sample names a field is exposed
//! under. Every crate that registers, validates or exports calls these; none keeps a copy.

use crate::{FieldDesc, FieldKind, Unit};

/// Whether `name` can name a metric: `[a-zA-Z_:][a-zA-Z0-9_:]*` (the Prometheus metric-name
/// rule, which every Prometheus version reads unquoted), not starting with `__` (names
/// starting `__` are reserved for Prometheus' internal use).
///
/// ```
/// use tally_snapshot::is_valid_metric_name;
/// assert!(is_valid_metric_name("inference"));
/// assert!(is_valid_metric_name("job:requests:rate5m"));
/// assert!(!is_valid_metric_name("9lives"));
/// assert!(!is_valid_metric_name("__name__"));
/// assert!(!is_valid_metric_name("a-b"));
/// ```
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
        && !name.starts_with("__")
}

/// Whether `name` can name a label: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with the
/// reserved `__` (Prometheus label-name rules).
///
/// ```
/// use tally_snapshot::is_valid_label_name;
/// assert!(is_valid_label_name("model"));
/// assert!(!is_valid_label_name("__name__"));
/// assert!(!is_valid_label_name("a:b"));
/// ```
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with("__")
}

/// Whether `name` can name a field of a metric set: `[a-zA-Z_][a-zA-Z0-9_]*` (it becomes
/// the end of a metric name, after `<metric>_`).
///
/// ```
/// use tally_snapshot::is_valid_field_name;
/// assert!(is_valid_field_name("latency_ns"));
/// assert!(!is_valid_field_name("p99.9"));
/// ```
pub fn is_valid_field_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `unit` can be a metric's unit: ASCII letters, digits and `_` (`seconds`,
/// `bytes`); empty means none.
pub fn is_valid_unit(unit: &str) -> bool {
    unit.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The label a histogram's bucket lines add for their upper bound.
pub const HISTOGRAM_BOUND_LABEL: &str = "le";

/// The label names a field of `kind` adds to its own samples in the exposition formats,
/// which a metric holding such a field therefore cannot use for its own labels.
///
/// ```
/// use tally_snapshot::{FieldKind, HistogramConfig, reserved_labels};
/// assert_eq!(reserved_labels(FieldKind::Histogram(HistogramConfig::DEFAULT)), ["le"]);
/// assert!(reserved_labels(FieldKind::Counter).is_empty());
/// ```
pub fn reserved_labels(kind: FieldKind) -> &'static [&'static str] {
    match kind {
        FieldKind::Histogram(_) => &[HISTOGRAM_BOUND_LABEL],
        _ => &[],
    }
}

/// The first of `label_names` that a field of `fields` reserves ([`reserved_labels`]).
pub fn reserved_label_in<'a>(
    fields: impl IntoIterator<Item = FieldKind>,
    label_names: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    fields.into_iter().find_map(|kind| {
        label_names.clone().into_iter().find(|l| reserved_labels(kind).contains(l))
    })
}

/// The unit a field is exposed in: its declared unit, except for a histogram recorded in
/// fractional steps (`decimals > 0`) that is exposed in raw steps (`scaled` off), which
/// has none (its values are then steps, not units).
pub fn exposed_unit(field: &FieldDesc, scaled: bool) -> Unit {
    match field.kind {
        FieldKind::Histogram(config) if !scaled && config.decimals() > 0 => Unit::None,
        _ => field.unit,
    }
}

/// Whether a histogram records nanoseconds of a seconds unit (steps of 10^-9 s), so that
/// a name ending `_ns` (the name of its steps) is exposed ending `_seconds`.
fn is_ns_of_seconds(kind: FieldKind) -> bool {
    matches!(kind, FieldKind::Histogram(c) if c.unit() == Unit::Seconds && c.decimals() == 9)
}

/// The name of the metric family a field is exposed as (the OpenMetrics family name: for a
/// counter, without its `_total` sample suffix).
///
/// The rules, in order; the unit is the field's declared one ([`FieldDesc::unit`]), never
/// guessed from its name:
/// 1. `<metric>_<field>`: the registered name, `_`, the field's name
///    (`inference` + `total_inferences` → `inference_total_inferences`). A field named
///    exactly like its metric is the metric itself and is not prefixed: the one-field sets
///    of `tally-metrics` (`http_requests_total` + `http_requests_total` →
///    `http_requests_total`, then rule 2).
/// 2. A **counter** whose name already ends in `_total` loses it here, so that its sample,
///    `<family>_total`, does not say it twice (`api` + `requests_total` → family
///    `api_requests`, sample `api_requests_total`).
/// 3. A field with a unit ends in `_<unit>` (Prometheus' convention, and OpenMetrics'
///    rule for a family with a `# UNIT`): appended unless the name already ends with it
///    (`gpu_busy` in [`Unit::Ratio`] → `…_gpu_busy_ratio`; `size_bytes` in bytes stays).
///    A seconds histogram recorded in nanosecond steps drops a trailing `_ns` first (the
///    name of its steps): `latency_ns` → `…_latency_seconds`.
///
/// `scaled` (exporters' default) exposes histograms in their unit; off, a histogram with
/// fractional steps is exposed in raw steps under its plain name, without a unit.
///
/// ```
/// use tally_snapshot::{FieldDesc, FieldKind, HistogramConfig, Unit, family_name};
///
/// let counter = FieldDesc::new("total_inferences", FieldKind::Counter, "");
/// assert_eq!(family_name("inference", &counter, true), "inference_total_inferences");
/// let requests = FieldDesc::new("requests_total", FieldKind::Counter, "");
/// assert_eq!(family_name("api", &requests, true), "api_requests");
/// let h = FieldDesc::new("latency_ns", FieldKind::Histogram(HistogramConfig::DEFAULT), "");
/// assert_eq!(family_name("inference", &h, true), "inference_latency_seconds");
/// assert_eq!(family_name("inference", &h, false), "inference_latency_ns");
/// let busy = FieldDesc::new("gpu_busy", FieldKind::LastValueF64, "").with_unit(Unit::Ratio);
/// assert_eq!(family_name("worker", &busy, true), "worker_gpu_busy_ratio");
/// let cpu = FieldDesc::new("cpu_seconds_total", FieldKind::CounterF64, "").with_unit(Unit::Seconds);
/// assert_eq!(family_name("job", &cpu, true), "job_cpu_seconds");
/// let size = FieldDesc::new("response", FieldKind::Histogram(HistogramConfig::BYTES), "");
/// assert_eq!(family_name("http", &size, true), "http_response_bytes");
/// // A self-named field.
/// let own = FieldDesc::new("http_requests_total", FieldKind::Counter, "");
/// assert_eq!(family_name("http_requests_total", &own, true), "http_requests");
/// ```
pub fn family_name(metric: &str, field: &FieldDesc, scaled: bool) -> String {
    let (name, kind) = (field.name.as_ref(), field.kind);
    let unit = exposed_unit(field, scaled);
    let mut out = String::with_capacity(metric.len() + 1 + name.len() + 9);
    if name != metric {
        out.push_str(metric);
        out.push('_');
    }
    let mut base = name;
    if kind.is_counter() {
        base = base.strip_suffix("_total").unwrap_or(base);
    }
    if scaled && is_ns_of_seconds(kind) {
        base = base.strip_suffix("_ns").unwrap_or(base);
    }
    out.push_str(base);
    let suffix = unit.as_str();
    let named = out.strip_suffix(suffix).is_some_and(|rest| rest.ends_with('_'));
    if !suffix.is_empty() && !named {
        out.push('_');
        out.push_str(suffix);
    }
    out
}

/// The help text a field is exposed with: `help` with runs of spaces collapsed to one and
/// no space at either end (a doc comment spread over several lines joins its lines with
/// their leading spaces; other characters, newlines included, are kept), and, for a
/// seconds histogram recorded in nanoseconds and exposed in seconds (`ns_to_seconds`),
/// the words "nanoseconds"/"nanosecond" said as "seconds"/"second", so that the help
/// describes the series it stands above.
///
/// ```
/// use tally_snapshot::exposed_help;
/// assert_eq!(exposed_help(" Time to answer,  in nanoseconds. ", true), "Time to answer, in seconds.");
/// assert_eq!(exposed_help("Nanoseconds per call.", true), "Seconds per call.");
/// assert_eq!(exposed_help("Time in nanoseconds.", false), "Time in nanoseconds.");
/// assert_eq!(exposed_help("Two\nlines.", false), "Two\nlines.");
/// ```
pub fn exposed_help(help: &str, ns_to_seconds: bool) -> std::borrow::Cow<'_, str> {
    let scaled = ns_to_seconds;
    let tidy = !help.starts_with(' ') && !help.ends_with(' ') && !help.contains("  ");
    if tidy && !(scaled && help.to_ascii_lowercase().contains("nanosecond")) {
        return std::borrow::Cow::Borrowed(help);
    }
    let mut out = String::with_capacity(help.len());
    for (i, word) in help.split(' ').filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let at = if scaled { word.to_ascii_lowercase().find("nanosecond") } else { None };
        match at {
            Some(at) => {
                out.push_str(&word[..at]);
                out.push_str(if word[at..].starts_with('N') { "S" } else { "s" });
                out.push_str(&word[at + "nanos".len()..]);
            }
            None => out.push_str(word),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether a field's help, exposed with `scaled`, has its "nanoseconds" said as
/// "seconds" ([`exposed_help`]): a seconds histogram in nanosecond steps, scaled.
pub fn help_says_seconds(field: &FieldDesc, scaled: bool) -> bool {
    scaled && is_ns_of_seconds(field.kind)
}

/// The sample suffixes a family of this kind owns besides its own name: what it writes and
/// what OpenMetrics reserves for it (`_created`), so that no two families can produce, or
/// be parsed as owning, the same sample name.
pub fn reserved_suffixes(kind: FieldKind) -> &'static [&'static str] {
    match kind {
        FieldKind::Histogram(_) => &["", "_bucket", "_sum", "_count", "_created"],
        k if k.is_counter() => &["", "_total", "_created"],
        _ => &[""],
    }
}

/// Every sample name a field may be exposed under, with either setting of `scaled`: the
/// family names of [`family_name`] with each of [`reserved_suffixes`]. Two fields of a
/// registry (of one metric or of two) whose lists share a name would clash on the way
/// out, so registration refuses the second.
///
/// ```
/// use tally_snapshot::{FieldDesc, FieldKind, HistogramConfig, exposed_names};
/// let h = FieldDesc::new("latency_ns", FieldKind::Histogram(HistogramConfig::DEFAULT), "");
/// let names = exposed_names("inference", &h);
/// assert!(names.contains(&"inference_latency_seconds_bucket".to_string()));
/// assert!(names.contains(&"inference_latency_ns_count".to_string()));
/// ```
pub fn exposed_names(metric: &str, field: &FieldDesc) -> Vec<String> {
    let mut families = vec![family_name(metric, field, true)];
    let plain = family_name(metric, field, false);
    if plain != families[0] {
        families.push(plain);
    }
    families
        .iter()
        .flat_map(|f| reserved_suffixes(field.kind).iter().map(move |s| format!("{f}{s}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_rules() {
        for good in ["a", "_a", ":a", "a:b_9", "A"] {
            assert!(is_valid_metric_name(good), "{good}");
        }
        for bad in ["", "9a", "a-b", "a b", "é", "__a", "__name__"] {
            assert!(!is_valid_metric_name(bad), "{bad}");
        }
        for good in ["a", "_a", "model", "A9"] {
            assert!(is_valid_label_name(good), "{good}");
        }
        for bad in ["", "9a", "a:b", "__name__", "__x", "é"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
        for good in ["a", "_a", "latency_ns", "__x"] {
            assert!(is_valid_field_name(good), "{good}");
        }
        for bad in ["", "9a", "a:b", "a-b", "é"] {
            assert!(!is_valid_field_name(bad), "{bad}");
        }
    }

    #[test]
    fn an_ns_histogram_and_a_seconds_field_claim_the_same_name() {
        let h =
            FieldDesc::new("latency_ns", FieldKind::Histogram(crate::HistogramConfig::DEFAULT), "");
        let a = exposed_names("m", &h);
        let b = exposed_names("m", &FieldDesc::new("latency_seconds", FieldKind::Gauge, ""));
        assert!(a.iter().any(|n| b.contains(n)));
    }
}
