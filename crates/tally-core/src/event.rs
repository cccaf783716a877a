//! One multi-field event: a latch section with a drop guard.

use std::cell::Cell;
use std::mem::ManuallyDrop;

use tally_snapshot::HistogramConfig;

use crate::latch::{Opened, Shard, Touched, mask_bit};
use crate::layout::PAGE_BUCKETS;

/// An event being recorded: every update made through it lands in snapshots together, or
/// (if the closure panics) not at all.
///
/// Obtained inside [`RawSet::record`](crate::RawSet::record); the typed `…Event` of a
/// set declared with [`metric_set!`](crate::metric_set) wraps it.
#[derive(Debug)]
pub struct Event<'a> {
    shard: &'a Shard,
    /// What copy 0 received so far, for the copy-1 catch-up or the rollback.
    touched: Cell<Touched>,
}

impl<'a> Event<'a> {
    #[inline(always)]
    fn touch_word(&self, word: usize) {
        let mut t = self.touched.get();
        t.words |= mask_bit(word);
        self.touched.set(t);
    }

    /// Whether `words` words and `pages` pages fit this event's shard.
    #[inline(always)]
    pub(crate) fn fits(&self, words: usize, pages: usize) -> bool {
        self.shard.fits(words, pages)
    }

    #[inline(always)]
    pub(crate) fn add(&self, word: usize, delta: u64) {
        self.shard.add0(word, delta);
        self.touch_word(word);
    }

    #[inline(always)]
    pub(crate) fn set(&self, word: usize, value: u64) {
        self.shard.set0(word, value);
        self.touch_word(word);
    }

    /// Records `value` into the histogram whose scalar words start at `word` and whose
    /// bucket pages start at `page_base`.
    #[inline(always)]
    pub(crate) fn observe_at(
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

    /// Runs `f` inside a section of `shard`. A panic in `f` rolls the section back.
    #[inline(always)]
    pub(crate) fn run<R>(shard: &'a Shard, f: impl FnOnce(&Event<'a>) -> R) -> R {
        let event = Event { shard, touched: Cell::new(Touched::default()) };
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
