//! The values this process refused to record, as a metric.

use crate::collector::Collector;
use crate::registry::{Registry, RegistryError};

crate::metric_set! {
    /// How many values the handles of this process refused, by reason
    /// ([`rejected_values`](crate::rejected_values)): registered as the metric
    /// `tally_rejected_values` by [`Registry::register_rejected_values`], so exposed as
    /// `tally_rejected_values_negative_total` and its siblings.
    pub struct RejectedValueStats {
        /// Negative increments of float counters, and negative histogram values.
        negative_total: Counter,
        /// NaN, and infinities where no infinity can be recorded.
        not_finite_total: Counter,
        /// Histogram values too large for the histogram's steps.
        too_large_total: Counter,
    }
}

struct RejectedCollector;

impl Collector for RejectedCollector {
    type Snapshot = RejectedValueStatsSnapshot;
    fn collect(&self) -> RejectedValueStatsSnapshot {
        let counts = crate::rejected_values();
        RejectedValueStatsSnapshot {
            negative_total: counts.negative,
            not_finite_total: counts.not_finite,
            too_large_total: counts.too_large,
        }
    }
}

impl Registry {
    /// Registers the process' counts of refused values ([`RejectedValueStats`]) as the
    /// metric `tally_rejected_values`, read at each collection: a dashboard sees a value
    /// that could not be recorded instead of never knowing it was dropped.
    ///
    /// ```
    /// tally::metric_set! {
    ///     struct Job { cpu_seconds: CounterF64 in Seconds }
    /// }
    /// let registry = tally::Registry::new();
    /// registry.register_rejected_values().unwrap();
    /// let job = registry.register::<Job>("job", "A job.").unwrap();
    /// job.cpu_seconds().add(-1.0); // refused: a counter never goes backwards
    /// let snap = registry.snapshot();
    /// let series = &snap.metrics["tally_rejected_values"].series[0].snapshot;
    /// assert!(matches!(series.get("negative_total"), Some(tally::Value::Counter(n)) if *n >= 1));
    /// ```
    ///
    /// # Errors
    ///
    /// [`RegistryError`] when the name `tally_rejected_values` is taken, or its exposed
    /// names clash with a metric already registered.
    pub fn register_rejected_values(&self) -> Result<(), RegistryError> {
        self.metric("tally_rejected_values")
            .help("Values this process refused to record (negative, not finite, too large).")
            .collector(RejectedCollector)
    }
}
