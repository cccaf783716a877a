//! A real Prometheus (Debian's 2.42) with `--enable-feature=native-histograms` scrapes the
//! endpoint: it negotiates the protobuf format, stores tally's histogram as a native
//! histogram, and its query API agrees with the registry's snapshot: `histogram_count` and
//! `histogram_sum` exactly, `histogram_quantile` within the bound documented in
//! tally-prometheus' crate docs ("The protobuf format", "Quantiles"); the counter and the
//! float gauge beside it exactly.
//!
//! A missing `prometheus` binary skips the test with a message on stderr, unless
//! `TALLY_REQUIRE_EXTERNAL=1` (as CI sets it), which makes it a failure. Install it with
//! `apt-get install -y prometheus`.

mod common;

use std::sync::Arc;

use common::prometheus::{Prometheus, TempDir, has_prometheus, value_of};
use tally::{Registry, Value};
use tally_http::MetricsServer;

tally::metric_set! {
    /// What a model server did.
    pub struct Serving {
        /// Requests served.
        requests: Counter,
        /// Fraction of the accelerator busy, last sampled.
        busy: LastValueF64 in Ratio,
        /// Time per request.
        latency: Histogram,
    }
}

/// The f64 rounding the bound allows (crate docs): a relative 2^-50.
const ROUNDING: f64 = 1.0 / (1u64 << 50) as f64;

#[test]
fn prometheus_stores_the_histogram_natively_and_agrees_with_the_snapshot() {
    let test = "prometheus_native_histograms";
    if !has_prometheus(test) {
        return;
    }
    let registry = Arc::new(Registry::new());
    let serving = registry.register::<Serving>("serving", "The model server.").unwrap();
    // 1,000 latencies spread log-uniformly from 100 µs to 1 s, in nanoseconds.
    let mut ns: Vec<u64> =
        (0..1000).map(|i| (1e5 * 10f64.powf(f64::from(i) * 4e-3)).round() as u64).collect();
    for &v in &ns {
        serving.record(|e| {
            e.requests().inc();
            e.latency().record(v);
        });
    }
    serving.busy().set(0.1 + 0.2); // 0.30000000000000004: any rounding would show
    let snapshot = registry.snapshot();
    let Some(Value::Histogram(h)) = snapshot.metrics["serving"].series[0].snapshot.get("latency")
    else {
        panic!("the latency histogram")
    };
    let config = h.config();

    let server = MetricsServer::builder(Arc::clone(&registry))
        .bind("127.0.0.1:0".parse().unwrap())
        .spawn()
        .unwrap();
    let dir = TempDir::new(test);
    let mut prometheus = Prometheus::start_with_native_histograms(&dir, server.local_addr());

    // `histogram_count` answers only for a native histogram: the scrape was protobuf.
    prometheus
        .wait_for("histogram_count(serving_latency_seconds)", |r| value_of(r) == Some("1000"));
    let scalar = |prometheus: &mut Prometheus, query: &str| -> f64 {
        let result = prometheus.query(query).unwrap_or_else(|| panic!("{query}: no result"));
        value_of(&result).unwrap_or_else(|| panic!("{query}: {result:?}")).parse().unwrap()
    };
    // The sum, exactly: the snapshot's, in seconds.
    let sum = scalar(&mut prometheus, "histogram_sum(serving_latency_seconds)");
    assert_eq!(sum.to_bits(), config.sum_to_unit(h.sum()).to_bits(), "sum {sum}");

    // Quantiles. With γ = 2^(2^-schema) (schema = sub_bucket_bits = 5 here), ε = 2^-5 and a
    // step of 1 ns: P within (T/γ, (T + ½ step)γ) of tally's quantile T for ranks other than
    // the first and last, and within (X(1 − ε/2)/γ, X(1 + ε/2)γ) of the exact quantile X.
    let schema = tally_snapshot::NativeHistogram::schema_for(config);
    assert_eq!(schema, 5);
    let gamma = (-f64::from(schema)).exp2().exp2();
    let eps = config.relative_error();
    let per = config.steps_per_unit() as f64;
    ns.sort_unstable();
    for q in [0.5, 0.9, 0.99] {
        let p =
            scalar(&mut prometheus, &format!("histogram_quantile({q}, serving_latency_seconds)"));
        let rank = ((q * 1000.0f64).ceil() as u64).clamp(1, 1000);
        assert!(1 < rank && rank < 1000, "an interior rank");
        let t = h.quantile(q).unwrap() as f64;
        let x = ns[rank as usize - 1] as f64;
        let (t_low, t_high) = (t / per / gamma, (t + 0.5) / per * gamma);
        let (x_low, x_high) =
            (x / per * (1.0 - eps / 2.0) / gamma, x / per * (1.0 + eps / 2.0) * gamma);
        eprintln!(
            "{test}: q {q}: Prometheus {p} s, tally {} s ({:+.3}%), exact {} s ({:+.3}%); \
             bound around tally ({t_low}, {t_high}), around exact ({x_low}, {x_high})",
            t / per,
            (p / (t / per) - 1.0) * 100.0,
            x / per,
            (p / (x / per) - 1.0) * 100.0,
        );
        assert!(
            t_low * (1.0 - ROUNDING) < p && p < t_high * (1.0 + ROUNDING),
            "q {q}: Prometheus {p} outside ({t_low}, {t_high}) around tally's {}",
            t / per
        );
        assert!(
            x_low * (1.0 - ROUNDING) < p && p < x_high * (1.0 + ROUNDING),
            "q {q}: Prometheus {p} outside ({x_low}, {x_high}) around the exact {}",
            x / per
        );
    }

    // The counter and the float gauge of the same scrape, exactly.
    prometheus.wait_for("serving_requests_total", |r| value_of(r) == Some("1000"));
    prometheus.wait_for("serving_busy_ratio", |r| value_of(r) == Some("0.30000000000000004"));
    // Native buckets only, by default: no classic series beside them.
    assert_eq!(prometheus.query("serving_latency_seconds_count"), None);
    assert_eq!(prometheus.query("serving_latency_seconds_bucket"), None);
    prometheus.wait_for("up", |r| value_of(r) == Some("1"));
    drop(prometheus);
    server.shutdown().unwrap();
}
