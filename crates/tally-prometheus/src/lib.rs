//! Prometheus text 0.0.4 and OpenMetrics 1.0 exposition of tally registry snapshots.
//!
//! ```
//! use tally::{Cache, InferenceStats, Outcome, Registry};
//! use tally_prometheus::{Format, encode_openmetrics, encode_text};
//!
//! let registry = Registry::new();
//! let stats = registry.register::<InferenceStats>("inference", "The model server.").unwrap();
//! stats.record_request(Outcome::Success, Cache::Miss);
//! let snapshot = registry.snapshot();
//!
//! let mut text = String::new();
//! encode_text(&snapshot, &mut text);
//! assert!(text.contains("# TYPE inference_total_inferences_total counter\n"));
//! assert!(text.contains("inference_total_inferences_total 1\n"));
//! assert!(text.contains("# TYPE inference_in_flight gauge\ninference_in_flight 0\n"));
//!
//! let mut open = String::new();
//! encode_openmetrics(&snapshot, &mut open);
//! assert!(open.contains("# TYPE inference_total_inferences counter\n"));
//! assert!(open.contains("inference_total_inferences_total 1\n"));
//! assert!(open.ends_with("# EOF\n"));
//!
//! // In an HTTP handler: pick the format from the request's Accept header.
//! let format = Format::from_accept("application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1");
//! assert_eq!(format, Format::OpenMetrics);
//! assert_eq!(format.content_type(), "application/openmetrics-text; version=1.0.0; charset=utf-8");
//! ```
//!
//! The library depends on `tally-snapshot` only: it encodes a
//! [`RegistrySnapshot`](tally_snapshot::RegistrySnapshot), whether collected from a
//! `tally::Registry`, merged from several processes, or deserialized.
//!
//! The main items:
//! - [`encode_text`], [`encode_openmetrics`]: the two formats with default options;
//!   [`encode`] with [`EncodeOptions`], returning an [`EncodeReport`] of what was written and
//!   what was [`Skipped`].
//! - [`Format`], [`TEXT_CONTENT_TYPE`], [`OPENMETRICS_CONTENT_TYPE`],
//!   [`Format::from_accept`]: content negotiation.
//! - [`family_name`]: the name a field is exposed under.
//!
//! # What is written
//!
//! **Names.** Each field of each registered metric becomes one metric family named
//! `<registered name>_<field name>` ([`family_name`]): the field `total_inferences` of the
//! set registered as `inference` is the family `inference_total_inferences`. A field named
//! like its metric (the one-field sets of `tally-metrics`) is named by the field alone. Counters get
//! the `_total` sample suffix (`inference_total_inferences_total`), in both formats, so the
//! series have the same names whichever format a scraper negotiates; a counter field already
//! named `…_total` is not doubled (`requests_total` → family `…_requests`, sample
//! `…_requests_total`). In the text format a counter's `# HELP` and `# TYPE` lines name the
//! sample (`…_total`), as the Prometheus client libraries write them; in OpenMetrics they
//! name the family. Two fields that map to clashing names (one family's name or sample names
//! — `_total`, `_bucket`, `_sum`, `_count`, `_created` — equal to another's) cannot both be
//! exposed: a `tally::Registry` refuses the second at registration, and deserialization and
//! merges refuse a snapshot holding both (`tally_snapshot::RegistrySnapshot::validate`), so
//! only a snapshot built by hand reaches the encoder with a clash; then the first, in
//! metric-name then field order, is kept, the other reported ([`Skipped::NameClash`]).
//!
//! **Kinds.** Counters (`u64`) and gauges (`i64`, both `Gauge` and `LastValue`; a
//! `LastValue` never set reads 0) are printed as exact decimal integers, never through
//! `f64`, so counts above 2⁵³ survive to the parser. Float counters and gauges
//! (`CounterF64`, `GaugeF64`, `LastValueF64`) are printed in Rust's shortest round-trip form
//! (`0.75`, `1e-7`, `+Inf` for an infinite last value), which every parser reads back as the
//! same `f64`. Histograms are classic histograms:
//! `_bucket{le="…"}` lines from
//! [`HistogramSnapshot::cumulative_counts_into`](tally_snapshot::HistogramSnapshot::cumulative_counts_into)
//! (the counts of `to_cumulative`)
//! with the bounds of [`EncodeOptions`] (by default its unit's, [`default_bounds`]: 1 µs
//! to 10 s for seconds, decades of 1, 2.5 and 5 over the configured range otherwise; set
//! bounds per field with [`EncodeOptions::buckets_for`]), a final `le="+Inf"` bucket equal
//! to `_count`, then `_sum` and `_count`. A bucket
//! count never includes a value above its `le`; see `to_cumulative` for how far below the
//! exact count it can be. `min`, `max` and native histograms are not exposed (the text
//! formats have no native histograms).
//!
//! **Units** are the fields' own, declared with them (`FieldDesc::unit`; a histogram's is
//! its `HistogramConfig`'s), never guessed from names. A family with a unit is named
//! `…_<unit>` (appended unless the name already ends with it: `gpu_busy` in `Ratio` →
//! `…_gpu_busy_ratio`, `size_bytes` stays) and has `# UNIT` in OpenMetrics, as the format
//! requires. A histogram recorded in fractional steps of its unit (a seconds histogram in
//! nanoseconds) is exposed in its unit by default: its `le` bounds and `_sum` divided by
//! `10^decimals` (`_sum` is then a float; counts stay exact), and a field named `…_ns` in
//! nanosecond steps is exposed as `…_seconds` ([`EncodeOptions::in_unit`] turns this off:
//! raw steps, no unit). A field without a unit may still get the unit given at
//! registration, which applies to a whole metric set: it is declared only on the families
//! whose name ends in `_<unit>` (a registration with unit `bytes` declares it on
//! `…_size_bytes` and not on `…_requests`). The text format has no units.
//!
//! **Help.** A family's `# HELP` is its field's help (its doc comment, for sets declared
//! with `metric_set!`), or the metric's registered help if the field has none; no `# HELP`
//! line when both are empty. It is escaped per format: `\` and line feed in both, `"` too in
//! OpenMetrics. (The text format's tokenizer skips blanks before the help, so leading
//! spaces and tabs do not survive a text-format round trip; OpenMetrics keeps them.)
//!
//! **Labels.** A family's series are labelled with the metric's label names and each
//! series' values (the overflow series of a capped family is just another value,
//! `__overflow__`); histogram buckets add `le` last. Label values may be any UTF-8 and are
//! escaped as both formats require: `\` → `\\`, `"` → `\"`, line feed → `\n`.
//!
//! **Not written:** `_created` samples, timestamps, exemplars, and a family's count of
//! redirects to its overflow series (`MetricSnapshot::overflow_redirects`; register a
//! metric of your own to expose it).
//!
//! **Order.** Families by name; within a family, series by label values (byte order, in
//! label-name order); the output is the same for the same snapshot.
//!
//! # Why not `prometheus-client`'s encoder
//!
//! `prometheus-client` 0.25 (the official Rust client) was considered for the encoding: its
//! `Collector` trait and `encode_histogram` can expose values held elsewhere. It does not
//! fit here: it writes OpenMetrics only (no text 0.0.4); it writes `# HELP` text unescaped
//! (a help with a line feed breaks the exposition; prometheus/client_rust#151); it always
//! appends the unit and `_total` to names, doubling names that already end with them; and
//! it needs a `Registry` of boxed collectors and `dyn Write` calls per token on every
//! scrape. Both formats are a few line shapes, so the encoder writes them by hand: one pass,
//! labels escaped once per series, integers formatted without `f64`. It is checked against
//! `promtool`, Prometheus' own OpenMetrics parser and the Python client's two parsers (see
//! the crate's tests), and encodes the same 10,000 series about 3× faster than
//! `prometheus-client` (the `encode` benchmark, in the separate `benches/` workspace:
//! `cargo bench --manifest-path benches/Cargo.toml --bench encode`).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod encode;
mod format;
mod naming;
mod options;
mod report;
mod write;

pub use encode::{encode, encode_openmetrics, encode_text};
pub use format::{Format, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use naming::family_name;
pub use options::{DEFAULT_LATENCY_BUCKETS_NS, EncodeOptions, default_bounds};
pub use report::{EncodeReport, Skipped};

/// The README's examples, run as doctests so that they keep compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
