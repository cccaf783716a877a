//! What the encoder can be told: classic histogram bounds, whether histograms recorded in
//! fractional steps are exposed in their unit, and whether the protobuf format adds classic
//! buckets to the native ones.

use std::borrow::Cow;
use std::collections::BTreeMap;

use tally_snapshot::{HistogramConfig, Unit};

/// The default classic-histogram bounds, in nanoseconds: 1, 2.5 and 5 times each power of
/// ten from 1 µs to 10 s (22 bounds; `+Inf` is always added).
///
/// The bounds of seconds histograms recorded in nanoseconds ([`HistogramConfig::DEFAULT`]);
/// exposed in seconds (`0.000001` … `10`, see [`EncodeOptions::in_unit`]).
pub const DEFAULT_LATENCY_BUCKETS_NS: [f64; 22] = [
    1e3, 2.5e3, 5e3, 1e4, 2.5e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 2.5e7, 5e7, 1e8,
    2.5e8, 5e8, 1e9, 2.5e9, 5e9, 1e10,
];

/// How to encode: the `le` bounds of classic histograms, whether histograms are exposed in
/// their unit, and whether the protobuf format writes classic buckets too. [`Default`] is what [`encode_text`](crate::encode_text) and
/// [`encode_openmetrics`](crate::encode_openmetrics) use.
///
/// **Bounds are in the steps the histogram records** (nanoseconds for a seconds histogram
/// of the default configuration, whole bytes for [`HistogramConfig::BYTES`]), so they
/// compare with the recorded values directly
/// ([`HistogramSnapshot::to_cumulative`](tally_snapshot::HistogramSnapshot::to_cumulative));
/// scaling to seconds, if it applies, happens when they are written.
///
/// # Examples
///
/// ```
/// use tally_prometheus::EncodeOptions;
/// use tally_snapshot::HistogramConfig;
///
/// let options = EncodeOptions::new()
///     // Every histogram without bounds of its own: 1 ms, 10 ms, 100 ms, 1 s.
///     .buckets([1e6, 1e7, 1e8, 1e9])
///     // The `size_bytes` field of the metric registered as `uploads`.
///     .buckets_for("uploads", "size_bytes", [1024.0, 65536.0, 1048576.0]);
/// let ns = HistogramConfig::DEFAULT;
/// assert_eq!(*options.bounds_for("uploads", "size_bytes", HistogramConfig::BYTES), [1024.0, 65536.0, 1048576.0]);
/// assert_eq!(*options.bounds_for("inference", "latency", ns), [1e6, 1e7, 1e8, 1e9]);
/// assert!(options.is_in_unit());
///
/// // Without bounds of its own, a histogram gets its unit's defaults.
/// let defaults = EncodeOptions::new();
/// assert_eq!(defaults.bounds_for("inference", "latency", ns)[0], 1e3); // 1 µs, in ns
/// assert_eq!(defaults.bounds_for("http", "response", HistogramConfig::BYTES)[0], 50.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeOptions {
    /// Bounds for every histogram without its own; `None`: by unit ([`default_bounds`]).
    buckets: Option<Vec<f64>>,
    per_field: BTreeMap<(String, String), Vec<f64>>,
    in_unit: bool,
    classic_in_protobuf: bool,
}

impl Default for EncodeOptions {
    /// Each histogram's unit's default bounds ([`default_bounds`]); histograms exposed in
    /// their unit; native buckets only in the protobuf format.
    fn default() -> Self {
        EncodeOptions {
            buckets: None,
            per_field: BTreeMap::new(),
            in_unit: true,
            classic_in_protobuf: false,
        }
    }
}

/// The classic-histogram bounds a histogram of `config` gets when no bounds are set for
/// it, in its steps: for seconds, [`DEFAULT_LATENCY_BUCKETS_NS`] (1 µs to 10 s) in its
/// steps, those from one step to its `max_value` (all 22 at nanosecond steps); for any
/// other unit, 1, 2.5 and 5 times each power of ten from where the configuration's
/// resolution begins (`2^sub_bucket_bits` steps) up to its `max_value` (bytes: 50 B to
/// 1 TB, 32 bounds).
///
/// ```
/// use tally_prometheus::default_bounds;
/// use tally_snapshot::{HistogramConfig, Unit};
/// let ratio = HistogramConfig::for_range(Unit::Ratio, 0.001, 1.0, 5).unwrap();
/// let steps = ratio.steps_per_unit() as f64;
/// let bounds: Vec<f64> = default_bounds(ratio).iter().map(|b| b / steps).collect();
/// assert_eq!(bounds, [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]);
/// ```
pub fn default_bounds(config: HistogramConfig) -> Vec<f64> {
    let per = config.steps_per_unit() as f64;
    if config.unit() == Unit::Seconds {
        // Nanoseconds to steps of 10^-decimals s, exactly for the bounds' round numbers.
        let d = i32::from(config.decimals());
        let steps = |ns: f64| if d >= 9 { ns * 10f64.powi(d - 9) } else { ns / 10f64.powi(9 - d) };
        let top = config.max_value() as f64;
        return DEFAULT_LATENCY_BUCKETS_NS
            .iter()
            .map(|&ns| steps(ns))
            .filter(|&b| (1.0..=top).contains(&b))
            .collect();
    }
    let low = (1u64 << config.sub_bucket_bits()) as f64;
    let high = config.max_value() as f64;
    let mut bounds = Vec::new();
    let mut decade = 10f64.powi(low.log10().floor() as i32);
    while decade <= high {
        for m in [1.0, 2.5, 5.0] {
            let b = decade * m;
            if b >= low && b <= high {
                // In the unit, rounded to a short decimal, then back to steps.
                let in_unit: f64 = format!("{:.12e}", b / per).parse().unwrap_or(b / per);
                bounds.push((in_unit * per).round());
            }
        }
        decade *= 10.0;
    }
    bounds
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
        self.buckets = Some(clean(le));
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

    /// Whether a histogram recorded in fractional steps of its unit (a seconds histogram
    /// in nanoseconds) is exposed in its unit (default `true`): named with its unit
    /// (`…_seconds`; a `latency_ns` field drops the `_ns`), its `le` bounds and `_sum`
    /// divided by `10^decimals` (the sum then becomes a float; bucket counts and `_count`
    /// stay exact), and `# UNIT` in OpenMetrics. Prometheus expects base units, and its
    /// linters flag `ns`. Off, such histograms are exposed in raw steps, without a unit.
    /// Counters, gauges and histograms of whole steps (bytes) are the same either way.
    pub fn in_unit(mut self, on: bool) -> Self {
        self.in_unit = on;
        self
    }

    /// See [`in_unit`](Self::in_unit).
    pub fn is_in_unit(&self) -> bool {
        self.in_unit
    }

    /// Whether the protobuf format ([`Format::Protobuf`](crate::Format::Protobuf)) also
    /// writes each histogram's classic buckets (the `le` bounds of
    /// [`buckets`](Self::buckets) and [`buckets_for`](Self::buckets_for), as in the text
    /// formats) beside its native buckets. Default `false`: native only.
    ///
    /// Native only by default because a scraper asks for the protobuf format to get native
    /// histograms: Prometheus does so only with native histograms enabled, and then
    /// ingests the native buckets alone (2.42 ignores classic buckets beside native ones;
    /// later versions keep them only when configured to: `scrape_classic_histograms`, in
    /// 3.x `always_scrape_classic_histograms`), so classic
    /// buckets would be bytes on every scrape that nothing reads. Turn this on for a
    /// Prometheus that keeps both, to migrate dashboards and alerts from `_bucket` series
    /// to native ones. The text formats always write classic buckets and are unaffected.
    ///
    /// ```
    /// use tally_prometheus::EncodeOptions;
    /// assert!(!EncodeOptions::new().is_classic_in_protobuf());
    /// assert!(EncodeOptions::new().classic_in_protobuf(true).is_classic_in_protobuf());
    /// ```
    pub fn classic_in_protobuf(mut self, on: bool) -> Self {
        self.classic_in_protobuf = on;
        self
    }

    /// See [`classic_in_protobuf`](Self::classic_in_protobuf).
    pub fn is_classic_in_protobuf(&self) -> bool {
        self.classic_in_protobuf
    }

    /// The former name of [`in_unit`](Self::in_unit).
    #[deprecated(since = "0.3.0", note = "renamed `in_unit`: it applies to every unit")]
    pub fn ns_as_seconds(self, on: bool) -> Self {
        self.in_unit(on)
    }

    /// The former name of [`is_in_unit`](Self::is_in_unit).
    #[deprecated(since = "0.3.0", note = "renamed `is_in_unit`")]
    pub fn is_ns_as_seconds(&self) -> bool {
        self.in_unit
    }

    /// The `le` bounds (without `+Inf`), in steps, used for the histogram field `field`
    /// of `metric`, whose configuration is `config`: its own, else those of
    /// [`buckets`](Self::buckets), else its unit's [`default_bounds`].
    pub fn bounds_for(&self, metric: &str, field: &str, config: HistogramConfig) -> Cow<'_, [f64]> {
        // A BTreeMap keyed by owned pairs cannot be probed with borrowed ones; the map is
        // small (one entry per configured field), so a scan is fine.
        match self.per_field.iter().find(|((m, f), _)| m == metric && f == field) {
            Some((_, b)) => Cow::Borrowed(b),
            None => match &self.buckets {
                Some(b) => Cow::Borrowed(b),
                None => Cow::Owned(default_bounds(config)),
            },
        }
    }
}
