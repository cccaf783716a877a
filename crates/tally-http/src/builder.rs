//! The entry point and its options.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tally_epoch::Publisher;
use tally_prometheus::EncodeOptions;
use tally_snapshot::RegistrySnapshot;
use tokio::net::{TcpListener, TcpSocket};

use crate::config::{Config, MIN_HEADER_BYTES};
use crate::handle::ServerHandle;
use crate::routes::Endpoint;
use crate::{MetricsService, ServeError, SnapshotSource, serve};

/// The address served unless told otherwise: loopback only, port 9464 (the OpenTelemetry
/// Prometheus exporter's default port).
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9464);

/// The `/metrics` endpoint of a registry (or of a [`Publisher`] of registry snapshots).
///
/// Not constructed itself: [`MetricsServer::builder`] gives a [`MetricsServerBuilder`],
/// which either [`spawn`](MetricsServerBuilder::spawn)s the server on its own thread,
/// [`run`](MetricsServerBuilder::run)s it inside an existing tokio runtime, or gives a
/// [`service`](MetricsServerBuilder::service) to mount in the application's own router.
///
/// # Examples
///
/// ```
/// use tally::{InferenceStats, Registry};
/// use tally_http::MetricsServer;
///
/// let registry = std::sync::Arc::new(Registry::new());
/// let stats = registry.register::<InferenceStats>("inference", "The model server.")?;
///
/// let server = MetricsServer::builder(registry).bind("127.0.0.1:0".parse()?).spawn()?;
/// stats.record_inference(true, false);
/// println!("scrape http://{}/metrics", server.local_addr());
/// server.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MetricsServer {
    _not_constructed: (),
}

impl MetricsServer {
    /// A builder serving `source`, with the defaults listed on [`MetricsServerBuilder`]:
    /// an `Arc<Registry>`, [`tally::global()`], or a [`Publisher`] of registry snapshots
    /// (see [`SnapshotSource`]).
    pub fn builder(source: impl SnapshotSource) -> MetricsServerBuilder {
        MetricsServerBuilder {
            publisher: source.into_publisher(),
            addr: DEFAULT_ADDR,
            config: Config::default(),
        }
    }
}

/// Configures and starts a metrics endpoint (from [`MetricsServer::builder`]), or gives
/// it as a [`MetricsService`] to mount in another router ([`service`](Self::service)).
///
/// | option | default | what it bounds |
/// | --- | --- | --- |
/// | [`bind`](Self::bind) | `127.0.0.1:9464` | where it listens ([`DEFAULT_ADDR`]) |
/// | [`max_age`](Self::max_age) | 1 s | how old a served epoch may be before a scrape collects a new one |
/// | [`header_read_timeout`](Self::header_read_timeout) | 10 s | the time to send a request head |
/// | [`keep_alive_timeout`](Self::keep_alive_timeout) | 5 s | the time between a response and the next request on a connection |
/// | [`request_timeout`](Self::request_timeout) | 10 s | collecting and encoding, then writing the response |
/// | [`max_header_bytes`](Self::max_header_bytes) | 16 KiB | a request head's size (larger: 431) |
/// | [`max_connections`](Self::max_connections) | 64 | connections open at once; at the limit, a new one closes the connection idle the longest (one without a whole request head), and waits only while all are busy with a request |
/// | [`shutdown_grace`](Self::shutdown_grace) | 5 s | how long shutdown waits for in-flight responses |
/// | [`encode_options`](Self::encode_options) | [`EncodeOptions::default`] | histogram buckets, `_ns` as seconds |
///
/// A mounted service uses `max_age`, `request_timeout` and `encode_options`; the other
/// options bound connections, which are the mounting server's.
#[derive(Clone)]
#[must_use = "a builder does nothing until `spawn`, `run` or `service` is called"]
pub struct MetricsServerBuilder {
    publisher: Publisher<RegistrySnapshot>,
    addr: SocketAddr,
    config: Config,
}

impl MetricsServerBuilder {
    /// Listens on `addr` (default [`DEFAULT_ADDR`], `127.0.0.1:9464`) when
    /// [`spawn`](Self::spawn)ed. Port 0 picks a free port: read it from
    /// [`ServerHandle::local_addr`]. Bind `0.0.0.0` only where the metrics may be read by
    /// anyone who can reach the machine.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Serves the publisher's latest epoch while it is younger than `max_age` (by the
    /// publisher's clock, from the start of its collection); a scrape that finds it older
    /// refreshes the publisher first. Concurrent scrapes that find it stale share one
    /// collection. Zero makes every scrape collect. Default 1 s.
    ///
    /// A publisher refreshed elsewhere (by its
    /// [`spawn_refresher`](tally_epoch::Publisher::spawn_refresher)) with a period below
    /// `max_age` is never collected by the server.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.config.max_age = max_age;
        self
    }

    /// The time a client has to send a whole request head, from when its connection is
    /// accepted or (on a keep-alive connection) from the head's first byte; the
    /// connection is then closed without a response. This closes connections that send
    /// nothing or send their head a byte at a time. Default 10 s; at least 1 ms.
    ///
    /// Such connections are idle, so they never keep a scraper waiting: at the
    /// [connection limit](Self::max_connections) a newcomer closes the one idle the
    /// longest first.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.header_read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a keep-alive connection may stay open between a response (written
    /// whole) and the first byte of its next request; it is then closed. Default 5 s
    /// (a scraper that comes back less often opens a new connection each time, which
    /// costs it a TCP handshake); at least 1 ms.
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.config.keep_alive_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The time a request may take once its head is read: collecting and encoding get this
    /// long (then the answer is `503 Service Unavailable`; a collection still running goes
    /// on in the background and serves the next scrape), and writing the response gets this
    /// long again (a client that reads slower is disconnected). Default 10 s; at least
    /// 1 ms.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The largest request head (request line and headers) read, in bytes; a larger one
    /// is answered `431 Request Header Fields Too Large` and its connection closed.
    /// Default 16 KiB; values below 8 KiB (hyper's minimum buffer) are raised to 8 KiB.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.config.max_header_bytes = bytes.max(MIN_HEADER_BYTES);
        self
    }

    /// The most connections open at once. The server keeps accepting: at the limit, a new
    /// connection takes the slot of the **idle** connection idle the longest, which is
    /// closed. A connection is idle while it has no whole request head: silent
    /// since it was accepted, between requests on a keep-alive connection, or sending its
    /// head slowly. So idle clients, however many and however quick to reconnect, never
    /// keep a scraper waiting.
    ///
    /// A connection with a request in hand (its response being prepared or written) is
    /// never closed for a newcomer: while *every* slot is such a one, the server stops
    /// accepting, and new connections wait in the kernel's listen backlog until one is
    /// done or idle again, which the [request timeout](Self::request_timeout) bounds.
    /// Default 64; at least 1.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.max_connections = connections.max(1);
        self
    }

    /// How long shutdown waits for in-flight responses to finish before closing their
    /// connections. Default 5 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// The encoder's options (histogram bucket bounds, `_ns` histograms in seconds) for
    /// both text formats.
    pub fn encode_options(mut self, options: EncodeOptions) -> Self {
        self.config.encode_options = options;
        self
    }

    /// Binds the address and serves on a thread of its own (named `tally-http`) with a
    /// single-threaded tokio runtime, until [`ServerHandle::shutdown`] or the handle's
    /// drop.
    ///
    /// The socket is bound before this returns, so a bind error is returned here, and the
    /// server accepts connections as soon as it has returned `Ok`. Its listen backlog (the
    /// connections the kernel completes before the server accepts them) is 1024, as
    /// [`tokio::net::TcpListener::bind`]'s, or the system's cap if lower
    /// (`net.core.somaxconn` on Linux).
    ///
    /// # Errors
    ///
    /// [`ServeError::Bind`] if the address cannot be bound (in use, privileged, not this
    /// machine's), [`ServeError::Runtime`] or [`ServeError::Thread`] if the runtime or
    /// thread cannot be made.
    pub fn spawn(self) -> Result<ServerHandle, ServeError> {
        let addr = self.addr;
        let bind = |source| ServeError::Bind { addr, source };
        let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
        let socket = socket.map_err(bind)?;
        // As std's and tokio's `bind` do: a port whose last connections linger in
        // TIME_WAIT can be bound again at once.
        #[cfg(not(windows))]
        socket.set_reuseaddr(true).map_err(bind)?;
        socket.bind(addr).map_err(bind)?;
        ServerHandle::spawn(socket, addr, self.publisher, self.config)
    }

    /// Serves on `listener` inside the current tokio runtime until `shutdown` completes,
    /// then stops accepting, lets in-flight responses finish (for up to the
    /// [grace](Self::shutdown_grace)) and returns.
    ///
    /// The address set with [`bind`](Self::bind) is not used: the listener is already
    /// bound. Collections and encodings run on the runtime's blocking pool
    /// (`spawn_blocking`), so they never hold up the runtime's other tasks; the
    /// runtime needs its IO and time drivers enabled.
    ///
    /// Give the listener a backlog of a few hundred connections or more, as
    /// [`tokio::net::TcpListener::bind`] does (1024), rather than std's 128: the clients
    /// of connections past it retry a second later (see the crate's
    /// [Bounds](crate#bounds)).
    ///
    /// # Errors
    ///
    /// [`ServeError::Accept`] if the listener itself fails (not for one client's error).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tally_http::MetricsServer;
    ///
    /// let publisher = tally::epoch::Publisher::new(tally::RegistrySnapshot::default);
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let server = tokio::spawn(
    ///     MetricsServer::builder(publisher).run(listener, async { let _ = stopped.await; }),
    /// );
    /// // ... serve until the application stops:
    /// stop.send(()).unwrap();
    /// server.await??;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        serve::serve(listener, self.publisher, self.config, shutdown).await
    }
}

impl MetricsServerBuilder {
    /// The endpoint as a [`MetricsService`] (a tower `Service`) to mount in the
    /// application's own router, answering exactly as the spawned server does, with this
    /// builder's [`max_age`](Self::max_age), [`request_timeout`](Self::request_timeout) and
    /// [`encode_options`](Self::encode_options). The other options bound connections:
    /// the router's server owns those.
    ///
    /// The builder is kept, so that one builder can also [`spawn`](Self::spawn) or
    /// [`run`](Self::run) a server: both then read one publisher, and a collection made
    /// for one serves the other.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tally_http::MetricsServer;
    ///
    /// let registry = Arc::new(tally::Registry::new());
    /// let builder = MetricsServer::builder(registry).max_age(Duration::from_millis(500));
    /// let service = builder.service(); // mount it in your router
    /// let server = builder.bind("127.0.0.1:0".parse()?).spawn()?; // and/or serve it
    /// # drop(service); server.shutdown()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn service(&self) -> MetricsService {
        MetricsService::from_endpoint(Endpoint::new(self.publisher.clone(), &self.config))
    }
}

impl fmt::Debug for MetricsServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsServerBuilder")
            .field("addr", &self.addr)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
