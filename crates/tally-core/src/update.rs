//! One checked update of one field: the value a binding has parsed and checked, before
//! it is recorded.

use tally_snapshot::FieldKind;

/// One checked update of one field of an event: what a binding (the Python package) parses
/// a value into before it records, into a heap set's event or a shared shard
/// (`ShardWriter::record`, where it goes with the field's index).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldUpdate {
    /// Adds to a counter (saturating at `u64::MAX`: a counter never wraps).
    Counter(u64),
    /// Adds to a gauge (wrapping, as the core's gauges do).
    Gauge(i64),
    /// Sets a last value, stamped now.
    Last(i64),
    /// Records a histogram value, in steps.
    Observe(u64),
    /// Adds to a float counter (finite, >= 0: checked by the caller).
    CounterF64(f64),
    /// Adds to a float gauge (finite: checked by the caller).
    GaugeF64(f64),
    /// Sets a float last value (finite: checked by the caller), stamped now.
    LastF64(f64),
}

impl FieldUpdate {
    /// Whether this update fits a field of `kind`.
    // Used by the shared shards, which loom builds and targets without native 64-bit
    // atomics leave out.
    #[cfg_attr(not(all(unix, not(loom), target_has_atomic = "64")), allow(dead_code))]
    pub(crate) fn fits(&self, kind: FieldKind) -> bool {
        matches!(
            (self, kind),
            (FieldUpdate::Counter(_), FieldKind::Counter)
                | (FieldUpdate::Gauge(_), FieldKind::Gauge)
                | (FieldUpdate::Last(_), FieldKind::LastValue)
                | (FieldUpdate::Observe(_), FieldKind::Histogram(_))
                | (FieldUpdate::CounterF64(_), FieldKind::CounterF64)
                | (FieldUpdate::GaugeF64(_), FieldKind::GaugeF64)
                | (FieldUpdate::LastF64(_), FieldKind::LastValueF64)
        )
    }
}
