//! Field kinds and the handles that record into them.
//!
//! | kind | value | operations | across threads |
//! |------|-------|------------|----------------|
//! | [`Counter`] | `u64` | `inc`, `add(u64)` | summed; never goes backwards |
//! | [`Gauge`] | `i64` | `inc`, `dec`, `add(i64)`, `sub(i64)` | summed, so concurrent moves are exact |
//! | [`LastValue`] | [`Last`] | `set(i64)` | the newest `set` from any thread wins |
//! | [`Histogram`] | [`HistogramSnapshot`] | `record(u64)` steps, `record_f64` in its unit, `record_duration`, timers | buckets, count, sum summed; min/max combined |
//! | [`CounterF64`] | `f64` | `add(f64)` (finite, ≥ 0) | summed exactly, rounded once; never goes backwards |
//! | [`GaugeF64`] | `f64` | `add(f64)`, `sub(f64)` (finite) | summed exactly, rounded once |
//! | [`LastValueF64`] | [`LastF64`] | `set(f64)` (not NaN) | the newest `set` from any thread wins |
//!
//! A value a float handle cannot take (NaN; an infinity, except as a last value; a
//! negative increment of a counter or a negative histogram value) is refused: recorded nowhere, counted by
//! [`rejected_values`](crate::rejected_values), and returned by the `try_` methods.
//!
//! A handle taken from the set ([`CounterRef<'_, RawSet>`]) makes each operation its own
//! event; a handle taken from an event inside `record` adds to that event.

use std::time::{Duration, Instant};

use tally_snapshot::{
    Delta, DeltaError, FieldKind, HistogramConfig, HistogramSnapshot, Last, LastF64, Merge,
    Rejected, Value,
};

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
    impl Sealed for super::CounterF64 {}
    impl Sealed for super::GaugeF64 {}
    impl Sealed for super::LastValueF64 {}
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
    /// Adds `delta` (finite: the handle checked) to a float counter's or gauge's word.
    ///
    /// # Safety
    ///
    /// `word` is the word of a [`CounterF64`] or [`GaugeF64`] field of the sink's layout.
    #[doc(hidden)]
    unsafe fn add_float(&self, word: usize, delta: f64);
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
    /// `later - earlier` for a field of this kind (its value type's [`Delta`], except that
    /// a float counter's is an error when it went backwards, as a `u64` counter's is).
    fn delta(later: &Self::Value, earlier: &Self::Value) -> Result<Self::Value, DeltaError> {
        Delta::delta(later, earlier)
    }
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

/// Field kind: a distribution in log-linear buckets, of values in the unit of its
/// configuration (by default [`HistogramConfig::DEFAULT`]: seconds, in steps of one
/// nanosecond, relative error ≤ 2^-5 up to 100 s). In `metric_set!`, `latency: Histogram`
/// uses the default and `size: Histogram(HistogramConfig::BYTES)` a `const` configuration.
#[derive(Debug, Clone, Copy)]
pub struct Histogram;

/// Field kind: a monotonic `f64` total (seconds of CPU, energy, cost), summed across
/// threads exactly (see [`FieldKind::CounterF64`]). `cpu: CounterF64 in Seconds` in
/// `metric_set!` declares its unit.
#[derive(Debug, Clone, Copy)]
pub struct CounterF64;

/// Field kind: a signed `f64` level moved by `add`/`sub`, summed across threads exactly
/// (see [`FieldKind::GaugeF64`]).
#[derive(Debug, Clone, Copy)]
pub struct GaugeF64;

/// Field kind: an `f64` level written by `set`; the newest write wins (GPU utilisation,
/// a temperature, a loss).
#[derive(Debug, Clone, Copy)]
pub struct LastValueF64;

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

impl Kind for CounterF64 {
    const KIND: FieldKind = FieldKind::CounterF64;
    type Value = f64;
    type Field<'a, S: Sink + ?Sized + 'a> = CounterF64Ref<'a, S>;
    #[inline(always)]
    unsafe fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> CounterF64Ref<'_, S> {
        CounterF64Ref { sink, word: id.word() }
    }
    fn to_value(value: f64) -> Value {
        Value::CounterF64(value)
    }
    fn from_value(value: Value) -> Option<f64> {
        match value {
            Value::CounterF64(v) => Some(v),
            _ => None,
        }
    }
    fn delta(later: &f64, earlier: &f64) -> Result<f64, DeltaError> {
        tally_snapshot::float_count_delta(*later, *earlier)
    }
}

impl Kind for GaugeF64 {
    const KIND: FieldKind = FieldKind::GaugeF64;
    type Value = f64;
    type Field<'a, S: Sink + ?Sized + 'a> = GaugeF64Ref<'a, S>;
    #[inline(always)]
    unsafe fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> GaugeF64Ref<'_, S> {
        GaugeF64Ref { sink, word: id.word() }
    }
    fn to_value(value: f64) -> Value {
        Value::GaugeF64(value)
    }
    fn from_value(value: Value) -> Option<f64> {
        match value {
            Value::GaugeF64(v) => Some(v),
            _ => None,
        }
    }
}

impl Kind for LastValueF64 {
    const KIND: FieldKind = FieldKind::LastValueF64;
    type Value = LastF64;
    type Field<'a, S: Sink + ?Sized + 'a> = LastValueF64Ref<'a, S>;
    #[inline(always)]
    unsafe fn field<S: Sink + ?Sized>(sink: &S, id: FieldId) -> LastValueF64Ref<'_, S> {
        LastValueF64Ref { sink, word: id.word() }
    }
    fn to_value(value: LastF64) -> Value {
        Value::LastValueF64(value)
    }
    fn from_value(value: Value) -> Option<LastF64> {
        match value {
            Value::LastValueF64(v) => Some(v),
            _ => None,
        }
    }
}

/// Records into a [`CounterF64`] field.
///
/// ```
/// tally_core::metric_set! {
///     pub struct Job {
///         /// CPU time spent.
///         cpu_seconds: CounterF64 in Seconds,
///     }
/// }
/// let job = Job::new();
/// job.cpu_seconds().add(0.125);
/// job.cpu_seconds().add(1.5);
/// assert_eq!(job.cpu_seconds().try_add(f64::NAN), Err(tally_core::Rejected::NotFinite));
/// assert_eq!(job.snapshot().cpu_seconds, 1.625);
/// ```
#[derive(Debug)]
pub struct CounterF64Ref<'a, S: ?Sized> {
    sink: &'a S,
    word: usize,
}

impl<S: Sink + ?Sized> CounterF64Ref<'_, S> {
    /// Adds `x`, a finite, non-negative amount; anything else is refused and counted
    /// ([`rejected_values`](crate::rejected_values)): a counter never goes backwards.
    #[inline(always)]
    pub fn add(&self, x: f64) {
        let _ = self.try_add(x);
    }

    /// Like [`add`](Self::add), saying why a refused `x` was refused (also counted).
    ///
    /// # Errors
    ///
    /// [`Rejected::Negative`] for `x < 0`, [`Rejected::NotFinite`] for NaN and infinities.
    #[inline(always)]
    pub fn try_add(&self, x: f64) -> Result<(), Rejected> {
        // The bits of a non-negative f64 order as its values, and +∞'s are above every
        // finite one's; a negative value (sign bit set) and NaN are above them too.
        if x.to_bits() < f64::INFINITY.to_bits() {
            // SAFETY: `word` is a float counter of the sink's layout: the contract of
            // `Kind::field`, the only constructor.
            unsafe { self.sink.add_float(self.word, x) };
            Ok(())
        } else {
            refused_increment(x)
        }
    }
}

/// Whether `x` is finite, in the fewest instructions: two comparisons with the largest
/// finite values (NaN fails both), leaving `x` in its register untouched (`abs` or a test
/// of its bits would need a copy).
#[inline(always)]
fn finite(x: f64) -> bool {
    (f64::MIN..=f64::MAX).contains(&x)
}

/// The cold path of a float counter's `try_add`: `-0.0` adds nothing and is fine; anything
/// else is refused and counted.
#[cold]
#[inline(never)]
fn refused_increment(x: f64) -> Result<(), Rejected> {
    if x == 0.0 { Ok(()) } else { Err(crate::rejected::count(Rejected::classify(x))) }
}

/// The cold path of a histogram's `try_record_f64`: `-0.0` is 0 steps; anything else is
/// refused and counted.
#[cold]
#[inline(never)]
fn refused_f64(config: HistogramConfig, x: f64) -> Result<u64, Rejected> {
    config.steps_of(x).map_err(crate::rejected::count)
}

/// Records into a [`GaugeF64`] field.
///
/// ```
/// tally_core::metric_set! {
///     pub struct Batch {
///         /// Of the batch's capacity, how much is queued.
///         queue_fill: GaugeF64 in Ratio,
///     }
/// }
/// let b = Batch::new();
/// b.queue_fill().add(0.5);
/// b.queue_fill().add(0.25);
/// b.queue_fill().sub(0.125);
/// assert_eq!(b.snapshot().queue_fill, 0.625);
/// ```
#[derive(Debug)]
pub struct GaugeF64Ref<'a, S: ?Sized> {
    sink: &'a S,
    word: usize,
}

impl<S: Sink + ?Sized> GaugeF64Ref<'_, S> {
    /// Adds `x` (which may be negative); NaN and infinities are refused and counted.
    #[inline(always)]
    pub fn add(&self, x: f64) {
        let _ = self.try_add(x);
    }

    /// Subtracts `x`; NaN and infinities are refused and counted.
    #[inline(always)]
    pub fn sub(&self, x: f64) {
        let _ = self.try_add(-x);
    }

    /// Like [`add`](Self::add), saying why a refused `x` was refused (also counted).
    ///
    /// # Errors
    ///
    /// [`Rejected::NotFinite`] for NaN and infinities.
    #[inline(always)]
    pub fn try_add(&self, x: f64) -> Result<(), Rejected> {
        if finite(x) {
            // SAFETY: `word` is a float gauge of the sink's layout: the contract of
            // `Kind::field`, the only constructor.
            unsafe { self.sink.add_float(self.word, x) };
            Ok(())
        } else {
            Err(crate::rejected::count(Rejected::NotFinite))
        }
    }
}

/// Records into a [`LastValueF64`] field.
///
/// ```
/// tally_core::metric_set! {
///     pub struct Gpu {
///         /// Busy fraction of the last second.
///         busy: LastValueF64 in Ratio,
///     }
/// }
/// let g = Gpu::new();
/// g.busy().set(0.75);
/// g.busy().set(0.8125);
/// assert_eq!(g.snapshot().busy.value, 0.8125);
/// ```
#[derive(Debug)]
pub struct LastValueF64Ref<'a, S: ?Sized> {
    sink: &'a S,
    word: usize,
}

impl<S: Sink + ?Sized> LastValueF64Ref<'_, S> {
    /// Sets the value, stamped with the current time. `±∞` are values a level may take
    /// (Prometheus writes them `+Inf`/`-Inf`); NaN, which has none, is refused and counted.
    #[inline]
    pub fn set(&self, x: f64) {
        let _ = self.try_set(x);
    }

    /// Like [`set`](Self::set), saying why a refused `x` was refused (also counted).
    ///
    /// # Errors
    ///
    /// [`Rejected::NotFinite`] for NaN.
    #[inline]
    pub fn try_set(&self, x: f64) -> Result<(), Rejected> {
        // NaN is the one value not equal to itself (one comparison, no copy).
        #[allow(clippy::eq_op)]
        if x == x {
            // SAFETY: `word` is a float last-value field of the sink's layout: the contract
            // of `Kind::field`, the only constructor.
            unsafe { self.sink.set_last_value(self.word, x.to_bits()) };
            Ok(())
        } else {
            Err(crate::rejected::count(Rejected::NotFinite))
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
    /// Records `steps`, in the histogram's integer steps: nanoseconds for a seconds
    /// histogram of the default configuration, whole bytes for
    /// [`HistogramConfig::BYTES`], `10^-decimals` of the unit in general
    /// ([`HistogramConfig::decimals`]). Values beyond the configured maximum are counted in
    /// the overflow bucket, and in count, sum, min and max exactly. To record a value in
    /// the unit, see [`record_units`](Self::record_units) (whole units) and
    /// [`record_f64`](Self::record_f64).
    #[inline(always)]
    pub fn record(&self, steps: u64) {
        // SAFETY: `id` is a histogram of the sink's layout: the contract of `Kind::field`,
        // the only constructor (timers copy it from a handle).
        unsafe { self.sink.observe_value(self.id, steps) }
    }

    /// Records `n` whole units of the histogram's unit (`n` seconds, `n` bytes, `n` of a
    /// plain number): `n × 10^decimals` steps, exactly. 2^63 steps or more are refused
    /// and counted ([`Rejected::TooLarge`]), as for [`record_f64`](Self::record_f64).
    ///
    /// ```
    /// use tally_core::{HistogramConfig, Unit};
    /// // Tokens per request, 1 to 10^6 within 2^-5: steps of 0.01 token.
    /// let tokens = HistogramConfig::for_range(Unit::None, 1.0, 1e6, 5).unwrap();
    /// let set = tally_core::RawSet::new(
    ///     tally_core::Layout::new(vec![tally_core::FieldDesc::new(
    ///         "tokens",
    ///         tally_core::FieldKind::Histogram(tokens),
    ///         "",
    ///     )])
    ///     .unwrap(),
    /// );
    /// let id = set.field("tokens").unwrap();
    /// set.histogram(id).record_units(512);
    /// let Some(tally_core::Value::Histogram(h)) = set.snapshot().get("tokens").cloned() else {
    ///     panic!()
    /// };
    /// assert_eq!(tokens.sum_to_unit(h.sum()), 512.0);
    /// ```
    #[inline(always)]
    pub fn record_units(&self, n: u64) {
        let _ = self.try_record_units(n);
    }

    /// Like [`record_units`](Self::record_units), saying why a refused `n` was refused
    /// (also counted).
    ///
    /// # Errors
    ///
    /// [`Rejected::TooLarge`] when `n × 10^decimals` is 2^63 or more.
    #[inline(always)]
    pub fn try_record_units(&self, n: u64) -> Result<(), Rejected> {
        match n.checked_mul(self.config().steps_per_unit()) {
            Some(steps) if steps < 1 << 63 => {
                self.record(steps);
                Ok(())
            }
            _ => Err(crate::rejected::count(Rejected::TooLarge)),
        }
    }

    /// Records `x`, in the histogram's unit (seconds for the default configuration: `0.012`
    /// is 12 ms), rounded to the nearest step of the configuration (a nanosecond for the
    /// default). Negative values, NaN, infinities and values at or past 2^63 steps are
    /// refused and counted ([`rejected_values`](crate::rejected_values)).
    ///
    /// ```
    /// use tally_core::HistogramConfig;
    /// tally_core::metric_set! {
    ///     pub struct Http {
    ///         /// Time to answer.
    ///         latency: Histogram,
    ///         /// Response sizes.
    ///         response: Histogram(HistogramConfig::BYTES),
    ///     }
    /// }
    /// let http = Http::new();
    /// http.record(|e| {
    ///     e.latency().record_f64(0.012);
    ///     e.response().record_f64(1536.0);
    /// });
    /// let snap = http.snapshot();
    /// assert_eq!(snap.latency.sum(), 12_000_000); // steps: nanoseconds
    /// assert_eq!(HistogramConfig::DEFAULT.sum_to_unit(snap.latency.sum()), 0.012);
    /// assert_eq!(snap.response.sum(), 1536);
    /// ```
    #[inline(always)]
    pub fn record_f64(&self, x: f64) {
        let _ = self.try_record_f64(x);
    }

    /// Like [`record_f64`](Self::record_f64), saying why a refused `x` was refused (also
    /// counted).
    ///
    /// # Errors
    ///
    /// [`Rejected`]: negative, not finite, or too large for the histogram's steps.
    #[inline(always)]
    pub fn try_record_f64(&self, x: f64) -> Result<(), Rejected> {
        // `HistogramConfig::steps_of`, with the conversion in one instruction.
        let y = x * self.config().steps_per_unit() as f64;
        // One comparison refuses negative values, NaN, infinities and the too large: the
        // bits of a non-negative f64 order as its values, and the others' are above.
        if y.to_bits() < HistogramConfig::STEP_LIMIT.to_bits() {
            // SAFETY: 0 <= y < STEP_LIMIT = 2^63 - 1024, so `y + 0.5` rounds to at most
            // 2^63 - 1024: finite and in i64's range, as `to_int_unchecked` requires.
            let steps = unsafe { (y + 0.5).to_int_unchecked::<i64>() };
            self.record(steps as u64);
            Ok(())
        } else {
            // Out of line, and given what it needs by value: the handle stays in registers.
            let steps = refused_f64(self.config(), x)?;
            self.record(steps);
            Ok(())
        }
    }

    /// The histogram's configuration.
    #[inline(always)]
    fn config(&self) -> HistogramConfig {
        match self.id.kind() {
            FieldKind::Histogram(config) => config,
            // Only a histogram's id makes a histogram handle (`Kind::field`'s contract).
            _ => HistogramConfig::DEFAULT,
        }
    }

    /// Records a duration, in the histogram's steps (nanoseconds for the default
    /// configuration; see [`HistogramConfig::steps_of_duration`]), saturating at
    /// `u64::MAX` steps.
    #[inline(always)]
    pub fn record_duration(&self, d: Duration) {
        self.record(self.config().steps_of_duration(d));
    }

    /// Runs `f` and records how long it took (as [`record_duration`](Self::record_duration)).
    #[inline]
    pub fn time<R>(&self, f: impl FnOnce() -> R) -> R {
        let timer = self.start_timer();
        let r = f();
        drop(timer);
        r
    }

    /// A guard that records the time from now until it is dropped (also on unwinding; as
    /// [`record_duration`](Self::record_duration)), using the precise monotonic clock (`std::time::Instant`, ~20 ns a read).
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
    unsafe fn add_float(&self, word: usize, delta: f64) {
        // SAFETY: the caller's promise (see above).
        unsafe { self.apply_one(|_| Op::float_add(word, delta)) }
    }
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
    unsafe fn add_float(&self, word: usize, delta: f64) {
        // SAFETY: the caller's promise (see above).
        unsafe { self.add_float(word, delta) }
    }
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
