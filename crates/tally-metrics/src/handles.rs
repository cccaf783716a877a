//! The handles `register_counter`, `register_gauge` and `register_histogram` return: each
//! is one series, so recording is one shard update with no lookup.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use metrics::{CounterFn, GaugeFn, HistogramFn};
use tally::{FieldId, RawSet};

use crate::scale::Scale;
use crate::stats::RecorderStats;

/// What a metric shares with its series: its name, the stats, and which problems were
/// logged already.
#[derive(Debug)]
pub(crate) struct Meta {
    pub(crate) name: String,
    pub(crate) stats: Arc<RecorderStats>,
    warned: AtomicU8,
}

/// The problems logged once per metric.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub(crate) enum Problem {
    LabelConflict = 1,
    RejectedValue = 2,
    KindConflict = 4,
    LateUnit = 8,
}

impl Meta {
    pub(crate) fn new(name: String, stats: Arc<RecorderStats>) -> Self {
        Meta { name, stats, warned: AtomicU8::new(0) }
    }

    /// Whether `problem` is reported for the first time for this metric (then log it).
    /// Relaxed: the flag only dedups log lines; no data is published through it.
    pub(crate) fn first(&self, problem: Problem) -> bool {
        self.warned.fetch_or(problem as u8, Ordering::Relaxed) & problem as u8 == 0
    }

    pub(crate) fn reject_value(&self, value: f64, reason: tally::Rejected) {
        self.stats.rejected_values().inc();
        // Also in the process-wide count of refused values, by reason.
        tally::count_rejected(reason);
        if self.first(Problem::RejectedValue) {
            log::warn!(
                "tally-metrics: metric `{}`: value {value} cannot be recorded ({reason}): \
                 dropped, and counted in the recorder's `rejected_values` stat (logged once \
                 per metric)",
                self.name
            );
        }
    }
}

/// One series of one metric: the family's set for its label values, the field, and the
/// series' shared state (a counter's absolute high-water mark, a gauge's `f64` level).
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) raw: Arc<RawSet>,
    pub(crate) field: FieldId,
    pub(crate) scale: Scale,
    /// Counters: the highest `absolute` value seen. Gauges: the level's `f64` bits.
    aux: AtomicU64,
    pub(crate) meta: Arc<Meta>,
}

impl Series {
    pub(crate) fn new(set: Arc<RawSet>, field: FieldId, scale: Scale, meta: Arc<Meta>) -> Self {
        Series { raw: set, field, scale, aux: AtomicU64::new(0), meta }
    }
}

/// The counter `field` of `raw`, for a lone update: one word added on the thread's shard,
/// the fast path `metric_set!`'s `inc()` takes, rather than a `record` closure. `field` is
/// a counter of `raw`'s layout (made in `recorder.rs` from that layout); `RawSet::counter`
/// checks it.
#[inline(always)]
fn counter(raw: &RawSet, field: FieldId) -> tally::CounterRef<'_, RawSet> {
    raw.counter(field)
}

/// The float last-value field of a gauge series, as [`counter`].
#[inline(always)]
fn gauge(raw: &RawSet, field: FieldId) -> tally::LastValueF64Ref<'_, RawSet> {
    raw.last_value_f64(field)
}

// A series is its own handle: `register_*` returns `Counter::from_arc(series.clone())`, a
// reference count, no allocation. A series has one kind, so only one of the three traits
// is ever called on it.

impl CounterFn for Series {
    fn increment(&self, value: u64) {
        counter(&self.raw, self.field).add(value);
    }

    /// Raises the counter by how far `value` is above the highest absolute value seen
    /// (a decrease is ignored: a counter never goes backwards).
    fn absolute(&self, value: u64) {
        // Relaxed: `fetch_max` is one read-modify-write on one atomic, so the calls are
        // totally ordered on it and their raises add up to the highest value exactly;
        // nothing else is published through it.
        let high = self.aux.fetch_max(value, Ordering::Relaxed);
        if value > high {
            counter(&self.raw, self.field).add(value - high);
        }
    }
}

impl Series {
    /// Writes the series' level, `level` (what `aux` held just after this thread changed
    /// it), into its float last-value field, and again while `aux` has moved on since.
    /// Each write is stamped when it is applied, and the newest stamp wins; a change of
    /// `aux` made after this thread's check is written by its own thread after that check,
    /// so with a later stamp. Once updates stop, the field holds `aux` exactly (crate docs,
    /// "Gauges").
    fn publish(&self, mut level: f64) {
        loop {
            gauge(&self.raw, self.field).set(level);
            // SeqCst, as every access to a gauge's `aux`: one order of all changes and
            // checks, in which a change after this check is this check's successor.
            let now = f64::from_bits(self.aux.load(Ordering::SeqCst));
            if now.to_bits() == level.to_bits() {
                return;
            }
            level = now;
        }
    }

    fn add(&self, by: f64) {
        let mut bits = self.aux.load(Ordering::SeqCst);
        loop {
            let new = f64::from_bits(bits) + by;
            if !new.is_finite() {
                return self.meta.reject_value(by, tally::Rejected::NotFinite);
            }
            match self.aux.compare_exchange_weak(
                bits,
                new.to_bits(),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return self.publish(new),
                Err(now) => bits = now,
            }
        }
    }
}

impl GaugeFn for Series {
    fn increment(&self, value: f64) {
        self.add(value);
    }

    fn decrement(&self, value: f64) {
        self.add(-value);
    }

    fn set(&self, value: f64) {
        if !value.is_finite() {
            return self.meta.reject_value(value, tally::Rejected::NotFinite);
        }
        // SeqCst: see `publish`.
        self.aux.swap(value.to_bits(), Ordering::SeqCst);
        self.publish(value);
    }
}

impl HistogramFn for Series {
    fn record(&self, value: f64) {
        match self.scale.steps(value) {
            Ok(v) => self.raw.record(|e| e.observe(self.field, v)),
            Err(reason) => self.meta.reject_value(value, reason),
        }
    }

    /// `count` observations of `value`, as one event.
    fn record_many(&self, value: f64, count: usize) {
        match self.scale.steps(value) {
            Ok(v) => self.raw.record(|e| {
                for _ in 0..count {
                    e.observe(self.field, v);
                }
            }),
            Err(reason) => self.meta.reject_value(value, reason),
        }
    }
}

/// The handle of a metric that could not be registered: counts every update it drops.
#[derive(Debug)]
pub(crate) struct Rejected(pub(crate) Arc<Meta>);

impl Rejected {
    fn drop_one(&self) {
        self.0.stats.rejected_updates().inc();
    }
}

impl CounterFn for Rejected {
    fn increment(&self, _: u64) {
        self.drop_one();
    }
    fn absolute(&self, _: u64) {
        self.drop_one();
    }
}

impl GaugeFn for Rejected {
    fn increment(&self, _: f64) {
        self.drop_one();
    }
    fn decrement(&self, _: f64) {
        self.drop_one();
    }
    fn set(&self, _: f64) {
        self.drop_one();
    }
}

impl HistogramFn for Rejected {
    fn record(&self, _: f64) {
        self.drop_one();
    }
    fn record_many(&self, _: f64, _: usize) {
        self.drop_one();
    }
}
