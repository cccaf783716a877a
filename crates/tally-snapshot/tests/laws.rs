//! The laws snapshots obey: merge is associative and commutative with the zero snapshot as
//! identity; `delta` undoes `merge` for counters and gauges and refuses counters that went
//! backwards, naming the field; serde JSON round-trips, and bad JSON is an error, never a
//! panic; snapshots of different schemas refuse to merge or subtract.

use proptest::prelude::*;
use tally::{InferenceStatsSnapshot, Layout, RawSet};
use tally_snapshot::{
    Delta, DeltaError, FieldDesc, FieldKind, HistogramConfig, HistogramSnapshot, Last, LastF64,
    Merge, MergeError, SetSnapshot, Unit, Value,
};

// ---- strategies ----

/// A `Last` as a set produces it: never set (stamp 0, value 0) or set at some stamp.
fn last() -> impl Strategy<Value = Last> {
    prop_oneof![
        1 => Just(Last::default()),
        4 => (any::<i64>(), 1..=u64::MAX).prop_map(|(value, stamp)| Last::new(value, stamp)),
        // Few distinct stamps, so that equal stamps (the tie-break) come up.
        4 => (any::<i64>(), 1..4u64).prop_map(|(value, stamp)| Last::new(value, stamp)),
    ]
}

const SMALL: HistogramConfig = match HistogramConfig::new(2, 1 << 16) {
    Ok(c) => c,
    Err(_) => panic!("valid"),
};

/// A histogram as a set produces it: any values, some beyond the configured range.
fn histogram(config: HistogramConfig) -> impl Strategy<Value = HistogramSnapshot> {
    prop::collection::vec(prop_oneof![0..1u64 << 17, any::<u64>()], 0..20)
        .prop_map(move |values| HistogramSnapshot::from_values(config, values).unwrap())
}

/// Milliseconds up to 65.536 s, exposed in seconds.
const SMALL_SECONDS: HistogramConfig = match SMALL.in_unit(Unit::Seconds, 3) {
    Ok(c) => c,
    Err(_) => panic!("valid"),
};

/// A float total as a collection produces it, from increments that are multiples of 2^-4
/// below 2^36: any three of them add up exactly (below 2^53 sixteenths), where the laws
/// hold exactly; the float kinds document what rounding does beyond that.
fn float_total(signed: bool) -> BoxedStrategy<f64> {
    let low = if signed { -(1i64 << 40) } else { 0 };
    (low..(1i64 << 40)).prop_map(|k| k as f64 / 16.0).boxed()
}

/// A `LastF64`: never set, or any finite value at some stamp (few stamps: ties come up).
fn last_f64() -> impl Strategy<Value = LastF64> {
    let finite = any::<f64>().prop_filter("finite", |x| x.is_finite());
    prop_oneof![
        1 => Just(LastF64::default()),
        4 => (finite.clone(), 1..=u64::MAX).prop_map(|(value, stamp)| LastF64::new(value, stamp)),
        4 => (finite, 1..4u64).prop_map(|(value, stamp)| LastF64::new(value, stamp)),
    ]
}

fn kind() -> impl Strategy<Value = FieldKind> {
    prop_oneof![
        Just(FieldKind::Counter),
        Just(FieldKind::Gauge),
        Just(FieldKind::LastValue),
        Just(FieldKind::Histogram(SMALL)),
        Just(FieldKind::Histogram(SMALL_SECONDS)),
        Just(FieldKind::CounterF64),
        Just(FieldKind::GaugeF64),
        Just(FieldKind::LastValueF64),
    ]
}

fn value_of(kind: FieldKind) -> BoxedStrategy<Value> {
    match kind {
        FieldKind::Counter => any::<u64>().prop_map(Value::Counter).boxed(),
        FieldKind::Gauge => any::<i64>().prop_map(Value::Gauge).boxed(),
        FieldKind::LastValue => last().prop_map(Value::LastValue).boxed(),
        FieldKind::Histogram(config) => {
            histogram(config).prop_map(|h| Value::Histogram(Box::new(h))).boxed()
        }
        FieldKind::CounterF64 => float_total(false).prop_map(Value::CounterF64).boxed(),
        FieldKind::GaugeF64 => float_total(true).prop_map(Value::GaugeF64).boxed(),
        FieldKind::LastValueF64 => last_f64().prop_map(Value::LastValueF64).boxed(),
        other => panic!("no strategy for {other:?}"),
    }
}

/// A schema: distinct names, any kinds, any help text.
fn schema() -> impl Strategy<Value = Vec<FieldDesc>> {
    prop::collection::vec((kind(), "\\PC{0,12}"), 0..7).prop_map(|fields| {
        fields
            .into_iter()
            .enumerate()
            .map(|(i, (kind, help))| FieldDesc {
                name: format!("field_{i}").into(),
                kind,
                help: help.into(),
                unit: match kind {
                    FieldKind::Histogram(config) => config.unit(),
                    _ => Default::default(),
                },
            })
            .collect()
    })
}

fn snapshot_of(fields: Vec<FieldDesc>) -> impl Strategy<Value = SetSnapshot> {
    let values: Vec<_> = fields.iter().map(|f| value_of(f.kind)).collect();
    values.prop_map(move |values| SetSnapshot::new(fields.clone(), values).unwrap())
}

/// Three snapshots of one schema.
fn three_snapshots() -> impl Strategy<Value = (SetSnapshot, SetSnapshot, SetSnapshot)> {
    schema().prop_flat_map(|fields| {
        (snapshot_of(fields.clone()), snapshot_of(fields.clone()), snapshot_of(fields))
    })
}

/// The snapshot of a set nobody recorded into.
fn zero_like(s: &SetSnapshot) -> SetSnapshot {
    let values = s.fields().iter().map(|f| Value::zero(f.kind)).collect();
    SetSnapshot::new(s.fields().to_vec(), values).unwrap()
}

fn merged(a: &SetSnapshot, b: &SetSnapshot) -> SetSnapshot {
    let mut out = a.clone();
    out.try_merge(b).expect("same schema");
    out
}

fn inference_snapshot(max: u64) -> impl Strategy<Value = InferenceStatsSnapshot> {
    (
        (0..=max, 0..=max, 0..=max, 0..=max, 0..=max, any::<i64>()),
        histogram(HistogramConfig::DEFAULT),
    )
        .prop_map(|((t, s, f, h, m, g), latency_ns)| InferenceStatsSnapshot {
            total_inferences: t,
            successful_inferences: s,
            failed_inferences: f,
            cache_hits: h,
            cache_misses: m,
            in_flight: g,
            latency_ns,
        })
}

/// Equal counts, sums, overflow and buckets: what a histogram delta knows exactly.
fn same_counts(a: &HistogramSnapshot, b: &HistogramSnapshot) -> bool {
    a.config() == b.config()
        && a.count() == b.count()
        && a.sum() == b.sum()
        && a.overflow() == b.overflow()
        && a.sparse_buckets() == b.sparse_buckets()
}

// ---- merge laws ----

fn check_merge_laws<T: Merge + Clone + Default + PartialEq + std::fmt::Debug>(
    a: T,
    b: T,
    c: T,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.merged(&b).merged(&c), a.merged(&b.merged(&c)), "associative");
    prop_assert_eq!(a.merged(&b), b.merged(&a), "commutative");
    prop_assert_eq!(a.merged(&T::default()), a.clone(), "default is a right identity");
    prop_assert_eq!(T::default().merged(&a), a, "default is a left identity");
    Ok(())
}

proptest! {
    #[test]
    fn u64_merge_is_associative_commutative_with_default_identity(
        a in any::<u64>(), b in any::<u64>(), c in any::<u64>()
    ) {
        check_merge_laws(a, b, c)?;
    }

    #[test]
    fn i64_merge_is_associative_commutative_with_default_identity(
        a in any::<i64>(), b in any::<i64>(), c in any::<i64>()
    ) {
        check_merge_laws(a, b, c)?;
    }

    #[test]
    fn last_merge_is_associative_commutative_with_default_identity(
        a in last(), b in last(), c in last()
    ) {
        check_merge_laws(a, b, c)?;
        // And it keeps the newer write.
        let m = a.merged(&b);
        prop_assert!(m == a || m == b);
        prop_assert_eq!(m.stamp_ns, a.stamp_ns.max(b.stamp_ns));
    }

    #[test]
    fn float_merge_is_associative_commutative_with_default_identity_when_exact(
        a in float_total(true), b in float_total(true), c in float_total(true)
    ) {
        check_merge_laws(a, b, c)?;
    }

    #[test]
    fn last_f64_merge_is_associative_commutative_with_default_identity(
        a in last_f64(), b in last_f64(), c in last_f64()
    ) {
        check_merge_laws(a, b, c)?;
        let m = a.merged(&b);
        prop_assert!(m == a || m == b);
        prop_assert_eq!(m.stamp_ns, a.stamp_ns.max(b.stamp_ns));
    }

    #[test]
    fn generated_snapshot_merge_is_associative_commutative_with_default_identity(
        a in inference_snapshot(u64::MAX),
        b in inference_snapshot(u64::MAX),
        c in inference_snapshot(u64::MAX),
    ) {
        check_merge_laws(a, b, c)?;
    }

    #[test]
    fn set_snapshot_merge_is_associative_commutative_with_the_zero_snapshot_as_identity(
        (a, b, c) in three_snapshots()
    ) {
        prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        let zero = zero_like(&a);
        prop_assert_eq!(merged(&a, &zero), a.clone());
        prop_assert_eq!(merged(&zero, &a), a);
    }

    #[test]
    fn set_snapshot_merge_is_the_typed_merge_field_by_field(
        a in inference_snapshot(u64::MAX), b in inference_snapshot(u64::MAX)
    ) {
        use tally::Snapshot as _;
        prop_assert_eq!(
            merged(&a.to_set_snapshot(), &b.to_set_snapshot()),
            a.merged(&b).to_set_snapshot()
        );
    }
}

// ---- delta ----

proptest! {
    #[test]
    fn counter_delta_undoes_merge(a in 0..=u64::MAX / 2, b in 0..=u64::MAX / 2) {
        prop_assert_eq!(u64::delta(&a.merged(&b), &a), Ok(b));
    }

    #[test]
    fn gauge_delta_undoes_merge(a in any::<i64>(), b in any::<i64>()) {
        prop_assert_eq!(i64::delta(&a.merged(&b), &a), Ok(b));
    }

    #[test]
    fn counter_delta_is_an_error_when_the_counter_went_backwards(
        later in 0..u64::MAX, gap in 1..=u64::MAX
    ) {
        let earlier = later.saturating_add(gap);
        prop_assume!(earlier > later);
        let err = u64::delta(&later, &earlier).unwrap_err();
        prop_assert_eq!(
            err,
            DeltaError::CounterWentBackwards { field: String::new(), earlier, later }
        );
    }

    #[test]
    fn last_delta_is_the_later_value_or_an_error_when_its_stamp_is_older(a in last(), b in last()) {
        match Last::delta(&a, &b) {
            Ok(d) => {
                prop_assert!(a.stamp_ns >= b.stamp_ns);
                prop_assert_eq!(d, a);
            }
            Err(e) => {
                prop_assert!(a.stamp_ns < b.stamp_ns);
                let is_stamp_error = matches!(e, DeltaError::StampWentBackwards { .. });
                prop_assert!(is_stamp_error);
            }
        }
    }

    #[test]
    fn generated_snapshot_delta_undoes_merge(
        a in inference_snapshot(u64::MAX / 2), b in inference_snapshot(u64::MAX / 2)
    ) {
        let d = InferenceStatsSnapshot::delta(&a.merged(&b), &a).unwrap();
        // A histogram delta knows its counts exactly but only bounds its min and max.
        prop_assert!(same_counts(&d.latency_ns, &b.latency_ns));
        prop_assert_eq!(
            InferenceStatsSnapshot { latency_ns: b.latency_ns.clone(), ..d },
            b
        );
    }

    #[test]
    fn set_snapshot_delta_undoes_merge_for_counters_and_gauges(
        (a, b, _) in three_snapshots()
    ) {
        // Halve the counters so that a + b cannot wrap.
        let halve = |s: &SetSnapshot| {
            let values = s.values().iter().map(|v| match v {
                Value::Counter(c) => Value::Counter(c / 2),
                other => other.clone(),
            }).collect();
            // (Float totals of the strategy add and subtract exactly as they are.)
            SetSnapshot::new(s.fields().to_vec(), values).unwrap()
        };
        let (a, b) = (halve(&a), halve(&b));
        let m = merged(&a, &b);
        let d = SetSnapshot::delta(&m, &a).unwrap();
        prop_assert_eq!(d.fields(), a.fields());
        for ((dv, bv), mv) in d.values().iter().zip(b.values()).zip(m.values()) {
            match dv {
                // Last-value gauges are levels: the delta is the later (merged) value.
                Value::LastValue(_) | Value::LastValueF64(_) => prop_assert_eq!(dv, mv),
                Value::Histogram(dh) => match bv {
                    Value::Histogram(bh) => prop_assert!(same_counts(dh, bh)),
                    other => prop_assert!(false, "kind changed: {other:?}"),
                },
                _ => prop_assert_eq!(dv, bv),
            }
        }
    }

    #[test]
    fn generated_snapshot_delta_names_the_counter_that_went_backwards(
        field in 0..5usize, base in inference_snapshot(1_000)
    ) {
        let mut earlier = base.clone();
        let mut later = base;
        let names = [
            "total_inferences", "successful_inferences", "failed_inferences",
            "cache_hits", "cache_misses",
        ];
        let slots = [
            &mut earlier.total_inferences, &mut earlier.successful_inferences,
            &mut earlier.failed_inferences, &mut earlier.cache_hits, &mut earlier.cache_misses,
        ];
        *slots.into_iter().nth(field).unwrap() += 1;
        later.in_flight = later.in_flight.wrapping_sub(5); // a gauge may go down
        let err = InferenceStatsSnapshot::delta(&later, &earlier).unwrap_err();
        let is_counter_error =
            matches!(&err, DeltaError::CounterWentBackwards { field: f, .. } if f == names[field]);
        prop_assert!(is_counter_error, "{:?}", err);
        let message = err.to_string();
        prop_assert!(message.contains(&format!("`{}`", names[field])), "{}", message);
    }
}

#[test]
fn set_snapshot_delta_names_the_counter_that_went_backwards() {
    let fields = vec![
        FieldDesc::new("requests", FieldKind::Counter, ""),
        FieldDesc::new("errors", FieldKind::Counter, ""),
    ];
    let earlier =
        SetSnapshot::new(fields.clone(), vec![Value::Counter(5), Value::Counter(3)]).unwrap();
    let later = SetSnapshot::new(fields, vec![Value::Counter(9), Value::Counter(2)]).unwrap();
    let err = SetSnapshot::delta(&later, &earlier).unwrap_err();
    assert_eq!(
        err,
        DeltaError::CounterWentBackwards { field: "errors".into(), earlier: 3, later: 2 }
    );
    assert!(err.to_string().contains("`errors`"), "{err}");
}

#[test]
fn last_value_delta_names_the_gauge_whose_stamp_went_backwards() {
    let fields = vec![FieldDesc::new("temperature", FieldKind::LastValue, "")];
    let earlier = SetSnapshot::new(fields.clone(), vec![Value::LastValue(Last::new(1, 20))]);
    let later = SetSnapshot::new(fields, vec![Value::LastValue(Last::new(2, 10))]);
    let err = SetSnapshot::delta(&later.unwrap(), &earlier.unwrap()).unwrap_err();
    assert!(matches!(&err, DeltaError::StampWentBackwards { field, .. } if field == "temperature"));
    assert!(err.to_string().contains("`temperature`"), "{err}");
}

// ---- serde ----

proptest! {
    #[test]
    fn set_snapshot_round_trips_through_json(s in schema().prop_flat_map(snapshot_of)) {
        let json = serde_json::to_string(&s).unwrap();
        prop_assert_eq!(serde_json::from_str::<SetSnapshot>(&json).unwrap(), s);
    }

    #[test]
    fn generated_snapshot_round_trips_through_json(s in inference_snapshot(u64::MAX)) {
        let json = serde_json::to_string(&s).unwrap();
        prop_assert_eq!(serde_json::from_str::<InferenceStatsSnapshot>(&json).unwrap(), s.clone());
        // Through a JSON value and a pretty string too.
        let value = serde_json::to_value(&s).unwrap();
        prop_assert_eq!(serde_json::from_value::<InferenceStatsSnapshot>(value).unwrap(), s.clone());
        let pretty = serde_json::to_string_pretty(&s).unwrap();
        prop_assert_eq!(serde_json::from_str::<InferenceStatsSnapshot>(&pretty).unwrap(), s);
    }

    #[test]
    fn mangled_json_is_an_error_or_a_valid_snapshot_never_a_panic(
        s in inference_snapshot(1_000),
        set in schema().prop_flat_map(snapshot_of),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<char>()), 1..4),
    ) {
        for json in [serde_json::to_string(&s).unwrap(), serde_json::to_string(&set).unwrap()] {
            let mut chars: Vec<char> = json.chars().collect();
            for (at, c) in &cuts {
                let i = at.index(chars.len());
                if c.is_ascii_digit() { chars.remove(i); } else { chars[i] = *c; }
            }
            let mangled: String = chars.into_iter().collect();
            // Either outcome is fine; a panic fails the test.
            if let Ok(back) = serde_json::from_str::<InferenceStatsSnapshot>(&mangled) {
                prop_assert_eq!(serde_json::from_str::<InferenceStatsSnapshot>(
                    &serde_json::to_string(&back).unwrap()).unwrap(), back);
            }
            if let Ok(back) = serde_json::from_str::<SetSnapshot>(&mangled) {
                // Whatever got in satisfies the constructor's checks.
                prop_assert!(SetSnapshot::new(back.fields().to_vec(), back.values().to_vec()).is_ok());
            }
        }
    }
}

/// As serialized before histograms had units (no `decimals`, no `unit`): a typed snapshot
/// still reads it, in the unit its set declares.
const EMPTY_HISTOGRAM: &str = r#"{"config":{"sub_bucket_bits":5,"max_value":100000000000},
    "count":0,"sum":0,"min":null,"max":null,"overflow":0,"buckets":[]}"#;

fn good() -> String {
    format!(
        r#"{{"total_inferences":3,"successful_inferences":2,"failed_inferences":1,
        "cache_hits":1,"cache_misses":2,"in_flight":-1,"latency_ns":{EMPTY_HISTOGRAM}}}"#
    )
}

#[test]
fn generated_snapshot_reads_its_own_json_and_the_array_form() {
    let s: InferenceStatsSnapshot = serde_json::from_str(&good()).unwrap();
    assert_eq!((s.total_inferences, s.cache_misses, s.in_flight), (3, 2, -1));
    let array: InferenceStatsSnapshot =
        serde_json::from_str(&format!("[3,2,1,1,2,-1,{EMPTY_HISTOGRAM}]")).unwrap();
    assert_eq!(array, s);
}

#[test]
fn bad_json_for_a_generated_snapshot_is_an_error_not_a_panic() {
    let cases = [
        ("missing field", good().replace(r#""cache_hits":1,"#, "")),
        ("unknown field", good().replace(r#""in_flight":-1"#, r#""in_flight":-1,"extra":0"#)),
        (
            "duplicate field",
            good().replace(r#""cache_hits":1,"#, r#""cache_hits":1,"cache_hits":1,"#),
        ),
        ("wrong type", good().replace(r#""cache_hits":1"#, r#""cache_hits":"1""#)),
        ("float counter", good().replace(r#""cache_hits":1"#, r#""cache_hits":1.5"#)),
        ("negative counter", good().replace(r#""cache_hits":1"#, r#""cache_hits":-1"#)),
        (
            "counter too large",
            good().replace(r#""cache_hits":1"#, r#""cache_hits":18446744073709551616"#),
        ),
        ("null", good().replace(r#""in_flight":-1"#, r#""in_flight":null"#)),
        ("not an object", "42".to_owned()),
        ("short array", "[3,2,1,1,2]".to_owned()),
        ("long array", "[3,2,1,1,2,-1,0]".to_owned()),
        ("truncated", good()[..good().len() - 3].to_owned()),
    ];
    for (what, json) in &cases {
        assert!(serde_json::from_str::<InferenceStatsSnapshot>(json).is_err(), "{what}: {json}");
    }
    // The errors say what is wrong.
    let missing = serde_json::from_str::<InferenceStatsSnapshot>(&cases[0].1).unwrap_err();
    assert!(missing.to_string().contains("cache_hits"), "{missing}");
    let unknown = serde_json::from_str::<InferenceStatsSnapshot>(&cases[1].1).unwrap_err();
    assert!(unknown.to_string().contains("extra"), "{unknown}");
}

#[test]
fn bad_json_for_a_set_snapshot_is_an_error_not_a_panic() {
    let good = r#"{"fields":[{"name":"requests","kind":"counter","help":""},
        {"name":"level","kind":"gauge","help":""},
        {"name":"latest","kind":"last_value","help":""}],
        "values":[{"counter":1},{"gauge":-2},{"last_value":{"value":3,"stamp_ns":4}}]}"#;
    let s: SetSnapshot = serde_json::from_str(good).unwrap();
    assert_eq!(s.get("latest"), Some(&Value::LastValue(Last::new(3, 4))));
    let cases = [
        ("negative counter", good.replace(r#"{"counter":1}"#, r#"{"counter":-1}"#)),
        ("kind mismatch", good.replace(r#"{"counter":1}"#, r#"{"gauge":1}"#)),
        ("unknown kind", good.replace(r#""kind":"gauge""#, r#""kind":"histogram""#)),
        ("fewer values", good.replace(r#"{"counter":1},"#, "")),
        ("duplicate name", good.replace(r#""name":"level""#, r#""name":"requests""#)),
        ("missing values", r#"{"fields":[]}"#.to_owned()),
        ("wrong type", good.replace(r#""stamp_ns":4"#, r#""stamp_ns":"4""#)),
    ];
    for (what, json) in cases {
        assert!(serde_json::from_str::<SetSnapshot>(&json).is_err(), "{what}: {json}");
    }
}

// ---- schemas ----

#[test]
fn snapshots_of_sets_with_different_schemas_refuse_to_merge_or_subtract() {
    let layout = |fields: &[(&'static str, FieldKind)]| {
        Layout::new(fields.iter().map(|(n, k)| FieldDesc::new(n, *k, "")).collect()).unwrap()
    };
    let base = RawSet::new(layout(&[("a", FieldKind::Counter), ("b", FieldKind::Counter)]));
    let others = [
        RawSet::new(layout(&[("a", FieldKind::Counter)])),
        RawSet::new(layout(&[("a", FieldKind::Counter), ("c", FieldKind::Counter)])),
        RawSet::new(layout(&[("a", FieldKind::Counter), ("b", FieldKind::Gauge)])),
        RawSet::new(layout(&[("b", FieldKind::Counter), ("a", FieldKind::Counter)])),
    ];
    let a = base.field("a").unwrap();
    base.record(|e| e.add_counter(a, 1));
    let snap = base.snapshot();
    for other in &others {
        let other = other.snapshot();
        let mut merged = snap.clone();
        assert!(matches!(merged.try_merge(&other), Err(MergeError::SchemaMismatch { .. })));
        assert_eq!(merged, snap, "a failed merge leaves the snapshot unchanged");
        assert!(matches!(
            SetSnapshot::delta(&snap, &other),
            Err(DeltaError::SchemaMismatch { .. })
        ));
        assert!(matches!(
            SetSnapshot::delta(&other, &snap),
            Err(DeltaError::SchemaMismatch { .. })
        ));
    }
    // A typed snapshot, as a set snapshot, only merges with its own schema.
    use tally::Snapshot as _;
    let typed = InferenceStatsSnapshot::default().to_set_snapshot();
    assert!(typed.clone().try_merge(&snap).is_err());
    assert!(typed.clone().try_merge(&typed).is_ok());
}

#[test]
fn set_snapshot_new_rejects_values_that_do_not_fit_the_fields() {
    let fields = vec![
        FieldDesc::new("a", FieldKind::Counter, ""),
        FieldDesc::new("b", FieldKind::Gauge, ""),
    ];
    let err = |values: Vec<Value>| SetSnapshot::new(fields.clone(), values).unwrap_err();
    assert!(matches!(err(vec![Value::Counter(1)]), DeltaError::SchemaMismatch { .. }));
    assert!(matches!(
        err(vec![Value::Counter(1), Value::Counter(2)]),
        DeltaError::SchemaMismatch { .. }
    ));
    let twice = vec![FieldDesc::new("a", FieldKind::Counter, ""); 2];
    assert!(SetSnapshot::new(twice, vec![Value::Counter(1); 2]).is_err());
}
