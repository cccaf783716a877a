//! Names `metrics` accepts but Prometheus does not are sanitized, and the result is one
//! valid metric.

mod common;

use common::counter;

#[test]
fn invalid_metric_and_label_names_are_sanitized() {
    let (registry, recorder) = common::recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("http.requests-total", "http.method" => "GET").increment(1);
        metrics::counter!("5xx responses", "__reserved" => "x").increment(2);
        metrics::histogram!("rpc.latency", "le" => "not a bucket").record(9.0);
    });
    let snap = registry.snapshot();
    assert_eq!(snap.metrics["http_requests_total"].label_names, ["http_method"]);
    assert_eq!(counter(&snap, "http_requests_total", &["GET"]), 1);
    assert_eq!(snap.metrics["_5xx_responses"].label_names, ["_reserved"]);
    assert_eq!(counter(&snap, "_5xx_responses", &["x"]), 2);
    // A histogram's `le` label would clash with its buckets' label.
    assert_eq!(snap.metrics["rpc_latency"].label_names, ["_le"]);
    for name in snap.metrics.keys() {
        assert!(tally::is_valid_metric_name(name), "{name}");
    }
}

#[test]
fn names_equal_after_sanitizing_are_one_metric() {
    let (registry, recorder) = common::recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("cache.hits").increment(1);
        metrics::counter!("cache_hits").increment(1);
        metrics::counter!("cache-hits").increment(1);
    });
    let snap = registry.snapshot();
    assert_eq!(counter(&snap, "cache_hits", &[]), 3);
    // One metric, and nothing else: the recorder adds nothing uninvited (its own stats
    // are exposed only with `expose_stats`).
    let names: Vec<_> = snap.metrics.keys().collect();
    assert_eq!(names, ["cache_hits"]);
}
