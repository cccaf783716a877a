//! Regression: a merge lost counts once a family had gone over its cardinality cap. The
//! family placed its overflow series last instead of in label order, and
//! `RegistrySnapshot::try_merge` found series by binary search, so it added a second
//! series with the same labels instead of adding to the first, and the encoder then left
//! the duplicate out in silence (`merge(rs, rs)` exposed 5 of 6 counts). Merges now match
//! series by their labels whatever order they arrive in, and the result is checked.

use tally::{Registry, RegistrySnapshot, SeriesSnapshot, Value};

tally::metric_set! {
    struct Hits {
        /// Hits.
        hits: Counter,
    }
}

/// A registry with a family of limit 2 that saw `a`, `b`, `c` once each: `c` overflowed.
fn overflowed() -> RegistrySnapshot {
    let registry = Registry::new();
    let family = registry.metric("by_key").cardinality_limit(2).family::<Hits>(&["key"]).unwrap();
    for key in ["a", "b", "c"] {
        family.with(&[key], |h| h.hits().inc()).unwrap();
    }
    registry.snapshot()
}

fn exposed_total(snapshot: &RegistrySnapshot) -> u64 {
    let mut text = String::new();
    let report = tally_prometheus::encode(
        snapshot,
        tally_prometheus::Format::Text,
        &Default::default(),
        &mut text,
    );
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    text.lines()
        .filter(|l| l.starts_with("by_key_hits_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

fn stored_total(snapshot: &RegistrySnapshot) -> u64 {
    snapshot.metrics["by_key"]
        .series
        .iter()
        .map(|s| match s.snapshot.get("hits") {
            Some(Value::Counter(n)) => *n,
            other => panic!("{other:?}"),
        })
        .sum()
}

#[test]
fn a_family_collects_its_series_in_label_order_overflow_included() {
    let snap = overflowed();
    let labels: Vec<&Vec<String>> =
        snap.metrics["by_key"].series.iter().map(|s| &s.labels).collect();
    assert_eq!(labels.len(), 3);
    assert!(labels.windows(2).all(|w| w[0] < w[1]), "{labels:?}");
}

#[test]
fn merging_an_overflowed_snapshot_with_itself_doubles_every_count() {
    let rs = overflowed();
    let mut two = rs.clone();
    two.try_merge(&rs).unwrap();
    assert_eq!((stored_total(&two), exposed_total(&two)), (6, 6));
    let mut three = two.clone();
    three.try_merge(&rs).unwrap();
    assert_eq!((stored_total(&three), exposed_total(&three)), (9, 9));
}

/// The merge does not rely on the order of series: a snapshot built with its series in
/// any order (its fields are public) merges by label values.
#[test]
fn merging_matches_series_by_labels_whatever_their_order() {
    let rs = overflowed();
    let mut reversed = rs.clone();
    reversed.metrics.get_mut("by_key").unwrap().series.reverse();
    for (a, b) in [(&rs, &reversed), (&reversed, &rs), (&reversed, &reversed)] {
        let mut m = a.clone();
        m.try_merge(b).unwrap();
        assert_eq!((stored_total(&m), exposed_total(&m)), (6, 6));
        let labels: Vec<&Vec<String>> =
            m.metrics["by_key"].series.iter().map(|s| &s.labels).collect();
        assert!(labels.windows(2).all(|w| w[0] < w[1]), "{labels:?}");
    }
}

/// A snapshot holding the same series twice is refused by the merge (naming the series),
/// never half-merged: the target is unchanged.
#[test]
fn a_snapshot_with_a_series_twice_is_refused_and_the_target_is_unchanged() {
    let rs = overflowed();
    let mut bad = rs.clone();
    let metric = bad.metrics.get_mut("by_key").unwrap();
    let copy: SeriesSnapshot = metric.series[0].clone();
    metric.series.push(copy);
    let mut target = rs.clone();
    let err = target.try_merge(&bad).unwrap_err().to_string();
    assert!(err.contains("by_key") && err.contains("appears twice"), "{err}");
    assert_eq!(target, rs);
}
