//! How fields become metric families: names, suffixes, units, and the names each family
//! reserves.

use tally_snapshot::FieldKind;

use crate::EncodeOptions;

/// The name of the metric family a field is exposed as (the OpenMetrics family name: for a
/// counter, without its `_total` sample suffix).
///
/// The rules, in order:
/// 1. `<metric>_<field>`: the registered name, `_`, the field's name
///    (`inference` + `total_inferences` → `inference_total_inferences`). A field named
///    exactly like its metric is the metric itself and is not prefixed: the one-field sets
///    of `tally-metrics` (`http_requests_total` + `http_requests_total` →
///    `http_requests_total`, then rule 2).
/// 2. A **counter** whose name already ends in `_total` loses it here, so that its sample,
///    `<family>_total`, does not say it twice (`api` + `requests_total` → family
///    `api_requests`, sample `api_requests_total`).
/// 3. A **histogram** whose name ends in `_ns` is renamed `…_seconds` when
///    [`EncodeOptions::ns_as_seconds`] is on (the default): `inference` + `latency_ns` →
///    `inference_latency_seconds`.
///
/// # Examples
///
/// ```
/// use tally_prometheus::{EncodeOptions, family_name};
/// use tally_snapshot::{FieldKind, HistogramConfig};
///
/// let o = EncodeOptions::default();
/// assert_eq!(family_name("inference", "total_inferences", FieldKind::Counter, &o), "inference_total_inferences");
/// assert_eq!(family_name("api", "requests_total", FieldKind::Counter, &o), "api_requests");
/// assert_eq!(family_name("api", "requests_total", FieldKind::Gauge, &o), "api_requests_total");
/// let h = FieldKind::Histogram(HistogramConfig::DEFAULT);
/// assert_eq!(family_name("inference", "latency_ns", h, &o), "inference_latency_seconds");
/// // A self-named field.
/// assert_eq!(family_name("http_requests_total", "http_requests_total", FieldKind::Counter, &o), "http_requests");
/// assert_eq!(family_name("rpc_latency_ns", "rpc_latency_ns", h, &o), "rpc_latency_seconds");
/// assert_eq!(family_name("inference", "latency_ns", h, &o.ns_as_seconds(false)), "inference_latency_ns");
/// ```
pub fn family_name(metric: &str, field: &str, kind: FieldKind, options: &EncodeOptions) -> String {
    let mut name = String::with_capacity(metric.len() + 1 + field.len() + 4);
    if field != metric {
        name.push_str(metric);
        name.push('_');
    }
    match kind {
        FieldKind::Counter => name.push_str(field.strip_suffix("_total").unwrap_or(field)),
        FieldKind::Histogram(_) if options.is_ns_as_seconds() && field.ends_with("_ns") => {
            name.push_str(&field[..field.len() - 3]);
            name.push_str("_seconds");
        }
        _ => name.push_str(field),
    }
    name
}

/// Whether a histogram field is exposed in seconds (see [`family_name`]).
pub(crate) fn scaled_to_seconds(field: &str, kind: FieldKind, options: &EncodeOptions) -> bool {
    matches!(kind, FieldKind::Histogram(_)) && options.is_ns_as_seconds() && field.ends_with("_ns")
}

/// The OpenMetrics unit of a family: `seconds` for a histogram scaled to seconds; else the
/// registered unit if the family's name ends in `_<unit>` (OpenMetrics requires it);
/// else none.
pub(crate) fn unit_of<'a>(family: &str, unit: Option<&'a str>, scaled: bool) -> Option<&'a str> {
    if scaled {
        return Some("seconds");
    }
    let unit = unit.filter(|u| !u.is_empty())?;
    let rest = family.strip_suffix(unit)?;
    rest.ends_with('_').then_some(unit)
}

/// The sample suffixes a family of this kind owns besides its own name: what it writes and
/// what OpenMetrics reserves for it (`_created`), so that no two families can produce, or
/// be parsed as owning, the same sample name.
pub(crate) fn reserved_suffixes(kind: FieldKind) -> &'static [&'static str] {
    match kind {
        FieldKind::Counter => &["", "_total", "_created"],
        FieldKind::Gauge | FieldKind::LastValue => &[""],
        FieldKind::Histogram(_) => &["", "_bucket", "_sum", "_count", "_created"],
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`: a metric name every Prometheus version reads unquoted.
pub(crate) fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with the reserved `__`.
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_declared_only_when_the_name_ends_with_it() {
        assert_eq!(unit_of("api_size_bytes", Some("bytes"), false), Some("bytes"));
        assert_eq!(unit_of("api_sizebytes", Some("bytes"), false), None);
        assert_eq!(unit_of("api_requests", Some("bytes"), false), None);
        assert_eq!(unit_of("bytes", Some("bytes"), false), None);
        assert_eq!(unit_of("api_x", Some(""), false), None);
        assert_eq!(unit_of("api_x", None, false), None);
        assert_eq!(unit_of("api_latency_seconds", Some("bytes"), true), Some("seconds"));
    }

    #[test]
    fn names_follow_the_prometheus_rules() {
        for good in ["a", "_a", ":a", "a:b_9", "A"] {
            assert!(is_valid_metric_name(good), "{good}");
        }
        for bad in ["", "9a", "a-b", "a b", "é"] {
            assert!(!is_valid_metric_name(bad), "{bad}");
        }
        for good in ["a", "_a", "model", "A9"] {
            assert!(is_valid_label_name(good), "{good}");
        }
        for bad in ["", "9a", "a:b", "__name__", "__x", "é"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
    }
}
