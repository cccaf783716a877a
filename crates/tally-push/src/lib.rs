//! Push tally registry snapshots to a [Prometheus Pushgateway]: for batch and short-lived
//! jobs (an evaluation run, a nightly re-index, a batch of inferences) that end before a
//! scrape would find them.
//!
//! A group of pushed metrics is a job and its grouping labels; a [`Pusher`] sends a
//! registry's snapshot there:
//!
//! ```
//! use tally_push::{Grouping, Pusher};
//! let grouping = Grouping::new("nightly_eval")?.label("shard", "3")?;
//! let pusher = Pusher::new("http://localhost:9091", grouping)?;
//! assert_eq!(pusher.url(), "http://localhost:9091/metrics/job/nightly_eval/shard/3");
//! # Ok::<(), tally_push::PushError>(())
//! ```
//!
//! A batch job pushing every 10 s while it runs, and its final counts at the end:
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tally::{Cache, InferenceStats, Outcome, Registry};
//! use tally_push::{Grouping, Pusher};
//!
//! let registry = Arc::new(Registry::new());
//! let stats = registry.register::<InferenceStats>("batch", "The batch's requests.")?;
//! let grouping = Grouping::new("nightly_eval")?.label("shard", "3")?;
//! let pusher = Pusher::new("http://localhost:9091", grouping)?;
//! // Every 10 s while the job runs, and once more at the end.
//! let pushing = pusher.every(Duration::from_secs(10), {
//!     let registry = Arc::clone(&registry);
//!     move || registry.snapshot()
//! })?;
//! for _ in 0..1000 {
//!     stats.record_request(Outcome::Success, Cache::Miss);
//! }
//! let report = pushing.finish();
//! report.last?; // the gateway holds the job's final counts
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is pushed
//!
//! A snapshot encoded as Prometheus text (`tally-prometheus`, the same names, units and
//! histogram buckets `/metrics` shows), sent with `PUT` to
//! `/metrics/job/<job>/<label>/<value>…` ([`Grouping::path`]): the group then holds exactly
//! that snapshot. Pushes are cumulative (counters since the job started), so a failed push
//! loses nothing the next one does not carry; the last push ([`PushLoop::finish`], or when
//! the loop is dropped) is retried while its failure may pass (the gateway unreachable,
//! 429, 5xx) and its outcome is reported. [`Pusher::push_add`] (`POST`) replaces only the
//! pushed metric names, for several pushers sharing one group; [`Pusher::delete`] removes
//! the group. Scrape the gateway with `honor_labels: true`, so that the pushed `job` and
//! grouping labels are kept.
//!
//! # Why a Pushgateway, not remote write
//!
//! A batch job's figures are wanted after it exits: the Pushgateway keeps the last push
//! of each group for Prometheus to scrape (and `push_time_seconds` for alerting on a job
//! that stopped pushing), with the text format and plain HTTP. Prometheus remote write
//! sends timestamped samples to a receiver (`--web.enable-remote-write-receiver`), needs
//! protobuf and snappy, and a job that exits between two of its sends leaves nothing to
//! scrape. The price of the gateway: it never forgets a group until it is deleted, and
//! everything a group holds is from its last push.
//!
//! [Prometheus Pushgateway]: https://github.com/prometheus/pushgateway

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod error;
mod grouping;
mod pusher;
mod schedule;

pub use error::PushError;
pub use grouping::Grouping;
pub use pusher::{DEFAULT_TIMEOUT, Pusher};
pub use schedule::{PushLoop, PushReport};
