//! How fields become metric families: names, suffixes, units, and the names each family
//! reserves.

use tally_snapshot::FieldKind;

use crate::EncodeOptions;

/// The name of the metric family a field is exposed as (the OpenMetrics family name: for a
/// counter, without its `_total` sample suffix): [`tally_snapshot::family_name`], the one
/// home of the rule, with [`EncodeOptions::ns_as_seconds`] applied.
///
/// # Examples
///
/// ```
/// use tally_prometheus::{EncodeOptions, family_name};
/// use tally_snapshot::{FieldKind, HistogramConfig};
///
/// let o = EncodeOptions::default();
/// assert_eq!(family_name("api", "requests_total", FieldKind::Counter, &o), "api_requests");
/// let h = FieldKind::Histogram(HistogramConfig::DEFAULT);
/// assert_eq!(family_name("inference", "latency_ns", h, &o), "inference_latency_seconds");
/// assert_eq!(family_name("inference", "latency_ns", h, &o.ns_as_seconds(false)), "inference_latency_ns");
/// ```
pub fn family_name(metric: &str, field: &str, kind: FieldKind, options: &EncodeOptions) -> String {
    tally_snapshot::family_name(metric, field, kind, options.is_ns_as_seconds())
}

/// Whether a histogram field is exposed in seconds (see [`family_name`]).
pub(crate) fn scaled_to_seconds(field: &str, kind: FieldKind, options: &EncodeOptions) -> bool {
    options.is_ns_as_seconds() && tally_snapshot::is_ns_histogram(field, kind)
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
}
