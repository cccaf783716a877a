//! Metric sets declared from Python, and positional recorders.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use tally::epoch::Publisher;
use tally::{FieldId, RawSet, SetSnapshot};

use crate::args;
use crate::epoch::{self, Epoch, Refresher};
use crate::fields::{self, FieldTable, Updates};
use crate::snapshot::Snapshot;

/// The Rust set behind a Python one.
#[derive(Debug, Clone)]
pub(crate) enum Backing {
    Raw(Arc<RawSet>),
    Inference(Arc<tally::InferenceStats>),
}

impl Backing {
    #[inline(always)]
    pub(crate) fn raw(&self) -> &RawSet {
        match self {
            Backing::Raw(s) => s,
            Backing::Inference(s) => tally::MetricSet::raw(&**s),
        }
    }
}

/// A set with its field table and (lazily) its publisher.
#[derive(Debug)]
pub(crate) struct SetCore {
    pub(crate) backing: Backing,
    pub(crate) table: Arc<FieldTable>,
    publisher: OnceLock<Publisher<SetSnapshot>>,
}

impl SetCore {
    pub(crate) fn new(backing: Backing, table: Arc<FieldTable>) -> SetCore {
        SetCore { backing, table, publisher: OnceLock::new() }
    }

    pub(crate) fn publisher(&self) -> &Publisher<SetSnapshot> {
        self.publisher.get_or_init(|| {
            let backing = self.backing.clone();
            Publisher::new(move || backing.raw().snapshot())
        })
    }
}

/// A metric set declared at run time: named counters, gauges, last values and histograms,
/// recorded from any number of threads without a lock.
///
/// ```python
/// s = tally.MetricSet(counters=["requests", "errors"], gauges=["queue_depth"],
///                     float_gauges={"queue_fill": tally.field(unit="ratio")},
///                     histograms=["latency"])
/// s.record(requests=1, queue_depth=-1, queue_fill=0.75, latency=0.012)   # one event
/// snap = s.snapshot()                                                       # coherent
/// ```
///
/// `record(**fields)` records one event: every field given is in a snapshot together or
/// not at all. Values are checked first; a bad one raises and nothing is recorded.
/// Counters take ints >= 0, gauges signed ints (added), last values signed ints (set);
/// float counters finite floats >= 0, float gauges finite floats (added), float last
/// values finite floats (set), all exactly (ints up to 2^53 too). Histograms take a float
/// in their unit (`latency=0.012` is 12 ms), a `timedelta` (seconds histograms), or an
/// int: in the unit for a histogram declared with `tally.histogram(...)`, in nanoseconds
/// for one declared by a bare name (as before units); a field named `..._ns` takes
/// nanoseconds, int or float.
#[pyclass(frozen, subclass, module = "tally._tally", name = "MetricSet")]
#[derive(Debug)]
pub struct MetricSet {
    pub(crate) core: Arc<SetCore>,
}

impl MetricSet {
    pub(crate) fn from_core(core: SetCore) -> MetricSet {
        MetricSet { core: Arc::new(core) }
    }
}

#[pymethods]
impl MetricSet {
    /// A new, unregistered set (register sets by name with `Registry.metric_set`). Each
    /// argument is a list of names, of `(name, help)` pairs, or a dict `{name: help}`.
    #[new]
    #[pyo3(signature = (
        *, counters=None, gauges=None, last_values=None, histograms=None,
        float_counters=None, float_gauges=None, float_last_values=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        counters: Option<&Bound<'_, PyAny>>,
        gauges: Option<&Bound<'_, PyAny>>,
        last_values: Option<&Bound<'_, PyAny>>,
        histograms: Option<&Bound<'_, PyAny>>,
        float_counters: Option<&Bound<'_, PyAny>>,
        float_gauges: Option<&Bound<'_, PyAny>>,
        float_last_values: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<MetricSet> {
        let declared = fields::layout_from(&fields::Declarations {
            counters,
            gauges,
            last_values,
            histograms,
            float_counters,
            float_gauges,
            float_last_values,
        })?;
        let set = Arc::new(RawSet::new(declared.layout));
        let table = Arc::new(FieldTable::new(py, &set, &declared.with_spec));
        Ok(MetricSet::from_core(SetCore::new(Backing::Raw(set), table)))
    }

    /// Records one event: `record(requests=1, latency=0.012)`. Every field given is in a
    /// snapshot together or not at all; all values are checked before any is recorded.
    #[pyo3(signature = (**fields))]
    fn record(&self, fields: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        let core = &*self.core;
        let set = core.backing.raw();
        let updates: Updates = fields::updates_of(&core.table, fields)?;
        set.record(|e| fields::apply(e, &updates));
        Ok(())
    }

    /// A recorder of these fields, called with one value per field, in this order:
    /// `rec = s.recorder("requests", "latency_ns"); rec(1, 84_000)`. The names are resolved
    /// once, so a call skips keyword parsing: the fastest way to record a generic event.
    #[pyo3(signature = (*names))]
    fn recorder(&self, names: &Bound<'_, PyTuple>) -> PyResult<Recorder> {
        let mut fields = Vec::with_capacity(names.len());
        for (position, name) in names.iter().enumerate() {
            let name = name.cast::<PyString>().map_err(|_| {
                let e = args::must_be("names", "field names (str)", &name);
                PyTypeError::new_err(format!("{} at position {position}", e.value(name.py())))
            })?;
            let i = self.core.table.index_of(name)?;
            if fields.iter().any(|&(_, j)| j == i) {
                return Err(crate::errors::DuplicateNameError::new_err(format!(
                    "field {name} is named twice: name each field once"
                )));
            }
            fields.push((self.core.table.ids[i], i));
        }
        Ok(Recorder { core: self.core.clone(), fields })
    }

    /// A coherent snapshot, collected now.
    fn snapshot(&self) -> Snapshot {
        Snapshot::owned(self.core.backing.raw().snapshot())
    }

    /// `(name, kind)` of each field, in order (`kind` is "counter", "gauge",
    /// "last_value", "histogram", "counter_f64", "gauge_f64" or "last_value_f64").
    #[getter]
    fn fields(&self) -> Vec<(String, &'static str)> {
        self.core.table.descs.iter().map(|d| (d.name.to_string(), d.kind.as_str())).collect()
    }

    /// The latest published epoch (epoch 0 is collected on the first call). Reading it
    /// never touches the writers' shards; `refresh()` or a refresher publishes new ones.
    fn latest(&self) -> Epoch {
        Epoch::new(self.core.publisher().latest())
    }

    /// Collects and publishes a new epoch, and returns it. Concurrent refreshes coalesce
    /// into one collection.
    fn refresh(&self, py: Python<'_>) -> Epoch {
        let publisher = self.core.publisher();
        Epoch::new(py.detach(|| publisher.refresh()))
    }

    /// Blocks until an epoch newer than `after` (default: the latest now) is published,
    /// for at most `timeout` seconds (None: no limit), without holding the GIL. Raises
    /// TimeoutError.
    #[pyo3(signature = (after=None, timeout=None))]
    fn wait_for_next(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = args::after)] after: Option<u64>,
        #[pyo3(from_py_with = args::timeout)] timeout: Option<Duration>,
    ) -> PyResult<Epoch> {
        epoch::wait_for_next(py, self.core.publisher(), after, timeout)
    }

    /// Blocks until the latest epoch's snapshot satisfies `predicate(snapshot)`, for at
    /// most `timeout` seconds. Raises TimeoutError.
    #[pyo3(signature = (predicate, timeout=None))]
    fn wait_until(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = args::predicate)] predicate: Py<PyAny>,
        #[pyo3(from_py_with = args::timeout)] timeout: Option<Duration>,
    ) -> PyResult<Epoch> {
        epoch::wait_until(py, self.core.publisher(), predicate, timeout)
    }

    /// `await s.next_epoch(after=None, timeout=None)`: `wait_for_next` for asyncio, run in
    /// the loop's default executor so the loop keeps running. Give it a timeout: a
    /// cancelled await does not stop the wait on its worker thread.
    #[pyo3(signature = (after=None, timeout=None))]
    fn next_epoch<'py>(
        slf: &Bound<'py, Self>,
        #[pyo3(from_py_with = args::after)] after: Option<u64>,
        #[pyo3(from_py_with = args::timeout)] timeout: Option<Duration>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        // Resolve "the latest now" on the caller's side, before the executor runs.
        let after = after.unwrap_or_else(|| slf.get().core.publisher().latest().number());
        let timeout = timeout.map(|t| t.as_secs_f64());
        let args = vec![after.into_pyobject(py)?.into_any(), timeout.into_pyobject(py)?.into_any()];
        epoch::in_executor(py, slf.getattr("wait_for_next")?, args)
    }

    /// `await s.until(predicate, timeout=None)`: `wait_until` for asyncio (see
    /// `next_epoch`).
    #[pyo3(signature = (predicate, timeout=None))]
    fn until<'py>(
        slf: &Bound<'py, Self>,
        #[pyo3(from_py_with = args::predicate)] predicate: Py<PyAny>,
        #[pyo3(from_py_with = args::timeout)] timeout: Option<Duration>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let timeout = timeout.map(|t| t.as_secs_f64());
        let args = vec![predicate.into_bound(py), timeout.into_pyobject(py)?.into_any()];
        epoch::in_executor(py, slf.getattr("wait_until")?, args)
    }

    /// Starts a background thread publishing an epoch every `period` seconds; returns
    /// its handle (`stop()`, or use it in a `with` block).
    fn start_refresher(
        &self,
        #[pyo3(from_py_with = args::period)] period: Duration,
    ) -> PyResult<Refresher> {
        Refresher::start(self.core.publisher(), period)
    }

    fn __repr__(&self) -> String {
        let names: Vec<&str> = self.core.table.names().collect();
        format!("MetricSet(fields={names:?})")
    }
}

/// Records one event of fixed fields from positional values: see `MetricSet.recorder`.
#[pyclass(frozen, module = "tally._tally", name = "Recorder")]
#[derive(Debug)]
pub struct Recorder {
    core: Arc<SetCore>,
    fields: Vec<(FieldId, usize)>,
}

#[pymethods]
impl Recorder {
    /// Records one event with one value per field of the recorder, in order.
    #[pyo3(signature = (*values))]
    fn __call__(&self, values: &Bound<'_, PyTuple>) -> PyResult<()> {
        if values.len() != self.fields.len() {
            return Err(PyTypeError::new_err(format!(
                "this recorder takes {} values ({:?}), got {} (nothing was recorded)",
                self.fields.len(),
                self.names(),
                values.len()
            )));
        }
        let set = self.core.backing.raw();
        let mut updates = Updates::new();
        for (&(id, i), v) in self.fields.iter().zip(values.iter()) {
            updates.push((id, fields::update_of(&self.core.table, i, &v)?));
        }
        set.record(|e| fields::apply(e, &updates));
        Ok(())
    }

    /// The field names, in argument order.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.fields.iter().map(|&(_, i)| self.core.table.descs[i].name.to_string()).collect()
    }

    fn __repr__(&self) -> String {
        format!("Recorder({:?})", self.names())
    }
}
