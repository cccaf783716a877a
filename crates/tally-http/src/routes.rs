//! What each request gets: routing, content negotiation, freshness, encoding, the
//! response's headers. The one home of these rules: the standalone server
//! (`connection.rs`) and the mounted [`MetricsService`](crate::MetricsService) both answer
//! with [`Endpoint::respond`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{ACCEPT, ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, VARY};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use tally_epoch::Publisher;
use tally_prometheus::{EncodeOptions, Format, Skipped};
use tally_snapshot::RegistrySnapshot;

use crate::config::Config;
use crate::freshness::Fresh;

/// The `Content-Type` of `/metrics.json`.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The response header that counts what `/metrics` had to leave out of an invalid snapshot
/// (absent when nothing was: always, for a registry's snapshots). Each left-out item is
/// also logged with `log::warn!`.
pub const SKIPPED_HEADER: &str = "tally-skipped";

/// What every request to one endpoint shares, served or mounted: the publisher, its
/// staleness bound, the encoder's options and the time a response may take.
pub(crate) struct Endpoint {
    fresh: Fresh,
    encode_options: EncodeOptions,
    request_timeout: Duration,
}

impl Endpoint {
    /// `publisher`'s epochs, under `config`'s `max_age`, `encode_options` and
    /// `request_timeout`.
    pub(crate) fn new(publisher: Publisher<RegistrySnapshot>, config: &Config) -> Endpoint {
        Endpoint {
            fresh: Fresh::new(publisher, config.max_age),
            encode_options: config.encode_options.clone(),
            request_timeout: config.request_timeout,
        }
    }

    /// Answers one request, from its head (bodies are never read). Never fails: every
    /// outcome is a response. Needs a tokio runtime with its time driver: collecting and
    /// encoding run on its blocking pool, bounded by the request timeout.
    pub(crate) async fn respond(self: Arc<Self>, request: Parts) -> Response<Bytes> {
        match decide(&request) {
            Ok(render) => self.render(render).await,
            Err(refusal) => refusal.response(),
        }
    }
}

/// The routes. Only the head of a request is read: bodies are never read (a request that
/// sends one has its connection closed after the response, as hyper cannot reuse it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `/metrics`: Prometheus text, OpenMetrics or protobuf.
    Metrics,
    /// `/metrics.json`: the serde [`RegistrySnapshot`].
    Json,
}

/// What a route renders, decided from the request before any blocking work.
#[derive(Debug, Clone, Copy)]
enum Render {
    /// `format`, the best the `Accept` header allows; `text`, the best text format it
    /// allows, answered instead when `format` is the protobuf format and the snapshot holds
    /// an integer that format cannot carry exactly.
    Exposition {
        format: Format,
        text: Format,
    },
    Json,
}

/// Why a request is not served.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// `404`: neither route.
    NotFound,
    /// `405`: a method other than `GET` and `HEAD` on a route.
    MethodNotAllowed,
}

impl Refusal {
    fn response(self) -> Response<Bytes> {
        match self {
            Refusal::NotFound => plain(
                StatusCode::NOT_FOUND,
                "not found: the metrics are at /metrics (Prometheus text, OpenMetrics or \
                 protobuf, by the Accept header) and /metrics.json\n",
            ),
            Refusal::MethodNotAllowed => {
                let mut response = plain(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed: use GET (or HEAD)\n",
                );
                response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                response
            }
        }
    }
}

/// What a request asks to be rendered, or why it is refused. Reads the head only, before
/// any blocking work.
fn decide(request: &Parts) -> Result<Render, Refusal> {
    let route = match request.uri.path() {
        "/metrics" => Route::Metrics,
        "/metrics.json" => Route::Json,
        _ => return Err(Refusal::NotFound),
    };
    if request.method != Method::GET && request.method != Method::HEAD {
        return Err(Refusal::MethodNotAllowed);
    }
    Ok(match route {
        Route::Json => Render::Json,
        Route::Metrics => {
            // A header that is not visible ASCII is read as absent (so: the text format).
            let accept = request.headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok());
            let accept = accept.collect::<Vec<_>>().join(",");
            Render::Exposition {
                format: Format::from_accept_with_protobuf(&accept),
                text: Format::from_accept(&accept),
            }
        }
    })
}

impl Endpoint {
    /// Renders the fresh epoch within the request timeout, with its headers; `503` past
    /// the timeout, `500` if the collection or the encoder panicked.
    async fn render(self: Arc<Self>, render: Render) -> Response<Bytes> {
        let request_timeout = self.request_timeout;
        // On the blocking pool: a collection runs the source (every shard of every metric)
        // and encoding 10,000 series takes milliseconds; either would stall every other
        // connection of a single-threaded runtime, and every other task of an
        // application's runtime (under `run`, or mounted). A scrape is rare, so the
        // hand-off costs nothing that matters.
        let work = tokio::task::spawn_blocking(move || self.render_body(render));
        match tokio::time::timeout(request_timeout, work).await {
            Ok(Ok((content_type, body, skipped))) => {
                let mut response = Response::new(body);
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                if skipped > 0 {
                    headers.insert(SKIPPED_HEADER, HeaderValue::from(skipped));
                }
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                if let Render::Exposition { .. } = render {
                    // The body depends on the Accept header: caches must key on it.
                    headers.insert(VARY, HeaderValue::from_static("accept"));
                }
                response
            }
            Ok(Err(join)) => plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                if join.is_panic() {
                    "collecting or encoding the metrics panicked (see the server's stderr); \
                     the next scrape tries again\n"
                } else {
                    "the server is shutting down\n"
                },
            ),
            // The blocking task runs on; if it was collecting, its epoch serves the next
            // scrape.
            Err(_elapsed) => plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "collecting or encoding the metrics took longer than the request timeout; a \
                 collection in progress goes on and serves the next scrape\n",
            ),
        }
    }

    /// The fresh epoch, rendered, and how many series or families the encoder had to
    /// leave out. Runs on a blocking thread.
    fn render_body(&self, render: Render) -> (&'static str, Bytes, usize) {
        let epoch = self.fresh.epoch();
        let snapshot: &RegistrySnapshot = epoch.snapshot();
        match render {
            Render::Exposition { mut format, text } => {
                let mut out = Vec::new();
                let options = &self.encode_options;
                // A registry's snapshots are valid (registration refuses what could not be
                // written), so nothing is skipped; a publisher whose source builds
                // snapshots by hand can hand over an invalid one. Then the output stays
                // valid, what was left out is logged (`log::warn!`, each time) and counted
                // in a `tally-skipped` response header, never dropped without a word.
                let mut report =
                    tally_prometheus::encode_bytes(snapshot, format, options, &mut out);
                // The protobuf format carries numbers as f64: a series whose integer has
                // none exact (a counter past 2^53) would be left out. Never round it, never
                // drop it: answer the text format the request accepts instead, which writes
                // it exactly (native histograms become classic ones for this scrape).
                let inexact =
                    report.skipped.iter().find(|s| matches!(s, Skipped::InexactInteger { .. }));
                if let Some(first) = inexact {
                    log::warn!(
                        "tally-http: /metrics answered {text:?} instead of the protobuf format \
                         the scraper prefers: {first}"
                    );
                    format = text;
                    out.clear();
                    report = tally_prometheus::encode_bytes(snapshot, format, options, &mut out);
                }
                for skipped in &report.skipped {
                    log::warn!("tally-http: /metrics left out {skipped}");
                }
                (format.content_type(), Bytes::from(out), report.skipped.len())
            }
            Render::Json => {
                // A `RegistrySnapshot` is maps, strings and numbers: serializing it to
                // memory cannot fail.
                let json = serde_json::to_vec(snapshot).expect("a RegistrySnapshot serializes");
                (JSON_CONTENT_TYPE, Bytes::from(json), 0)
            }
        }
    }
}

fn plain(status: StatusCode, message: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(message.as_bytes()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}
