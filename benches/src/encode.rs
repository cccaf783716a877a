//! Encoding 10,000 series: tally's encoder against `prometheus-client`'s on the same data.
//!
//! Two workloads, one series per value of a `model` label: 5 counters and a gauge (60,000
//! samples), and the same plus a latency histogram with the 22 default bounds (310,000
//! samples). tally: a `Family` in a `Registry`, collected into a `RegistrySnapshot` once
//! and then encoded (a scrape's formatting), and collected and encoded together (a scrape
//! end to end). `prometheus-client`: the same series in six (seven) `Family`s, encoded with
//! `encoding::text::encode`, which reads the live atomics (collection and encoding at once;
//! OpenMetrics only). Buffers are reused across iterations in both.

use std::hint::black_box;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use tally::{Registry, RegistrySnapshot};
use tally_prometheus::{DEFAULT_LATENCY_BUCKETS_NS, EncodeOptions, Format};

use crate::time_cases;

tally::metric_set! {
    /// Five counters and a gauge.
    pub struct Requests {
        /// Requests received.
        requests: Counter,
        /// Requests answered.
        ok: Counter,
        /// Requests that failed.
        failed: Counter,
        /// Cache hits.
        hits: Counter,
        /// Cache misses.
        misses: Counter,
        /// Requests in flight.
        in_flight: Gauge,
    }
}

tally::metric_set! {
    /// Five counters, a gauge and a latency histogram.
    pub struct Timed {
        /// Requests received.
        requests: Counter,
        /// Requests answered.
        ok: Counter,
        /// Requests that failed.
        failed: Counter,
        /// Cache hits.
        hits: Counter,
        /// Cache misses.
        misses: Counter,
        /// Requests in flight.
        in_flight: Gauge,
        /// Request latency.
        latency_ns: Histogram,
    }
}

type Labels = Vec<(String, String)>;

fn model(i: usize) -> String {
    format!("model-{i:05}")
}

fn latency_ns(i: usize, k: usize) -> u64 {
    // Spread over 10 µs .. 1 s.
    (10_000u64 << ((i + k) % 17)) + (i as u64 * 7919) % 10_000
}

/// tally's side of the workload: `series` series of [`Requests`] (or [`Timed`] with
/// `histogram`) in a family labelled `model`, registered as `app`.
pub fn tally_registry(series: usize, histogram: bool) -> Registry {
    let registry = Registry::new();
    let metric = registry.metric("app").cardinality_limit(series + 1);
    if histogram {
        let family =
            metric.help("Timed requests.").family::<Timed>(&["model"]).expect("valid labels");
        for i in 0..series {
            family
                .with(&[&model(i)], |s| {
                    s.record(|e| {
                        e.requests().add(i as u64 + 10);
                        e.ok().add(i as u64 + 7);
                        e.failed().add(3);
                        e.hits().add(i as u64);
                        e.misses().add(10);
                        e.in_flight().add(i as i64 % 5);
                        for k in 0..3 {
                            e.latency_ns().record(latency_ns(i, k));
                        }
                    })
                })
                .expect("one value for one label");
        }
    } else {
        let family = metric.help("Requests.").family::<Requests>(&["model"]).expect("valid labels");
        for i in 0..series {
            family
                .with(&[&model(i)], |s| {
                    s.record(|e| {
                        e.requests().add(i as u64 + 10);
                        e.ok().add(i as u64 + 7);
                        e.failed().add(3);
                        e.hits().add(i as u64);
                        e.misses().add(10);
                        e.in_flight().add(i as i64 % 5);
                    })
                })
                .expect("one value for one label");
        }
    }
    registry
}

/// `prometheus-client`'s side: the same series and values.
pub fn peer_registry(series: usize, histogram: bool) -> prometheus_client::registry::Registry {
    let mut registry = prometheus_client::registry::Registry::default();
    let counters: Vec<Family<Labels, Counter>> = (0..5).map(|_| Family::default()).collect();
    let gauge = Family::<Labels, Gauge>::default();
    let bounds: Vec<f64> = DEFAULT_LATENCY_BUCKETS_NS.iter().map(|b| b / 1e9).collect();
    let latency = Family::<Labels, Histogram, _>::new_with_constructor(move || {
        Histogram::new(bounds.iter().copied())
    });
    for i in 0..series {
        let labels = vec![("model".to_owned(), model(i))];
        let adds = [i as u64 + 10, i as u64 + 7, 3, i as u64, 10];
        for (c, add) in counters.iter().zip(adds) {
            c.get_or_create(&labels).inc_by(add);
        }
        gauge.get_or_create(&labels).inc_by(i as i64 % 5);
        if histogram {
            for k in 0..3 {
                latency.get_or_create(&labels).observe(latency_ns(i, k) as f64 / 1e9);
            }
        }
    }
    let names = ["requests", "ok", "failed", "hits", "misses"];
    for (c, name) in counters.into_iter().zip(names) {
        registry.register(format!("app_{name}"), "A counter.", c);
    }
    registry.register("app_in_flight", "Requests in flight.", gauge);
    if histogram {
        registry.register("app_latency_seconds", "Request latency.", latency);
    }
    registry
}

fn sample_lines(exposition: &str) -> usize {
    exposition.lines().filter(|l| !l.starts_with('#')).count()
}

/// One workload's timings: (minimum, median) per encode of each case.
#[derive(Debug, Clone)]
pub struct EncodeTimes {
    /// The workload.
    pub workload: &'static str,
    /// Series in it.
    pub series: usize,
    /// Case name and (min, median) time per encode; the first is `prometheus-client`.
    pub cases: Vec<(&'static str, Duration, Duration)>,
}

/// Both workloads at `series` series, `runs` interleaved runs each. Panics if the two
/// encoders do not write the same number of samples (both wrote every series).
pub fn encode_compare(series: usize, runs: usize) -> Vec<EncodeTimes> {
    let mut out = Vec::new();
    for histogram in [false, true] {
        let workload =
            if histogram { "5 counters + gauge + histogram" } else { "5 counters + gauge" };
        let registry = tally_registry(series, histogram);
        let snapshot: RegistrySnapshot = registry.snapshot();
        let peer = peer_registry(series, histogram);
        let options = EncodeOptions::default();
        let (mut peer_out, mut om_out, mut text_out, mut e2e_out) =
            (String::new(), String::new(), String::new(), String::new());
        let times = time_cases(
            runs,
            &mut [
                &mut || {
                    peer_out.clear();
                    prometheus_client::encoding::text::encode(&mut peer_out, black_box(&peer))
                        .expect("writing to a String cannot fail");
                },
                &mut || {
                    om_out.clear();
                    tally_prometheus::encode(
                        black_box(&snapshot),
                        Format::OpenMetrics,
                        &options,
                        &mut om_out,
                    );
                },
                &mut || {
                    text_out.clear();
                    tally_prometheus::encode(
                        black_box(&snapshot),
                        Format::Text,
                        &options,
                        &mut text_out,
                    );
                },
                &mut || {
                    e2e_out.clear();
                    let snapshot = black_box(&registry).snapshot();
                    tally_prometheus::encode(
                        &snapshot,
                        Format::OpenMetrics,
                        &options,
                        &mut e2e_out,
                    );
                },
            ],
        );
        let peer_samples = sample_lines(&peer_out);
        for out in [&om_out, &text_out, &e2e_out] {
            assert_eq!(sample_lines(out), peer_samples, "{workload}: both write every sample");
        }
        assert!(
            om_out.len() <= peer_out.len() * 11 / 10,
            "tally's OpenMetrics is {} bytes against prometheus-client's {}",
            om_out.len(),
            peer_out.len()
        );
        let names = [
            "prometheus-client 0.25 `text::encode` (OpenMetrics)",
            "tally `encode`, OpenMetrics",
            "tally `encode`, text 0.0.4",
            "tally `snapshot` + `encode`, OpenMetrics",
        ];
        out.push(EncodeTimes {
            workload,
            series,
            cases: names.iter().zip(times).map(|(n, (min, med))| (*n, min, med)).collect(),
        });
    }
    out
}
