//! The demo binary, run as a user runs it: a short run with `--json` must count every
//! request exactly once, break no invariant, serve /metrics, and report rates that match
//! what was asked; bad flags and a taken port must fail with a message that says what to do.

use std::net::TcpListener;
use std::process::{Command, Output};

use serde_json::Value;
use tally::RegistrySnapshot;

const BIN: &str = env!("CARGO_BIN_EXE_tally-demo");

/// Runs the demo with `args`, returning its output.
fn demo(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("the demo binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}); stderr:\n{}", stderr(out));
    })
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not an unsigned integer"))
}

/// A counter of a series of the final snapshot, by field name.
fn counter(snapshot: &RegistrySnapshot, metric: &str, labels: &[&str], field: &str) -> u64 {
    let series = snapshot.metrics[metric]
        .series
        .iter()
        .find(|s| s.labels == labels)
        .unwrap_or_else(|| panic!("no series {labels:?} of {metric}"));
    match series.snapshot.get(field) {
        Some(tally::Value::Counter(n)) => *n,
        other => panic!("{metric}{labels:?}.{field} is {other:?}"),
    }
}

#[test]
fn a_two_second_run_counts_every_request_exactly_once_and_serves_metrics() {
    let failure_rate = 0.1;
    let out = demo(&[
        "--duration",
        "2s",
        "--json",
        "--port",
        "0",
        "--workers",
        "2",
        "--clients",
        "4",
        "--readers",
        "4",
        "--models",
        "3",
        "--failure-rate",
        "0.1",
    ]);
    assert!(out.status.success(), "exit {:?}; stderr:\n{}", out.status, stderr(&out));
    let report = json(&out);
    assert_eq!(report["ok"], true);
    assert_eq!(report["problems"], Value::Array(vec![]));

    // Expected (counted by the workers and clients) equals observed, field by field.
    let (expected, observed) = (&report["expected"], &report["observed"]);
    assert_eq!(expected, observed, "issued and counted differ");
    let total = u(&observed["overall"]["total_inferences"]);
    // Any positive count will do: the rate check below scales its tolerance with it.
    assert!(total > 0, "no request served in 2 s");
    let by_model = observed["by_model"].as_object().unwrap();
    assert_eq!(by_model.len(), 3);
    let model_sum: u64 = by_model.values().map(|c| u(&c["total_inferences"])).sum();
    assert_eq!(model_sum, total, "per-model totals add up to the overall total");
    let o = &observed["overall"];
    assert_eq!(u(&o["successful_inferences"]) + u(&o["failed_inferences"]), total);
    assert_eq!(u(&o["cache_hits"]) + u(&o["cache_misses"]), total);

    // The final snapshot printed is a valid registry snapshot holding the same counts.
    let snapshot: RegistrySnapshot =
        serde_json::from_value(report["final_snapshot"].clone()).expect("a valid snapshot");
    assert_eq!(counter(&snapshot, "inference", &[], "total_inferences"), total);
    for (model, counts) in by_model {
        assert_eq!(
            counter(&snapshot, "inference_by_model", &[model], "failed_inferences"),
            u(&counts["failed_inferences"])
        );
    }

    // Readers checked live snapshots and found nothing broken.
    assert_eq!(u(&report["checks"]["violations"]), 0);
    // Each of the 4 readers checks the final epoch at least.
    assert!(u(&report["checks"]["snapshots_checked"]) >= 4, "{}", report["checks"]);
    // Epoch 0 and the final refresh at least (the refresher adds one per 100 ms).
    assert!(u(&report["epochs_published"]) >= 2);

    // Rates: success ≈ 1 − failure rate (a binomial, checked to 5 standard deviations).
    let success = report["rates"]["success_rate"].as_f64().unwrap();
    let sigma = (failure_rate * (1.0 - failure_rate) / total as f64).sqrt();
    assert!(
        (success - (1.0 - failure_rate)).abs() <= 5.0 * sigma + 1.0 / total as f64,
        "success rate {success} with failure rate {failure_rate} over {total} requests"
    );
    let hit = report["rates"]["cache_hit_rate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&hit));
    assert!(u(&report["latency_ns"]["p50"]) <= u(&report["latency_ns"]["p99"]));

    // /metrics answered during the run, and after it showed exactly the final count.
    let metrics = &report["metrics"];
    assert_eq!(metrics["enabled"], true);
    assert!(u(&metrics["answered"]) >= 3, "{metrics}");
    assert!(u(&metrics["answered_while_serving"]) >= 1, "{metrics}");
    assert_eq!(u(&metrics["failed"]), 0, "{metrics}");
    assert_eq!(u(&metrics["final_total"]), total);

    // The cost of recording was measured.
    assert!(report["record_cost"]["event_ns"].as_f64().unwrap() >= 0.0);
}

#[test]
fn a_run_without_metrics_still_checks_everything() {
    let out = demo(&[
        "--duration",
        "300ms",
        "--json",
        "--no-metrics",
        "--workers",
        "1",
        "--clients",
        "1",
        "--readers",
        "2",
        "--failure-rate",
        "1",
    ]);
    assert!(out.status.success(), "stderr:\n{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["metrics"]["enabled"], false);
    assert_eq!(u(&report["metrics"]["answered"]), 0);
    assert_eq!(report["expected"], report["observed"]);
    // Every request fails when asked to.
    assert_eq!(u(&report["observed"]["overall"]["successful_inferences"]), 0);
    assert_eq!(report["rates"]["success_rate"].as_f64(), Some(0.0));
}

#[test]
fn a_failure_rate_above_one_is_refused_with_a_clear_message() {
    let out = demo(&["--failure-rate", "2"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("--failure-rate"), "{err}");
    assert!(err.contains("outside 0..=1"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_malformed_duration_is_refused_with_examples() {
    let out = demo(&["--duration", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("such as `10s`"), "{}", stderr(&out));
}

#[test]
fn a_taken_port_is_refused_with_advice_to_use_another() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = demo(&["--duration", "1s", "--port", &port, "--readers", "1", "--workers", "1"]);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("already in use"), "{err}");
    assert!(err.contains("--port"), "{err}");
}
