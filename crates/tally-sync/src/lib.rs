//! tally-sync: locks, a throttle and a readiness gate that count what they do into tally
//! metric sets, coherently.
//!
//! ```
//! use std::thread;
//! use tally_sync::MonitoredMutex;
//!
//! let total = MonitoredMutex::new(0u64);
//! thread::scope(|s| {
//!     for _ in 0..4 {
//!         s.spawn(|| {
//!             for _ in 0..1_000 {
//!                 *total.lock() += 1;
//!             }
//!         });
//!     }
//! });
//! let guard = total.lock();
//! assert_eq!(*guard, 4_000);
//!
//! let stats = total.stats();
//! assert_eq!(stats.acquisitions, 4_001);
//! assert!(stats.contended <= stats.acquisitions);
//! assert_eq!(stats.wait_ns.count(), stats.acquisitions); // one event per acquisition
//! assert_eq!(stats.hold_ns.count(), 4_000); // `guard` is still held
//! ```
//!
//! Every lock records each acquisition as one tally event (`acquisitions + 1`,
//! `contended + 1` if its first `try_lock` failed, the wait into `wait_ns`) and each
//! release as another (the hold time into `hold_ns`), so a snapshot taken at any moment,
//! from any thread, satisfies `wait_ns.count() == acquisitions` and `contended <=
//! acquisitions`. The statistics set is an `Arc<LockStats>`: pass one to several locks'
//! `with_stats` to aggregate them, or register it in a [`tally::Registry`] to export it.
//!
//! The main items:
//! - [`MonitoredMutex`], [`MonitoredRwLock`] (over `parking_lot`) and
//!   [`MonitoredShardedLock`] (over crossbeam's read-mostly `ShardedLock`), their RAII
//!   guards, and the [`LockStats`] set they record into.
//! - With the `tokio` feature, the `tokio` module: a `Throttle` (a bounded semaphore with
//!   in-flight and waiting gauges), a `ReadyGate` (Python's `Event`, for tasks and
//!   threads), an async `MonitoredMutex` and an async `MonitoredRwLock`, with owned permits
//!   and guards (`acquire_owned`, `lock_owned`, `read_owned`, `write_owned`) that move into
//!   `tokio::spawn`.
//! - `CONCURRENCY.md` (the `concurrency` module here, with the `tokio` feature): Python's
//!   `threading`/`asyncio` patterns mapped to these types, what Rust's types rule out,
//!   the read–await–write race, and what monitoring costs.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod guard;
mod mutex;
mod rwlock;
mod sharded;
mod stats;

#[cfg(feature = "tokio")]
mod async_mutex;
#[cfg(feature = "tokio")]
mod async_rwlock;
#[cfg(feature = "tokio")]
mod gate;
#[cfg(feature = "tokio")]
mod permit;
#[cfg(feature = "tokio")]
mod throttle;

pub use mutex::{MonitoredMutex, MonitoredMutexGuard};
pub use rwlock::{MonitoredRwLock, MonitoredRwLockReadGuard, MonitoredRwLockWriteGuard};
pub use sharded::{
    MonitoredShardedLock, MonitoredShardedLockReadGuard, MonitoredShardedLockWriteGuard,
};
pub use stats::{LockStats, LockStatsEvent, LockStatsSnapshot};

/// Async primitives over tokio (feature `tokio`): [`Throttle`](crate::tokio::Throttle),
/// [`ReadyGate`](crate::tokio::ReadyGate), an async
/// [`MonitoredMutex`](crate::tokio::MonitoredMutex) and an async
/// [`MonitoredRwLock`](crate::tokio::MonitoredRwLock). Permits and guards have owned forms
/// (`acquire_owned`, `lock_owned`, `read_owned`, `write_owned`) that move into spawned tasks.
#[cfg(feature = "tokio")]
pub mod tokio {
    pub use crate::async_mutex::{MonitoredMutex, MonitoredMutexGuard, OwnedMonitoredMutexGuard};
    pub use crate::async_rwlock::{
        MonitoredRwLock, MonitoredRwLockReadGuard, MonitoredRwLockWriteGuard,
        OwnedMonitoredRwLockReadGuard, OwnedMonitoredRwLockWriteGuard,
    };
    pub use crate::gate::{GateStats, GateStatsEvent, GateStatsSnapshot, ReadyGate};
    pub use crate::permit::{OwnedPermit, Permit};
    pub use crate::throttle::{
        AddPermitsError, Rejected, Throttle, ThrottleStats, ThrottleStatsEvent,
        ThrottleStatsSnapshot, TimedOut,
    };
}

#[cfg(feature = "tokio")]
#[doc = include_str!("../CONCURRENCY.md")]
pub mod concurrency {}
