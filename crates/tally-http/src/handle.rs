//! A server running on a thread of its own, and the handle that stops it.

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use tally_epoch::Publisher;
use tally_snapshot::RegistrySnapshot;
use tokio::net::TcpSocket;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::{ServeError, serve};

/// The listen backlog of a spawned server, as tokio's `TcpListener::bind` has it (std's
/// is 128). Connections past it are not refused but have their SYN dropped, which their
/// clients retry only a second later: room for a few hundred clients reconnecting at once
/// keeps a scraper among them from waiting that second. The kernel caps it
/// (`net.core.somaxconn`, 4096 by default on Linux since 5.4).
const LISTEN_BACKLOG: u32 = 1024;

/// A metrics endpoint serving on its own thread (from
/// [`MetricsServerBuilder::spawn`](crate::MetricsServerBuilder::spawn)).
///
/// [`shutdown`](Self::shutdown) stops it gracefully and joins its thread; dropping the
/// handle does the same and discards the result.
///
/// # Examples
///
/// ```
/// use tally_http::MetricsServer;
///
/// let publisher = tally::epoch::Publisher::new(tally::RegistrySnapshot::default);
/// let server = MetricsServer::builder(publisher).bind("127.0.0.1:0".parse()?).spawn()?;
/// let addr = server.local_addr();
/// assert!(addr.ip().is_loopback() && addr.port() != 0);
/// server.shutdown()?; // in-flight responses finish; the port is closed
/// assert!(std::net::TcpStream::connect(addr).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the handle shuts the server down"]
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServeError>>>,
}

impl ServerHandle {
    /// Listens on `socket`, bound to `addr`, and starts the server's thread.
    pub(crate) fn spawn(
        socket: TcpSocket,
        addr: SocketAddr,
        publisher: Publisher<RegistrySnapshot>,
        config: Config,
    ) -> Result<ServerHandle, ServeError> {
        // Single-threaded: the server's own work (parsing heads, writing responses) is
        // small; collections and encodings go to the blocking pool, whose threads are
        // capped so that a burst of scrapes cannot take every core.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .max_blocking_threads(2)
            .thread_name("tally-http-blocking")
            .build()
            .map_err(ServeError::Runtime)?;
        let bind = |source| ServeError::Bind { addr, source };
        let listener = {
            // Registered with this runtime's driver, which the thread below runs.
            let _runtime = runtime.enter();
            socket.listen(LISTEN_BACKLOG).map_err(bind)?
        };
        let local_addr = listener.local_addr().map_err(bind)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tally-http".to_owned())
            .spawn(move || {
                // A dropped sender (the handle leaked its stop half) also stops.
                let result = runtime.block_on(serve::serve(listener, publisher, config, async {
                    let _ = stopped.await;
                }));
                // Not a plain drop, which would wait for every blocking task: a source still
                // collecting past the grace (user code, stuck) is left to finish on its own
                // rather than hold up the shutdown.
                runtime.shutdown_background();
                result
            })
            .map_err(ServeError::Thread)?;
        Ok(ServerHandle { local_addr, stop: Some(stop), thread: Some(thread) })
    }

    /// The address the server listens on, with the port the system picked if port 0 was
    /// asked for.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the server's thread is still running (false once it stopped, for instance
    /// after its listener failed).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the server gracefully and waits for its thread: no new connection is
    /// accepted, responses in flight are finished (for up to the
    /// [grace](crate::MetricsServerBuilder::shutdown_grace)), and the listening socket is
    /// closed before this returns.
    ///
    /// # Errors
    ///
    /// The error the server stopped with, if it stopped by itself
    /// ([`ServeError::Accept`]), or [`ServeError::Panicked`].
    pub fn shutdown(mut self) -> Result<(), ServeError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            // Err: the server already stopped by itself; its result is in the thread.
            let _ = stop.send(());
        }
        match self.thread.take() {
            None => Ok(()),
            Some(thread) => thread.join().unwrap_or_else(|panic| {
                Err(ServeError::Panicked { message: panic_message(panic.as_ref()) })
            }),
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

impl Drop for ServerHandle {
    /// Shuts down as [`shutdown`](Self::shutdown) does, discarding its result.
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .field("running", &self.is_running())
            .finish()
    }
}
