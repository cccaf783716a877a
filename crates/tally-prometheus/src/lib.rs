//! Prometheus text 0.0.4, OpenMetrics 1.0 and protobuf (with native histograms) exposition
//! of tally registry snapshots.
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
//! - [`encode_text`], [`encode_openmetrics`]: the two text formats with default options;
//!   [`encode`] with [`EncodeOptions`], returning an [`EncodeReport`] of what was written and
//!   what was [`Skipped`].
//! - [`encode_protobuf`]: the protobuf format, histograms as native histograms (see
//!   [below](#the-protobuf-format)); [`encode_bytes`]: any format into bytes; [`proto`]:
//!   its messages, to decode it with; [`NATIVE_ZERO_THRESHOLD`].
//! - [`Format`], [`TEXT_CONTENT_TYPE`], [`OPENMETRICS_CONTENT_TYPE`],
//!   [`PROTOBUF_CONTENT_TYPE`], [`Format::from_accept`] (the text formats) and
//!   [`Format::from_accept_with_protobuf`] (all three): content negotiation.
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
//! exact count it can be. `min` and `max` are not exposed, nor native histograms (the text
//! formats have none; the protobuf format has them).
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
//! # The protobuf format
//!
//! [`Format::Protobuf`] ([`PROTOBUF_CONTENT_TYPE`]) is a sequence of
//! `io.prometheus.client.MetricFamily` messages ([`proto`]), each preceded by its length as
//! a varint. Prometheus asks for it first when its native histograms are enabled (2.42:
//! `--enable-feature=native-histograms`; [`Format::from_accept_with_protobuf`] reads that
//! `Accept` header), and then stores histograms sent with native buckets as **native
//! histograms**: every tally bucket's count at full resolution, rather than the 20-odd
//! classic `_bucket` series. It is binary, so [`encode`] (into a `String`) does not write
//! it and [`Format::from_accept`] never picks it; [`encode_protobuf`] and [`encode_bytes`]
//! do.
//!
//! **The same families.** It writes what the text formats write, from the same plan: the
//! same families in the same order, the same names, help (its field's or its metric's, as
//! in OpenMetrics, unescaped), unit (the `unit` field: the OpenMetrics `# UNIT`), labels
//! (unescaped) and series, and leaves out what they leave out. A counter's family is named
//! by its sample, `…_total`, as the text format's `# TYPE` line names it and as Prometheus
//! stores it. Float counters and gauges are their exact `f64`.
//!
//! **Integers are never rounded.** The format carries every value as an `f64` (`double`),
//! which holds integers exactly up to 2^53 and only some beyond. The text formats write
//! integers exactly (see "Kinds" above); here an integer with no exact `f64` (a counter
//! at 2^53 + 1, a gauge at `i64::MAX`, the sum of a histogram exposed in whole steps past
//! 2^53) cannot be written, so its series is left out and reported as
//! [`Skipped::InexactInteger`], never rounded; a server should then answer that scrape in
//! the text format the scraper accepts next, as `tally-http` does. Integers that have an
//! exact `f64` (every one up to 2^53 in magnitude, and 2^53 + 2, `i64::MIN`, ...) are
//! written. Histogram counts are `uint64` and always exact.
//!
//! **Native histograms.** Each histogram series is
//! [`HistogramSnapshot::to_native_in_unit`](tally_snapshot::HistogramSnapshot::to_native_in_unit)
//! (in the unit when the text formats expose it in the unit, else `to_native`, in steps)
//! at schema [`NativeHistogram::schema_for`](tally_snapshot::NativeHistogram::schema_for): the configuration's `sub_bucket_bits` `k`, clamped to
//! Prometheus' `-4..=8`, so that its `2^schema` native buckets per power of two are about
//! as fine as tally's `2^k`. Positive buckets are spans and delta-encoded counts
//! ([`NativeHistogram::positive_spans`](tally_snapshot::NativeHistogram::positive_spans)),
//! zeros are the zero bucket's count with a threshold of [`NATIVE_ZERO_THRESHOLD`]
//! (2^-128, below every non-zero value), a histogram without values above zero has a no-op
//! span, and `sample_count` and `sample_sum` are the exact count and the sum the text
//! formats write. By default only the native buckets are written;
//! [`EncodeOptions::classic_in_protobuf`] adds the classic buckets beside them.
//!
//! **Quantiles.** With `ε = 2^-k` (the histogram's
//! [`relative_error`](tally_snapshot::HistogramConfig::relative_error)) and
//! `γ = 2^(2^-schema)` (a native bucket's upper bound over its lower: `γ − 1` is 2.19% at
//! the default `k` = 5, and 0.27% at schema 8, for `k` = 8 to 10), what Prometheus'
//! `histogram_quantile(q, …)` returns, `P`, for `0 < q <= 1`, is bounded as follows.
//! Each tally bucket is placed whole in the native bucket `(l, u]` (`u = γ l`) holding its
//! representative `R` (its midpoint, clamped to `[min, max]`); the placement keeps the
//! buckets' order, so Prometheus finds the native bucket holding the value of rank
//! `r = ceil(q × count)`, the rank tally's quantile uses, and interpolates linearly inside
//! it: `l < P <= u` while `l < R <= u`, so `R/γ < P < R γ`. Then:
//!
//! - against the exact quantile `X` (the `r`-th smallest value, if at most `max_value`):
//!   `R` is within `ε/2 × X` of `X` (half a bucket's width, at most `ε × X`), so
//!   **`X (1 − ε/2) / γ < P < X (1 + ε/2) γ`**: at `k` = 5, from 3.7% below to 3.8% above;
//! - against tally's own quantile `T`
//!   ([`HistogramSnapshot::quantile`](tally_snapshot::HistogramSnapshot::quantile), in the
//!   unit) for ranks other than the first and the last: `T` is the same midpoint rounded
//!   down to a step and clamped, so `T <= R <= T + ½ step`, and
//!   **`T / γ < P < (T + ½ step) γ`**: within 2.2% at `k` = 5. (Ranks 1 and `count` give
//!   `T` = the exact `min` or `max`, where the first bound applies.)
//!
//! Both hold up to `f64` rounding (the bucket boundaries, one division, the
//! interpolation), a few units in the last place, which the tests allow as a relative
//! 2^-50. Values above `max_value` are only known to be at most `max`: no relative bound
//! holds for quantiles among them. The tests check both bounds against a model of
//! Prometheus' `histogram_quantile` (`tests/protobuf.rs`, a property test) and against a
//! real Prometheus server (`tally-http`'s `tests/prometheus_native_histograms.rs`).
//!
//! # Why not `prometheus-client`'s encoder
//!
//! `prometheus-client` 0.25 (the official Rust client) was considered for the encoding: its
//! `Collector` trait and `encode_histogram` can expose values held elsewhere. It does not
//! fit here: it writes OpenMetrics only (no text 0.0.4; its protobuf output is the
//! OpenMetrics data model, not the `io.prometheus.client` messages Prometheus reads native
//! histograms from); it writes `# HELP` text unescaped
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
pub mod proto;
mod protobuf;
mod report;
mod write;

pub use encode::{encode, encode_openmetrics, encode_text};
pub use format::{Format, OPENMETRICS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use naming::family_name;
pub use options::{DEFAULT_LATENCY_BUCKETS_NS, EncodeOptions, default_bounds};
pub use protobuf::{NATIVE_ZERO_THRESHOLD, encode_bytes, encode_protobuf};
pub use report::{EncodeReport, Skipped};

/// The README's examples, run as doctests so that they keep compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
