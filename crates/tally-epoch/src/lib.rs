//! Publishes a metric source's snapshots as numbered, immutable epochs: readers take the
//! latest for the cost of an `ArcSwap` load, refreshes coalesce, and two epochs give the
//! rates in between.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::time::Duration;
//! use tally_epoch::{ManualClock, Publisher};
//!
//! // The source: any closure that collects a snapshot, e.g. `move || stats.snapshot()`
//! // for a `tally::InferenceStats`.
//! let requests = Arc::new(AtomicU64::new(0));
//! let source = Arc::clone(&requests);
//! let clock = ManualClock::new(); // a `SystemClock` unless told otherwise
//! let publisher = Publisher::builder(move || source.load(Ordering::Relaxed))
//!     .clock(clock.clone())
//!     .build(); // collects epoch 0
//!
//! requests.fetch_add(1200, Ordering::Relaxed);
//! clock.advance(Duration::from_secs(60));
//!
//! // Readers never collect: they see the last published epoch.
//! let before = publisher.latest();
//! assert_eq!((before.number(), *before.snapshot()), (0, 0));
//!
//! // A refresh collects (concurrent refreshes share one collection) and publishes.
//! let now = publisher.refresh();
//! assert_eq!((now.number(), *now.snapshot()), (1, 1200));
//!
//! // Two epochs make a window: its delta and its rates.
//! let window = now.since(&before).unwrap();
//! assert_eq!(window.rate(|&n| n), Some(20.0)); // per second
//!
//! // Waits block until a newer epoch is published, and time out rather than hang.
//! let again = publisher.wait_for_next(0, Duration::from_secs(1)).unwrap();
//! assert_eq!(again.number(), 1);
//! ```
//!
//! The main items:
//! - [`Publisher`]: owns the source. [`latest`](Publisher::latest) and
//!   [`with_latest`](Publisher::with_latest) read the newest [`Epoch`];
//!   [`refresh`](Publisher::refresh) collects, coalescing concurrent callers, and returns
//!   an epoch that reflects everything recorded before the call (proved in its docs);
//!   [`PublisherBuilder::min_interval`] bounds the collection rate;
//!   [`spawn_refresher`](Publisher::spawn_refresher) refreshes on a period in a background
//!   thread owned by a [`RefresherHandle`].
//! - [`Epoch`]: a number (0, 1, 2, … strictly increasing), a time stamp from the
//!   publisher's [`Clock`] ([`SystemClock`] or, in tests, [`ManualClock`]) and the
//!   snapshot.
//! - [`Window`]: `later.since(&earlier)` for snapshots that implement
//!   [`tally_snapshot::Delta`] (or `since_by(&earlier, SetSnapshot::delta)`): the elapsed
//!   time, the delta, and per-second [`rate`](Window::rate)s that are `None`, never NaN,
//!   for an empty window; for [`SetSnapshot`](tally_snapshot::SetSnapshot)s,
//!   [`rates`](Window::rates) gives every field's [`Rate`], histograms as the delta
//!   distribution (for "p99 over the last 10 s").
//! - Waits: [`Publisher::wait_for_next`] and [`Publisher::wait_until`] block with a
//!   timeout ([`WaitError`]); with the `tokio` feature, [`Publisher::subscribe`] gives an
//!   `EpochReceiver` whose waits are async.
//!
//! # Costs
//!
//! Figures for x86_64, from the workspace's reference notes (arc-swap's own and the
//! usual atomic costs); the work of a collection is the source's.
//!
//! | operation | cost | contends with |
//! | --- | --- | --- |
//! | [`Publisher::with_latest`] | one `ArcSwap` load: tens of ns | nothing (readers do not contend) |
//! | [`Publisher::latest`] | the load plus an `Arc` count increment | other readers of the same epoch (one shared cache line) |
//! | [`Publisher::refresh`] | a `fetch_add` on the ticket counter and a brief mutex hold; then either a sleep until the running collection ends (when it or the next one covers this call), or the collection itself followed by an `ArcSwap` store (microseconds: it pays readers' outstanding debts), condvar notifies and, with `tokio`, a `watch` send | other refreshes (they share collections) |
//! | [`Publisher::refresh`] within [`min_interval`](PublisherBuilder::min_interval) | an `ArcSwap` load and a clock read | nothing |
//! | [`Epoch::since`] | the snapshot's `Delta` (a subtraction per field, a merge of sparse buckets per histogram) | nothing |
//! | a blocking wait | a mutex and condvar: a thread parked until a publication or the timeout | publications, briefly |
//!
//! Nothing here touches the metric set's writer shards except the source itself, during a
//! collection: readers of epochs never slow down writers. Do not keep arc-swap guards
//! (inside [`with_latest`](Publisher::with_latest)) across blocking calls or awaits;
//! hold an `Arc<Epoch<S>>` from [`latest`](Publisher::latest) instead, for as long as
//! you like.
//!
//! # Features
//!
//! - `tokio`: async waits on a tokio `watch` channel fed on every publication
//!   (`Publisher::subscribe`, `Publisher::wait_until_async`, `EpochReceiver`).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod clock;
mod epoch;
mod publisher;
mod refresher;
mod set_rates;
mod wait;
#[cfg(feature = "tokio")]
mod watch;
mod window;

pub use clock::{Clock, ManualClock, SystemClock};
pub use epoch::Epoch;
pub use publisher::{Publisher, PublisherBuilder};
pub use refresher::{RefresherError, RefresherHandle};
pub use set_rates::{FieldRate, Rate};
pub use wait::WaitError;
#[cfg(feature = "tokio")]
pub use watch::EpochReceiver;
pub use window::{EpochError, Window};

/// The README's examples, run as doctests so that they keep compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
