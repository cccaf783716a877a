//! Published epochs of a set: `latest()`, `refresh()`, waits (blocking and awaitable),
//! background refreshers, and rates between two epochs.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tally::epoch::{Epoch as RustEpoch, Publisher, Rate, RefresherHandle, Window as RustWindow};
use tally::{SetSnapshot, Value};

use crate::args;
use crate::background::Background;
use crate::errors::{epoch_error, wait_error};
use crate::snapshot::{Snapshot, value_to_py};

/// Blocks (without the GIL) until an epoch after `after` is published, for at most
/// `timeout` (None: no limit).
pub(crate) fn wait_for_next(
    py: Python<'_>,
    publisher: &Publisher<SetSnapshot>,
    after: Option<u64>,
    timeout: Option<Duration>,
) -> PyResult<Epoch> {
    let timeout = timeout.unwrap_or(Duration::MAX);
    let after = after.unwrap_or_else(|| publisher.latest().number());
    py.detach(|| publisher.wait_for_next(after, timeout)).map(Epoch::new).map_err(wait_error)
}

/// Blocks (without the GIL, taking it only to call `predicate`) until the latest epoch's
/// snapshot satisfies `predicate`.
pub(crate) fn wait_until(
    py: Python<'_>,
    publisher: &Publisher<SetSnapshot>,
    predicate: Py<PyAny>,
    timeout: Option<Duration>,
) -> PyResult<Epoch> {
    let timeout = timeout.unwrap_or(Duration::MAX);
    let mut failure: Option<PyErr> = None;
    let result = py.detach(|| {
        publisher.wait_until(
            |snap| {
                if failure.is_some() {
                    return true;
                }
                Python::attach(|py| {
                    let arg = Snapshot::owned(snap.clone());
                    match predicate.call1(py, (arg,)).and_then(|r| r.is_truthy(py)) {
                        Ok(b) => b,
                        Err(e) => {
                            failure = Some(e);
                            true
                        }
                    }
                })
            },
            timeout,
        )
    });
    if let Some(e) = failure {
        return Err(e);
    }
    result.map(Epoch::new).map_err(wait_error)
}

/// A coroutine for asyncio: `tally._aio.run_blocking(func, *args)` awaits `func(*args)`
/// run in the running loop's default executor, so the blocking wait happens on a worker
/// thread (without the GIL) while the loop keeps running. Cancelling the coroutine does
/// not stop the wait on its thread: give it a timeout.
pub(crate) fn in_executor<'py>(
    py: Python<'py>,
    func: Bound<'py, PyAny>,
    args: Vec<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut all = vec![func];
    all.extend(args);
    py.import("tally._aio")?.getattr("run_blocking")?.call1(pyo3::types::PyTuple::new(py, all)?)
}

/// One published epoch: a numbered, immutable snapshot with the time it was collected.
#[pyclass(frozen, module = "tally._tally", name = "Epoch")]
#[derive(Debug, Clone)]
pub struct Epoch {
    inner: Arc<RustEpoch<SetSnapshot>>,
}

impl Epoch {
    pub(crate) fn new(inner: Arc<RustEpoch<SetSnapshot>>) -> Epoch {
        Epoch { inner }
    }
}

#[pymethods]
impl Epoch {
    /// The epoch's number: 0 for the one made with the publisher, then +1 per publication.
    #[getter]
    fn number(&self) -> u64 {
        self.inner.number()
    }

    /// When it was collected, in seconds on the publisher's monotonic clock.
    #[getter]
    fn collected_at(&self) -> f64 {
        self.inner.collected_at().as_secs_f64()
    }

    /// Its snapshot.
    #[getter]
    fn snapshot(&self) -> Snapshot {
        Snapshot::of_epoch(self.inner.clone())
    }

    /// The window from `earlier` to this epoch: what was recorded in between, and rates
    /// per second. Raises SnapshotMismatchError if `earlier` is newer or from another
    /// publisher.
    fn since(
        &self,
        #[pyo3(from_py_with = args::earlier_epoch)] earlier: Epoch,
    ) -> PyResult<Window> {
        self.inner
            .since_by(&earlier.inner, SetSnapshot::delta)
            .map(|w| Window { inner: Arc::new(w) })
            .map_err(epoch_error)
    }

    fn __repr__(&self) -> String {
        format!("Epoch(number={}, collected_at={:.6})", self.number(), self.collected_at())
    }
}

/// What happened between two epochs: `delta` (a Snapshot of what was recorded in
/// between), `elapsed` seconds, and per-second rates.
#[pyclass(frozen, module = "tally._tally", name = "Window")]
#[derive(Debug)]
pub struct Window {
    inner: Arc<RustWindow<SetSnapshot>>,
}

#[pymethods]
impl Window {
    /// Seconds between the two collections.
    #[getter]
    fn elapsed(&self) -> f64 {
        self.inner.elapsed().as_secs_f64()
    }

    /// The earlier epoch's number.
    #[getter]
    fn earlier_number(&self) -> u64 {
        self.inner.earlier_number()
    }

    /// The later epoch's number.
    #[getter]
    fn later_number(&self) -> u64 {
        self.inner.later_number()
    }

    /// What was recorded in the window, as a Snapshot.
    #[getter]
    fn delta(&self) -> Snapshot {
        Snapshot::owned(self.inner.delta().clone())
    }

    /// Per-second rate of field `name` (events for counters and histograms, net change
    /// for gauges, the total's growth for float counters, net change for float gauges);
    /// None for a window of zero length or a last-value field.
    fn rate(&self, #[pyo3(from_py_with = args::name)] name: String) -> PyResult<Option<f64>> {
        match self.inner.delta().get(&name) {
            Some(value) => Ok(self.rate_of(&name, value)),
            None => Err(crate::errors::UnknownFieldError::new_err(format!(
                "the window's set has no field {name:?}"
            ))),
        }
    }

    /// `{field: per-second rate}` for every field (None where there is no rate).
    fn rates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (field, value) in self.inner.delta().iter() {
            d.set_item(&*field.name, self.rate_of(&field.name, value))?;
        }
        Ok(d)
    }

    /// The value of field `name` in the window's delta.
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        match self.inner.delta().get(name) {
            Some(v) => value_to_py(py, v),
            None => Err(pyo3::exceptions::PyAttributeError::new_err(format!(
                "the window's set has no field {name:?}"
            ))),
        }
    }
}

impl Window {
    /// The per-second rate of one field of the delta. The float kinds' are computed here:
    /// `tally_epoch`'s `Rate` has no variant for them (its `rate_of` panics on one).
    fn rate_of(&self, name: &str, value: &Value) -> Option<f64> {
        match value {
            Value::CounterF64(x) | Value::GaugeF64(x) => self.inner.per_second(*x),
            Value::LastValueF64(_) => None,
            _ => self.inner.field_rate(name).as_ref().and_then(per_second),
        }
    }
}

fn per_second(rate: &Rate<'_>) -> Option<f64> {
    match rate {
        Rate::Counter { per_second, .. }
        | Rate::Gauge { per_second, .. }
        | Rate::Histogram { per_second, .. } => *per_second,
        _ => None,
    }
}

/// A background thread that refreshes a set's published epoch every `period` seconds.
/// `stop()` (or leaving a `with` block) stops and joins it.
#[pyclass(frozen, module = "tally._tally", name = "Refresher")]
#[derive(Debug)]
pub struct Refresher {
    handle: Background<RefresherHandle>,
    period: Duration,
}

impl Refresher {
    pub(crate) fn start(
        publisher: &Publisher<SetSnapshot>,
        period: Duration,
    ) -> PyResult<Refresher> {
        let handle = publisher
            .spawn_refresher(period)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(Refresher { handle: Background::new(handle), period })
    }
}

#[pymethods]
impl Refresher {
    /// The period in seconds.
    #[getter]
    fn period(&self) -> f64 {
        self.period.as_secs_f64()
    }

    /// Whether the thread is running.
    #[getter]
    fn running(&self) -> bool {
        self.handle.running(RefresherHandle::is_running)
    }

    /// Stops the thread and waits for it (idempotent).
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        self.handle.stop(py, |h| h.stop().map_err(|e| PyRuntimeError::new_err(e.to_string())))
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
}
