//! The latch: one thread's shard of one metric set, with its writer and reader halves.
//!
//! A shard keeps two copies of the set's fields and a sequence number. The writer (the
//! thread owning the shard's slot, and no one else) moves readers to copy 1, updates copy 0,
//! moves readers back to copy 0, then brings copy 1 up to date. A reader reads
//! `copy[seq & 1]` and retries only if `seq` moved while it read, so it can always finish
//! while the writer is paused anywhere, and it never sees half an event.
//!
//! Outside a section both copies hold the same values. Data updates are a relaxed load, an
//! add and a relaxed store: no lock, no CAS, no `lock`-prefixed instruction.
//!
//! # Orderings
//!
//! The argument is in `docs/DESIGN.md`, "The latch"; in short, for an event starting at
//! even `seq == s`:
//!
//! - writer: `seq = s+1` (Release) + fence(Release); copy 0; `seq = s+2` (Release) +
//!   fence(Release); copy 1.
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

use crate::layout::PAGE_BUCKETS;
use crate::sync::{AtomicPtr, AtomicU64, Ordering};

/// Ordering of the writer's data stores: the fences carry the synchronisation, except
/// under ThreadSanitizer, where each store does (see the module docs).
#[cfg(not(tally_tsan))]
const DATA_STORE: Ordering = Ordering::Relaxed;
#[cfg(tally_tsan)]
const DATA_STORE: Ordering = Ordering::Release;

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
/// Word 1: the owner's record of words touched by nested sections (owner-only).
const NESTED: usize = 1;
/// Word 2: the owner's record of bucket pages touched by nested sections (owner-only).
const NESTED_PAGES: usize = 2;
/// First word of copy 0.
const DATA: usize = 3;

/// Bit 63 of a touched-mask stands for "some word at or past 63".
const FAR: u64 = 1 << 63;

/// A histogram bucket page: copy 0 of 64 buckets, then copy 1. Allocated by the shard's
/// owner the first time a value lands in it, never freed before the shard.
type Page = CachePadded<[AtomicU64; 2 * PAGE_BUCKETS]>;

/// One thread's shard: `3 + 2 × width` words in cache-padded lines, owned by one allocation
/// so that no other shard shares its lines, and a table of lazily allocated histogram
/// bucket pages.
#[derive(Debug)]
pub(crate) struct Shard {
    lines: Box<[Line]>,
    width: usize,
    pages: Box<[AtomicPtr<Page>]>,
}

/// What a section wrote into copy 0, to be copied into copy 1 (commit) or back (rollback).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Touched {
    /// Scalar words, one bit each ([`mask_bit`]).
    pub(crate) words: u64,
    /// One histogram bucket, as `page × 64 + bucket + 1`; 0 for none.
    pub(crate) bucket: usize,
    /// Whole bucket pages, one bit each ([`mask_bit`] of the page index).
    pub(crate) pages: u64,
}

/// How a section was opened.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Opened {
    /// A new section; `seq` was this (even) value before it.
    New(u64),
    /// The thread is already inside a section of this shard (a record nested in a record's
    /// closure): the updates join that outer event.
    Joined,
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
    /// Callers pass `i < 3 + 2 × width`: the header words, or `DATA + copy × width + w`
    /// with `w < width`. That holds by construction: field offsets come from the set's
    /// layout (`metric_set!`'s `__private::Typed` computes them at compile time from the same
    /// field list it builds the layout from; raw `FieldId`s are checked against the layout by
    /// `Layout::check`; the unchecked entry points are `unsafe fn`s with this contract), so
    /// the hot path skips the bounds check.
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

    #[inline(always)]
    fn copy0(&self, field_word: usize) -> &AtomicU64 {
        debug_assert!(field_word < self.width);
        self.word(DATA + field_word)
    }

    #[inline(always)]
    fn copy1(&self, field_word: usize) -> &AtomicU64 {
        debug_assert!(field_word < self.width);
        self.word(DATA + self.width + field_word)
    }

    // ---- writer half (the owning thread only) ----

    /// Opens a section: readers move to copy 1 while copy 0 is written.
    #[inline(always)]
    pub(crate) fn begin(&self) -> Opened {
        // Relaxed: only this thread stores `seq`, so this reads our own last store.
        let s = self.word(SEQ).load(Ordering::Relaxed);
        if s & 1 == 1 {
            // Odd outside our own code means we are inside our own open section.
            return Opened::Joined;
        }
        // Release: a reader that acquires s+1 reads copy 1, completed before this store.
        self.word(SEQ).store(s + 1, Ordering::Release);
        writer_fence();
        Opened::New(s)
    }

    /// Adds `delta` (wrapping) to a word of copy 0 and returns the new value.
    #[inline(always)]
    pub(crate) fn add0(&self, field_word: usize, delta: u64) -> u64 {
        let w = self.copy0(field_word);
        let v = w.load(Ordering::Relaxed).wrapping_add(delta);
        w.store(v, DATA_STORE);
        v
    }

    /// Adds `delta` to a word of copy 0, saturating at `u64::MAX`, and returns the new
    /// value (counters: never backwards).
    #[inline(always)]
    pub(crate) fn add0_saturating(&self, field_word: usize, delta: u64) -> u64 {
        let w = self.copy0(field_word);
        let v = w.load(Ordering::Relaxed).saturating_add(delta);
        w.store(v, DATA_STORE);
        v
    }

    /// Stores a word of copy 0.
    #[inline(always)]
    pub(crate) fn set0(&self, field_word: usize, value: u64) {
        self.copy0(field_word).store(value, DATA_STORE);
    }

    /// Moves readers back to copy 0, which now holds the event; copy 1 is to be updated.
    #[inline(always)]
    pub(crate) fn flip(&self, s: u64) {
        // Release: a reader that acquires s+2 reads copy 0, completed before this store.
        self.word(SEQ).store(s + 2, Ordering::Release);
        writer_fence();
    }

    /// Stores a word of copy 1 (after [`flip`](Self::flip)).
    #[inline(always)]
    pub(crate) fn set1(&self, field_word: usize, value: u64) {
        self.copy1(field_word).store(value, DATA_STORE);
    }

    /// Reads a word of copy 0 (the owner's own latest value).
    #[inline(always)]
    pub(crate) fn get0(&self, field_word: usize) -> u64 {
        self.copy0(field_word).load(Ordering::Relaxed)
    }

    /// Bucket page `p`, allocated on first use. Owner only.
    #[inline(always)]
    fn page(&self, p: usize) -> &Page {
        // Relaxed: only the owner stores page pointers, and a previous owner's store is
        // ordered before ours by the slot hand-over (slot.rs).
        let page = self.pages[p].load(Ordering::Relaxed);
        if page.is_null() {
            return self.new_page(p);
        }
        // SAFETY: non-null page pointers come from `Box::into_raw` in `new_page` and are
        // freed only in `Drop`, which needs `&mut self`.
        unsafe { &*page }
    }

    #[cold]
    #[inline(never)]
    fn new_page(&self, p: usize) -> &Page {
        let page =
            Box::into_raw(Box::new(CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0)))));
        // Release: readers that load this pointer with Acquire see the zeroed buckets.
        self.pages[p].store(page, Ordering::Release);
        // SAFETY: just created from a Box; freed only in `Drop`.
        unsafe { &*page }
    }

    /// Adds 1 to bucket `b` of page `p` in copy 0.
    #[inline(always)]
    pub(crate) fn bump_bucket0(&self, p: usize, b: usize) {
        let w = &self.page(p)[b];
        w.store(w.load(Ordering::Relaxed).wrapping_add(1), DATA_STORE);
    }

    /// Records, for the outer section, what a nested (joined) section touched.
    #[inline]
    pub(crate) fn note_nested(&self, t: Touched) {
        let mut pages = t.pages;
        if t.bucket != 0 {
            pages |= mask_bit((t.bucket - 1) / PAGE_BUCKETS);
        }
        // Relaxed: owner-only words, read back by the same thread at commit.
        let w = self.word(NESTED);
        w.store(w.load(Ordering::Relaxed) | t.words, Ordering::Relaxed);
        if pages != 0 {
            let w = self.word(NESTED_PAGES);
            w.store(w.load(Ordering::Relaxed) | pages, Ordering::Relaxed);
        }
    }

    /// Closes a section opened at `s`: readers go to copy 0, then copy 1 catches up on what
    /// the section (and any nested section) touched.
    #[inline(always)]
    pub(crate) fn commit(&self, s: u64, t: Touched) {
        let t = self.with_nested(t);
        self.flip(s);
        self.copy_touched(t, 0);
    }

    /// Abandons a section opened at `s` (its closure panicked): copy 0 is restored from
    /// copy 1 while readers are still on copy 1, then readers return to copy 0. The event
    /// is in no snapshot.
    pub(crate) fn rollback(&self, s: u64, t: Touched) {
        let t = self.with_nested(t);
        self.copy_touched(t, 1);
        // The sequence never goes back (a reader holding `s` must fail validation), so the
        // restored state is published as s+2.
        self.flip(s);
    }

    #[inline(always)]
    fn with_nested(&self, mut t: Touched) -> Touched {
        // Relaxed: owner-only words (see `note_nested`).
        let nested = self.word(NESTED).load(Ordering::Relaxed);
        if nested != 0 {
            self.word(NESTED).store(0, Ordering::Relaxed);
            t.words |= nested;
        }
        let nested_pages = self.word(NESTED_PAGES).load(Ordering::Relaxed);
        if nested_pages != 0 {
            self.word(NESTED_PAGES).store(0, Ordering::Relaxed);
            t.pages |= nested_pages;
        }
        t
    }

    /// Copies what `t` names from copy `from` into the other copy.
    #[inline(always)]
    fn copy_touched(&self, t: Touched, from: usize) {
        let to = 1 - from;
        let (src, dst) = (DATA + from * self.width, DATA + to * self.width);
        each_bit(t.words, self.width, |i| {
            let v = self.word(src + i).load(Ordering::Relaxed);
            self.word(dst + i).store(v, DATA_STORE);
        });
        if t.bucket != 0 {
            let (p, b) = ((t.bucket - 1) / PAGE_BUCKETS, (t.bucket - 1) % PAGE_BUCKETS);
            let page = self.page(p);
            let v = page[from * PAGE_BUCKETS + b].load(Ordering::Relaxed);
            page[to * PAGE_BUCKETS + b].store(v, DATA_STORE);
        }
        if t.pages != 0 {
            self.copy_pages(t.pages, from);
        }
    }

    #[cold]
    fn copy_pages(&self, pages: u64, from: usize) {
        let to = 1 - from;
        each_bit(pages, self.pages.len(), |p| {
            // Relaxed: as in `page`; a page never allocated has nothing to copy.
            let page = self.pages[p].load(Ordering::Relaxed);
            if page.is_null() {
                return;
            }
            // SAFETY: as in `page`.
            let page = unsafe { &*page };
            for b in 0..PAGE_BUCKETS {
                let v = page[from * PAGE_BUCKETS + b].load(Ordering::Relaxed);
                page[to * PAGE_BUCKETS + b].store(v, DATA_STORE);
            }
        });
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

/// The mask bit for a word (or a page): bit `i` for `i < 63`, bit 63 for all the rest.
#[inline(always)]
pub(crate) const fn mask_bit(i: usize) -> u64 {
    if i < 63 { 1 << i } else { FAR }
}

/// Calls `f` for each index `mask` names, below `len` (bit 63 names 63..len).
#[inline(always)]
fn each_bit(mut mask: u64, len: usize, mut f: impl FnMut(usize)) {
    if mask & FAR != 0 {
        (63..len).for_each(&mut f);
        mask &= !FAR;
    }
    while mask != 0 {
        f(mask.trailing_zeros() as usize);
        mask &= mask - 1;
    }
}
