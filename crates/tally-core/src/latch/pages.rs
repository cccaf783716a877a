//! Histogram bucket pages of a shard: narrow lanes, their wide parts, the carry between
//! them, and the `FULL` page that stands for a page not taken yet (docs/DESIGN.md,
//! "Narrow buckets"). Part of the latch: the carry is a latch section of its own, and the
//! orderings are argued in the parent module's docs.

use std::ptr;

use crossbeam_utils::CachePadded;

use super::{DATA_STORE, HELP, SEQ, Shard, writer_fence};
use crate::layout::PAGE_BUCKETS;
use crate::op::{NO_BUCKET, Op, What};
use crate::sync::{AtomicPtr, AtomicU16, AtomicU64, Ordering};

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
pub(super) static FULL: Page =
    CachePadded::new([const { AtomicU16::new(u16::MAX) }; 2 * PAGE_BUCKETS]);

/// The value of a lane of this shard, read by its writer (the only thread that writes it),
/// without an atomic load: only reads (the readers') race with it, so it is not a data
/// race, and the compiler can fold it into the comparison that uses it.
///
/// # Safety
///
/// `lane` points to a live lane, and the caller is the only thread that writes it.
#[inline(always)]
pub(super) unsafe fn own_lane(lane: *const AtomicU16) -> u16 {
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
pub(super) type Wide = CachePadded<[AtomicU64; 2 * PAGE_BUCKETS]>;

/// One pointer per page to its wide part (null until the page's first carry); the table
/// itself is allocated with the shard's first carry, so that a shard that never carries
/// pays one null pointer for it.
#[derive(Debug)]
pub(super) struct WideTable {
    pub(super) pages: Box<[AtomicPtr<Wide>]>,
}

/// What a lane holds at most before its page is carried: `u16::MAX`; 1 under loom, so that
/// a model's second sample in a bucket carries its page, and 3 under Miri, so that its
/// tests carry every few samples rather than every 65,536.
pub(super) const LANE_MAX: usize = if cfg!(loom) {
    1
} else if cfg!(miri) {
    3
} else {
    u16::MAX as usize
};

/// An event with more updates than this records its spilled samples straight into wide
/// words, and its lanes need room for its inline samples only: a carried lane (0) has room
/// for this many samples.
pub(super) const GIANT_EVENT: usize = 1 << 15;

impl Shard {
    /// Where this shard's unallocated page pointers point ([`FULL`]). Never written through
    /// (lanes are written only in allocated pages: `resolve` gives the cold path every
    /// sample whose page is `FULL`).
    #[inline(always)]
    pub(super) fn full(&self) -> *mut Page {
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
    pub(super) fn allocated(&self, page: *mut Page) -> bool {
        page != self.full()
    }

    /// [`resolve`](Self::resolve) for a giant event's spilled ops: a sample goes to its
    /// bucket's wide word (allocated if need be), whatever its lane holds.
    ///
    /// # Safety
    ///
    /// As [`resolve`](Self::resolve).
    #[cold]
    pub(super) unsafe fn resolve_wide(&self, op: &mut Op) {
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
    pub(super) unsafe fn make_room(&self, i: usize) -> ptr::NonNull<AtomicU16> {
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
    pub(super) fn new_page(&self, p: usize) -> *mut Page {
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
    pub(super) fn wide_page(&self, p: usize) -> &Wide {
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
    pub(super) unsafe fn wide_of(&self, p: usize, order: Ordering) -> Option<&Wide> {
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
    pub(super) fn carry(&self, p: usize) {
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
}

/// Whether every lane of [`FULL`] still holds `u16::MAX` (a test's check that nothing
/// writes it).
#[cfg(all(test, not(loom)))]
pub(crate) fn full_is_untouched() -> bool {
    FULL.iter().all(|l| l.load(Ordering::Relaxed) == u16::MAX)
}
