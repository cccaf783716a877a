//! A metric set of any layout: recording and collection.

use tally_snapshot::{
    FieldKind, FloatSum, HistogramConfig, HistogramSnapshot, Last, LastF64, SetSnapshot, Value,
};

use crate::event::Event;
use crate::field::{
    Counter, CounterF64, CounterF64Ref, CounterRef, Gauge, GaugeF64, GaugeF64Ref, GaugeRef,
    Histogram, HistogramRef, Kind, LastValue, LastValueF64, LastValueF64Ref, LastValueRef,
};
use crate::latch::Shard;
use crate::layout::{Layout, PAGE_BUCKETS};
use crate::op::{COUNTER_CAP, Op};
use crate::slot::{WithShard, with_shard};
use crate::table::ShardTable;

/// A metric set whose fields are described at run time by a [`Layout`].
///
/// Sets declared with [`metric_set!`](crate::metric_set) wrap one and give it typed
/// methods; use `RawSet` directly for sets built at run time.
///
/// ```
/// use tally_core::{FieldDesc, FieldKind, HistogramConfig, Layout, RawSet, Value};
///
/// let set = RawSet::new(
///     Layout::new(vec![
///         FieldDesc::new("total", FieldKind::Counter, ""),
///         FieldDesc::new("ok", FieldKind::Counter, ""),
///         FieldDesc::new("latency_ns", FieldKind::Histogram(HistogramConfig::DEFAULT), ""),
///     ])
///     .unwrap(),
/// );
/// let total = set.field("total").unwrap();
/// let ok = set.field("ok").unwrap();
/// let latency = set.field("latency_ns").unwrap();
/// set.record(|e| {
///     e.add_counter(total, 1);
///     e.add_counter(ok, 1);
///     e.observe(latency, 1_500);
/// });
/// let snap = set.snapshot();
/// assert_eq!(snap.get("ok"), Some(&Value::Counter(1)));
/// match snap.get("latency_ns") {
///     Some(Value::Histogram(h)) => assert_eq!(h.count(), 1),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
pub struct RawSet {
    layout: Layout,
    table: ShardTable,
}

/// A field of a [`RawSet`]: which field of its layout, where it lives in a shard, and its
/// kind. Obtained from [`RawSet::field`].
///
/// Every use checks the id against the layout of the set it is used on: a set accepts the
/// ids of sets with an identical field list (names and kinds: they mean the same fields)
/// and refuses others with a panic that says so, never writing outside its own fields.
///
/// ```
/// use tally_core::{FieldDesc, FieldKind, Layout, RawSet};
/// let counters = |names: &[&str]| {
///     let fields = names
///         .iter()
///         .map(|n| FieldDesc { name: n.to_string().into(), kind: FieldKind::Counter, help: "".into(), unit: Default::default() })
///         .collect();
///     RawSet::new(Layout::new(fields).unwrap())
/// };
/// let (a, b) = (counters(&["hits", "misses"]), counters(&["ok", "failed"]));
/// let misses = a.field("misses").unwrap();
/// // Same kind at the same place, but another set's field: refused.
/// let refused = std::panic::catch_unwind(|| b.record(|e| e.add_counter(misses, 1)));
/// assert!(refused.is_err());
/// // A set of the same field list accepts it.
/// let a2 = counters(&["hits", "misses"]);
/// a2.record(|e| e.add_counter(misses, 1));
/// ```
///
/// Typed sets hand out no ids, only handles, and an event of one set cannot be passed off
/// as an event of another:
///
/// ```compile_fail,E0308
/// tally_core::metric_set! { struct Narrow { hits: Counter } }
/// tally_core::metric_set! { struct Wide { a: Counter, b: Counter, c: Counter } }
/// let narrow = Narrow::new();
/// // error: a `Narrow` event is not a `Wide` event (mismatched types)
/// narrow.record(|e| WideEvent(e.0).c().inc());
/// ```
///
/// Its compiling twin, with the set's own event type:
///
/// ```
/// tally_core::metric_set! { struct Narrow { hits: Counter } }
/// let narrow = Narrow::new();
/// narrow.record(|e| NarrowEvent(e.0).hits().inc());
/// assert_eq!(narrow.snapshot().hits, 1);
/// ```
///
/// And the unchecked entry point the handles use is `unsafe`, so safe code cannot hand it
/// a foreign id:
///
/// ```compile_fail,E0133
/// use tally_core::{Counter, FieldDesc, FieldKind, Kind, Layout, RawSet};
/// let fields = |n: usize| {
///     (0..n)
///         .map(|i| FieldDesc { name: format!("f{i}").into(), kind: FieldKind::Counter, help: "".into(), unit: Default::default() })
///         .collect()
/// };
/// let (wide, narrow) = (RawSet::new(Layout::new(fields(8)).unwrap()), RawSet::new(Layout::new(fields(1)).unwrap()));
/// // error[E0133]: call to unsafe function requires an unsafe block
/// <Counter as Kind>::field(&narrow, wide.field("f7").unwrap()).inc();
/// ```
///
/// Its twin, through the checked accessor:
///
/// ```
/// use tally_core::{FieldDesc, FieldKind, Layout, RawSet};
/// let fields = |n: usize| {
///     (0..n)
///         .map(|i| FieldDesc { name: format!("f{i}").into(), kind: FieldKind::Counter, help: "".into(), unit: Default::default() })
///         .collect()
/// };
/// let narrow = RawSet::new(Layout::new(fields(1)).unwrap());
/// narrow.counter(narrow.field("f0").unwrap()).inc();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldId {
    /// The fingerprint of the layout it was taken from (0 for the ids `metric_set!`
    /// computes at compile time, which are never checked: see `__private::Typed`).
    layout: u64,
    index: usize,
    word: usize,
    page_base: usize,
    kind: FieldKind,
}

impl FieldId {
    /// Field `index` of a set whose fields are `fields`, in order: the word and page
    /// offsets [`Layout::new`] gives it.
    ///
    /// # Panics
    ///
    /// If `index` is out of range (at compile time, where evaluated in a `const`).
    pub(crate) const fn of_fields(fields: &[tally_snapshot::FieldDesc], index: usize) -> FieldId {
        let (mut word, mut page_base, mut i) = (0, 0, 0);
        while i < index {
            word += crate::layout::words_of(fields[i].kind);
            page_base += crate::layout::pages_of(fields[i].kind);
            i += 1;
        }
        FieldId { layout: 0, index, word, page_base, kind: fields[index].kind }
    }

    /// The field's kind.
    pub const fn kind(&self) -> FieldKind {
        self.kind
    }

    pub(crate) const fn word(&self) -> usize {
        self.word
    }

    pub(crate) const fn page_base(&self) -> usize {
        self.page_base
    }
}

impl RawSet {
    /// An empty set (all fields zero) of this layout.
    pub fn new(layout: Layout) -> Self {
        let table = ShardTable::new(layout.width(), layout.pages());
        RawSet { layout, table }
    }

    /// The set's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<FieldId> {
        let index = self.layout.index_of(name)?;
        Some(FieldId {
            layout: self.layout.fingerprint(),
            index,
            word: self.layout.offset(index),
            page_base: self.layout.page_base(index),
            kind: self.layout.fields()[index].kind,
        })
    }

    /// The handle of counter `field`, whose updates are each an event of their own (the
    /// fast path of a lone `inc`, as `metric_set!`'s accessors give).
    ///
    /// ```
    /// use tally_core::{FieldDesc, FieldKind, Layout, RawSet, Value};
    /// let set = RawSet::new(Layout::new(vec![FieldDesc::new("hits", FieldKind::Counter, "")]).unwrap());
    /// let hits = set.field("hits").unwrap();
    /// set.counter(hits).add(3);
    /// assert_eq!(set.snapshot().get("hits"), Some(&Value::Counter(3)));
    /// ```
    ///
    /// # Panics
    ///
    /// If `field` is not a counter of this set's layout.
    #[inline]
    pub fn counter(&self, field: FieldId) -> CounterRef<'_, RawSet> {
        self.handle::<Counter>(field)
    }

    /// The handle of gauge `field`, as [`counter`](Self::counter).
    ///
    /// # Panics
    ///
    /// If `field` is not a gauge of this set's layout.
    #[inline]
    pub fn gauge(&self, field: FieldId) -> GaugeRef<'_, RawSet> {
        self.handle::<Gauge>(field)
    }

    /// The handle of last-value `field`, as [`counter`](Self::counter).
    ///
    /// # Panics
    ///
    /// If `field` is not a last-value gauge of this set's layout.
    #[inline]
    pub fn last_value(&self, field: FieldId) -> LastValueRef<'_, RawSet> {
        self.handle::<LastValue>(field)
    }

    /// The handle of histogram `field`, as [`counter`](Self::counter).
    ///
    /// # Panics
    ///
    /// If `field` is not a histogram of this set's layout.
    #[inline]
    pub fn histogram(&self, field: FieldId) -> HistogramRef<'_, RawSet> {
        self.handle::<Histogram>(field)
    }

    /// The handle of float counter `field`, as [`counter`](Self::counter).
    ///
    /// ```
    /// use tally_core::{FieldDesc, FieldKind, Layout, RawSet, Unit, Value};
    /// let set = RawSet::new(
    ///     Layout::new(vec![FieldDesc::new("cpu", FieldKind::CounterF64, "").with_unit(Unit::Seconds)])
    ///         .unwrap(),
    /// );
    /// let cpu = set.field("cpu").unwrap();
    /// set.counter_f64(cpu).add(0.5);
    /// assert_eq!(set.snapshot().get("cpu"), Some(&Value::CounterF64(0.5)));
    /// ```
    ///
    /// # Panics
    ///
    /// If `field` is not a float counter of this set's layout.
    #[inline]
    pub fn counter_f64(&self, field: FieldId) -> CounterF64Ref<'_, RawSet> {
        self.handle::<CounterF64>(field)
    }

    /// The handle of float gauge `field`, as [`counter`](Self::counter).
    ///
    /// # Panics
    ///
    /// If `field` is not a float gauge of this set's layout.
    #[inline]
    pub fn gauge_f64(&self, field: FieldId) -> GaugeF64Ref<'_, RawSet> {
        self.handle::<GaugeF64>(field)
    }

    /// The handle of float last-value `field`, as [`counter`](Self::counter).
    ///
    /// # Panics
    ///
    /// If `field` is not a float last-value gauge of this set's layout.
    #[inline]
    pub fn last_value_f64(&self, field: FieldId) -> LastValueF64Ref<'_, RawSet> {
        self.handle::<LastValueF64>(field)
    }

    /// The handle of `field`, a field of kind `K` of this set's layout (checked).
    #[inline]
    fn handle<K: Kind>(&self, field: FieldId) -> K::Field<'_, RawSet> {
        self.layout.check(field, K::KIND);
        // SAFETY: checked just above: a field of `K`'s kind in this set's layout (with its
        // own configuration, for a histogram).
        unsafe { K::field(self, field) }
    }

    /// Records one event: every update `f` makes through its [`Event`] is in a snapshot
    /// whole or not at all. The updates are buffered while `f` runs and applied together
    /// when it returns; if `f` panics, nothing of the event is recorded and the set stays
    /// usable.
    ///
    /// A record nested inside `f` (on this set or another) is an event of its own: it is
    /// applied when the nested call returns, so before the outer event, and stays recorded
    /// even if `f` panics afterwards.
    #[inline(always)]
    pub fn record<R>(&self, f: impl FnOnce(&Event<'_>) -> R) -> R {
        // SAFETY: the layout's own width.
        unsafe { self.record_in(self.layout.width(), f) }
    }

    /// [`record`](Self::record), with the layout's width given by the caller (a constant,
    /// for `metric_set!`'s sets).
    ///
    /// # Safety
    ///
    /// `width == self.layout().width()`.
    #[inline(always)]
    pub(crate) unsafe fn record_in<R>(&self, width: usize, f: impl FnOnce(&Event<'_>) -> R) -> R {
        /// An event of `layout`, recorded by `f`.
        struct Record<'l, F> {
            layout: &'l Layout,
            width: usize,
            f: F,
        }
        impl<R, F: FnOnce(&Event<'_>) -> R> WithShard for Record<'_, F> {
            type Out = R;
            #[inline(always)]
            unsafe fn run(self, shard: &Shard) -> R {
                // SAFETY: the caller's promise (we are the shard's writer); the table builds
                // its shards for this set's layout, whose width `record_in`'s caller gave.
                unsafe { Event::run(shard, self.layout, self.width, self.f) }
            }
        }
        with_shard(&self.table, Record { layout: &self.layout, width, f })
    }

    /// One update as its own event (the fast path of a lone `inc`, `set` or sample):
    /// `op` builds the update for this thread's shard (a histogram sample looks up its
    /// bucket there). Generic, so that each call site gets its own, fully inlined copy.
    ///
    /// # Safety
    ///
    /// The op `op` returns was built for the shard it is given (the contract of [`Op`]).
    #[inline(always)]
    pub(crate) unsafe fn apply_one(&self, op: impl FnOnce(&Shard) -> Op) {
        /// One op, as its own event.
        struct One<F>(F);
        impl<F: FnOnce(&Shard) -> Op> WithShard for One<F> {
            type Out = ();
            #[inline(always)]
            unsafe fn run(self, shard: &Shard) {
                let op = (self.0)(shard);
                // SAFETY: the caller's promise (we are the shard's writer); the op is of
                // this shard (`apply_one`'s contract).
                unsafe { shard.commit(shard.width(), 1, |_| op, &mut []) }
            }
        }
        with_shard(&self.table, One(op))
    }

    /// Collects every shard into one value per field (counters, gauges and histograms
    /// summed, last-value gauges by newest stamp), in layout order. Never waits for a
    /// writer.
    pub fn collect_values(&self) -> Vec<Value> {
        let mut scratch = Scratch::take();
        let values = self.collect_into(&mut scratch);
        scratch.give_back();
        values
    }

    fn collect_into(&self, scratch: &mut Scratch) -> Vec<Value> {
        let layout = &self.layout;
        let width = layout.width();
        let Scratch { total, sums, floats, buckets, buf, page_ids, page_words } = scratch;
        total.clear();
        total.resize(width, 0);
        // Histogram sums are u128; kept apart from the u64 words.
        sums.clear();
        sums.resize(layout.fields().len(), 0);
        // Float totals are summed exactly across shards and rounded once.
        floats.iter_mut().for_each(FloatSum::clear);
        floats.resize_with(layout.fields().len(), FloatSum::new);
        // Grown to the highest page any shard has allocated: most sets have few pages in use.
        buckets.clear();
        buf.clear();
        buf.resize(width, 0);
        self.table.for_each(|shard| {
            shard.read(buf, page_ids, page_words);
            for (i, field) in layout.fields().iter().enumerate() {
                let off = layout.offset(i);
                match field.kind {
                    // Counters saturate (never backwards), gauges wrap (a level).
                    // A shard word at or past the cap is saturated (op.rs, `COUNTER_CAP`).
                    FieldKind::Counter => {
                        let v = if buf[off] >= COUNTER_CAP { u64::MAX } else { buf[off] };
                        total[off] = total[off].saturating_add(v);
                    }
                    FieldKind::Gauge => total[off] = total[off].wrapping_add(buf[off]),
                    FieldKind::CounterF64 | FieldKind::GaugeF64 => {
                        floats[i].add(f64::from_bits(buf[off]));
                    }
                    FieldKind::LastValue | FieldKind::LastValueF64 => {
                        // Newest stamp; equal stamps: the larger value, as `Merge` of `Last`
                        // (`i64` order) and of `LastF64` (`f64::total_cmp` order) decide.
                        let order = if field.kind == FieldKind::LastValue {
                            |w: u64| w as i64
                        } else {
                            total_order
                        };
                        let newer =
                            (buf[off + 1], order(buf[off])) > (total[off + 1], order(total[off]));
                        if newer {
                            total[off] = buf[off];
                            total[off + 1] = buf[off + 1];
                        }
                    }
                    FieldKind::Histogram(_) => {
                        total[off] = total[off].wrapping_add(buf[off]);
                        let sum = (u128::from(buf[off + 2]) << 64) | u128::from(buf[off + 1]);
                        sums[i] = sums[i].wrapping_add(sum);
                        total[off + 3] = total[off + 3].max(buf[off + 3]);
                        total[off + 4] = total[off + 4].max(buf[off + 4]);
                        total[off + 5] = total[off + 5].wrapping_add(buf[off + 5]);
                    }
                    // `Layout::new` refuses kinds this core does not know.
                    _ => unreachable!("a field kind the layout took"),
                }
            }
            for (p, words) in page_ids.iter().zip(page_words.chunks_exact(PAGE_BUCKETS)) {
                if buckets.len() < (p + 1) * PAGE_BUCKETS {
                    buckets.resize((p + 1) * PAGE_BUCKETS, 0);
                }
                let dst = &mut buckets[p * PAGE_BUCKETS..(p + 1) * PAGE_BUCKETS];
                for (d, w) in dst.iter_mut().zip(words) {
                    *d = d.wrapping_add(*w);
                }
            }
        });
        layout
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let off = layout.offset(i);
                match f.kind {
                    FieldKind::Counter => Value::Counter(total[off]),
                    FieldKind::Gauge => Value::Gauge(total[off] as i64),
                    FieldKind::LastValue => Value::LastValue(Last {
                        value: total[off] as i64,
                        stamp_ns: total[off + 1],
                    }),
                    FieldKind::CounterF64 => Value::CounterF64(floats[i].value()),
                    FieldKind::GaugeF64 => Value::GaugeF64(floats[i].value()),
                    FieldKind::LastValueF64 => Value::LastValueF64(LastF64 {
                        value: f64::from_bits(total[off]),
                        stamp_ns: total[off + 1],
                    }),
                    FieldKind::Histogram(config) => {
                        // This field's buckets, as far as any page of it was allocated.
                        let first = (layout.page_base(i) * PAGE_BUCKETS).min(buckets.len());
                        let end = (first + config.bucket_count()).min(buckets.len());
                        Value::Histogram(Box::new(histogram_from(
                            config,
                            &total[off..off + 6],
                            sums[i],
                            &buckets[first..end],
                        )))
                    }
                    _ => unreachable!("a field kind the layout took"),
                }
            })
            .collect()
    }

    /// A coherent snapshot of the whole set, typed at run time.
    pub fn snapshot(&self) -> SetSnapshot {
        SetSnapshot::new(self.layout.fields().to_vec(), self.collect_values())
            .expect("a layout's values match its fields")
    }

    /// Both copies of every shard (see `Shard::copies`).
    #[cfg(test)]
    pub(crate) fn shard_copies(&self) -> Vec<(Vec<u64>, Vec<u64>)> {
        let mut out = Vec::new();
        self.table.for_each(|shard| out.push(shard.copies()));
        out
    }

    /// How many shards this set has: one per thread slot that recorded into it, bounded
    /// by the peak number of threads recording at once.
    pub fn shard_count(&self) -> usize {
        let mut n = 0;
        self.table.for_each(|_| n += 1);
        n
    }
}

/// An `f64`'s bits as an `i64` that orders as `f64::total_cmp` orders the values: the
/// magnitude bits of a negative value are flipped, so that a larger magnitude sorts lower.
pub(crate) fn total_order(bits: u64) -> i64 {
    let key = bits as i64;
    key ^ (((key >> 63) as u64) >> 1) as i64
}

/// The vectors a collection works in, kept by each collecting thread and reused from one
/// set to the next: a collection of many series would otherwise allocate and free six
/// vectors per set (see docs/PERFORMANCE.md, "Collecting 10,000 series").
#[derive(Default)]
struct Scratch {
    total: Vec<u64>,
    sums: Vec<u128>,
    floats: Vec<FloatSum>,
    buckets: Vec<u64>,
    buf: Vec<u64>,
    page_ids: Vec<usize>,
    page_words: Vec<u64>,
}

#[cfg(not(loom))]
std::thread_local! {
    /// This thread's scratch vectors, when no collection of this thread is using them.
    static SCRATCH: std::cell::Cell<Option<Scratch>> = const { std::cell::Cell::new(None) };
}

impl Scratch {
    /// This thread's vectors (taken out: a collection nested in another, or one during the
    /// thread's exit, gets fresh ones).
    fn take() -> Scratch {
        #[cfg(not(loom))]
        {
            SCRATCH.try_with(|s| s.take()).ok().flatten().unwrap_or_default()
        }
        // loom runs its threads' code interleaved on shared OS threads: no sharing there.
        #[cfg(loom)]
        Scratch::default()
    }

    /// Returns the vectors for the thread's next collection.
    fn give_back(self) {
        #[cfg(not(loom))]
        {
            let _ = SCRATCH.try_with(|s| s.set(Some(self)));
        }
    }
}

fn histogram_from(
    config: HistogramConfig,
    w: &[u64],
    sum: u128,
    dense: &[u64],
) -> HistogramSnapshot {
    let (count, min, max, overflow) = (w[0], u64::MAX - w[3], w[4], w[5]);
    // Each event adds 1 to count and to exactly one bucket or the overflow, in one latch
    // section, so a collection of whole events always adds up.
    HistogramSnapshot::from_dense(config, count, sum, min, max, overflow, dense)
        .expect("a collection of whole events is a consistent histogram (docs/DESIGN.md)")
}

impl Layout {
    /// Refuses `field` unless it is a field of this layout (same index, offsets and kind)
    /// of the kind class of `want` (histograms of any configuration): an id of another set
    /// could point past this set's copy 0 (into copy 1, which readers may be reading) or
    /// into another field.
    #[inline]
    pub(crate) fn check(&self, field: FieldId, want: FieldKind) {
        let same_class = crate::layout::same_class(want, field.kind);
        assert!(same_class, "a {:?} operation on a {:?} field", want, field.kind);
        let ours = self.fields().get(field.index).is_some_and(|f| {
            field.layout == self.fingerprint()
                && f.kind == field.kind
                && self.offset(field.index) == field.word
                && self.page_base(field.index) == field.page_base
        });
        assert!(
            ours,
            "this FieldId belongs to a set with another layout: get field ids from the set you \
             record into (RawSet::field)"
        );
    }
}

impl Event<'_> {
    /// The handle of `field`, a field of kind `K` of this event's set, adding to this
    /// event: how run-time sets record float fields, histograms in their unit and durations.
    ///
    /// ```
    /// use tally_core::{FieldDesc, FieldKind, HistogramConfig, Layout, RawSet, kind};
    /// let set = RawSet::new(Layout::new(vec![
    ///     FieldDesc::new("busy", FieldKind::LastValueF64, ""),
    ///     FieldDesc::new("latency", FieldKind::Histogram(HistogramConfig::SECONDS), ""),
    /// ]).unwrap());
    /// let (busy, latency) = (set.field("busy").unwrap(), set.field("latency").unwrap());
    /// set.record(|e| {
    ///     e.handle::<kind::LastValueF64>(busy).set(0.5);
    ///     e.handle::<kind::Histogram>(latency).record_f64(0.012);
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If `field` is not of kind `K` (a histogram of any configuration for
    /// [`kind::Histogram`](crate::kind::Histogram)), or belongs to a set of another layout.
    #[inline]
    pub fn handle<K: Kind>(&self, field: FieldId) -> K::Field<'_, Self> {
        self.layout().check(field, K::KIND);
        // SAFETY: checked just above: a field of `K`'s kind in this event's layout (with its
        // own configuration, for a histogram).
        unsafe { K::field(self, field) }
    }

    /// Adds `n` to a counter field of this event's set, saturating at `u64::MAX` (a counter
    /// never goes backwards).
    ///
    /// # Panics
    ///
    /// If `field` is not a counter, or belongs to a set of another layout.
    #[inline]
    pub fn add_counter(&self, field: FieldId, n: u64) {
        self.layout().check(field, FieldKind::Counter);
        // SAFETY: checked just above: a counter word of this event's layout.
        unsafe { self.add_saturating(field.word, n) }
    }

    /// Adds `n` (possibly negative) to a gauge field of this event's set.
    ///
    /// # Panics
    ///
    /// If `field` is not a gauge, or belongs to a set of another layout.
    #[inline]
    pub fn add_gauge(&self, field: FieldId, n: i64) {
        self.layout().check(field, FieldKind::Gauge);
        // SAFETY: checked just above: a gauge word of this event's layout.
        unsafe { self.add(field.word, n as u64) }
    }

    /// Sets a last-value field of this event's set.
    ///
    /// # Panics
    ///
    /// If `field` is not a last-value gauge, or belongs to a set of another layout.
    #[inline]
    pub fn set_last(&self, field: FieldId, value: i64) {
        self.layout().check(field, FieldKind::LastValue);
        // SAFETY: checked just above: the two words of a last-value field of this layout.
        unsafe { self.push_last(field.word, value as u64) }
    }

    /// Records `value` into a histogram field of this event's set.
    ///
    /// # Panics
    ///
    /// If `field` is not a histogram, or belongs to a set of another layout.
    #[inline]
    pub fn observe(&self, field: FieldId, value: u64) {
        let FieldKind::Histogram(config) = field.kind else {
            panic!("observe on a {:?} field", field.kind);
        };
        self.layout().check(field, FieldKind::Histogram(config));
        // SAFETY: checked just above: a histogram of this layout, with its configuration.
        unsafe { self.observe_at(field.word, field.page_base, config, value) }
    }
}
