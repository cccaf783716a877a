//! Against a real Pushgateway (Debian package `prometheus-pushgateway`) and a real
//! Prometheus scraping it, both started by the test: a short-lived job's final counts
//! arrive exactly, a gateway that comes back late still gets them, grouping values of any
//! kind round-trip, and a refused push says why.

use std::sync::Arc;
use std::time::Duration;

use tally::{Cache, InferenceStats, Outcome, Registry, RegistrySnapshot};
use tally_push::{Grouping, PushError, Pusher};
use tally_testkit::{
    PUSHGATEWAY, Prometheus, Pushgateway, TempDir, free_addr, has_program, value_of,
};

fn has_pushgateway(test: &str) -> bool {
    has_program(test, PUSHGATEWAY, "apt-get install -y prometheus-pushgateway")
}

/// A registry with the job's `InferenceStats` under `batch`.
fn job() -> (Arc<Registry>, Arc<InferenceStats>) {
    let registry = Arc::new(Registry::new());
    let stats = registry.register::<InferenceStats>("batch", "The batch's requests.").unwrap();
    (registry, stats)
}

/// Records `n` requests from each of 4 threads: one in 10 fails, one in 3 hits the cache.
fn run_job(stats: &Arc<InferenceStats>, n: u64) {
    std::thread::scope(|s| {
        for t in 0..4u64 {
            s.spawn(move || {
                for i in 0..n {
                    stats.record_request_with_latency(
                        Outcome::success_if(i % 10 != 0),
                        Cache::hit_if(i % 3 == 0),
                        Duration::from_micros(50 + (i * 7 + t) % 5_000),
                    );
                }
            });
        }
    });
}

/// The value of the sample `name` whose labels include every one of `labels` in the
/// gateway's `/metrics` page.
fn sample(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn counter(snapshot: &RegistrySnapshot, field: &str) -> u64 {
    match snapshot.metrics["batch"].series[0].snapshot.get(field) {
        Some(tally::Value::Counter(n)) => *n,
        other => panic!("{field} is {other:?}"),
    }
}

#[test]
fn a_short_lived_jobs_final_counts_reach_the_gateway_and_prometheus_exactly() {
    let test = "final_counts";
    if !has_pushgateway(test) || !has_program(test, "prometheus", "apt-get install -y prometheus") {
        return;
    }
    let dir = TempDir::new(test);
    let mut gateway = Pushgateway::start(&dir);
    let (registry, stats) = job();
    let grouping = Grouping::new("batch_eval").unwrap().label("instance", "worker-1").unwrap();
    let pusher = Pusher::new(&gateway.url(), grouping).unwrap();
    let pushing = pusher
        .every(Duration::from_millis(100), {
            let registry = Arc::clone(&registry);
            move || registry.snapshot()
        })
        .unwrap();
    for _ in 0..5 {
        run_job(&stats, 20_000);
        std::thread::sleep(Duration::from_millis(150));
    }
    let report = pushing.finish();
    assert!(report.last.is_ok(), "{report:?}\n{}", gateway.log());
    assert!(report.pushed >= 3 && report.failed == 0, "{report:?}");

    // The gateway holds exactly the final snapshot.
    let last = registry.snapshot();
    let page = gateway.metrics();
    let group = ["job=\"batch_eval\"", "instance=\"worker-1\""];
    for field in ["total_inferences", "successful_inferences", "failed_inferences", "cache_hits"] {
        let name = format!("batch_{field}_total");
        assert_eq!(
            sample(&page, &name, &group),
            Some(counter(&last, field) as f64),
            "{name} on the gateway:\n{page}"
        );
    }
    assert_eq!(sample(&page, "batch_total_inferences_total", &group), Some(400_000.0));
    assert_eq!(sample(&page, "batch_latency_seconds_count", &group), Some(400_000.0));
    assert_eq!(
        sample(&page, "batch_latency_seconds_bucket", &[group[0], group[1], "le=\"+Inf\""]),
        Some(400_000.0)
    );

    // And Prometheus, scraping the gateway, returns them.
    let prom_dir = TempDir::new("final_counts_prometheus");
    let mut prometheus = Prometheus::start_honoring_labels(&prom_dir, gateway.addr());
    prometheus
        .wait_for("batch_total_inferences_total{job=\"batch_eval\",instance=\"worker-1\"}", |r| {
            value_of(r) == Some("400000")
        });
    prometheus
        .wait_for("batch_failed_inferences_total{job=\"batch_eval\",instance=\"worker-1\"}", |r| {
            value_of(r) == Some("40000")
        });
}

#[test]
fn a_gateway_that_comes_back_gets_the_final_counts() {
    let test = "comes_back";
    if !has_pushgateway(test) {
        return;
    }
    let dir = TempDir::new(test);
    // Nothing listens there yet: the first pushes fail.
    let addr = free_addr();
    let (registry, stats) = job();
    let pusher = Pusher::new(&format!("http://{addr}"), Grouping::new("late").unwrap()).unwrap();
    let pushing = pusher
        .every(Duration::from_millis(50), {
            let registry = Arc::clone(&registry);
            move || registry.snapshot()
        })
        .unwrap();
    run_job(&stats, 1_000);
    std::thread::sleep(Duration::from_millis(300));
    let mut gateway = Pushgateway::start_on(&dir, addr);
    run_job(&stats, 1_000);
    std::thread::sleep(Duration::from_millis(200));
    let report = pushing.finish();
    assert!(report.last.is_ok(), "{report:?}");
    assert!(report.failed >= 1, "no push failed while the gateway was away: {report:?}");
    let page = gateway.metrics();
    assert_eq!(sample(&page, "batch_total_inferences_total", &["job=\"late\""]), Some(8_000.0));
}

#[test]
fn grouping_values_of_any_kind_round_trip_and_a_group_can_be_deleted() {
    let test = "grouping";
    if !has_pushgateway(test) {
        return;
    }
    let dir = TempDir::new(test);
    let mut gateway = Pushgateway::start(&dir);
    let (registry, stats) = job();
    run_job(&stats, 10);
    let grouping = Grouping::new("a job/with slashes")
        .unwrap()
        .label("path", "/data/shard-7")
        .unwrap()
        .label("note", "")
        .unwrap()
        .label("model", "llama-8b.v2")
        .unwrap();
    let pusher = Pusher::new(&gateway.url(), grouping).unwrap();
    pusher.push(&registry.snapshot()).unwrap();
    let page = gateway.metrics();
    let labels = ["job=\"a job/with slashes\"", "path=\"/data/shard-7\"", "model=\"llama-8b.v2\""];
    assert_eq!(sample(&page, "batch_total_inferences_total", &labels), Some(40.0), "{page}");
    pusher.delete().unwrap();
    let page = gateway.metrics();
    assert_eq!(sample(&page, "batch_total_inferences_total", &labels[..1]), None, "{page}");
}

#[test]
fn a_refused_push_says_why_and_is_not_retried() {
    let test = "refused";
    if !has_pushgateway(test) {
        return;
    }
    let dir = TempDir::new(test);
    let gateway = Pushgateway::start(&dir);
    // Two groups that disagree on what `batch_total_inferences_total` is: a counter in one,
    // a gauge in the other. The gateway refuses the second.
    let (registry, stats) = job();
    run_job(&stats, 10);
    Pusher::new(&gateway.url(), Grouping::new("one").unwrap())
        .unwrap()
        .push(&registry.snapshot())
        .unwrap();
    let other = Registry::new();
    tally::metric_set! {
        /// A gauge named as the other group's counter.
        struct Clash {
            /// Not a counter here.
            total_inferences_total: Gauge,
        }
    }
    other
        .register::<Clash>("batch", "clash")
        .unwrap()
        .record(|e| e.total_inferences_total().add(3));
    let err = Pusher::new(&gateway.url(), Grouping::new("two").unwrap())
        .unwrap()
        .push(&other.snapshot())
        .unwrap_err();
    match &err {
        PushError::Status { status, message, .. } => {
            assert_eq!(*status, 400, "{err}");
            assert!(!message.is_empty(), "{err}");
        }
        other => panic!("not a refused push: {other}"),
    }
    assert!(!err.is_transient());
}
