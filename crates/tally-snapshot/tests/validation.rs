//! Regression: snapshots that break the library's own invariants were accepted on the way
//! in and then left out in silence on the way out (a bad metric or label name, a wrong
//! label count, a series twice, two fields exposed under one name). They are now refused
//! where they enter, with an error that names the offending metric and series, so that an
//! exporter never has to drop anything valid.

use tally_snapshot::{
    FieldDesc, FieldKind, HistogramConfig, InvalidSnapshot, MetricSnapshot, RegistrySnapshot,
    SeriesSnapshot, SetSnapshot, Value,
};

fn counters(names: &[&'static str], n: u64) -> SetSnapshot {
    SetSnapshot::new(
        names.iter().map(|f| FieldDesc::new(f, FieldKind::Counter, "")).collect(),
        names.iter().map(|_| Value::Counter(n)).collect(),
    )
    .unwrap()
}

fn metric(label_names: &[&str], series: Vec<(Vec<&str>, SetSnapshot)>) -> MetricSnapshot {
    MetricSnapshot {
        help: "help".into(),
        unit: None,
        label_names: label_names.iter().map(|s| s.to_string()).collect(),
        series: series
            .into_iter()
            .map(|(labels, snapshot)| SeriesSnapshot {
                labels: labels.into_iter().map(String::from).collect(),
                snapshot,
            })
            .collect(),
        overflow_redirects: 0,
    }
}

fn registry(metrics: Vec<(&str, MetricSnapshot)>) -> RegistrySnapshot {
    let mut r = RegistrySnapshot::default();
    for (name, m) in metrics {
        r.metrics.insert(name.to_owned(), m);
    }
    r
}

/// Serialized, then deserialized: the error serde reports, as a string.
fn round_trip(r: &RegistrySnapshot) -> Result<RegistrySnapshot, String> {
    let json = serde_json::to_string(r).unwrap();
    serde_json::from_str::<RegistrySnapshot>(&json).map_err(|e| e.to_string())
}

#[test]
fn a_valid_snapshot_deserializes_with_its_series_in_label_order() {
    let r = registry(vec![(
        "by_model",
        metric(
            &["model"],
            vec![(vec!["z"], counters(&["n"], 1)), (vec!["a"], counters(&["n"], 2))],
        ),
    )]);
    r.validate().unwrap();
    let back = round_trip(&r).unwrap();
    let labels: Vec<_> = back.metrics["by_model"].series.iter().map(|s| s.labels.clone()).collect();
    assert_eq!(labels, [vec!["a".to_string()], vec!["z".to_string()]]);
}

#[test]
fn invalid_snapshots_are_refused_on_the_way_in_naming_the_offence() {
    let h = FieldKind::Histogram(HistogramConfig::DEFAULT);
    let with_histogram = |name: &'static str| {
        SetSnapshot::new(vec![FieldDesc::new(name, h, "")], vec![Value::Histogram(Box::default())])
            .unwrap()
    };
    let cases: Vec<(RegistrySnapshot, &str)> = vec![
        (
            registry(vec![("bad name", metric(&[], vec![(vec![], counters(&["n"], 1))]))]),
            "\"bad name\"",
        ),
        (registry(vec![("__internal", metric(&[], vec![]))]), "\"__internal\""),
        (
            registry(vec![("m", metric(&["bad-label"], vec![(vec!["x"], counters(&["n"], 1))]))]),
            "\"bad-label\"",
        ),
        (registry(vec![("m", metric(&["a", "a"], vec![]))]), "label name \"a\""),
        (
            registry(vec![("m", metric(&["model"], vec![(vec!["x", "y"], counters(&["n"], 1))]))]),
            "series [\"x\", \"y\"] has 2 label values",
        ),
        (
            registry(vec![(
                "m",
                metric(
                    &["model"],
                    vec![(vec!["x"], counters(&["n"], 1)), (vec!["x"], counters(&["n"], 2))],
                ),
            )]),
            "series [\"x\"] appears twice",
        ),
        (
            registry(vec![(
                "m",
                metric(
                    &["model"],
                    vec![(vec!["x"], counters(&["n"], 1)), (vec!["y"], counters(&["k"], 2))],
                ),
            )]),
            "series [\"y\"] has other fields",
        ),
        (
            registry(vec![("m", metric(&["le"], vec![(vec!["x"], with_histogram("latency_ns"))]))]),
            "label \"le\" is reserved",
        ),
        // Two fields that map to one exposed name: a histogram in ns exposed in seconds,
        // beside a field called `latency_seconds`.
        (
            registry(vec![(
                "rpc",
                metric(
                    &[],
                    vec![(
                        vec![],
                        SetSnapshot::new(
                            vec![
                                FieldDesc::new("latency_ns", h, ""),
                                FieldDesc::new("latency_seconds", FieldKind::Gauge, ""),
                            ],
                            vec![Value::Histogram(Box::default()), Value::Gauge(1)],
                        )
                        .unwrap(),
                    )],
                ),
            )]),
            "\"rpc_latency_seconds\"",
        ),
        // A valid metric name whose field is exposed under a reserved one (found by the
        // exposition fuzz target).
        (
            registry(vec![("_", metric(&[], vec![(vec![], counters(&["requests"], 1))]))]),
            "\"__requests\"",
        ),
        // The same across two metrics.
        (
            registry(vec![
                ("api", metric(&[], vec![(vec![], counters(&["requests"], 1))])),
                ("api_requests", metric(&[], vec![(vec![], counters(&["total"], 1))])),
            ]),
            "already uses",
        ),
    ];
    for (snapshot, says) in cases {
        let err = snapshot.validate().expect_err(says);
        assert!(err.to_string().contains(says), "{says:?} not in {err}");
        let serde_err = round_trip(&snapshot).expect_err(says);
        assert!(serde_err.contains(says), "{says:?} not in {serde_err}");
        // A merge refuses it as well, and leaves the target unchanged.
        let mut target = registry(vec![("ok", metric(&[], vec![(vec![], counters(&["n"], 1))]))]);
        let before = target.clone();
        let merge_err = target.try_merge(&snapshot).expect_err(says);
        assert!(merge_err.to_string().contains(says), "{says:?} not in {merge_err}");
        assert_eq!(target, before);
    }
}

#[test]
fn a_merge_whose_result_would_clash_is_refused() {
    let a = registry(vec![("api", metric(&[], vec![(vec![], counters(&["requests"], 1))]))]);
    let b = registry(vec![("api_requests", metric(&[], vec![(vec![], counters(&["total"], 1))]))]);
    let mut m = a.clone();
    let err = m.try_merge(&b).unwrap_err();
    assert!(
        matches!(
            err,
            tally_snapshot::MergeError::InvalidSnapshot(InvalidSnapshot::NameClash { .. })
        ),
        "{err}"
    );
    assert_eq!(m, a);
}

#[test]
fn field_names_are_checked_when_a_set_snapshot_is_built() {
    let err = SetSnapshot::new(
        vec![FieldDesc::new("p99.9", FieldKind::Counter, "")],
        vec![Value::Counter(1)],
    )
    .unwrap_err();
    assert!(err.to_string().contains("\"p99.9\""), "{err}");
}
