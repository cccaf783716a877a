//! Field kinds and the handles that record into them.
//!
//! | kind | value | operations | across threads |
//! |------|-------|------------|----------------|
//! | [`Counter`] | `u64` | `inc`, `add(u64)` | summed; never goes backwards |
//! | [`Gauge`] | `i64` | `inc`, `dec`, `add(i64)`, `sub(i64)` | summed, so concurrent moves are exact |
//! | [`LastValue`] | [`Last`] | `set(i64)` | the newest `set` from any thread wins |
//!
//! A handle taken from the set ([`CounterRef<'_, RawSet>`]) makes each operation its own
//! event; a handle taken from an event inside `record` adds to that event.

use tally_snapshot::{Delta, FieldKind, Last, Merge, Value};

use crate::RawSet;
use crate::event::Event;

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::RawSet {}
    impl Sealed for crate::Event<'_> {}
    impl Sealed for super::Counter {}
    impl Sealed for super::Gauge {}
    impl Sealed for super::LastValue {}
}

/// Where a field handle's updates go: a set (each update its own event) or an open
/// [`Event`]. Sealed.
pub trait Sink: sealed::Sealed {
    #[doc(hidden)]
    fn add_word(&self, word: usize, delta: u64);
    #[doc(hidden)]
    fn set_pair(&self, word: usize, first: u64, second: u64);
}

/// A field kind: how many shard words it takes, what its snapshot value is and what its
/// handle can do. Sealed; implemented by [`Counter`], [`Gauge`] and [`LastValue`].
pub trait Kind: sealed::Sealed {
    /// The kind, as exporters see it.
    const KIND: FieldKind;
    /// The field's value in a snapshot.
    type Value: Copy + Default + PartialEq + core::fmt::Debug + Merge + Delta;
    /// The handle that records into the field.
    type Field<'a, S: Sink + ?Sized + 'a>;
    #[doc(hidden)]
    fn field<S: Sink + ?Sized>(sink: &S, word: usize) -> Self::Field<'_, S>;
    #[doc(hidden)]
    fn read(words: &[u64]) -> Self::Value;
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

impl Kind for Counter {
    const KIND: FieldKind = FieldKind::Counter;
    type Value = u64;
    type Field<'a, S: Sink + ?Sized + 'a> = CounterRef<'a, S>;
    #[inline(always)]
    fn field<S: Sink + ?Sized>(sink: &S, word: usize) -> CounterRef<'_, S> {
        CounterRef { sink, word }
    }
    fn read(words: &[u64]) -> u64 {
        words[0]
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
    fn field<S: Sink + ?Sized>(sink: &S, word: usize) -> GaugeRef<'_, S> {
        GaugeRef { sink, word }
    }
    fn read(words: &[u64]) -> i64 {
        words[0] as i64
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
    fn field<S: Sink + ?Sized>(sink: &S, word: usize) -> LastValueRef<'_, S> {
        LastValueRef { sink, word }
    }
    fn read(words: &[u64]) -> Last {
        Last { value: words[0] as i64, stamp_ns: words[1] }
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

impl Sink for RawSet {
    #[inline(always)]
    fn add_word(&self, word: usize, delta: u64) {
        self.add_one(word, delta);
    }
    #[inline]
    fn set_pair(&self, word: usize, first: u64, second: u64) {
        self.record(|e| e.set_pair(word, first, second));
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
}
