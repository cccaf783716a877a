//! One buffered update of an event, and how it is applied to a shard copy.
//!
//! An event's closure runs *before* its latch section opens and only buffers these (see
//! `event.rs`); the section then applies the buffer to copy 0, flips, and applies it again
//! to copy 1. Both copies hold the same values outside a section, so the same update
//! applied to each leaves them equal again (`docs/DESIGN.md`, "The latch").

use crate::latch::{DATA_STORE, Words};
use crate::layout::PAGE_BUCKETS;
use crate::sync::{AtomicU16, AtomicU64, Ordering};

/// One update of a shard. Every `word` is a word of the layout of the set whose shard the
/// op is applied to, and every non-null `bucket` a copy-0 bucket of a page of that very
/// shard: the contract of the `unsafe` constructors in `event.rs`, on which
/// [`Op::apply`] and [`Op::finish`] rely.
///
/// A plain struct of scalars rather than an enum with payloads, so that the optimiser keeps
/// an inlined event's ops in registers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op {
    pub(crate) what: What,
    /// The field's (first) word.
    pub(crate) word: usize,
    /// The delta, the last value, or the sample.
    pub(crate) value: u64,
    /// A last value's stamp (filled in just before the section opens).
    pub(crate) second: u64,
    /// A sample's bucket: the copy-0 lane (`AtomicU16`) in its page, or for
    /// [`What::ObserveWide`] the copy-0 wide word (`AtomicU64`); copy 1 is `PAGE_BUCKETS`
    /// lanes or words further. Null for a sample past the configured maximum (the overflow
    /// word), and until [`Shard::commit`](crate::latch::Shard) resolves it from `second`.
    pub(crate) bucket: *const (),
}

/// What an [`Op`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum What {
    /// Adds 1 to a counter word (see [`COUNTER_CAP`]: it cannot pass `u64::MAX`).
    Inc,
    /// Adds `value` to a counter word, saturating at [`COUNTER_CAP`] (never backwards).
    Count,
    /// Adds `value` to a gauge word, wrapping (a two's-complement level).
    Level,
    /// Stores `value` and `second`: a last value and its stamp, read from the clock just
    /// before the section opens (so that one thread's stamps follow the order its events
    /// are applied in, nested records included).
    Last,
    /// Records the sample `value` into the histogram whose words start at `word`, counting
    /// it in its bucket's lane.
    Observe,
    /// [`Observe`](What::Observe), counting the sample in its bucket's wide word: what a
    /// giant event's spilled samples become when resolved (latch/pages.rs, `GIANT_EVENT`).
    ObserveWide,
    /// Adds the `f64` whose bits are `value` to the `f64` whose bits are in `word` (float
    /// counters and gauges; the handle refused what they may not take).
    FloatAdd,
}

/// What [`Op::apply`] did to copy 0 that [`Op::finish`] repeats on copy 1 by storing: a
/// counter's new value, or a sample's new sum (low and high words), minimum and maximum.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    value: u64,
    hi: u64,
    min_inv: u64,
    max: u64,
}

impl Done {
    /// Nothing done yet.
    pub(crate) const NOTHING: Done = Done { value: 0, hi: 0, min_inv: 0, max: 0 };
}

/// Where a counter's shard word saturates: `add(n)` never takes it past 2^63, and `inc`
/// adds 1 without a check (a plain add in each copy, the cheapest update there is): going
/// from 2^63 to `u64::MAX` one `inc` at a time would take one thread 292 years at one
/// `inc` a nanosecond. Collection reads a word at or past the cap as `u64::MAX`
/// (saturated), so a counter never wraps and never goes backwards. `docs/DESIGN.md`,
/// "Counters saturate".
pub(crate) const COUNTER_CAP: u64 = 1 << 63;

/// A sample's bucket past the configured maximum: it is counted in the overflow word.
pub(crate) const NO_BUCKET: u64 = u64::MAX;

/// Histogram scalar words, from a histogram field's first word (`layout::words_of`).
const COUNT: usize = 0;
const SUM_LO: usize = 1;
const SUM_HI: usize = 2;
/// Stored as `u64::MAX - min`, so that a zeroed shard means "no values".
const MIN_INV: usize = 3;
const MAX: usize = 4;
const OVERFLOW: usize = 5;

#[inline(always)]
fn add(w: &AtomicU64, delta: u64) {
    // Relaxed load: only this thread (the shard's writer) stores the word.
    w.store(w.load(Ordering::Relaxed).wrapping_add(delta), DATA_STORE);
}

impl Op {
    /// Adds 1 to counter word `word`.
    #[inline(always)]
    pub(crate) const fn inc(word: usize) -> Op {
        Op { what: What::Inc, word, value: 1, second: 0, bucket: std::ptr::null() }
    }

    /// Adds `delta` to counter word `word`, saturating at [`COUNTER_CAP`].
    #[inline(always)]
    pub(crate) const fn count(word: usize, delta: u64) -> Op {
        Op { what: What::Count, word, value: delta, second: 0, bucket: std::ptr::null() }
    }

    /// Adds `delta` to gauge word `word`, wrapping.
    #[inline(always)]
    pub(crate) const fn level(word: usize, delta: u64) -> Op {
        Op { what: What::Level, word, value: delta, second: 0, bucket: std::ptr::null() }
    }

    /// Sets the last-value field at `word` to `value`, stamped when the event is applied.
    #[inline(always)]
    pub(crate) const fn last(word: usize, value: u64) -> Op {
        Op { what: What::Last, word, value, second: 0, bucket: std::ptr::null() }
    }

    /// Records `value` into the histogram at `word`, into the bucket `bucket` of the
    /// shard's pages (`page × PAGE_BUCKETS + b`; [`NO_BUCKET`] for the overflow), resolved
    /// to its lane just before the section opens.
    #[inline(always)]
    pub(crate) const fn observe(word: usize, value: u64, bucket: u64) -> Op {
        Op { what: What::Observe, word, value, second: bucket, bucket: std::ptr::null() }
    }

    /// Adds `delta` to the `f64` in word `word`.
    #[inline(always)]
    pub(crate) fn float_add(word: usize, delta: f64) -> Op {
        Op {
            what: What::FloatAdd,
            word,
            value: delta.to_bits(),
            second: 0,
            bucket: std::ptr::null(),
        }
    }

    /// An op that is not one: what unused entries of a local buffer hold.
    pub(crate) const NONE: Op = Op::level(0, 0);

    /// Applies the update to copy `copy` (0 or 1), whose words are `words`, and returns
    /// what [`finish`](Self::finish) needs to repeat it on the other copy.
    ///
    /// # Safety
    ///
    /// The op's words and bucket belong to the shard `words` is a copy of (the contract of
    /// the type), `copy` is that copy's number, and the caller is the shard's writer,
    /// inside a section that steers readers away from `copy`.
    #[inline(always)]
    pub(crate) unsafe fn apply(&self, words: Words<'_>, copy: usize) -> Done {
        let (word, value) = (self.word, self.value);
        // SAFETY: every `words.at` below names a word of the shard's layout (the op's words:
        // the contract of the type, passed on by the caller).
        unsafe {
            match self.what {
                What::Count => {
                    let w = words.at(word);
                    let old = w.load(Ordering::Relaxed);
                    // Never past the cap by an add, never below where it was.
                    let value = old.saturating_add(value).min(COUNTER_CAP).max(old);
                    w.store(value, DATA_STORE);
                    Done { value, ..Done::NOTHING }
                }
                What::Inc | What::Level => {
                    add(words.at(word), value);
                    Done::NOTHING
                }
                What::FloatAdd => {
                    let w = words.at(word);
                    let sum = f64::from_bits(w.load(Ordering::Relaxed)) + f64::from_bits(value);
                    // Copy 1 takes the same bits by storing (`finish`): one rounding.
                    let value = sum.to_bits();
                    w.store(value, DATA_STORE);
                    Done { value, ..Done::NOTHING }
                }
                What::Last => {
                    words.at(word).store(value, DATA_STORE);
                    words.at(word + 1).store(self.second, DATA_STORE);
                    Done::NOTHING
                }
                What::Observe | What::ObserveWide => {
                    add(words.at(word + COUNT), 1);
                    // The sum is a u128 in two words: exact for any number of u64 samples.
                    let lo = words.at(word + SUM_LO);
                    let (sum_lo, carry) = lo.load(Ordering::Relaxed).overflowing_add(value);
                    lo.store(sum_lo, DATA_STORE);
                    // Stored with or without a carry, so that copy 1 takes it by storing.
                    let hi = words.at(word + SUM_HI);
                    let sum_hi = hi.load(Ordering::Relaxed).wrapping_add(u64::from(carry));
                    hi.store(sum_hi, DATA_STORE);
                    // Stored whether or not they changed: a store is cheaper than a branch,
                    // and copy 1 then takes the same values by storing too.
                    let min = words.at(word + MIN_INV);
                    let min_inv = min.load(Ordering::Relaxed).max(u64::MAX - value);
                    min.store(min_inv, DATA_STORE);
                    let max = words.at(word + MAX);
                    let max_value = max.load(Ordering::Relaxed).max(value);
                    max.store(max_value, DATA_STORE);
                    bump(words, word, self.bucket, self.what, copy);
                    Done { value: sum_lo, hi: sum_hi, min_inv, max: max_value }
                }
            }
        }
    }

    /// Repeats on copy 1 (`words`) what [`apply`](Self::apply) did to copy 0 and
    /// returned as `done`: copy 1 then holds what copy 0 holds.
    ///
    /// # Safety
    ///
    /// As [`apply`](Self::apply), for copy 1, with readers steered to copy 0; `done` is
    /// what `apply` returned for this op on copy 0 of the same shard.
    #[inline(always)]
    pub(crate) unsafe fn finish(&self, done: Done, words: Words<'_>) {
        let word = self.word;
        // SAFETY: every `words.at` below names a word of the shard's layout, as in `apply`.
        unsafe {
            match self.what {
                What::Count | What::FloatAdd => words.at(word).store(done.value, DATA_STORE),
                What::Inc | What::Level | What::Last => {
                    self.apply(words, 1);
                }
                What::Observe | What::ObserveWide => {
                    add(words.at(word + COUNT), 1);
                    words.at(word + SUM_LO).store(done.value, DATA_STORE);
                    words.at(word + SUM_HI).store(done.hi, DATA_STORE);
                    words.at(word + MIN_INV).store(done.min_inv, DATA_STORE);
                    words.at(word + MAX).store(done.max, DATA_STORE);
                    bump(words, word, self.bucket, self.what, 1);
                }
            }
        }
    }
}

/// Adds 1 to the sample's bucket in `copy` (or to the overflow word, for a null bucket):
/// to its lane, or for [`What::ObserveWide`] to its wide word.
///
/// # Safety
///
/// As [`Op::apply`]: `word` is a histogram's first word and `bucket` a bucket of the shard
/// `words` is copy `copy` of, a lane or a wide word as `what` says; a lane has room for the
/// sample (the writer carried its page if not: latch/pages.rs, `Page`).
#[inline(always)]
unsafe fn bump(words: Words<'_>, word: usize, bucket: *const (), what: What, copy: usize) {
    if bucket.is_null() {
        // SAFETY: the caller's promise: a histogram's words.
        add(unsafe { words.at(word + OVERFLOW) }, 1);
    } else if what == What::ObserveWide {
        // SAFETY: `bucket` is the copy-0 wide word of a bucket of this shard (the caller's
        // promise); its copy-1 word is `PAGE_BUCKETS` further in the same wide part (the
        // pointer was derived from the whole part), which lives as long as its shard.
        add(unsafe { &*bucket.cast::<AtomicU64>().add(copy * PAGE_BUCKETS) }, 1);
    } else {
        // SAFETY: `bucket` is the copy-0 lane of a bucket of a page of this shard (the
        // caller's promise); its copy-1 lane is `PAGE_BUCKETS` further in the same page
        // (the pointer was derived from the whole page), and pages live as long as their
        // shard.
        let lane = unsafe { &*bucket.cast::<AtomicU16>().add(copy * PAGE_BUCKETS) };
        // Relaxed load: only this thread (the shard's writer) stores the lane. It has room
        // (the caller's promise): the add does not wrap.
        let n = lane.load(Ordering::Relaxed);
        debug_assert!(n < u16::MAX, "a lane without room");
        lane.store(n.wrapping_add(1), DATA_STORE);
    }
}
