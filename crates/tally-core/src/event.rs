//! One multi-field event: updates buffered while the closure runs, then applied as one
//! latch section.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use tally_snapshot::HistogramConfig;

use crate::latch::Shard;
use crate::layout::{Layout, PAGE_BUCKETS};
use crate::op::{NO_BUCKET, Op, What};

/// An event being recorded: every update made through it lands in snapshots together, or
/// (if the closure panics) not at all. The updates are buffered in the event while the
/// closure runs and applied in one latch section when it returns.
///
/// Obtained inside [`RawSet::record`](crate::RawSet::record); the typed `…Event` of a
/// set declared with [`metric_set!`](crate::metric_set) wraps it.
///
/// An event writes the shard of the thread that opened it, and only that thread may write
/// a shard (the latch has one writer), so an event is neither `Send` nor `Sync`: it cannot
/// be moved or shared into another thread.
///
/// ```compile_fail,E0277
/// tally_core::metric_set! { struct Stats { total: Counter } }
/// let stats = Stats::new();
/// std::thread::scope(|s| {
///     stats.record(|e| {
///         // error: the event cannot be shared with another thread
///         s.spawn(move || e.total().inc());
///     });
/// });
/// ```
///
/// The same update on the event's own thread compiles:
///
/// ```
/// tally_core::metric_set! { struct Stats { total: Counter } }
/// let stats = Stats::new();
/// std::thread::scope(|s| {
///     stats.record(|e| e.total().inc());
///     s.spawn(|| stats.record(|e| e.total().inc()));
/// });
/// assert_eq!(stats.snapshot().total, 2);
/// ```
pub struct Event<'a> {
    /// The set's layout, against which [`FieldId`](crate::FieldId)s are checked.
    layout: &'a Layout,
    /// How many updates the buffer holds.
    len: Cell<usize>,
    /// The updates, in the order they were made, field by field (scalars, so that the
    /// optimiser keeps an inlined event in registers even when the closure branches);
    /// applied when the closure returns. Entries `..len` are initialised.
    what: [Cell<MaybeUninit<What>>; CAPACITY],
    word: [Cell<MaybeUninit<usize>>; CAPACITY],
    value: [Cell<MaybeUninit<u64>>; CAPACITY],
    second: [Cell<MaybeUninit<u64>>; CAPACITY],
    /// Updates past the first [`CAPACITY`] (the slower path of wide events). Moved in and
    /// out of the cold `push_spill` by value, so that the event's address never escapes
    /// and the optimiser keeps it, spill included, in registers (an event that never
    /// spills then has no spill code left at all).
    spill: Cell<Vec<Op>>,
    /// Not `Send`, not `Sync`, whatever the fields above are: the single-writer rule.
    _single_writer: PhantomData<*mut ()>,
}

/// Updates an event buffers inline; more go to a heap-allocated spill (measured in
/// docs/PERFORMANCE.md).
pub(crate) const CAPACITY: usize = 8;

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spilled = self.spill.take();
        let updates = self.len.get() + spilled.len();
        self.spill.set(spilled);
        f.debug_struct("Event").field("layout", self.layout).field("updates", &updates).finish()
    }
}

impl<'a> Event<'a> {
    /// The layout of the event's set.
    #[inline(always)]
    pub(crate) fn layout(&self) -> &'a Layout {
        self.layout
    }

    /// Buffers one update.
    ///
    /// # Safety
    ///
    /// `op` was built for this event's shard (the contract of [`Op`]).
    #[inline(always)]
    unsafe fn push(&self, op: Op) {
        let n = self.len.get();
        if n < CAPACITY {
            self.what[n].set(MaybeUninit::new(op.what));
            self.word[n].set(MaybeUninit::new(op.word));
            self.value[n].set(MaybeUninit::new(op.value));
            self.second[n].set(MaybeUninit::new(op.second));
            self.len.set(n + 1);
        } else {
            self.spill.set(push_spill(self.spill.take(), op));
        }
    }

    /// Adds `delta` to a word, wrapping (gauges).
    ///
    /// # Safety
    ///
    /// `word` is a word of the layout of the event's set (`word < layout.width()`).
    #[inline(always)]
    pub(crate) unsafe fn add(&self, word: usize, delta: u64) {
        // SAFETY: the caller's promise: a word of this event's shard.
        unsafe { self.push(Op::level(word, delta)) }
    }

    /// Adds `delta` to the `f64` in a word (float counters and gauges).
    ///
    /// # Safety
    ///
    /// As [`add`](Self::add).
    #[inline(always)]
    pub(crate) unsafe fn add_float(&self, word: usize, delta: f64) {
        // SAFETY: the caller's promise: a word of this event's shard.
        unsafe { self.push(Op::float_add(word, delta)) }
    }

    /// Adds 1 to a counter word.
    ///
    /// # Safety
    ///
    /// As [`add`](Self::add).
    #[inline(always)]
    pub(crate) unsafe fn inc(&self, word: usize) {
        // SAFETY: the caller's promise: a word of this event's shard.
        unsafe { self.push(Op::inc(word)) }
    }

    /// Adds `delta` to a counter word, saturating (counters never go backwards).
    ///
    /// # Safety
    ///
    /// As [`add`](Self::add).
    #[inline(always)]
    pub(crate) unsafe fn add_saturating(&self, word: usize, delta: u64) {
        // SAFETY: the caller's promise: a word of this event's shard.
        unsafe { self.push(Op::count(word, delta)) }
    }

    /// Sets a last-value field (its two words: the value, and a stamp taken when the
    /// event is applied).
    ///
    /// # Safety
    ///
    /// `word` and `word + 1` are words of the layout of the event's set.
    #[inline(always)]
    pub(crate) unsafe fn push_last(&self, word: usize, value: u64) {
        // SAFETY: the caller's promise: words of this event's shard.
        unsafe { self.push(Op::last(word, value)) }
    }

    /// Records `value` into the histogram whose scalar words start at `word` and whose
    /// bucket pages start at `page_base`.
    ///
    /// # Safety
    ///
    /// `word`, `page_base` and `config` are those of a histogram field of the layout of the
    /// event's set.
    #[inline(always)]
    pub(crate) unsafe fn observe_at(
        &self,
        word: usize,
        page_base: usize,
        config: HistogramConfig,
        value: u64,
    ) {
        let bucket = bucket_of(page_base, config, value);
        // SAFETY: the caller's promise for `word` and the bucket (a bucket of the
        // histogram's pages in this event's shard, whose layout it is).
        unsafe { self.push(Op::observe(word, value, bucket)) }
    }

    /// Runs `f`, which buffers the event's updates, then applies them to `shard`, a shard
    /// of a set of `layout`, as one latch section. If `f` panics, nothing was written: the
    /// event is in no snapshot.
    ///
    /// # Safety
    ///
    /// The caller is `shard`'s writer (it holds the shard's thread slot), `shard` was
    /// built for `layout`, and `width` is `layout.width()`.
    #[inline(always)]
    pub(crate) unsafe fn run<R>(
        shard: &'a Shard,
        layout: &'a Layout,
        width: usize,
        f: impl FnOnce(&Event<'_>) -> R,
    ) -> R {
        let event = Event {
            layout,
            len: Cell::new(0),
            what: [const { Cell::new(MaybeUninit::uninit()) }; CAPACITY],
            word: [const { Cell::new(MaybeUninit::uninit()) }; CAPACITY],
            value: [const { Cell::new(MaybeUninit::uninit()) }; CAPACITY],
            second: [const { Cell::new(MaybeUninit::uninit()) }; CAPACITY],
            spill: Cell::new(Vec::new()),
            _single_writer: PhantomData,
        };
        let result = f(&event);
        let n = event.len.get();
        let mut spill = event.spill.take();
        if n != 0 {
            // SAFETY: entries `..n` were initialised by `push` (`commit` asks for `i < n`).
            let op = |i: usize| unsafe {
                Op {
                    what: event.what[i].get().assume_init(),
                    word: event.word[i].get().assume_init(),
                    value: event.value[i].get().assume_init(),
                    second: event.second[i].get().assume_init(),
                    bucket: std::ptr::null(),
                }
            };
            // SAFETY: the caller's promise (our shard, we its writer); every op was pushed
            // by an `unsafe` method whose contract is the op's; `n <= CAPACITY`.
            unsafe { shard.commit(width, n, op, &mut spill) };
        }
        result
    }
}

/// Buffers an update past the inline buffer: takes the spill and gives it back, so that
/// the event's address does not escape.
#[cold]
#[inline(never)]
fn push_spill(mut spill: Vec<Op>, op: Op) -> Vec<Op> {
    if spill.capacity() == 0 {
        // One allocation for most wide events (room for three times the inline buffer).
        spill.reserve_exact(2 * CAPACITY);
    }
    spill.push(op);
    spill
}

/// The bucket of `value` in a histogram of `config` whose pages start at `page_base`, as
/// [`Op::observe`] takes it: `page × PAGE_BUCKETS + bucket`, or [`NO_BUCKET`] for the
/// overflow.
/// Arithmetic only: the page is looked up (and allocated on first use) when the event is
/// applied, just before its section opens.
#[inline(always)]
pub(crate) fn bucket_of(page_base: usize, config: HistogramConfig, value: u64) -> u64 {
    match config.index(value) {
        Some(i) => (page_base * PAGE_BUCKETS + i) as u64,
        None => NO_BUCKET,
    }
}
