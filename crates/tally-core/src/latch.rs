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

mod help;
mod pages;

use std::ptr;

use crossbeam_utils::CachePadded;

#[cfg(all(test, not(loom)))]
pub(crate) use help::SERVED_BY_HELP;
use help::{LIVE_ATTEMPTS, Published};
pub(crate) use pages::Page;
#[cfg(all(test, not(loom)))]
pub(crate) use pages::{CARRIES, full_is_untouched};
use pages::{GIANT_EVENT, LANE_MAX, WideTable, own_lane};

use crate::event::CAPACITY;
use crate::layout::PAGE_BUCKETS;
use crate::op::{Done, NO_BUCKET, Op, What};
use crate::sync::{AtomicPtr, AtomicU16, AtomicU64, Ordering};

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
/// Word 1: a reader's request for help (non-zero), in the sequence's line, which the writer
/// has in its cache at the end of every event (see [`Shard::read`]).
const HELP: usize = 1;
/// First word of copy 0 (copy 1 follows it, `width` words further).
const DATA: usize = 2;

/// One thread's shard: `2 + 2 × width` words in cache-padded lines, owned by one allocation
/// so that no other shard shares its lines, a table of lazily allocated histogram bucket
/// pages and of their wide parts, and the buffer the writer publishes a copy into when a
/// reader asks for help (allocated by the first reader that asks).
#[derive(Debug)]
pub(crate) struct Shard {
    lines: Box<[Line]>,
    width: usize,
    pages: Box<[AtomicPtr<Page>]>,
    wide: AtomicPtr<WideTable>,
    /// This shard's `FULL` page (under loom only: see [`FULL`]).
    #[cfg(loom)]
    full: Box<Page>,
    published: AtomicPtr<Published>,
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
        let shard = Shard {
            lines: (0..lines)
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            width,
            pages: (0..pages).map(|_| AtomicPtr::new(ptr::null_mut())).collect(),
            wide: AtomicPtr::new(ptr::null_mut()),
            #[cfg(loom)]
            full: Box::new(CachePadded::new(std::array::from_fn(|_| AtomicU16::new(u16::MAX)))),
            published: AtomicPtr::new(ptr::null_mut()),
        };
        for cell in shard.pages.iter() {
            // Relaxed: the shard is not shared yet (it is published with Release, table.rs).
            cell.store(shard.full(), Ordering::Relaxed);
        }
        shard
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
        // How many samples this event may add to one lane (all of them, at most): a lane
        // with less room than that is carried first (see `Page`). A giant event's spilled
        // samples go to wide words instead, so its lanes need room for the inline ones only.
        let giant = n + more.len() > GIANT_EVENT;
        let room = if giant { n } else { n + more.len() };
        unrolled(n, |i| {
            // SAFETY: every op was built for this shard (the caller's promise).
            unsafe { self.resolve(&mut local[i], room) }
        });
        more.iter_mut().for_each(|op| {
            // SAFETY: as above.
            unsafe {
                if giant {
                    self.resolve_wide(op);
                } else {
                    self.resolve(op, room);
                }
            }
        });
        let ops = |i: usize| local[i];
        let seq = self.word(SEQ);
        // Taken with `seq` (a local: the fences below do not make the compiler reload the
        // shard's base for it).
        let help = self.word(HELP);
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
        // A reader that failed to read the shard while this writer flips asks for a copy
        // (see `read`). Relaxed: a hint; what the reader relies on is `publish`'s sequence.
        if help.load(Ordering::Relaxed) != 0 {
            self.publish(width);
        }
    }

    /// What an op needs just before the section: a sample's lane (see [`Op::observe`]),
    /// with room for `room` more samples (its page is carried first if it has not), a last
    /// value's stamp (see [`Op::last`]).
    ///
    /// # Safety
    ///
    /// `op` was built for this shard (the contract of [`Op`]): a sample's bucket is
    /// `page × PAGE_BUCKETS + b` for a bucket `b` of a page of a histogram field of the
    /// shard's layout, or `NO_BUCKET`. The caller is the shard's writer.
    #[inline(always)]
    unsafe fn resolve(&self, op: &mut Op, room: usize) {
        if op.what == What::Observe && op.second != NO_BUCKET {
            let i = op.second as usize;
            let (p, b) = (i / PAGE_BUCKETS, i % PAGE_BUCKETS);
            debug_assert!(p < self.pages.len(), "page {p} past a shard of {}", self.pages.len());
            // SAFETY: `p < pages.len()` (the caller's promise).
            let cell = unsafe { self.pages.get_unchecked(p) };
            // Relaxed: only the owner stores page pointers, and a previous owner's store is
            // ordered before ours by the slot hand-over (slot.rs).
            let page = cell.load(Ordering::Relaxed);
            // SAFETY: page pointers are `FULL` or come from `new_page`, given back only in
            // `Drop` (`&mut self`); `b < PAGE_BUCKETS`. Derived from the
            // whole array: it may reach the lane's copy-1 half too.
            let mut lane = unsafe { (*page).as_ptr().add(b) };
            // Copy 0's lane (both copies are equal outside a section). `FULL`'s lanes have
            // no room: an unallocated page takes this branch too.
            // SAFETY: a live lane; the caller is the shard's writer (`FULL` is never
            // written).
            if usize::from(unsafe { own_lane(lane) }) + room > LANE_MAX {
                // SAFETY: as above. (Given `i` rather than `p` and `b`, so that the write
                // path need not keep them.)
                lane = unsafe { self.make_room(i) }.as_ptr();
            }
            op.bucket = lane.cast();
        }
        if op.what == What::Last {
            op.second = crate::clock::stamp_ns();
        }
    }

    // ---- reader half (any thread) ----

    /// Reads one complete copy into `out` (`width` words) and, for every allocated bucket
    /// page, its index into `page_ids` and its `PAGE_BUCKETS` bucket counts into
    /// `page_words`.
    ///
    /// Never waits for the writer, and finishes in a bounded number of attempts against a
    /// writer recording flat out: after [`LIVE_ATTEMPTS`] failed live reads (each failed
    /// because the writer finished a flip during it), the reader asks the writer for help
    /// and then alternates between a live read (which succeeds as soon as the writer stops
    /// or is descheduled, anywhere) and the published copy (which the writer fills at the
    /// end of its next event). The argument is in docs/DESIGN.md, "Reader help".
    pub(crate) fn read(
        &self,
        out: &mut [u64],
        page_ids: &mut Vec<usize>,
        page_words: &mut Vec<u64>,
    ) {
        self.read_asking_after(LIVE_ATTEMPTS, out, page_ids, page_words);
    }

    /// One live read: `true` if the writer did not finish a flip while it ran.
    fn read_live(
        &self,
        out: &mut [u64],
        page_ids: &mut Vec<usize>,
        page_words: &mut Vec<u64>,
    ) -> bool {
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
        if !self.pages.is_empty() {
            reader_fence();
            // An early check (the last one below is what validates): if the writer
            // flipped already, the pages are not worth pulling from its cache.
            // Relaxed: ordered after the data loads by the fence, as below.
            if self.word(SEQ).load(Ordering::Relaxed) != s1 {
                return false;
            }
        }
        // A first pass touches every cache line of this copy in every allocated page, so
        // that their misses overlap instead of coming one page after another (a collection
        // of many series is bound by them: docs/PERFORMANCE.md, "Collecting 10,000 series").
        #[cfg(not(loom))]
        for cell in self.pages.iter() {
            // Acquire: as below.
            let page = cell.load(Ordering::Acquire);
            if self.allocated(page) {
                // SAFETY: as below.
                let page = unsafe { &*page };
                let copy = &page[c * PAGE_BUCKETS..(c + 1) * PAGE_BUCKETS];
                for line in copy.iter().step_by(64 / size_of::<AtomicU16>()) {
                    std::hint::black_box(line.load(Ordering::Relaxed));
                }
            }
        }
        for (p, cell) in self.pages.iter().enumerate() {
            // Acquire: pairs with the Release store in `new_page` (zeroed lanes).
            let page = cell.load(Ordering::Acquire);
            if !self.allocated(page) {
                continue;
            }
            // SAFETY: as in `resolve` (an allocated page).
            let page = unsafe { &*page };
            page_ids.push(p);
            let start = page_words.len();
            page_words.extend(
                page[c * PAGE_BUCKETS..(c + 1) * PAGE_BUCKETS]
                    .iter()
                    .map(|l| u64::from(l.load(DATA_LOAD))),
            );
            // A bucket's count is its lane plus its wide word. Acquire: pairs with the
            // Release stores in `wide_page` (zeroed words); a wide part allocated before
            // a carry that ended before `s1` is seen (the carry's sequence stores follow
            // it), and one the read misses held zeros for it (docs/DESIGN.md, "Narrow
            // buckets").
            // SAFETY: `p < pages`.
            if let Some(wide) = unsafe { self.wide_of(p, Ordering::Acquire) } {
                for (d, w) in page_words[start..]
                    .iter_mut()
                    .zip(&wide[c * PAGE_BUCKETS..(c + 1) * PAGE_BUCKETS])
                {
                    *d = d.wrapping_add(w.load(DATA_LOAD));
                }
            }
        }
        reader_fence();
        // Relaxed: ordered after the data loads by the Acquire fence (or, under
        // tally_tsan, by the Acquire data loads).
        let s2 = self.word(SEQ).load(Ordering::Relaxed);
        s1 == s2
    }
}

#[cfg(test)]
impl Shard {
    /// Both copies, as the owner sees them: a test's check of invariant (I) (outside a
    /// section, the copies are equal), run once the shard's writers are done and ordered
    /// before the caller. Each is the copy's words, then for every allocated page its lanes
    /// and (if it has one) its wide part's words.
    pub(crate) fn copies(&self) -> (Vec<u64>, Vec<u64>) {
        let copy = |c: usize| {
            let mut out: Vec<u64> = (0..self.width)
                .map(|i| self.word(DATA + c * self.width + i).load(Ordering::Relaxed))
                .collect();
            for (p, cell) in self.pages.iter().enumerate() {
                let page = cell.load(Ordering::Relaxed);
                if self.allocated(page) {
                    // SAFETY: as in `resolve` (an allocated page).
                    let page = unsafe { &*page };
                    let lanes = &page[c * PAGE_BUCKETS..][..PAGE_BUCKETS];
                    out.extend(lanes.iter().map(|l| u64::from(l.load(Ordering::Relaxed))));
                    // SAFETY: `p < pages`.
                    if let Some(wide) = unsafe { self.wide_of(p, Ordering::Relaxed) } {
                        let words = &wide[c * PAGE_BUCKETS..][..PAGE_BUCKETS];
                        out.extend(words.iter().map(|w| w.load(Ordering::Relaxed)));
                    }
                }
            }
            out
        };
        (copy(0), copy(1))
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        let published = self.published.load(Ordering::Relaxed);
        if !published.is_null() {
            // SAFETY: `&mut self`: no other reference exists; the buffer came from
            // `Box::into_raw` in `published_buffer` and is freed only here.
            drop(unsafe { Box::from_raw(published) });
        }
        for cell in self.pages.iter() {
            let page = cell.load(Ordering::Relaxed);
            if self.allocated(page) {
                // SAFETY: `&mut self`: no other reference exists; the page came from the
                // pool in `new_page` and goes back only here (a `Page` has no drop glue).
                #[cfg(not(loom))]
                unsafe {
                    crate::pool::give_back(page.cast())
                };
                // SAFETY: as above; under loom, from `Box::into_raw`.
                #[cfg(loom)]
                drop(unsafe { Box::from_raw(page) });
            }
        }
        let table = self.wide.load(Ordering::Relaxed);
        if !table.is_null() {
            // SAFETY: `&mut self`: no other reference exists; the table and its pages came
            // from `Box::into_raw` in `wide_page` and are freed only here.
            let table = unsafe { Box::from_raw(table) };
            for cell in table.pages.iter() {
                let wide = cell.load(Ordering::Relaxed);
                if !wide.is_null() {
                    // SAFETY: as the table's.
                    drop(unsafe { Box::from_raw(wide) });
                }
            }
        }
    }
}

/// Calls `f(i)` for `i` in `0..n` (`n <= CAPACITY`) as a loop of constant trip count, which
/// the optimiser unrolls: with `n` known after inlining (an event's updates usually are),
/// every call has a constant index and the event's buffer lives in registers.
///
/// Written out call by call rather than as a loop for the optimiser to unroll: its
/// unrolling budget depends on how large the inlined `f` is, and an op kind more made it
/// keep a loop over an array in memory (79 instructions per inference event became 332,
/// measured; docs/PERFORMANCE.md).
#[inline(always)]
pub(crate) fn unrolled(n: usize, mut f: impl FnMut(usize)) {
    const { assert!(CAPACITY == 8, "unrolled() calls f for indices 0..8") };
    if n > 0 {
        f(0);
    }
    if n > 1 {
        f(1);
    }
    if n > 2 {
        f(2);
    }
    if n > 3 {
        f(3);
    }
    if n > 4 {
        f(4);
    }
    if n > 5 {
        f(5);
    }
    if n > 6 {
        f(6);
    }
    if n > 7 {
        f(7);
    }
}
