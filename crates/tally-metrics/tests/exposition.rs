//! What the recorder records exposes through `tally-prometheus` in both formats under the
//! `metrics` names, and a strict parser (tally-prometheus's own test parser) reads back
//! every value.

mod common;

#[path = "../../tally-prometheus/tests/common/parse.rs"]
mod parse;

use std::io::Write as _;
use std::process::{Command, Stdio};

use metrics::Unit;
use parse::{Family, parse};
use tally_prometheus::{Format, encode_openmetrics, encode_text};

const HOSTILE: [&str; 5] = ["quote\"d", "back\\slash", "new\nline", "ünïcödé ✓", ""];

fn record(recorder: &tally_metrics::TallyRecorder) {
    metrics::with_local_recorder(recorder, || {
        metrics::describe_counter!("http_requests_total", "Requests \"served\"\nby route.");
        metrics::describe_gauge!("memory_used_bytes", Unit::Bytes, "Resident memory.");
        metrics::describe_gauge!("temperature_celsius", "Temperature by zone.");
        metrics::describe_histogram!(
            "request_duration_seconds",
            Unit::Seconds,
            "Time per request."
        );
        metrics::describe_histogram!("batch.size", "Requests per batch.");
        for (i, route) in HOSTILE.iter().enumerate() {
            metrics::counter!("http_requests_total", "route" => *route).increment(i as u64 + 1);
        }
        metrics::gauge!("memory_used_bytes").set(1.5e9);
        metrics::gauge!("temperature_celsius", "zone" => "a").set(-12.0);
        let h = metrics::histogram!("request_duration_seconds", "route" => "/x");
        for v in [0.0005, 0.002, 0.002, 7.0] {
            h.record(v);
        }
        metrics::histogram!("batch.size").record(32.0);
    });
}

fn family<'a>(families: &'a [Family], name: &str) -> &'a Family {
    families.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no family {name}"))
}

fn sample(f: &Family, name: &str, labels: &[(&str, &str)]) -> String {
    f.samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && s.labels.iter().zip(labels).all(|((a, b), (c, d))| a == c && b == d)
        })
        .unwrap_or_else(|| panic!("no sample {name}{labels:?} in {f:?}"))
        .value
        .clone()
}

#[test]
fn the_text_format_parses_with_metrics_names_and_exact_values() {
    let (registry, recorder) = common::recorder();
    record(&recorder);
    let mut out = String::new();
    encode_text(&registry.snapshot(), &mut out);
    let families = parse(&out, Format::Text).unwrap_or_else(|e| panic!("{e}\n{out}"));

    let requests = family(&families, "http_requests_total");
    assert_eq!(requests.kind, "counter");
    assert_eq!(requests.help.as_deref(), Some("Requests \"served\"\nby route."));
    for (i, route) in HOSTILE.iter().enumerate() {
        let value = sample(requests, "http_requests_total", &[("route", route)]);
        assert_eq!(value, (i + 1).to_string());
    }
    let memory = family(&families, "memory_used_bytes");
    assert_eq!(memory.kind, "gauge");
    assert_eq!(sample(memory, "memory_used_bytes", &[]), "1500000000");
    let temperature = family(&families, "temperature_celsius");
    assert_eq!(sample(temperature, "temperature_celsius", &[("zone", "a")]), "-12");

    let duration = family(&families, "request_duration_seconds");
    assert_eq!(duration.kind, "histogram");
    let route = [("route", "/x")];
    assert_eq!(sample(duration, "request_duration_seconds_count", &route), "4");
    assert_eq!(sample(duration, "request_duration_seconds_sum", &route), "7.0045");
    let le = |b: &str| {
        sample(duration, "request_duration_seconds_bucket", &[("route", "/x"), ("le", b)])
    };
    assert_eq!(le("0.001"), "1");
    assert_eq!(le("0.0025"), "3");
    assert_eq!(le("5.0"), "3");
    assert_eq!(le("10.0"), "4");
    assert_eq!(le("+Inf"), "4");

    let batch = family(&families, "batch_size");
    assert_eq!(sample(batch, "batch_size_count", &[]), "1");
    assert_eq!(sample(batch, "batch_size_sum", &[]), "32");

    // Nothing uninvited: the recorder's own stats are not exposed unless asked for.
    assert!(!families.iter().any(|f| f.name.starts_with("tally_metrics")), "{out}");
}

/// The recorder's own stats are exposed only when asked for (`expose_stats`), as
/// `tally_metrics_*` families with the counts `stats()` reads; they are kept either way.
#[test]
fn the_recorders_own_stats_are_exposed_only_when_asked_for() {
    for expose in [false, true] {
        let (registry, recorder) =
            if expose { common::recorder_exposing_stats() } else { common::recorder() };
        record(&recorder);
        metrics::with_local_recorder(&recorder, || {
            // Label keys other than the metric's: a label conflict.
            metrics::counter!("http_requests_total", "method" => "GET").increment(1);
            // Not a value a histogram holds: a rejected value, twice.
            metrics::histogram!("batch.size").record(f64::NAN);
            metrics::histogram!("batch.size").record(-1.0);
        });
        let stats = recorder.stats();
        assert_eq!((stats.label_conflicts, stats.rejected_values), (1, 2), "expose {expose}");
        let mut out = String::new();
        encode_text(&registry.snapshot(), &mut out);
        let families = parse(&out, Format::Text).unwrap_or_else(|e| panic!("{e}\n{out}"));
        let mut own: Vec<(&str, String)> = families
            .iter()
            .filter(|f| f.name.starts_with("tally_metrics"))
            .map(|f| (f.name.as_str(), sample(f, &f.name, &[])))
            .collect();
        own.sort();
        let expected: &[(&str, &str)] = if expose {
            &[
                ("tally_metrics_label_conflicts_total", "1"),
                ("tally_metrics_rejected_updates_total", "0"),
                ("tally_metrics_rejected_values_total", "2"),
            ]
        } else {
            &[]
        };
        let own: Vec<(&str, &str)> = own.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(own, expected, "expose {expose}:\n{out}");
    }
}

#[test]
fn openmetrics_parses_with_units_and_the_same_values() {
    let (registry, recorder) = common::recorder();
    record(&recorder);
    let mut out = String::new();
    encode_openmetrics(&registry.snapshot(), &mut out);
    let families = parse(&out, Format::OpenMetrics).unwrap_or_else(|e| panic!("{e}\n{out}"));

    let requests = family(&families, "http_requests");
    assert_eq!(requests.kind, "counter");
    assert_eq!(sample(requests, "http_requests_total", &[("route", "new\nline")]), "3");
    assert_eq!(family(&families, "memory_used_bytes").unit.as_deref(), Some("bytes"));
    let duration = family(&families, "request_duration_seconds");
    assert_eq!(duration.unit.as_deref(), Some("seconds"));
    assert_eq!(sample(duration, "request_duration_seconds_count", &[("route", "/x")]), "4");
}

/// `promtool check metrics` (Debian package `prometheus`) parses and lints the text
/// format. Skipped with a message when promtool is missing, unless
/// `TALLY_REQUIRE_EXTERNAL=1` (as `ci/test.sh` sets), which makes that a failure.
#[test]
fn promtool_accepts_the_text_format_without_a_lint_problem() {
    let probe = Command::new("promtool").arg("--version").stdout(Stdio::null()).status();
    if !probe.is_ok_and(|s| s.success()) {
        let required = std::env::var("TALLY_REQUIRE_EXTERNAL").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "promtool is required (TALLY_REQUIRE_EXTERNAL=1): apt-get install -y prometheus"
        );
        eprintln!("SKIPPED: promtool is not available (apt-get install -y prometheus)");
        return;
    }
    let (registry, recorder) = common::recorder();
    record(&recorder);
    let mut text = String::new();
    encode_text(&registry.snapshot(), &mut text);
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
