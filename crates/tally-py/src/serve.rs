//! `tally.serve`: the Rust `/metrics` endpoint (tally-http) in the background.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use tally::epoch::Publisher;
use tally_http::{MetricsServer, ServeError, ServerHandle};

use crate::args;
use crate::background::Background;
use crate::registry::{RegRef, Registry};

/// Starts the `/metrics` endpoint (Prometheus text or OpenMetrics by `Accept`, and
/// `/metrics.json`) for `registry` (default: the global one) on its own thread, and
/// returns its handle. Port 0 picks a free port (read `handle.port`). A scrape collects
/// when the published snapshot is older than `max_age` seconds.
///
/// At the server's connection limit (64), a new connection closes the connection idle
/// the longest (one that has not sent a whole request), so idle or slow clients never
/// keep a scrape waiting.
///
/// Raises OSError if the address cannot be bound; TypeError or ValueError, naming the
/// argument, for an argument of the wrong type or out of range.
#[pyfunction]
#[pyo3(
    signature = (port=9464, host=String::from("127.0.0.1"), registry=None, max_age=Duration::from_secs(1)),
    text_signature = "(port=9464, host='127.0.0.1', registry=None, max_age=1.0)"
)]
pub(crate) fn serve(
    py: Python<'_>,
    #[pyo3(from_py_with = args::port)] port: u16,
    #[pyo3(from_py_with = args::host)] host: String,
    #[pyo3(from_py_with = args::registry)] registry: Option<Registry>,
    #[pyo3(from_py_with = args::max_age)] max_age: Duration,
) -> PyResult<MetricsHandle> {
    let ip: IpAddr = host.parse().map_err(|_| {
        PyValueError::new_err(format!(
            "host must be an IP address such as \"127.0.0.1\" or \"::1\", got {host:?}"
        ))
    })?;
    let reg = registry.map(|r| r.inner).unwrap_or(RegRef::Global);
    let publisher = Publisher::new(move || reg.get().snapshot());
    let builder =
        MetricsServer::builder(publisher).bind(SocketAddr::new(ip, port)).max_age(max_age);
    let handle = py.detach(|| builder.spawn()).map_err(serve_error)?;
    Ok(MetricsHandle { addr: handle.local_addr(), handle: Background::new(handle) })
}

fn serve_error(e: ServeError) -> PyErr {
    match e {
        ServeError::Bind { .. } => PyOSError::new_err(e.to_string()),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}

/// A running `/metrics` endpoint: `stop()` stops it gracefully (idempotent); it is also a
/// context manager (`with tally.serve(port=0) as server: ...`).
#[pyclass(frozen, module = "tally._tally", name = "MetricsServer")]
#[derive(Debug)]
pub struct MetricsHandle {
    addr: SocketAddr,
    handle: Background<ServerHandle>,
}

#[pymethods]
impl MetricsHandle {
    /// The port served (the one picked, for port 0).
    #[getter]
    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The host served.
    #[getter]
    fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    /// `http://host:port/metrics`.
    #[getter]
    fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Whether it is still serving.
    #[getter]
    fn running(&self) -> bool {
        self.handle.running(ServerHandle::is_running)
    }

    /// Stops serving: in-flight responses finish, then the port is closed (idempotent).
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        self.handle.stop(py, |h| h.shutdown().map_err(serve_error))
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _t: Option<Py<PyAny>>,
        _v: Option<Py<PyAny>>,
        _tb: Option<Py<PyAny>>,
    ) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("MetricsServer(url={:?}, running={})", self.url(), self.running())
    }
}

/// `registry`'s snapshot (default: the global registry) in the format an `Accept` header
/// asks for (Prometheus text unless it prefers OpenMetrics), with its content type: what
/// `make_wsgi_app` and `make_asgi_app` serve. The collection and encoding run without the
/// GIL.
#[pyfunction]
#[pyo3(signature = (registry=None, accept=None))]
pub(crate) fn _exposition(
    py: Python<'_>,
    #[pyo3(from_py_with = args::registry)] registry: Option<Registry>,
    accept: Option<String>,
) -> (String, &'static str) {
    let reg = registry.map(|r| r.inner).unwrap_or(RegRef::Global);
    py.detach(|| expose(&reg.get().snapshot(), accept.as_deref()))
}

/// `snapshot` in the text format `accept` asks for, with its content type: the body of the
/// WSGI and ASGI apps, for a registry or a multi-process directory.
pub(crate) fn expose(
    snapshot: &tally::RegistrySnapshot,
    accept: Option<&str>,
) -> (String, &'static str) {
    let format = tally_prometheus::Format::from_accept(accept.unwrap_or(""));
    let mut body = String::new();
    tally_prometheus::encode(
        snapshot,
        format,
        &tally_prometheus::EncodeOptions::default(),
        &mut body,
    );
    (body, format.content_type())
}
