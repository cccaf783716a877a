//! What the HTTP endpoint adds to a scrape: scrapes of 10,000 series over a keep-alive
//! connection, against the same work done in-process in the same run.
//!
//! Cases, interleaved round by round (so that load from other processes falls on all
//! alike):
//! - in-process `snapshot` + `encode` (OpenMetrics): what a stale scrape costs without HTTP;
//! - HTTP `GET /metrics` with `max_age` zero: collects, encodes and sends on every scrape;
//! - in-process `encode` of a held snapshot: what a fresh scrape costs without HTTP;
//! - HTTP `GET /metrics` within `max_age`: encodes the published epoch and sends it.
//!
//! The HTTP cases use hyper's client on one keep-alive connection, and include reading the
//! whole body. The series are [`tally_registry`]'s (the `encode` bench's first workload).
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench scrape            # the table
//! cargo bench --manifest-path benches/Cargo.toml --bench scrape -- --test  # 100 series, once
//! ```
//!
//! With `--test` it runs each case once on 100 series and checks that every response holds
//! every sample.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tally::RegistrySnapshot;
use tally::epoch::Publisher;
use tally_benches::{tally_registry, time_cases};
use tally_http::MetricsServer;
use tally_prometheus::{EncodeOptions, Format};

const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

struct Scraper {
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Scraper {
    fn new() -> Scraper {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = Client::builder(TokioExecutor::new()).build_http();
        Scraper { runtime, client }
    }

    fn scrape(&self, addr: SocketAddr) -> Bytes {
        self.runtime.block_on(async {
            let request = Request::get(format!("http://{addr}/metrics"))
                .header("accept", ACCEPT)
                .body(Empty::new())
                .unwrap();
            let response = self.client.request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap().to_bytes()
        })
    }
}

fn sample_lines(exposition: &[u8]) -> usize {
    exposition.split(|&b| b == b'\n').filter(|l| !l.is_empty() && l[0] != b'#').count()
}

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    let series = if test_mode { 100 } else { 10_000 };
    let runs = if test_mode { 1 } else { 31 };
    let registry = Arc::new(tally_registry(series, false));
    let source = Arc::clone(&registry);
    let publisher = Publisher::new(move || source.snapshot());
    let bind = "127.0.0.1:0".parse().unwrap();
    let stale = MetricsServer::builder(publisher.clone())
        .bind(bind)
        .max_age(Duration::ZERO)
        .spawn()
        .unwrap();
    let fresh = MetricsServer::builder(publisher)
        .bind(bind)
        .max_age(Duration::from_secs(3600))
        .spawn()
        .unwrap();
    let scraper = Scraper::new();
    let options = EncodeOptions::default();
    let held: RegistrySnapshot = registry.snapshot();

    let (mut collect_out, mut encode_out) = (String::new(), String::new());
    let (mut stale_body, mut fresh_body) = (Bytes::new(), Bytes::new());
    let times = time_cases(
        runs,
        &mut [
            &mut || {
                collect_out.clear();
                let snapshot = black_box(&registry).snapshot();
                tally_prometheus::encode(
                    &snapshot,
                    Format::OpenMetrics,
                    &options,
                    &mut collect_out,
                );
            },
            &mut || stale_body = scraper.scrape(stale.local_addr()),
            &mut || {
                encode_out.clear();
                tally_prometheus::encode(
                    black_box(&held),
                    Format::OpenMetrics,
                    &options,
                    &mut encode_out,
                );
            },
            &mut || fresh_body = scraper.scrape(fresh.local_addr()),
        ],
    );
    let expected = series * 6;
    for (name, body) in [
        ("snapshot+encode", collect_out.as_bytes()),
        ("HTTP, collecting", &stale_body[..]),
        ("encode", encode_out.as_bytes()),
        ("HTTP, fresh epoch", &fresh_body[..]),
    ] {
        assert_eq!(sample_lines(body), expected, "{name}: every sample");
    }
    stale.shutdown().unwrap();
    fresh.shutdown().unwrap();

    println!(
        "{series} series ({expected} samples, {} bytes of OpenMetrics), {runs} runs of each case, \
         interleaved; HTTP / in-process = the HTTP case's time over the in-process case's",
        stale_body.len()
    );
    println!();
    println!("| case | min | median | HTTP / in-process (min) | HTTP / in-process (median) |");
    println!("|---|---:|---:|---:|---:|");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let names = [
        "in-process `snapshot` + `encode`",
        "HTTP scrape, collecting (`max_age` 0)",
        "in-process `encode` of a held snapshot",
        "HTTP scrape of a fresh epoch",
    ];
    for (i, (name, (min, median))) in names.iter().zip(&times).enumerate() {
        let ratio = if i % 2 == 1 {
            let (base_min, base_median) = times[i - 1];
            format!(
                "{:.2}× | {:.2}×",
                min.as_secs_f64() / base_min.as_secs_f64(),
                median.as_secs_f64() / base_median.as_secs_f64()
            )
        } else {
            "— | —".to_owned()
        };
        println!("| {name} | {:.2} ms | {:.2} ms | {ratio} |", ms(*min), ms(*median));
    }
    if test_mode {
        println!();
        println!("test mode: 1 run of each case on {series} series; every response complete");
    }
}
