//! The routes: content negotiation between Prometheus text, OpenMetrics, protobuf and JSON,
//! each equal to the registry's snapshot; HEAD; 404 and 405.

mod common;

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tally::{HistogramConfig, Registry, RegistrySnapshot};
use tally_http::{JSON_CONTENT_TYPE, MetricsServer, SKIPPED_HEADER};
use tally_prometheus::proto::{MetricFamily, MetricType};
use tally_prometheus::{
    EncodeOptions, Format, OPENMETRICS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE, TEXT_CONTENT_TYPE,
};

use common::{Metrics, get, request};

/// What Prometheus 2.x sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// What Prometheus 2.42 sends with `--enable-feature=native-histograms`
/// (`scrapeAcceptHeaderWithProtobuf`, scrape/scrape.go at v2.42.0).
const PROMETHEUS_NATIVE_ACCEPT: &str = "application/vnd.google.protobuf;\
    proto=io.prometheus.client.MetricFamily;encoding=delimited,\
    application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;\
    version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

fn decode(mut body: &[u8]) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    while !body.is_empty() {
        families
            .push(MetricFamily::decode_length_delimited(&mut body).expect("a delimited family"));
    }
    families
}

fn encoded(snapshot: &RegistrySnapshot, format: Format) -> String {
    let mut out = String::new();
    tally_prometheus::encode(snapshot, format, &EncodeOptions::default(), &mut out);
    out
}

/// A server that collects on every scrape, over a registry no one records into while the
/// test reads it: each response must equal the registry's own snapshot, byte for byte.
#[test]
fn each_format_is_the_registry_snapshot_with_its_content_type() {
    let metrics = Metrics::new();
    let server = metrics.server().max_age(Duration::ZERO).spawn().unwrap();
    let addr = server.local_addr();
    metrics.record(5);
    let expected = metrics.registry.snapshot();

    for (accept, format) in [
        (None, Format::Text),
        (Some("*/*"), Format::Text),
        (Some("text/plain;version=0.0.4"), Format::Text),
        (Some(PROMETHEUS_ACCEPT), Format::OpenMetrics),
        (Some("application/openmetrics-text; version=1.0.0"), Format::OpenMetrics),
    ] {
        let reply = get(addr, "/metrics", accept);
        assert_eq!(reply.status, 200, "Accept {accept:?}: {}", reply.text());
        assert_eq!(reply.header("content-type"), Some(format.content_type()), "Accept {accept:?}");
        assert_eq!(reply.header("vary"), Some("accept"));
        assert_eq!(reply.text(), encoded(&expected, format), "Accept {accept:?}");
    }
    // The values are the recorded ones (3 at start, then 5; even `i` in `eu`): not just any
    // equal encoding.
    let text = get(addr, "/metrics", None);
    assert!(text.text().contains("\ninference_total_inferences_total 8\n"), "{}", text.text());
    assert!(text.text().contains("model_requests_total{model=\"llama\",region=\"eu\"} 5\n"));
    assert!(text.text().contains(
        "model_requests_total{model=\"llama\",region=\"quote\\\"back\\\\slash\\nnewline ü\"} 3\n"
    ));
    let open = get(addr, "/metrics", Some(PROMETHEUS_ACCEPT));
    assert_eq!(open.header("content-type"), Some(OPENMETRICS_CONTENT_TYPE));
    assert!(open.text().ends_with("# EOF\n"));
    assert_eq!(text.header("content-type"), Some(TEXT_CONTENT_TYPE));

    let json = get(addr, "/metrics.json", Some(PROMETHEUS_ACCEPT));
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), Some(JSON_CONTENT_TYPE));
    let served: RegistrySnapshot = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(served, expected);

    server.shutdown().unwrap();
}

/// Prometheus with native histograms gets the protobuf format, equal to the registry's
/// snapshot; every other Accept header keeps the format it had, and the response still
/// varies by Accept.
#[test]
fn prometheus_with_native_histograms_gets_protobuf_and_text_accepts_keep_text() {
    let metrics = Metrics::new();
    let server = metrics.server().max_age(Duration::ZERO).spawn().unwrap();
    let addr = server.local_addr();
    metrics.record(5);
    let expected = metrics.registry.snapshot();

    let reply = get(addr, "/metrics", Some(PROMETHEUS_NATIVE_ACCEPT));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some(PROTOBUF_CONTENT_TYPE));
    assert_eq!(reply.header("vary"), Some("accept"));
    assert_eq!(reply.header(SKIPPED_HEADER), None);
    let mut want = Vec::new();
    tally_prometheus::encode_bytes(
        &expected,
        Format::Protobuf,
        &EncodeOptions::default(),
        &mut want,
    );
    assert_eq!(reply.body, want);
    // The recorded values: 8 inferences, one latency each, as a native histogram.
    let families = decode(&reply.body);
    let total = families.iter().find(|f| f.name() == "inference_total_inferences_total").unwrap();
    assert_eq!(total.r#type(), MetricType::Counter);
    assert_eq!(total.metric[0].counter.as_ref().unwrap().value, Some(8.0));
    let latency = families.iter().find(|f| f.name() == "inference_latency_seconds").unwrap();
    let h = latency.metric[0].histogram.as_ref().unwrap();
    assert_eq!((h.sample_count(), h.schema()), (8, 5));
    assert!(!h.positive_delta.is_empty() && h.bucket.is_empty());
    let requests = families.iter().find(|f| f.name() == "model_requests_total").unwrap();
    let regions: Vec<&str> = requests.metric.iter().map(|m| m.label[1].value()).collect();
    assert_eq!(regions, ["eu", "quote\"back\\slash\nnewline ü"]);

    // Text Accept headers, and none, still get text.
    for (accept, format) in [
        (None, Format::Text),
        (Some("*/*"), Format::Text),
        (Some("text/plain;version=0.0.4"), Format::Text),
        (Some(PROMETHEUS_ACCEPT), Format::OpenMetrics),
        // Another encoding of the messages is not served.
        (
            Some(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
            ),
            Format::Text,
        ),
    ] {
        let reply = get(addr, "/metrics", accept);
        assert_eq!(reply.header("content-type"), Some(format.content_type()), "Accept {accept:?}");
        assert_eq!(reply.header("vary"), Some("accept"));
        assert_eq!(reply.text(), encoded(&expected, format), "Accept {accept:?}");
    }
    // HEAD: the protobuf headers, no body.
    let head = request(addr, "HEAD", "/metrics", &[("accept", PROMETHEUS_NATIVE_ACCEPT)]);
    assert_eq!(head.header("content-type"), Some(PROTOBUF_CONTENT_TYPE));
    assert!(head.body.is_empty());
    server.shutdown().unwrap();
}

tally::metric_set! {
    /// Bytes moved.
    pub struct Transfer {
        /// Bytes sent since the start.
        sent: Counter,
        /// Sizes of the transfers.
        size: Histogram(HistogramConfig::BYTES),
    }
}

/// A counter past 2^53 that no f64 holds: the protobuf format would have to round it or
/// leave it out, so the scraper gets the text format it accepts next, with the count exact.
#[test]
fn a_count_no_f64_holds_is_answered_in_text_exactly_never_rounded() {
    let registry = Arc::new(Registry::new());
    let transfer = registry.register::<Transfer>("transfer", "Bytes moved.").unwrap();
    transfer.record(|e| {
        e.sent().add((1 << 53) + 1);
        e.size().record(1500);
    });
    let server = MetricsServer::builder(Arc::clone(&registry))
        .bind("127.0.0.1:0".parse().unwrap())
        .max_age(Duration::ZERO)
        .spawn()
        .unwrap();
    let reply = get(server.local_addr(), "/metrics", Some(PROMETHEUS_NATIVE_ACCEPT));
    assert_eq!(reply.status, 200);
    // OpenMetrics: the best text format of Prometheus' header.
    assert_eq!(reply.header("content-type"), Some(OPENMETRICS_CONTENT_TYPE));
    assert_eq!(reply.header(SKIPPED_HEADER), None, "nothing is left out");
    assert!(reply.text().contains("\ntransfer_sent_total 9007199254740993\n"), "{}", reply.text());
    assert!(reply.text().contains("\ntransfer_size_bytes_count 1\n"));
    // Once the count is one an f64 holds again (2^53 + 2), protobuf it is.
    transfer.record(|e| e.sent().inc());
    let reply = get(server.local_addr(), "/metrics", Some(PROMETHEUS_NATIVE_ACCEPT));
    assert_eq!(reply.header("content-type"), Some(PROTOBUF_CONTENT_TYPE));
    let families = decode(&reply.body);
    let sent = families.iter().find(|f| f.name() == "transfer_sent_total").unwrap();
    assert_eq!(sent.metric[0].counter.as_ref().unwrap().value, Some(((1u64 << 53) + 2) as f64));
    server.shutdown().unwrap();
}

#[test]
fn head_answers_the_get_headers_without_a_body() {
    let metrics = Metrics::new();
    let server = metrics.server().max_age(Duration::from_secs(3600)).spawn().unwrap();
    let addr = server.local_addr();
    for (path, accept) in [
        ("/metrics", "text/plain"),
        ("/metrics", PROMETHEUS_ACCEPT),
        ("/metrics", PROMETHEUS_NATIVE_ACCEPT),
        ("/metrics.json", ""),
    ] {
        let got = request(addr, "GET", path, &[("accept", accept)]);
        let head = request(addr, "HEAD", path, &[("accept", accept)]);
        assert_eq!((head.status, got.status), (200, 200), "{path}");
        assert!(head.body.is_empty(), "{path}: HEAD sent a body");
        assert_eq!(head.header("content-type"), got.header("content-type"), "{path}");
        assert_eq!(
            head.header("content-length"),
            Some(got.body.len().to_string().as_str()),
            "{path}: HEAD's length is GET's"
        );
    }
    server.shutdown().unwrap();
}

#[test]
fn other_paths_are_404_and_other_methods_405_with_allow() {
    let metrics = Metrics::new();
    let server = metrics.server().spawn().unwrap();
    let addr = server.local_addr();
    for path in ["/", "/metric", "/metrics/", "/metrics.json/x", "/favicon.ico"] {
        let reply = get(addr, path, None);
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.text().contains("/metrics"), "{path}: the 404 says where to look");
    }
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        for path in ["/metrics", "/metrics.json"] {
            let reply = request(addr, method, path, &[]);
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method} {path}");
        }
    }
    // A query string does not change the route.
    assert_eq!(get(addr, "/metrics?debug=1", None).status, 200);
    // Nor do HTTP/1.0 and the absolute form of the target.
    for raw in [
        &b"GET /metrics HTTP/1.0\r\n\r\n"[..],
        b"GET http://tally/metrics HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n",
    ] {
        let response = common::raw_exchange(addr, raw);
        assert_eq!(
            common::raw_status(&response).or_else(|| {
                // HTTP/1.0 requests get HTTP/1.0 responses.
                std::str::from_utf8(&response)
                    .ok()?
                    .strip_prefix("HTTP/1.0 ")?
                    .get(..3)?
                    .parse()
                    .ok()
            }),
            Some(200),
            "{}",
            String::from_utf8_lossy(&response)
        );
    }
    // The server is still there after all that.
    assert_eq!(get(addr, "/metrics", None).status, 200);
    server.shutdown().unwrap();
}

/// `run` serves inside an application's runtime, and returns when its future completes.
#[test]
fn run_serves_inside_an_existing_runtime_until_its_shutdown_future() {
    let metrics = Metrics::new();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(
        MetricsServer::builder(metrics.publisher.clone()).max_age(Duration::ZERO).run(
            listener,
            async {
                let _ = stopped.await;
            },
        ),
    );
    metrics.record(1);
    let reply = get(addr, "/metrics", None);
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("\ninference_total_inferences_total 4\n"));
    stop.send(()).unwrap();
    runtime.block_on(server).unwrap().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err(), "still accepting after run returned");
}

#[test]
fn encode_options_reach_the_encoder() {
    let metrics = Metrics::new();
    let options = EncodeOptions::new().in_unit(false).buckets([1e5, 1e6]);
    let server =
        metrics.server().max_age(Duration::ZERO).encode_options(options.clone()).spawn().unwrap();
    let reply = get(server.local_addr(), "/metrics", None);
    let mut expected = String::new();
    tally_prometheus::encode(&metrics.registry.snapshot(), Format::Text, &options, &mut expected);
    assert_eq!(reply.text(), expected);
    assert!(
        reply.text().contains("inference_latency_ns_bucket{le=\"100000.0\"} 2\n"),
        "{}",
        reply.text()
    );
    server.shutdown().unwrap();
}

/// A registry's snapshots are always valid, so nothing is ever left out. A source that
/// builds an invalid snapshot by hand (two fields exposed under one name) still gets a
/// valid exposition, and what was left out is said: counted in the `tally-skipped` header
/// (and logged), never dropped without a word.
#[test]
fn what_an_invalid_snapshot_loses_is_counted_in_a_header() {
    let clashing = common::clashing_snapshot;
    let server = common::local_server(tally::epoch::Publisher::new(clashing)).spawn().unwrap();
    let reply = get(server.local_addr(), "/metrics", None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header(tally_http::SKIPPED_HEADER), Some("1"));
    assert!(reply.text().contains("api_requests_total 1\n"), "{}", reply.text());
    // A registry's own snapshot: no header.
    let metrics = Metrics::new();
    let server = metrics.server().spawn().unwrap();
    assert_eq!(get(server.local_addr(), "/metrics", None).header(tally_http::SKIPPED_HEADER), None);
}
