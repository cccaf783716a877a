//! A real Prometheus server (Debian package `prometheus`) scrapes the endpoint every second,
//! and its HTTP query API returns the recorded counter values, hostile label values
//! included.
//!
//! A missing `prometheus` binary skips the test with a message on stderr, unless
//! `TALLY_REQUIRE_EXTERNAL=1` (as CI sets it), which makes it a failure. Install it with
//! `apt-get install -y prometheus`.

mod common;

use common::Metrics;
use common::prometheus::{Prometheus, TempDir, has_prometheus, value_of};

#[test]
fn a_prometheus_server_scrapes_the_recorded_values() {
    let test = "prometheus_scrape";
    if !has_prometheus(test) {
        return;
    }
    let metrics = Metrics::new(); // 3 inferences recorded
    let server = metrics.server().spawn().unwrap();
    let dir = TempDir::new(test);
    let mut prometheus = Prometheus::start(&dir, server.local_addr());

    // Within max_age (1 s) of epoch 0 a scrape may still see 0; then 3.
    prometheus.wait_for("inference_total_inferences_total", |r| value_of(r) == Some("3"));
    // Two series of a family, one with a label value holding a quote, a backslash, a
    // newline and a non-ASCII letter: stored with the value the registry has.
    prometheus.wait_for("model_requests_total", |result| {
        let mut series: Vec<(String, String)> = result
            .iter()
            .map(|(labels, value)| (labels["region"].as_str().unwrap().to_owned(), value.clone()))
            .collect();
        series.sort();
        series
            == [
                ("eu".to_owned(), "2".to_owned()),
                ("quote\"back\\slash\nnewline ü".to_owned(), "1".to_owned()),
            ]
    });
    // New records reach Prometheus through the next stale epoch.
    metrics.record(4);
    prometheus.wait_for("inference_total_inferences_total", |r| value_of(r) == Some("7"));
    prometheus.wait_for("up", |r| value_of(r) == Some("1"));
    drop(prometheus);
    server.shutdown().unwrap();
}
