//! What the recorder records exposes through `tally-prometheus` in both formats under the
//! `metrics` names, and a strict parser (tally-prometheus's own test parser), promtool and
//! the Python `prometheus_client` read back every value exactly: gauges as their `f64`
//! level, seconds histograms in seconds, bytes histograms with byte bounds, plain-number
//! histograms with their fractions.

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
        metrics::describe_histogram!("db_query_time", Unit::Milliseconds, "Time per query.");
        metrics::describe_histogram!("response_size", Unit::Bytes, "Response sizes.");
        metrics::describe_histogram!("batch.size", "Batch fill.");
        metrics::describe_gauge!("cache_fill_ratio", "Share of the cache in use.");
        for (i, route) in HOSTILE.iter().enumerate() {
            metrics::counter!("http_requests_total", "route" => *route).increment(i as u64 + 1);
        }
        metrics::gauge!("memory_used_bytes").set(1.5e9);
        metrics::gauge!("temperature_celsius", "zone" => "a").set(-12.0);
        metrics::gauge!("cache_fill_ratio").set(0.75);
        let h = metrics::histogram!("request_duration_seconds", "route" => "/x");
        for v in [0.0005, 0.002, 0.002, 7.0] {
            h.record(v);
        }
        metrics::histogram!("db_query_time").record(12.5);
        for v in [512.0, 1536.4, 2e6] {
            metrics::histogram!("response_size").record(v);
        }
        for v in [0.5, 0.3, 2.25] {
            metrics::histogram!("batch.size").record(v);
        }
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

/// A histogram family's buckets, in order: each `le` and its cumulative count.
fn buckets(f: &Family) -> Vec<(String, String)> {
    let bucket = format!("{}_bucket", f.name);
    f.samples
        .iter()
        .filter(|s| s.name == bucket)
        .map(|s| {
            let (name, le) = s.labels.last().expect("a bucket has an `le` label");
            assert_eq!(name, "le");
            (le.clone(), s.value.clone())
        })
        .collect()
}

/// The `le` of each bucket, in order.
fn bounds(f: &Family) -> Vec<String> {
    buckets(f).into_iter().map(|(le, _)| le).collect()
}

/// The count of the bucket at `le`.
fn at(f: &Family, le: &str) -> String {
    let found = buckets(f).into_iter().find(|(b, _)| b == le);
    found.unwrap_or_else(|| panic!("{}: no bucket le={le}", f.name)).1
}

/// The text format of what `recorder` recorded, parsed by the strict parser.
fn text_of(registry: &tally::Registry) -> (String, Vec<Family>) {
    let mut out = String::new();
    encode_text(&registry.snapshot(), &mut out);
    let families = parse(&out, Format::Text).unwrap_or_else(|e| panic!("{e}\n{out}"));
    (out, families)
}

/// 1, 2.5 and 5 times each power of ten from 50 bytes to 1 TB, as the exposition writes them.
fn byte_bounds() -> Vec<String> {
    let mut le = vec!["50.0".to_owned()];
    for exp in 2..=11 {
        for m in [1.0, 2.5, 5.0] {
            le.push(format!("{:?}", m * 10f64.powi(exp)));
        }
    }
    le.push("1000000000000.0".to_owned());
    le.push("+Inf".to_owned());
    le
}

#[test]
fn the_text_format_parses_with_metrics_names_and_exact_values() {
    let (registry, recorder) = common::recorder();
    record(&recorder);
    let (out, families) = text_of(&registry);

    let requests = family(&families, "http_requests_total");
    assert_eq!(requests.kind, "counter");
    assert_eq!(requests.help.as_deref(), Some("Requests \"served\"\nby route."));
    for (i, route) in HOSTILE.iter().enumerate() {
        let value = sample(requests, "http_requests_total", &[("route", route)]);
        assert_eq!(value, (i + 1).to_string());
    }
    // Gauges: the exact f64 level.
    let memory = family(&families, "memory_used_bytes");
    assert_eq!(memory.kind, "gauge");
    assert_eq!(sample(memory, "memory_used_bytes", &[]), "1500000000.0");
    let temperature = family(&families, "temperature_celsius");
    assert_eq!(sample(temperature, "temperature_celsius", &[("zone", "a")]), "-12.0");
    let fill = family(&families, "cache_fill_ratio");
    assert_eq!(sample(fill, "cache_fill_ratio", &[]), "0.75");

    // Seconds: bounds and sum in seconds, counts exact.
    let duration = family(&families, "request_duration_seconds");
    assert_eq!(duration.kind, "histogram");
    assert_eq!(duration.help.as_deref(), Some("Time per request."));
    let route = [("route", "/x")];
    assert_eq!(sample(duration, "request_duration_seconds_count", &route), "4");
    assert_eq!(sample(duration, "request_duration_seconds_sum", &route), "7.0045");
    assert_eq!(at(duration, "0.001"), "1");
    assert_eq!(at(duration, "0.0025"), "3");
    assert_eq!(at(duration, "5.0"), "3");
    assert_eq!(at(duration, "10.0"), "4");
    assert_eq!(at(duration, "+Inf"), "4");
    // Described in milliseconds: recorded in nanoseconds, exposed in seconds.
    let query = family(&families, "db_query_time_seconds");
    assert_eq!(sample(query, "db_query_time_seconds_sum", &[]), "0.0125");
    assert_eq!(bounds(query), bounds(duration));

    // Bytes: byte bounds, whole-byte sum.
    let size = family(&families, "response_size_bytes");
    assert_eq!(bounds(size), byte_bounds());
    assert_eq!(sample(size, "response_size_bytes_sum", &[]), "2002048");

    // A plain number: its fractions kept (0.3 is not rounded to 0, nor 0.5 to 1), its
    // bounds fractions too.
    let batch = family(&families, "batch_size");
    assert_eq!(sample(batch, "batch_size_count", &[]), "3");
    assert_eq!(sample(batch, "batch_size_sum", &[]), "3.05");
    assert_eq!(bounds(batch)[..4], ["0.0005", "0.001", "0.0025", "0.005"]);
    assert_eq!(at(batch, "0.25"), "0");
    assert_eq!(at(batch, "1.0"), "2");
    assert_eq!(at(batch, "2.5"), "3");

    // Nothing uninvited: the recorder's own stats are not exposed unless asked for.
    assert!(!families.iter().any(|f| f.name.starts_with("tally_metrics")), "{out}");
    assert_eq!(recorder.stats().rejected_values, 0);
}

/// The first case: a ratio gauge was exposed rounded to an integer (`0.75` as `1`).
#[test]
fn a_fractional_gauge_is_exposed_exactly_and_nothing_is_rejected() {
    let (registry, recorder) = common::recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!("cache_fill_ratio").set(0.75);
    });
    let (out, families) = text_of(&registry);
    assert!(out.contains("\ncache_fill_ratio 0.75\n"), "{out}");
    let fill = family(&families, "cache_fill_ratio");
    assert_eq!(fill.kind, "gauge");
    assert_eq!(sample(fill, "cache_fill_ratio", &[]).parse::<f64>(), Ok(0.75));
    assert_eq!(recorder.stats().rejected_values, 0);
}

/// The issue's second case: "A metrics histogram of response sizes in bytes is bucketed
/// with nanosecond latency bounds (le=2500.0 … 10000000000.0)". Described in bytes, or
/// named `…_bytes`, it is bucketed by byte bounds: 50 B to 1 TB, not the 22 latency bounds
/// of 1 µs to 10 s in nanoseconds.
#[test]
fn a_bytes_histogram_is_bucketed_by_byte_bounds_not_nanosecond_latency_bounds() {
    let (registry, recorder) = common::recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("response_size", Unit::Bytes, "Response sizes.");
        metrics::histogram!("body_bytes").record(100.0);
        for v in [512.0, 1536.4, 2e6] {
            metrics::histogram!("response_size").record(v);
        }
    });
    let (out, families) = text_of(&registry);
    // The nanosecond latency bounds, as they were written.
    let latency: Vec<String> = tally_prometheus::DEFAULT_LATENCY_BUCKETS_NS
        .iter()
        .map(|b| format!("{b:?}"))
        .chain(["+Inf".to_owned()])
        .collect();
    for name in ["response_size_bytes", "body_bytes"] {
        let f = family(&families, name);
        assert_eq!(f.kind, "histogram");
        assert_eq!(bounds(f), byte_bounds(), "{name}:\n{out}");
        assert_ne!(bounds(f), latency, "{name}");
    }
    let size = family(&families, "response_size_bytes");
    assert_eq!(at(size, "500.0"), "0");
    assert_eq!(at(size, "1000.0"), "1");
    assert_eq!(at(size, "2500.0"), "2");
    assert_eq!(at(size, "1000000.0"), "2");
    assert_eq!(at(size, "2500000.0"), "3");
    assert_eq!(sample(size, "response_size_bytes_count", &[]), "3");
    assert_eq!(sample(size, "response_size_bytes_sum", &[]), "2002048");
    let body = family(&families, "body_bytes");
    assert_eq!((at(body, "50.0"), at(body, "100.0")), ("0".to_owned(), "1".to_owned()));
}

/// A seconds histogram is registered under its own name and exposed as `…_seconds`, its
/// bounds and sum in seconds: 0.0125 s is recorded as 12,500,000 ns and read back 0.0125.
#[test]
fn a_seconds_histogram_is_exposed_in_seconds_with_its_exact_sum() {
    let (registry, recorder) = common::recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("request_duration_seconds").record(0.0125);
    });
    let (_, families) = text_of(&registry);
    let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["request_duration_seconds"]);
    let f = &families[0];
    assert_eq!(sample(f, "request_duration_seconds_sum", &[]), "0.0125");
    assert_eq!(sample(f, "request_duration_seconds_count", &[]), "1");
    let le = bounds(f);
    assert_eq!((le.first().unwrap().as_str(), le[le.len() - 2].as_str()), ("1e-6", "10.0"));
    assert_eq!((at(f, "0.01"), at(f, "0.025")), ("0".to_owned(), "1".to_owned()));
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
    let units: Vec<(&str, Option<&str>)> =
        families.iter().map(|f| (f.name.as_str(), f.unit.as_deref())).collect();
    assert_eq!(
        units,
        [
            ("batch_size", None),
            ("cache_fill_ratio", None),
            ("db_query_time_seconds", Some("seconds")),
            ("http_requests", None),
            ("memory_used_bytes", Some("bytes")),
            ("request_duration_seconds", Some("seconds")),
            ("response_size_bytes", Some("bytes")),
            ("temperature_celsius", None),
        ]
    );
    // Every sample reads the same as in the text format.
    let (_, text) = text_of(&registry);
    let samples = |families: &[Family]| {
        let mut all: Vec<parse::Sample> =
            families.iter().flat_map(|f| f.samples.iter().cloned()).collect();
        all.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        all
    };
    assert_eq!(samples(&families), samples(&text));
}

/// The Python `prometheus_client` parsers (text and OpenMetrics) read every family, sample
/// and value exactly as the strict parser does (the comparison script of tally-prometheus'
/// own external tests). Skipped with a message when Python or the client is missing,
/// unless `TALLY_REQUIRE_EXTERNAL=1`.
#[test]
fn python_prometheus_client_reads_every_value_exactly() {
    let probe = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        let required = std::env::var("TALLY_REQUIRE_EXTERNAL").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "python3 with prometheus_client is required (TALLY_REQUIRE_EXTERNAL=1): pip \
             install prometheus_client"
        );
        eprintln!("SKIPPED: python3 with prometheus_client is not available");
        return;
    }
    let (registry, recorder) = common::recorder();
    record(&recorder);
    let snap = registry.snapshot();
    let script =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tally-prometheus/tests/external/check_python.py");
    let dir = std::env::temp_dir().join(format!("tally-metrics-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (format, arg) in [(Format::Text, "text"), (Format::OpenMetrics, "openmetrics")] {
        let mut out = String::new();
        match format {
            Format::Text => encode_text(&snap, &mut out),
            _ => encode_openmetrics(&snap, &mut out),
        }
        let families = parse(&out, format).unwrap_or_else(|e| panic!("{e}\n{out}"));
        // The script compares OpenMetrics-style family names (the Python text parser also
        // names a counter family without `_total`).
        let expected: Vec<serde_json::Value> = families
            .iter()
            .map(|f| {
                let name = match (format, f.kind.as_str()) {
                    (Format::Text, "counter") => f.name.strip_suffix("_total").unwrap(),
                    _ => &f.name,
                };
                let samples: Vec<serde_json::Value> = f
                    .samples
                    .iter()
                    .map(|s| serde_json::json!({"name": s.name, "labels": s.labels, "value": s.value}))
                    .collect();
                serde_json::json!({
                    "name": name, "type": f.kind, "help": f.help, "unit": f.unit,
                    "samples": samples,
                })
            })
            .collect();
        let exposition = dir.join(format!("{arg}.txt"));
        let expected_path = dir.join(format!("{arg}.json"));
        std::fs::write(&exposition, &out).unwrap();
        std::fs::write(&expected_path, serde_json::to_string(&expected).unwrap()).unwrap();
        let output = Command::new("python3")
            .arg(script)
            .arg(arg)
            .arg(&exposition)
            .arg(&expected_path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{arg}: {}{}\n{out}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
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
