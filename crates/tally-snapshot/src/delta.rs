//! Differences between two snapshots of the same source.

use crate::{Last, LastF64};

/// What went wrong in a [`Delta::delta`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeltaError {
    /// A counter in `later` is smaller than in `earlier`.
    #[error(
        "counter `{field}` went backwards from {earlier} to {later}: pass the newer snapshot \
         first (delta(later, earlier)); if the order is right, the two snapshots come from \
         different sources (a restarted process?) and have no meaningful delta"
    )]
    CounterWentBackwards {
        /// The field's name (empty for a bare value).
        field: String,
        /// Its value in the earlier snapshot.
        earlier: u64,
        /// Its value in the later snapshot.
        later: u64,
    },
    /// A last-value gauge in `later` carries an older stamp than in `earlier`.
    #[error(
        "last-value gauge `{field}` is older in the later snapshot (stamp {later_ns} ns < \
         {earlier_ns} ns): pass the newer snapshot first (delta(later, earlier))"
    )]
    StampWentBackwards {
        /// The field's name (empty for a bare value).
        field: String,
        /// Its stamp in the earlier snapshot.
        earlier_ns: u64,
        /// Its stamp in the later snapshot.
        later_ns: u64,
    },
    /// A float counter is smaller in the later snapshot (its values, as written by `f64`'s
    /// `Display`).
    #[error(
        "float counter `{field}` went backwards from {earlier} to {later}: pass the newer \
         snapshot first (delta(later, earlier)); if the order is right, the two snapshots \
         come from different sources (a restarted process?) and have no meaningful delta"
    )]
    FloatCounterWentBackwards {
        /// The field's name (empty for a bare value).
        field: String,
        /// The earlier total.
        earlier: String,
        /// The later total.
        later: String,
    },
    /// The two snapshots describe different metric sets.
    #[error(
        "the snapshots describe different metric sets ({reason}): a delta needs two \
         snapshots of the same set"
    )]
    SchemaMismatch {
        /// What differs.
        reason: String,
    },
    /// A registry snapshot taking part is not valid (see
    /// [`RegistrySnapshot::validate`](crate::RegistrySnapshot::validate)).
    #[error("{0}")]
    InvalidSnapshot(#[from] crate::InvalidSnapshot),
}

impl DeltaError {
    /// The same error, naming `field` (used by generated snapshot structs).
    #[must_use]
    pub fn in_field(self, name: &str) -> Self {
        match self {
            DeltaError::CounterWentBackwards { earlier, later, .. } => {
                DeltaError::CounterWentBackwards { field: name.to_owned(), earlier, later }
            }
            DeltaError::FloatCounterWentBackwards { earlier, later, .. } => {
                DeltaError::FloatCounterWentBackwards { field: name.to_owned(), earlier, later }
            }
            DeltaError::StampWentBackwards { earlier_ns, later_ns, .. } => {
                DeltaError::StampWentBackwards { field: name.to_owned(), earlier_ns, later_ns }
            }
            other => other,
        }
    }
}

/// `later - earlier` for two snapshots of the same source: what happened in between.
///
/// ```
/// use tally_snapshot::Delta;
/// assert_eq!(u64::delta(&12, &10), Ok(2));
/// assert_eq!(i64::delta(&-3, &4), Ok(-7)); // gauges may go down
/// ```
pub trait Delta: Sized {
    /// What changed from `earlier` to `later`.
    ///
    /// # Errors
    ///
    /// [`DeltaError`] when a counter or stamp is smaller in `later` than in `earlier`.
    fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError>;
}

/// Counters: the number of events in between; an error if the counter went backwards.
impl Delta for u64 {
    fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError> {
        later.checked_sub(*earlier).ok_or(DeltaError::CounterWentBackwards {
            field: String::new(),
            earlier: *earlier,
            later: *later,
        })
    }
}

/// Summed gauges: the net change (negative when the gauge went down).
impl Delta for i64 {
    fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError> {
        Ok(later.wrapping_sub(*earlier))
    }
}

/// Last-value gauges are levels, not flows: the delta is the later value, provided it is
/// not older than the earlier one.
impl Delta for Last {
    fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError> {
        stamps_in_order(later.stamp_ns, earlier.stamp_ns).map(|()| *later)
    }
}

/// A last value's delta is its later value, if its stamp did not go backwards.
fn stamps_in_order(later_ns: u64, earlier_ns: u64) -> Result<(), DeltaError> {
    if later_ns < earlier_ns {
        Err(DeltaError::StampWentBackwards { field: String::new(), earlier_ns, later_ns })
    } else {
        Ok(())
    }
}

/// A float level's change, `later - earlier` (rounded to nearest; exact when both are
/// within a factor of two of each other, or when the difference is representable).
impl Delta for f64 {
    fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError> {
        Ok(later - earlier)
    }
}

impl Delta for LastF64 {
    fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError> {
        stamps_in_order(later.stamp_ns, earlier.stamp_ns).map(|()| *later)
    }
}

/// A float counter's increase, `later - earlier`: an error if it went backwards.
pub fn float_count_delta(later: f64, earlier: f64) -> Result<f64, DeltaError> {
    if later < earlier {
        Err(DeltaError::FloatCounterWentBackwards {
            field: String::new(),
            earlier: earlier.to_string(),
            later: later.to_string(),
        })
    } else {
        Ok(later - earlier)
    }
}
