//! An axum 0.8 service instrumented with tally: each request counted, with its latency, by
//! route and status, and `/metrics` mounted in the service's own router.
//!
//! `cargo run -p tally-http --example axum_service` runs it end to end: it serves on a free
//! port, sends itself requests from several clients at once, reads its own `/metrics`, and
//! exits 1 unless every request is there under its route and status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tally::{Family, Registry};
use tally_http::MetricsServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

tally::metric_set! {
    /// The requests of one route and status.
    pub struct Http {
        /// Requests answered.
        requests: Counter,
        /// Time to answer, in nanoseconds.
        latency_ns: Histogram,
    }
}

/// One event per request, under its route (`/items/{id}`, not the path) and status.
async fn track(State(http): State<Arc<Family<Http>>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(request).await;
    let labels = [route.as_deref().unwrap_or(""), &response.status().as_u16().to_string()];
    let recorded = http.with(&labels, |h| {
        h.record(|e| {
            e.requests().inc();
            e.latency_ns().record(start.elapsed().as_nanos() as u64);
        })
    });
    recorded.unwrap_or_else(|e| eprintln!("not counted: {e}"));
    response
}

async fn item(Path(id): Path<u32>) -> Result<String, StatusCode> {
    if id % 4 == 0 { Err(StatusCode::NOT_FOUND) } else { Ok(format!("item {id}\n")) }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Arc::new(Registry::new());
    let http = registry.metric("http").help("Requests.").family::<Http>(&["route", "status"])?;
    // Every scrape collects (max_age zero), so the one below sees every request.
    let metrics = MetricsServer::builder(registry).max_age(Duration::ZERO).service();
    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route("/items/{id}", get(item))
        .route_layer(middleware::from_fn_with_state(http, track)) // not on /metrics
        .route_service("/metrics", metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    // 44 clients at once: 40 items (one in four missing) and 4 "/".
    let paths =
        (1..=40).map(|id| format!("/items/{id}")).chain(std::iter::repeat_n("/".to_owned(), 4));
    let mut clients: tokio::task::JoinSet<_> = paths.map(|path| fetch(addr, path)).collect();
    while let Some(done) = clients.join_next().await {
        done??;
    }

    let metrics = fetch(addr, "/metrics".to_owned()).await?;
    for expected in [
        r#"http_requests_total{route="/items/{id}",status="200"} 30"#,
        r#"http_requests_total{route="/items/{id}",status="404"} 10"#,
        r#"http_requests_total{route="/",status="200"} 4"#,
        r#"http_latency_seconds_count{route="/items/{id}",status="200"} 30"#,
    ] {
        if !metrics.lines().any(|line| line == expected) {
            eprintln!("/metrics lacks `{expected}`; it reads:\n{metrics}");
            std::process::exit(1);
        }
    }
    println!("all 44 requests counted by route and status; /metrics on http://{addr}/metrics");
    Ok(())
}

/// `GET path` on a connection of its own: the response, head and body.
async fn fetch(addr: std::net::SocketAddr, path: String) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}
