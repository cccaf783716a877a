//! Arbitrary `u64` values, in arbitrary histogram configurations, recorded through the core
//! (a run-time set, in one or several events) and checked against the exact sorted values:
//!
//! - no panic, for any config `HistogramConfig::new` accepts and any value;
//! - `count`, `sum`, `min`, `max` and the overflow count are exact, and the collected
//!   snapshot equals `HistogramSnapshot::from_values` of the same values;
//! - every quantile is within the documented bound of the exact one: `ε/2 × exact`
//!   (`ε = 2^-sub_bucket_bits`) for a rank whose value has a bucket, at least the exact
//!   value for a rank in the overflow, exact at rank 1 and rank `count`;
//! - a delta between two snapshots is the histogram of the values recorded in between
//!   (buckets, count, sum, overflow exact; quantiles within `ε × exact`), and merging it
//!   back into the earlier snapshot gives the later one's buckets and totals;
//! - classic buckets (`to_cumulative`) never count a value above their `le`, grow with
//!   `le`, and end with `+Inf` at `count`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tally::{FieldDesc, FieldKind, HistogramConfig, HistogramSnapshot, Layout, RawSet, Value};

#[derive(Debug, Arbitrary)]
struct Input {
    /// `None`: the default (latency) config.
    config: Option<(u8, u64)>,
    values: Vec<Sample>,
    /// Where the values are split for the delta (modulo their number).
    split: u16,
    /// Quantiles to check besides a fixed grid.
    quantiles: Vec<f64>,
    /// Extra classic bucket bounds.
    bounds: Vec<f64>,
}

/// A value, biased towards the interesting ranges: small exact values, bucket edges around
/// powers of two, values near `max_value`, and the extremes of `u64`.
#[derive(Debug, Arbitrary)]
enum Sample {
    Any(u64),
    Small(u8),
    NearPowerOfTwo {
        exp: u8,
        offset: i8,
    },
    NearMax(i16),
    /// Several copies of one value (the same bucket many times).
    Repeat(u64, u8),
}

const MAX_VALUES: usize = 512;

fn expand(samples: &[Sample], config: HistogramConfig, out: &mut Vec<u64>) {
    for s in samples {
        match *s {
            Sample::Any(v) => out.push(v),
            Sample::Small(v) => out.push(v.into()),
            Sample::NearPowerOfTwo { exp, offset } => {
                out.push((1u64 << (exp % 64)).wrapping_add_signed(offset.into()))
            }
            Sample::NearMax(d) => out.push(config.max_value().saturating_add_signed(d.into())),
            Sample::Repeat(v, n) => out.extend(std::iter::repeat_n(v, usize::from(n % 32) + 1)),
        }
        if out.len() >= MAX_VALUES {
            out.truncate(MAX_VALUES);
            return;
        }
    }
}

/// The 1-based rank of the `q`-quantile among `count` values, as documented on
/// `HistogramSnapshot::quantile`: `max(1, ceil(q × count))`, at most `count`.
fn rank(q: f64, count: u64) -> u64 {
    ((q * count as f64).ceil() as u64).clamp(1, count)
}

/// Checks every quantile of `h` against `sorted` (the exact values `h` holds). `eps` is the
/// relative bound for interior ranks; `exact_ends`: ranks 1 and `count` are exact.
fn check_quantiles(h: &HistogramSnapshot, sorted: &[u64], qs: &[f64], eps: f64, exact_ends: bool) {
    let count = sorted.len() as u64;
    assert_eq!(h.count(), count);
    for &q in qs {
        let estimate = h.quantile(q);
        if count == 0 || !(0.0..=1.0).contains(&q) {
            assert_eq!(estimate, None, "q = {q}, count = {count}");
            continue;
        }
        let estimate = estimate.expect("a non-empty histogram has every quantile in [0, 1]");
        let r = rank(q, count);
        let exact = sorted[(r - 1) as usize];
        if exact > h.config().max_value() {
            // In the overflow no relative bound holds, only the documented bounds: rank 1 of
            // a delta is its `min`, a lower bound; any other rank is `max`, an upper one.
            if r == 1 && !exact_ends {
                assert!(estimate <= exact, "q = {q}: delta min {estimate} > exact {exact}");
            } else {
                assert!(estimate >= exact, "q = {q}: overflow estimate {estimate} < exact {exact}");
            }
            continue;
        }
        if exact_ends && (r == 1 || r == count) {
            assert_eq!(estimate, exact, "q = {q}: rank {r} of {count} must be exact");
            continue;
        }
        let error = estimate.abs_diff(exact) as f64;
        assert!(
            error <= eps * exact as f64,
            "q = {q}: estimate {estimate} is {error} from exact {exact}, beyond {eps} relative \
             (config {:?})",
            h.config()
        );
    }
}

fn check_cumulative(h: &HistogramSnapshot, sorted: &[u64], bounds: &[f64]) {
    let cumulative = h.to_cumulative(bounds);
    assert_eq!(cumulative.last(), Some(&(f64::INFINITY, h.count())));
    let mut previous = 0;
    for &(le, c) in &cumulative {
        assert!(c >= previous, "cumulative counts must grow: {cumulative:?}");
        previous = c;
        // Compared as f64, as documented.
        let at_most = sorted.iter().filter(|&&v| v as f64 <= le).count() as u64;
        assert!(c <= at_most, "le = {le}: {c} counted but only {at_most} values are <= le");
    }
}

fn record(set: &RawSet, values: &[u64], events: bool) {
    let field = set.field("h").expect("the layout has field h");
    if events {
        // Several values per event: an event may touch many buckets and pages.
        for chunk in values.chunks(7) {
            set.record(|e| chunk.iter().for_each(|&v| e.observe(field, v)));
        }
    } else {
        // One event per value, through the field's handle.
        let handle = set.histogram(field);
        values.iter().for_each(|&v| handle.record(v));
    }
}

fn collect(set: &RawSet) -> HistogramSnapshot {
    match set.snapshot().values() {
        [Value::Histogram(h)] => (**h).clone(),
        other => panic!("a set of one histogram field collected {other:?}"),
    }
}

fuzz_target!(|input: Input| {
    let config = match input.config {
        None => HistogramConfig::DEFAULT,
        Some((bits, max)) => match HistogramConfig::new(bits, max) {
            Ok(c) => c,
            Err(e) => {
                // Refused exactly outside the documented domain.
                let bits_ok = (HistogramConfig::MIN_SUB_BUCKET_BITS
                    ..=HistogramConfig::MAX_SUB_BUCKET_BITS)
                    .contains(&bits);
                assert!(!bits_ok || max < 1 << bits, "{e}");
                assert!(!e.to_string().is_empty());
                return;
            }
        },
    };
    let mut values = Vec::new();
    expand(&input.values, config, &mut values);
    let split = if values.is_empty() { 0 } else { usize::from(input.split) % (values.len() + 1) };
    let (first, second) = values.split_at(split);

    let layout =
        Layout::new(vec![FieldDesc::new("h", FieldKind::Histogram(config), "fuzzed")]).unwrap();
    let set = RawSet::new(layout);
    record(&set, first, input.split.is_multiple_of(2));
    let earlier = collect(&set);
    record(&set, second, input.split.is_multiple_of(3));
    let later = collect(&set);

    // Exact parts and equality with the reference construction.
    let mut sorted = values.clone();
    sorted.sort_unstable();
    let reference = HistogramSnapshot::from_values(config, values.iter().copied()).unwrap();
    assert_eq!(later, reference, "collected != from_values");
    assert_eq!(later.count(), sorted.len() as u64);
    assert_eq!(later.sum(), sorted.iter().map(|&v| u128::from(v)).sum::<u128>());
    assert_eq!(later.min(), sorted.first().copied());
    assert_eq!(later.max(), sorted.last().copied());
    let overflow = sorted.iter().filter(|&&v| v > config.max_value()).count() as u64;
    assert_eq!(later.overflow(), overflow);
    let in_buckets: u64 = later.sparse_buckets().iter().map(|&(_, c)| c).sum();
    assert_eq!(in_buckets + overflow, later.count());
    for (low, high, _) in later.buckets() {
        assert!(low <= high && low <= config.max_value());
    }

    let mut qs: Vec<f64> =
        vec![0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0, -0.5, 1.5, f64::NAN];
    qs.extend(input.quantiles.iter().take(16));
    let eps = config.relative_error();
    check_quantiles(&later, &sorted, &qs, eps / 2.0, true);

    // The delta is the histogram of the values recorded in between.
    let delta = HistogramSnapshot::delta(&later, &earlier).expect("later came after earlier");
    let between = HistogramSnapshot::from_values(config, second.iter().copied()).unwrap();
    assert_eq!(delta.sparse_buckets(), between.sparse_buckets());
    assert_eq!((delta.count(), delta.sum()), (between.count(), between.sum()));
    assert_eq!(delta.overflow(), between.overflow());
    let mut second_sorted = second.to_vec();
    second_sorted.sort_unstable();
    check_quantiles(&delta, &second_sorted, &qs, eps, earlier.count() == 0);
    if earlier.count() > 0 {
        // Delta min and max are bounds that contain the exact ones.
        if let (Some(lo), Some(hi)) = (delta.min(), delta.max()) {
            assert!(lo <= second_sorted[0] && second_sorted[second.len() - 1] <= hi);
        }
    }
    // Earlier + delta = later, up to the delta's min/max bounds.
    let mut rebuilt = earlier.clone();
    rebuilt.try_merge(&delta).expect("same config");
    assert_eq!(rebuilt.sparse_buckets(), later.sparse_buckets());
    assert_eq!(
        (rebuilt.count(), rebuilt.sum(), rebuilt.overflow()),
        (later.count(), later.sum(), later.overflow())
    );

    let mut bounds: Vec<f64> = tally_prometheus::DEFAULT_LATENCY_BUCKETS_NS.to_vec();
    bounds.extend(input.bounds.iter().take(8));
    check_cumulative(&later, &sorted, &bounds);

    // The native conversion keeps the count exactly.
    let native = later.to_native(config.sub_bucket_bits() as i8);
    let native_count = native.zero_count + native.positive.iter().map(|&(_, c)| c).sum::<u64>();
    assert_eq!(native_count, later.count());
});
