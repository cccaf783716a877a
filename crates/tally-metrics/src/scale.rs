//! From the `f64` values of the `metrics` API to tally's integer fields.

/// How a histogram's `f64` values become the `u64` values of a tally histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    /// Seconds recorded as whole nanoseconds (`0.0125` → `12_500_000`), rounded to the
    /// nearest; exposed in seconds again by `tally-prometheus`.
    SecondsAsNanos,
    /// Recorded in their own unit, rounded to the nearest integer (`1536.4` bytes → `1536`).
    Whole,
}

impl Scale {
    /// The value a histogram records for `v`, or `None` for a value it cannot hold: NaN,
    /// infinite or negative (`-0.0` is 0). Finite values too large for a `u64` saturate to
    /// `u64::MAX`, which the histogram counts in its overflow.
    pub(crate) fn histogram_value(self, v: f64) -> Option<u64> {
        if !v.is_finite() || v < 0.0 {
            return None;
        }
        let scaled = match self {
            Scale::SecondsAsNanos => v * 1e9,
            Scale::Whole => v,
        };
        // `as` saturates for finite values out of range.
        Some(scaled.round() as u64)
    }
}

/// The integer level a gauge of `f64` level `v` is exposed as: rounded to the nearest
/// (halves away from zero), saturating at the `i64` range. `v` is finite (checked by the
/// gauge before it changes).
pub(crate) fn gauge_level(v: f64) -> i64 {
    v.round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_rounded_nanoseconds() {
        let s = Scale::SecondsAsNanos;
        assert_eq!(s.histogram_value(0.0125), Some(12_500_000));
        assert_eq!(s.histogram_value(1.0), Some(1_000_000_000));
        assert_eq!(s.histogram_value(1.4e-9), Some(1));
        assert_eq!(s.histogram_value(0.4e-9), Some(0));
        assert_eq!(s.histogram_value(-0.0), Some(0));
        assert_eq!(s.histogram_value(1e300), Some(u64::MAX));
    }

    #[test]
    fn other_units_are_rounded_to_integers() {
        let s = Scale::Whole;
        assert_eq!(s.histogram_value(1536.4), Some(1536));
        assert_eq!(s.histogram_value(2.5), Some(3));
        assert_eq!(s.histogram_value(0.49), Some(0));
    }

    #[test]
    fn values_a_histogram_cannot_hold_are_refused() {
        for s in [Scale::SecondsAsNanos, Scale::Whole] {
            assert_eq!(s.histogram_value(-1.0), None);
            assert_eq!(s.histogram_value(f64::NAN), None);
            assert_eq!(s.histogram_value(f64::INFINITY), None);
            assert_eq!(s.histogram_value(f64::NEG_INFINITY), None);
        }
    }

    #[test]
    fn gauge_levels_round_half_away_from_zero_and_saturate() {
        assert_eq!(gauge_level(2.5), 3);
        assert_eq!(gauge_level(-2.5), -3);
        assert_eq!(gauge_level(0.49), 0);
        assert_eq!(gauge_level(1e300), i64::MAX);
        assert_eq!(gauge_level(-1e300), i64::MIN);
    }
}
