//! The `tally` Python package's native module (`tally._tally`): tally's coherent,
//! lock-free metric sets for Python programs, built with PyO3 and maturin.
//!
//! ```python
//! import tally
//!
//! stats = tally.InferenceStats()
//! # From any number of threads: one request is one event (total, outcome, cache result,
//! # latency), recorded without a lock.
//! stats.record_inference(success=True, cache_hit=False, latency_s=0.012)
//!
//! snap = stats.snapshot()          # immutable and coherent
//! assert snap.successful_inferences + snap.failed_inferences == snap.total_inferences
//! print(snap.success_rate, snap.latency_quantile(0.99))
//! ```
//!
//! The examples are Python: pytest runs them (`crates/tally-py/tests`). Build the module
//! with `maturin develop --release` in a virtualenv (see the README's Python section).
//!
//! The main items (Python names):
//! - `MetricSet`, `InferenceStats`, `Recorder`: recording (`record`, `record_inference`).
//! - `field`, `histogram`: a field's unit; a histogram's unit, range and precision.
//! - `Snapshot`, `Histogram`, `merge`: reading, serializing, merging across processes.
//! - `Epoch`, `Window`, `Refresher`: published epochs, waits (also awaitable), rates.
//! - `Registry`, `Family`, `RegistrySnapshot`, `global_registry`: names, labels, export.
//! - `serve`: the `/metrics` endpoint.
//! - `push`: `push_to_gateway` and its siblings (a Prometheus Pushgateway).
//! - `start_otlp_exporter`, `OtlpExporter`: OTLP/HTTP export to an OpenTelemetry Collector.
//!
//! No call takes a Python-level lock; recording never releases the GIL (it is shorter than
//! releasing it would be), waits always do. The module declares itself safe for
//! free-threaded Python: every class is immutable from Python and `Sync` in Rust.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod background;
mod epoch;
mod errors;
mod fields;
mod inference;
#[cfg(all(unix, target_has_atomic = "64"))]
mod multiproc;
mod otlp;
mod push;
mod registry;
mod serve;
mod set;
mod snapshot;
mod spec;

use pyo3::prelude::*;

pub use epoch::{Epoch, Refresher, Window};
pub use errors::{
    DecodeError, DuplicateNameError, InvalidNameError, SnapshotMismatchError, TallyError,
    UnknownFieldError,
};
pub use inference::InferenceStats;
pub use otlp::OtlpHandle;
pub use registry::{Family, Registry, RegistrySnapshot};
pub use serve::MetricsHandle;
pub use set::{MetricSet, Recorder};
pub use snapshot::{Histogram, Snapshot};
pub use spec::{FieldSpec, HistogramSpec};

/// The module `tally._tally`.
#[pymodule(gil_used = false)]
#[pyo3(name = "_tally")]
fn tally_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<MetricSet>()?;
    m.add_class::<InferenceStats>()?;
    m.add_class::<Recorder>()?;
    m.add_class::<Snapshot>()?;
    m.add_class::<Histogram>()?;
    m.add_class::<Epoch>()?;
    m.add_class::<Window>()?;
    m.add_class::<Refresher>()?;
    m.add_class::<Registry>()?;
    m.add_class::<Family>()?;
    m.add_class::<RegistrySnapshot>()?;
    m.add_class::<MetricsHandle>()?;
    m.add_class::<FieldSpec>()?;
    m.add_class::<HistogramSpec>()?;
    #[cfg(all(unix, target_has_atomic = "64"))]
    {
        m.add_class::<multiproc::MultiProcessRegistry>()?;
        m.add_class::<multiproc::SharedMetricSet>()?;
        m.add_class::<multiproc::SharedFamily>()?;
        m.add_class::<multiproc::SharedInferenceStats>()?;
        m.add_function(wrap_pyfunction!(multiproc::reset_multiprocess_dir, m)?)?;
        m.add_function(wrap_pyfunction!(multiproc::_multiprocess_after_fork, m)?)?;
        m.add_function(wrap_pyfunction!(multiproc::_exposition_multiprocess, m)?)?;
    }
    m.add_function(wrap_pyfunction!(spec::field, m)?)?;
    m.add_function(wrap_pyfunction!(spec::histogram, m)?)?;
    m.add_function(wrap_pyfunction!(spec::rejected_values, m)?)?;
    m.add_function(wrap_pyfunction!(serve::serve, m)?)?;
    m.add_function(wrap_pyfunction!(serve::_exposition, m)?)?;
    m.add_function(wrap_pyfunction!(push::push_to_gateway, m)?)?;
    m.add_function(wrap_pyfunction!(push::pushadd_to_gateway, m)?)?;
    m.add_function(wrap_pyfunction!(push::delete_from_gateway, m)?)?;
    m.add_class::<OtlpHandle>()?;
    m.add_function(wrap_pyfunction!(otlp::start_otlp_exporter, m)?)?;
    m.add_function(wrap_pyfunction!(snapshot::merge, m)?)?;
    m.add_function(wrap_pyfunction!(snapshot::_snapshot_from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(registry::global_registry, m)?)?;
    m.add_function(wrap_pyfunction!(registry::_registry_snapshot_from_bytes, m)?)?;
    m.add("TallyError", py.get_type::<TallyError>())?;
    m.add("UnknownFieldError", py.get_type::<UnknownFieldError>())?;
    m.add("InvalidNameError", py.get_type::<InvalidNameError>())?;
    m.add("DuplicateNameError", py.get_type::<DuplicateNameError>())?;
    m.add("SnapshotMismatchError", py.get_type::<SnapshotMismatchError>())?;
    m.add("DecodeError", py.get_type::<DecodeError>())?;
    m.add("DEFAULT_CARDINALITY_LIMIT", tally::DEFAULT_CARDINALITY_LIMIT)?;
    m.add("OVERFLOW_LABEL", tally::OVERFLOW_LABEL)?;
    m.add("UNITS", pyo3::types::PyTuple::new(py, spec::unit_names())?)?;
    Ok(())
}
