//! Values the handles refused, counted per process.

// Not the `sync` shim's: a static needs a `const` constructor, which loom's atomics lack,
// and these counts are statistics outside the shard protocol (nothing to model). On
// targets without native 64-bit atomics, portable-atomic's, as the shim does.
#[cfg(not(target_has_atomic = "64"))]
use portable_atomic::AtomicU64;
#[cfg(target_has_atomic = "64")]
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use tally_snapshot::Rejected;

/// Refusals so far, by reason (`Rejected::index`). Plain process-wide statistics, outside
/// the shard protocol: a refusal is rare and off the hot path, where one shared atomic add
/// is affordable.
static REJECTED: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

/// Counts a refused value (the cold path of the float handles).
#[cold]
#[inline(never)]
pub(crate) fn count(reason: Rejected) -> Rejected {
    // Relaxed: a statistic; nothing is ordered by it.
    REJECTED[reason.index()].fetch_add(1, Ordering::Relaxed);
    reason
}

/// Counts a value refused before it reached a handle, for `reason`: what bindings and
/// bridges call (the `metrics` recorder, the Python package) when they refuse a value
/// themselves, so that [`rejected_values`] counts every refusal of the process.
pub fn count_rejected(reason: Rejected) {
    count(reason);
}

/// How many values the handles of this process refused, by reason: negative increments of
/// float counters and negative histogram values, NaN and infinities, and histogram values
/// at or past 2^63 steps. A refused value is recorded nowhere (never rounded or clamped);
/// `tally`'s `Registry::register_rejected_values` exposes these counts as the metric
/// `tally_rejected_values` (`tally_rejected_values_negative_total`, …).
///
/// ```
/// tally_core::metric_set! {
///     struct Work { cpu_seconds: CounterF64 in Seconds }
/// }
/// let w = Work::new();
/// let before = tally_core::rejected_values().negative;
/// w.cpu_seconds().add(0.25);
/// w.cpu_seconds().add(-1.0); // refused: a counter never goes backwards
/// assert_eq!(w.snapshot().cpu_seconds, 0.25);
/// assert_eq!(tally_core::rejected_values().negative, before + 1);
/// ```
pub fn rejected_values() -> RejectedValues {
    let at = |r: Rejected| REJECTED[r.index()].load(Ordering::Relaxed);
    RejectedValues {
        negative: at(Rejected::Negative),
        not_finite: at(Rejected::NotFinite),
        too_large: at(Rejected::TooLarge),
    }
}

/// The counts of [`rejected_values`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RejectedValues {
    /// [`Rejected::Negative`].
    pub negative: u64,
    /// [`Rejected::NotFinite`].
    pub not_finite: u64,
    /// [`Rejected::TooLarge`].
    pub too_large: u64,
}

impl RejectedValues {
    /// The count for `reason`.
    pub fn get(&self, reason: Rejected) -> u64 {
        match reason {
            Rejected::Negative => self.negative,
            Rejected::NotFinite => self.not_finite,
            _ => self.too_large,
        }
    }
}
