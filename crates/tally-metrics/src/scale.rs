//! How a `metrics` value becomes a tally value: the histogram configuration and the step
//! factor a histogram's unit gives it, and the tally unit of a described unit.

use metrics::Unit as MetricsUnit;
use tally::{HistogramConfig, Rejected, Unit};

/// Plain numbers with no declared unit: 10^-3 to 10^12 within 2^-5, in steps of 10^-5 (so
/// `0.5` is recorded as 0.5, not rounded to a whole number).
pub(crate) fn number_config() -> HistogramConfig {
    HistogramConfig::for_range(Unit::None, 1e-3, 1e12, 5).expect("a valid range")
}

/// A histogram's configuration, and the factor from a `metrics` value to its steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scale {
    pub(crate) config: HistogramConfig,
    factor: f64,
}

impl Scale {
    /// The scale of a histogram described with `unit` (or not described), named `name`:
    /// times (seconds, milliseconds, microseconds, nanoseconds) in a seconds histogram of
    /// nanosecond steps, sizes (bytes and their binary multiples) in whole bytes, anything
    /// else a plain number in steps of 10^-5. Undescribed, a name ending `_seconds` or
    /// `_bytes` says the unit (the `metrics` naming convention); any other name is a plain
    /// number.
    pub(crate) fn of(unit: Option<MetricsUnit>, name: &str) -> Scale {
        let unit = unit.or_else(|| {
            if name.ends_with("_seconds") {
                Some(MetricsUnit::Seconds)
            } else if name.ends_with("_bytes") {
                Some(MetricsUnit::Bytes)
            } else {
                None
            }
        });
        let seconds = |factor| Scale { config: HistogramConfig::SECONDS, factor };
        let bytes = |factor| Scale { config: HistogramConfig::BYTES, factor };
        match unit {
            Some(MetricsUnit::Seconds) => seconds(1e9),
            Some(MetricsUnit::Milliseconds) => seconds(1e6),
            Some(MetricsUnit::Microseconds) => seconds(1e3),
            Some(MetricsUnit::Nanoseconds) => seconds(1.0),
            Some(MetricsUnit::Bytes) => bytes(1.0),
            Some(MetricsUnit::Kibibytes) => bytes(1024.0),
            Some(MetricsUnit::Mebibytes) => bytes(1024.0 * 1024.0),
            Some(MetricsUnit::Gibibytes) => bytes(1024.0 * 1024.0 * 1024.0),
            Some(MetricsUnit::Tebibytes) => bytes(1024.0 * 1024.0 * 1024.0 * 1024.0),
            _ => {
                let config = number_config();
                Scale { config, factor: config.steps_per_unit() as f64 }
            }
        }
    }

    /// The steps `v` is recorded as: `v × factor`, rounded to the nearest step.
    ///
    /// # Errors
    ///
    /// Negative values, NaN, infinities and values at or past 2^63 steps.
    pub(crate) fn steps(self, v: f64) -> Result<u64, Rejected> {
        HistogramConfig::steps_of_scaled(v, self.factor)
    }
}

/// The tally unit of a counter or gauge described with `unit`: seconds and bytes, which
/// Prometheus names series by; other units (milliseconds, percent, counts) keep their
/// values as given, without a tally unit (the registration still records the unit's name).
pub(crate) fn scalar_unit(unit: Option<MetricsUnit>) -> Unit {
    match unit {
        Some(MetricsUnit::Seconds) => Unit::Seconds,
        Some(MetricsUnit::Bytes) => Unit::Bytes,
        _ => Unit::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_rounded_nanoseconds() {
        let s = Scale::of(Some(MetricsUnit::Seconds), "x");
        assert_eq!(s.config, HistogramConfig::SECONDS);
        assert_eq!(s.steps(0.0125), Ok(12_500_000));
        assert_eq!(s.steps(1.0), Ok(1_000_000_000));
        assert_eq!(s.steps(1.4e-9), Ok(1));
        assert_eq!(s.steps(-0.0), Ok(0));
        assert_eq!(Scale::of(Some(MetricsUnit::Milliseconds), "x").steps(12.5), Ok(12_500_000));
        assert_eq!(Scale::of(None, "rpc_seconds").config, HistogramConfig::SECONDS);
    }

    #[test]
    fn sizes_are_whole_bytes_and_numbers_keep_five_decimals() {
        let b = Scale::of(Some(MetricsUnit::Kibibytes), "x");
        assert_eq!(b.config, HistogramConfig::BYTES);
        assert_eq!(b.steps(1.5), Ok(1536));
        assert_eq!(Scale::of(None, "body_bytes").config, HistogramConfig::BYTES);
        let n = Scale::of(None, "batch_fill");
        assert_eq!(n.config.unit(), Unit::None);
        assert_eq!(n.steps(0.3), Ok(30_000));
        assert_eq!(n.config.to_unit(n.steps(0.3).unwrap()), 0.3);
        assert_eq!(n.steps(2.5), Ok(250_000));
    }

    #[test]
    fn values_a_histogram_cannot_hold_are_refused() {
        for s in [Scale::of(Some(MetricsUnit::Seconds), "x"), Scale::of(None, "x")] {
            assert_eq!(s.steps(-1.0), Err(Rejected::Negative));
            assert_eq!(s.steps(f64::NAN), Err(Rejected::NotFinite));
            assert_eq!(s.steps(f64::INFINITY), Err(Rejected::NotFinite));
            assert_eq!(s.steps(f64::NEG_INFINITY), Err(Rejected::NotFinite));
            assert_eq!(s.steps(1e300), Err(Rejected::TooLarge));
        }
    }
}
