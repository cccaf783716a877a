//! What a field's values are measured in: the one declaration every exporter names a
//! series by (`_seconds`, `_bytes`, `_ratio`), writes `# UNIT` from, and scales by.

use serde::{Deserialize, Serialize};

/// The unit a field's values are in, declared with the field (never guessed from its
/// name).
///
/// The units are Prometheus' base units: exporters append `_<unit>` to a family's name
/// unless it already ends with it, and OpenMetrics writes `# UNIT <family> <unit>`.
/// A histogram's unit is part of its [`HistogramConfig`](crate::HistogramConfig), together
/// with the scale its integer steps are recorded at.
///
/// ```
/// use tally_snapshot::Unit;
/// assert_eq!(Unit::Seconds.as_str(), "seconds");
/// assert_eq!(Unit::None.as_str(), "");
/// assert_eq!(Unit::parse("bytes"), Some(Unit::Bytes));
/// assert_eq!(Unit::parse("fortnights"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Unit {
    /// A plain number: a count of things, a score, a loss.
    #[default]
    None,
    /// Time, in seconds (durations are recorded from `Duration`s or as `f64` seconds).
    Seconds,
    /// Sizes, in bytes.
    Bytes,
    /// A fraction, where 1 is the whole (utilisation, fill, hit rate): 0.75, not 75.
    Ratio,
    /// Temperature, in degrees Celsius.
    Celsius,
    /// Energy, in joules.
    Joules,
    /// Electric potential, in volts.
    Volts,
    /// Current, in amperes.
    Amperes,
    /// Length, in meters.
    Meters,
    /// Mass, in grams.
    Grams,
}

impl Unit {
    /// Every unit, [`Unit::None`] first.
    pub const ALL: [Unit; 10] = [
        Unit::None,
        Unit::Seconds,
        Unit::Bytes,
        Unit::Ratio,
        Unit::Celsius,
        Unit::Joules,
        Unit::Volts,
        Unit::Amperes,
        Unit::Meters,
        Unit::Grams,
    ];

    /// The unit's name as it ends a metric name and follows `# UNIT` (empty for
    /// [`Unit::None`]).
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::None => "",
            Unit::Seconds => "seconds",
            Unit::Bytes => "bytes",
            Unit::Ratio => "ratio",
            Unit::Celsius => "celsius",
            Unit::Joules => "joules",
            Unit::Volts => "volts",
            Unit::Amperes => "amperes",
            Unit::Meters => "meters",
            Unit::Grams => "grams",
        }
    }

    /// The unit as [UCUM] writes it, which OpenTelemetry's `unit` field carries: `s`, `By`,
    /// `1` for a ratio, `Cel`, `J`, `V`, `A`, `m`, `g`; empty for [`Unit::None`].
    ///
    /// ```
    /// use tally_snapshot::Unit;
    /// assert_eq!(Unit::Seconds.ucum(), "s");
    /// assert_eq!(Unit::Bytes.ucum(), "By");
    /// assert_eq!(Unit::Ratio.ucum(), "1");
    /// assert_eq!(Unit::None.ucum(), "");
    /// ```
    ///
    /// [UCUM]: https://ucum.org/ucum
    pub const fn ucum(self) -> &'static str {
        match self {
            Unit::None => "",
            Unit::Seconds => "s",
            Unit::Bytes => "By",
            Unit::Ratio => "1",
            Unit::Celsius => "Cel",
            Unit::Joules => "J",
            Unit::Volts => "V",
            Unit::Amperes => "A",
            Unit::Meters => "m",
            Unit::Grams => "g",
        }
    }

    /// The unit called `name` ([`as_str`](Self::as_str); `""` and `"none"` are
    /// [`Unit::None`]).
    pub fn parse(name: &str) -> Option<Unit> {
        if name == "none" {
            return Some(Unit::None);
        }
        Unit::ALL.into_iter().find(|u| u.as_str() == name)
    }

    /// Whether this is [`Unit::None`].
    pub const fn is_none(self) -> bool {
        matches!(self, Unit::None)
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_none() { "none" } else { self.as_str() })
    }
}

/// For serde's `skip_serializing_if`.
pub(crate) fn unit_is_none(unit: &Unit) -> bool {
    unit.is_none()
}
