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

use crate::latch::Shard;
use crate::sync::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use crate::table::ShardTable;

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
// life of the thread, thread-local destruction included. `INDEX` is the slot's index, or
// `NO_SLOT`: the hot path is one TLS load and one compare (see `with_shard`).
#[cfg(not(loom))]
thread_local! {
    static SLOT: Cell<Option<&'static Slot>> = const { Cell::new(None) };
    static INDEX: Cell<usize> = const { Cell::new(NO_SLOT) };
    static RELEASE: ReleaseAtExit = const { ReleaseAtExit };
}

#[cfg(loom)]
crate::sync::thread_local! {
    static SLOT: Cell<Option<&'static Slot>> = Cell::new(None);
    static INDEX: Cell<usize> = Cell::new(NO_SLOT);
    static RELEASE: ReleaseAtExit = ReleaseAtExit(Cell::new(None));
}

/// `INDEX` of a thread without a slot (or past its thread-local destructors): past every
/// inline shard, so the hot path's one compare sends it to the slow path.
const NO_SLOT: usize = usize::MAX;

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
        // A record from a later destructor takes the slow path (a slot for that call).
        let _ = INDEX.try_with(|i| i.set(NO_SLOT));
        #[cfg(not(loom))]
        let slot = SLOT.with(Cell::take);
        #[cfg(loom)]
        let slot = self.0.take();
        if let Some(slot) = slot {
            registry().release(slot);
        }
    }
}

/// Work to do with this thread's shard of a set: what [`with_shard`] runs (a trait with an
/// `#[inline(always)]` method, so that it inlines into the caller's hot loop).
pub(crate) trait WithShard {
    /// What `run` returns.
    type Out;
    /// Runs with this thread's shard.
    ///
    /// # Safety
    ///
    /// `shard` is this thread's shard of the set: the caller holds its slot, so it is the
    /// shard's only writer for the whole call.
    unsafe fn run(self, shard: &Shard) -> Self::Out;
}

/// Runs `task` with this thread's shard of `table`, claiming a slot (and creating the
/// shard) on first use.
///
/// The hot path: one thread-local load, one compare, one load of the shard pointer, and
/// nothing after `task` (which runs at one call site only, so that it, and the closure
/// inside it, inline there).
#[inline(always)]
pub(crate) fn with_shard<T: WithShard>(table: &ShardTable, task: T) -> T::Out {
    let shard = match table.inline_shard(INDEX.with(Cell::get)) {
        Some(shard) => shard,
        None => shard_slow(table),
    };
    // SAFETY: `INDEX` is this thread's slot, claimed and not released (every release
    // resets `INDEX` first), or the slow path just claimed it, so the thread is the shard's
    // only writer.
    unsafe { task.run(shard) }
}

/// This thread's shard of `table` when it is not an existing inline one: the slot is
/// claimed and the shard created as needed.
#[cold]
#[inline(never)]
fn shard_slow(table: &ShardTable) -> &Shard {
    let index = match SLOT.with(Cell::get) {
        Some(slot) => slot.index,
        None => claim_for_this_thread(),
    };
    table.get_or_create(index)
}

/// Claims a slot for this thread and arranges for its release when the thread exits.
///
/// Normally `RELEASE`'s destructor releases it. A thread past that destructor (a record
/// from another thread-local's destructor) registers a late release instead: on Unix a
/// pthread key destructor, which runs after every thread-local destructor, so such a
/// record is kept and its slot still returned. Where that is not available (other
/// platforms, loom) the slot stays claimed for the rest of the process: one slot per
/// thread that records that late.
fn claim_for_this_thread() -> usize {
    let slot = registry().claim();
    SLOT.with(|c| c.set(Some(slot)));
    INDEX.with(|i| i.set(slot.index));
    // Touching RELEASE registers its destructor; it fails once that destructor has run.
    let registered = RELEASE.try_with(|_release| {
        #[cfg(loom)]
        _release.0.set(Some(slot));
    });
    if registered.is_err() {
        late_release(slot);
    }
    slot.index
}

/// Releases `slot` after the thread's thread-local destructors (see
/// [`claim_for_this_thread`]).
#[cfg(all(unix, not(loom)))]
fn late_release(slot: &'static Slot) {
    use std::sync::OnceLock;

    /// Runs when the thread exits, after its thread-local destructors.
    unsafe extern "C" fn release(slot: *mut libc::c_void) {
        let _ = INDEX.try_with(|i| i.set(NO_SLOT));
        let _ = SLOT.try_with(Cell::take);
        // SAFETY: the key's values are only ever `&'static Slot`s (set below), and slots
        // are never freed.
        let slot: &'static Slot = unsafe { &*slot.cast::<Slot>() };
        registry().release(slot);
    }

    static KEY: OnceLock<Option<libc::pthread_key_t>> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: `key` is a valid place for the new key; `release` has the destructor's
        // signature.
        (unsafe { libc::pthread_key_create(&mut key, Some(release)) } == 0).then_some(key)
    });
    if let Some(key) = *key {
        // SAFETY: `key` was created above; the value is a `&'static Slot`, which the
        // destructor turns back into one.
        unsafe { libc::pthread_setspecific(key, std::ptr::from_ref(slot).cast_mut().cast()) };
    }
}

/// See the Unix version: here the slot stays claimed.
#[cfg(not(all(unix, not(loom))))]
fn late_release(_slot: &'static Slot) {}

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
