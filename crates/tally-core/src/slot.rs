//! Thread slots: the small integer that picks a thread's shard in every metric set.
//!
//! A thread claims a slot from a global, prepend-only, never-freed list the first time it
//! records, caches it in a thread-local, and releases it when the thread exits. The next
//! thread to claim that slot takes over the same shards in every set and keeps adding to
//! the counts stored there: nothing is folded, nothing is lost, and the number of slots
//! (so of shards per set) is bounded by the peak number of threads recording at once.
//!
//! # Orderings
//!
//! - `Slot::in_use`: the claim CAS is `Acquire` and the release store is `Release`, so the
//!   previous owner's writes to its shards happen-before the next owner's relaxed loads of
//!   them (the single-writer rule of the latch holds across owners).
//! - `SlotRegistry::head`: nodes are published with a `Release` CAS and walked from an
//!   `Acquire` load, so a walker sees a node's initialised fields.
//!
//! See `docs/DESIGN.md`, "Shards and thread slots".

use std::cell::Cell;
use std::ptr;

use crate::sync::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// One entry of the global slot list. Never freed.
#[derive(Debug)]
pub(crate) struct Slot {
    index: usize,
    in_use: AtomicBool,
    next: AtomicPtr<Slot>,
}

impl Slot {
    fn release(&self) {
        // Release: hands this thread's shard writes to the next claimer's Acquire CAS.
        self.in_use.store(false, Ordering::Release);
    }
}

/// The global list of thread slots.
#[derive(Debug)]
pub(crate) struct SlotRegistry {
    head: AtomicPtr<Slot>,
    created: AtomicUsize,
    in_use: AtomicUsize,
}

impl SlotRegistry {
    #[cfg(not(loom))]
    const fn new() -> Self {
        SlotRegistry {
            head: AtomicPtr::new(ptr::null_mut()),
            created: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
        }
    }

    #[cfg(loom)]
    fn new() -> Self {
        SlotRegistry {
            head: AtomicPtr::new(ptr::null_mut()),
            created: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
        }
    }

    /// Claims a free slot, or creates one. Runs once per thread (a CAS per node visited:
    /// this is the only read-modify-write a recording thread ever does).
    pub(crate) fn claim(&self) -> &'static Slot {
        self.in_use.fetch_add(1, Ordering::Relaxed);
        // Acquire: pairs with the Release CAS that published the head node.
        let mut node = self.head.load(Ordering::Acquire);
        while !node.is_null() {
            // SAFETY: nodes are only ever created by `Box::into_raw` below and never freed,
            // and `node` was published by a Release CAS (or read from `next`, written before
            // that CAS) that our Acquire load of `head` synchronised with.
            let slot: &'static Slot = unsafe { &*node };
            if !slot.in_use.load(Ordering::Relaxed)
                // Acquire: the previous owner's shard writes, released by `release`, become
                // visible to us before we write the same shards.
                && slot
                    .in_use
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return slot;
            }
            node = slot.next.load(Ordering::Relaxed);
        }
        let index = self.created.fetch_add(1, Ordering::Relaxed);
        let new = Box::into_raw(Box::new(Slot {
            index,
            in_use: AtomicBool::new(true),
            next: AtomicPtr::new(ptr::null_mut()),
        }));
        // SAFETY: `new` came from `Box::into_raw` just above and is never freed.
        let slot: &'static Slot = unsafe { &*new };
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            slot.next.store(head, Ordering::Relaxed);
            // Release: publishes the node's fields (and `next`) to walkers' Acquire loads.
            match self.head.compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return slot,
                Err(actual) => head = actual,
            }
        }
    }

    fn release(&self, slot: &Slot) {
        slot.release();
        self.in_use.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(not(loom))]
static REGISTRY: SlotRegistry = SlotRegistry::new();

#[cfg(not(loom))]
fn registry() -> &'static SlotRegistry {
    &REGISTRY
}

#[cfg(loom)]
crate::sync::lazy_static! {
    static ref REGISTRY: SlotRegistry = SlotRegistry::new();
}

#[cfg(loom)]
fn registry() -> &'static SlotRegistry {
    &REGISTRY
}

// This thread's slot. A `const` `Cell` without `Drop`, so it stays readable for the whole
// life of the thread, thread-local destruction included: the hot path is one TLS load.
#[cfg(not(loom))]
thread_local! {
    static SLOT: Cell<Option<&'static Slot>> = const { Cell::new(None) };
    static RELEASE: ReleaseAtExit = const { ReleaseAtExit };
}

#[cfg(loom)]
crate::sync::thread_local! {
    static SLOT: Cell<Option<&'static Slot>> = Cell::new(None);
    static RELEASE: ReleaseAtExit = ReleaseAtExit(Cell::new(None));
}

/// Its destructor returns this thread's slot when the thread exits.
#[cfg(not(loom))]
struct ReleaseAtExit;

/// Its destructor returns this thread's slot when the thread exits. loom takes all of a
/// thread's locals away before dropping any, so `SLOT` is unreadable by then: under loom
/// the slot is kept here too.
#[cfg(loom)]
struct ReleaseAtExit(Cell<Option<&'static Slot>>);

impl Drop for ReleaseAtExit {
    fn drop(&mut self) {
        #[cfg(not(loom))]
        let slot = SLOT.with(Cell::take);
        #[cfg(loom)]
        let slot = self.0.take();
        if let Some(slot) = slot {
            registry().release(slot);
        }
    }
}

/// Runs `f` with this thread's slot index, claiming a slot on first use.
///
/// A thread whose `ReleaseAtExit` destructor has already run (a record from another
/// thread-local's destructor) holds a slot only for the outermost call, so that such a record
/// is kept too and a record nested inside it still joins its event.
#[inline(always)]
pub(crate) fn with_thread_slot<R>(f: impl FnOnce(usize) -> R) -> R {
    // One call site for `f`, so that it inlines into the caller.
    let (index, for_this_call) = match SLOT.with(Cell::get) {
        Some(slot) => (slot.index, None),
        None => claim_for_this_thread(),
    };
    let result = f(index);
    drop(for_this_call);
    result
}

/// Claims a slot for this thread; returns a guard when the slot must be returned after this
/// call because the thread is past its thread-local destructors.
#[cold]
#[inline(never)]
fn claim_for_this_thread() -> (usize, Option<ForThisCall>) {
    let slot = registry().claim();
    SLOT.with(|c| c.set(Some(slot)));
    // Touching RELEASE registers its destructor; it fails once that destructor has run.
    let registered = RELEASE.try_with(|_release| {
        #[cfg(loom)]
        _release.0.set(Some(slot));
    });
    if registered.is_ok() { (slot.index, None) } else { (slot.index, Some(ForThisCall)) }
}

/// Returns the slot held for one call (see [`with_thread_slot`]).
struct ForThisCall;

impl Drop for ForThisCall {
    fn drop(&mut self) {
        if let Some(slot) = SLOT.with(Cell::take) {
            registry().release(slot);
        }
    }
}

/// How many thread slots exist, which bounds the number of shards of every metric set.
///
/// This is the peak number of threads that recorded at once over the process's life, plus
/// one extra slot per race lost: a thread walking the free list can pass a slot just
/// before its owner releases it, and then creates a new slot rather than walk again.
pub fn thread_slots_created() -> usize {
    registry().created.load(Ordering::Relaxed)
}

/// How many thread slots are claimed right now (threads alive that have recorded).
pub fn thread_slots_in_use() -> usize {
    registry().in_use.load(Ordering::Relaxed)
}
