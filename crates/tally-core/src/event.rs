//! One multi-field event: a latch section with a drop guard.

use std::cell::Cell;
use std::mem::ManuallyDrop;

use crate::latch::{Opened, Shard, mask_bit};

/// An event being recorded: every update made through it lands in snapshots together, or
/// (if the closure panics) not at all.
///
/// Obtained inside [`RawSet::record`](crate::RawSet::record); the typed `…Event` of a
/// set declared with [`metric_set!`](crate::metric_set) wraps it.
#[derive(Debug)]
pub struct Event<'a> {
    shard: &'a Shard,
    /// Words of copy 0 written so far, for the copy-1 catch-up or the rollback.
    touched: Cell<u64>,
}

impl<'a> Event<'a> {
    #[inline(always)]
    pub(crate) fn add(&self, word: usize, delta: u64) {
        self.shard.add0(word, delta);
        self.touched.set(self.touched.get() | mask_bit(word));
    }

    #[inline(always)]
    pub(crate) fn set(&self, word: usize, value: u64) {
        self.shard.set0(word, value);
        self.touched.set(self.touched.get() | mask_bit(word));
    }

    /// Runs `f` inside a section of `shard`. A panic in `f` rolls the section back.
    #[inline(always)]
    pub(crate) fn run<R>(shard: &'a Shard, f: impl FnOnce(&Event<'a>) -> R) -> R {
        let event = Event { shard, touched: Cell::new(0) };
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
        let mask = this.event.touched.get();
        match this.opened {
            Opened::New(s) => this.event.shard.commit(s, mask),
            Opened::Joined => this.event.shard.note_nested(mask),
        }
    }
}

impl Drop for Section<'_, '_> {
    fn drop(&mut self) {
        let mask = self.event.touched.get();
        match self.opened {
            Opened::New(s) => self.event.shard.rollback(s, mask),
            // A nested record joins the outer event; the outer section decides whether
            // it commits or rolls back.
            Opened::Joined => self.event.shard.note_nested(mask),
        }
    }
}
