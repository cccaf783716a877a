//! Histogram snapshots: bucket math, the quantile bound, merge, delta, serde, exposition.

use proptest::prelude::*;
use proptest::sample::Index;
use tally_snapshot::{
    Delta, DeltaError, HistogramConfig, HistogramConfigError, HistogramError, HistogramSnapshot,
    Merge, MergeError, Unit,
};

const GRID: [f64; 7] = [0.0, 0.001, 0.5, 0.9, 0.99, 0.999, 1.0];

/// The same rank definition as `HistogramSnapshot::quantile` documents.
fn rank(q: f64, n: usize) -> usize {
    ((q * n as f64).ceil() as usize).clamp(1, n)
}

fn config() -> impl Strategy<Value = HistogramConfig> {
    (1u8..=10).prop_flat_map(|k| {
        let lo = 1u64 << k;
        prop_oneof![
            Just(lo),
            lo..=1_000_000u64,
            lo..=u64::MAX,
            Just(u64::MAX),
            Just(100_000_000_000u64),
        ]
        .prop_map(move |m| HistogramConfig::new(k, m).unwrap())
    })
}

/// One value: uniform over u64, uniform small, heavy-tailed, or a special one (0, 1,
/// u64::MAX, the config's max_value and just beyond it).
fn value(cfg: HistogramConfig) -> impl Strategy<Value = u64> + Clone {
    let m = cfg.max_value();
    prop_oneof![
        any::<u64>(),
        0u64..10_000,
        (0.0f64..44.0).prop_map(|x| x.exp() as u64),
        prop::sample::select(vec![
            0,
            1,
            2,
            u64::MAX,
            u64::MAX - 1,
            1 << 40,
            m,
            m.saturating_add(1)
        ]),
    ]
}

/// A non-empty value set: independent draws, or many duplicates of a few values.
fn values(cfg: HistogramConfig, max_len: usize) -> impl Strategy<Value = Vec<u64>> {
    let one = value(cfg);
    prop_oneof![
        prop::collection::vec(one.clone(), 1..max_len),
        (prop::collection::vec(one, 1..5), prop::collection::vec(any::<Index>(), 1..max_len))
            .prop_map(|(pool, ix)| ix.iter().map(|i| pool[i.index(pool.len())]).collect()),
    ]
}

fn case() -> impl Strategy<Value = (HistogramConfig, Vec<u64>)> {
    config().prop_flat_map(|c| (Just(c), values(c, 300)))
}

fn two_sets() -> impl Strategy<Value = (HistogramConfig, Vec<u64>, Vec<u64>)> {
    config()
        .prop_flat_map(|c| (Just(c), values(c, 200), prop_oneof![Just(Vec::new()), values(c, 200)]))
}

fn hist(cfg: HistogramConfig, values: &[u64]) -> HistogramSnapshot {
    HistogramSnapshot::from_values(cfg, values.iter().copied()).unwrap()
}

/// `|est - exact| * 2^shift <= exact`, in exact integer arithmetic.
fn within(est: u64, exact: u64, shift: u32) -> bool {
    (u128::from(est.abs_diff(exact)) << shift) <= u128::from(exact)
}

/// Checks every quantile of the grid against the sorted values.
///
/// `exact_extremes`: the snapshot's min and max are exact (not a delta), so ranks 1 and n
/// must be exact and every other rank within half the relative error; otherwise (a delta)
/// every rank is within the full relative error.
fn check_quantiles(
    h: &HistogramSnapshot,
    values: &[u64],
    exact_extremes: bool,
) -> Result<(), TestCaseError> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let cfg = h.config();
    let k = u32::from(cfg.sub_bucket_bits());
    for q in GRID {
        let r = rank(q, n);
        let exact = sorted[r - 1];
        let est = h.quantile(q).unwrap();
        let ctx = format!("q={q} rank={r}/{n} exact={exact} est={est} k={k}");
        if exact_extremes && r == 1 {
            prop_assert_eq!(est, sorted[0], "{}", ctx);
        } else if exact_extremes && r == n {
            prop_assert_eq!(est, sorted[n - 1], "{}", ctx);
        } else if exact > cfg.max_value() {
            // Overflow: no relative bound, but never below the exact value except at rank
            // 1 of a delta, which gives a lower bound.
            if r == 1 {
                prop_assert!(est <= exact && est > cfg.max_value(), "{}", ctx);
            } else {
                prop_assert_eq!(Some(est), h.max(), "{}", ctx);
                prop_assert!(est >= exact, "{}", ctx);
            }
        } else if exact_extremes {
            prop_assert!(within(est, exact, k + 1), "half bound: {}", ctx);
        } else {
            prop_assert!(within(est, exact, k), "full bound: {}", ctx);
        }
        // The documented float form of the bound, too.
        if exact <= cfg.max_value() {
            prop_assert!(
                est.abs_diff(exact) as f64 <= cfg.relative_error() * exact as f64,
                "{}",
                ctx
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Bucket math

#[test]
fn buckets_tile_the_u64_range_for_every_k() {
    for k in 1..=10u8 {
        let cfg = HistogramConfig::new(k, u64::MAX).unwrap();
        let n = cfg.bucket_count();
        assert_eq!(cfg.bucket_low(0), 0);
        assert_eq!(cfg.bucket_high(n - 1), u64::MAX);
        for i in 0..n {
            let (lo, hi) = (cfg.bucket_low(i), cfg.bucket_high(i));
            assert!(lo <= hi, "k={k} i={i}");
            assert_eq!(cfg.index(lo), Some(i), "k={k} i={i} lo={lo}");
            assert_eq!(cfg.index(hi), Some(i), "k={k} i={i} hi={hi}");
            if i + 1 < n {
                assert_eq!(hi + 1, cfg.bucket_low(i + 1), "k={k} i={i}");
            }
            // Width is at most 2^-k of the bucket's smallest value (or 1).
            let width = u128::from(hi - lo) + 1;
            assert!(width == 1 || width << k <= u128::from(lo), "k={k} i={i}");
        }
    }
}

#[test]
fn config_validation_says_what_to_do() {
    assert_eq!(
        HistogramConfig::new(0, 100),
        Err(HistogramConfigError::SubBucketBitsOutOfRange { bits: 0 })
    );
    assert!(HistogramConfig::new(11, u64::MAX).is_err());
    let e = HistogramConfig::new(5, 31).unwrap_err();
    assert_eq!(e, HistogramConfigError::MaxValueTooSmall { max_value: 31, smallest: 32 });
    assert!(e.to_string().contains("raise max_value"), "{e}");
    assert!(HistogramConfig::new(5, 32).is_ok());
    assert_eq!(HistogramConfig::default(), HistogramConfig::DEFAULT);
    assert_eq!(HistogramConfig::DEFAULT.bucket_count(), 1039);
    assert_eq!(HistogramConfig::DEFAULT.relative_error(), 1.0 / 32.0);
}

proptest! {
    #[test]
    fn index_and_bounds_agree_for_random_values(k in 1u8..=10, v in any::<u64>(), w in any::<u64>()) {
        let cfg = HistogramConfig::new(k, u64::MAX).unwrap();
        let i = cfg.index(v).unwrap();
        prop_assert!(cfg.bucket_low(i) <= v && v <= cfg.bucket_high(i));
        prop_assert!(i < cfg.bucket_count());
        let j = cfg.index(w).unwrap();
        // index is monotone in v
        if v <= w { prop_assert!(i <= j) } else { prop_assert!(i >= j) }
    }

    #[test]
    fn values_beyond_max_value_overflow(cfg in config(), v in any::<u64>()) {
        match cfg.index(v) {
            Some(i) => prop_assert!(v <= cfg.max_value() && i < cfg.bucket_count()),
            None => prop_assert!(v > cfg.max_value()),
        }
        prop_assert_eq!(cfg.index(cfg.max_value()), Some(cfg.bucket_count() - 1));
    }

    // -----------------------------------------------------------------------------------
    // Quantiles

    #[test]
    fn quantile_estimates_are_within_the_documented_bound((cfg, vals) in case()) {
        let h = hist(cfg, &vals);
        check_quantiles(&h, &vals, true)?;
    }

    #[test]
    fn record_one_by_one_equals_from_values((cfg, vals) in case()) {
        let mut h = HistogramSnapshot::empty(cfg);
        for &v in &vals {
            h.record(v);
        }
        prop_assert_eq!(&h, &hist(cfg, &vals));
        prop_assert_eq!(h.count(), vals.len() as u64);
        prop_assert_eq!(h.sum(), vals.iter().map(|&v| u128::from(v)).sum::<u128>());
        prop_assert_eq!(h.min(), vals.iter().copied().min());
        prop_assert_eq!(h.max(), vals.iter().copied().max());
        prop_assert_eq!(h.overflow(), vals.iter().filter(|&&v| v > cfg.max_value()).count() as u64);
        let in_buckets: u64 = h.buckets().map(|(_, _, c)| c).sum();
        prop_assert_eq!(in_buckets + h.overflow(), h.count());
    }

    #[test]
    fn quantile_rejects_q_outside_unit_interval((cfg, vals) in case(), q in prop_oneof![
        Just(f64::NAN), Just(-0.01), Just(1.01), Just(f64::INFINITY), Just(f64::NEG_INFINITY)
    ]) {
        prop_assert_eq!(hist(cfg, &vals).quantile(q), None);
    }

    // -----------------------------------------------------------------------------------
    // Merge and delta

    #[test]
    fn merge_equals_histogram_of_union((cfg, a, b) in two_sets()) {
        let (ha, hb) = (hist(cfg, &a), hist(cfg, &b));
        let union: Vec<u64> = a.iter().chain(&b).copied().collect();
        let hu = hist(cfg, &union);
        prop_assert_eq!(&ha.merged(&hb), &hu);
        prop_assert_eq!(&hb.merged(&ha), &hu);
        let mut t = ha.clone();
        t.try_merge(&hb).unwrap();
        prop_assert_eq!(&t, &hu);
        check_quantiles(&hu, &union, true)?;
    }

    #[test]
    fn merge_is_associative_with_default_identity(cfg in config(), a in any::<Vec<u16>>(), b in any::<Vec<u16>>(), c in any::<Vec<u16>>()) {
        let h = |v: &Vec<u16>| HistogramSnapshot::from_values(cfg, v.iter().map(|&x| u64::from(x) * 1013)).unwrap();
        let (ha, hb, hc) = (h(&a), h(&b), h(&c));
        prop_assert_eq!(ha.merged(&hb).merged(&hc), ha.merged(&hb.merged(&hc)));
        if !a.is_empty() {
            prop_assert_eq!(&HistogramSnapshot::default().merged(&ha), &ha);
        }
        prop_assert_eq!(&ha.merged(&HistogramSnapshot::default()), &ha);
    }

    #[test]
    fn delta_of_merge_minus_part_is_the_other_part((cfg, a, b) in two_sets()) {
        let (ha, hb) = (hist(cfg, &a), hist(cfg, &b));
        let later = ha.merged(&hb);
        let d = HistogramSnapshot::delta(&later, &ha).unwrap();
        prop_assert_eq!(d.sparse_buckets(), hb.sparse_buckets());
        prop_assert_eq!(d.count(), hb.count());
        prop_assert_eq!(d.sum(), hb.sum());
        prop_assert_eq!(d.overflow(), hb.overflow());
        prop_assert_eq!(d.config(), cfg);
        if b.is_empty() {
            prop_assert_eq!(&d, &HistogramSnapshot::empty(cfg));
            prop_assert_eq!(HistogramSnapshot::delta(&ha, &later), Ok(HistogramSnapshot::empty(cfg)));
        } else {
            // min and max are bounds of the values in between
            prop_assert!(d.min().unwrap() <= hb.min().unwrap(), "{:?} vs {:?}", d.min(), hb.min());
            prop_assert!(d.max().unwrap() >= hb.max().unwrap(), "{:?} vs {:?}", d.max(), hb.max());
            check_quantiles(&d, &b, false)?;
            // Reversed order is an error, not a huge number.
            let err = HistogramSnapshot::delta(&ha, &later).unwrap_err();
            let is_backwards = matches!(err, DeltaError::CounterWentBackwards { .. });
            prop_assert!(is_backwards, "{err}");
            // The delta round-trips through serde like any snapshot.
            let json = serde_json::to_string(&d).unwrap();
            prop_assert_eq!(&serde_json::from_str::<HistogramSnapshot>(&json).unwrap(), &d);
        }
        // A delta from an empty start is the later snapshot itself.
        prop_assert_eq!(<HistogramSnapshot as Delta>::delta(&hb, &HistogramSnapshot::empty(cfg)), Ok(hb.clone()));
    }

    #[test]
    fn merge_of_different_configs_keeps_totals_and_never_panics(
        (c1, a) in case(), (c2, b) in case()
    ) {
        let (ha, hb) = (hist(c1, &a), hist(c2, &b));
        let m = ha.merged(&hb);
        prop_assert_eq!(m.config(), c1);
        prop_assert_eq!(m.count(), ha.count() + hb.count());
        prop_assert_eq!(m.sum(), ha.sum() + hb.sum());
        prop_assert_eq!(m.min(), ha.min().min(hb.min()));
        prop_assert_eq!(m.max(), ha.max().max(hb.max()));
        let in_buckets: u64 = m.buckets().map(|(_, _, c)| c).sum();
        prop_assert_eq!(in_buckets + m.overflow(), m.count());
        // Still a valid snapshot.
        let json = serde_json::to_string(&m).unwrap();
        prop_assert_eq!(&serde_json::from_str::<HistogramSnapshot>(&json).unwrap(), &m);
        for q in GRID {
            let est = m.quantile(q).unwrap();
            prop_assert!(m.min().unwrap() <= est && est <= m.max().unwrap());
        }
        let mut t = ha.clone();
        if c1 == c2 {
            prop_assert!(t.try_merge(&hb).is_ok());
        } else {
            let refused = matches!(t.try_merge(&hb), Err(MergeError::SchemaMismatch { .. }));
            prop_assert!(refused);
            prop_assert_eq!(&t, &ha);
            let delta_refused = matches!(
                HistogramSnapshot::delta(&ha, &hb),
                Err(DeltaError::SchemaMismatch { .. })
            );
            prop_assert!(delta_refused);
        }
    }

    // -----------------------------------------------------------------------------------
    // Serde

    #[test]
    fn serde_json_round_trip((cfg, vals) in case()) {
        let h = hist(cfg, &vals);
        let json = serde_json::to_string(&h).unwrap();
        prop_assert_eq!(&serde_json::from_str::<HistogramSnapshot>(&json).unwrap(), &h);
    }

    #[test]
    fn hostile_bucket_lists_are_errors_never_panics(
        cfg in config(),
        count in any::<u64>(), sum in any::<u128>(), min in any::<Option<u64>>(),
        max in any::<Option<u64>>(), overflow in any::<u64>(),
        buckets in prop::collection::vec((0u32..70_000, 0u64..5), 0..8),
    ) {
        let json = serde_json::json!({
            "config": cfg, "count": count, "sum": sum.to_string(), "min": min, "max": max,
            "overflow": overflow, "buckets": buckets,
        });
        let parsed = serde_json::from_value::<HistogramSnapshot>(json);
        let direct = HistogramSnapshot::from_parts(cfg, count, sum, min, max, overflow, buckets);
        prop_assert_eq!(parsed.is_ok(), direct.is_ok());
        if let Ok(h) = direct {
            // Whatever is accepted is usable.
            let _ = h.quantile(0.5);
            let _ = h.to_native(3);
            let _ = h.to_cumulative(&[1.0, 1e6]);
            let _ = h.merged(&h);
            prop_assert_eq!(HistogramSnapshot::delta(&h, &h).map(|d| d.count()), Ok(0));
        }
    }

    #[test]
    fn tampered_snapshots_are_rejected((cfg, vals) in case(), bump in 1u64..10) {
        let h = hist(cfg, &vals);
        let mut v = serde_json::to_value(&h).unwrap();
        v["count"] = serde_json::json!(h.count() + bump);
        prop_assert!(serde_json::from_value::<HistogramSnapshot>(v).is_err());
        let mut v = serde_json::to_value(&h).unwrap();
        let b = v["buckets"].as_array_mut().unwrap();
        if b.len() >= 2 {
            b.swap(0, 1);
            prop_assert!(serde_json::from_value::<HistogramSnapshot>(v).is_err());
        }
    }

    // -----------------------------------------------------------------------------------
    // Exposition

    #[test]
    fn cumulative_buckets_never_overcount(
        cfg in config(),
        vals in prop::collection::vec(prop_oneof![0u64..100_000, 0u64..1 << 40], 1..200),
        mut le in prop::collection::vec(prop_oneof![0.0f64..200_000.0, 0.0f64..2e12], 0..12),
    ) {
        let h = hist(cfg, &vals);
        le.push(f64::NAN);
        let cum = h.to_cumulative(&le);
        prop_assert_eq!(cum.last().copied(), Some((f64::INFINITY, h.count())));
        prop_assert!(cum.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        let eps = cfg.relative_error();
        for &(b, c) in &cum {
            let at_most = vals.iter().filter(|&&v| v as f64 <= b).count() as u64;
            prop_assert!(c <= at_most, "le={} cum={} exact={}", b, c, at_most);
            let surely = vals
                .iter()
                .filter(|&&v| v <= cfg.max_value() && v as f64 * (1.0 + eps) <= b)
                .count() as u64;
            prop_assert!(c >= surely, "le={} cum={} lower={}", b, c, surely);
        }
    }

    #[test]
    fn native_buckets_are_within_relative_error_of_each_value(
        cfg in config(),
        vals in prop::collection::vec(prop_oneof![0u64..100_000, 0u64..1 << 50, (0.0f64..34.0).prop_map(|x| x.exp() as u64)], 1..200),
        schema in -6i8..=10,
    ) {
        // No overflow here (overflow values are only known to be <= max).
        let vals: Vec<u64> = vals.into_iter().map(|v| v % cfg.max_value().saturating_add(1)).collect();
        let h = hist(cfg, &vals);
        let n = h.to_native(schema);
        prop_assert_eq!(n.schema, schema.clamp(-4, 8));
        prop_assert_eq!(n.count, h.count());
        prop_assert_eq!(n.zero_count, vals.iter().filter(|&&v| v == 0).count() as u64);
        prop_assert_eq!(n.zero_count + n.positive.iter().map(|&(_, c)| c).sum::<u64>(), n.count);
        prop_assert!(n.positive.windows(2).all(|w| w[0].0 < w[1].0));
        prop_assert!(n.positive.iter().all(|&(_, c)| c > 0));
        prop_assert!((n.sum - h.sum() as f64).abs() <= 1e-9 * n.sum);
        // Each value v counted in (l, u] has l(1 - eps) < v <= u(1 + eps): so the cumulative
        // count at each upper bound u lies between #(v <= u(1 - eps)) and #(v <= u(1 + eps)).
        let eps = cfg.relative_error() + 1e-12;
        let mut cum = n.zero_count;
        for &(i, c) in &n.positive {
            cum += c;
            let (_, u) = n.bucket_bounds(i);
            let hi = vals.iter().filter(|&&v| v as f64 <= u * (1.0 + eps)).count() as u64;
            let lo = vals.iter().filter(|&&v| (v as f64) <= u * (1.0 - eps)).count() as u64;
            prop_assert!(lo <= cum && cum <= hi, "i={} u={} cum={} in [{}, {}]", i, u, cum, lo, hi);
        }
    }

    #[test]
    fn native_buckets_in_the_unit_are_within_relative_error_of_each_value_in_the_unit(
        vals in prop::collection::vec(prop_oneof![0u64..100_000, (0.0f64..25.0).prop_map(|x| x.exp() as u64)], 1..100),
        decimals in 0u8..=12,
        schema in -4i8..=8,
    ) {
        let cfg = HistogramConfig::new(5, u64::MAX).unwrap();
        let h = hist(cfg, &vals).with_unit(Unit::Seconds, decimals).unwrap();
        let per = h.config().steps_per_unit() as f64;
        let n = h.to_native_in_unit(schema);
        prop_assert_eq!(n.count, h.count());
        prop_assert_eq!(n.zero_count, vals.iter().filter(|&&v| v == 0).count() as u64);
        prop_assert_eq!(n.sum, h.config().sum_to_unit(h.sum()));
        let eps = h.config().relative_error() + 1e-12;
        let mut cum = n.zero_count;
        for &(i, c) in &n.positive {
            cum += c;
            let (_, u) = n.bucket_bounds(i);
            let in_unit = |v: u64| v as f64 / per;
            let hi = vals.iter().filter(|&&v| in_unit(v) <= u * (1.0 + eps)).count() as u64;
            let lo = vals.iter().filter(|&&v| in_unit(v) <= u * (1.0 - eps)).count() as u64;
            prop_assert!(lo <= cum && cum <= hi, "i={} u={} cum={} in [{}, {}]", i, u, cum, lo, hi);
        }
    }

    #[test]
    fn native_buckets_of_exact_values_are_exact(
        (k, v) in (1u8..=10).prop_flat_map(|k| (Just(k), 1u64..1 << k)),
        schema in -4i8..=8,
    ) {
        let cfg = HistogramConfig::new(k, u64::MAX).unwrap();
        // Two values so the clamping to [min, max] does not help.
        let h = hist(cfg, &[v, 1 << 60]);
        let n = h.to_native(schema);
        let (i, _) = n.positive[0];
        let (l, u) = n.bucket_bounds(i);
        let x = v as f64;
        prop_assert!(l * (1.0 - 1e-12) < x && x <= u * (1.0 + 1e-12), "v={} in ({}, {}]", v, l, u);
    }
}

// ---------------------------------------------------------------------------------------
// Fixed cases

fn json_with(f: impl FnOnce(&mut serde_json::Value)) -> Result<HistogramSnapshot, String> {
    let cfg = HistogramConfig::new(2, 100).unwrap();
    let h = hist(cfg, &[3, 50, 50, 500]);
    let mut v = serde_json::to_value(&h).unwrap();
    f(&mut v);
    serde_json::from_value(v).map_err(|e| e.to_string())
}

#[test]
fn hostile_json_is_an_error_with_a_reason() {
    assert!(json_with(|_| {}).is_ok());
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "increasing index order",
            Box::new(|v| v["buckets"] = serde_json::json!([[16, 2], [3, 1]])),
        ),
        (
            "increasing index order",
            Box::new(|v| v["buckets"] = serde_json::json!([[3, 1], [3, 2]])),
        ),
        ("count must equal", Box::new(|v| v["count"] = serde_json::json!(5))),
        ("count must equal", Box::new(|v| v["overflow"] = serde_json::json!(0))),
        ("out of range", Box::new(|v| v["buckets"] = serde_json::json!([[3, 1], [999, 2]]))),
        ("count 0", Box::new(|v| v["buckets"] = serde_json::json!([[3, 1], [16, 2], [17, 0]]))),
        ("min 600 is above max", Box::new(|v| v["min"] = serde_json::json!(600))),
        ("needs both", Box::new(|v| v["max"] = serde_json::Value::Null)),
        (
            "sub_bucket_bits = 0",
            Box::new(|v| v["config"]["sub_bucket_bits"] = serde_json::json!(0)),
        ),
        ("raise max_value", Box::new(|v| v["config"]["max_value"] = serde_json::json!(3))),
        ("", Box::new(|v| v["buckets"] = serde_json::json!([[-1, 1]]))),
        ("", Box::new(|v| v["sum"] = serde_json::json!(-5))),
        ("", Box::new(|v| v["buckets"] = serde_json::json!("lots"))),
    ];
    for (want, f) in cases {
        let err = json_with(f).expect_err(want);
        assert!(err.contains(want), "{err:?} should mention {want:?}");
    }
    let empty_with_sum = r#"{"config":{"sub_bucket_bits":5,"max_value":1000},"count":0,
        "sum":3,"min":null,"max":null,"overflow":0,"buckets":[]}"#;
    let err = serde_json::from_str::<HistogramSnapshot>(empty_with_sum).unwrap_err();
    assert!(err.to_string().contains("empty histogram"), "{err}");
}

#[test]
fn sums_beyond_u64_round_trip() {
    let vals = [u64::MAX; 5];
    let h = hist(HistogramConfig::DEFAULT, &vals);
    assert_eq!(h.sum(), 5 * u128::from(u64::MAX));
    let json = serde_json::to_string(&h).unwrap();
    assert!(json.contains(r#""sum":"92233720368547758075""#), "{json}");
    assert_eq!(serde_json::from_str::<HistogramSnapshot>(&json).unwrap(), h);
    let value = serde_json::to_value(&h).unwrap();
    assert_eq!(serde_json::from_value::<HistogramSnapshot>(value).unwrap(), h);
    assert_eq!(h.quantile(0.5), Some(u64::MAX));
}

#[test]
fn empty_serializes_min_and_max_as_null() {
    let h = HistogramSnapshot::default();
    let json = serde_json::to_string(&h).unwrap();
    assert_eq!(
        json,
        r#"{"config":{"sub_bucket_bits":5,"max_value":100000000000,"decimals":9,"unit":"seconds"},"count":0,"sum":0,"min":null,"max":null,"overflow":0,"buckets":[]}"#
    );
    assert_eq!(serde_json::from_str::<HistogramSnapshot>(&json).unwrap(), h);
    assert_eq!((h.quantile(0.5), h.mean(), h.min(), h.max()), (None, None, None, None));
}

#[test]
fn from_dense_accepts_a_zero_page_tail_and_rejects_inconsistency() {
    let cfg = HistogramConfig::DEFAULT;
    let pages = cfg.bucket_count().div_ceil(64) * 64;
    let mut dense = vec![0u64; pages];
    dense[cfg.index(1_000).unwrap()] = 3;
    let h = HistogramSnapshot::from_dense(cfg, 3, 3_000, 1_000, 1_000, 0, &dense).unwrap();
    assert_eq!(h, hist(cfg, &[1_000; 3]));
    // count does not match
    assert!(matches!(
        HistogramSnapshot::from_dense(cfg, 4, 3_000, 1_000, 1_000, 0, &dense),
        Err(HistogramError::CountMismatch { count: 4, buckets: 3, overflow: 0 })
    ));
    // a count beyond the last bucket
    dense[pages - 1] = 1;
    assert!(matches!(
        HistogramSnapshot::from_dense(cfg, 4, 3_000, 1_000, 1_000, 0, &dense),
        Err(HistogramError::BucketOutOfRange { .. })
    ));
    // empty: min and max sentinels are ignored
    let e = HistogramSnapshot::from_dense(cfg, 0, 0, u64::MAX, 0, 0, &[]).unwrap();
    assert_eq!(e, HistogramSnapshot::default());
    assert!(matches!(
        HistogramSnapshot::from_dense(cfg, 1, 5, 9, 3, 0, &[0, 0, 0, 0, 0, 1]),
        Err(HistogramError::MinAboveMax { min: 9, max: 3 })
    ));
}

#[test]
fn delta_names_the_field_that_went_backwards() {
    let cfg = HistogramConfig::new(3, 1000).unwrap();
    let a = hist(cfg, &[5, 100, 100]);
    let b = hist(cfg, &[5, 100, 200]); // same count, one value moved
    match HistogramSnapshot::delta(&b, &a) {
        Err(DeltaError::CounterWentBackwards { field, earlier: 2, later: 1 }) => {
            assert_eq!(field, format!("bucket[{}]", cfg.index(100).unwrap()));
        }
        other => panic!("{other:?}"),
    }
    let c = hist(cfg, &[5]);
    match HistogramSnapshot::delta(&c, &a) {
        Err(DeltaError::CounterWentBackwards { field, earlier: 3, later: 1 }) => {
            assert_eq!(field, "count");
        }
        other => panic!("{other:?}"),
    }
    let o1 = hist(cfg, &[5_000, 6_000]);
    let o2 = hist(cfg, &[5_000, 1]);
    match HistogramSnapshot::delta(&o2, &o1) {
        Err(DeltaError::CounterWentBackwards { field, .. }) => assert_eq!(field, "overflow"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn delta_min_and_max_are_bucket_bounds() {
    let cfg = HistogramConfig::new(2, 1000).unwrap();
    let earlier = hist(cfg, &[1, 900]);
    let later = earlier.merged(&hist(cfg, &[17, 18]));
    let d = HistogramSnapshot::delta(&later, &earlier).unwrap();
    assert_eq!((d.min(), d.max()), (Some(16), Some(19)));
    // overflow grew: max is later's max
    let later = earlier.merged(&hist(cfg, &[17, 5_000]));
    let d = HistogramSnapshot::delta(&later, &earlier).unwrap();
    assert_eq!((d.min(), d.max()), (Some(16), Some(5_000)));
    assert_eq!(d.quantile(1.0), Some(5_000));
}

#[test]
fn merge_with_an_empty_histogram_of_another_config() {
    let small = HistogramConfig::new(3, 1000).unwrap();
    let a = hist(small, &[1, 2, 3]);
    let mut d = HistogramSnapshot::default();
    d.merge(&a);
    assert_eq!(d, a, "an empty histogram adopts the other's config");
    let mut a2 = a.clone();
    a2.merge(&HistogramSnapshot::default());
    assert_eq!(a2, a);
    let mut t = HistogramSnapshot::default();
    assert!(t.try_merge(&a).is_err());
}

#[test]
fn cross_config_merge_rebuckets_at_representatives() {
    let coarse = HistogramConfig::new(1, 1 << 20).unwrap();
    let fine = HistogramConfig::DEFAULT;
    let mut f = hist(fine, &[100, 1_000]);
    f.merge(&hist(coarse, &[10_000, 2_000_000]));
    assert_eq!(f.config(), fine);
    assert_eq!((f.count(), f.overflow(), f.max()), (4, 1, Some(2_000_000)));
    // 10,000 is in coarse bucket [8192, 12287] (midpoint 10239), re-bucketed near it.
    let p75 = f.quantile(0.75).unwrap();
    assert!((8192..=12287).contains(&p75), "{p75}");
}

#[test]
fn to_native_clamps_the_schema() {
    let h = hist(HistogramConfig::DEFAULT, &[1, 2, 3]);
    assert_eq!(h.to_native(100).schema, 8);
    assert_eq!(h.to_native(-100).schema, -4);
    // base 2^16: 1 is in (2^-16, 1], 2 and 3 in (1, 2^16].
    let n = h.to_native(-4);
    assert_eq!(n.positive, [(0, 1), (1, 2)]);
}

/// Exporters call `cumulative_counts_into` once per series with the same buffer: the
/// counts are those of `to_cumulative`, and the buffer is reused, not reallocated.
#[test]
fn cumulative_counts_into_matches_to_cumulative_and_reuses_its_buffer() {
    let config = HistogramConfig::new(3, 1 << 30).unwrap();
    let bound_sets: [&[f64]; 4] =
        [&[], &[0.0], &[1.0, 7.0, 8.0, 100.0, 1e3, 1e6], &[0.5, 1023.0, 1024.0, 2e9, 1e19]];
    let mut counts = Vec::with_capacity(8);
    let buffer = counts.as_ptr();
    // A spread of values: zeros, exact small ones, bucket edges, overflow, u64::MAX.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for n in 0..300 {
        let values: Vec<u64> = (0..n % 40)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match i % 5 {
                    0 => state % 16,
                    1 => state % 5_000,
                    2 => 1 << (state % 40),
                    3 => state >> (state % 64),
                    _ => u64::MAX - state % 3,
                }
            })
            .collect();
        let h = HistogramSnapshot::from_values(config, values).unwrap();
        for bounds in bound_sets {
            h.cumulative_counts_into(bounds, &mut counts);
            let want: Vec<u64> = h.to_cumulative(bounds).into_iter().map(|(_, c)| c).collect();
            assert_eq!(counts, want, "{bounds:?} {h:?}");
            assert_eq!(counts.last(), Some(&h.count()));
        }
    }
    assert_eq!(counts.as_ptr(), buffer, "the buffer was reallocated");
}
