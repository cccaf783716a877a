//! The registry: names and units validated with messages that say what to do, duplicates
//! refused without disturbing what is registered, and one collection that covers sets,
//! families and run-time sets, serializes, and merges across processes exactly.

use tally::{
    Cache, FieldDesc, FieldKind, InferenceStats, Layout, Outcome, Registry, RegistryError,
    RegistrySnapshot, Value,
};

fn counter(snap: &RegistrySnapshot, metric: &str, series: usize, field: &str) -> u64 {
    match snap.metrics[metric].series[series].snapshot.get(field) {
        Some(Value::Counter(n)) => *n,
        other => panic!("{metric}/{field}: {other:?}"),
    }
}

#[test]
fn invalid_and_duplicate_names_are_refused_with_a_clear_error() {
    let registry = Registry::new();
    for bad in ["", "9x", "with-dash", "__reserved", "spa ce", "ünï"] {
        let err = registry.register::<InferenceStats>(bad, "").unwrap_err();
        assert!(matches!(err, RegistryError::InvalidName { .. }), "{bad:?}");
        assert!(err.to_string().contains("Prometheus metric-name rules"), "{err}");
    }
    let first = registry.register::<InferenceStats>("inference", "first").unwrap();
    first.record_request(Outcome::Success, Cache::Hit);
    let err = registry.register::<InferenceStats>("inference", "second").unwrap_err();
    assert_eq!(err, RegistryError::Duplicate { name: "inference".into() });
    assert!(err.to_string().contains("already registered"));
    let err = registry.metric("inference").family::<InferenceStats>(&["m"]).unwrap_err();
    assert!(matches!(err, RegistryError::Duplicate { .. }));
    let err =
        registry.metric("with_unit").unit("milli-seconds").set::<InferenceStats>().unwrap_err();
    assert!(matches!(err, RegistryError::InvalidUnit { .. }));
    let err = registry.metric("fam").family::<InferenceStats>(&["bad-label"]).unwrap_err();
    assert!(matches!(err, RegistryError::Family { .. }), "{err}");
    // The first registration is intact.
    let snap = registry.snapshot();
    assert_eq!(registry.names(), ["inference"]);
    assert_eq!(snap.metrics["inference"].help, "first");
    assert_eq!(counter(&snap, "inference", 0, "total_inferences"), 1);
}

/// Found writing the `exposition` fuzz target (which now checks it): a family labelled
/// `le` of a set with histograms registered fine, and then its histograms could not be
/// exposed (their bucket lines need `le`), so the encoder left them out.
#[test]
fn a_label_named_le_is_refused_for_sets_with_histograms_and_allowed_without() {
    let registry = Registry::new();
    let err = registry.metric("by_le").family::<InferenceStats>(&["model", "le"]).unwrap_err();
    assert_eq!(err, RegistryError::ReservedLabel { name: "by_le".into(), label: "le".into() });
    assert!(err.to_string().contains("rename the label"), "{err}");
    let histogram = Layout::new(vec![
        FieldDesc::new("served", FieldKind::Counter, ""),
        FieldDesc::new("latency_ns", FieldKind::Histogram(Default::default()), ""),
    ])
    .unwrap();
    let err = registry.metric("raw_by_le").raw_family(histogram, &["le"]).unwrap_err();
    assert!(matches!(err, RegistryError::ReservedLabel { .. }), "{err}");
    assert!(registry.names().is_empty(), "a refused family was registered");
    // Without histograms, `le` is an ordinary label.
    let counters = Layout::new(vec![FieldDesc::new("served", FieldKind::Counter, "")]).unwrap();
    let family = registry.metric("counts_by_le").raw_family(counters, &["le"]).unwrap();
    let series = family.bind(&["0.5"]).unwrap();
    let served = series.field("served").unwrap();
    series.record(|e| e.add_counter(served, 2));
    assert_eq!(counter(&registry.snapshot(), "counts_by_le", 0, "served"), 2);
}

#[test]
fn one_collection_covers_sets_families_and_run_time_sets_and_round_trips_through_json() {
    let registry = Registry::new();
    let plain = registry.register::<InferenceStats>("inference", "All requests.").unwrap();
    let family = registry
        .metric("inference_by_model")
        .help("Per model.")
        .unit("requests")
        .cardinality_limit(10)
        .family::<InferenceStats>(&["model"])
        .unwrap();
    let layout =
        Layout::new(vec![FieldDesc::new("loads", FieldKind::Counter, "Model loads.")]).unwrap();
    let raw = registry.metric("loader").help("Loader.").raw(layout.clone()).unwrap();
    let raw_family = registry.metric("loader_by_disk").raw_family(layout, &["disk"]).unwrap();

    plain.record_request(Outcome::Success, Cache::Miss);
    for model in ["bert", "resnet", "bert"] {
        family.with(&[model], |s| s.record_request(Outcome::Success, Cache::Hit)).unwrap();
    }
    let loads = raw.field("loads").unwrap();
    raw.record(|e| e.add_counter(loads, 3));
    raw_family
        .with(&["nvme0"], |s| {
            let f = s.field("loads").unwrap();
            s.record(|e| e.add_counter(f, 1));
        })
        .unwrap();

    let snap = registry.snapshot();
    assert_eq!(
        snap.metrics.keys().collect::<Vec<_>>(),
        ["inference", "inference_by_model", "loader", "loader_by_disk"]
    );
    let by_model = &snap.metrics["inference_by_model"];
    assert_eq!(by_model.label_names, ["model"]);
    assert_eq!(by_model.unit.as_deref(), Some("requests"));
    assert_eq!(
        by_model.series.iter().map(|s| s.labels[0].as_str()).collect::<Vec<_>>(),
        ["bert", "resnet"]
    );
    assert_eq!(counter(&snap, "inference_by_model", 0, "total_inferences"), 2);
    assert_eq!(counter(&snap, "loader", 0, "loads"), 3);
    assert_eq!(counter(&snap, "loader_by_disk", 0, "loads"), 1);

    let json = serde_json::to_string(&snap).unwrap();
    let back: RegistrySnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);
}

#[test]
fn registry_snapshots_from_several_processes_merge_exactly() {
    // Three "processes": each its own registry with the same metrics, different traffic.
    let snaps: Vec<RegistrySnapshot> = (0..3u64)
        .map(|p| {
            let registry = Registry::new();
            let set = registry.register::<InferenceStats>("inference", "").unwrap();
            let family = registry.metric("by_model").family::<InferenceStats>(&["model"]).unwrap();
            for i in 0..(p + 1) * 100 {
                set.record_request(Outcome::success_if(i % 3 != 0), Cache::Hit);
                let model = if i % 2 == 0 { "bert" } else { "only-in-some" };
                if model == "bert" || p == 2 {
                    family
                        .with(&[model], |s| s.record_request(Outcome::Success, Cache::Miss))
                        .unwrap();
                }
            }
            registry.snapshot()
        })
        .collect();
    let mut merged = RegistrySnapshot::default();
    for s in &snaps {
        merged.try_merge(s).unwrap();
    }
    assert_eq!(counter(&merged, "inference", 0, "total_inferences"), 100 + 200 + 300);
    assert_eq!(counter(&merged, "by_model", 0, "total_inferences"), 50 + 100 + 150);
    assert_eq!(merged.metrics["by_model"].series[1].labels, ["only-in-some"]);
    assert_eq!(counter(&merged, "by_model", 1, "total_inferences"), 150);

    // A metric whose labels differ between processes is refused, and nothing changes.
    let mut other = snaps[0].clone();
    other.metrics.get_mut("by_model").unwrap().label_names = vec!["region".into()];
    let before = merged.clone();
    assert!(merged.try_merge(&other).is_err());
    assert_eq!(merged, before);
}

tally::metric_set! {
    /// A histogram exposed in seconds beside a field already named in seconds.
    struct Clashing {
        /// Latency, recorded in ns, exposed as `…_latency_seconds`.
        latency_ns: Histogram,
        /// Exposed as `…_latency_seconds` too.
        latency_seconds: Gauge,
    }
}

tally::metric_set! {
    /// One counter called `requests`.
    struct Requests {
        /// Requests.
        requests: Counter,
    }
}

tally::metric_set! {
    /// One counter called `total`.
    struct Total {
        /// A total.
        total: Counter,
    }
}

/// Regression: two fields mapped to one exposed name were accepted, and the encoder then
/// dropped the second in silence (`Skipped::NameClash` reached nobody). Registration
/// refuses the second, naming both, and registers nothing.
#[test]
fn fields_that_would_be_exposed_under_one_name_are_refused_at_registration() {
    let registry = Registry::new();
    let err = registry.register::<Clashing>("rpc", "").unwrap_err();
    assert!(matches!(err, RegistryError::ExposedNames(_)), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("\"latency_seconds\"") && message.contains("\"latency_ns\""),
        "{message}"
    );
    assert!(registry.names().is_empty());

    // Across metrics: `api` + `requests` and `api_requests` + `total` are both
    // `api_requests_total`.
    registry.register::<Requests>("api", "").unwrap();
    let err = registry.register::<Total>("api_requests", "").unwrap_err();
    assert!(err.to_string().contains("\"api_requests_total\""), "{err}");
    assert_eq!(registry.names(), ["api"]);
    // Everything registered is exposed: the snapshot is valid.
    registry.snapshot().validate().unwrap();
}

/// Found by the exposition fuzz target: a metric called `_` is a valid name, but its field
/// `requests` would be exposed as `__requests`, a reserved name the encoder must leave out.
/// Registration refuses it, naming the field and the name.
#[test]
fn a_metric_whose_fields_would_be_exposed_under_reserved_names_is_refused() {
    let registry = Registry::new();
    let err = registry.register::<Requests>("_", "").unwrap_err();
    assert!(
        matches!(err, RegistryError::ExposedNames(tally::InvalidSnapshot::ExposedName { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("\"__requests\""), "{err}");
    assert!(registry.names().is_empty());
    // `_x` + `requests` is `_x_requests`: fine.
    registry.register::<Requests>("_x", "").unwrap();
    registry.snapshot().validate().unwrap();
}
