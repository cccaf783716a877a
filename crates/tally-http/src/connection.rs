//! One connection: hyper's HTTP/1 server, watched by the connection's deadline, its
//! eviction and the server's shutdown signal.

use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::task::Poll;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::config::Config;
use crate::deadline::{Deadline, ResponseBody, WatchedStream};
use crate::routes::Endpoint;
use crate::slots::Slot;

/// Serves `stream` until the client closes it, a deadline passes, it is evicted (idle
/// while a newcomer needs its slot), an error occurs, or (after `shutdown` turns true) its
/// in-flight response is written. Errors concern this client only and end its
/// connection; nothing is reported.
///
/// `slot` is one of the server's connection slots, given back when this returns (or, if
/// the connection is evicted, passed to its evictor at once).
pub(crate) async fn serve_connection(
    stream: TcpStream,
    endpoint: Arc<Endpoint>,
    config: Arc<Config>,
    mut shutdown: watch::Receiver<bool>,
    slot: Slot,
) {
    let evicted = slot.eviction();
    let (deadline, mut due) = Deadline::new(&config, slot);
    let service = service_fn({
        let deadline = Arc::clone(&deadline);
        move |request| handle(Arc::clone(&endpoint), Arc::clone(&deadline), request)
    });
    // hyper parses and writes HTTP/1.1 (and 1.0); its own timers are not used: the
    // deadline below covers the head read, and more (idle keep-alive, slow readers).
    let connection = http1::Builder::new()
        .max_buf_size(config.max_header_bytes)
        .keep_alive(true)
        .serve_connection(TokioIo::new(WatchedStream::new(stream, Arc::clone(&deadline))), service);
    tokio::pin!(connection);
    // Reads what the client sent before it was accepted (a scraper's whole request, as a
    // rule): only then may the connection count as idle, and be evicted.
    if poll_fn(|cx| Poll::Ready(connection.as_mut().poll(cx))).await.is_ready() {
        return;
    }
    deadline.polled();
    drop(deadline);
    let mut shutting_down = false;
    loop {
        let current = *due.borrow_and_update();
        tokio::select! {
            // Ok or an error (bad request, reset, head too large: hyper has answered what
            // can be answered): either way this connection is done.
            _ = connection.as_mut() => return,
            // Moved by the service, the response body and the socket's wrapper; never
            // closed while `connection` (whose service and IO hold the sender) lives.
            _ = due.changed() => {}
            // Past the deadline: dropping the connection closes the socket (a response in
            // flight is abandoned; its blocking work, if any, runs on and is discarded).
            () = tokio::time::sleep_until(current.unwrap_or_else(tokio::time::Instant::now)),
                if current.is_some() => return,
            // Idle, and its slot given to a newcomer: closed like a connection past its
            // deadline.
            () = evicted.notified() => return,
            // Also when the server dropped the sender: it is gone either way.
            _ = shutdown.wait_for(|stop| *stop), if !shutting_down => {
                shutting_down = true;
                // Finishes a response in flight, then closes; closes an idle connection now.
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Answers one request with [`Endpoint::respond`], moving the connection's deadline from
/// handling to writing, and telling it when hyper is done with the body.
async fn handle<B>(
    endpoint: Arc<Endpoint>,
    deadline: Arc<Deadline>,
    request: Request<B>,
) -> Result<Response<ResponseBody>, std::convert::Infallible> {
    deadline.handling();
    // The body is never read: dropped here, as a mounted service drops it.
    let (head, _body) = request.into_parts();
    let response = endpoint.respond(head).await;
    deadline.writing();
    let (parts, bytes) = response.into_parts();
    Ok(Response::from_parts(parts, ResponseBody::new(bytes, deadline)))
}
