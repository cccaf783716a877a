//! Registries (named sets and families, collected together), labelled families, and
//! registry snapshots.

use std::sync::Arc;

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use tally::{DEFAULT_CARDINALITY_LIMIT, RawSet};

use crate::args;
use crate::errors::{decode_error, delta_error, family_error, registry_error};
use crate::fields::{self, FieldTable};
use crate::inference::InferenceStats;
use crate::set::{Backing, MetricSet, SetCore};
use crate::snapshot::Snapshot;

/// Which registry: the process-wide one, or one of the program's own.
#[derive(Debug, Clone)]
pub(crate) enum RegRef {
    Global,
    Owned(Arc<tally::Registry>),
}

impl RegRef {
    pub(crate) fn get(&self) -> &tally::Registry {
        match self {
            RegRef::Global => tally::global(),
            RegRef::Owned(r) => r,
        }
    }
}

/// Named metric sets and families, collected together (`snapshot()`, `expose()`,
/// `tally.serve`). Names follow Prometheus rules (`[a-zA-Z_:][a-zA-Z0-9_:]*`, not starting
/// with `__`) and are registered once; a bad or taken name raises and registers nothing.
///
/// `tally.REGISTRY` (also `tally.global_registry()`) is the process-wide one.
#[pyclass(frozen, module = "tally._tally", name = "Registry")]
#[derive(Debug, Clone)]
pub struct Registry {
    pub(crate) inner: RegRef,
}

fn labels_of(labels: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let wrong =
        || args::must_be("labels", "a list of label names (str), such as [\"model\"]", labels);
    if labels.is_instance_of::<pyo3::types::PyString>() {
        // A lone string would be a list of one-letter names.
        return Err(wrong());
    }
    labels.extract::<Vec<String>>().map_err(|_| wrong())
}

#[pymethods]
impl Registry {
    /// A new, empty registry.
    #[new]
    fn new() -> Registry {
        Registry { inner: RegRef::Owned(Arc::new(tally::Registry::new())) }
    }

    /// Creates a MetricSet and registers it as `name` (fields as for `MetricSet`).
    #[pyo3(
        signature = (
            name, *, counters=None, gauges=None, last_values=None, histograms=None,
            float_counters=None, float_gauges=None, float_last_values=None,
            help=String::new(), unit=None
        ),
        text_signature = "($self, name, *, counters=None, gauges=None, last_values=None, histograms=None, float_counters=None, float_gauges=None, float_last_values=None, help='', unit=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn metric_set(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = args::name)] name: String,
        counters: Option<&Bound<'_, PyAny>>,
        gauges: Option<&Bound<'_, PyAny>>,
        last_values: Option<&Bound<'_, PyAny>>,
        histograms: Option<&Bound<'_, PyAny>>,
        float_counters: Option<&Bound<'_, PyAny>>,
        float_gauges: Option<&Bound<'_, PyAny>>,
        float_last_values: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = args::help)] help: String,
        #[pyo3(from_py_with = args::unit)] unit: Option<String>,
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
        let mut reg = self.inner.get().metric(&name).help(&help);
        if let Some(unit) = &unit {
            reg = reg.unit(unit);
        }
        let set = reg.raw(declared.layout).map_err(registry_error)?;
        let table = Arc::new(FieldTable::new(py, &set, &declared.with_spec));
        Ok(MetricSet::from_core(SetCore::new(Backing::Raw(set), table)))
    }

    /// Creates an InferenceStats and registers it as `name`.
    #[pyo3(signature = (name, *, help=String::new()), text_signature = "($self, name, *, help='')")]
    fn inference_stats(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = args::name)] name: String,
        #[pyo3(from_py_with = args::help)] help: String,
    ) -> PyResult<Py<InferenceStats>> {
        let stats = self
            .inner
            .get()
            .metric(&name)
            .help(&help)
            .set::<tally::InferenceStats>()
            .map_err(registry_error)?;
        Py::new(py, InferenceStats::initializer(py, stats))
    }

    /// Creates a family (one set of these fields per combination of label values) and
    /// registers it as `name`. Past `cardinality_limit` distinct combinations (default
    /// 2000), new ones share one overflow series labelled `__overflow__`.
    #[pyo3(
        signature = (
            name, labels, *, counters=None, gauges=None, last_values=None, histograms=None,
            float_counters=None, float_gauges=None, float_last_values=None,
            help=String::new(), unit=None, cardinality_limit=None
        ),
        text_signature = "($self, name, labels, *, counters=None, gauges=None, last_values=None, histograms=None, float_counters=None, float_gauges=None, float_last_values=None, help='', unit=None, cardinality_limit=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn family(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = args::name)] name: String,
        labels: &Bound<'_, PyAny>,
        counters: Option<&Bound<'_, PyAny>>,
        gauges: Option<&Bound<'_, PyAny>>,
        last_values: Option<&Bound<'_, PyAny>>,
        histograms: Option<&Bound<'_, PyAny>>,
        float_counters: Option<&Bound<'_, PyAny>>,
        float_gauges: Option<&Bound<'_, PyAny>>,
        float_last_values: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = args::help)] help: String,
        #[pyo3(from_py_with = args::unit)] unit: Option<String>,
        #[pyo3(from_py_with = args::cardinality_limit)] cardinality_limit: Option<usize>,
    ) -> PyResult<Family> {
        let labels = labels_of(labels)?;
        let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let declared = fields::layout_from(&fields::Declarations {
            counters,
            gauges,
            last_values,
            histograms,
            float_counters,
            float_gauges,
            float_last_values,
        })?;
        let mut reg = self.inner.get().metric(&name).help(&help);
        if let Some(unit) = &unit {
            reg = reg.unit(unit);
        }
        let reg = reg.cardinality_limit(cardinality_limit.unwrap_or(DEFAULT_CARDINALITY_LIMIT));
        let layout = declared.layout;
        let table =
            Arc::new(FieldTable::new(py, &RawSet::new(layout.clone()), &declared.with_spec));
        let family = reg.raw_family(layout, &label_refs).map_err(registry_error)?;
        Ok(Family { kind: FamilyKind::Raw(family, table) })
    }

    /// Creates a family of InferenceStats (say by model) and registers it as `name`.
    #[pyo3(
        signature = (name, labels, *, help=String::new(), cardinality_limit=None),
        text_signature = "($self, name, labels, *, help='', cardinality_limit=None)"
    )]
    fn inference_family(
        &self,
        #[pyo3(from_py_with = args::name)] name: String,
        labels: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::help)] help: String,
        #[pyo3(from_py_with = args::cardinality_limit)] cardinality_limit: Option<usize>,
    ) -> PyResult<Family> {
        let labels = labels_of(labels)?;
        let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let family = self
            .inner
            .get()
            .metric(&name)
            .help(&help)
            .cardinality_limit(cardinality_limit.unwrap_or(DEFAULT_CARDINALITY_LIMIT))
            .family::<tally::InferenceStats>(&label_refs)
            .map_err(registry_error)?;
        Ok(Family { kind: FamilyKind::Inference(family) })
    }

    /// The registered names, in order.
    fn names(&self) -> Vec<String> {
        self.inner.get().names()
    }

    /// Collects every registered metric (each series coherent on its own).
    fn snapshot(&self) -> RegistrySnapshot {
        RegistrySnapshot { inner: Arc::new(self.inner.get().snapshot()) }
    }

    /// The registry in Prometheus text format (or OpenMetrics), as `/metrics` serves it.
    #[pyo3(signature = (openmetrics=false))]
    fn expose(&self, #[pyo3(from_py_with = args::openmetrics)] openmetrics: bool) -> String {
        self.snapshot().expose(openmetrics)
    }

    fn __repr__(&self) -> String {
        format!("Registry(names={:?})", self.names())
    }
}

/// The process-wide registry (created once, whatever the number of threads asking).
#[pyfunction]
pub(crate) fn global_registry() -> Registry {
    Registry { inner: RegRef::Global }
}

#[derive(Debug)]
enum FamilyKind {
    Raw(Arc<tally::Family<RawSet>>, Arc<FieldTable>),
    Inference(Arc<tally::Family<tally::InferenceStats>>),
}

/// One metric set per combination of label values, created on first use; lookup is
/// lock-free. `labels(*values)` returns the series' set: keep it and record into it.
#[pyclass(frozen, module = "tally._tally", name = "Family")]
#[derive(Debug)]
pub struct Family {
    kind: FamilyKind,
}

#[pymethods]
impl Family {
    /// The set of these label values (one value per label, in order), created on first
    /// use; past the cardinality limit, the overflow series. A MetricSet, or an
    /// InferenceStats for `Registry.inference_family`.
    #[pyo3(signature = (*values))]
    fn labels(&self, py: Python<'_>, values: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let names = self.label_names();
        let values = args::each_str("label values", "str", values, |i| match names.get(i) {
            Some(label) => format!("for label {label:?}"),
            None => format!("at position {i}"),
        })?;
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        match &self.kind {
            FamilyKind::Raw(f, table) => {
                let set = f.bind(&refs).map_err(family_error)?;
                let core = SetCore::new(Backing::Raw(set), table.clone());
                Ok(Py::new(py, MetricSet::from_core(core))?.into_any())
            }
            FamilyKind::Inference(f) => {
                let stats = f.bind(&refs).map_err(family_error)?;
                Ok(Py::new(py, InferenceStats::initializer(py, stats))?.into_any())
            }
        }
    }

    /// The label names.
    #[getter]
    fn label_names(&self) -> Vec<String> {
        match &self.kind {
            FamilyKind::Raw(f, _) => f.label_names().to_vec(),
            FamilyKind::Inference(f) => f.label_names().to_vec(),
        }
    }

    /// The cardinality limit.
    #[getter]
    fn cardinality_limit(&self) -> usize {
        match &self.kind {
            FamilyKind::Raw(f, _) => f.limit(),
            FamilyKind::Inference(f) => f.limit(),
        }
    }

    /// Lookups sent to the overflow series because the limit was reached.
    #[getter]
    fn overflow_redirects(&self) -> u64 {
        match &self.kind {
            FamilyKind::Raw(f, _) => f.overflow_redirects(),
            FamilyKind::Inference(f) => f.overflow_redirects(),
        }
    }

    /// The number of series (the overflow series not counted).
    fn __len__(&self) -> usize {
        match &self.kind {
            FamilyKind::Raw(f, _) => f.len(),
            FamilyKind::Inference(f) => f.len(),
        }
    }

    /// `{label values tuple: Snapshot}` of every series, the overflow series included if
    /// anything was redirected to it.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let series = match &self.kind {
            FamilyKind::Raw(f, _) => f.collect_with(RawSet::snapshot),
            FamilyKind::Inference(f) => f.collect(),
        };
        let d = PyDict::new(py);
        for s in series {
            d.set_item(PyTuple::new(py, &s.labels)?, Snapshot::owned(s.snapshot))?;
        }
        Ok(d)
    }
}

/// A snapshot of a whole registry: every metric's series by name. Serializes, merges
/// across processes, and renders as Prometheus text.
#[pyclass(frozen, module = "tally._tally", name = "RegistrySnapshot")]
#[derive(Debug, Clone)]
pub struct RegistrySnapshot {
    inner: Arc<tally::RegistrySnapshot>,
}

impl RegistrySnapshot {
    /// Wraps a collected snapshot.
    pub(crate) fn from_snapshot(s: tally::RegistrySnapshot) -> RegistrySnapshot {
        RegistrySnapshot { inner: Arc::new(s) }
    }
}

#[pymethods]
impl RegistrySnapshot {
    /// The metric names, in order.
    fn names(&self) -> Vec<String> {
        self.inner.metrics.keys().cloned().collect()
    }

    /// The snapshot of metric `name`'s series with these label values (none for a plain
    /// set). Raises KeyError if there is no such metric or series.
    #[pyo3(signature = (name, *labels))]
    fn get(
        &self,
        #[pyo3(from_py_with = args::name)] name: String,
        labels: &Bound<'_, PyTuple>,
    ) -> PyResult<Snapshot> {
        let labels =
            args::each_str("labels", "str (label values)", labels, |i| format!("at position {i}"))?;
        let metric = self
            .inner
            .metrics
            .get(&name)
            .ok_or_else(|| PyKeyError::new_err(format!("no metric named {name:?}")))?;
        metric
            .series
            .iter()
            .find(|s| s.labels == labels)
            .map(|s| Snapshot::owned(s.snapshot.clone()))
            .ok_or_else(|| PyKeyError::new_err(format!("metric {name:?} has no series {labels:?}")))
    }

    /// `{name: {"help", "unit", "label_names", "overflow_redirects", "series": [(labels,
    /// Snapshot)]}}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, m) in &self.inner.metrics {
            let md = PyDict::new(py);
            md.set_item("help", &m.help)?;
            md.set_item("unit", &m.unit)?;
            md.set_item("label_names", &m.label_names)?;
            md.set_item("overflow_redirects", m.overflow_redirects)?;
            let series = PyList::empty(py);
            for s in &m.series {
                series
                    .append((PyTuple::new(py, &s.labels)?, Snapshot::owned(s.snapshot.clone())))?;
            }
            md.set_item("series", series)?;
            d.set_item(name, md)?;
        }
        Ok(d)
    }

    /// As JSON.
    fn to_json(&self) -> String {
        serde_json::to_string(&*self.inner).expect("snapshots serialize")
    }

    /// As bytes (UTF-8 JSON).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &serde_json::to_vec(&*self.inner).expect("snapshots serialize"))
    }

    /// Reads `to_json` output back (checked).
    #[staticmethod]
    fn from_json(#[pyo3(from_py_with = args::text)] text: String) -> PyResult<RegistrySnapshot> {
        serde_json::from_str(&text)
            .map(|s| RegistrySnapshot { inner: Arc::new(s) })
            .map_err(decode_error)
    }

    /// Reads `to_bytes` output back (checked).
    #[staticmethod]
    fn from_bytes(#[pyo3(from_py_with = args::data)] data: Vec<u8>) -> PyResult<RegistrySnapshot> {
        serde_json::from_slice(&data)
            .map(|s| RegistrySnapshot { inner: Arc::new(s) })
            .map_err(decode_error)
    }

    /// A new snapshot with `other` merged in exactly (series matched by name and labels).
    fn merge(
        &self,
        #[pyo3(from_py_with = args::other_registry_snapshot)] other: RegistrySnapshot,
    ) -> PyResult<RegistrySnapshot> {
        let mut merged = (*self.inner).clone();
        merged.try_merge(&other.inner).map_err(delta_error)?;
        Ok(RegistrySnapshot { inner: Arc::new(merged) })
    }

    /// Prometheus text format 0.0.4 (or OpenMetrics 1.0).
    #[pyo3(signature = (openmetrics=false))]
    fn expose(&self, #[pyo3(from_py_with = args::openmetrics)] openmetrics: bool) -> String {
        let mut out = String::new();
        if openmetrics {
            tally_prometheus::encode_openmetrics(&self.inner, &mut out);
        } else {
            tally_prometheus::encode_text(&self.inner, &mut out);
        }
        out
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<RegistrySnapshot>().is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let f = py.import("tally._tally")?.getattr("_registry_snapshot_from_bytes")?;
        Ok((f, (self.to_bytes(py),)))
    }
}

/// Unpickles a registry snapshot.
#[pyfunction]
pub(crate) fn _registry_snapshot_from_bytes(
    #[pyo3(from_py_with = args::data)] data: Vec<u8>,
) -> PyResult<RegistrySnapshot> {
    RegistrySnapshot::from_bytes(data)
}
