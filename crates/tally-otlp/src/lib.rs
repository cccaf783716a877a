//! Push tally registry snapshots over [OTLP]/HTTP (protobuf) to an OpenTelemetry Collector,
//! or any receiver that speaks it (Grafana Alloy, Prometheus' `/api/v1/otlp`, vendors).
//!
//! A snapshot becomes an `ExportMetricsServiceRequest` built from the official
//! generated types (`opentelemetry-proto`):
//!
//! ```
//! use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point::Value};
//! use tally::{Cache, InferenceStats, Outcome, Registry};
//! use tally_otlp::OtlpExporter;
//!
//! let registry = Registry::new();
//! let stats = registry.register::<InferenceStats>("inference", "The service's requests.")?;
//! stats.record_request(Outcome::Success, Cache::Hit);
//! stats.record_request(Outcome::Failure, Cache::Miss);
//!
//! let mut exporter = OtlpExporter::builder().service_name("ranker").build()?;
//! let request = exporter.request(&registry.snapshot());
//! let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
//! let total = metrics.iter().find(|m| m.name == "inference_total_inferences").unwrap();
//! let Some(Data::Sum(sum)) = &total.data else { panic!("a counter is a sum") };
//! assert!(sum.is_monotonic);
//! assert_eq!(sum.data_points[0].value, Some(Value::AsInt(2)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In a service, an exporter posts on an interval from a thread of its own, and flushes at
//! the end:
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tally::{InferenceStats, Registry};
//! use tally_otlp::OtlpExporter;
//!
//! let registry = Arc::new(Registry::new());
//! let stats = registry.register::<InferenceStats>("inference", "The service's requests.")?;
//! // OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, ... as every OpenTelemetry SDK reads them.
//! let exporter = OtlpExporter::builder().from_env().build()?;
//! let exporting = exporter.every(Duration::from_secs(10), {
//!     let registry = Arc::clone(&registry);
//!     move || registry.snapshot()
//! })?;
//! // ... serve ...
//! let report = exporting.finish(); // a last export, flushed
//! assert_eq!(report.dropped_batches(), 0, "{report:?}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The mapping
//!
//! | tally field | OTLP metric | points |
//! |---|---|---|
//! | `Counter` | `Sum`, monotonic | `as_int` |
//! | `CounterF64` | `Sum`, monotonic | `as_double` |
//! | `Gauge`, `LastValue` | `Gauge` | `as_int` |
//! | `GaugeF64`, `LastValueF64` | `Gauge` | `as_double` |
//! | `Histogram` | `ExponentialHistogram` | in the declared unit (seconds, bytes) |
//!
//! - **Names** are the family names `/metrics` shows (one home:
//!   [`tally_snapshot::family_name`]): `inference_latency_seconds`, a counter without
//!   `_total`. The **unit** goes in the metric's `unit` field in UCUM (`s`, `By`, `1`;
//!   [`tally_snapshot::Unit::ucum`]), so a collector's Prometheus exporter, which appends
//!   the unit and `_total` where missing, gives back exactly the names `/metrics` has.
//!   Descriptions are the help texts `/metrics` shows.
//! - **Labels** become string attributes; each registered metric's series share one OTLP
//!   metric per field.
//! - **Resource**: `service.name` (default `unknown_service:<executable>`),
//!   `service.instance.id` if given, `telemetry.sdk.*`, and any attribute you add
//!   ([`Builder::resource_attribute`], `OTEL_RESOURCE_ATTRIBUTES`). Scope: `tally` and
//!   its version.
//! - **Integers are never rounded.** An integer counter above 2^63 − 1 (OTLP's `as_int`
//!   is signed) is left out of its batch, counted and listed in
//!   [`ExportReport::refused`], never sent as a rounded double.
//! - **Floats** are sent as recorded. With delta temporality a float counter's delta is
//!   `later − earlier` correctly rounded: exact when the difference is representable, as
//!   it is for counts of whole and binary-fraction amounts; otherwise off by at most half
//!   an ulp per export.
//!
//! # Temporality
//!
//! [`Temporality::Cumulative`] (default): counters and histograms since
//! [`Builder::start_time`] (default: when the exporter was built), the same start on
//! every point, so any later export makes up for a lost one. [`Temporality::Delta`]: the
//! change since the previous collection, computed exactly from the two snapshots
//! (counters subtract, histograms subtract bucket by bucket; each point's start is the
//! previous collection's time, so consecutive points tile time). A series that went
//! backwards (re-created) sends its whole value. Gauges are gauges either way.
//!
//! # Exponential histograms
//!
//! tally's histograms are log-linear (`2^k` linear sub-buckets per power of two);
//! OTLP's are exponential (`base = 2^(2^-scale)`). A histogram is sent at
//! scale = its `sub_bucket_bits` (at most 8;
//! [`NativeHistogram::schema_for`](tally_snapshot::NativeHistogram::schema_for), the rule
//! Prometheus native histograms follow too), each log-linear bucket placed
//! as a whole by its midpoint ([`tally_snapshot::HistogramSnapshot::to_native_in_unit`]),
//! in the declared unit (nanosecond steps as seconds). **Exact:** `count`, `zero_count`
//! (zeros), and, for cumulative points, `min` and `max`; `sum` is the exact sum correctly
//! rounded to `f64`. **Error:** a value `v` counted in OTLP bucket `(l, u]` satisfies
//! `l·(1 − ε) < v ≤ u·(1 + ε)`, `ε` the histogram's relative error (2^-5 = 3.1% for the
//! defaults): it is in its own bucket or in the neighbouring one, within `ε` of the edge.
//! Delta points leave `min` and `max` out (a delta only knows them to a bucket).
//!
//! # When the receiver is down
//!
//! Each collection is encoded into a batch and queued; batches are posted oldest first.
//! A failure that may pass (unreachable, timeout, 429, 502, 503, 504) leaves the batch
//! queued and the loop retries after a backoff (100 ms doubling to 30 s, or the
//! receiver's `Retry-After`) while it keeps collecting on its interval (a post blocks the
//! exporter's thread for up to [`Builder::timeout`]; intervals it covers are skipped, not
//! caught up on, so a receiver that never answers is collected about once per timeout
//! plus backoff). The queue holds
//! [`Builder::buffer`] batches (default 16); beyond, the oldest is dropped. A batch the
//! receiver refuses (another status) is dropped. Every drop is in the
//! [`ExportReport`]: how many batches and points, why, and the time they covered
//! ([`Dropped`]), so with delta temporality you know exactly which interval's counts
//! never arrived. Recording threads never wait: the exporter only takes snapshots, and a
//! receiver that never answers holds up only the exporter's thread (measured in
//! docs/PERFORMANCE.md). At the end, [`OtlpLoop::finish`] collects once more and keeps
//! flushing, with backoff, for [`Builder::flush_timeout`] (default 5 s); what is still
//! undelivered is reported as [`DropReason::Unsent`].
//!
//! Transport: OTLP/HTTP with protobuf bodies (`application/x-protobuf`) over `ureq`,
//! no async runtime; `https://` with the `tls` feature. gRPC is not spoken: every
//! collector accepts OTLP/HTTP on port 4318.
//!
//! [OTLP]: https://opentelemetry.io/docs/specs/otlp/

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod convert;
mod error;
mod exporter;
mod schedule;
mod transport;

pub use config::{Builder, DEFAULT_BUFFER, DEFAULT_FLUSH_TIMEOUT, DEFAULT_TIMEOUT};
pub use convert::{Refused, Temporality};
pub use error::ExportError;
pub use exporter::{DropReason, Dropped, ExportReport, OtlpExporter};
pub use schedule::OtlpLoop;

/// The generated OTLP types the requests are built from, for inspecting or decoding them.
pub use opentelemetry_proto;

/// The README's example, run as a doctest so that it keeps compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
