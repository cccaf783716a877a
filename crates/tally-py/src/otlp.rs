//! `tally.start_otlp_exporter`: a registry's snapshots pushed over OTLP/HTTP (tally-otlp)
//! to an OpenTelemetry Collector or any OTLP receiver, from a thread of its own.

use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use tally_otlp::{DropReason, ExportError, ExportReport, OtlpExporter, OtlpLoop, Temporality};

use crate::args;
use crate::registry::{RegRef, Registry};

/// Starts exporting `registry` (default: the global one) over OTLP/HTTP (protobuf) every
/// `interval_s` seconds from a thread of its own, and returns its handle; `stop()` (or
/// leaving a `with` block) exports once more, flushes, and returns what happened.
///
/// The standard OpenTelemetry environment variables are read first, as every SDK reads
/// them (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`,
/// `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
/// `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, ...);
/// an argument given overrides its variable. With neither, metrics go to
/// `http://localhost:4318/v1/metrics`.
///
/// Recording never waits for an export: the thread only takes snapshots. A receiver that
/// is down is retried with backoff while batches queue (`buffer` of them; beyond, the
/// oldest are dropped, and counted in the report).
///
/// Raises ValueError for an unusable endpoint, header, resource attribute or environment
/// variable (the message names it and says what to write), TypeError or ValueError naming
/// the argument for an argument of the wrong type or out of range, OSError if the thread
/// cannot be started.
#[pyfunction]
#[pyo3(
    signature = (
        endpoint=None, *, registry=None, interval_s=Duration::from_secs(10), temporality=None,
        service_name=None, resource=Vec::new(), headers=Vec::new(),
        buffer=tally_otlp::DEFAULT_BUFFER, timeout_s=None,
        flush_timeout_s=tally_otlp::DEFAULT_FLUSH_TIMEOUT
    ),
    text_signature = "(endpoint=None, *, registry=None, interval_s=10.0, temporality=None, \
                      service_name=None, resource=None, headers=None, buffer=16, \
                      timeout_s=None, flush_timeout_s=5.0)"
)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn start_otlp_exporter(
    py: Python<'_>,
    #[pyo3(from_py_with = args::otlp_endpoint)] endpoint: Option<String>,
    #[pyo3(from_py_with = args::registry)] registry: Option<Registry>,
    #[pyo3(from_py_with = args::interval_s)] interval_s: Duration,
    #[pyo3(from_py_with = args::temporality)] temporality: Option<Temporality>,
    #[pyo3(from_py_with = args::service_name)] service_name: Option<String>,
    #[pyo3(from_py_with = args::resource)] resource: Vec<(String, String)>,
    #[pyo3(from_py_with = args::headers)] headers: Vec<(String, String)>,
    #[pyo3(from_py_with = args::buffer)] buffer: usize,
    #[pyo3(from_py_with = args::timeout_s)] timeout_s: Option<Duration>,
    #[pyo3(from_py_with = args::flush_timeout_s)] flush_timeout_s: Duration,
) -> PyResult<OtlpHandle> {
    let mut builder = OtlpExporter::builder().from_env();
    if let Some(endpoint) = &endpoint {
        builder = builder.endpoint(endpoint);
    }
    if let Some(temporality) = temporality {
        builder = builder.temporality(temporality);
    }
    if let Some(name) = &service_name {
        builder = builder.service_name(name);
    }
    for (key, value) in &resource {
        builder = builder.resource_attribute(key, value);
    }
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    if let Some(timeout) = timeout_s {
        builder = builder.timeout(timeout);
    }
    let exporter = builder.buffer(buffer).flush_timeout(flush_timeout_s).build().map_err(|e| {
        match e {
            // Already says what is wrong and what to write.
            ExportError::InvalidEndpoint { .. } | ExportError::InvalidSetting { .. } => {
                PyValueError::new_err(e.to_string())
            }
            e => PyOSError::new_err(e.to_string()),
        }
    })?;
    let url = exporter.url().to_owned();
    let temporality = exporter.temporality();
    let reg = registry.map(|r| r.inner).unwrap_or(RegRef::Global);
    let exporting =
        py.detach(|| exporter.every(interval_s, move || reg.get().snapshot())).map_err(|e| {
            PyOSError::new_err(format!("could not start the OTLP exporter's thread: {e}"))
        })?;
    Ok(OtlpHandle { url, temporality, state: Mutex::new(State::Running(exporting)) })
}

/// A running exporter, then its final report.
#[derive(Debug)]
enum State {
    Running(OtlpLoop),
    Stopped(ExportReport),
}

/// A running OTLP exporter: `stop()` exports once more, flushes and returns the report
/// (the same report on every later call); it is also a context manager
/// (`with tally.start_otlp_exporter(...) as exporter: ...`).
#[pyclass(frozen, module = "tally._tally", name = "OtlpExporter")]
#[derive(Debug)]
pub struct OtlpHandle {
    url: String,
    temporality: Temporality,
    state: Mutex<State>,
}

#[pymethods]
impl OtlpHandle {
    /// The URL metrics are posted to (`<endpoint>/v1/metrics`).
    #[getter]
    fn url(&self) -> String {
        self.url.clone()
    }

    /// `"cumulative"` or `"delta"`.
    #[getter]
    fn temporality(&self) -> &'static str {
        match self.temporality {
            Temporality::Delta => "delta",
            Temporality::Cumulative => "cumulative",
        }
    }

    /// Whether it is still exporting.
    #[getter]
    fn running(&self) -> bool {
        matches!(*self.state.lock().unwrap_or_else(|e| e.into_inner()), State::Running(_))
    }

    /// What it has done so far (as of its latest step), as `stop()` returns it.
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let report = match &*self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            State::Running(exporting) => exporting.report(),
            State::Stopped(report) => report.clone(),
        };
        report_dict(py, &report)
    }

    /// Stops exporting: one last collection is exported and the queue flushed (for up to
    /// `flush_timeout_s`), then the thread is joined. Returns the report, a dict:
    /// `collected`, `exported`, `points_exported`, `failed_attempts`, `dropped_batches`,
    /// `dropped_points`, `dropped` (a list of dicts: `reason`, `status`, `message`,
    /// `batches`, `points`, `from_s`, `to_s`), `rejected_points`, `refused_values`,
    /// `refused` (dicts: `metric`, `labels`, `reason`) and `last_error`. Calling it again
    /// returns the same report.
    fn stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        // Without the GIL, the lock included: a second `stop` from another thread waits
        // here for the first one's flush without holding up Python.
        let report = py.detach(|| {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let State::Stopped(report) = &*state {
                return report.clone();
            }
            let State::Running(exporting) =
                std::mem::replace(&mut *state, State::Stopped(ExportReport::default()))
            else {
                unreachable!("checked above")
            };
            let report = exporting.finish();
            *state = State::Stopped(report.clone());
            report
        });
        report_dict(py, &report)
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
        format!(
            "OtlpExporter(url={:?}, temporality={:?}, running={})",
            self.url,
            self.temporality(),
            self.running()
        )
    }
}

/// The report as a dict of plain Python values.
fn report_dict<'py>(py: Python<'py>, r: &ExportReport) -> PyResult<Bound<'py, PyDict>> {
    let seconds =
        |t: std::time::SystemTime| t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let dropped = PyList::empty(py);
    for d in &r.dropped {
        let entry = PyDict::new(py);
        let (reason, status, message) = match &d.reason {
            DropReason::BufferFull => ("buffer_full", None, None),
            DropReason::Refused { status, message } => {
                ("refused", Some(*status), Some(message.as_str()))
            }
            DropReason::Unsent => ("unsent", None, None),
            _ => ("other", None, None),
        };
        entry.set_item("reason", reason)?;
        entry.set_item("status", status)?;
        entry.set_item("message", message)?;
        entry.set_item("batches", d.batches)?;
        entry.set_item("points", d.points)?;
        entry.set_item("from_s", seconds(d.from))?;
        entry.set_item("to_s", seconds(d.to))?;
        dropped.append(entry)?;
    }
    let refused = PyList::empty(py);
    for v in &r.refused {
        let entry = PyDict::new(py);
        entry.set_item("metric", &v.metric)?;
        entry.set_item("labels", &v.labels)?;
        entry.set_item("reason", &v.reason)?;
        refused.append(entry)?;
    }
    let d = PyDict::new(py);
    d.set_item("collected", r.collected)?;
    d.set_item("exported", r.exported)?;
    d.set_item("points_exported", r.points_exported)?;
    d.set_item("failed_attempts", r.failed_attempts)?;
    d.set_item("dropped_batches", r.dropped_batches())?;
    d.set_item("dropped_points", r.dropped_points())?;
    d.set_item("dropped", dropped)?;
    d.set_item("rejected_points", r.rejected_points)?;
    d.set_item("refused_values", r.refused_values)?;
    d.set_item("refused", refused)?;
    d.set_item("last_error", r.last_error.as_deref())?;
    Ok(d)
}
