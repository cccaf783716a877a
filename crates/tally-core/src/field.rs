//! Field kinds and the handles that record into them.
//!
//! | kind | value | operations | across threads |
//! |------|-------|------------|----------------|
//! | [`Counter`] | `u64` | `inc`, `add(u64)` | summed; never goes backwards |
//! | [`Gauge`] | `i64` | `inc`, `dec`, `add(i64)`, `sub(i64)` | summed, so concurrent moves are exact |
//! | [`LastValue`] | [`Last`] | `set(i64)` | the newest `set` from any thread wins |
//! | [`Histogram`] | [`HistogramSnapshot`] | `record(u64)`, `record_duration`, timers | buckets, count, sum summed; min/max combined |
//!
//! A handle taken from the set ([`CounterRef<'_, RawSet>`]) makes each operation its own
//! event; a handle taken from an event inside `record` adds to that event.

use std::time::{Duration, Instant};

use tally_snapshot::{Delta, FieldKind, HistogramConfig, HistogramSnapshot, Last, Merge, Value};

use crate::event::Event;
use crate::{FieldId, RawSet};

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::RawSet {}
    impl Sealed for crate::Event<'_> {}
    impl Sealed for super::Counter {}
    impl Sealed for super::Gauge {}
    impl Sealed for super::LastValue {}
    impl Sealed for super::Histogram {}
}

/// Where a field handle's updates go: a set (each update its own event) or an open
/// [`Event`]. Sealed.
pub trait Sink: sealed::Sealed {
    #[doc(hidden)]
    fn add_word(&self, word: usize, delta: u64);
    #[doc(hidden)]
    fn set_pair(&self, word: usize, first: u64, second: u64);
    #[doc(hidden)]
    fn observe_value(&self, field: FieldId, value: u64);
}

/// A field kind: how many shard words it takes, what its snapshot value is and what its
/// handle can do. Sealed; implemented by [`Counter`], [`Gauge`] and [`LastValue`].
pub trait Kind: sealed::Sealed {
    /// The kind, as exporters see it.
    const KIND: FieldKind;
    /// The field's value in a snapshot.
    type Value: Clone + Default + PartialEq + core::fmt::Debug + Merge + Delta;
    /// The handle that records into the field.
    type Field<'a, S: Sink + ?Sized + 'a>;
    #[doc(hidden)]
    fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> Self::Field<'_, S>;
    /// The value, dynamically typed.
    fn to_value(value: Self::Value) -> Value;
    /// The typed value, if `value` is of this kind.
    fn from_value(value: Value) -> Option<Self::Value>;
}

/// Field kind: a monotonic `u64` count of events.
#[derive(Debug, Clone, Copy)]
pub struct Counter;

/// Field kind: a signed `i64` level moved by `add`/`sub`, summed across threads.
#[derive(Debug, Clone, Copy)]
pub struct Gauge;

/// Field kind: a signed `i64` level written by `set`; the newest write wins.
#[derive(Debug, Clone, Copy)]
pub struct LastValue;

/// Field kind: a distribution of `u64` values in log-linear buckets (by default
/// [`HistogramConfig::DEFAULT`]: relative error ≤ 2^-5, values up to 100 s in
/// nanoseconds). In `metric_set!`, `latency: Histogram` uses the default and
/// `latency: Histogram(CONFIG)` a `const` configuration.
#[derive(Debug, Clone, Copy)]
pub struct Histogram;

impl Kind for Counter {
    const KIND: FieldKind = FieldKind::Counter;
    type Value = u64;
    type Field<'a, S: Sink + ?Sized + 'a> = CounterRef<'a, S>;
    #[inline(always)]
    fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> CounterRef<'_, S> {
        CounterRef { sink, word: id.word() }
    }
    fn to_value(value: u64) -> Value {
        Value::Counter(value)
    }
    fn from_value(value: Value) -> Option<u64> {
        match value {
            Value::Counter(v) => Some(v),
            _ => None,
        }
    }
}

impl Kind for Gauge {
    const KIND: FieldKind = FieldKind::Gauge;
    type Value = i64;
    type Field<'a, S: Sink + ?Sized + 'a> = GaugeRef<'a, S>;
    #[inline(always)]
    fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> GaugeRef<'_, S> {
        GaugeRef { sink, word: id.word() }
    }
    fn to_value(value: i64) -> Value {
        Value::Gauge(value)
    }
    fn from_value(value: Value) -> Option<i64> {
        match value {
            Value::Gauge(v) => Some(v),
            _ => None,
        }
    }
}

impl Kind for LastValue {
    const KIND: FieldKind = FieldKind::LastValue;
    type Value = Last;
    type Field<'a, S: Sink + ?Sized + 'a> = LastValueRef<'a, S>;
    #[inline(always)]
    fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> LastValueRef<'_, S> {
        LastValueRef { sink, word: id.word() }
    }
    fn to_value(value: Last) -> Value {
        Value::LastValue(value)
    }
    fn from_value(value: Value) -> Option<Last> {
        match value {
            Value::LastValue(v) => Some(v),
            _ => None,
        }
    }
}

impl Kind for Histogram {
    const KIND: FieldKind = FieldKind::Histogram(HistogramConfig::DEFAULT);
    type Value = HistogramSnapshot;
    type Field<'a, S: Sink + ?Sized + 'a> = HistogramRef<'a, S>;
    #[inline(always)]
    fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> HistogramRef<'_, S> {
        HistogramRef { sink, id }
    }
    fn to_value(value: HistogramSnapshot) -> Value {
        Value::Histogram(Box::new(value))
    }
    fn from_value(value: Value) -> Option<HistogramSnapshot> {
        match value {
            Value::Histogram(h) => Some(*h),
            _ => None,
        }
    }
}

/// Records into a [`Counter`] field.
///
/// ```
/// tally_core::metric_set! {
///     pub struct Requests { served: Counter }
/// }
/// let r = Requests::new();
/// r.served().inc();
/// r.served().add(2);
/// assert_eq!(r.snapshot().served, 3);
/// ```
#[derive(Debug)]
pub struct CounterRef<'a, S: ?Sized> {
    sink: &'a S,
    word: usize,
}

impl<S: Sink + ?Sized> CounterRef<'_, S> {
    /// Adds 1.
    #[inline(always)]
    pub fn inc(&self) {
        self.sink.add_word(self.word, 1);
    }

    /// Adds `n`.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.sink.add_word(self.word, n);
    }
}

/// Records into a [`Gauge`] field.
///
/// ```
/// tally_core::metric_set! {
///     pub struct Queue { depth: Gauge }
/// }
/// let q = Queue::new();
/// q.depth().add(5);
/// q.depth().dec();
/// q.depth().sub(10);
/// assert_eq!(q.snapshot().depth, -6);
/// ```
#[derive(Debug)]
pub struct GaugeRef<'a, S: ?Sized> {
    sink: &'a S,
    word: usize,
}

impl<S: Sink + ?Sized> GaugeRef<'_, S> {
    /// Adds 1.
    #[inline(always)]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts 1.
    #[inline(always)]
    pub fn dec(&self) {
        self.add(-1);
    }

    /// Adds `n` (which may be negative).
    #[inline(always)]
    pub fn add(&self, n: i64) {
        self.sink.add_word(self.word, n as u64);
    }

    /// Subtracts `n` (wrapping, like the sum).
    #[inline(always)]
    pub fn sub(&self, n: i64) {
        self.add(n.wrapping_neg());
    }
}

/// Records into a [`LastValue`] field.
///
/// ```
/// tally_core::metric_set! {
///     pub struct Model { batch_size: LastValue }
/// }
/// let m = Model::new();
/// m.batch_size().set(32);
/// m.batch_size().set(16);
/// assert_eq!(m.snapshot().batch_size.value, 16);
/// ```
#[derive(Debug)]
pub struct LastValueRef<'a, S: ?Sized> {
    sink: &'a S,
    word: usize,
}

impl<S: Sink + ?Sized> LastValueRef<'_, S> {
    /// Sets the value, stamped with the current time (about 20 ns for the clock read).
    #[inline]
    pub fn set(&self, value: i64) {
        self.sink.set_pair(self.word, value as u64, crate::clock::stamp_ns());
    }
}

/// Records into a [`Histogram`] field.
///
/// ```
/// tally_core::metric_set! {
///     pub struct Rpc {
///         /// Calls made.
///         calls: Counter,
///         /// Call latency in nanoseconds.
///         latency_ns: Histogram,
///     }
/// }
/// let rpc = Rpc::new();
/// rpc.record(|e| {
///     e.calls().inc();
///     e.latency_ns().record(1_250_000);
/// });
/// // A timer records the elapsed nanoseconds when it is dropped.
/// rpc.record(|e| {
///     e.calls().inc();
///     let _timer = e.latency_ns().start_timer();
/// });
/// let snap = rpc.snapshot();
/// assert_eq!(snap.latency_ns.count(), snap.calls);
/// ```
#[derive(Debug)]
pub struct HistogramRef<'a, S: ?Sized> {
    sink: &'a S,
    id: FieldId,
}

impl<'a, S: Sink + ?Sized> HistogramRef<'a, S> {
    /// Records one value (values beyond the configured maximum are counted in the
    /// overflow bucket, and in count, sum, min and max exactly).
    #[inline(always)]
    pub fn record(&self, value: u64) {
        self.sink.observe_value(self.id, value);
    }

    /// Records a duration in nanoseconds (saturating at `u64::MAX`, about 584 years).
    #[inline(always)]
    pub fn record_duration(&self, d: Duration) {
        self.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Runs `f` and records how long it took, in nanoseconds.
    #[inline]
    pub fn time<R>(&self, f: impl FnOnce() -> R) -> R {
        let timer = self.start_timer();
        let r = f();
        drop(timer);
        r
    }

    /// A guard that records the nanoseconds from now until it is dropped (also on
    /// unwinding), using the precise monotonic clock (`std::time::Instant`, ~20 ns a read).
    #[inline]
    pub fn start_timer(&self) -> Timer<'a, S> {
        Timer {
            field: HistogramRef { sink: self.sink, id: self.id },
            start: Start::Precise(Instant::now()),
        }
    }

    /// Like [`start_timer`](Self::start_timer), with a coarse, cheaper clock for very hot
    /// paths: `quanta`'s cached time when [`start_coarse_clock`](crate::start_coarse_clock)
    /// is running (a memory read, updated every interval), otherwise its TSC-based clock.
    /// Durations shorter than the update interval may be recorded as 0.
    #[inline]
    pub fn start_coarse_timer(&self) -> Timer<'a, S> {
        Timer {
            field: HistogramRef { sink: self.sink, id: self.id },
            start: Start::Coarse(quanta::Instant::recent()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Start {
    Precise(Instant),
    Coarse(quanta::Instant),
}

/// Records the time since its creation into a histogram when dropped. See
/// [`HistogramRef::start_timer`].
#[derive(Debug)]
#[must_use = "a timer records when it is dropped; bind it to a variable"]
pub struct Timer<'a, S: Sink + ?Sized> {
    field: HistogramRef<'a, S>,
    start: Start,
}

impl<S: Sink + ?Sized> Timer<'_, S> {
    /// Stops the timer now and records (the same as dropping it).
    pub fn stop(self) {}
}

impl<S: Sink + ?Sized> Drop for Timer<'_, S> {
    fn drop(&mut self) {
        let elapsed = match self.start {
            Start::Precise(t) => t.elapsed(),
            Start::Coarse(t) => quanta::Instant::recent().saturating_duration_since(t),
        };
        self.field.record_duration(elapsed);
    }
}

impl Sink for RawSet {
    #[inline(always)]
    fn add_word(&self, word: usize, delta: u64) {
        self.add_one(word, delta);
    }
    #[inline]
    fn set_pair(&self, word: usize, first: u64, second: u64) {
        self.record(|e| e.set_pair(word, first, second));
    }
    #[inline]
    fn observe_value(&self, field: FieldId, value: u64) {
        self.record(|e| e.observe_value(field, value));
    }
}

impl Sink for Event<'_> {
    #[inline(always)]
    fn add_word(&self, word: usize, delta: u64) {
        self.add(word, delta);
    }
    #[inline(always)]
    fn set_pair(&self, word: usize, first: u64, second: u64) {
        self.set(word, first);
        self.set(word + 1, second);
    }
    #[inline(always)]
    fn observe_value(&self, field: FieldId, value: u64) {
        if let FieldKind::Histogram(config) = field.kind() {
            self.observe_at(field.word(), field.page_base(), config, value);
        }
    }
}
