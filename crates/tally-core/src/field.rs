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
use crate::op::Op;
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
///
/// The methods write shard words without a bounds check (the handles' hot path), so they
/// are `unsafe`: the caller promises the words belong to the sink's layout. Handles made by
/// [`Kind::field`] carry that promise; safe code records through handles, or through the
/// checked [`Event::add_counter`] family.
pub trait Sink: sealed::Sealed {
    /// Adds `delta` to a counter word, saturating at `u64::MAX` (a counter never goes
    /// backwards).
    ///
    /// # Safety
    ///
    /// `word` is the word of a [`Counter`] field of the sink's layout.
    #[doc(hidden)]
    unsafe fn add_count(&self, word: usize, delta: u64);
    /// Adds 1 to a counter word (its fast path).
    ///
    /// # Safety
    ///
    /// As [`add_count`](Self::add_count).
    #[doc(hidden)]
    unsafe fn inc_count(&self, word: usize);
    /// Adds `delta` (wrapping, two's complement) to a gauge word.
    ///
    /// # Safety
    ///
    /// `word` is the word of a [`Gauge`] field of the sink's layout.
    #[doc(hidden)]
    unsafe fn add_level(&self, word: usize, delta: u64);
    /// Sets a last-value field: its value, and a stamp read when the update is applied.
    ///
    /// # Safety
    ///
    /// `word` is the first word of a [`LastValue`] field of the sink's layout.
    #[doc(hidden)]
    unsafe fn set_last_value(&self, word: usize, value: u64);
    /// Records `value` into a histogram field.
    ///
    /// # Safety
    ///
    /// `field` is a [`Histogram`] field of the sink's layout (its words, pages and
    /// configuration as the layout gives them).
    #[doc(hidden)]
    unsafe fn observe_value(&self, field: FieldId, value: u64);
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
    /// The handle of field `id` of `sink`. Not public API: typed sets call it through
    /// `metric_set!`'s generated accessors, run-time sets through [`RawSet::counter`] and
    /// [`RawSet::gauge`], which check the id.
    ///
    /// # Safety
    ///
    /// `id` is a field of this kind in the layout of `sink` (the handle writes its words
    /// unchecked). A [`FieldId`] of another layout, or of another kind, breaks this.
    #[doc(hidden)]
    unsafe fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> Self::Field<'_, S>;
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
    unsafe fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> CounterRef<'_, S> {
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
    unsafe fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> GaugeRef<'_, S> {
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
    unsafe fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> LastValueRef<'_, S> {
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
    unsafe fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> HistogramRef<'_, S> {
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
        // SAFETY: `word` is a counter of the sink's layout: the contract of `Kind::field`,
        // the only constructor.
        unsafe { self.sink.inc_count(self.word) }
    }

    /// Adds `n`. A counter saturates at `u64::MAX` instead of wrapping: it never goes
    /// backwards (an `add` that would pass the maximum leaves it at the maximum).
    #[inline(always)]
    pub fn add(&self, n: u64) {
        // SAFETY: `word` is a counter of the sink's layout: the contract of `Kind::field`,
        // the only constructor.
        unsafe { self.sink.add_count(self.word, n) }
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
        // SAFETY: `word` is a gauge of the sink's layout: the contract of `Kind::field`,
        // the only constructor.
        unsafe { self.sink.add_level(self.word, n as u64) }
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
        // SAFETY: `word` is a last-value field of the sink's layout: the contract of
        // `Kind::field`, the only constructor.
        unsafe { self.sink.set_last_value(self.word, value as u64) }
    }
}

/// Records into a [`Histogram`] field.
///
/// ```
/// tally_core::metric_set! {
///     pub struct Rpc {
///         /// Calls made.
///         calls: Counter,
///         /// Call latency.
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
        // SAFETY: `id` is a histogram of the sink's layout: the contract of `Kind::field`,
        // the only constructor (timers copy it from a handle).
        unsafe { self.sink.observe_value(self.id, value) }
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

// Every method below passes the caller's promise (the `Sink` contract) down unchanged:
// the words are the field's words in this set's layout, and the shard of this set (or the
// event's shard) was built from that layout, so they are inside it.
impl Sink for RawSet {
    #[inline(always)]
    unsafe fn inc_count(&self, word: usize) {
        // SAFETY: the caller's promise (see above).
        unsafe { self.apply_one(|_| Op::inc(word)) }
    }
    #[inline(always)]
    unsafe fn add_count(&self, word: usize, delta: u64) {
        // SAFETY: the caller's promise (see above).
        unsafe { self.apply_one(|_| Op::count(word, delta)) }
    }
    #[inline(always)]
    unsafe fn add_level(&self, word: usize, delta: u64) {
        // SAFETY: the caller's promise (see above).
        unsafe { self.apply_one(|_| Op::level(word, delta)) }
    }
    #[inline(always)]
    unsafe fn set_last_value(&self, word: usize, value: u64) {
        // SAFETY: the caller's promise (see above): a last-value field has two words.
        unsafe { self.apply_one(|_| Op::last(word, value)) }
    }
    #[inline(always)]
    unsafe fn observe_value(&self, field: FieldId, value: u64) {
        if let FieldKind::Histogram(config) = field.kind() {
            let (word, page_base) = (field.word(), field.page_base());
            // SAFETY: the caller's promise (see above); the bucket is looked up in the
            // shard the op is applied to.
            unsafe {
                self.apply_one(|_| {
                    Op::observe(word, value, crate::event::bucket_of(page_base, config, value))
                })
            }
        }
    }
}

impl Sink for Event<'_> {
    #[inline(always)]
    unsafe fn inc_count(&self, word: usize) {
        // SAFETY: the caller's promise (see above).
        unsafe { self.inc(word) }
    }
    #[inline(always)]
    unsafe fn add_count(&self, word: usize, delta: u64) {
        // SAFETY: the caller's promise (see above).
        unsafe { self.add_saturating(word, delta) }
    }
    #[inline(always)]
    unsafe fn add_level(&self, word: usize, delta: u64) {
        // SAFETY: the caller's promise (see above).
        unsafe { self.add(word, delta) }
    }
    #[inline(always)]
    unsafe fn set_last_value(&self, word: usize, value: u64) {
        // SAFETY: the caller's promise (see above): a last-value field has two words.
        unsafe { self.push_last(word, value) }
    }
    #[inline(always)]
    unsafe fn observe_value(&self, field: FieldId, value: u64) {
        if let FieldKind::Histogram(config) = field.kind() {
            // SAFETY: the caller's promise (see above).
            unsafe { self.observe_at(field.word(), field.page_base(), config, value) }
        }
    }
}
