//! Histogram configuration and the log-linear bucket math.
//!
//! Buckets follow the HDR layout: with `k = sub_bucket_bits`, every value below `2^k` has
//! a bucket of its own, and each power of two above it, `[2^e, 2^(e+1))` for `e >= k`, is
//! split into `2^k` linear sub-buckets of width `2^(e-k)`. A bucket's width is therefore
//! at most `2^-k` times any value in it, which is where the quantile bound of
//! [`HistogramSnapshot::quantile`](crate::HistogramSnapshot::quantile) comes from.
//!
//! Index of a value `v` (what the core computes on every record):
//!
//! ```text
//! v <  2^k:  index = v
//! v >= 2^k:  e = floor(log2 v);  index = (e - k + 1) << k | ((v >> (e - k)) & (2^k - 1))
//! ```
//!
//! Both cases are one formula, `h = floor(log2(v | 2^k))`,
//! `index = ((h - k) << k) + (v >> (h - k))`, which [`HistogramConfig::index`] computes
//! with one `leading_zeros`, two shifts and an add, after one comparison against
//! `max_value`.

use serde::{Deserialize, Serialize};

use crate::{Rejected, Unit};

/// The shape of a histogram: what it measures ([`unit`](Self::unit)), the scale its integer
/// steps are recorded at ([`decimals`](Self::decimals): a step is `10^-decimals` of the
/// unit), resolution (`sub_bucket_bits`) and range (`max_value`, in steps).
///
/// [`HistogramConfig::DEFAULT`] measures seconds in steps of one nanosecond; a
/// `Duration` or an `f64` of seconds is converted to steps when it is recorded, and
/// exporters give bounds and sums back in seconds. [`HistogramConfig::for_range`] picks
/// the scale for a declared range in any unit (`0.001..=1000` of a plain number records
/// steps of 10^-5), so that values down to the low end of the range keep the relative
/// error bound and are never rounded to 0.
///
/// Values `v <= max_value` go to bucket [`index(v)`](Self::index); larger values are only
/// counted (the *overflow* count) and still take part in `count`, `sum`, `min` and `max`.
/// The layout: values below `2^k` (`k = sub_bucket_bits`) have a bucket each; each power
/// of two above, `[2^e, 2^(e+1))`, is split into `2^k` linear sub-buckets of width
/// `2^(e-k)`, so a bucket is at most `2^-k` times as wide as any value in it.
///
/// Two histograms merge exactly only if their configs are equal.
///
/// # Examples
///
/// ```
/// use tally_snapshot::HistogramConfig;
///
/// // 8 sub-buckets per power of two (relative error 2^-3 = 12.5%), values up to 1000.
/// let cfg = HistogramConfig::new(3, 1000).unwrap();
/// assert_eq!(cfg.index(5), Some(5)); // small values are exact
/// let i = cfg.index(100).unwrap();
/// assert!(cfg.bucket_low(i) <= 100 && 100 <= cfg.bucket_high(i));
/// assert_eq!(cfg.index(1001), None); // overflow
/// assert_eq!(cfg.relative_error(), 0.125);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawHistogramConfig")]
pub struct HistogramConfig {
    sub_bucket_bits: u8,
    max_value: u64,
    /// A step is `10^-decimals` of `unit`.
    #[serde(default, skip_serializing_if = "is_zero")]
    decimals: u8,
    #[serde(default, skip_serializing_if = "crate::unit::unit_is_none")]
    unit: Unit,
}

fn is_zero(d: &u8) -> bool {
    *d == 0
}

/// Serde's view of [`HistogramConfig`], checked on the way in. `decimals` and `unit` are
/// absent from configurations serialized before they existed: those histograms recorded
/// plain integers (`decimals` 0, [`Unit::None`]), which is what they read back as.
#[derive(Deserialize)]
struct RawHistogramConfig {
    sub_bucket_bits: u8,
    max_value: u64,
    #[serde(default)]
    decimals: u8,
    #[serde(default)]
    unit: Unit,
}

impl TryFrom<RawHistogramConfig> for HistogramConfig {
    type Error = HistogramConfigError;
    fn try_from(raw: RawHistogramConfig) -> Result<Self, Self::Error> {
        HistogramConfig::new(raw.sub_bucket_bits, raw.max_value)?.in_unit(raw.unit, raw.decimals)
    }
}

/// Why [`HistogramConfig::new`] refused a configuration.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HistogramConfigError {
    /// `sub_bucket_bits` is outside `1..=10`.
    #[error(
        "sub_bucket_bits = {bits} is out of range: use 1..={max} (the relative error is \
         2^-sub_bucket_bits: 5 gives 3.1%, 7 gives 0.8%, 10 gives 0.1%)",
        max = HistogramConfig::MAX_SUB_BUCKET_BITS
    )]
    SubBucketBitsOutOfRange {
        /// The rejected value.
        bits: u8,
    },
    /// `max_value` is below `2^sub_bucket_bits`, so the histogram would have no
    /// log-linear part at all.
    #[error(
        "max_value = {max_value} is below 2^sub_bucket_bits = {smallest}: raise max_value \
         to the largest value you expect to record (e.g. 100 s in nanoseconds) or lower \
         sub_bucket_bits"
    )]
    MaxValueTooSmall {
        /// The rejected value.
        max_value: u64,
        /// The smallest `max_value` allowed with this `sub_bucket_bits`.
        smallest: u64,
    },
    /// `decimals` is above [`HistogramConfig::MAX_DECIMALS`].
    #[error(
        "decimals = {decimals} is out of range: use 0..={max} (a step is 10^-decimals of the \
         unit: 9 records seconds in nanoseconds, 0 records whole bytes)",
        max = HistogramConfig::MAX_DECIMALS
    )]
    DecimalsOutOfRange {
        /// The rejected value.
        decimals: u8,
    },
    /// [`HistogramConfig::for_range`] was given a range it cannot hold.
    #[error("the range {min}..={max} cannot be recorded with relative error 2^-{bits}: {why}")]
    RangeNotRecordable {
        /// The declared low end.
        min: f64,
        /// The declared high end.
        max: f64,
        /// The declared resolution.
        bits: u8,
        /// What is wrong and what to do.
        why: &'static str,
    },
}

/// Powers of ten up to `10^MAX_DECIMALS`.
const POW10: [u64; 13] = {
    let mut p = [1u64; 13];
    let mut i = 1;
    while i < 13 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

impl HistogramConfig {
    /// The smallest allowed `sub_bucket_bits`.
    pub const MIN_SUB_BUCKET_BITS: u8 = 1;
    /// The largest allowed `sub_bucket_bits` (relative error 2^-10 ≈ 0.1%).
    pub const MAX_SUB_BUCKET_BITS: u8 = 10;

    /// The default, for latencies in nanoseconds: `sub_bucket_bits = 5` (32 sub-buckets per
    /// power of two, relative error 2^-5 ≈ 3.1%) and `max_value` = 100 s
    /// (100,000,000,000 ns).
    ///
    /// # Memory
    ///
    /// [`bucket_count`](Self::bucket_count) is **1,039**: 32 exact buckets for 0..=31 ns,
    /// then 32 per power of two up to 2^36 ns (68.7 s), and the first 15 of 2^36..2^37 ns
    /// (the last one, index 1,038, holds 100 s).
    ///
    /// - Dense as `u64`: 1,039 × 8 = **8,312 bytes per copy**; the core's latch keeps two
    ///   copies, so **16,624 bytes per shard** (one shard per thread that recorded into
    ///   the series) when every bucket is allocated.
    /// - In lazily allocated pages of 64 buckets (512 bytes per copy, 1,024 bytes per
    ///   shard for both copies): 17 pages (the last holds 15 buckets) make 17,408 bytes per
    ///   shard when all are touched. One power of two above 32 ns is 32 buckets, half a
    ///   page: latencies between 100 µs (index 400) and 10 ms (index 614) touch pages 6..=9,
    ///   4 pages, **4,096 bytes per shard** (plus the core's page table).
    /// - So 1,000 series × 16 threads cost about 254 MiB fully dense, about 62.5 MiB with
    ///   four pages each.
    ///
    /// # Examples
    ///
    /// ```
    /// use tally_snapshot::HistogramConfig;
    /// let cfg = HistogramConfig::DEFAULT;
    /// assert_eq!(cfg.bucket_count(), 1039);
    /// assert_eq!(cfg.index(100_000_000_000), Some(1038));
    /// assert_eq!(cfg.index(100_000_000_001), None);
    /// ```
    pub const DEFAULT: HistogramConfig = HistogramConfig {
        sub_bucket_bits: 5,
        max_value: 100_000_000_000,
        decimals: 9,
        unit: Unit::Seconds,
    };

    /// [`DEFAULT`](Self::DEFAULT): seconds, recorded in steps of one nanosecond, 32 ns to
    /// 100 s within 2^-5.
    pub const SECONDS: HistogramConfig = HistogramConfig::DEFAULT;

    /// Sizes in bytes, whole bytes from 0 to 1 TiB (2^40), within 2^-5 (3.1%) above 32
    /// bytes and exact below.
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, Unit};
    /// assert_eq!(HistogramConfig::BYTES.unit(), Unit::Bytes);
    /// assert_eq!(HistogramConfig::BYTES.decimals(), 0);
    /// assert_eq!(HistogramConfig::BYTES.bucket_count(), 1153);
    /// ```
    pub const BYTES: HistogramConfig =
        HistogramConfig { sub_bucket_bits: 5, max_value: 1 << 40, decimals: 0, unit: Unit::Bytes };

    /// The largest [`decimals`](Self::decimals): steps of 10^-12 of the unit.
    pub const MAX_DECIMALS: u8 = 12;

    /// A configuration with `2^sub_bucket_bits` linear sub-buckets per power of two and
    /// buckets for values up to `max_value` inclusive.
    ///
    /// `const`, so fixed configurations can be constants:
    ///
    /// ```
    /// use tally_snapshot::HistogramConfig;
    /// const BYTES: HistogramConfig = match HistogramConfig::new(4, 1 << 30) {
    ///     Ok(c) => c,
    ///     Err(_) => panic!("bad histogram config"),
    /// };
    /// assert_eq!(BYTES.sub_bucket_bits(), 4);
    /// ```
    ///
    /// # Errors
    ///
    /// [`HistogramConfigError::SubBucketBitsOutOfRange`] unless `sub_bucket_bits` is in
    /// `1..=10`; [`HistogramConfigError::MaxValueTooSmall`] if `max_value < 2^sub_bucket_bits`.
    pub const fn new(sub_bucket_bits: u8, max_value: u64) -> Result<Self, HistogramConfigError> {
        if sub_bucket_bits < Self::MIN_SUB_BUCKET_BITS
            || sub_bucket_bits > Self::MAX_SUB_BUCKET_BITS
        {
            return Err(HistogramConfigError::SubBucketBitsOutOfRange { bits: sub_bucket_bits });
        }
        let smallest = 1u64 << sub_bucket_bits;
        if max_value < smallest {
            return Err(HistogramConfigError::MaxValueTooSmall { max_value, smallest });
        }
        Ok(HistogramConfig { sub_bucket_bits, max_value, decimals: 0, unit: Unit::None })
    }

    /// The same buckets, measuring `unit` in steps of `10^-decimals` of it: recorded
    /// integers are steps, and exporters divide bounds and sums by `10^decimals`.
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, Unit};
    /// // Milliseconds up to one hour, exposed in seconds.
    /// const MS: HistogramConfig = match HistogramConfig::new(5, 3_600_000) {
    ///     Ok(c) => match c.in_unit(Unit::Seconds, 3) { Ok(c) => c, Err(_) => panic!() },
    ///     Err(_) => panic!(),
    /// };
    /// assert_eq!(MS.to_unit(1_500), 1.5);
    /// ```
    ///
    /// # Errors
    ///
    /// [`HistogramConfigError::DecimalsOutOfRange`] if `decimals` is above
    /// [`MAX_DECIMALS`](Self::MAX_DECIMALS).
    pub const fn in_unit(self, unit: Unit, decimals: u8) -> Result<Self, HistogramConfigError> {
        if decimals > Self::MAX_DECIMALS {
            return Err(HistogramConfigError::DecimalsOutOfRange { decimals });
        }
        Ok(HistogramConfig { decimals, unit, ..self })
    }

    /// A configuration for values of `unit` between `min` and `max`, each within
    /// `2^-sub_bucket_bits` of its bucket: the coarsest decimal step at which `min` is at
    /// least `2^sub_bucket_bits` steps (so the bound holds from `min` up; smaller values
    /// are still recorded, to the nearest step, never rounded to 0 above half a step), and
    /// `max` rounded up to a step. Values above `max` are counted in the overflow bucket and
    /// exactly in count, sum, min and max.
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, Unit};
    /// // Seconds from 100 µs to 60 s at 2^-5: steps of 10^-6 s (100 µs = 100 steps >= 32).
    /// let c = HistogramConfig::for_range(Unit::Seconds, 1e-4, 60.0, 5).unwrap();
    /// assert_eq!((c.decimals(), c.max_value()), (6, 60_000_000));
    /// // A ratio from 0.001 to 1.
    /// let r = HistogramConfig::for_range(Unit::Ratio, 0.001, 1.0, 5).unwrap();
    /// assert_eq!(r.steps_of(0.75), Ok(r.steps_of(0.75).unwrap()));
    /// assert_eq!(r.to_unit(r.steps_of(0.75).unwrap()), 0.75);
    /// assert!(HistogramConfig::for_range(Unit::None, 0.0, 1.0, 5).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`HistogramConfigError::RangeNotRecordable`] if `min` is not positive and finite,
    /// `max < min`, `min` needs steps finer than 10^-12, or `max` is too large for 2^63
    /// steps; [`HistogramConfigError::SubBucketBitsOutOfRange`] for a resolution outside
    /// `1..=10`.
    pub fn for_range(
        unit: Unit,
        min: f64,
        max: f64,
        sub_bucket_bits: u8,
    ) -> Result<Self, HistogramConfigError> {
        let refuse =
            |why| HistogramConfigError::RangeNotRecordable { min, max, bits: sub_bucket_bits, why };
        // Checked first, so that `1 << sub_bucket_bits` below is in range.
        HistogramConfig::new(sub_bucket_bits, u64::MAX)?;
        if !(min > 0.0 && min.is_finite()) {
            return Err(refuse("the low end must be a positive, finite number"));
        }
        if !(max >= min && max.is_finite()) {
            return Err(refuse("the high end must be finite and at least the low end"));
        }
        let floor = (1u64 << sub_bucket_bits) as f64;
        let decimals = (0..=Self::MAX_DECIMALS)
            .find(|&d| min * POW10[d as usize] as f64 >= floor)
            .ok_or_else(|| {
                refuse("the low end is too small for steps of 10^-12: raise it or lower the resolution")
            })?;
        let top = (max * POW10[decimals as usize] as f64).ceil();
        if top >= 9.2e18 {
            return Err(refuse(
                "the high end is too large for 2^63 steps: narrow the range or lower the resolution",
            ));
        }
        HistogramConfig::new(sub_bucket_bits, (top as u64).max(1 << sub_bucket_bits))?
            .in_unit(unit, decimals)
    }

    /// What the histogram measures.
    #[inline]
    pub const fn unit(&self) -> Unit {
        self.unit
    }

    /// The scale of the recorded integers: a step is `10^-decimals` of the unit (9 for
    /// nanoseconds of a seconds histogram, 0 for whole bytes).
    #[inline]
    pub const fn decimals(&self) -> u8 {
        self.decimals
    }

    /// `10^decimals`: steps per unit.
    #[inline]
    pub const fn steps_per_unit(&self) -> u64 {
        POW10[self.decimals as usize]
    }

    /// `steps` in the unit: `steps / 10^decimals`, correctly rounded to `f64` (exact for
    /// every step count below 2^53 that has an exact `f64`, such as 1,500 ms = 1.5 s).
    #[inline]
    pub fn to_unit(&self, steps: u64) -> f64 {
        if self.decimals == 0 { steps as f64 } else { steps as f64 / self.steps_per_unit() as f64 }
    }

    /// A sum of steps in the unit: correctly rounded below 2^53 steps (one division of
    /// two exact `f64`s); above, its whole units and its remainder converted apart, each
    /// rounded once.
    pub fn sum_to_unit(&self, steps: u128) -> f64 {
        let per = u128::from(self.steps_per_unit());
        if steps < 1 << 53 {
            return steps as f64 / per as f64;
        }
        let (whole, rest) = (steps / per, steps % per);
        whole as f64 + rest as f64 / per as f64
    }

    /// The step count of `x` (in the unit), rounded to the nearest step (halves up): what
    /// recording `x` records.
    ///
    /// ```
    /// use tally_snapshot::{HistogramConfig, Rejected};
    /// let s = HistogramConfig::SECONDS;
    /// assert_eq!(s.steps_of(0.012), Ok(12_000_000));
    /// assert_eq!(s.steps_of(-0.0), Ok(0));
    /// assert_eq!(s.steps_of(-1e-9), Err(Rejected::Negative));
    /// assert_eq!(s.steps_of(f64::NAN), Err(Rejected::NotFinite));
    /// assert_eq!(s.steps_of(1e10), Err(Rejected::TooLarge)); // 10^19 ns > 2^63 - 1024
    /// ```
    ///
    /// # Errors
    ///
    /// [`Rejected::Negative`] for a negative `x` (`-0.0` is 0), [`Rejected::NotFinite`]
    /// for NaN and infinities, [`Rejected::TooLarge`] when `x` is
    /// [`STEP_LIMIT`](Self::STEP_LIMIT) steps or more.
    #[inline(always)]
    pub fn steps_of(&self, x: f64) -> Result<u64, Rejected> {
        Self::steps_of_scaled(x, self.steps_per_unit() as f64)
    }

    /// The step count of `x × factor`, rounded as [`steps_of`](Self::steps_of) rounds
    /// (which is this with `factor = 10^decimals`): for values given in another unit than
    /// the histogram's (milliseconds into a seconds histogram: `factor = 10^6` at
    /// nanosecond steps; steps themselves: `factor = 1`).
    ///
    /// # Errors
    ///
    /// As [`steps_of`](Self::steps_of), by what `x` is.
    #[inline(always)]
    pub fn steps_of_scaled(x: f64, factor: f64) -> Result<u64, Rejected> {
        let y = x * factor;
        // The bits of a non-negative f64 order as its values; a negative one (sign bit set)
        // or a NaN has bits above the limit's. One comparison refuses all three.
        if y.to_bits() < Self::STEP_LIMIT.to_bits() {
            // `y + 0.5` rounds to at most the limit: in range, and `as` truncates.
            Ok((y + 0.5) as u64)
        } else if x == 0.0 {
            // -0.0.
            Ok(0)
        } else {
            Err(Rejected::classify(x))
        }
    }

    /// Where recorded `f64`s stop: values of this many steps or more are refused
    /// ([`Rejected::TooLarge`]). `2^63 - 1024`, the largest `f64` below 2^63, so that a
    /// step count (rounded) always fits an `i64`: the core converts with one instruction.
    pub const STEP_LIMIT: f64 = 9_223_372_036_854_774_784.0;

    /// The step count of a duration (for a [`Unit::Seconds`] histogram): exact nanoseconds
    /// at 9 decimals, rounded to the nearest step below 9, multiplied above; saturating at
    /// `u64::MAX`.
    #[inline(always)]
    pub fn steps_of_duration(&self, d: std::time::Duration) -> u64 {
        let ns = d.as_nanos();
        let steps = match self.decimals {
            9 => ns,
            d @ 0..9 => {
                let per = u128::from(POW10[9 - d as usize]);
                (ns + per / 2) / per
            }
            d => ns.saturating_mul(u128::from(POW10[d as usize - 9])),
        };
        u64::try_from(steps).unwrap_or(u64::MAX)
    }

    /// `k`: each power of two is split into `2^k` sub-buckets.
    #[inline]
    pub const fn sub_bucket_bits(&self) -> u8 {
        self.sub_bucket_bits
    }

    /// The largest value that gets a bucket; larger ones are counted as overflow.
    #[inline]
    pub const fn max_value(&self) -> u64 {
        self.max_value
    }

    /// The number of buckets: `index(max_value) + 1`. Dense storage needs this many
    /// counters.
    ///
    /// ```
    /// use tally_snapshot::HistogramConfig;
    /// // 0..=3 exact, then 4 buckets each for 4..8, 8..16; 16 is the first of 16..32.
    /// assert_eq!(HistogramConfig::new(2, 16).unwrap().bucket_count(), 13);
    /// ```
    #[inline]
    pub const fn bucket_count(&self) -> usize {
        Self::raw_index(self.sub_bucket_bits, self.max_value) + 1
    }

    /// The bucket of `v`, or `None` if `v > max_value` (overflow).
    ///
    /// This is the core's hot path: one comparison, one `leading_zeros`, two shifts and
    /// an add; no loop, no table.
    ///
    /// ```
    /// use tally_snapshot::HistogramConfig;
    /// let cfg = HistogramConfig::new(2, 1000).unwrap();
    /// assert_eq!(cfg.index(3), Some(3)); // below 2^k: exact
    /// assert_eq!(cfg.index(4), Some(4)); // [4, 8): width 1
    /// assert_eq!(cfg.index(8), Some(8)); // [8, 16): width 2
    /// assert_eq!(cfg.index(9), Some(8));
    /// assert_eq!(cfg.index(1001), None);
    /// ```
    #[inline]
    pub const fn index(&self, v: u64) -> Option<usize> {
        if v > self.max_value { None } else { Some(Self::raw_index(self.sub_bucket_bits, v)) }
    }

    /// The index formula without the range check (valid for every `u64`).
    #[inline(always)]
    const fn raw_index(k: u8, v: u64) -> usize {
        let k = k as usize;
        // h = floor(log2(max(v, 2^k))) >= k; `v | 2^k` is never 0. In `usize` throughout
        // (no `u32` to widen on the write path).
        let h = 63 - (v | (1u64 << k)).leading_zeros() as usize;
        let shift = h - k;
        // (v >> shift) is in [2^k, 2^(k+1)) above 2^k, and v itself below: both fit any
        // usize, as does (shift << k) <= 54 << 10.
        (shift << k) + (v >> shift) as usize
    }

    /// The largest index the formula gives for any `u64` (that of `u64::MAX`).
    const fn max_formula_index(k: u8) -> usize {
        Self::raw_index(k, u64::MAX)
    }

    /// The smallest value in bucket `i`.
    ///
    /// Defined by the formula for every index up to that of `u64::MAX`, also beyond
    /// [`bucket_count`](Self::bucket_count); larger indices give `u64::MAX`.
    ///
    /// ```
    /// use tally_snapshot::HistogramConfig;
    /// let cfg = HistogramConfig::new(2, 1000).unwrap();
    /// assert_eq!((cfg.bucket_low(8), cfg.bucket_high(8)), (8, 9));
    /// assert_eq!((cfg.bucket_low(12), cfg.bucket_high(12)), (16, 19));
    /// ```
    #[inline]
    pub const fn bucket_low(&self, i: usize) -> u64 {
        let k = self.sub_bucket_bits as u32;
        if i > Self::max_formula_index(self.sub_bucket_bits) {
            return u64::MAX;
        }
        let group = i >> k; // 0 for the exact buckets, e - k + 1 above
        let shift = if group == 0 { 0 } else { group - 1 };
        let mantissa = i - (shift << k); // i below 2^k, 2^k + sub-bucket above
        (mantissa as u64) << shift
    }

    /// The largest value in bucket `i` (inclusive).
    ///
    /// For the last bucket this can exceed `max_value`: values above `max_value` are
    /// counted as overflow, not in the bucket. Beyond the formula's range, `u64::MAX`.
    #[inline]
    pub const fn bucket_high(&self, i: usize) -> u64 {
        let k = self.sub_bucket_bits as u32;
        if i > Self::max_formula_index(self.sub_bucket_bits) {
            return u64::MAX;
        }
        let group = i >> k;
        let shift = if group == 0 { 0 } else { group - 1 };
        // Cannot overflow: the last formula bucket ends exactly at u64::MAX.
        self.bucket_low(i) + ((1u64 << shift) - 1)
    }

    /// The middle of bucket `i`, rounded down: the estimate used for values in it.
    #[inline]
    pub(crate) const fn bucket_mid(&self, i: usize) -> u64 {
        let low = self.bucket_low(i);
        low + (self.bucket_high(i) - low) / 2
    }

    /// `2^-sub_bucket_bits`: every bucket's width is at most this fraction of any value
    /// in it (buckets below `2^k` have width 1 and are exact). Quantile estimates are
    /// within this relative distance of the exact quantile (see
    /// [`HistogramSnapshot::quantile`](crate::HistogramSnapshot::quantile)).
    pub const fn relative_error(&self) -> f64 {
        1.0 / (1u64 << self.sub_bucket_bits) as f64
    }
}

/// [`HistogramConfig::DEFAULT`].
impl Default for HistogramConfig {
    fn default() -> Self {
        HistogramConfig::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_sized_as_documented() {
        let c = HistogramConfig::DEFAULT;
        assert_eq!(
            HistogramConfig::new(5, 100_000_000_000).and_then(|n| n.in_unit(Unit::Seconds, 9)),
            Ok(c)
        );
        assert_eq!(c.bucket_count(), 1039);
        assert_eq!(c.index(100_000).map(|i| i / 64), Some(6));
        assert_eq!(c.index(100_000), Some(400));
        assert_eq!(c.index(10_000_000), Some(614));
        assert_eq!(c.bucket_count().div_ceil(64), 17);
        assert_eq!(c.bucket_count() % 64, 15);
    }

    #[test]
    fn formula_matches_the_two_case_definition() {
        for k in 1..=10u8 {
            let c = HistogramConfig::new(k, u64::MAX).unwrap();
            let kk = k as u32;
            for v in (0..5000u64).chain([u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1]) {
                let expect = if v < 1 << kk {
                    v as usize
                } else {
                    let e = 63 - v.leading_zeros();
                    (((e - kk + 1) as usize) << kk) | ((v >> (e - kk)) & ((1 << kk) - 1)) as usize
                };
                assert_eq!(c.index(v), Some(expect), "k={k} v={v}");
            }
            let last = c.bucket_count() - 1;
            assert_eq!(c.bucket_high(last), u64::MAX);
            assert_eq!(c.bucket_low(last + 1), u64::MAX);
        }
    }
}
