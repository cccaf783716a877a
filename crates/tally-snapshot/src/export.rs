//! Histogram conversions for exposition: classic Prometheus buckets and native
//! (exponential) histograms.
//!
//! The log-linear buckets of a [`HistogramSnapshot`] have **linear** sub-buckets inside each
//! power of two, while Prometheus native histograms have **exponential** ones
//! (`base = 2^(2^-schema)`), so neither converts exactly into the other: both conversions
//! here place each log-linear bucket as a whole, and document how far a value can then be
//! from its true position.

use serde::{Deserialize, Serialize};

use crate::HistogramSnapshot;

/// A Prometheus native histogram of non-negative values, as [`HistogramSnapshot::to_native`]
/// builds it: the data behind the protobuf `Histogram` message (no negative buckets, since
/// the values are `u64`).
///
/// Positive bucket `i` covers `(base^(i-1), base^i]` with `base = 2^(2^-schema)`; the zero
/// bucket counts values `<= zero_threshold`.
///
/// # Examples
///
/// ```
/// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
/// let h = HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [0, 1, 2, 3, 4]).unwrap();
/// let n = h.to_native(0); // base 2: buckets (1, 2], (2, 4], ...
/// assert_eq!(n.zero_count, 1);
/// assert_eq!(n.positive, [(0, 1), (1, 1), (2, 2)]); // 1 in (0.5, 1], 2 in (1, 2], 3 and 4 in (2, 4]
/// assert_eq!(n.count, 5);
/// assert_eq!(n.bucket_bounds(2), (2.0, 4.0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeHistogram {
    /// The resolution, in `-4..=8`: `base = 2^(2^-schema)`.
    pub schema: i8,
    /// Values up to this go to the zero bucket. 0.0: only exact zeros (values are integers,
    /// so any threshold below 1 means the same).
    pub zero_threshold: f64,
    /// The number of zeros.
    pub zero_count: u64,
    /// Positive buckets as `(index, count)`, strictly increasing indices, no zero counts.
    pub positive: Vec<(i32, u64)>,
    /// The number of values: `zero_count` plus the positive counts.
    pub count: u64,
    /// The sum of the values (rounded to `f64`).
    pub sum: f64,
}

impl NativeHistogram {
    /// The schemas Prometheus accepts.
    pub const SCHEMAS: std::ops::RangeInclusive<i8> = -4..=8;

    /// The schema exporters send a histogram of `config` at: its `sub_bucket_bits` `k`
    /// (as many exponential buckets per power of two as it has linear ones, so the
    /// exponential buckets are about as fine as its own), clamped to
    /// [`SCHEMAS`](Self::SCHEMAS). Prometheus native histograms and OTLP exponential
    /// histograms both use it (OTLP calls it the scale).
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, NativeHistogram};
    /// assert_eq!(NativeHistogram::schema_for(HistogramConfig::DEFAULT), 5);
    /// assert_eq!(NativeHistogram::schema_for(HistogramConfig::new(10, 1 << 20).unwrap()), 8);
    /// ```
    pub fn schema_for(config: crate::HistogramConfig) -> i8 {
        let k = i8::try_from(config.sub_bucket_bits()).unwrap_or(i8::MAX);
        k.clamp(*Self::SCHEMAS.start(), *Self::SCHEMAS.end())
    }

    /// The bounds `(base^(i-1), base^i]` of positive bucket `i` (lower exclusive, upper
    /// inclusive), in `f64`.
    pub fn bucket_bounds(&self, i: i32) -> (f64, f64) {
        native_bounds(self.schema, i)
    }

    /// The positive buckets as the protobuf encodes them: spans of consecutive indices as
    /// `(offset, length)` (the first offset is the first index, each later one the gap
    /// since the previous span), and the counts delta-encoded (the first one as is, each
    /// later one minus its predecessor), in order.
    ///
    /// ```
    /// use tally_snapshot::NativeHistogram;
    /// let n = NativeHistogram {
    ///     schema: 0, zero_threshold: 0.0, zero_count: 0,
    ///     positive: vec![(3, 5), (4, 2), (7, 1)], count: 8, sum: 100.0,
    /// };
    /// let (spans, deltas) = n.positive_spans();
    /// assert_eq!(spans, [(3, 2), (2, 1)]);
    /// assert_eq!(deltas, [5, -3, -1]);
    /// ```
    pub fn positive_spans(&self) -> (Vec<(i32, u32)>, Vec<i64>) {
        let mut spans: Vec<(i32, u32)> = Vec::new();
        let mut deltas = Vec::with_capacity(self.positive.len());
        let mut prev: Option<(i32, u64)> = None;
        for &(i, c) in &self.positive {
            match prev {
                Some((j, _)) if i == j.wrapping_add(1) => {
                    if let Some(last) = spans.last_mut() {
                        last.1 += 1;
                    }
                }
                Some((j, _)) => spans.push((i.wrapping_sub(j).wrapping_sub(1), 1)),
                None => spans.push((i, 1)),
            }
            let before = prev.map_or(0, |(_, p)| p);
            deltas.push((c as i64).wrapping_sub(before as i64));
            prev = Some((i, c));
        }
        (spans, deltas)
    }
}

/// `(base^(i-1), base^i]` for `base = 2^(2^-schema)`.
fn native_bounds(schema: i8, i: i32) -> (f64, f64) {
    let scale = (-f64::from(schema)).exp2(); // log2(base)
    (((f64::from(i) - 1.0) * scale).exp2(), (f64::from(i) * scale).exp2())
}

/// `(frac, exp)` with `x = frac × 2^exp`, `frac` in `[0.5, 1)`, for finite normal `x > 0`.
fn frexp(x: f64) -> (f64, i32) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let frac = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1022u64 << 52));
    (frac, exp)
}

/// The index of the native bucket `(base^(i-1), base^i]` containing `x >= 1`, computed as
/// the Prometheus client libraries do (from `frexp`, with a table of bounds for positive
/// schemas). Any finite normal `x > 0` works (indices are negative below 1).
fn native_index(x: f64, schema: i8, bounds: &[f64]) -> i32 {
    let (frac, exp) = frexp(x);
    if schema > 0 {
        // The first j with bounds[j] >= frac.
        let j = bounds.partition_point(|&b| b < frac) as i32;
        j + (exp - 1) * bounds.len() as i32
    } else {
        let key = if frac == 0.5 { exp - 1 } else { exp };
        let offset = (1i32 << -schema) - 1;
        (key + offset) >> -schema
    }
}

impl HistogramSnapshot {
    /// Classic Prometheus buckets: `(le, cumulative count)` for each bound in `le` (sorted,
    /// duplicates and NaN dropped) and a final `+Inf` whose count is [`count`](Self::count).
    ///
    /// **Approximation.** Each log-linear bucket is counted, as a whole, under the first
    /// `le` at or above its upper bound (its high bound, or `max` if smaller, compared as
    /// `f64`); overflow values count under the first `le >= max`. So a cumulative count
    /// never includes a value above its `le`: it is at most the exact number of values
    /// `<= le`, and misses at most the values in the one log-linear bucket straddling
    /// `le`, all of which lie above `le / (1 + ε)` (`ε` =
    /// [`relative_error`](crate::HistogramConfig::relative_error)), plus overflow values
    /// if `le < max`. Bounds that are bucket edges
    /// ([`bucket_high`](crate::HistogramConfig::bucket_high)) are exact.
    ///
    /// # Examples
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
    /// let h = HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [1, 5, 20, 500]).unwrap();
    /// let b = h.to_cumulative(&[10.0, 1.0, 100.0]);
    /// assert_eq!(b, [(1.0, 1), (10.0, 2), (100.0, 3), (f64::INFINITY, 4)]);
    /// ```
    pub fn to_cumulative(&self, le: &[f64]) -> Vec<(f64, u64)> {
        let mut bounds: Vec<f64> = le.iter().copied().filter(|b| !b.is_nan()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        // `+Inf` is the last line whatever `le` holds.
        if bounds.last() == Some(&f64::INFINITY) {
            bounds.pop();
        }
        let mut counts = Vec::with_capacity(bounds.len() + 1);
        self.cumulative_counts_into(&bounds, &mut counts);
        bounds.push(f64::INFINITY);
        bounds.into_iter().zip(counts).collect()
    }

    /// The counts of [`to_cumulative`](Self::to_cumulative) for `bounds`, then the `+Inf`
    /// count, written into `counts` (cleared first) without allocating once it has the
    /// capacity: for exporters that write many series with the same bounds.
    ///
    /// `bounds` must be what `to_cumulative` would use: sorted ascending and distinct,
    /// without NaN and without a final `+Inf` (it is always added). The approximation is
    /// that of [`to_cumulative`](Self::to_cumulative). Unsorted bounds give meaningless
    /// counts, never a panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
    /// let h = HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [1, 5, 20, 500]).unwrap();
    /// let mut counts = Vec::new();
    /// h.cumulative_counts_into(&[1.0, 10.0, 100.0], &mut counts);
    /// assert_eq!(counts, [1, 2, 3, 4]); // the last one is +Inf: the count
    /// ```
    pub fn cumulative_counts_into(&self, bounds: &[f64], counts: &mut Vec<u64>) {
        counts.clear();
        counts.resize(bounds.len() + 1, 0);
        let max = self.max().unwrap_or(0);
        let mut put = |upper: u64, c: u64| {
            // The first bound at or above `upper`, or `+Inf` (the last count) if none is.
            let slot = bounds.partition_point(|&b| b < upper as f64);
            counts[slot] = counts[slot].wrapping_add(c);
        };
        for (_, high, c) in self.buckets() {
            put(high.min(max), c);
        }
        if self.overflow() > 0 {
            put(max, self.overflow());
        }
        let mut total = 0u64;
        for c in counts.iter_mut() {
            total = total.wrapping_add(*c);
            *c = total;
        }
    }

    /// A Prometheus native histogram at `schema` (clamped to `-4..=8`; the result's
    /// `schema` says which was used).
    ///
    /// Zeros go to `zero_count` (`zero_threshold` 0). Each other log-linear bucket goes,
    /// as a whole, to the native bucket containing its representative value: its midpoint
    /// (in `f64`), clamped to `[min, max]`; the overflow goes to the native bucket of `max`.
    /// `count` is exact, `sum` is the exact sum rounded to `f64`.
    ///
    /// **Error.** A value `v` counted in native bucket `(l, u]` satisfies
    /// `l × (1 − ε) < v <= u × (1 + ε)`, with `ε` =
    /// [`relative_error`](crate::HistogramConfig::relative_error): it is in its own native
    /// bucket or, when its log-linear bucket straddles a native boundary, in the
    /// neighbouring one, at most `ε` (relative) beyond its edge. Values below `2^k` have
    /// exact buckets and land exactly (up to `f64` rounding of the bounds). At
    /// `schema > sub_bucket_bits` the native buckets are finer than the log-linear ones
    /// and the extra resolution is not filled in. Overflow values (above `max_value`) are
    /// only known to be at most `max`.
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
    /// let h = HistogramSnapshot::from_values(HistogramConfig::DEFAULT, [1000; 10]).unwrap();
    /// let n = h.to_native(3);
    /// let (i, c) = n.positive[0];
    /// let (l, u) = n.bucket_bounds(i);
    /// assert!(l < 1000.0 && 1000.0 <= u && c == 10);
    /// ```
    pub fn to_native(&self, schema: i8) -> NativeHistogram {
        self.native_scaled(schema, 1.0)
    }

    /// [`to_native`](Self::to_native) in the histogram's declared unit: each bucket's
    /// representative step count divided by
    /// [`steps_per_unit`](crate::HistogramConfig::steps_per_unit) (nanoseconds to seconds,
    /// say), and `sum` by [`sum_to_unit`](crate::HistogramConfig::sum_to_unit). This is what
    /// exporters send (Prometheus native histograms, OTLP exponential histograms), since
    /// they name the series by the unit.
    ///
    /// **Error.** As [`to_native`](Self::to_native)'s, relative, so the same after scaling:
    /// a value `v` (in the unit) counted in native bucket `(l, u]` satisfies
    /// `l × (1 − ε) < v <= u × (1 + ε)`, plus the `f64` rounding of one division (a
    /// relative 2^-53). Zero steps go to `zero_count`; every other value lands in a
    /// positive bucket, however small (indices go negative below 1 unit).
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, HistogramSnapshot};
    /// // 2 ms, recorded in nanoseconds, in a seconds histogram.
    /// let h = HistogramSnapshot::from_values(HistogramConfig::SECONDS, [2_000_000; 4]).unwrap();
    /// let n = h.to_native_in_unit(3);
    /// let (i, c) = n.positive[0];
    /// let (l, u) = n.bucket_bounds(i);
    /// assert!(l < 0.002 && 0.002 <= u && c == 4, "{l} {u}");
    /// assert_eq!(n.sum, 0.008);
    /// ```
    pub fn to_native_in_unit(&self, schema: i8) -> NativeHistogram {
        let mut n = self.native_scaled(schema, self.config().steps_per_unit() as f64);
        n.sum = self.config().sum_to_unit(self.sum());
        n
    }

    /// The native histogram of the values divided by `per` (1 for steps).
    fn native_scaled(&self, schema: i8, per: f64) -> NativeHistogram {
        let schema =
            schema.clamp(*NativeHistogram::SCHEMAS.start(), *NativeHistogram::SCHEMAS.end());
        // Upper bounds of the sub-buckets of [0.5, 1), as in the Prometheus clients.
        let bounds: Vec<f64> = if schema > 0 {
            let n = 1u32 << schema;
            (0..n).map(|j| (f64::from(j) / f64::from(n) - 1.0).exp2()).collect()
        } else {
            Vec::new()
        };
        let cfg = self.config();
        let (min, max) = (self.min().unwrap_or(0) as f64, self.max().unwrap_or(0) as f64);
        let mut zero_count = 0u64;
        let mut positive: Vec<(i32, u64)> = Vec::with_capacity(self.sparse_buckets().len() + 1);
        let mut put = |x: f64, c: u64| {
            if x < 1.0 {
                // Integers: only 0 is below 1.
                zero_count = zero_count.wrapping_add(c);
            } else {
                positive.push((native_index(x / per, schema, &bounds), c));
            }
        };
        for &(i, c) in self.sparse_buckets() {
            let (low, high) = (cfg.bucket_low(i as usize), cfg.bucket_high(i as usize));
            let mid = low as f64 + (high - low) as f64 / 2.0;
            put(mid.max(min).min(max), c);
        }
        if self.overflow() > 0 {
            put(max, self.overflow());
        }
        // Representatives grow with the bucket index, so `positive` is sorted already
        // for equal-config histories; sort anyway, it costs nothing when sorted.
        positive.sort_by_key(|&(i, _)| i);
        positive.dedup_by(|next, kept| {
            if next.0 == kept.0 {
                kept.1 = kept.1.wrapping_add(next.1);
                true
            } else {
                false
            }
        });
        positive.retain(|&(_, c)| c != 0);
        NativeHistogram {
            schema,
            zero_threshold: 0.0,
            zero_count,
            positive,
            count: self.count(),
            sum: self.sum() as f64,
        }
    }
}
