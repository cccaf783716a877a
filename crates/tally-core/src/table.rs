//! A metric set's shards, indexed by thread slot.
//!
//! The first 16 shard pointers are inline; past them, a segmented array that only grows:
//! segment `k` holds `16 << k` shard pointers and is allocated by the first thread whose
//! slot falls in it. A shard pointer is written once,
//! by the thread owning that slot, and both shards and segments live until the set is
//! dropped, so the hot path is two loads and no synchronisation beyond them.
//!
//! # Orderings
//!
//! - Segment pointers: installed with an `AcqRel` CAS (a racing installer frees its own
//!   allocation), loaded with `Acquire` so the segment's null-initialised slots are seen.
//! - Shard pointers: stored `Release` by the slot's owner after the shard is initialised,
//!   loaded `Acquire` by readers (and by a later owner of the slot, which is anyway ordered
//!   by the slot hand-over in `slot.rs`).

use std::ptr;

use crate::latch::Shard;
use crate::sync::{AtomicPtr, Ordering};

/// Shard pointers kept inline: slots 0..16, so the common case is one load. (Under loom,
/// where every atomic load is a scheduling point to explore, the table is cut down to what
/// a model's few threads can reach.)
const INLINE: usize = if cfg!(loom) { 2 } else { 16 };
const FIRST_LOG2: u32 = 4;
const SEGMENTS: usize = if cfg!(loom) { 2 } else { (usize::BITS - FIRST_LOG2) as usize };

/// Segment and offset of a slot index past the inline ones (`index - INLINE`).
#[inline(always)]
fn locate(index: usize) -> (usize, usize) {
    let j = index + (1 << FIRST_LOG2);
    let seg = (usize::BITS - 1 - j.leading_zeros() - FIRST_LOG2) as usize;
    (seg, j - ((1 << FIRST_LOG2) << seg))
}

#[inline(always)]
const fn segment_len(seg: usize) -> usize {
    (1 << FIRST_LOG2) << seg
}

#[derive(Debug)]
pub(crate) struct ShardTable {
    inline: [AtomicPtr<Shard>; INLINE],
    segments: [AtomicPtr<AtomicPtr<Shard>>; SEGMENTS],
    width: usize,
    pages: usize,
}

// `ShardTable` is `Send` and `Sync` by its fields (`AtomicPtr` is both whatever it points
// to), with no `unsafe impl`. What that needs of the pointees, checked here: the table owns
// its shards (from `Box::into_raw`, freed in `Drop` on whichever thread drops the table),
// so a `Shard` must be `Send`; `&ShardTable` hands out `&Shard` to every thread, so it must
// be `Sync`.
const _: () = {
    const fn owned_and_shared<T: Send + Sync>() {}
    owned_and_shared::<Shard>();
};

impl ShardTable {
    pub(crate) fn new(width: usize, pages: usize) -> Self {
        ShardTable {
            inline: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            segments: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            width,
            pages,
        }
    }

    /// The shard of slot `index` if it is an inline one and exists: the hot path.
    #[inline(always)]
    pub(crate) fn inline_shard(&self, index: usize) -> Option<&Shard> {
        // Acquire: pairs with the Release store in `create`.
        let shard = self.inline.get(index)?.load(Ordering::Acquire);
        // SAFETY: non-null shard pointers come from `Box::into_raw` in `create` and are
        // freed only when `self` is dropped.
        (!shard.is_null()).then(|| unsafe { &*shard })
    }

    /// The shard of slot `index`, creating it (and its segment) on first use.
    ///
    /// Must only be called by the thread that holds slot `index`: it alone creates that
    /// shard.
    #[inline]
    pub(crate) fn get_or_create(&self, index: usize) -> &Shard {
        let cell = if index < INLINE {
            &self.inline[index]
        } else {
            let (seg, off) = locate(index - INLINE);
            // Acquire: pairs with the CAS that installed the segment (its slots are null).
            let segment = self.segments[seg].load(Ordering::Acquire);
            if segment.is_null() {
                return self.create(self.cell(seg, off));
            }
            // SAFETY: `segment` points to `segment_len(seg)` initialised `AtomicPtr`s that
            // live until `self` is dropped, and `off < segment_len(seg)` by `locate`.
            unsafe { &*segment.add(off) }
        };
        // Acquire: pairs with the Release store in `create`.
        let shard = cell.load(Ordering::Acquire);
        if !shard.is_null() {
            // SAFETY: non-null shard pointers come from `Box::into_raw` in `create`
            // and are freed only when `self` is dropped.
            return unsafe { &*shard };
        }
        self.create(cell)
    }

    /// The cell of `(seg, off)`, allocating the segment if needed.
    #[cold]
    fn cell(&self, seg: usize, off: usize) -> &AtomicPtr<Shard> {
        let segment = self.segment(seg);
        // SAFETY: as in `get_or_create`.
        unsafe { &*segment.add(off) }
    }

    #[cold]
    #[inline(never)]
    fn create(&self, cell: &AtomicPtr<Shard>) -> &Shard {
        let shard = Box::into_raw(Box::new(Shard::new(self.width, self.pages)));
        // Release: publishes the zeroed shard to readers' Acquire loads. A plain store is
        // enough: only the slot's owner (this thread) ever writes this cell.
        cell.store(shard, Ordering::Release);
        // SAFETY: just created from a Box; freed only when `self` is dropped.
        unsafe { &*shard }
    }

    fn segment(&self, seg: usize) -> *mut AtomicPtr<Shard> {
        let current = self.segments[seg].load(Ordering::Acquire);
        if !current.is_null() {
            return current;
        }
        let fresh: Box<[AtomicPtr<Shard>]> =
            (0..segment_len(seg)).map(|_| AtomicPtr::new(ptr::null_mut())).collect();
        let fresh = Box::into_raw(fresh) as *mut AtomicPtr<Shard>;
        // Publishes the null slots (see `install_once`).
        crate::sync::install_once(&self.segments[seg], fresh, |fresh| {
            // SAFETY: `fresh` was never published; rebuild the Box with its length.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, segment_len(seg))) })
        })
    }

    /// Calls `f` on every shard created so far.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Shard)) {
        for cell in &self.inline {
            // Acquire: as in `get_or_create`.
            let shard = cell.load(Ordering::Acquire);
            if !shard.is_null() {
                // SAFETY: as in `get_or_create`.
                f(unsafe { &*shard });
            }
        }
        for (seg, cell) in self.segments.iter().enumerate() {
            // Acquire: as in `get_or_create`.
            let segment = cell.load(Ordering::Acquire);
            if segment.is_null() {
                continue;
            }
            for off in 0..segment_len(seg) {
                // SAFETY: as in `get_or_create`.
                let shard = unsafe { &*segment.add(off) }.load(Ordering::Acquire);
                if !shard.is_null() {
                    // SAFETY: as in `get_or_create`.
                    f(unsafe { &*shard });
                }
            }
        }
    }
}

impl Drop for ShardTable {
    fn drop(&mut self) {
        for cell in &self.inline {
            let shard = cell.load(Ordering::Relaxed);
            if !shard.is_null() {
                // SAFETY: `&mut self`; the shard came from `Box::into_raw` in `create` and is
                // freed only here.
                drop(unsafe { Box::from_raw(shard) });
            }
        }
        for (seg, cell) in self.segments.iter().enumerate() {
            let segment = cell.load(Ordering::Relaxed);
            if segment.is_null() {
                continue;
            }
            // SAFETY: `&mut self`: no other thread can reach the table. The segment was
            // created from a boxed slice of this length, and each non-null cell from a
            // `Box<Shard>`; none is freed anywhere else.
            unsafe {
                let cells = Box::from_raw(ptr::slice_from_raw_parts_mut(segment, segment_len(seg)));
                for cell in cells.iter() {
                    let shard = cell.load(Ordering::Relaxed);
                    if !shard.is_null() {
                        drop(Box::from_raw(shard));
                    }
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn locate_covers_every_index_once_in_order() {
        let mut expected = (0, 0);
        for index in 0..10_000 {
            assert_eq!(locate(index), expected, "index {index}");
            expected.1 += 1;
            if expected.1 == segment_len(expected.0) {
                expected = (expected.0 + 1, 0);
            }
        }
        assert_eq!(locate(usize::MAX - 16).0, SEGMENTS - 1);
    }
}
