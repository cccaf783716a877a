//! Ratios of two counters from one snapshot.

/// `part / whole` as a fraction, or `None` when `whole` is zero (no events yet: the rate is
/// undefined, not 0 and not 1).
///
/// Computed from one snapshot, `part <= whole` holds for fields the writer updates in one
/// event, so the result lies in `[0, 1]`; the function does not clamp, so that a broken
/// invariant stays visible.
///
/// ```
/// assert_eq!(tally_snapshot::ratio(1, 4), Some(0.25));
/// assert_eq!(tally_snapshot::ratio(0, 0), None);
/// ```
pub fn ratio(part: u64, whole: u64) -> Option<f64> {
    if whole == 0 { None } else { Some(part as f64 / whole as f64) }
}

/// Like [`ratio`], with 0.0 for the empty case: what a dashboard shows before the first
/// event.
///
/// ```
/// assert_eq!(tally_snapshot::ratio_or_zero(0, 0), 0.0);
/// assert_eq!(tally_snapshot::ratio_or_zero(3, 4), 0.75);
/// ```
pub fn ratio_or_zero(part: u64, whole: u64) -> f64 {
    ratio(part, whole).unwrap_or(0.0)
}
