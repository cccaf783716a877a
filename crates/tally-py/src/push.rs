//! `tally.push_to_gateway` and siblings: a registry's snapshot pushed to a Prometheus
//! Pushgateway (tally-push), as `prometheus_client`'s functions of the same names do.

use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use tally_push::{Grouping, PushError, Pusher};

use crate::args;
use crate::registry::{RegRef, Registry};

/// The pusher for `gateway` (`host:port` gets `http://`), `job` and `grouping_key`.
fn pusher(
    gateway: &str,
    job: &str,
    grouping_key: &[(String, String)],
    timeout: Duration,
) -> PyResult<Pusher> {
    let url =
        if gateway.contains("://") { gateway.to_owned() } else { format!("http://{gateway}") };
    let mut grouping = Grouping::new(job).map_err(push_error)?;
    for (name, value) in grouping_key {
        grouping = grouping.label(name, value).map_err(push_error)?;
    }
    Pusher::with_timeout(&url, grouping, timeout).map_err(push_error)
}

/// ValueError for what the caller gave wrong, OSError for what the gateway or the network
/// did; the message says which and what to do.
fn push_error(e: PushError) -> PyErr {
    match e {
        PushError::Status { .. } | PushError::Transport { .. } => PyOSError::new_err(e.to_string()),
        e => PyValueError::new_err(e.to_string()),
    }
}

/// Pushes `registry`'s snapshot (default: the global registry) to the Pushgateway at
/// `gateway` as the group of `job` and `grouping_key`, replacing what the group held (HTTP
/// PUT): the call a batch job makes at its end, or now and then while it runs (pushes are
/// cumulative: one that fails loses nothing the next carries).
///
/// Raises ValueError for an unusable gateway, job or grouping label (the message says
/// why), OSError when the gateway cannot be reached or refuses the push (with its
/// message); TypeError for an argument of the wrong type.
#[pyfunction]
#[pyo3(
    signature = (gateway, job, registry=None, grouping_key=Vec::new(), timeout=Duration::from_secs(30)),
    text_signature = "(gateway, job, registry=None, grouping_key=None, timeout=30.0)"
)]
pub(crate) fn push_to_gateway(
    py: Python<'_>,
    #[pyo3(from_py_with = args::gateway)] gateway: String,
    #[pyo3(from_py_with = args::job)] job: String,
    #[pyo3(from_py_with = args::registry)] registry: Option<Registry>,
    #[pyo3(from_py_with = args::grouping_key)] grouping_key: Vec<(String, String)>,
    #[pyo3(from_py_with = args::push_timeout)] timeout: Duration,
) -> PyResult<()> {
    send(py, &gateway, &job, registry, &grouping_key, timeout, Pusher::push)
}

/// As `push_to_gateway`, replacing only the metrics the snapshot has and keeping the
/// group's others (HTTP POST): for several processes sharing one group, each with its own
/// metric names.
#[pyfunction]
#[pyo3(
    signature = (gateway, job, registry=None, grouping_key=Vec::new(), timeout=Duration::from_secs(30)),
    text_signature = "(gateway, job, registry=None, grouping_key=None, timeout=30.0)"
)]
pub(crate) fn pushadd_to_gateway(
    py: Python<'_>,
    #[pyo3(from_py_with = args::gateway)] gateway: String,
    #[pyo3(from_py_with = args::job)] job: String,
    #[pyo3(from_py_with = args::registry)] registry: Option<Registry>,
    #[pyo3(from_py_with = args::grouping_key)] grouping_key: Vec<(String, String)>,
    #[pyo3(from_py_with = args::push_timeout)] timeout: Duration,
) -> PyResult<()> {
    send(py, &gateway, &job, registry, &grouping_key, timeout, Pusher::push_add)
}

/// Collects `registry` (default: the global one) and sends it with `how`, without the GIL.
fn send(
    py: Python<'_>,
    gateway: &str,
    job: &str,
    registry: Option<Registry>,
    grouping_key: &[(String, String)],
    timeout: Duration,
    how: fn(&Pusher, &tally::RegistrySnapshot) -> Result<(), PushError>,
) -> PyResult<()> {
    let pusher = pusher(gateway, job, grouping_key, timeout)?;
    let reg = registry.map(|r| r.inner).unwrap_or(RegRef::Global);
    py.detach(|| how(&pusher, &reg.get().snapshot())).map_err(push_error)
}

/// Deletes the group of `job` and `grouping_key` from the Pushgateway (HTTP DELETE): the
/// gateway keeps a group until it is deleted.
#[pyfunction]
#[pyo3(
    signature = (gateway, job, grouping_key=Vec::new(), timeout=Duration::from_secs(30)),
    text_signature = "(gateway, job, grouping_key=None, timeout=30.0)"
)]
pub(crate) fn delete_from_gateway(
    py: Python<'_>,
    #[pyo3(from_py_with = args::gateway)] gateway: String,
    #[pyo3(from_py_with = args::job)] job: String,
    #[pyo3(from_py_with = args::grouping_key)] grouping_key: Vec<(String, String)>,
    #[pyo3(from_py_with = args::push_timeout)] timeout: Duration,
) -> PyResult<()> {
    let pusher = pusher(&gateway, &job, &grouping_key, timeout)?;
    py.detach(|| pusher.delete()).map_err(push_error)
}
