//! What happened between two epochs, and per-second rates.

use std::time::Duration;

use tally_snapshot::{Delta, DeltaError};

use crate::Epoch;

/// Why two epochs do not make a [`Window`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EpochError {
    /// The epochs come from two different publishers.
    #[error(
        "the epochs come from two different publishers (ids {later_publisher} and \
         {earlier_publisher}): take both epochs from the same `Publisher` (or its clones)"
    )]
    DifferentPublishers {
        /// The id of the publisher of the receiver (`later`).
        later_publisher: u64,
        /// The id of the publisher of the argument (`earlier`).
        earlier_publisher: u64,
    },
    /// The receiver is older than the argument.
    #[error(
        "epoch {later} is older than epoch {earlier}: call `newer.since(&older)`, with the \
         newer epoch as the receiver"
    )]
    OutOfOrder {
        /// The receiver's number.
        later: u64,
        /// The argument's number.
        earlier: u64,
    },
    /// The newer epoch carries an earlier time stamp than the older one.
    #[error(
        "epoch {later} was stamped at {later_at:?}, before epoch {earlier} ({earlier_at:?}): \
         the publisher's clock went backwards; give the publisher a monotonic `Clock`"
    )]
    ClockWentBackwards {
        /// The receiver's number.
        later: u64,
        /// The receiver's stamp.
        later_at: Duration,
        /// The argument's number.
        earlier: u64,
        /// The argument's stamp.
        earlier_at: Duration,
    },
    /// The snapshots do not subtract (a counter went backwards, or the schema changed).
    #[error("the snapshots of epochs {earlier} and {later} do not subtract: {source}")]
    Delta {
        /// The receiver's number.
        later: u64,
        /// The argument's number.
        earlier: u64,
        /// What the snapshot's [`Delta`] reported.
        #[source]
        source: DeltaError,
    },
}

/// What happened between two epochs of one publisher: the time between their collections
/// and the [`Delta`] of their snapshots. Made by [`Epoch::since`].
///
/// Rates are per second of the publisher's [`Clock`](crate::Clock). A window of zero
/// length (the same epoch twice, or two collections within one clock tick) has no rate:
/// [`rate`](Self::rate) returns `None` rather than a NaN or an infinity.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::Duration;
/// use tally_epoch::{ManualClock, Publisher};
///
/// let requests = Arc::new(AtomicU64::new(0));
/// let source = Arc::clone(&requests);
/// let clock = ManualClock::new();
/// let publisher = Publisher::builder(move || source.load(Ordering::Relaxed))
///     .clock(clock.clone())
///     .build();
///
/// let before = publisher.latest();
/// requests.fetch_add(500, Ordering::Relaxed);
/// clock.advance(Duration::from_secs(10));
/// let after = publisher.refresh();
///
/// let window = after.since(&before).unwrap();
/// assert_eq!(window.elapsed(), Duration::from_secs(10));
/// assert_eq!(*window.delta(), 500);
/// assert_eq!(window.rate(|&n| n), Some(50.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Window<S> {
    earlier: u64,
    later: u64,
    elapsed: Duration,
    delta: S,
}

impl<S> Epoch<S> {
    /// The window from `earlier` to `self`, for snapshot types that implement [`Delta`]
    /// (the typed snapshots of `tally::metric_set!` sets, `u64`, …). For a
    /// [`SetSnapshot`](tally_snapshot::SetSnapshot), use
    /// [`since_by`](Self::since_by)`(&earlier, SetSnapshot::delta)`.
    ///
    /// `earlier` may be `self` (an empty window, without rates).
    ///
    /// # Errors
    ///
    /// [`EpochError::DifferentPublishers`], [`EpochError::OutOfOrder`] if `earlier` is
    /// newer than `self`, [`EpochError::ClockWentBackwards`], or [`EpochError::Delta`] if
    /// a counter went backwards.
    pub fn since(&self, earlier: &Epoch<S>) -> Result<Window<S>, EpochError>
    where
        S: Delta,
    {
        self.since_by(earlier, S::delta)
    }

    /// The window from `earlier` to `self`, subtracting the snapshots with
    /// `delta(later, earlier)`: for snapshot types with an inherent `delta` rather than a
    /// [`Delta`] implementation, such as [`SetSnapshot`](tally_snapshot::SetSnapshot).
    ///
    /// # Errors
    ///
    /// As [`since`](Self::since).
    ///
    /// # Examples
    ///
    /// ```
    /// use tally_epoch::Publisher;
    /// use tally_snapshot::{FieldDesc, FieldKind, SetSnapshot, Value};
    ///
    /// let fields = vec![FieldDesc::new("requests", FieldKind::Counter, "Requests.")];
    /// let publisher = Publisher::new(move || {
    ///     SetSnapshot::new(fields.clone(), vec![Value::Counter(7)]).unwrap()
    /// });
    /// let a = publisher.latest();
    /// let b = publisher.refresh();
    /// let window = b.since_by(&a, SetSnapshot::delta).unwrap();
    /// assert_eq!(window.delta().get("requests"), Some(&Value::Counter(0)));
    /// ```
    pub fn since_by(
        &self,
        earlier: &Epoch<S>,
        delta: impl FnOnce(&S, &S) -> Result<S, DeltaError>,
    ) -> Result<Window<S>, EpochError> {
        if self.publisher != earlier.publisher {
            return Err(EpochError::DifferentPublishers {
                later_publisher: self.publisher,
                earlier_publisher: earlier.publisher,
            });
        }
        if self.number < earlier.number {
            return Err(EpochError::OutOfOrder { later: self.number, earlier: earlier.number });
        }
        let Some(elapsed) = self.collected_at.checked_sub(earlier.collected_at) else {
            return Err(EpochError::ClockWentBackwards {
                later: self.number,
                later_at: self.collected_at,
                earlier: earlier.number,
                earlier_at: earlier.collected_at,
            });
        };
        let delta = delta(&self.snapshot, &earlier.snapshot).map_err(|source| {
            EpochError::Delta { later: self.number, earlier: earlier.number, source }
        })?;
        Ok(Window { earlier: earlier.number, later: self.number, elapsed, delta })
    }
}

impl<S> Window<S> {
    /// The number of the epoch the window starts at.
    pub fn earlier_number(&self) -> u64 {
        self.earlier
    }

    /// The number of the epoch the window ends at.
    pub fn later_number(&self) -> u64 {
        self.later
    }

    /// The time between the two epochs' collections.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// What happened in the window: `later - earlier` of the snapshots.
    pub fn delta(&self) -> &S {
        &self.delta
    }

    /// The delta, by value.
    pub fn into_delta(self) -> S {
        self.delta
    }

    /// The per-second rate of a count taken from the delta (`|d| d.total_inferences`):
    /// `None` for a window of zero length.
    pub fn rate(&self, count: impl FnOnce(&S) -> u64) -> Option<f64> {
        self.per_second(count(&self.delta) as f64)
    }

    /// `amount` per second of the window: `None` for a window of zero length, or when the
    /// result would not be finite (a NaN or infinite `amount`).
    ///
    /// ```
    /// use tally_epoch::Publisher;
    /// let publisher = Publisher::new(|| 0u64);
    /// let e = publisher.latest();
    /// let empty = e.since(&e).unwrap();
    /// assert_eq!(empty.per_second(10.0), None); // never NaN or infinity
    /// ```
    pub fn per_second(&self, amount: f64) -> Option<f64> {
        if self.elapsed.is_zero() {
            return None;
        }
        let rate = amount / self.elapsed.as_secs_f64();
        rate.is_finite().then_some(rate)
    }
}
