//! The mounted service answers every request exactly as the standalone server does: the
//! same bodies byte for byte (both formats and JSON), the same negotiation, headers,
//! staleness rule, refusals and timeouts. Each case is asked of three servers over real
//! sockets: the standalone one, the service in a bare hyper server, and the service in an
//! axum 0.8 router (at its paths, and under a prefix with `nest_service`).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tally::RegistrySnapshot;
use tally::epoch::ManualClock;
use tally_http::{MetricsServerBuilder, MetricsService, ServerHandle};
use tally_prometheus::{EncodeOptions, Format};
use tower_service::Service;

use common::{Metrics, Reply, request};

/// What Prometheus 2.x sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The `Accept` headers asked with: none, anything, each format, and Prometheus' own.
const ACCEPTS: [Option<&str>; 6] = [
    None,
    Some("*/*"),
    Some("text/plain;version=0.0.4"),
    Some("application/openmetrics-text; version=1.0.0"),
    Some(PROMETHEUS_ACCEPT),
    Some("image/png"),
];

/// One builder, three servers: the standalone one and its service mounted twice.
struct Servers {
    standalone: ServerHandle,
    hyper: SocketAddr,
    axum: SocketAddr,
    /// Serves the mounted ones.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Servers {
    /// Without waiting for blocking tasks: a test that fails with a collection held at a
    /// closed gate must fail, not hang.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Servers {
    fn start(builder: MetricsServerBuilder) -> Servers {
        let service = builder.service();
        let standalone = builder.spawn().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let hyper = runtime.block_on(serve_with_hyper(service.clone()));
        // Mounted as a user mounts it: beside their own routes, and under a prefix.
        let router = Router::new()
            .route("/", axum::routing::get(|| async { "the application's own route" }))
            .route_service("/metrics", service.clone())
            .route_service("/metrics.json", service.clone())
            .nest_service("/internal", service);
        let axum = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
            addr
        });
        Servers { standalone, hyper, axum, runtime: Some(runtime) }
    }

    /// The same request to each server: (which, address, path) for a path of the
    /// standalone server. `prefixed` adds axum's `/internal` mount.
    fn targets(&self, path: &str, prefixed: bool) -> Vec<(&'static str, SocketAddr, String)> {
        let mut targets = vec![
            ("standalone", self.standalone.local_addr(), path.to_owned()),
            ("hyper", self.hyper, path.to_owned()),
        ];
        if path == "/metrics" || path == "/metrics.json" {
            targets.push(("axum", self.axum, path.to_owned()));
        }
        if prefixed {
            targets.push(("axum under /internal", self.axum, format!("/internal{path}")));
        }
        targets
    }
}

/// The service in a bare hyper HTTP/1 server, the way hyper's own examples mount a
/// service: every path reaches it.
async fn serve_with_hyper(service: MetricsService) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = service.clone();
            tokio::spawn(async move {
                let handler = service_fn(move |request| service.clone().call(request));
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), handler).await;
            });
        }
    });
    addr
}

/// Status, headers (but `date`, which is the clock's) and body.
fn comparable(reply: &Reply) -> (u16, Vec<(String, String)>, &[u8]) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (reply.status, headers, &reply.body)
}

/// Asks every server `method path` with `accept`; asserts that every answer equals the
/// standalone server's, and returns that one.
fn same_everywhere(
    servers: &Servers,
    method: &str,
    path: &str,
    accept: Option<&str>,
    prefixed: bool,
) -> Reply {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
    let mut replies = servers
        .targets(path, prefixed)
        .into_iter()
        .map(|(which, addr, path)| (which, request(addr, method, &path, &headers)));
    let (_, standalone) = replies.next().unwrap();
    for (which, reply) in replies {
        assert_eq!(
            comparable(&reply),
            comparable(&standalone),
            "{method} {path} (Accept {accept:?}): {which} differs from the standalone server"
        );
    }
    standalone
}

fn encoded(snapshot: &RegistrySnapshot, format: Format) -> String {
    let mut out = String::new();
    tally_prometheus::encode(snapshot, format, &EncodeOptions::default(), &mut out);
    out
}

/// One published epoch, served by all three: each body equals the standalone server's
/// byte for byte, for every `Accept` and both routes, and is that epoch's encoding (so
/// the equality is not of two empty answers).
#[test]
fn mounted_bodies_equal_the_standalone_servers_byte_for_byte() {
    let metrics = Metrics::new();
    let epoch = metrics.publisher.refresh(); // holds the 3 records `Metrics::new` made
    let servers = Servers::start(metrics.server().max_age(Duration::from_secs(3600)));
    // Recorded after the epoch: served by none of them (it is fresh).
    metrics.record(2);

    for accept in ACCEPTS {
        let reply = same_everywhere(&servers, "GET", "/metrics", accept, true);
        assert_eq!(reply.status, 200);
        let format = Format::from_accept(accept.unwrap_or(""));
        assert_eq!(reply.header("content-type"), Some(format.content_type()), "{accept:?}");
        assert_eq!(reply.text(), encoded(epoch.snapshot(), format), "Accept {accept:?}");
    }
    assert!(
        same_everywhere(&servers, "GET", "/metrics", None, true)
            .text()
            .contains("\ninference_total_inferences_total 3\n")
    );
    let json = same_everywhere(&servers, "GET", "/metrics.json", Some(PROMETHEUS_ACCEPT), true);
    assert_eq!(json.header("content-type"), Some(tally_http::JSON_CONTENT_TYPE));
    let served: RegistrySnapshot = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(&served, epoch.snapshot());
    // The application's own route is still its own.
    assert_eq!(request(servers.axum, "GET", "/", &[]).text(), "the application's own route");
}

/// HEAD gets GET's headers and no body; other methods get the same `405` with `Allow`;
/// other paths the same `404`, which says where the metrics are.
#[test]
fn head_and_refusals_are_the_standalone_servers() {
    let metrics = Metrics::new();
    let servers = Servers::start(metrics.server().max_age(Duration::from_secs(3600)));
    for path in ["/metrics", "/metrics.json"] {
        for accept in [None, Some(PROMETHEUS_ACCEPT)] {
            let head = same_everywhere(&servers, "HEAD", path, accept, true);
            assert_eq!(head.status, 200);
            assert!(head.body.is_empty(), "HEAD {path}: a body");
        }
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let refused = same_everywhere(&servers, method, path, None, true);
            assert_eq!(refused.status, 405, "{method} {path}");
            assert_eq!(refused.header("allow"), Some("GET, HEAD"), "{method} {path}");
            assert!(refused.text().contains("use GET"), "{method} {path}: {}", refused.text());
        }
    }
    for path in ["/", "/metric", "/metrics/", "/metrics.json/x", "/favicon.ico"] {
        let missing = same_everywhere(&servers, "GET", path, None, path != "/");
        assert_eq!(missing.status, 404, "{path}");
        assert!(missing.text().contains("/metrics.json"), "{path}: {}", missing.text());
    }
}

/// The staleness rule is the publisher's, and the mounted service and the server share
/// the publisher: an epoch younger than `max_age` is served by both without collecting,
/// an older one is collected once, by whichever is scraped first, and serves the other.
#[test]
fn the_staleness_rule_is_the_standalone_servers() {
    let clock = ManualClock::new();
    let metrics = Metrics::with_clock(&clock);
    let servers = Servers::start(metrics.server().max_age(Duration::from_secs(10)));
    let total = |addr| {
        let reply = request(addr, "GET", "/metrics", &[]);
        let line = reply
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("inference_total_inferences_total "))
            .map(str::to_owned);
        line.unwrap_or_else(|| panic!("no total in {}", reply.text())).parse::<u64>().unwrap()
    };
    let standalone = servers.standalone.local_addr();
    // Epoch 0 (collected before `Metrics` recorded its 3) is 0 s old: served as is.
    assert_eq!((total(servers.axum), total(standalone)), (0, 0));
    clock.advance(Duration::from_secs(9));
    assert_eq!((total(servers.hyper), total(servers.axum), total(standalone)), (0, 0, 0));
    assert_eq!(metrics.collections(), 1);
    // Stale: the mounted service collects, and its epoch serves the standalone server.
    clock.advance(Duration::from_secs(1));
    assert_eq!(total(servers.axum), 3);
    assert_eq!(metrics.collections(), 2);
    metrics.record(2);
    assert_eq!((total(standalone), total(servers.hyper)), (3, 3));
    assert_eq!(metrics.collections(), 2);
    // And the other way round.
    clock.advance(Duration::from_secs(10));
    assert_eq!(total(standalone), 5);
    assert_eq!((total(servers.axum), total(servers.hyper)), (5, 5));
    assert_eq!(metrics.collections(), 3);
}

/// A collection slower than the request timeout gets the same `503`, which says that the
/// collection goes on; once it finishes, both serve its epoch.
#[test]
fn a_collection_past_the_request_timeout_gets_the_same_503() {
    let metrics = Metrics::new();
    let servers = Servers::start(
        metrics.server().max_age(Duration::ZERO).request_timeout(Duration::from_millis(200)),
    );
    metrics.gate.set(true); // the next collection waits at the gate
    let late = same_everywhere(&servers, "GET", "/metrics", None, true);
    assert_eq!(late.status, 503);
    assert!(late.text().contains("request timeout"), "{}", late.text());
    metrics.gate.set(false);
    let served = same_everywhere(&servers, "GET", "/metrics", None, true);
    assert_eq!(served.status, 200);
}

/// A hand-built snapshot with two fields exposed under one name loses one of them: both
/// say so in the same `tally-skipped` header, around the same valid body.
#[test]
fn what_is_skipped_is_counted_in_the_same_header() {
    let clashing = common::clashing_snapshot;
    let servers = Servers::start(common::local_server(tally::epoch::Publisher::new(clashing)));
    for accept in [None, Some(PROMETHEUS_ACCEPT)] {
        let reply = same_everywhere(&servers, "GET", "/metrics", accept, true);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header(tally_http::SKIPPED_HEADER), Some("1"), "{accept:?}");
    }
}

/// `MetricsService::new` takes the registry itself: no publisher to build.
#[test]
fn a_service_from_a_registry_needs_no_publisher() {
    let metrics = Metrics::new();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut service = MetricsService::new(std::sync::Arc::clone(&metrics.registry));
    // Its epoch 0 is collected now, with the 3 records `Metrics::new` made, and is fresh
    // for 1 s (the default max_age).
    let body = runtime.block_on(async {
        use http_body_util::BodyExt;
        let response = service.call(hyper::Request::get("/metrics").body(()).unwrap()).await;
        response.unwrap().into_body().collect().await.unwrap().to_bytes()
    });
    let text = std::str::from_utf8(&body).unwrap();
    assert!(text.contains("\ninference_total_inferences_total 3\n"), "{text}");
}

/// The builder's encoder options reach the service it gives, as they reach its server.
#[test]
fn the_builders_encode_options_reach_the_mounted_service() {
    let metrics = Metrics::new();
    let epoch = metrics.publisher.refresh();
    let options = EncodeOptions::new().in_unit(false).buckets([1e5, 1e6]);
    let builder = metrics.server().max_age(Duration::from_secs(3600));
    let servers = Servers::start(builder.encode_options(options.clone()));
    let reply = same_everywhere(&servers, "GET", "/metrics", None, true);
    let mut expected = String::new();
    tally_prometheus::encode(epoch.snapshot(), Format::Text, &options, &mut expected);
    assert_eq!(reply.text(), expected);
    assert!(reply.text().contains("inference_latency_ns_bucket{le=\"100000.0\"} 2\n"));
}

/// `tally::global()` is a source too: what `tally_metrics::install()` records into.
#[test]
fn the_global_registry_is_served_from_one_call() {
    let stats = tally::global()
        .register::<tally::InferenceStats>("mounted_global", "The global registry's.")
        .unwrap();
    #[allow(deprecated)] // issue 22: record_request(Outcome::Success, Cache::Miss)
    stats.record_inference(true, false);
    let servers = Servers::start(
        tally_http::MetricsServer::builder(tally::global())
            .bind("127.0.0.1:0".parse().unwrap())
            .max_age(Duration::ZERO),
    );
    let reply = same_everywhere(&servers, "GET", "/metrics", None, true);
    assert!(
        reply.text().contains("\nmounted_global_total_inferences_total 1\n"),
        "{}",
        reply.text()
    );
}
