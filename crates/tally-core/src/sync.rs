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
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, fence};
#[cfg(loom)]
pub(crate) use loom::{hint::spin_loop, lazy_static, thread_local};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize};
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
