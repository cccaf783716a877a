//! What the encoder can be told: classic histogram bounds, and whether nanosecond
//! histograms are exposed in seconds.

use std::collections::BTreeMap;

/// The default classic-histogram bounds, in nanoseconds: 1, 2.5 and 5 times each power of
/// ten from 1 µs to 10 s (22 bounds; `+Inf` is always added).
///
/// Exposed in seconds (`0.000001` … `10`) for fields whose name ends in `_ns` (see
/// [`EncodeOptions::ns_as_seconds`]).
pub const DEFAULT_LATENCY_BUCKETS_NS: [f64; 22] = [
    1e3, 2.5e3, 5e3, 1e4, 2.5e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 2.5e7, 5e7, 1e8,
    2.5e8, 5e8, 1e9, 2.5e9, 5e9, 1e10,
];

/// How to encode: the `le` bounds of classic histograms and the nanoseconds-to-seconds
/// rule. [`Default`] is what [`encode_text`](crate::encode_text) and
/// [`encode_openmetrics`](crate::encode_openmetrics) use.
///
/// **Bounds are in the unit the histogram records** (nanoseconds for a `latency_ns`
/// field), so they compare with the recorded values directly
/// ([`HistogramSnapshot::to_cumulative`](tally_snapshot::HistogramSnapshot::to_cumulative));
/// scaling to seconds, if it applies, happens when they are written.
///
/// # Examples
///
/// ```
/// use tally_prometheus::EncodeOptions;
///
/// let options = EncodeOptions::new()
///     // Every histogram without bounds of its own: 1 ms, 10 ms, 100 ms, 1 s.
///     .buckets([1e6, 1e7, 1e8, 1e9])
///     // The `size_bytes` field of the metric registered as `uploads`.
///     .buckets_for("uploads", "size_bytes", [1024.0, 65536.0, 1048576.0]);
/// assert_eq!(options.bounds_for("uploads", "size_bytes"), [1024.0, 65536.0, 1048576.0]);
/// assert_eq!(options.bounds_for("inference", "latency_ns"), [1e6, 1e7, 1e8, 1e9]);
/// assert!(options.is_ns_as_seconds());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeOptions {
    buckets: Vec<f64>,
    per_field: BTreeMap<(String, String), Vec<f64>>,
    ns_as_seconds: bool,
}

impl Default for EncodeOptions {
    /// [`DEFAULT_LATENCY_BUCKETS_NS`] for every histogram; `_ns` histograms in seconds.
    fn default() -> Self {
        EncodeOptions {
            buckets: DEFAULT_LATENCY_BUCKETS_NS.to_vec(),
            per_field: BTreeMap::new(),
            ns_as_seconds: true,
        }
    }
}

/// Sorted, deduplicated, finite and non-negative: the values are `u64`, so a negative bound
/// would always count 0 (and OpenMetrics forbids `_sum` beside negative buckets); `+Inf`
/// is always added by the encoder.
fn clean(bounds: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut bounds: Vec<f64> = bounds.into_iter().filter(|b| b.is_finite() && *b >= 0.0).collect();
    bounds.sort_by(f64::total_cmp);
    // -0.0 and 0.0 are one bound.
    bounds.dedup_by(|a, b| a == b);
    bounds
}

impl EncodeOptions {
    /// The defaults (see [`Default`](#impl-Default-for-EncodeOptions)).
    pub fn new() -> Self {
        EncodeOptions::default()
    }

    /// The `le` bounds of every histogram without bounds of its own, in the histogram's
    /// recorded unit. NaN, infinite and negative bounds are dropped, the rest sorted and
    /// deduplicated; `+Inf` is always added. An empty list leaves only `+Inf`.
    pub fn buckets(mut self, le: impl IntoIterator<Item = f64>) -> Self {
        self.buckets = clean(le);
        self
    }

    /// The `le` bounds of the histogram field `field` of the metric registered as `metric`
    /// (the names in the snapshot, before any renaming), cleaned as in
    /// [`buckets`](Self::buckets).
    pub fn buckets_for(
        mut self,
        metric: &str,
        field: &str,
        le: impl IntoIterator<Item = f64>,
    ) -> Self {
        self.per_field.insert((metric.to_owned(), field.to_owned()), clean(le));
        self
    }

    /// Whether a histogram field whose name ends in `_ns` is exposed in seconds (default
    /// `true`): named `…_seconds` instead of `…_ns`, with its `le` bounds and `_sum`
    /// divided by 10⁹ (the sum then becomes a float; bucket counts and `_count` stay
    /// exact), and `# UNIT … seconds` in OpenMetrics. Prometheus expects base units, and
    /// its linters flag `ns`. Counters and gauges keep their names and exact integer
    /// values whatever this says.
    pub fn ns_as_seconds(mut self, on: bool) -> Self {
        self.ns_as_seconds = on;
        self
    }

    /// See [`ns_as_seconds`](Self::ns_as_seconds).
    pub fn is_ns_as_seconds(&self) -> bool {
        self.ns_as_seconds
    }

    /// The `le` bounds (without `+Inf`) used for the histogram field `field` of `metric`.
    pub fn bounds_for(&self, metric: &str, field: &str) -> &[f64] {
        // A BTreeMap keyed by owned pairs cannot be probed with borrowed ones; the map is
        // small (one entry per configured field), so a scan is fine.
        self.per_field
            .iter()
            .find(|((m, f), _)| m == metric && f == field)
            .map_or(&self.buckets, |(_, b)| b)
    }
}
