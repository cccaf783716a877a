//! Reader help (docs/DESIGN.md, "Reader help"): a reader that keeps failing to read a
//! shard live asks its writer for a copy, which the writer publishes at the end of its next
//! event under a sequence of its own. Part of the latch: the orderings are argued in the
//! parent module's docs.

use std::ptr;

use super::{DATA_LOAD, DATA_STORE, HELP, Shard, reader_fence, writer_fence};
use crate::layout::PAGE_BUCKETS;
use crate::sync::{AtomicPtr, AtomicU64, Ordering};

/// Live reads a reader tries before it asks the writer for help. A read fails only when
/// the writer finished a flip during it, so failing this many in a row means the writer is
/// recording flat out, and will see the request at the end of its current event.
///
/// The core's own unit tests ask at once, so that every threaded test (under Miri and
/// ThreadSanitizer too) runs the help path on every read; the `tally` crate's stress tests
/// and the loom models run the real value (the help model asks at once by itself).
pub(super) const LIVE_ATTEMPTS: usize = if cfg!(all(test, not(loom))) { 0 } else { 1 };

/// While waiting for a publication, the reader re-asks and tries a live read once every
/// this many polls of the published sequence (1 under loom, whose spin loop yields).
pub(super) const RECHECK_EVERY: usize = if cfg!(loom) { 1 } else { 64 };

/// Reads served by a writer's publication (the core's tests check the path is taken).
#[cfg(all(test, not(loom)))]
pub(crate) static SERVED_BY_HELP: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// A copy of a shard that its writer published at a reader's request, under its own
/// sequence (the latch's protocol with one copy: the writer writes it only when asked, so
/// a reader that finds it stable reads it whole).
///
/// Its pages are allocated as the shard's are (by the writer, when it publishes a page
/// for the first time), so that a shard with a few pages in use does not hold a buffer for
/// all of them: `width` words, a pointer per possible page, and 256 bytes per page in use.
#[derive(Debug)]
pub(super) struct Published {
    /// Odd while the writer writes the copy; `+2` per publication.
    seq: AtomicU64,
    /// The shard's `width` words.
    words: Box<[AtomicU64]>,
    /// Per page, null until the page is first published, then its bucket counts (lane +
    /// wide word). A page once allocated stays so: a reader reads every non-null one.
    pages: Box<[AtomicPtr<PubPage>]>,
}

/// A published page: its `PAGE_BUCKETS` bucket counts.
pub(super) type PubPage = [AtomicU64; PAGE_BUCKETS];

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

impl Shard {
    /// Serves a reader's request for help: copies copy 0 (equal to copy 1 outside a
    /// section) and the allocated pages into the published buffer, under its sequence.
    /// Owner only, outside sections; cold (once per request, not per event).
    #[cold]
    #[inline(never)]
    pub(super) fn publish(&self, width: usize) {
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
    pub(super) fn published_buffer(&self) -> &Published {
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
    pub(super) fn read_published(
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
}
