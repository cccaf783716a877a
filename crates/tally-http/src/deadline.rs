//! One connection's deadline, moved along as it goes from reading a head to handling a
//! request to writing the response, and back; and its slot, idle or busy with it.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::Config;
use crate::slots::Slot;

/// When the connection must have made progress, or be closed; `None` while a request is
/// being handled (the handler bounds itself, and answers 503 in time).
///
/// The connection's task watches the channel and closes the connection when the current
/// deadline passes. The service, the response body and the connection's stream move it:
///
/// - accepted: the head is due within the header-read timeout;
/// - head read (the service is called): no deadline;
/// - response ready (the service returns): written within the request timeout;
/// - response written, that is, the body handed over whole to hyper *and* hyper's buffer
///   flushed to the socket: the next request's first byte is due within the keep-alive
///   timeout (which closes idle keep-alive connections);
/// - that first byte received: the rest of the head is due within the header-read
///   timeout.
///
/// "Written" waits for the flush because hyper takes the body into its own buffer and may
/// read the next (pipelined) head before the socket has accepted the bytes: a client that
/// does not read would otherwise hold the connection with a stalled write.
///
/// The connection's [`Slot`] follows the same phases: busy from the head read to the
/// response written, idle (evictable) otherwise, once the connection's task has read what
/// the client sent before it was accepted ([`polled`](Self::polled)).
#[derive(Debug)]
pub(crate) struct Deadline {
    state: Mutex<State>,
    tx: watch::Sender<Option<Instant>>,
    header_read_timeout: Duration,
    request_timeout: Duration,
    keep_alive_timeout: Duration,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    slot: Slot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request head (the first, or one whose first byte came).
    AwaitingHead,
    /// Between a response and the next request's first byte.
    KeepAlive,
    Handling,
    Writing {
        body_done: bool,
    },
}

impl Deadline {
    /// A deadline for a connection just accepted, holding `slot`: its first head is due
    /// within the header-read timeout.
    pub(crate) fn new(
        config: &Config,
        slot: Slot,
    ) -> (Arc<Deadline>, watch::Receiver<Option<Instant>>) {
        let (tx, rx) = watch::channel(Some(Instant::now() + config.header_read_timeout));
        let state = Mutex::new(State { phase: Phase::AwaitingHead, slot });
        let deadline = Deadline {
            state,
            tx,
            header_read_timeout: config.header_read_timeout,
            request_timeout: config.request_timeout,
            keep_alive_timeout: config.keep_alive_timeout,
        };
        (Arc::new(deadline), rx)
    }

    /// Moves to `next` with deadline `due`; under the state's lock, so that the deadlines
    /// are sent in the order of the phases.
    fn enter(&self, state: &mut State, next: Phase, due: Option<Duration>) {
        state.phase = next;
        self.tx.send_replace(due.map(|d| Instant::now() + d));
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is plain values, consistent between statements: poison means nothing.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection's task has polled it once: what the client sent before it was
    /// accepted has been read. Without a whole head in it, the connection is idle.
    pub(crate) fn polled(&self) {
        let mut state = self.state();
        if state.phase == Phase::AwaitingHead {
            state.slot.idle();
        }
    }

    /// A head was read and the request is being handled.
    pub(crate) fn handling(&self) {
        let mut state = self.state();
        // Evicted before the head came: the connection's task closes it.
        let _ = state.slot.busy();
        self.enter(&mut state, Phase::Handling, None);
    }

    /// The response is ready: it must be written within the request timeout.
    pub(crate) fn writing(&self) {
        self.enter(
            &mut self.state(),
            Phase::Writing { body_done: false },
            Some(self.request_timeout),
        );
    }

    /// hyper is done with the response body (it holds the bytes, or dropped them).
    fn body_done(&self) {
        let mut state = self.state();
        if let Phase::Writing { body_done } = &mut state.phase {
            *body_done = true;
        }
    }

    /// hyper's buffer was flushed to the socket: if the body was done, the response is
    /// written, the connection is idle, and the next request must start within the
    /// keep-alive timeout.
    fn flushed(&self) {
        let mut state = self.state();
        if state.phase == (Phase::Writing { body_done: true }) {
            state.slot.idle();
            self.enter(&mut state, Phase::KeepAlive, Some(self.keep_alive_timeout));
        }
    }

    /// Bytes came from the client: on a keep-alive connection, a request has begun, and
    /// its head is due within the header-read timeout.
    fn received(&self) {
        let mut state = self.state();
        if state.phase == Phase::KeepAlive {
            self.enter(&mut state, Phase::AwaitingHead, Some(self.header_read_timeout));
        }
    }
}

/// The connection's socket, telling the [`Deadline`] when bytes arrive and when hyper's
/// writes are flushed.
#[derive(Debug)]
pub(crate) struct WatchedStream<S> {
    stream: S,
    deadline: Arc<Deadline>,
}

impl<S> WatchedStream<S> {
    pub(crate) fn new(stream: S, deadline: Arc<Deadline>) -> WatchedStream<S> {
        WatchedStream { stream, deadline }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WatchedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.deadline.received();
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WatchedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    /// hyper flushes the socket only once its own buffer is empty: `Ready(Ok)` here means
    /// every byte it was given is in the kernel.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.stream).poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            this.deadline.flushed();
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
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
