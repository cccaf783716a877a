//! The latch: one thread's shard of one metric set, with its writer and reader halves.
//!
//! A shard keeps two copies of the set's fields and a sequence number. The writer (the
//! thread owning the shard's slot, and no one else) moves readers to copy 1, applies an
//! event's buffered updates to copy 0, moves readers back to copy 0, then brings copy 1 up
//! to date. A reader reads `copy[seq & 1]` and retries only if `seq` moved while it read,
//! so it can always finish while the writer is paused anywhere, and it never sees half an
//! event.
//!
//! Outside a section both copies hold the same values. Data updates are a relaxed load, an
//! add and a relaxed store: no lock, no CAS, no `lock`-prefixed instruction. No user code
//! runs inside a section (an event's closure runs before it, see `event.rs`), so sections
//! always close and never nest.
//!
//! # Orderings
//!
//! The argument is in `docs/DESIGN.md`, "The latch"; in short, for an event starting at
//! even `seq == s`:
//!
//! - writer: `seq = s+1` (Release) + fence(Release); copy 0; `seq = s+2` (Release) +
//!   fence(Release); copy 1 (the same updates, or the values copy 0 got).
//! - reader: `s1 = seq` (Acquire); read `copy[s1 & 1]` (Relaxed); fence(Acquire);
//!   `s2 = seq` (Relaxed); accept iff `s1 == s2`.
//!
//! The Release store of a sequence pairs with the reader's Acquire load of it: the copy it
//! points to was completed before the store. The writer's Release fence pairs with the
//! reader's Acquire fence: a reader that read any data stored after the fence also sees the
//! sequence stored before it on its second load, and retries.
//!
//! Under `--cfg tally_tsan` the fences are replaced by Release data stores and Acquire data
//! loads (same argument, edge per access), because ThreadSanitizer does not model fences.

use std::ptr;

use crossbeam_utils::CachePadded;

use crate::event::CAPACITY;
use crate::layout::PAGE_BUCKETS;
use crate::op::{Done, Op, What};
use crate::sync::{AtomicPtr, AtomicU64, Ordering};

/// Ordering of the writer's data stores: the fences carry the synchronisation, except
/// under ThreadSanitizer, where each store does (see the module docs).
#[cfg(not(tally_tsan))]
pub(crate) const DATA_STORE: Ordering = Ordering::Relaxed;
#[cfg(tally_tsan)]
pub(crate) const DATA_STORE: Ordering = Ordering::Release;

/// Ordering of the reader's data loads (mirror of [`DATA_STORE`]).
#[cfg(not(tally_tsan))]
const DATA_LOAD: Ordering = Ordering::Relaxed;
#[cfg(tally_tsan)]
const DATA_LOAD: Ordering = Ordering::Acquire;

#[inline]
fn writer_fence() {
    // Release fence: pairs with the reader's Acquire fence (see the module docs).
    #[cfg(not(tally_tsan))]
    crate::sync::fence(Ordering::Release);
}

#[inline]
fn reader_fence() {
    // Acquire fence: pairs with the writer's Release fence (see the module docs).
    #[cfg(not(tally_tsan))]
    crate::sync::fence(Ordering::Acquire);
}

/// Words per cache-line group: 16 × 8 bytes = 128 bytes, crossbeam's `CachePadded` size on
/// x86_64 and aarch64 (the spatial prefetcher pulls line pairs); more where `CachePadded`
/// is larger (s390x), so that a group never has padding.
const LINE_WORDS: usize = {
    let padded = align_of::<CachePadded<u8>>() / 8;
    if padded > 16 { padded } else { 16 }
};

/// A cache-line group of a shard.
type Line = CachePadded<[AtomicU64; LINE_WORDS]>;

// Groups have no padding, so a shard's words are contiguous: `word` relies on it.
#[cfg(not(loom))]
const _: () = assert!(size_of::<Line>() == LINE_WORDS * size_of::<AtomicU64>());

/// Word 0 of a shard: the sequence.
const SEQ: usize = 0;
/// First word of copy 0 (copy 1 follows it, `width` words further).
const DATA: usize = 1;

/// A histogram bucket page: copy 0 of 64 buckets, then copy 1. Allocated by the shard's
/// owner the first time a value lands in it (before the event's section opens), never
/// freed before the shard.
type Page = CachePadded<[AtomicU64; 2 * PAGE_BUCKETS]>;

/// One thread's shard: `1 + 2 × width` words in cache-padded lines, owned by one allocation
/// so that no other shard shares its lines, and a table of lazily allocated histogram
/// bucket pages.
#[derive(Debug)]
pub(crate) struct Shard {
    lines: Box<[Line]>,
    width: usize,
    pages: Box<[AtomicPtr<Page>]>,
}

/// The words of one copy of a shard, as a base the hot path computes once per section (a
/// local, so the fences do not make the compiler reload it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Words<'a> {
    #[cfg(not(loom))]
    base: *const AtomicU64,
    #[cfg(loom)]
    shard: &'a Shard,
    #[cfg(loom)]
    base: usize,
    #[cfg(not(loom))]
    _shard: std::marker::PhantomData<&'a Shard>,
}

impl<'a> Words<'a> {
    /// Word `i` of the copy.
    ///
    /// # Safety
    ///
    /// `i < width` of the shard.
    #[inline(always)]
    pub(crate) unsafe fn at(self, i: usize) -> &'a AtomicU64 {
        #[cfg(not(loom))]
        {
            // SAFETY: `base` is the first word of a copy of `width` words inside the shard's
            // one allocation of contiguous words (see `Shard::word`), and `i < width` (the
            // caller's promise); the shard outlives `'a`.
            unsafe { &*self.base.add(i) }
        }
        #[cfg(loom)]
        {
            self.shard.word(self.base + i)
        }
    }
}

impl Shard {
    /// A zeroed shard for a set of `width` words and `pages` bucket pages.
    pub(crate) fn new(width: usize, pages: usize) -> Self {
        let words = DATA + 2 * width;
        let lines = words.div_ceil(LINE_WORDS);
        Shard {
            lines: (0..lines)
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            width,
            pages: (0..pages).map(|_| AtomicPtr::new(ptr::null_mut())).collect(),
        }
    }

    /// Word `i` of the shard.
    ///
    /// Callers pass `i < 1 + 2 × width`: the sequence, or `DATA + copy × width + w` with
    /// `w < width`. That holds by construction: field offsets come from the set's layout
    /// (`metric_set!`'s `__private::Typed` computes them at compile time from the same
    /// field list it builds the layout from; raw `FieldId`s are checked against the layout
    /// by `Layout::check`; the unchecked entry points are `unsafe fn`s with this contract),
    /// so the hot path skips the bounds check.
    #[inline(always)]
    fn word(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i < DATA + 2 * self.width, "word {i} past a shard of width {}", self.width);
        #[cfg(not(loom))]
        {
            // SAFETY: `lines` is one allocation of `(DATA + 2 × width).div_ceil(LINE_WORDS)`
            // groups (see `new`), each exactly `LINE_WORDS` contiguous `AtomicU64`s with no
            // padding (asserted at compile time above), so the words are contiguous and
            // `i < DATA + 2 × width` (the contract above) is inside the allocation. The
            // pointer comes from the whole slice, so it may reach every group.
            unsafe { &*self.lines.as_ptr().cast::<AtomicU64>().add(i) }
        }
        #[cfg(loom)]
        {
            // loom's atomics are not plain words: index group by group.
            &self.lines[i / LINE_WORDS][i % LINE_WORDS]
        }
    }

    /// The words of copy `c` (0 or 1).
    ///
    /// `width` is the shard's width, passed by the caller (a constant for `metric_set!`'s
    /// sets, which saves loading it); `Words::at` relies on it being right.
    #[inline(always)]
    fn copy(&self, c: usize, width: usize) -> Words<'_> {
        debug_assert!(c < 2);
        debug_assert_eq!(width, self.width);
        #[cfg(not(loom))]
        {
            // The pointer comes from the whole slice (as in `word`), so it may reach every
            // word of the copy.
            let base = self.lines.as_ptr().cast::<AtomicU64>().wrapping_add(DATA + c * width);
            Words { base, _shard: std::marker::PhantomData }
        }
        #[cfg(loom)]
        {
            Words { shard: self, base: DATA + c * width }
        }
    }

    /// The shard's width: words per copy.
    #[inline(always)]
    pub(crate) fn width(&self) -> usize {
        self.width
    }

    // ---- writer half (the owning thread only) ----

    /// Applies one event, `ops(0..n)` then `more`, as one latch section: readers move to copy 1
    /// while copy 0 is updated, back to copy 0, then copy 1 receives the same updates.
    ///
    /// No user code runs inside the section and nothing in it can panic or allocate
    /// (bucket pages were allocated while the event was buffered), so a section always
    /// closes; sections of a shard never nest.
    ///
    /// # Safety
    ///
    /// The caller is this shard's writer (it holds the shard's thread slot), every op was
    /// built for this shard (the contract of [`Op`]), `n <= CAPACITY`, and `width` is the
    /// shard's width.
    #[inline(always)]
    pub(crate) unsafe fn commit(
        &self,
        width: usize,
        n: usize,
        ops: impl Fn(usize) -> Op,
        more: &mut [Op],
    ) {
        debug_assert!(n <= CAPACITY);
        // The ops, read out of the event first (locals: no call below can touch them),
        // then their buckets looked up, and pages allocated, before the section opens.
        let mut local = [Op::NONE; CAPACITY];
        unrolled(n, |i| local[i] = ops(i));
        unrolled(n, |i| self.resolve(&mut local[i]));
        more.iter_mut().for_each(|op| self.resolve(op));
        let ops = |i: usize| local[i];
        let seq = self.word(SEQ);
        let (c0, c1) = (self.copy(0, width), self.copy(1, width));
        // What copy 1 needs of each op (a local: the optimiser keeps it in registers).
        let mut done = [Done::NOTHING; CAPACITY];
        // Each flip is written as load-add-store of `seq` itself, not from a value kept in
        // a register: the compiler then emits one (non-locked) `inc` on x86.
        // Relaxed: only this thread stores `seq`, so this reads our own last store.
        debug_assert!(seq.load(Ordering::Relaxed) & 1 == 0, "a section is already open");
        // Release: a reader that acquires s+1 reads copy 1, completed before this store.
        seq.store(seq.load(Ordering::Relaxed) + 1, Ordering::Release);
        writer_fence();
        unrolled(n, |i| {
            // SAFETY: the caller's promise; readers are on copy 1.
            done[i] = unsafe { ops(i).apply(c0, 0) };
        });
        for op in more.iter() {
            // SAFETY: as above.
            unsafe { op.apply(c0, 0) };
        }
        // Release: a reader that acquires s+2 reads copy 0, completed before this store.
        seq.store(seq.load(Ordering::Relaxed) + 1, Ordering::Release);
        writer_fence();
        // Readers are on copy 0, which holds the event; copy 1 held what copy 0 held
        // before it, so the same updates leave it equal to copy 0.
        unrolled(n, |i| {
            // SAFETY: the caller's promise; `done[i]` is what `apply` returned for `ops(i)`.
            unsafe { ops(i).finish(done[i], c1) };
        });
        for op in more.iter() {
            // SAFETY: the caller's promise (the wide path applies each op again).
            unsafe { op.apply(c1, 1) };
        }
    }

    /// What an op needs just before the section: a sample's bucket word (see
    /// [`Op::observe`]), a last value's stamp (see [`Op::last`]).
    #[inline(always)]
    fn resolve(&self, op: &mut Op) {
        if op.what == What::Observe && op.second != 0 {
            let i = op.second as usize - 1;
            op.bucket = self.bucket(i / PAGE_BUCKETS, i % PAGE_BUCKETS);
        }
        if op.what == What::Last {
            op.second = crate::clock::stamp_ns();
        }
    }

    /// The copy-0 word of bucket `b` of page `p`, allocating the page on first use. Owner
    /// only, outside sections.
    ///
    /// # Panics
    ///
    /// If `p` is not a page of this shard or `b` not a bucket of a page: never for the
    /// pages and buckets of a histogram field of the shard's layout.
    #[inline(always)]
    pub(crate) fn bucket(&self, p: usize, b: usize) -> *const AtomicU64 {
        assert!(b < PAGE_BUCKETS, "bucket {b} past a page");
        // Relaxed: only the owner stores page pointers, and a previous owner's store is
        // ordered before ours by the slot hand-over (slot.rs).
        let mut page = self.pages[p].load(Ordering::Relaxed);
        if page.is_null() {
            page = self.new_page(p);
        }
        // SAFETY: non-null page pointers come from `Box::into_raw` in `new_page` and are
        // freed only in `Drop`, which needs `&mut self`. The pointer is derived from the
        // whole array (so it may reach the bucket's copy-1 word too), `b < PAGE_BUCKETS`.
        unsafe { (*page).as_ptr().add(b) }
    }

    #[cold]
    #[inline(never)]
    fn new_page(&self, p: usize) -> *mut Page {
        let page =
            Box::into_raw(Box::new(CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0)))));
        // Release: readers that load this pointer with Acquire see the zeroed buckets.
        self.pages[p].store(page, Ordering::Release);
        page
    }

    // ---- reader half (any thread) ----

    /// Reads one complete copy into `out` (`width` words) and, for every allocated bucket
    /// page, its index into `page_ids` and its 64 buckets into `page_words`. Never waits
    /// for the writer: retries only when the writer finished a flip during the read.
    pub(crate) fn read(
        &self,
        out: &mut [u64],
        page_ids: &mut Vec<usize>,
        page_words: &mut Vec<u64>,
    ) {
        debug_assert_eq!(out.len(), self.width);
        loop {
            page_ids.clear();
            page_words.clear();
            // Acquire: pairs with the writer's Release store of this sequence, so the copy
            // it selects is complete in what we read.
            let s1 = self.word(SEQ).load(Ordering::Acquire);
            let c = (s1 & 1) as usize;
            let base = DATA + c * self.width;
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.word(base + i).load(DATA_LOAD);
            }
            for (p, cell) in self.pages.iter().enumerate() {
                // Acquire: pairs with the Release store in `new_page` (zeroed buckets).
                let page = cell.load(Ordering::Acquire);
                if page.is_null() {
                    continue;
                }
                // SAFETY: as in `page`.
                let page = unsafe { &*page };
                page_ids.push(p);
                page_words.extend(
                    page[c * PAGE_BUCKETS..(c + 1) * PAGE_BUCKETS]
                        .iter()
                        .map(|w| w.load(DATA_LOAD)),
                );
            }
            reader_fence();
            // Relaxed: ordered after the data loads by the Acquire fence (or, under
            // tally_tsan, by the Acquire data loads).
            let s2 = self.word(SEQ).load(Ordering::Relaxed);
            if s1 == s2 {
                return;
            }
            crate::sync::spin_loop();
        }
    }
}

#[cfg(test)]
impl Shard {
    /// Both copies, as the owner sees them: a test's check of invariant (I) (outside a
    /// section, the copies are equal), run once the shard's writers are done and ordered
    /// before the caller.
    pub(crate) fn copies(&self) -> (Vec<u64>, Vec<u64>) {
        let copy = |c: usize| {
            (0..self.width)
                .map(move |i| self.word(DATA + c * self.width + i).load(Ordering::Relaxed))
        };
        (copy(0).collect(), copy(1).collect())
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        for cell in self.pages.iter() {
            let page = cell.load(Ordering::Relaxed);
            if !page.is_null() {
                // SAFETY: `&mut self`: no other reference exists; the page came from
                // `Box::into_raw` in `new_page` and is freed only here.
                drop(unsafe { Box::from_raw(page) });
            }
        }
    }
}

/// Calls `f(i)` for `i` in `0..n` (`n <= CAPACITY`) as a loop of constant trip count, which
/// the optimiser unrolls: with `n` known after inlining (an event's updates usually are),
/// every call has a constant index and the event's buffer lives in registers.
#[inline(always)]
pub(crate) fn unrolled(n: usize, mut f: impl FnMut(usize)) {
    for i in 0..CAPACITY {
        if i < n {
            f(i);
        }
    }
}
