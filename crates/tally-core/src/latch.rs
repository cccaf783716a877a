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

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Ordering};

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

/// Words per cache line group: 16 × 8 bytes = 128 bytes, crossbeam's `CachePadded` size on
/// x86_64 and aarch64 (the spatial prefetcher pulls line pairs).
const LINE_WORDS: usize = 16;

/// Word 0 of a shard: the sequence.
const SEQ: usize = 0;
/// Word 1: the owner's record of words touched by nested sections (owner-only).
const NESTED: usize = 1;
/// First word of copy 0.
const DATA: usize = 2;

/// Bit 63 of a touched-mask stands for "some word at or past 63".
const FAR: u64 = 1 << 63;

/// One thread's shard: `2 + 2 × width` words in cache-padded lines, owned by one allocation
/// so that no other shard shares its lines.
#[derive(Debug)]
pub(crate) struct Shard {
    lines: Box<[CachePadded<[AtomicU64; LINE_WORDS]>]>,
    width: usize,
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
    /// A zeroed shard for a set of `width` words.
    pub(crate) fn new(width: usize) -> Self {
        let words = DATA + 2 * width;
        let lines = words.div_ceil(LINE_WORDS);
        Shard {
            lines: (0..lines)
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            width,
        }
    }

    #[inline(always)]
    fn word(&self, i: usize) -> &AtomicU64 {
        &self.lines[i / LINE_WORDS][i % LINE_WORDS]
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

    /// Records, for the outer section, words touched by a nested (joined) section.
    #[inline]
    pub(crate) fn note_nested(&self, mask: u64) {
        let w = self.word(NESTED);
        // Relaxed: owner-only word, read back by the same thread at commit.
        w.store(w.load(Ordering::Relaxed) | mask, Ordering::Relaxed);
    }

    /// Closes a section opened at `s`: readers go to copy 0, then copy 1 catches up on the
    /// words in `mask` (and on any word a nested section touched).
    #[inline]
    pub(crate) fn commit(&self, s: u64, mask: u64) {
        let mask = mask | self.take_nested();
        self.flip(s);
        self.each_word(mask, |i| {
            let v = self.copy0(i).load(Ordering::Relaxed);
            self.set1(i, v);
        });
    }

    /// Abandons a section opened at `s` (its closure panicked): copy 0 is restored from
    /// copy 1 while readers are still on copy 1, then readers return to copy 0. The event
    /// is in no snapshot.
    pub(crate) fn rollback(&self, s: u64, mask: u64) {
        let mask = mask | self.take_nested();
        self.each_word(mask, |i| {
            let v = self.copy1(i).load(Ordering::Relaxed);
            self.set0(i, v);
        });
        // The sequence never goes back (a reader holding `s` must fail validation), so the
        // restored state is published as s+2.
        self.flip(s);
    }

    fn take_nested(&self) -> u64 {
        let w = self.word(NESTED);
        let m = w.load(Ordering::Relaxed);
        if m != 0 {
            w.store(0, Ordering::Relaxed);
        }
        m
    }

    #[inline]
    fn each_word(&self, mut mask: u64, mut f: impl FnMut(usize)) {
        if mask & FAR != 0 {
            (63..self.width).for_each(&mut f);
            mask &= !FAR;
        }
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            f(i);
            mask &= mask - 1;
        }
    }

    // ---- reader half (any thread) ----

    /// Reads one complete copy into `out` (`width` words). Never waits for the writer:
    /// retries only when the writer finished a flip during the read.
    pub(crate) fn read(&self, out: &mut [u64]) {
        debug_assert_eq!(out.len(), self.width);
        loop {
            // Acquire: pairs with the writer's Release store of this sequence, so the copy
            // it selects is complete in what we read.
            let s1 = self.word(SEQ).load(Ordering::Acquire);
            let base = DATA + (s1 & 1) as usize * self.width;
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.word(base + i).load(DATA_LOAD);
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

/// The mask bit for a word.
#[inline(always)]
pub(crate) const fn mask_bit(field_word: usize) -> u64 {
    if field_word < 63 { 1 << field_word } else { FAR }
}
