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

/// Live reads a reader tries before it asks the writer for help. A read fails only when
/// the writer finished a flip during it, so failing this many in a row means the writer is
/// recording flat out, and will see the request at the end of its current event.
///
/// The core's own unit tests ask at once, so that every threaded test (under Miri and
/// ThreadSanitizer too) runs the help path on every read; the `tally` crate's stress tests
/// and the loom models run the real value (the help model asks at once by itself).
const LIVE_ATTEMPTS: usize = if cfg!(all(test, not(loom))) { 0 } else { 1 };

/// While waiting for a publication, the reader re-asks and tries a live read once every
/// this many polls of the published sequence (1 under loom, whose spin loop yields).
const RECHECK_EVERY: usize = if cfg!(loom) { 1 } else { 64 };

/// Reads served by a writer's publication (the core's tests check the path is taken).
#[cfg(all(test, not(loom)))]
pub(crate) static SERVED_BY_HELP: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Pages carried (the core's tests check the path is taken).
#[cfg(all(test, not(loom)))]
pub(crate) static CARRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A histogram bucket page: copy 0 of `PAGE_BUCKETS` narrow counts (16-bit lanes), then
/// copy 1: 128 bytes. Allocated by the shard's owner the first time a value lands in it
/// (before the event's section opens), never freed before the shard.
///
/// # Narrow buckets
///
/// A bucket's count in a shard is its lane plus its word in the page's [`Wide`] part (0
/// while there is none). A lane never overflows: before an event's section opens, the
/// writer checks each sample's lane against the event's size (`resolve`: the event may put
/// all its samples in that lane), and if the lane has less room than that, first
/// **carries** the page: in a latch section of its own, every lane of the page is added to
/// its wide word and set to 0, in copy 0 and then in copy 1. (A giant event's spilled
/// samples go to wide words, see [`GIANT_EVENT`].) A carry changes no bucket's count (lane + wide), so a reader sees the
/// same counts whichever side of it its read falls on; a reader that reads lanes and wide
/// words across a carry sees the sequence move and retries, as for any section.
/// docs/DESIGN.md, "Narrow buckets".
pub(crate) type Page = CachePadded<[AtomicU16; 2 * PAGE_BUCKETS]>;

/// Where a shard's page pointers point until their page is allocated: a page whose lanes
/// all hold `u16::MAX` and are never written, so that the writer's room check (`resolve`)
/// finds no room in it and takes the cold path, which allocates the page (one test on the
/// write path for both). Readers skip it (`allocated`).
///
/// (Under loom, whose atomics exist only inside a model's execution, each shard has its
/// own, `Shard::full`.)
#[cfg(not(loom))]
static FULL: Page = CachePadded::new([const { AtomicU16::new(u16::MAX) }; 2 * PAGE_BUCKETS]);

/// The value of a lane of this shard, read by its writer (the only thread that writes it),
/// without an atomic load: only reads (the readers') race with it, so it is not a data
/// race, and the compiler can fold it into the comparison that uses it.
///
/// # Safety
///
/// `lane` points to a live lane, and the caller is the only thread that writes it.
#[inline(always)]
unsafe fn own_lane(lane: *const AtomicU16) -> u16 {
    #[cfg(not(loom))]
    {
        // SAFETY: the caller's promise: no write races with this read.
        unsafe { (*lane).as_ptr().read() }
    }
    #[cfg(loom)]
    {
        // SAFETY: as above (loom checks that no write races with it).
        unsafe { (*lane).unsync_load() }
    }
}

/// The wide part of a page, allocated with its first carry: copy 0 of `PAGE_BUCKETS`
/// 64-bit counts, then copy 1 (512 bytes).
type Wide = CachePadded<[AtomicU64; 2 * PAGE_BUCKETS]>;

/// One pointer per page to its wide part (null until the page's first carry); the table
/// itself is allocated with the shard's first carry, so that a shard that never carries
/// pays one null pointer for it.
#[derive(Debug)]
struct WideTable {
    pages: Box<[AtomicPtr<Wide>]>,
}

/// What a lane holds at most before its page is carried: `u16::MAX`; 1 under loom, so that
/// a model's second sample in a bucket carries its page, and 3 under Miri, so that its
/// tests carry every few samples rather than every 65,536.
const LANE_MAX: usize = if cfg!(loom) {
    1
} else if cfg!(miri) {
    3
} else {
    u16::MAX as usize
};

/// An event with more updates than this records its spilled samples straight into wide
/// words, and its lanes need room for its inline samples only: a carried lane (0) has room
/// for this many samples.
const GIANT_EVENT: usize = 1 << 15;

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

/// A copy of a shard that its writer published at a reader's request, under its own
/// sequence (the latch's protocol with one copy: the writer writes it only when asked, so
/// a reader that finds it stable reads it whole).
///
/// Its pages are allocated as the shard's are (by the writer, when it publishes a page
/// for the first time), so that a shard with a few pages in use does not hold a buffer for
/// all of them: `width` words, a pointer per possible page, and 256 bytes per page in use.
#[derive(Debug)]
struct Published {
    /// Odd while the writer writes the copy; `+2` per publication.
    seq: AtomicU64,
    /// The shard's `width` words.
    words: Box<[AtomicU64]>,
    /// Per page, null until the page is first published, then its bucket counts (lane +
    /// wide word). A page once allocated stays so: a reader reads every non-null one.
    pages: Box<[AtomicPtr<PubPage>]>,
}

/// A published page: its `PAGE_BUCKETS` bucket counts.
type PubPage = [AtomicU64; PAGE_BUCKETS];

impl Drop for Published {
    fn drop(&mut self) {
        for cell in self.pages.iter() {
            let page = cell.load(Ordering::Relaxed);
            if !page.is_null() {
                // SAFETY: `&mut self`: no other reference exists; published pages come
                // from `Box::into_raw` in `Shard::publish` and are freed only here.
                drop(unsafe { Box::from_raw(page) });
            }
        }
    }
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

    /// Where this shard's unallocated page pointers point ([`FULL`]). Never written through
    /// (lanes are written only in allocated pages: `resolve` gives the cold path every
    /// sample whose page is `FULL`).
    #[inline(always)]
    fn full(&self) -> *mut Page {
        #[cfg(not(loom))]
        {
            ptr::from_ref::<Page>(&FULL).cast_mut()
        }
        #[cfg(loom)]
        {
            ptr::from_ref::<Page>(&self.full).cast_mut()
        }
    }

    /// Whether a page pointer of this shard is an allocated page (not [`FULL`]).
    #[inline(always)]
    fn allocated(&self, page: *mut Page) -> bool {
        page != self.full()
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

    /// Serves a reader's request for help: copies copy 0 (equal to copy 1 outside a
    /// section) and the allocated pages into the published buffer, under its sequence.
    /// Owner only, outside sections; cold (once per request, not per event).
    #[cold]
    #[inline(never)]
    fn publish(&self, width: usize) {
        // Acquire: pairs with the AcqRel compare-exchange in `published_buffer` that
        // installed the buffer, so its words are initialised here.
        let published = self.published.load(Ordering::Acquire);
        if published.is_null() {
            // The request is visible before the buffer: the next event serves it.
            return;
        }
        // SAFETY: a non-null `published` comes from `Box::into_raw` in `published_buffer`
        // and is freed only in `Drop`, which needs `&mut self`.
        let published = unsafe { &*published };
        // Cleared before the copy is taken, so a request made after this point is served
        // by a later publication (see `read` for what a reader accepts).
        self.word(HELP).store(0, Ordering::Relaxed);
        let words = &published.words;
        // Relaxed: only this thread stores the published sequence.
        let ps = published.seq.load(Ordering::Relaxed);
        // Release + fence: as the latch's first flip (module docs); readers of the
        // published copy retry while it is odd or moved.
        published.seq.store(ps + 1, Ordering::Release);
        writer_fence();
        let c0 = self.copy(0, width);
        for (i, w) in words[..width].iter().enumerate() {
            // SAFETY: `i < width`; relaxed loads of our own stores.
            w.store(unsafe { c0.at(i) }.load(Ordering::Relaxed), DATA_STORE);
        }
        for (k, cell) in self.pages.iter().enumerate() {
            // Relaxed: only the owner stores page pointers (see `resolve`).
            let page = cell.load(Ordering::Relaxed);
            if !self.allocated(page) {
                continue;
            }
            // SAFETY: as in `resolve` (an allocated page).
            let page = unsafe { &*page };
            // Relaxed: only this thread stores published page pointers.
            let mut dst = published.pages[k].load(Ordering::Relaxed);
            if dst.is_null() {
                // Allocated while the sequence is odd: a reader that finds it before this
                // publication is complete retries. Release: readers that load it with
                // Acquire see it initialised.
                dst = Box::into_raw(Box::new(std::array::from_fn(|_| AtomicU64::new(0))));
                published.pages[k].store(dst, Ordering::Release);
            }
            // SAFETY: from `Box::into_raw` above, freed only when `published` is dropped,
            // with the shard (`&mut self`).
            let dst = unsafe { &*dst };
            for (d, b) in dst.iter().zip(&page[..PAGE_BUCKETS]) {
                d.store(u64::from(b.load(Ordering::Relaxed)), DATA_STORE);
            }
            // Relaxed: only the owner stores wide pointers (see `wide_page`).
            // SAFETY: as in `wide_page`.
            if let Some(wide) = unsafe { self.wide_of(k, Ordering::Relaxed) } {
                for (d, w) in dst.iter().zip(&wide[..PAGE_BUCKETS]) {
                    let total = d.load(Ordering::Relaxed).wrapping_add(w.load(Ordering::Relaxed));
                    d.store(total, DATA_STORE);
                }
            }
        }
        // Release: a reader that acquires ps+2 reads the whole copy stored before it.
        published.seq.store(ps + 2, Ordering::Release);
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

    /// [`resolve`](Self::resolve) for a giant event's spilled ops: a sample goes to its
    /// bucket's wide word (allocated if need be), whatever its lane holds.
    ///
    /// # Safety
    ///
    /// As [`resolve`](Self::resolve).
    #[cold]
    unsafe fn resolve_wide(&self, op: &mut Op) {
        if op.what == What::Observe && op.second != NO_BUCKET {
            let i = op.second as usize;
            let (p, b) = (i / PAGE_BUCKETS, i % PAGE_BUCKETS);
            assert!(p < self.pages.len(), "page {p} past a shard of {}", self.pages.len());
            // The page too, so that readers, which find wide parts through pages, see it.
            // Relaxed: as in `resolve`.
            if !self.allocated(self.pages[p].load(Ordering::Relaxed)) {
                self.new_page(p);
            }
            // Derived from the whole array: it may reach the copy-1 word too.
            op.bucket = self.wide_page(p).as_ptr().wrapping_add(b).cast();
            op.what = What::ObserveWide;
        } else {
            // SAFETY: the caller's promise (no sample: room does not matter).
            unsafe { self.resolve(op, 0) };
        }
    }

    /// Makes room in the lane of bucket `i` (`page × PAGE_BUCKETS + b`) for an event's
    /// samples: allocates the page if it is still `FULL`, or else carries it. Returns the
    /// lane. Owner only, outside sections.
    ///
    /// # Safety
    ///
    /// `i / PAGE_BUCKETS < pages`.
    #[cold]
    #[inline(never)]
    unsafe fn make_room(&self, i: usize) -> ptr::NonNull<AtomicU16> {
        let (p, b) = (i / PAGE_BUCKETS, i % PAGE_BUCKETS);
        // Relaxed: as in `resolve`.
        let mut page = self.pages[p].load(Ordering::Relaxed);
        if self.allocated(page) {
            self.carry(p);
        } else {
            page = self.new_page(p);
        }
        // SAFETY: an allocated page (see `resolve`), `b < PAGE_BUCKETS`; derived from the
        // whole array. (Non-null, as the write path's overflow test must know.)
        unsafe { ptr::NonNull::new_unchecked((*page).as_ptr().add(b).cast_mut()) }
    }

    #[cold]
    #[inline(never)]
    fn new_page(&self, p: usize) -> *mut Page {
        // From the pool (pool.rs), which gives room for a page, aligned.
        #[cfg(not(loom))]
        let page = {
            let page = crate::pool::take().cast::<Page>();
            // SAFETY: `page` is valid for writes of a `Page` and aligned for it, and ours.
            unsafe {
                page.write(CachePadded::new([const { AtomicU16::new(0) }; 2 * PAGE_BUCKETS]))
            };
            page
        };
        #[cfg(loom)]
        let page =
            Box::into_raw(Box::new(CachePadded::new(std::array::from_fn(|_| AtomicU16::new(0)))));
        // Release: readers that load this pointer with Acquire see the zeroed lanes.
        self.pages[p].store(page, Ordering::Release);
        page
    }

    /// Page `p`'s wide part, allocating it (and the table) on first use. Owner only,
    /// outside sections. Panics if `p` is not a page of the shard.
    fn wide_page(&self, p: usize) -> &Wide {
        // Relaxed: only the owner stores the table pointer (a previous owner's store is
        // ordered before ours by the slot hand-over, slot.rs).
        let mut table = self.wide.load(Ordering::Relaxed);
        if table.is_null() {
            let pages = (0..self.pages.len()).map(|_| AtomicPtr::new(ptr::null_mut())).collect();
            table = Box::into_raw(Box::new(WideTable { pages }));
            // Release: readers that load the table with Acquire see its null pointers.
            self.wide.store(table, Ordering::Release);
        }
        // SAFETY: non-null table pointers come from `Box::into_raw` above and are freed
        // only in `Drop`, which needs `&mut self`.
        let cell = &unsafe { &*table }.pages[p];
        // Relaxed: as the table's.
        let mut wide = cell.load(Ordering::Relaxed);
        if wide.is_null() {
            wide = Box::into_raw(Box::new(CachePadded::new(std::array::from_fn(|_| {
                AtomicU64::new(0)
            }))));
            // Release: readers that load this pointer with Acquire see the zeroed words.
            cell.store(wide, Ordering::Release);
        }
        // SAFETY: as the table's: from `Box::into_raw` above, freed only in `Drop`.
        unsafe { &*wide }
    }

    /// Page `p`'s wide part if it has one, its pointers loaded with `order` (Acquire for
    /// readers, pairing with the Release stores in `wide_page`; Relaxed for the owner).
    ///
    /// # Safety
    ///
    /// None beyond `p < pages` (checked): marked `unsafe` only so that callers say which
    /// ordering they rely on. The returned reference lives as long as the shard.
    unsafe fn wide_of(&self, p: usize, order: Ordering) -> Option<&Wide> {
        let table = self.wide.load(order);
        if table.is_null() {
            return None;
        }
        // SAFETY: as in `wide_page`.
        let wide = unsafe { &*table }.pages[p].load(order);
        // SAFETY: as in `wide_page`.
        (!wide.is_null()).then(|| unsafe { &*wide })
    }

    /// Carries page `p` (see [`Page`]): in a latch section of its own, adds every lane to
    /// its wide word and sets it to 0, copy 0 first, then copy 1. Owner only, outside
    /// sections; cold (once per about 65,000 samples in a bucket, at most).
    #[cold]
    #[inline(never)]
    fn carry(&self, p: usize) {
        let wide = self.wide_page(p);
        // Relaxed: the owner's own store (`lane` allocated the page before calling us).
        let page = self.pages[p].load(Ordering::Relaxed);
        debug_assert!(self.allocated(page));
        // SAFETY: as in `resolve`.
        let page = unsafe { &*page };
        let seq = self.word(SEQ);
        // The latch's section, as in `commit` (the orderings are argued there).
        debug_assert!(seq.load(Ordering::Relaxed) & 1 == 0, "a section is already open");
        seq.store(seq.load(Ordering::Relaxed) + 1, Ordering::Release);
        writer_fence();
        for c in [0, 1] {
            for (lane, w) in page[c * PAGE_BUCKETS..][..PAGE_BUCKETS]
                .iter()
                .zip(&wide[c * PAGE_BUCKETS..][..PAGE_BUCKETS])
            {
                // SAFETY: a live lane, and this thread its only writer.
                let n = unsafe { own_lane(lane) };
                if n != 0 {
                    // Relaxed load: our own store.
                    w.store(w.load(Ordering::Relaxed) + u64::from(n), DATA_STORE);
                    lane.store(0, DATA_STORE);
                }
            }
            if c == 0 {
                seq.store(seq.load(Ordering::Relaxed) + 1, Ordering::Release);
                writer_fence();
            }
        }
        #[cfg(all(test, not(loom)))]
        CARRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.word(HELP).load(Ordering::Relaxed) != 0 {
            self.publish(self.width);
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

    /// [`read`](Self::read), asking for help after `live_attempts` failed live reads (the
    /// loom models ask at once, to explore the help path).
    pub(crate) fn read_asking_after(
        &self,
        live_attempts: usize,
        out: &mut [u64],
        page_ids: &mut Vec<usize>,
        page_words: &mut Vec<u64>,
    ) {
        debug_assert_eq!(out.len(), self.width);
        for _ in 0..live_attempts {
            if self.read_live(out, page_ids, page_words) {
                return;
            }
            crate::sync::spin_loop();
        }
        let published = self.published_buffer();
        // Relaxed: what matters is coherence on this one variable. A publication whose
        // first store (odd) is later than the value read here began after this read began,
        // so it holds every event that happened before it (docs/DESIGN.md, "Reader help").
        let p0 = published.seq.load(Ordering::Relaxed);
        let ready = if p0 & 1 == 0 { p0 + 2 } else { p0 + 3 };
        let help = self.word(HELP);
        for round in 0usize.. {
            // Now and then (not on every turn: the sequence's line is the writer's), ask
            // again (the writer may have cleared the request for an earlier one) and try a
            // live read (it succeeds as soon as the writer stopped or was descheduled).
            if round % RECHECK_EVERY == 0 {
                // Relaxed: a hint.
                if help.load(Ordering::Relaxed) == 0 {
                    help.store(1, Ordering::Relaxed);
                }
                if round > 0 && self.read_live(out, page_ids, page_words) {
                    return;
                }
            }
            // Polls the published copy's sequence: a line the writer writes only when asked.
            if self.read_published(published, ready, out, page_ids, page_words) {
                #[cfg(all(test, not(loom)))]
                SERVED_BY_HELP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            crate::sync::spin_loop();
        }
    }

    /// The published buffer, allocated by the first reader that needs it.
    fn published_buffer(&self) -> &Published {
        let mut p = self.published.load(Ordering::Acquire);
        if p.is_null() {
            let fresh = Box::into_raw(Box::new(Published {
                seq: AtomicU64::new(0),
                words: (0..self.width).map(|_| AtomicU64::new(0)).collect(),
                pages: (0..self.pages.len()).map(|_| AtomicPtr::new(ptr::null_mut())).collect(),
            }));
            // Pairs with the Acquire loads of `publish` and of other readers (see
            // `install_once`): the buffer's words are initialised.
            p = crate::sync::install_once(&self.published, fresh, |fresh| {
                // SAFETY: `fresh` came from `Box::into_raw` above and was never shared.
                drop(unsafe { Box::from_raw(fresh) })
            });
        }
        // SAFETY: non-null, from `Box::into_raw` above, freed only in `Drop` (`&mut self`).
        unsafe { &*p }
    }

    /// One read of the published copy, accepted if it is stable and at least `ready`.
    fn read_published(
        &self,
        published: &Published,
        ready: u64,
        out: &mut [u64],
        page_ids: &mut Vec<usize>,
        page_words: &mut Vec<u64>,
    ) -> bool {
        // Acquire: pairs with `publish`'s Release store of this sequence.
        let q1 = published.seq.load(Ordering::Acquire);
        if q1 & 1 == 1 || q1 < ready {
            return false;
        }
        page_ids.clear();
        page_words.clear();
        for (o, w) in out.iter_mut().zip(&published.words[..]) {
            *o = w.load(DATA_LOAD);
        }
        for (k, cell) in published.pages.iter().enumerate() {
            // Acquire: pairs with the Release store in `publish` (an initialised page).
            let src = cell.load(Ordering::Acquire);
            if !src.is_null() {
                page_ids.push(k);
                // SAFETY: as in `publish`.
                let src = unsafe { &*src };
                page_words.extend(src.iter().map(|w| w.load(DATA_LOAD)));
            }
        }
        reader_fence();
        // Relaxed: ordered after the data loads by the Acquire fence (as in `read_live`).
        q1 == published.seq.load(Ordering::Relaxed)
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

/// Whether every lane of [`FULL`] still holds `u16::MAX` (a test's check that nothing
/// writes it).
#[cfg(all(test, not(loom)))]
pub(crate) fn full_is_untouched() -> bool {
    FULL.iter().all(|l| l.load(Ordering::Relaxed) == u16::MAX)
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
