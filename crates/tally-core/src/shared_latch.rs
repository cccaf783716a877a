//! The two-copy latch of a shared-memory shard (`shared.rs`), over a plain slice of
//! atomics: the writer's event in two sections, the help a collector can ask for, and the
//! collector's read. A module of its own, built under loom too (`loom_tests.rs` checks it
//! on a `Vec` of loom atomics; the mapped file is outside loom's model). The argument:
//! docs/DESIGN.md, "Shared-memory shards".
//!
//! A shard at word `at` with `n` words per copy: [`SHARD_HEAD`] words (copy 0's and copy
//! 1's sequences, help wanted, help served, the help copy's sequence), then copy 0, copy 1
//! and the help copy, `n` words each.

// Fences come from std outside loom, also under `tally_tsan` (whose shim has none: the
// shared shards are not among its tests).
#[cfg(loom)]
use crate::sync::fence;
use crate::sync::{AtomicU64, Ordering, spin_loop};
#[cfg(not(loom))]
use std::sync::atomic::fence;

/// A shard's words before its copies: the two copies' sequences, then the help protocol's
/// words (help wanted, help served, the help copy's sequence).
pub(crate) const SHARD_HEAD: usize = 5;
const WANTED: usize = 2;
const SERVED: usize = 3;
const HELP_SEQ: usize = 4;
/// Tries a collector makes on the two copies before it asks the writer for help.
#[cfg(not(loom))]
const TRIES_BEFORE_HELP: usize = 64;
/// Under loom: after one try, so that the models explore the help.
#[cfg(loom)]
const TRIES_BEFORE_HELP: usize = 1;
/// Rounds (tries of the two copies and of the help copy) before a collector gives up: only
/// a writer recording flat out that never finishes an event could make it (a writer that
/// finishes events serves help at the end of its next one; a descheduled or dead one
/// leaves a copy whole).
#[cfg(not(loom))]
const READ_ROUNDS: usize = 1 << 20;
/// Under loom: two rounds (copy 0, then copy 1 or the help copy), which bound the
/// models' reads.
#[cfg(loom)]
const READ_ROUNDS: usize = 2;

/// The words a shard with `n` words per copy takes.
pub(crate) const fn shard_words(n: usize) -> usize {
    SHARD_HEAD + 3 * n
}

/// Applies one event to the shard at `at`: `apply` runs on copy 0's `n` words, then on copy
/// 1's, each inside a section of its own. The caller is the shard's only writer.
pub(crate) fn write_event(
    words: &[AtomicU64],
    at: usize,
    n: usize,
    mut apply: impl FnMut(&[AtomicU64]),
) {
    for copy in 0..2 {
        let seq = &words[at + copy];
        let s = seq.load(Ordering::Relaxed);
        // Odd: readers of this copy retry or read the other one. The fence orders this
        // store before the data stores below (pairs with the reader's Acquire fence before
        // its second load of the sequence).
        seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let base = at + SHARD_HEAD + copy * n;
        apply(&words[base..base + n]);
        // Even again: pairs with the reader's Acquire load of the sequence; a reader that
        // sees it sees the data stores.
        seq.store(s.wrapping_add(2), Ordering::Release);
    }
}

/// The help request to serve, if a collector made one since `served` (the writer's copy of
/// the served word). Relaxed: a request seen one event late is served one event late.
#[inline]
pub(crate) fn help_wanted(words: &[AtomicU64], at: usize, served: u64) -> Option<u64> {
    let wanted = words[at + WANTED].load(Ordering::Relaxed);
    (wanted != served).then_some(wanted)
}

/// Copies copy 1 (whole: the writer calls this between events, no section open) into the
/// help copy, inside the help copy's own section, then publishes `wanted` as served
/// (Release: pairs with the collector's Acquire load of it).
#[cold]
pub(crate) fn serve_help(words: &[AtomicU64], at: usize, n: usize, wanted: u64) {
    let seq = &words[at + HELP_SEQ];
    let s = seq.load(Ordering::Relaxed);
    seq.store(s.wrapping_add(1), Ordering::Relaxed);
    fence(Ordering::Release);
    let (from, to) = (at + SHARD_HEAD + n, at + SHARD_HEAD + 2 * n);
    for i in 0..n {
        words[to + i].store(words[from + i].load(Ordering::Relaxed), Ordering::Relaxed);
    }
    seq.store(s.wrapping_add(2), Ordering::Release);
    words[at + SERVED].store(wanted, Ordering::Release);
}

/// A whole copy of the shard at `at` with `n` words per copy: copy 0 or copy 1, whichever
/// no section overlapped while it was read; after [`TRIES_BEFORE_HELP`] tries, the help
/// copy its writer makes at the end of its next event. `None` only after [`READ_ROUNDS`]
/// rounds: a writer inside one event all that time.
pub(crate) fn read_shard(words: &[AtomicU64], at: usize, n: usize) -> Option<Vec<u64>> {
    let mut asked: Option<u64> = None;
    for attempt in 0..READ_ROUNDS {
        let copy = attempt % 2;
        if let Some(data) = read_copy(words, at + copy, at + SHARD_HEAD + copy * n, n) {
            return Some(data);
        }
        if attempt + 1 < TRIES_BEFORE_HELP {
            continue;
        }
        match asked {
            None => {
                // The collector's side only: one read-modify-write per shard it cannot read
                // otherwise, never on the writer's path.
                asked = Some(words[at + WANTED].fetch_add(1, Ordering::Relaxed).wrapping_add(1));
            }
            Some(request) => {
                // Pairs with the writer's Release store of SERVED after the help copy.
                let served = words[at + SERVED].load(Ordering::Acquire);
                if served.wrapping_sub(request) < u64::MAX / 2
                    && let Some(data) = read_copy(words, at + HELP_SEQ, at + SHARD_HEAD + 2 * n, n)
                {
                    return Some(data);
                }
            }
        }
        spin_loop();
        #[cfg(not(loom))]
        if attempt % 1024 == 1023 {
            std::thread::yield_now();
        }
    }
    None
}

/// The `n` words at `base` if the sequence at `seq` was even and unchanged across reading
/// them.
fn read_copy(words: &[AtomicU64], seq: usize, base: usize, n: usize) -> Option<Vec<u64>> {
    let seq = &words[seq];
    // Pairs with the writer's Release store that ended its last section on these words.
    let before = seq.load(Ordering::Acquire);
    if before % 2 == 1 {
        return None;
    }
    let data: Vec<u64> = words[base..base + n].iter().map(|w| w.load(Ordering::Relaxed)).collect();
    // Pairs with the writer's Release fence after it made the sequence odd: if any data
    // load saw a store of a section that started after `before`, this load sees that
    // section's odd sequence.
    fence(Ordering::Acquire);
    (seq.load(Ordering::Relaxed) == before).then_some(data)
}
