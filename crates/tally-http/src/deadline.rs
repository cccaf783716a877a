//! One connection's deadline, moved along as it goes from reading a head to handling a
//! request to writing the response, and back.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::sync::watch;
use tokio::time::Instant;

/// When the connection must have made progress, or be closed; `None` while a request is
/// being handled (the handler bounds itself, and answers 503 in time).
///
/// The connection's task watches the channel and closes the connection when the current
/// deadline passes. The service, the response body and the connection's IO move it:
///
/// - accepted: the head is due within the header-read timeout;
/// - head read (the service is called): no deadline;
/// - response ready (the service returns): written within the request timeout;
/// - response written, that is, the body handed over whole to hyper *and* hyper's buffer
///   flushed to the socket: the next head is due within the header-read timeout (which
///   closes idle keep-alive connections).
///
/// "Written" waits for the flush because hyper takes the body into its own buffer and may
/// read the next (pipelined) head before the socket has accepted the bytes: a client that
/// does not read would otherwise hold the connection with a stalled write.
#[derive(Debug)]
pub(crate) struct Deadline {
    phase: Mutex<Phase>,
    tx: watch::Sender<Option<Instant>>,
    header_read_timeout: Duration,
    request_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingHead,
    Handling,
    Writing { body_done: bool },
}

impl Deadline {
    /// A deadline for a connection just accepted: its first head is due within the
    /// header-read timeout.
    pub(crate) fn new(
        header_read_timeout: Duration,
        request_timeout: Duration,
    ) -> (Arc<Deadline>, watch::Receiver<Option<Instant>>) {
        let (tx, rx) = watch::channel(Some(Instant::now() + header_read_timeout));
        let phase = Mutex::new(Phase::AwaitingHead);
        (Arc::new(Deadline { phase, tx, header_read_timeout, request_timeout }), rx)
    }

    /// Moves to `phase` with deadline `due`; under the phase's lock, so that the deadlines
    /// are sent in the order of the phases.
    fn enter(&self, phase: &mut Phase, next: Phase, due: Option<Duration>) {
        *phase = next;
        self.tx.send_replace(due.map(|d| Instant::now() + d));
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // The phase is a plain value, consistent between statements: poison means nothing.
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A head was read and the request is being handled.
    pub(crate) fn handling(&self) {
        self.enter(&mut self.phase(), Phase::Handling, None);
    }

    /// The response is ready: it must be written within the request timeout.
    pub(crate) fn writing(&self) {
        self.enter(
            &mut self.phase(),
            Phase::Writing { body_done: false },
            Some(self.request_timeout),
        );
    }

    /// hyper is done with the response body (it holds the bytes, or dropped them).
    fn body_done(&self) {
        let mut phase = self.phase();
        if let Phase::Writing { body_done } = &mut *phase {
            *body_done = true;
        }
    }

    /// hyper's buffer was flushed to the socket: if the body was done, the response is
    /// written, and the next head is due within the header-read timeout.
    fn flushed(&self) {
        let mut phase = self.phase();
        if *phase == (Phase::Writing { body_done: true }) {
            self.enter(&mut phase, Phase::AwaitingHead, Some(self.header_read_timeout));
        }
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

/// The connection's socket, telling the [`Deadline`] when hyper's writes are flushed.
#[derive(Debug)]
pub(crate) struct WatchedIo<T> {
    io: T,
    deadline: Arc<Deadline>,
}

impl<T> WatchedIo<T> {
    pub(crate) fn new(io: T, deadline: Arc<Deadline>) -> WatchedIo<T> {
        WatchedIo { io, deadline }
    }
}

impl<T: Read + Unpin> Read for WatchedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for WatchedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    /// hyper flushes the socket only once its own buffer is empty: `Ready(Ok)` here means
    /// every byte it was given is in the kernel.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.io).poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            this.deadline.flushed();
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A response body that tells its connection's [`Deadline`] when hyper is done with it
/// (taken whole into hyper's buffer, or dropped for a `HEAD` request or a closed
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
        self.deadline.body_done();
    }
}
