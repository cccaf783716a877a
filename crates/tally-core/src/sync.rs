//! The concurrency shim: every atomic, fence, thread-local and spin hint in this crate comes
//! from here, so that `RUSTFLAGS="--cfg loom"` swaps in loom's model-checked versions.
//!
//! Code that does not use these types is invisible to loom.
//!
//! Two further switches:
//! - On targets without native 64-bit atomics, `AtomicU64` comes from `portable-atomic`.
//! - Under `--cfg tally_tsan` the latch puts acquire/release on the data accesses instead of
//!   standalone fences, because ThreadSanitizer does not model fences (see
//!   `docs/DESIGN.md`, "The ThreadSanitizer variant").

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize, fence,
};
#[cfg(loom)]
pub(crate) use loom::{hint::spin_loop, lazy_static, thread_local};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU16, AtomicUsize};
// The `tally_tsan` latch has no fences.
#[cfg(all(not(loom), not(tally_tsan)))]
pub(crate) use std::sync::atomic::fence;
#[cfg(not(loom))]
#[allow(unused_imports)] // only the slow paths spin
pub(crate) use std::{hint::spin_loop, thread_local};

#[cfg(all(not(loom), not(target_has_atomic = "64")))]
pub(crate) use portable_atomic::AtomicU64;
#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use std::sync::atomic::AtomicU64;

pub(crate) use std::sync::atomic::Ordering;

/// Installs `fresh` in `cell` if it is still null and returns it; if another thread
/// installed one first, hands `fresh` (never shared) to `discard` and returns the winner's.
/// Readers' lock-free lazy allocations go through here (a latch's published buffer, a
/// shard table's segment).
pub(crate) fn install_once<T>(
    cell: &AtomicPtr<T>,
    fresh: *mut T,
    discard: impl FnOnce(*mut T),
) -> *mut T {
    // AcqRel: Release publishes what `fresh` points to (initialised before this call) to
    // the Acquire loads of the cell; Acquire, also on failure, sees the winner's.
    match cell.compare_exchange(std::ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => fresh,
        Err(winner) => {
            discard(fresh);
            winner
        }
    }
}
