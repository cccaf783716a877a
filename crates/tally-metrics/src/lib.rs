//! A [`metrics`] recorder for tally: `counter!`, `gauge!` and `histogram!` (with labels)
//! record into tally families registered in a [`tally::Registry`].
//!
//! ```
//! use std::sync::Arc;
//! use tally::Value;
//! use tally_metrics::TallyRecorder;
//!
//! let registry = Arc::new(tally::Registry::new());
//! let recorder = TallyRecorder::builder().registry(registry.clone()).build().unwrap();
//! // In a service: `tally_metrics::install()` once at startup, on the global registry.
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::describe_counter!("http_requests_total", "Requests served.");
//!     // Registered once, then bound: each increment is one shard update, no lookup.
//!     let ok = metrics::counter!("http_requests_total", "status" => "200");
//!     for _ in 0..3 {
//!         ok.increment(1);
//!     }
//!     metrics::counter!("http_requests_total", "status" => "500").increment(1);
//!     metrics::gauge!("queue_depth").set(7.0);
//!     metrics::histogram!("request_duration_seconds").record(0.0125);
//! });
//!
//! let snap = registry.snapshot();
//! let requests = &snap.metrics["http_requests_total"];
//! assert_eq!(requests.help, "Requests served.");
//! assert_eq!(requests.label_names, ["status"]);
//! assert_eq!(requests.series[0].labels, ["200"]);
//! assert_eq!(requests.series[0].snapshot.get("http_requests_total"), Some(&Value::Counter(3)));
//! // Seconds are recorded as nanoseconds (and exposed in seconds again by tally-prometheus).
//! let duration = &snap.metrics["request_duration_ns"].series[0].snapshot;
//! match duration.get("request_duration_ns") {
//!     Some(Value::Histogram(h)) => assert_eq!(h.sum(), 12_500_000),
//!     other => panic!("{other:?}"),
//! }
//!
//! let mut text = String::new();
//! tally_prometheus::encode_text(&snap, &mut text);
//! assert!(text.contains("http_requests_total{status=\"200\"} 3\n"));
//! assert!(text.contains("queue_depth 7\n"));
//! assert!(text.contains("request_duration_seconds_sum 0.0125\n"));
//! ```
//!
//! The main items:
//! - [`TallyRecorder`] and its [`Builder`]: the recorder, on the global registry or a given
//!   one, with a cardinality limit per metric.
//! - [`install`], [`TallyRecorder::install_global`]: make it the global `metrics` recorder.
//! - [`RecorderStats`]: what it could not record as asked ([`TallyRecorder::stats`];
//!   registered as [`STATS_METRIC`], so exposed as `tally_metrics_*`, only with
//!   [`Builder::expose_stats`]).
//! - [`sanitize_metric_name`], [`sanitize_label_name`]: how names are made valid.
//!
//! # How metrics map onto tally
//!
//! **One family per name.** Each metric name is registered once, on first use, as a family
//! of one-field [`RawSet`](tally::RawSet)s whose label names are the label keys of that
//! first use, with the recorder's cardinality limit. Its one field is named like the
//! registered metric, which `tally-prometheus` exposes under that name alone
//! (`http_requests_total{status="200"}`). In a [`tally::RegistrySnapshot`] the value is at
//! `snap.metrics[name].series[i].snapshot.get(name)`.
//!
//! **Handles are bound.** `register_counter` (what `counter!(…)` calls) finds the series of
//! its key with two lock-free hash lookups (name, then key; `metrics` hashes static keys at
//! compile time) and returns the series itself as the handle (an `Arc` clone, no
//! allocation). Recording through the handle is one update on the thread's own shard: a
//! counter increment or a gauge move takes the same single-word path as a
//! `metric_set!` field's `inc()`, a histogram value one tally record. A miss (a new name
//! or label-value combination) takes a mutex once. In hot loops keep the handle rather
//! than calling `counter!` each time: `benches/facade_overhead.rs` measures both against
//! direct tally recording (`docs/PERFORMANCE.md`, "The `metrics` facade").
//!
//! **Counters** are tally counters. `increment(n)` adds `n`. `absolute(v)` raises the
//! counter by how far `v` is above the highest absolute value seen on that series, and
//! ignores a lower value: a tally counter never goes backwards, so a source that restarts
//! from zero shows no change until it passes its old high. Increments and absolute values
//! on one series add up (the counter is the sum of the increments plus the highest
//! absolute value); use one or the other per series.
//!
//! **Gauges** are summed tally gauges (`i64`) holding the `f64` level **rounded to the
//! nearest integer**. Each series keeps its exact `f64` level in one atomic (`set` swaps
//! it, `increment`/`decrement` add to it) and records the change of the rounded level into
//! the shard, so `increment(0.5)` twice moves the gauge by 1, not by 2, and once updates
//! stop the gauge equals the rounded last level exactly. Fractional levels are lost to
//! rounding: record gauges in a unit whose values are integers (`percent` rather than a
//! ratio, `bytes`). A value that would make the level NaN or infinite is dropped (counted
//! in `rejected_values`). A `LastValue` field was the other choice; it would take `set`
//! but cannot add, and `metrics` gauges do both.
//!
//! **Histograms** are tally log-linear histograms of `u64` values
//! ([`HistogramConfig::DEFAULT`](tally::HistogramConfig::DEFAULT): up to 10¹¹, about 3 %
//! relative error):
//! - a histogram named `…_seconds`, or described with [`metrics::Unit::Seconds`] before its
//!   first use, records **nanoseconds**: `v × 10⁹` rounded (`0.0125` → `12_500_000`). It is
//!   registered as `…_ns` (`request_duration_seconds` → `request_duration_ns`, unit
//!   `nanoseconds`), which `tally-prometheus` exposes as `…_seconds` in seconds;
//! - any other histogram records its values **rounded to the nearest integer** in its own
//!   unit (`1536.4` bytes → `1536`; a ratio `0.3` → `0`): use integer units.
//!
//! NaN, infinite and negative values are dropped and counted in `rejected_values`.
//! `record_many(v, n)` records `n` values as one event. `tally-prometheus` exposes
//! classic buckets from its [`EncodeOptions`](https://docs.rs/tally-prometheus) bounds,
//! nanosecond latencies by default: give histograms of other units their own bounds there
//! (`buckets_for(name, name, …)`, the registered name twice).
//!
//! **Descriptions.** `describe_*!` sets the registry's help text and unit (the unit's
//! `as_str()`: `bytes`, `seconds`, …; `nanoseconds` for a histogram recorded in
//! nanoseconds), before or after first use; the last description wins. Only the
//! seconds-to-nanoseconds choice must be known at first use: a histogram described in
//! seconds (by `describe_histogram!`) after it keeps whole values and logs a warning once.
//!
//! **Names.** `metrics` allows any string; Prometheus and tally do not. Names are
//! sanitized, not rejected ([`sanitize_metric_name`]): `http.requests-total` records as
//! `http_requests_total`; names equal after sanitizing are one metric. Label keys likewise
//! ([`sanitize_label_name`]); a histogram's label `le` (the bucket label) becomes `_le`.
//!
//! **Label keys that differ.** A metric's label names are those of its first use. A later
//! use with another set of label keys is recorded into the series of the metric's own
//! labels, matched by name: missing labels are empty (as Prometheus reads an absent label),
//! extra ones are dropped. Nothing is lost from the totals, but the series is not the one
//! asked for, so each such registration is counted in `label_conflicts` and the first per
//! metric is logged (`log::warn!`). The same keys in another order are not a conflict.
//!
//! **Kinds that differ, and taken names.** A name used as two kinds (`counter!("x")` and
//! `gauge!("x")`), or already registered in the registry by other code, cannot record the
//! second kind: those updates are dropped, each counted in `rejected_updates`, and the
//! first logged.
//!
//! **Cardinality.** Label-value combinations past the limit
//! ([`Builder::cardinality_limit`], default [`tally::DEFAULT_CARDINALITY_LIMIT`]) record
//! into the family's overflow series (every label value [`tally::OVERFLOW_LABEL`]), which
//! acts as one series (a gauge `set` there sets the overflow series' level), and the
//! family counts the redirects (`overflow_redirects` in the snapshot). Registrations past
//! the limit are not cached, so each takes the slow path: a mutex and a redirect.
//!
//! # Coherence
//!
//! What the facade gives, from tally underneath:
//! - **Each update lands exactly once**: no increment, observation or gauge move is lost
//!   or counted twice, from any number of threads, thread exits included; dropped values
//!   (above) are counted instead.
//! - **Counters are monotone**: no snapshot shows a counter lower than an earlier one.
//! - **No torn field**: a histogram's count, sum and buckets in a snapshot come from the
//!   same set of observations (`record_many` too), never half of one.
//!
//! What it cannot give: every `metrics` call touches **one field of one series**, so two
//! calls are two events. After `counter!("requests_total").increment(1)` and
//! `counter!("errors_total").increment(1)`, a snapshot taken in between sees the request
//! without its error; `successes + failures == total` cannot hold across facade calls.
//! Gauge levels seen between updates from several threads may be sums no thread ever set.
//! For events that must be whole, declare a set with [`tally::metric_set!`] and record the
//! fields in one `record` call; it registers in the same registry, beside the facade's
//! metrics.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod claim;
mod handles;
mod install;
mod naming;
mod recorder;
mod scale;
mod stats;

pub use install::{InstallError, install};
pub use naming::{sanitize_label_name, sanitize_metric_name};
pub use recorder::{Builder, RecorderError, STATS_METRIC, TallyRecorder};
pub use stats::{RecorderStats, RecorderStatsEvent, RecorderStatsSnapshot};
