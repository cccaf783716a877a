//! [`MetricsService`]: the endpoint as a tower `Service`, for a router the application
//! already has (axum, hyper, tonic's, any tower stack).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};

use crate::routes::Endpoint;
use crate::{MetricsServer, SnapshotSource};

/// `/metrics` and `/metrics.json` as a [`tower_service::Service`], to mount in the
/// application's own router: the same routes, content negotiation, freshness rule,
/// response headers (`tally-skipped` included) and request timeout as the standalone
/// [`MetricsServer`], byte for byte, because both answer with one function.
///
/// From [`MetricsService::new`] (default options) or
/// [`MetricsServerBuilder::service`](crate::MetricsServerBuilder::service) (the builder's
/// [`max_age`](crate::MetricsServerBuilder::max_age),
/// [`request_timeout`](crate::MetricsServerBuilder::request_timeout) and
/// [`encode_options`](crate::MetricsServerBuilder::encode_options)). Cheap to clone:
/// clones share one endpoint.
///
/// It routes by the request's path, as the standalone server does: `/metrics` and
/// `/metrics.json` are served, other paths get its `404`, methods other than `GET` and
/// `HEAD` its `405`. Mount it at those paths (axum: `route_service("/metrics", …)` and
/// `route_service("/metrics.json", …)`), or under a prefix with a router that strips
/// the prefix (axum's `nest_service`). The request body is never read.
///
/// Connections (head sizes, header-read and keep-alive timeouts, the connection limit,
/// shutdown) are the bounds of the server it is mounted in; the request timeout (`503`
/// past it) is this service's own. Collections and encodings run on the tokio blocking
/// pool (`spawn_blocking`): call it inside a tokio runtime with its time driver enabled,
/// as axum and hyper servers are.
///
/// # Examples
///
/// In an axum 0.8 router (`examples/axum_service.rs` is a whole service):
///
/// ```
/// let registry = std::sync::Arc::new(tally::Registry::new());
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hello" }))
///     .route_service("/metrics", tally_http::MetricsService::new(registry));
/// ```
///
/// Called directly, as any tower service:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use http_body_util::BodyExt;
/// use tally_http::MetricsServer;
/// use tower_service::Service;
///
/// let registry = Arc::new(tally::Registry::new());
/// let stats = registry.register::<tally::InferenceStats>("inference", "The model server.")?;
/// let mut service = MetricsServer::builder(registry).max_age(Duration::ZERO).service();
/// stats.record_inference(true, false);
///
/// let request = hyper::Request::get("/metrics").body(())?;
/// let response = service.call(request).await?;
/// assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
/// let body = response.into_body().collect().await?.to_bytes();
/// assert!(std::str::from_utf8(&body)?.contains("\ninference_total_inferences_total 1\n"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MetricsService {
    endpoint: Arc<Endpoint>,
}

impl MetricsService {
    /// A service serving `source` (a registry, or a publisher: see [`SnapshotSource`]) with
    /// the default options; short for `MetricsServer::builder(source).service()`.
    pub fn new(source: impl SnapshotSource) -> MetricsService {
        MetricsServer::builder(source).service()
    }

    pub(crate) fn from_endpoint(endpoint: Endpoint) -> MetricsService {
        MetricsService { endpoint: Arc::new(endpoint) }
    }
}

impl<B> tower_service::Service<Request<B>> for MetricsService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    /// Always ready: each call is a request of its own.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> ResponseFuture {
        // The body is never read: dropped here, as the standalone server drops it.
        let (head, _body) = request.into_parts();
        let respond = Arc::clone(&self.endpoint).respond(head);
        ResponseFuture { inner: Box::pin(async move { Ok(respond.await.map(Full::new)) }) }
    }
}

impl fmt::Debug for MetricsService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsService").finish_non_exhaustive()
    }
}

/// What a [`MetricsService`] call resolves to.
type Answer = Result<Response<Full<Bytes>>, Infallible>;

/// The response of a [`MetricsService`] call: never an error (every outcome, a `404` or a
/// `503` included, is a response).
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Answer> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Answer;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
