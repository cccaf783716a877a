//! [`RecorderStats`]: what the recorder could not record as asked, registered beside the
//! metrics it records.

tally::metric_set! {
    /// The recorder's own bookkeeping, read with
    /// [`TallyRecorder::stats`](crate::TallyRecorder::stats), and registered as
    /// [`STATS_METRIC`](crate::STATS_METRIC) in the recorder's registry (exposed as
    /// `tally_metrics_label_conflicts_total`, …) only when asked for with
    /// [`Builder::expose_stats`](crate::Builder::expose_stats). Every update the recorder
    /// did not record as asked is counted here, and the first of each kind per metric is
    /// logged (`log::warn!`).
    pub struct RecorderStats {
        /// Registrations (`counter!`, `gauge!`, `histogram!` calls) whose label keys differ
        /// from the metric's: recorded into the series of the metric's own labels, by name
        /// (missing labels empty, extra labels dropped).
        label_conflicts: Counter,
        /// Values dropped because the field cannot hold them: NaN, infinite or negative
        /// histogram values, non-finite gauge values.
        rejected_values: Counter,
        /// Updates dropped because their metric could not be registered (its name is
        /// taken by another kind of metric or by a metric registered outside the recorder).
        rejected_updates: Counter,
    }
}
