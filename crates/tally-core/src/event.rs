//! One multi-field event: a latch section with a drop guard.

use std::cell::Cell;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;

use tally_snapshot::HistogramConfig;

use crate::latch::{Opened, Shard, Touched, mask_bit};
use crate::layout::{Layout, PAGE_BUCKETS};

/// An event being recorded: every update made through it lands in snapshots together, or
/// (if the closure panics) not at all.
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
#[derive(Debug)]
pub struct Event<'a> {
    shard: &'a Shard,
    /// The set's layout, against which [`FieldId`](crate::FieldId)s are checked.
    layout: &'a Layout,
    /// What copy 0 received so far, for the copy-1 catch-up or the rollback.
    touched: Cell<Touched>,
    /// Not `Send`, not `Sync`, whatever the fields above are: the single-writer rule.
    _single_writer: PhantomData<*mut ()>,
}

impl<'a> Event<'a> {
    /// The layout of the event's set.
    #[inline(always)]
    pub(crate) fn layout(&self) -> &'a Layout {
        self.layout
    }

    #[inline(always)]
    fn touch_word(&self, word: usize) {
        let mut t = self.touched.get();
        t.words |= mask_bit(word);
        self.touched.set(t);
    }

    /// Adds `delta` to a word, wrapping (gauges).
    ///
    /// # Safety
    ///
    /// `word` is a word of the layout of the event's set (`word < layout.width()`).
    #[inline(always)]
    pub(crate) unsafe fn add(&self, word: usize, delta: u64) {
        self.shard.add0(word, delta);
        self.touch_word(word);
    }

    /// Adds `delta` to a word, saturating at `u64::MAX` (counters never go backwards).
    ///
    /// # Safety
    ///
    /// As [`add`](Self::add).
    #[inline(always)]
    pub(crate) unsafe fn add_saturating(&self, word: usize, delta: u64) {
        self.shard.add0_saturating(word, delta);
        self.touch_word(word);
    }

    /// Stores a word.
    ///
    /// # Safety
    ///
    /// As [`add`](Self::add).
    #[inline(always)]
    pub(crate) unsafe fn set(&self, word: usize, value: u64) {
        self.shard.set0(word, value);
        self.touch_word(word);
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
        let sh = self.shard;
        // count
        sh.add0(word, 1);
        // sum, as a u128 in two words: exact for any number of u64 values.
        let (lo, carry) = sh.get0(word + 1).overflowing_add(value);
        sh.set0(word + 1, lo);
        let mut words = mask_bit(word) | mask_bit(word + 1);
        if carry {
            sh.add0(word + 2, 1);
            words |= mask_bit(word + 2);
        }
        // min, stored as u64::MAX - min so that a zeroed shard means "no values".
        if u64::MAX - value > sh.get0(word + 3) {
            sh.set0(word + 3, u64::MAX - value);
            words |= mask_bit(word + 3);
        }
        if value > sh.get0(word + 4) {
            sh.set0(word + 4, value);
            words |= mask_bit(word + 4);
        }
        let mut t = self.touched.get();
        t.words |= words;
        match config.index(value) {
            Some(i) => {
                let (p, b) = (page_base + i / PAGE_BUCKETS, i % PAGE_BUCKETS);
                sh.bump_bucket0(p, b);
                let code = p * PAGE_BUCKETS + b + 1;
                if t.bucket == 0 || t.bucket == code {
                    t.bucket = code;
                } else {
                    // A second bucket in one event: catch up on its whole page.
                    t.pages |= mask_bit(p);
                }
            }
            None => {
                sh.add0(word + 5, 1);
                t.words |= mask_bit(word + 5);
            }
        }
        self.touched.set(t);
    }

    /// Runs `f` inside a section of `shard`, a shard of a set of `layout`. A panic in `f`
    /// rolls the section back.
    #[inline(always)]
    pub(crate) fn run<R>(
        shard: &'a Shard,
        layout: &'a Layout,
        f: impl FnOnce(&Event<'a>) -> R,
    ) -> R {
        let event = Event {
            shard,
            layout,
            touched: Cell::new(Touched::default()),
            _single_writer: PhantomData,
        };
        let guard = Section { event: &event, opened: shard.begin() };
        let result = f(&event);
        guard.finish();
        result
    }
}

/// Closes the section: `finish` on success, `Drop` (only reached by unwinding) rolls back.
struct Section<'e, 'a> {
    event: &'e Event<'a>,
    opened: Opened,
}

impl Section<'_, '_> {
    #[inline(always)]
    fn finish(self) {
        let this = ManuallyDrop::new(self);
        let t = this.event.touched.get();
        match this.opened {
            Opened::New(s) => this.event.shard.commit(s, t),
            Opened::Joined => this.event.shard.note_nested(t),
        }
    }
}

impl Drop for Section<'_, '_> {
    fn drop(&mut self) {
        let t = self.event.touched.get();
        match self.opened {
            Opened::New(s) => self.event.shard.rollback(s, t),
            // A nested record joins the outer event; the outer section decides whether
            // it commits or rolls back.
            Opened::Joined => self.event.shard.note_nested(t),
        }
    }
}
