//! What the endpoint's tests share: a registry with every kind of metric behind a
//! counting source, a hyper client, raw sockets for bad input, and a real Prometheus
//! server ([`prometheus`]).
#![allow(dead_code)] // each test file uses part of it

pub mod prometheus;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tally::epoch::{ManualClock, Publisher};
use tally::{Family, InferenceStats, Registry, RegistrySnapshot};
use tally_http::{MetricsServer, MetricsServerBuilder};

tally::metric_set! {
    /// A model's requests.
    pub struct ModelRequests {
        /// Requests served.
        requests: Counter,
        /// Tokens generated.
        tokens: Counter,
        /// Requests queued.
        queued: Gauge,
    }
}

/// A registry with a set, a labelled family and a histogram, recorded into; a publisher
/// of its snapshots whose source counts its calls.
pub struct Metrics {
    pub registry: Arc<Registry>,
    pub stats: Arc<InferenceStats>,
    pub models: Arc<Family<ModelRequests>>,
    /// How many times the publisher's source ran (1 after construction: epoch 0).
    pub collections: Arc<AtomicU64>,
    /// The source passes this gate (open unless a test closes it) before collecting.
    pub gate: Arc<Gate>,
    pub publisher: Publisher<RegistrySnapshot>,
}

impl Metrics {
    /// With the publisher on the system clock.
    pub fn new() -> Metrics {
        Metrics::build(None)
    }

    /// With the publisher on `clock`.
    pub fn with_clock(clock: &ManualClock) -> Metrics {
        Metrics::build(Some(clock))
    }

    fn build(clock: Option<&ManualClock>) -> Metrics {
        let registry = Arc::new(Registry::new());
        let stats = registry.register::<InferenceStats>("inference", "The model server.").unwrap();
        let models = registry
            .metric("model")
            .help("Per-model requests.")
            .family::<ModelRequests>(&["model", "region"])
            .unwrap();
        let collections = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(Gate::default());
        let (source, count, pass) =
            (Arc::clone(&registry), Arc::clone(&collections), Arc::clone(&gate));
        let builder = Publisher::builder(move || {
            count.fetch_add(1, Ordering::SeqCst);
            pass.pass();
            source.snapshot()
        });
        let publisher = match clock {
            Some(clock) => builder.clock(clock.clone()).build(),
            None => builder.build(),
        };
        let metrics = Metrics { registry, stats, models, collections, gate, publisher };
        metrics.record(3);
        metrics
    }

    /// Records `n` inferences (one in three failed, with latencies) and `n` requests to
    /// two models, one with a hostile label value.
    pub fn record(&self, n: u64) {
        for i in 0..n {
            #[allow(deprecated)] // issue 22: record_request_with_latency(Outcome, Cache, _)
            self.stats.record_inference_with_latency(
                i % 3 != 0,
                i % 2 == 0,
                Duration::from_micros(40 * (i + 1)),
            );
            let region = if i % 2 == 0 { "eu" } else { "quote\"back\\slash\nnewline ü" };
            self.models
                .with(&["llama", region], |m| {
                    m.record(|e| {
                        e.requests().inc();
                        e.tokens().add(100 + i);
                        e.queued().add(1);
                    })
                })
                .unwrap();
        }
    }

    pub fn collections(&self) -> u64 {
        self.collections.load(Ordering::SeqCst)
    }

    /// A server for this publisher, bound to a free port on 127.0.0.1.
    pub fn server(&self) -> MetricsServerBuilder {
        local_server(self.publisher.clone())
    }
}

/// A server for `publisher`, bound to a free port on 127.0.0.1.
pub fn local_server(publisher: Publisher<RegistrySnapshot>) -> MetricsServerBuilder {
    MetricsServer::builder(publisher).bind("127.0.0.1:0".parse().unwrap())
}

/// A response, as a hyper client read it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// One request with hyper's client on a runtime of its own.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let mut builder = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(format!("http://{addr}{path}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = tokio::time::timeout(
            Duration::from_secs(60),
            client.request(builder.body(Empty::new()).unwrap()),
        )
        .await
        .expect("no response within 60 s")
        .unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply { status, headers, body }
    })
}

/// `GET path` with an optional `Accept` header.
pub fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> Reply {
    match accept {
        Some(accept) => request(addr, "GET", path, &[("accept", accept)]),
        None => request(addr, "GET", path, &[]),
    }
}

/// A raw connection with a generous read timeout, so that a server that never answers
/// fails the test instead of hanging it.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream
}

/// What a raw connection reads until the server closes it: `Ok(bytes)`, or the error
/// (a reset also means closed).
pub fn read_until_closed(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match stream.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(out),
        Err(e) => Err(e),
    }
}

/// Sends raw bytes, then reads until the server closes the connection.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    // The server may close before reading everything (an oversized head): a failed
    // write is then part of the expected outcome.
    let _ = stream.write_all(bytes);
    read_until_closed(&mut stream).expect("the server neither answered nor closed in 60 s")
}

/// The status code of a raw response, if it has one.
pub fn raw_status(response: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(response).ok()?;
    let line = text.lines().next()?;
    line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A source that blocks while the gate is closed, and says when a collection is waiting.
#[derive(Default)]
pub struct Gate {
    closed: Mutex<bool>,
    changed: Condvar,
    waiting: AtomicBool,
}

impl Gate {
    pub fn pass(&self) {
        let mut closed = self.closed.lock().unwrap();
        while *closed {
            self.waiting.store(true, Ordering::SeqCst);
            closed = self.changed.wait(closed).unwrap();
        }
    }
    /// Until a caller of `pass` is held at the closed gate.
    pub fn wait_until_waiting(&self) {
        while !self.waiting.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    pub fn set(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.changed.notify_all();
    }
}

/// A hand-built snapshot whose two fields are exposed under one name (`api_requests_total`):
/// valid as a value, refused by `validate`, so the encoder has to leave one of them out
/// (the `tally-skipped` header's case).
#[allow(dead_code)] // not every test binary uses it
pub fn clashing_snapshot() -> tally::RegistrySnapshot {
    use tally::{FieldDesc, FieldKind, MetricSnapshot, SeriesSnapshot, SetSnapshot, Value};
    let fields = vec![
        FieldDesc::new("requests", FieldKind::Counter, ""),
        FieldDesc::new("requests_total", FieldKind::Counter, ""),
    ];
    let snapshot = SetSnapshot::new(fields, vec![Value::Counter(1), Value::Counter(2)]).unwrap();
    let mut r = tally::RegistrySnapshot::default();
    r.metrics.insert(
        "api".into(),
        MetricSnapshot {
            help: String::new(),
            unit: None,
            label_names: vec![],
            series: vec![SeriesSnapshot { labels: vec![], snapshot }],
            overflow_redirects: 0,
        },
    );
    r
}
