//! Immutable snapshots of one metric set, and views of their histograms.

use std::sync::Arc;

use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use tally::epoch::Epoch;
use tally::{HistogramSnapshot, SetSnapshot, Value, ratio_or_zero};

use crate::args;
use crate::errors::{decode_error, delta_error};
use crate::spec::unit_name;

/// Where a snapshot's data lives: its own, or a published epoch's (no copy).
#[derive(Debug, Clone)]
enum Data {
    Owned(Arc<SetSnapshot>),
    Epoch(Arc<Epoch<SetSnapshot>>),
}

/// An immutable, coherent snapshot of one metric set: every recorded event is in it whole
/// or not at all.
///
/// Fields are attributes (`snap.total_inferences`); counters, gauges and last values are
/// ints, float counters, float gauges and float last values floats, histograms are
/// `Histogram` objects. `to_dict()`, `to_json()` and `to_bytes()`
/// export it; `Snapshot.from_json` / `from_bytes` read it back (checked); `merge` adds
/// snapshots of the same fields exactly (say from several processes); `delta` subtracts.
/// Snapshots pickle, so they travel over `multiprocessing` queues.
#[pyclass(frozen, module = "tally._tally", name = "Snapshot")]
#[derive(Debug, Clone)]
pub struct Snapshot {
    data: Data,
}

impl Snapshot {
    pub(crate) fn owned(s: SetSnapshot) -> Snapshot {
        Snapshot { data: Data::Owned(Arc::new(s)) }
    }

    pub(crate) fn of_epoch(e: Arc<Epoch<SetSnapshot>>) -> Snapshot {
        Snapshot { data: Data::Epoch(e) }
    }

    pub(crate) fn inner(&self) -> &SetSnapshot {
        match &self.data {
            Data::Owned(s) => s,
            Data::Epoch(e) => e.snapshot(),
        }
    }

    fn counter(&self, name: &str) -> PyResult<u64> {
        match self.inner().get(name) {
            Some(Value::Counter(n)) => Ok(*n),
            _ => Err(PyAttributeError::new_err(format!(
                "this snapshot has no counter {name:?} (it is not an InferenceStats snapshot); \
                 use ratio(numerator, denominator) with its own counters"
            ))),
        }
    }

    /// A counter's total as a float, for `ratio`: a counter or a float counter.
    fn total(&self, name: &str) -> PyResult<f64> {
        match self.inner().get(name) {
            Some(Value::Counter(n)) => Ok(*n as f64),
            Some(Value::CounterF64(x)) => Ok(*x),
            _ => Err(PyAttributeError::new_err(format!(
                "this snapshot has no counter {name:?}: ratio(numerator, denominator) takes \
                 the names of two counters (or float counters) of the set"
            ))),
        }
    }

    fn histogram(&self, field: Option<&str>) -> PyResult<&HistogramSnapshot> {
        let snap = self.inner();
        let mut histograms = snap.iter().filter_map(|(d, v)| match v {
            Value::Histogram(h) => Some((&*d.name, &**h)),
            _ => None,
        });
        match field {
            Some(name) => match snap.get(name) {
                Some(Value::Histogram(h)) => Ok(&**h),
                Some(_) => Err(PyValueError::new_err(format!("field {name:?} is not a histogram"))),
                None => Err(crate::errors::UnknownFieldError::new_err(format!(
                    "this snapshot has no field {name:?}"
                ))),
            },
            None => {
                let first = histograms.next();
                match (first, histograms.next()) {
                    (Some((_, h)), None) => Ok(h),
                    (None, _) => Err(PyValueError::new_err("this snapshot has no histogram field")),
                    (Some(_), Some(_)) => Err(PyValueError::new_err(
                        "this snapshot has several histograms: name one, quantile(q, field=...)",
                    )),
                }
            }
        }
    }
}

pub(crate) fn value_to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::Counter(n) => n.into_pyobject(py)?.into_any().unbind(),
        Value::Gauge(n) => n.into_pyobject(py)?.into_any().unbind(),
        Value::LastValue(l) => l.value.into_pyobject(py)?.into_any().unbind(),
        Value::CounterF64(x) | Value::GaugeF64(x) => x.into_pyobject(py)?.into_any().unbind(),
        Value::LastValueF64(l) => l.value.into_pyobject(py)?.into_any().unbind(),
        Value::Histogram(h) => {
            Py::new(py, Histogram { inner: Arc::new((**h).clone()) })?.into_any()
        }
        other => {
            return Err(PyTypeError::new_err(format!(
                "a value of a kind this binding does not know: {other:?}"
            )));
        }
    })
}

/// `object.__getattribute__`, for the attributes that are not fields.
static OBJECT_GETATTRIBUTE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

#[pymethods]
impl Snapshot {
    /// Fields first: with only `__getattr__`, every field read would first fail the
    /// generic lookup, and building that AttributeError costs about a microsecond.
    fn __getattribute__(slf: &Bound<'_, Self>, name: &Bound<'_, PyString>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let key = name.to_str()?;
        if !key.starts_with("__")
            && let Some(v) = slf.get().inner().get(key)
        {
            return value_to_py(py, v);
        }
        let generic = OBJECT_GETATTRIBUTE.get_or_try_init(py, || {
            py.import("builtins")?.getattr("object")?.getattr("__getattribute__").map(Bound::unbind)
        })?;
        generic.bind(py).call1((slf, name)).map(Bound::unbind)
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        match self.inner().get(name) {
            Some(v) => value_to_py(py, v),
            None => Err(PyAttributeError::new_err(format!(
                "this snapshot has no field {name:?}; its fields are {:?}",
                self.fields()
            ))),
        }
    }

    fn __dir__(&self) -> Vec<String> {
        let mut names: Vec<String> = self.fields();
        names.extend(crate::fields::RESERVED.iter().map(|s| s.to_string()));
        names
    }

    /// The field names, in the set's order.
    #[getter]
    fn fields(&self) -> Vec<String> {
        self.inner().fields().iter().map(|d| d.name.to_string()).collect()
    }

    /// The value of field `name` (like the attribute), or `default` if there is none.
    #[pyo3(name = "get", signature = (name, default=None))]
    fn get_field(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = args::name)] name: String,
        default: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match self.get_value(&name) {
            Some(v) => value_to_py(py, v),
            None => Ok(default.unwrap_or_else(|| py.None())),
        }
    }

    /// `successful_inferences / total_inferences` from this one snapshot (0.0 before the
    /// first request). InferenceStats snapshots only.
    #[getter]
    fn success_rate(&self) -> PyResult<f64> {
        Ok(ratio_or_zero(self.counter("successful_inferences")?, self.counter("total_inferences")?))
    }

    /// `cache_hits / total_inferences` from this one snapshot (0.0 before the first
    /// request). InferenceStats snapshots only.
    #[getter]
    fn cache_hit_rate(&self) -> PyResult<f64> {
        Ok(ratio_or_zero(self.counter("cache_hits")?, self.counter("total_inferences")?))
    }

    /// Whether both partitions of `total_inferences` add up (always true for snapshots of
    /// `InferenceStats` recorded with `record_inference`). InferenceStats snapshots only.
    fn is_coherent(&self) -> PyResult<bool> {
        let total = self.counter("total_inferences")?;
        let ok = self.counter("successful_inferences")?;
        let failed = self.counter("failed_inferences")?;
        let hits = self.counter("cache_hits")?;
        let misses = self.counter("cache_misses")?;
        Ok(ok.checked_add(failed) == Some(total) && hits.checked_add(misses) == Some(total))
    }

    /// `numerator / denominator` of two counters (or float counters) of this one snapshot
    /// (0.0 when the denominator is 0).
    fn ratio(
        &self,
        #[pyo3(from_py_with = args::numerator)] numerator: String,
        #[pyo3(from_py_with = args::denominator)] denominator: String,
    ) -> PyResult<f64> {
        if let (Some(Value::Counter(n)), Some(Value::Counter(d))) =
            (self.inner().get(&numerator), self.inner().get(&denominator))
        {
            return Ok(ratio_or_zero(*n, *d));
        }
        let (n, d) = (self.total(&numerator)?, self.total(&denominator)?);
        Ok(if d == 0.0 { 0.0 } else { n / d })
    }

    /// The `q`-quantile (q in [0, 1]) of the histogram field `field` (the set's only
    /// histogram if omitted), in the unit it was recorded in; None if it is empty.
    #[pyo3(signature = (q, field=None))]
    fn quantile(
        &self,
        #[pyo3(from_py_with = args::q)] q: f64,
        #[pyo3(from_py_with = args::field)] field: Option<String>,
    ) -> PyResult<Option<u64>> {
        Ok(self.histogram(field.as_deref())?.quantile(q))
    }

    /// The `q`-quantile of request latency in seconds (InferenceStats snapshots), within
    /// the histogram's relative error (2^-5); None before the first timed request.
    fn latency_quantile(&self, #[pyo3(from_py_with = args::q)] q: f64) -> PyResult<Option<f64>> {
        Ok(self.histogram(Some("latency_ns"))?.quantile(q).map(|ns| ns as f64 / 1e9))
    }

    /// `{field: value}`: ints for counters, gauges and last values, floats for the float
    /// kinds; for histograms a dict with `count`, `sum`, `min`, `max`, `overflow` and
    /// `buckets` (`[low, high, count]` triples) in steps, and `unit`, `decimals` and
    /// `sum_in_unit` (the sum in the unit, a float).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (desc, v) in self.inner().iter() {
            match v {
                Value::Histogram(h) => d.set_item(&*desc.name, histogram_dict(py, h)?)?,
                v => d.set_item(&*desc.name, value_to_py(py, v)?)?,
            }
        }
        Ok(d)
    }

    /// The snapshot as JSON (fields, kinds, help and values: everything, exactly).
    fn to_json(&self) -> String {
        serde_json::to_string(self.inner()).expect("snapshots serialize")
    }

    /// The snapshot as bytes (UTF-8 JSON), for queues and sockets.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &serde_json::to_vec(self.inner()).expect("snapshots serialize"))
    }

    /// Reads a snapshot written by `to_json` (checked: a malformed or inconsistent
    /// snapshot raises DecodeError).
    #[staticmethod]
    fn from_json(#[pyo3(from_py_with = args::text)] text: String) -> PyResult<Snapshot> {
        serde_json::from_str(&text).map(Snapshot::owned).map_err(decode_error)
    }

    /// Reads a snapshot written by `to_bytes` (checked).
    #[staticmethod]
    fn from_bytes(#[pyo3(from_py_with = args::data)] data: Vec<u8>) -> PyResult<Snapshot> {
        serde_json::from_slice(&data).map(Snapshot::owned).map_err(decode_error)
    }

    /// A new snapshot with `other` added exactly: counters, gauges and histograms summed,
    /// last values by newest write. Raises SnapshotMismatchError for different fields.
    fn merge(
        &self,
        #[pyo3(from_py_with = args::other_snapshot)] other: Snapshot,
    ) -> PyResult<Snapshot> {
        let mut merged = self.inner().clone();
        merged.try_merge(other.inner()).map_err(delta_error)?;
        Ok(Snapshot::owned(merged))
    }

    fn __add__(&self, other: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
        let other = other.cast::<Snapshot>().map_err(|_| {
            PyTypeError::new_err("a Snapshot can only be added to another Snapshot")
        })?;
        self.merge(other.get().clone())
    }

    /// `self - earlier`, field by field: what was recorded between the two. Raises
    /// SnapshotMismatchError for different fields or a counter that went backwards (then
    /// `earlier` is not earlier).
    fn delta(
        &self,
        #[pyo3(from_py_with = args::earlier_snapshot)] earlier: Snapshot,
    ) -> PyResult<Snapshot> {
        SetSnapshot::delta(self.inner(), earlier.inner()).map(Snapshot::owned).map_err(delta_error)
    }

    fn __sub__(&self, other: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
        let other = other.cast::<Snapshot>().map_err(|_| {
            PyTypeError::new_err("a Snapshot can only be subtracted from another Snapshot")
        })?;
        self.delta(other.get().clone())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Snapshot>().is_ok_and(|o| o.get().inner() == self.inner())
    }

    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let f = py.import("tally._tally")?.getattr("_snapshot_from_bytes")?;
        Ok((f, (self.to_bytes(py),)))
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = self
            .inner()
            .iter()
            .map(|(d, v)| match v {
                Value::Counter(n) => format!("{}={n}", d.name),
                Value::Gauge(n) => format!("{}={n}", d.name),
                Value::LastValue(l) => format!("{}={}", d.name, l.value),
                Value::CounterF64(x) | Value::GaugeF64(x) => format!("{}={x:?}", d.name),
                Value::LastValueF64(l) => format!("{}={:?}", d.name, l.value),
                Value::Histogram(h) => format!("{}=<histogram count={}>", d.name, h.count()),
                other => format!("{}={other:?}", d.name),
            })
            .collect();
        format!("Snapshot({})", parts.join(", "))
    }
}

impl Snapshot {
    fn get_value(&self, name: &str) -> Option<&Value> {
        self.inner().get(name)
    }
}

/// Unpickles a snapshot (`Snapshot.__reduce__`).
#[pyfunction]
pub(crate) fn _snapshot_from_bytes(
    #[pyo3(from_py_with = args::data)] data: Vec<u8>,
) -> PyResult<Snapshot> {
    Snapshot::from_bytes(data)
}

/// Merges snapshots of one set's fields (from several processes, say) exactly.
#[pyfunction]
pub(crate) fn merge(snapshots: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
    let mut merged: Option<SetSnapshot> = None;
    let wrong = |what: &Bound<'_, PyAny>, place: String| {
        let e = args::must_be("snapshots", "an iterable of tally.Snapshot", what);
        PyTypeError::new_err(format!("{}{place}", e.value(what.py())))
    };
    let items = snapshots.try_iter().map_err(|_| wrong(snapshots, String::new()))?;
    for (position, s) in items.enumerate() {
        let s = s?;
        let s = s.cast::<Snapshot>().map_err(|_| wrong(&s, format!(" at position {position}")))?;
        match &mut merged {
            None => merged = Some(s.get().inner().clone()),
            Some(m) => m.try_merge(s.get().inner()).map_err(delta_error)?,
        }
    }
    merged.map(Snapshot::owned).ok_or_else(|| {
        PyValueError::new_err("snapshots must hold at least one tally.Snapshot, got none")
    })
}

fn histogram_dict<'py>(py: Python<'py>, h: &HistogramSnapshot) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("count", h.count())?;
    d.set_item("sum", h.sum())?;
    d.set_item("min", h.min())?;
    d.set_item("max", h.max())?;
    d.set_item("overflow", h.overflow())?;
    let buckets = PyList::empty(py);
    for (low, high, count) in h.buckets() {
        buckets.append((low, high, count))?;
    }
    d.set_item("buckets", buckets)?;
    d.set_item("unit", unit_name(h.config().unit()))?;
    d.set_item("decimals", h.config().decimals())?;
    d.set_item("sum_in_unit", h.config().sum_to_unit(h.sum()))?;
    Ok(d)
}

/// A histogram field of a snapshot: count, sum, min, max, mean and quantiles.
///
/// `sum`, `min`, `max`, `quantile` and `buckets` are in the histogram's steps, ints, as
/// recorded: nanoseconds for a seconds histogram (the default, and `latency_ns`), whole
/// bytes for a bytes one, `10^-decimals` of the unit in general. The `_in_unit` forms give
/// the same in the unit, as floats (`sum_in_unit` of a seconds histogram is seconds, as
/// the exposition's `_sum`).
#[pyclass(frozen, module = "tally._tally", name = "Histogram")]
#[derive(Debug)]
pub struct Histogram {
    inner: Arc<HistogramSnapshot>,
}

impl Histogram {
    fn to_unit(&self, steps: u64) -> f64 {
        self.inner.config().to_unit(steps)
    }
}

#[pymethods]
impl Histogram {
    /// Values recorded.
    #[getter]
    fn count(&self) -> u64 {
        self.inner.count()
    }
    /// Their sum, in steps.
    #[getter]
    fn sum(&self) -> u128 {
        self.inner.sum()
    }
    /// The smallest, in steps, or None if empty.
    #[getter]
    fn min(&self) -> Option<u64> {
        self.inner.min()
    }
    /// The largest, in steps, or None if empty.
    #[getter]
    fn max(&self) -> Option<u64> {
        self.inner.max()
    }
    /// The mean, in steps, or None if empty.
    #[getter]
    fn mean(&self) -> Option<f64> {
        self.inner.mean()
    }
    /// Values past the histogram's range (counted, not bucketed).
    #[getter]
    fn overflow(&self) -> u64 {
        self.inner.overflow()
    }
    /// The `q`-quantile (q in [0, 1]) in steps, within the relative error (2^-precision),
    /// None if empty.
    fn quantile(&self, #[pyo3(from_py_with = args::q)] q: f64) -> PyResult<Option<u64>> {
        Ok(self.inner.quantile(q))
    }
    /// The non-empty buckets as `(low, high, count)`, bounds in steps (both inclusive).
    fn buckets(&self) -> Vec<(u64, u64, u64)> {
        self.inner.buckets().collect()
    }
    /// The unit (`"seconds"`, `"bytes"`, ...), or None for plain numbers.
    #[getter]
    fn unit(&self) -> Option<&'static str> {
        unit_name(self.inner.config().unit())
    }
    /// A step is `10^-decimals` of the unit (9 for nanoseconds of seconds, 0 for bytes).
    #[getter]
    fn decimals(&self) -> u8 {
        self.inner.config().decimals()
    }
    /// `10^decimals`: steps per unit.
    #[getter]
    fn steps_per_unit(&self) -> u64 {
        self.inner.config().steps_per_unit()
    }
    /// The sum in the unit (seconds, bytes, ...), as the exposition's `_sum` gives it:
    /// whole units and the rest converted apart, so nothing is lost below 2^53 units but
    /// the last rounding (0.012 s recorded is 0.012).
    #[getter]
    fn sum_in_unit(&self) -> f64 {
        self.inner.config().sum_to_unit(self.inner.sum())
    }
    /// The smallest value in the unit, or None if empty.
    #[getter]
    fn min_in_unit(&self) -> Option<f64> {
        self.inner.min().map(|s| self.to_unit(s))
    }
    /// The largest value in the unit, or None if empty.
    #[getter]
    fn max_in_unit(&self) -> Option<f64> {
        self.inner.max().map(|s| self.to_unit(s))
    }
    /// The mean in the unit, or None if empty.
    #[getter]
    fn mean_in_unit(&self) -> Option<f64> {
        let count = self.inner.count();
        (count > 0).then(|| self.sum_in_unit() / count as f64)
    }
    /// The `q`-quantile in the unit, None if empty.
    fn quantile_in_unit(&self, #[pyo3(from_py_with = args::q)] q: f64) -> PyResult<Option<f64>> {
        Ok(self.inner.quantile(q).map(|s| self.to_unit(s)))
    }
    /// The non-empty buckets as `(low, high, count)`, bounds in the unit.
    fn buckets_in_unit(&self) -> Vec<(f64, f64, u64)> {
        self.inner.buckets().map(|(lo, hi, c)| (self.to_unit(lo), self.to_unit(hi), c)).collect()
    }
    /// As in `Snapshot.to_dict()`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        histogram_dict(py, &self.inner)
    }
    fn __len__(&self) -> usize {
        self.inner.count() as usize
    }
    fn __repr__(&self) -> String {
        let py = |v: Option<u64>| v.map_or_else(|| "None".to_owned(), |v| v.to_string());
        let unit = match self.unit() {
            Some(u) => format!(", unit='{u}', decimals={}", self.decimals()),
            None => String::new(),
        };
        format!(
            "Histogram(count={}, min={}, max={}, p50={}, p99={}{unit})",
            self.inner.count(),
            py(self.inner.min()),
            py(self.inner.max()),
            py(self.inner.quantile(0.5)),
            py(self.inner.quantile(0.99))
        )
    }
}
