//! The exact output for a small snapshot in both formats, the naming, unit and histogram
//! rules, what is left out of an invalid snapshot, and content negotiation.

mod common;

use tally::{Cache, Outcome};
use tally_prometheus::{
    EncodeOptions, Format, OPENMETRICS_CONTENT_TYPE, Skipped, TEXT_CONTENT_TYPE, encode,
    encode_openmetrics, encode_text,
};
use tally_snapshot::{
    FieldDesc, FieldKind, HistogramConfig, HistogramSnapshot, Last, MetricSnapshot,
    RegistrySnapshot, SeriesSnapshot, SetSnapshot, Value,
};

use common::parse;

fn histogram(values: &[u64]) -> Value {
    histogram_in(HistogramConfig::DEFAULT, values)
}

fn histogram_in(config: HistogramConfig, values: &[u64]) -> Value {
    Value::Histogram(Box::new(
        HistogramSnapshot::from_values(config, values.iter().copied()).unwrap(),
    ))
}

/// `api` (help, unit `bytes`, label `route`): every kind of field, a counter already named
/// `_total`, a field without help, series out of label order, an overflow series.
fn api() -> RegistrySnapshot {
    let fields = vec![
        FieldDesc::new("requests", FieldKind::Counter, "Requests served."),
        FieldDesc::new("errors_total", FieldKind::Counter, "Failed \"requests\",\nby \\route."),
        FieldDesc::new("in_flight", FieldKind::Gauge, ""),
        FieldDesc::new("temperature", FieldKind::LastValue, "Degrees."),
        FieldDesc::new(
            "size_bytes",
            FieldKind::Histogram(HistogramConfig::BYTES),
            "Response size.",
        ),
    ];
    let series = |route: &str, n: u64, sizes: &[u64]| SeriesSnapshot {
        labels: vec![route.to_owned()],
        snapshot: SetSnapshot::new(
            fields.clone(),
            vec![
                Value::Counter(n),
                Value::Counter(n / 2),
                Value::Gauge(-(n as i64)),
                Value::LastValue(Last::new(40 + n as i64, 1)),
                histogram_in(HistogramConfig::BYTES, sizes),
            ],
        )
        .unwrap(),
    };
    let mut registry = RegistrySnapshot::default();
    registry.metrics.insert(
        "api".into(),
        MetricSnapshot {
            help: "The API.".into(),
            unit: Some("bytes".into()),
            label_names: vec!["route".into()],
            series: vec![
                series("/b", 4, &[10, 500]),
                series("/a\"", 2, &[2000]),
                series("__overflow__", 1, &[]),
            ],
            overflow_redirects: 1,
        },
    );
    registry
}

const TEXT: &str = r##"# HELP api_errors_total Failed "requests",\nby \\route.
# TYPE api_errors_total counter
api_errors_total{route="/a\""} 1
api_errors_total{route="/b"} 2
api_errors_total{route="__overflow__"} 0
# HELP api_in_flight The API.
# TYPE api_in_flight gauge
api_in_flight{route="/a\""} -2
api_in_flight{route="/b"} -4
api_in_flight{route="__overflow__"} -1
# HELP api_requests_total Requests served.
# TYPE api_requests_total counter
api_requests_total{route="/a\""} 2
api_requests_total{route="/b"} 4
api_requests_total{route="__overflow__"} 1
# HELP api_size_bytes Response size.
# TYPE api_size_bytes histogram
api_size_bytes_bucket{route="/a\"",le="100.0"} 0
api_size_bytes_bucket{route="/a\"",le="1000.0"} 0
api_size_bytes_bucket{route="/a\"",le="+Inf"} 1
api_size_bytes_sum{route="/a\""} 2000
api_size_bytes_count{route="/a\""} 1
api_size_bytes_bucket{route="/b",le="100.0"} 1
api_size_bytes_bucket{route="/b",le="1000.0"} 2
api_size_bytes_bucket{route="/b",le="+Inf"} 2
api_size_bytes_sum{route="/b"} 510
api_size_bytes_count{route="/b"} 2
api_size_bytes_bucket{route="__overflow__",le="100.0"} 0
api_size_bytes_bucket{route="__overflow__",le="1000.0"} 0
api_size_bytes_bucket{route="__overflow__",le="+Inf"} 0
api_size_bytes_sum{route="__overflow__"} 0
api_size_bytes_count{route="__overflow__"} 0
# HELP api_temperature Degrees.
# TYPE api_temperature gauge
api_temperature{route="/a\""} 42
api_temperature{route="/b"} 44
api_temperature{route="__overflow__"} 41
"##;

const OPENMETRICS: &str = r##"# HELP api_errors Failed \"requests\",\nby \\route.
# TYPE api_errors counter
api_errors_total{route="/a\""} 1
api_errors_total{route="/b"} 2
api_errors_total{route="__overflow__"} 0
# HELP api_in_flight The API.
# TYPE api_in_flight gauge
api_in_flight{route="/a\""} -2
api_in_flight{route="/b"} -4
api_in_flight{route="__overflow__"} -1
# HELP api_requests Requests served.
# TYPE api_requests counter
api_requests_total{route="/a\""} 2
api_requests_total{route="/b"} 4
api_requests_total{route="__overflow__"} 1
# HELP api_size_bytes Response size.
# TYPE api_size_bytes histogram
# UNIT api_size_bytes bytes
api_size_bytes_bucket{route="/a\"",le="100.0"} 0
api_size_bytes_bucket{route="/a\"",le="1000.0"} 0
api_size_bytes_bucket{route="/a\"",le="+Inf"} 1
api_size_bytes_sum{route="/a\""} 2000
api_size_bytes_count{route="/a\""} 1
api_size_bytes_bucket{route="/b",le="100.0"} 1
api_size_bytes_bucket{route="/b",le="1000.0"} 2
api_size_bytes_bucket{route="/b",le="+Inf"} 2
api_size_bytes_sum{route="/b"} 510
api_size_bytes_count{route="/b"} 2
api_size_bytes_bucket{route="__overflow__",le="100.0"} 0
api_size_bytes_bucket{route="__overflow__",le="1000.0"} 0
api_size_bytes_bucket{route="__overflow__",le="+Inf"} 0
api_size_bytes_sum{route="__overflow__"} 0
api_size_bytes_count{route="__overflow__"} 0
# HELP api_temperature Degrees.
# TYPE api_temperature gauge
api_temperature{route="/a\""} 42
api_temperature{route="/b"} 44
api_temperature{route="__overflow__"} 41
# EOF
"##;

#[test]
fn text_format_is_exactly_as_specified() {
    let mut out = String::new();
    let report =
        encode(&api(), Format::Text, &EncodeOptions::new().buckets([100.0, 1000.0]), &mut out);
    assert_eq!(out, TEXT);
    assert_eq!((report.families, report.samples, report.skipped.len()), (5, 27, 0));
}

#[test]
fn openmetrics_format_is_exactly_as_specified() {
    let mut out = String::new();
    let options =
        EncodeOptions::new().buckets([1000.0, 100.0, f64::NAN, -1.0, f64::INFINITY, 100.0]);
    let report = encode(&api(), Format::OpenMetrics, &options, &mut out);
    assert_eq!(out, OPENMETRICS);
    assert_eq!((report.families, report.samples, report.skipped.len()), (5, 27, 0));
}

fn one_field(metric: &str, field: FieldDesc, value: Value) -> RegistrySnapshot {
    let mut registry = RegistrySnapshot::default();
    registry.metrics.insert(
        metric.into(),
        MetricSnapshot {
            help: String::new(),
            unit: None,
            label_names: vec![],
            series: vec![SeriesSnapshot {
                labels: vec![],
                snapshot: SetSnapshot::new(vec![field], vec![value]).unwrap(),
            }],
            overflow_redirects: 0,
        },
    );
    registry
}

#[test]
fn nanosecond_histograms_are_exposed_in_seconds_unless_turned_off() {
    let field = FieldDesc::new("latency_ns", FieldKind::Histogram(HistogramConfig::DEFAULT), "");
    let snapshot = one_field("rpc", field, histogram(&[900, 1_500_000_000]));
    let options = EncodeOptions::new().buckets([1_000.0, 2_500.0, 1e9]);

    let mut out = String::new();
    encode(&snapshot, Format::OpenMetrics, &options, &mut out);
    assert_eq!(
        out,
        "# TYPE rpc_latency_seconds histogram\n\
         # UNIT rpc_latency_seconds seconds\n\
         rpc_latency_seconds_bucket{le=\"1e-6\"} 1\n\
         rpc_latency_seconds_bucket{le=\"2.5e-6\"} 1\n\
         rpc_latency_seconds_bucket{le=\"1.0\"} 1\n\
         rpc_latency_seconds_bucket{le=\"+Inf\"} 2\n\
         rpc_latency_seconds_sum 1.5000009\n\
         rpc_latency_seconds_count 2\n\
         # EOF\n"
    );

    let mut out = String::new();
    encode(&snapshot, Format::Text, &options.in_unit(false), &mut out);
    assert_eq!(
        out,
        "# TYPE rpc_latency_ns histogram\n\
         rpc_latency_ns_bucket{le=\"1000.0\"} 1\n\
         rpc_latency_ns_bucket{le=\"2500.0\"} 1\n\
         rpc_latency_ns_bucket{le=\"1000000000.0\"} 1\n\
         rpc_latency_ns_bucket{le=\"+Inf\"} 2\n\
         rpc_latency_ns_sum 1500000900\n\
         rpc_latency_ns_count 2\n"
    );
}

#[test]
fn counters_and_gauges_named_ns_keep_their_names_and_exact_values() {
    let field = FieldDesc::new("busy_ns", FieldKind::Counter, "");
    let mut out = String::new();
    encode_openmetrics(&one_field("cpu", field, Value::Counter(u64::MAX)), &mut out);
    assert_eq!(out, "# TYPE cpu_busy_ns counter\ncpu_busy_ns_total 18446744073709551615\n# EOF\n");
}

#[test]
fn per_field_buckets_override_the_default() {
    let field = FieldDesc::new("size", FieldKind::Histogram(HistogramConfig::BYTES), "");
    let snapshot = one_field("up", field, histogram_in(HistogramConfig::BYTES, &[3, 300]));
    let options = EncodeOptions::new().buckets([1.0]).buckets_for("up", "size", [10.0, 1000.0]);
    let mut out = String::new();
    encode(&snapshot, Format::Text, &options, &mut out);
    assert!(
        out.contains(
            "up_size_bytes_bucket{le=\"10.0\"} 1\nup_size_bytes_bucket{le=\"1000.0\"} 2\n"
        ),
        "{out}"
    );
    assert!(!out.contains("le=\"1.0\""), "{out}");
    // An empty list leaves `+Inf` alone.
    let mut out = String::new();
    encode(&snapshot, Format::Text, &EncodeOptions::new().buckets([]), &mut out);
    assert!(
        out.contains("# TYPE up_size_bytes histogram\nup_size_bytes_bucket{le=\"+Inf\"} 2\nup_size_bytes_sum 303\n"),
        "{out}"
    );
}

#[test]
fn empty_registry_gives_empty_text_and_a_bare_eof() {
    let (mut text, mut open) = (String::new(), String::new());
    encode_text(&RegistrySnapshot::default(), &mut text);
    encode_openmetrics(&RegistrySnapshot::default(), &mut open);
    assert_eq!((text.as_str(), open.as_str()), ("", "# EOF\n"));
}

#[test]
fn output_is_appended_and_the_same_every_time() {
    let snapshot = common::hostile_snapshot();
    let mut first = String::from("already here\n");
    encode_text(&snapshot, &mut first);
    let mut second = String::new();
    encode_text(&snapshot, &mut second);
    assert_eq!(first.strip_prefix("already here\n"), Some(second.as_str()));
    // Family names sorted, and series sorted by label values within each family.
    for format in [Format::Text, Format::OpenMetrics] {
        let families = parse(&common::encode(&snapshot, format), format).unwrap();
        let family_key = |f: &common::Family| match (format, f.kind.as_str()) {
            (Format::Text, "counter") => f.name.strip_suffix("_total").unwrap().to_owned(),
            _ => f.name.clone(),
        };
        assert!(families.windows(2).all(|w| family_key(&w[0]) < family_key(&w[1])));
        for f in &families {
            let series_key = |s: &common::Sample| -> Vec<String> {
                s.labels.iter().filter(|(n, _)| n != "le").map(|(_, v)| v.clone()).collect()
            };
            assert!(
                f.samples.windows(2).all(|w| series_key(&w[0]) <= series_key(&w[1])),
                "{}",
                f.name
            );
        }
    }
}

#[test]
fn every_histogram_has_monotone_buckets_and_an_inf_bucket_equal_to_its_count() {
    let snapshot = common::hostile_snapshot();
    for format in [Format::Text, Format::OpenMetrics] {
        let families = parse(&common::encode(&snapshot, format), format).unwrap();
        let mut checked = 0;
        for f in families.iter().filter(|f| f.kind == "histogram") {
            let mut previous: Option<(f64, u64)> = None;
            for s in &f.samples {
                let value: u64 = s.value.parse().unwrap_or(u64::MAX);
                if s.name.ends_with("_bucket") {
                    let le = &s.labels.last().unwrap().1;
                    let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() };
                    if let Some((b, c)) = previous {
                        assert!(b < bound && c <= value, "{}: {s:?}", f.name);
                    }
                    previous = Some((bound, value));
                } else if s.name.ends_with("_count") {
                    assert_eq!(previous, Some((f64::INFINITY, value)), "{}", f.name);
                    previous = None;
                    checked += 1;
                }
            }
        }
        assert!(checked > 20, "{checked}");
    }
}

#[test]
fn what_cannot_be_written_validly_is_left_out_and_reported() {
    let counter = |name: &'static str| FieldDesc::new(name, FieldKind::Counter, "");
    let set = |fields: Vec<FieldDesc>| {
        let values = fields.iter().map(|f| Value::zero(f.kind)).collect();
        SetSnapshot::new(fields, values).unwrap()
    };
    let metric = |labels: &[&str], series: Vec<(Vec<&str>, SetSnapshot)>| MetricSnapshot {
        help: String::new(),
        unit: None,
        label_names: labels.iter().map(|s| (*s).to_owned()).collect(),
        series: series
            .into_iter()
            .map(|(l, snapshot)| SeriesSnapshot {
                labels: l.iter().map(|s| (*s).to_owned()).collect(),
                snapshot,
            })
            .collect(),
        overflow_redirects: 0,
    };
    let hist = FieldDesc::new("h", FieldKind::Histogram(HistogramConfig::DEFAULT), "");
    let gauge = FieldDesc::new("g", FieldKind::Gauge, "");
    let mut registry = RegistrySnapshot::default();
    let mut add = |name: &str, m: MetricSnapshot| registry.metrics.insert(name.to_owned(), m);
    // A metric name no exposition can carry.
    add("9bad", metric(&[], vec![(vec![], set(vec![counter("n")]))]));
    // Label names: invalid, reserved, repeated.
    add("b_bad_label", metric(&["a-b"], vec![(vec!["x"], set(vec![counter("n")]))]));
    add("c_reserved", metric(&["__name__"], vec![(vec!["x"], set(vec![counter("n")]))]));
    add("d_twice", metric(&["a", "a"], vec![(vec!["x", "y"], set(vec![counter("n")]))]));
    // `le` is fine on a gauge, not on a histogram.
    add("e_le", metric(&["le"], vec![(vec!["x"], set(vec![hist.clone(), gauge.clone()]))]));
    // Clashes: a counter's `_total` with a gauge; a histogram's `_count` with a counter.
    add(
        "f",
        metric(
            &[],
            vec![(
                vec![],
                set(vec![counter("x"), FieldDesc::new("x_total", FieldKind::Gauge, "")]),
            )],
        ),
    );
    add("g", metric(&[], vec![(vec![], set(vec![hist.clone(), counter("h_seconds_count")]))]));
    // Series of the wrong shape, and a duplicate.
    add(
        "h",
        metric(
            &["k"],
            vec![
                (vec!["2"], set(vec![counter("n")])),
                (vec!["1", "extra"], set(vec![counter("n")])),
                (vec!["3"], set(vec![counter("other")])),
                (vec!["2"], set(vec![counter("n")])),
                (vec!["1"], set(vec![counter("n")])),
            ],
        ),
    );

    for format in [Format::Text, Format::OpenMetrics] {
        let mut out = String::new();
        let report = encode(&registry, format, &EncodeOptions::default(), &mut out);
        let families = parse(&out, format).unwrap_or_else(|e| panic!("{e}\n{out}"));
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        let expected_names = match format {
            Format::Text => ["e_le_g", "f_x_total", "g_h_seconds", "h_n_total"],
            Format::OpenMetrics => ["e_le_g", "f_x", "g_h_seconds", "h_n"],
            other => panic!("a format these tests do not know: {other:?}"),
        };
        assert_eq!(names, expected_names, "{out}");
        let h = families.last().unwrap();
        let labels: Vec<&str> = h.samples.iter().map(|s| s.labels[0].1.as_str()).collect();
        assert_eq!(labels, ["1", "2"]);
        assert_eq!((report.families, report.samples), (4, 1 + 1 + 25 + 2));

        let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let o = |v: &str| v.to_owned();
        assert_eq!(
            report.skipped,
            [
                Skipped::InvalidName { metric: o("9bad"), field: o("n"), name: o("9bad_n") },
                Skipped::InvalidLabelName { metric: o("b_bad_label"), label: o("a-b") },
                Skipped::InvalidLabelName { metric: o("c_reserved"), label: o("__name__") },
                Skipped::InvalidLabelName { metric: o("d_twice"), label: o("a") },
                Skipped::ReservedLabel { metric: o("e_le"), field: o("h"), label: o("le") },
                Skipped::NameClash {
                    metric: o("f"),
                    field: o("x_total"),
                    name: o("f_x_total"),
                    taken_by: o("f_x"),
                },
                Skipped::NameClash {
                    metric: o("g"),
                    field: o("h_seconds_count"),
                    name: o("g_h_seconds_count"),
                    taken_by: o("g_h_seconds"),
                },
                Skipped::SeriesMismatch { metric: o("h"), labels: s(&["1", "extra"]) },
                Skipped::SeriesMismatch { metric: o("h"), labels: s(&["3"]) },
                Skipped::DuplicateSeries { metric: o("h"), labels: s(&["2"]) },
            ]
        );
        // The messages say what was left out and what to do.
        let message = report.skipped[5].to_string();
        assert!(message.contains("f_x_total") && message.contains("rename"), "{message}");
    }
}

#[test]
fn a_registry_family_with_an_overflow_series_exposes_it_as_a_label_value() {
    let registry = tally::Registry::new();
    let family = registry
        .metric("by_model")
        .cardinality_limit(1)
        .family::<tally::InferenceStats>(&["model"])
        .unwrap();
    for model in ["bert", "resnet", "t5"] {
        family.with(&[model], |s| s.record_request(Outcome::Success, Cache::Hit)).unwrap();
    }
    let mut out = String::new();
    encode_text(&registry.snapshot(), &mut out);
    assert!(
        out.contains(
            "by_model_total_inferences_total{model=\"__overflow__\"} 2\n\
             by_model_total_inferences_total{model=\"bert\"} 1\n"
        ),
        "{out}"
    );
}

#[test]
fn accept_headers_pick_the_format_scrapers_ask_for() {
    let cases = [
        // Prometheus 2.x.
        (
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            Format::OpenMetrics,
        ),
        // Prometheus 3.x.
        (
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            Format::OpenMetrics,
        ),
        // Prometheus configured to prefer the text format.
        ("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5", Format::Text),
        ("application/openmetrics-text", Format::OpenMetrics),
        ("Application/OpenMetrics-Text; Version=\"1.0.0\"", Format::OpenMetrics),
        ("application/openmetrics-text; version=0.0.1", Format::OpenMetrics),
        // A version we do not write is not acceptable.
        ("application/openmetrics-text; version=2.0.0", Format::Text),
        // q=0 means "not this".
        ("application/openmetrics-text;q=0,*/*", Format::Text),
        ("application/openmetrics-text;q=0.001", Format::OpenMetrics),
        // At equal weight, a named type beats a wildcard.
        ("*/*, application/openmetrics-text", Format::OpenMetrics),
        ("text/plain, application/openmetrics-text", Format::Text),
        ("text/html,application/xhtml+xml,*/*;q=0.8", Format::Text),
        ("application/json", Format::Text),
        ("", Format::Text),
        ("application/openmetrics-text;q=banana", Format::Text),
        (";;,,=;q=", Format::Text),
    ];
    for (accept, want) in cases {
        assert_eq!(Format::from_accept(accept), want, "{accept}");
        // None of them names the protobuf format: negotiating it too changes nothing.
        assert_eq!(Format::from_accept_with_protobuf(accept), want, "{accept}");
    }
    assert_eq!(Format::Text.content_type(), TEXT_CONTENT_TYPE);
    assert_eq!(TEXT_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(
        OPENMETRICS_CONTENT_TYPE,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert_eq!(Format::default(), Format::Text);
}

/// What Prometheus 2.42 sends with `--enable-feature=native-histograms`
/// (`scrapeAcceptHeaderWithProtobuf`, scrape/scrape.go at v2.42.0).
const PROMETHEUS_NATIVE_ACCEPT: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[test]
fn prometheus_with_native_histograms_gets_protobuf_only_where_bytes_can_be_answered() {
    assert_eq!(Format::from_accept_with_protobuf(PROMETHEUS_NATIVE_ACCEPT), Format::Protobuf);
    // A caller that writes into a `String` gets the best text format of the same header.
    assert_eq!(Format::from_accept(PROMETHEUS_NATIVE_ACCEPT), Format::OpenMetrics);
    let proto = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily";
    for (accept, want) in [
        (format!("{proto};encoding=delimited"), Format::Protobuf),
        (format!("{proto}; encoding=\"delimited\"; q=0.5, text/plain;q=0.4"), Format::Protobuf),
        ("Application/Vnd.Google.Protobuf;proto=io.prometheus.client.MetricFamily;Encoding=Delimited".to_owned(), Format::Protobuf),
        // Other encodings of the messages, another message, or no proto: not this format.
        (format!("{proto};encoding=text"), Format::Text),
        (format!("{proto};encoding=compact-text"), Format::Text),
        (proto.to_owned(), Format::Text),
        ("application/vnd.google.protobuf;encoding=delimited".to_owned(), Format::Text),
        ("application/vnd.google.protobuf;proto=io.prometheus.client.metricfamily;encoding=delimited".to_owned(), Format::Text),
        // Weighed like any other type.
        (format!("{proto};encoding=delimited;q=0.5,application/openmetrics-text"), Format::OpenMetrics),
        (format!("{proto};encoding=delimited;q=0,text/plain"), Format::Text),
        (format!("*/*,{proto};encoding=delimited"), Format::Protobuf),
    ] {
        assert_eq!(Format::from_accept_with_protobuf(&accept), want, "{accept}");
        assert!(Format::from_accept(&accept).is_text(), "{accept}");
    }
    assert_eq!(
        Format::Protobuf.content_type(),
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    );
    assert!(!Format::Protobuf.is_text());
}

tally::metric_set! {
    /// A set whose help texts are written as Rust doc comments usually are.
    struct Documented {
        /// Time from a request's arrival to its answer,
        /// in nanoseconds, spread over
        /// three lines.
        latency_ns: Histogram,
        /// Requests answered.
        answered: Counter,
    }
}

/// Regression: a field recorded in nanoseconds and exposed as `_seconds` kept "in
/// nanoseconds" in its `# HELP` (tally's own sets included), and multi-line doc comments
/// joined with double spaces. The exposed help describes the exposed series.
#[test]
fn help_text_describes_the_exposed_series() {
    let registry = tally::Registry::new();
    registry.register::<Documented>("rpc", "").unwrap();
    registry.register::<tally::InferenceStats>("inference", "").unwrap();
    let mut out = String::new();
    tally_prometheus::encode_text(&registry.snapshot(), &mut out);
    assert!(
        out.contains(
            "# HELP rpc_latency_seconds Time from a request's arrival to its answer, in \
             seconds, spread over three lines.\n"
        ),
        "{out}"
    );
    assert!(out.contains("# HELP rpc_answered_total Requests answered.\n"), "{out}");
    for line in out.lines().filter(|l| l.starts_with("# HELP")) {
        assert!(!line.contains("  "), "double space: {line}");
        let seconds = line.split(' ').nth(2).is_some_and(|n| n.ends_with("_seconds"));
        assert!(!(seconds && line.contains("nanosecond")), "wrong unit: {line}");
        assert!(!line.contains("record_inference"), "names a Rust method: {line}");
    }
}
