//! One connection's deadline, moved along as it goes from reading a head to handling a
//! request to writing the response, and back.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::watch;
use tokio::time::Instant;

/// When the connection must have made progress, or be closed; `None` while a request is
/// being handled (the handler bounds itself, and answers 503 in time).
///
/// The connection's task watches the channel and closes the connection when the current
/// deadline passes; the service and the response body move it.
#[derive(Debug)]
pub(crate) struct Deadline {
    tx: watch::Sender<Option<Instant>>,
    header_read_timeout: Duration,
    request_timeout: Duration,
}

impl Deadline {
    /// A deadline for a connection just accepted: its first head is due within the
    /// header-read timeout.
    pub(crate) fn new(
        header_read_timeout: Duration,
        request_timeout: Duration,
    ) -> (Arc<Deadline>, watch::Receiver<Option<Instant>>) {
        let (tx, rx) = watch::channel(Some(Instant::now() + header_read_timeout));
        (Arc::new(Deadline { tx, header_read_timeout, request_timeout }), rx)
    }

    /// A response was written (or dropped): the next head is due within the header-read
    /// timeout. Keep-alive connections left idle are closed then.
    pub(crate) fn awaiting_head(&self) {
        self.tx.send_replace(Some(Instant::now() + self.header_read_timeout));
    }

    /// A head was read and the request is being handled.
    pub(crate) fn handling(&self) {
        self.tx.send_replace(None);
    }

    /// The response is ready: it must be written within the request timeout.
    pub(crate) fn writing(&self) {
        self.tx.send_replace(Some(Instant::now() + self.request_timeout));
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

/// A response body that moves its connection's deadline back to "awaiting a head" when
/// hyper is done with it (written in full, or dropped for a `HEAD` request or a closed
/// connection).
#[derive(Debug)]
pub(crate) struct ResponseBody {
    inner: Full<Bytes>,
    deadline: Arc<Deadline>,
}

impl ResponseBody {
    pub(crate) fn new(bytes: Bytes, deadline: Arc<Deadline>) -> ResponseBody {
        ResponseBody { inner: Full::new(bytes), deadline }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        // `Full` is `Unpin`, so this is a plain field access.
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.deadline.awaiting_head();
    }
}
