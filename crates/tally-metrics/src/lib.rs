//! A [`metrics`] recorder for tally: `counter!`, `gauge!` and `histogram!` (with labels)
//! record into tally families registered in a [`tally::Registry`].
//!
//! ```
//! use std::sync::Arc;
//! use tally::{HistogramConfig, Value};
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
//!     metrics::gauge!("cache_fill_ratio").set(0.75);
//!     metrics::histogram!("request_duration_seconds").record(0.0125);
//!     metrics::describe_histogram!("response_size", metrics::Unit::Bytes, "Body sizes.");
//!     metrics::histogram!("response_size").record(1536.0);
//!     metrics::histogram!("batch_fill").record(0.3);
//! });
//!
//! let snap = registry.snapshot();
//! let requests = &snap.metrics["http_requests_total"];
//! assert_eq!(requests.help, "Requests served.");
//! assert_eq!(requests.label_names, ["status"]);
//! assert_eq!(requests.series[0].labels, ["200"]);
//! assert_eq!(requests.series[0].snapshot.get("http_requests_total"), Some(&Value::Counter(3)));
//! // A gauge is its exact `f64` level, in a float last-value field.
//! let fill = &snap.metrics["cache_fill_ratio"].series[0].snapshot;
//! match fill.get("cache_fill_ratio") {
//!     Some(Value::LastValueF64(last)) => assert_eq!(last.value, 0.75),
//!     other => panic!("{other:?}"),
//! }
//! // A histogram keeps its name; seconds are recorded in steps of one nanosecond.
//! let duration = &snap.metrics["request_duration_seconds"].series[0].snapshot;
//! match duration.get("request_duration_seconds") {
//!     Some(Value::Histogram(h)) => {
//!         assert_eq!(h.config(), HistogramConfig::SECONDS);
//!         assert_eq!(h.sum(), 12_500_000); // in steps: nanoseconds
//!         assert_eq!(h.config().sum_to_unit(h.sum()), 0.0125); // in seconds
//!     }
//!     other => panic!("{other:?}"),
//! }
//! // Undescribed and not named by a unit: a plain number, in steps of 10^-5.
//! match snap.metrics["batch_fill"].series[0].snapshot.get("batch_fill") {
//!     Some(Value::Histogram(h)) => assert_eq!(h.config().sum_to_unit(h.sum()), 0.3),
//!     other => panic!("{other:?}"),
//! }
//!
//! let mut text = String::new();
//! tally_prometheus::encode_text(&snap, &mut text);
//! assert!(text.contains("http_requests_total{status=\"200\"} 3\n"));
//! assert!(text.contains("queue_depth 7.0\n"));
//! assert!(text.contains("cache_fill_ratio 0.75\n"));
//! assert!(text.contains("request_duration_seconds_sum 0.0125\n"));
//! // Bytes: byte bounds (50 B to 1 TB), not latency bounds; the unit appended to the name.
//! assert!(text.contains("response_size_bytes_bucket{le=\"2500.0\"} 1\n"));
//! assert!(text.contains("response_size_bytes_sum 1536\n"));
//! assert!(text.contains("batch_fill_sum 0.3\n"));
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
//! counter increment takes the same single-word path as a `metric_set!` field's `inc()`,
//! a gauge update one atomic operation on the series' level and a stamped last-value write
//! (see Gauges), a histogram value one tally record. A miss (a new name
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
//! **Gauges** are float last-value fields ([`FieldKind::LastValueF64`](tally::FieldKind),
//! read as [`Value::LastValueF64`](tally::Value)) holding the gauge's level **exactly**, as
//! the `f64` it is: `set(0.75)` reads back `0.75`, and ten `increment(0.1)` read back what
//! ten `f64` additions of `0.1` give (`0.9999999999999999`), never a rounded value. Each
//! series keeps its level in one atomic: `set` swaps it, `increment`/`decrement` add to it
//! (a compare-and-swap loop, so concurrent moves add up exactly as `f64` additions in some
//! order; moves by dyadic amounts such as `0.25` give an exact total in any order). The
//! thread that changed the level then writes it into the field, and writes again while the
//! level has moved on since; each write is stamped and the newest stamp wins, so **once
//! updates stop, the field equals the level exactly** (the last value stored, or the sum of
//! the moves). The argument: a change of the level made after a thread's check is written
//! by its own thread, after that check, with a later stamp (stamps come from the process'
//! monotonic clock). The one gap is a tie: two writes stamped in the same nanosecond are
//! ordered by value, not by time. A `set` or a move that would make the level NaN or infinite is dropped and
//! counted (below). `tally-prometheus` exposes the float as written (`cache_fill_ratio
//! 0.75`, `queue_depth 7.0`).
//!
//! **Histograms** are tally log-linear histograms registered **under the metric's own
//! (sanitized) name**: `request_duration_seconds` is `request_duration_seconds` in the
//! registry snapshot. Their configuration, and the factor from a `metrics` value to the
//! histogram's integer steps, come from the unit given by `describe_histogram!` **before the
//! first use** (a unit described for another kind of metric of the same name does not
//! count), else from the name:
//! - described [`Unit::Seconds`](metrics::Unit::Seconds), `Milliseconds`, `Microseconds` or
//!   `Nanoseconds`, or undescribed and named `…_seconds`: a seconds histogram
//!   ([`HistogramConfig::SECONDS`](tally::HistogramConfig::SECONDS): steps of 1 ns, 32 ns to
//!   100 s within 2^-5) recording `v × 10⁹`, `10⁶`, `10³` or `1` steps (`0.0125` s and
//!   `12.5` ms are both `12_500_000` steps);
//! - described `Bytes`, `Kibibytes`, `Mebibytes`, `Gibibytes` or `Tebibytes`, or
//!   undescribed and named `…_bytes`: a bytes histogram
//!   ([`HistogramConfig::BYTES`](tally::HistogramConfig::BYTES): whole bytes, up to 1 TiB)
//!   recording `v × 1`, `1024`, `1024²`, … bytes;
//! - anything else (another unit, or undescribed): a plain number,
//!   `HistogramConfig::for_range(Unit::None, 1e-3, 1e12, 5)`, in steps of 10⁻⁵, so
//!   `0.5` and `0.3` are recorded as they are (`50_000` and `30_000` steps), not rounded to
//!   integers.
//!
//! A value is recorded as `round(v × factor)` steps (halves up). Negative values, NaN,
//! infinities and values at or past 2^63 steps are dropped and counted (below). In a
//! [`HistogramSnapshot`](tally::HistogramSnapshot), `sum()`, `min()` and `max()` are in
//! steps (nanoseconds for seconds); `h.config().sum_to_unit(h.sum())` and
//! `h.config().to_unit(steps)` give them in the unit. `record_many(v, n)` records `n`
//! values as one event. `tally-prometheus` exposes each in its unit: seconds histograms as
//! `…_seconds` with `le` bounds and `_sum` in seconds (default bounds 1 µs to 10 s), bytes
//! histograms as `…_bytes` with byte bounds (50 B to 1 TB), plain numbers with bounds of 1,
//! 2.5 and 5 × 10ⁿ from 0.0005 up; `_<unit>` is appended to the family name unless it
//! already ends with it, and OpenMetrics says `# UNIT`. Give a histogram bounds of its own
//! with [`EncodeOptions::buckets_for`](https://docs.rs/tally-prometheus) (the registered
//! name twice: metric, then field).
//!
//! **Refused values.** Each dropped value is counted twice: in the recorder's
//! `rejected_values` stat ([`TallyRecorder::stats`]) and in the process-wide
//! [`tally::rejected_values()`], by reason (negative, not finite, too large); the first per
//! metric is logged (`log::warn!`).
//!
//! **Descriptions.** `describe_*!` sets the registry's help text and unit (the unit's
//! `as_str()`: `bytes`, `seconds`, `milliseconds`, …), before or after first use; the last
//! description wins. Counters and gauges described in `Seconds` or `Bytes` carry that unit
//! in their tally field, so `tally-prometheus` appends `_seconds` or `_bytes` to their name
//! unless it ends with it already; other units leave the values and the field's unit as
//! they are (the registry still records the unit's name, which OpenMetrics declares when
//! the metric's name ends with it). The unit a metric records in is fixed at its first use:
//! a description after it with a unit that would record differently (a plain histogram
//! described in seconds, a `…_seconds` histogram described in milliseconds, a counter
//! described in bytes) is logged once (`log::warn!`), and the metric keeps recording in its
//! first unit (its help text and the registry's unit name are still updated).
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
//! A gauge updated from several threads may, while updates go on, briefly show a level the
//! series has already moved on from (a slower thread's write can be the newest for a
//! moment); once they stop, it shows the level.
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
