//! Where histogram pages come from: 128-byte blocks aligned to 128 bytes, carved from 4 KiB
//! chunks and recycled through a process-wide free list.
//!
//! A page is 128 bytes and must own its cache lines (its writer stores to it on every
//! sample; no other writer may share a line with it). Allocated one by one, each would be
//! an aligned allocation, which the system allocator pays for with about as much again in
//! fragments it cannot use (measured: 285 bytes per page instead of 128, docs/PERFORMANCE.md,
//! "Memory"). Carving them from aligned chunks costs nothing per page; a shard's pages go
//! back to the free list when it is dropped, and the next page anyone needs comes from
//! there first. Chunks are never returned to the system: the pool holds what the process
//! needed at its peak, as an allocator's own free lists do.
//!
//! The free list is behind a mutex, taken only on the cold paths: the first sample that
//! lands in a page of a shard, and a shard's drop (never while a shard's section is open,
//! and never by a reader). Under loom, pages are plain boxes (the model checks the latch,
//! not the allocator, and loom's atomics are larger than a page's lanes).

use std::sync::Mutex;

use crate::latch::Page;

/// Bytes of a page (128 where `CachePadded` aligns to 128 bytes), and its alignment.
const PAGE_BYTES: usize = size_of::<Page>();
const PAGE_ALIGN: usize = align_of::<Page>();

/// Pages carved from one chunk.
const CHUNK_PAGES: usize = 32;

/// A free page's address (its memory belongs to the pool).
struct Free(*mut u8);

// SAFETY: a free page is memory no shard refers to any more (see `give_back`), handed
// from thread to thread under the pool's mutex, which orders every access of the last
// owner before the next owner's.
unsafe impl Send for Free {}

static FREE: Mutex<Vec<Free>> = Mutex::new(Vec::new());

/// A page's memory: room for a [`Page`], aligned for it, uninitialised, owned by the caller
/// until it gives it back with [`give_back`].
pub(crate) fn take() -> *mut u8 {
    // A poisoned lock only means that a thread panicked while holding it, between two
    // complete pushes or pops: the list is whole.
    let mut free = FREE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(Free(page)) = free.pop() {
        return page;
    }
    const { assert!(PAGE_BYTES.is_multiple_of(PAGE_ALIGN), "pages carved back to back stay aligned") };
    let layout = std::alloc::Layout::from_size_align(CHUNK_PAGES * PAGE_BYTES, PAGE_ALIGN)
        .expect("a valid layout");
    // SAFETY: the layout's size is not zero.
    let chunk = unsafe { std::alloc::alloc(layout) };
    if chunk.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // Pages 1.. go to the free list (never freed: see the module docs), page 0 to the
    // caller. Each is `PAGE_BYTES` (a multiple of the alignment) apart in an aligned chunk,
    // so aligned, and derived from the chunk's pointer, so it may reach its own bytes.
    free.reserve(CHUNK_PAGES - 1);
    free.extend((1..CHUNK_PAGES).map(|k| Free(chunk.wrapping_add(k * PAGE_BYTES))));
    chunk
}

/// Gives a page's memory back to the pool.
///
/// # Safety
///
/// `page` came from [`take`], and nothing refers to it any more.
pub(crate) unsafe fn give_back(page: *mut u8) {
    let mut free = FREE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    free.push(Free(page));
}
