//! How fields become metric families: names, suffixes, units, and the names each family
//! reserves.

use tally_snapshot::{FieldDesc, FieldKind};

use crate::EncodeOptions;

/// The name of the metric family a field is exposed as (the OpenMetrics family name: for a
/// counter, without its `_total` sample suffix): [`tally_snapshot::family_name`], the one
/// home of the rule, with [`EncodeOptions::in_unit`] applied.
///
/// # Examples
///
/// ```
/// use tally_prometheus::{EncodeOptions, family_name};
/// use tally_snapshot::{FieldDesc, FieldKind, HistogramConfig, Unit};
///
/// let o = EncodeOptions::default();
/// let requests = FieldDesc::new("requests_total", FieldKind::Counter, "");
/// assert_eq!(family_name("api", &requests, &o), "api_requests");
/// let h = FieldDesc::new("latency_ns", FieldKind::Histogram(HistogramConfig::DEFAULT), "");
/// assert_eq!(family_name("inference", &h, &o), "inference_latency_seconds");
/// assert_eq!(family_name("inference", &h, &o.clone().in_unit(false)), "inference_latency_ns");
/// let fill = FieldDesc::new("queue_fill", FieldKind::GaugeF64, "").with_unit(Unit::Ratio);
/// assert_eq!(family_name("batcher", &fill, &o), "batcher_queue_fill_ratio");
/// ```
pub fn family_name(metric: &str, field: &FieldDesc, options: &EncodeOptions) -> String {
    tally_snapshot::family_name(metric, field, options.is_in_unit())
}

/// Whether a histogram field's bounds and sum are divided into its unit (it records
/// fractional steps, and the options say so).
pub(crate) fn scaled(field: &FieldDesc, options: &EncodeOptions) -> bool {
    options.is_in_unit() && matches!(field.kind, FieldKind::Histogram(c) if c.decimals() > 0)
}

/// The OpenMetrics unit of a family: the field's declared unit (its name ends with it, by
/// [`family_name`]); for a field without one, the registered unit if the family's name
/// ends in `_<unit>` (OpenMetrics requires it); else none.
pub(crate) fn unit_of<'a>(
    family: &str,
    field: &FieldDesc,
    registered: Option<&'a str>,
    options: &EncodeOptions,
) -> Option<&'a str> {
    let declared = tally_snapshot::exposed_unit(field, options.is_in_unit());
    if !declared.is_none() {
        return Some(declared.as_str());
    }
    let unit = registered.filter(|u| !u.is_empty())?;
    let rest = family.strip_suffix(unit)?;
    rest.ends_with('_').then_some(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_declared_only_when_the_name_ends_with_it() {
        let o = EncodeOptions::default();
        let plain = FieldDesc::new("x", FieldKind::Gauge, "");
        assert_eq!(unit_of("api_size_bytes", &plain, Some("bytes"), &o), Some("bytes"));
        assert_eq!(unit_of("api_sizebytes", &plain, Some("bytes"), &o), None);
        assert_eq!(unit_of("api_requests", &plain, Some("bytes"), &o), None);
        assert_eq!(unit_of("bytes", &plain, Some("bytes"), &o), None);
        assert_eq!(unit_of("api_x", &plain, Some(""), &o), None);
        assert_eq!(unit_of("api_x", &plain, None, &o), None);
        let h = FieldDesc::new(
            "latency",
            FieldKind::Histogram(tally_snapshot::HistogramConfig::DEFAULT),
            "",
        );
        assert_eq!(unit_of("api_latency_seconds", &h, Some("bytes"), &o), Some("seconds"));
        assert_eq!(unit_of("api_latency", &h, Some("bytes"), &o.in_unit(false)), None);
    }
}
