//! Why a recorded value was refused: the one list of reasons that the core counts, the
//! `metrics` recorder and the Python binding report, and exporters expose.

/// Why a value could not be recorded. A refused value is not recorded at all (nothing is
/// rounded or clamped into range): the core counts it under its reason
/// (`tally_core::rejected_values`), and the `try_` methods of the handles return it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// A negative value for a counter or a histogram (counters never go backwards;
    /// histograms hold magnitudes).
    #[error(
        "a negative value cannot be added to a counter or recorded in a histogram: record \
         magnitudes, or use a gauge for a level that goes down"
    )]
    Negative,
    /// NaN or an infinity.
    #[error("NaN and infinities cannot be recorded: check the value's computation")]
    NotFinite,
    /// A value of [`HistogramConfig::STEP_LIMIT`](crate::HistogramConfig::STEP_LIMIT)
    /// (about 2^63) of the histogram's steps or more.
    #[error(
        "the value is beyond the histogram's 2^63 steps: declare the histogram with coarser \
         steps (fewer decimals)"
    )]
    TooLarge,
}

impl Rejected {
    /// Every reason, in the order of [`index`](Self::index).
    pub const ALL: [Rejected; 3] = [Rejected::Negative, Rejected::NotFinite, Rejected::TooLarge];

    /// The reason's label value (`negative`, `not_finite`, `too_large`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Rejected::Negative => "negative",
            Rejected::NotFinite => "not_finite",
            Rejected::TooLarge => "too_large",
        }
    }

    /// The reason's position in [`ALL`](Self::ALL).
    pub const fn index(self) -> usize {
        match self {
            Rejected::Negative => 0,
            Rejected::NotFinite => 1,
            Rejected::TooLarge => 2,
        }
    }

    /// Why `x`, refused by a histogram, was refused: it is not finite, negative, or (else)
    /// too large.
    #[cold]
    pub fn classify(x: f64) -> Rejected {
        if !x.is_finite() {
            Rejected::NotFinite
        } else if x < 0.0 {
            Rejected::Negative
        } else {
            Rejected::TooLarge
        }
    }
}
