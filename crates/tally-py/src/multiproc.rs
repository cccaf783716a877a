//! Multi-process metrics: each process (a gunicorn or uvicorn worker, a pool worker)
//! records into a shared-memory file of its own (`tally::shared`), and any process
//! collects the directory: the live workers' shards plus an archive of exited ones.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use smallvec::SmallVec;
use tally::FieldUpdate;
use tally::shared::{SetDesc, ShardWriter, SharedError, SharedFile};
use tally::{FieldKind, RawSet};

use crate::args;
use crate::errors::{DuplicateNameError, InvalidNameError, TallyError};
use crate::fields::{self, FieldTable};
use crate::registry::RegistrySnapshot;

/// The environment variable naming the directory, as `PROMETHEUS_MULTIPROC_DIR` does for
/// `prometheus_client`.
const DIR_VAR: &str = "TALLY_MULTIPROC_DIR";
/// The environment variable giving each process file's size in MiB.
const CAPACITY_VAR: &str = "TALLY_MULTIPROC_CAPACITY_MB";
/// Default size of each process's file: sparse, so only what is written costs memory.
const DEFAULT_CAPACITY_MB: u64 = 64;

/// Bumped in a forked child (`os.register_at_fork`): writers and files of another
/// generation belong to the parent and are never written by the child.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Sets get a process-unique id: the key of the thread-local writers.
static NEXT_SET: AtomicU64 = AtomicU64::new(0);
/// This process's file in each directory, with the generation that created it (cold path).
static FILES: Mutex<Vec<(u64, PathBuf, Arc<SharedFile>)>> = Mutex::new(Vec::new());

thread_local! {
    /// Each thread's shard of each set: a thread is its shards' only writer.
    static WRITERS: RefCell<HashMap<u64, (u64, ShardWriter)>> = RefCell::new(HashMap::new());
}

fn shared_error(e: SharedError) -> PyErr {
    match e {
        SharedError::Io { .. } => PyOSError::new_err(e.to_string()),
        other => TallyError::new_err(other.to_string()),
    }
}

/// Called in the child after `os.fork()`: the parent's files and shards are not ours.
#[pyfunction]
pub(crate) fn _multiprocess_after_fork() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
    // The forking thread is the child's only thread: its writers are the parent's.
    let _ = WRITERS.try_with(|w| w.borrow_mut().clear());
}

/// Prepares `path` for a fresh start: creates it if missing and removes the files of
/// processes that are gone and the archive of exited workers. Call it once in the parent
/// before workers start (gunicorn's `on_starting`), not in workers.
#[pyfunction]
#[pyo3(signature = (path=None))]
pub(crate) fn reset_multiprocess_dir(py: Python<'_>, path: Option<PathBuf>) -> PyResult<()> {
    let dir = dir_of(path)?;
    py.detach(|| tally::shared::reset_shared(&dir)).map_err(shared_error)
}

fn dir_of(path: Option<PathBuf>) -> PyResult<PathBuf> {
    match path.or_else(|| std::env::var_os(DIR_VAR).map(PathBuf::from)) {
        Some(p) if !p.as_os_str().is_empty() => Ok(p),
        _ => Err(PyValueError::new_err(format!(
            "no directory for multi-process metrics: pass path=... or set {DIR_VAR} (a \
             directory only tally uses, on tmpfs such as /dev/shm for speed)"
        ))),
    }
}

/// This process's file in `dir`, created on first use in each (forked) process.
fn process_file(dir: &Path, capacity: u64) -> Result<Arc<SharedFile>, SharedError> {
    let generation = GENERATION.load(Ordering::Relaxed);
    let mut files = FILES.lock().unwrap_or_else(PoisonError::into_inner);
    // A parent's files, inherited by fork: dropped (closing them here releases nothing of
    // the parent's: its own descriptors stay open in the parent).
    files.retain(|(g, ..)| *g == generation);
    if let Some((.., f)) = files.iter().find(|(_, d, _)| d == dir) {
        return Ok(Arc::clone(f));
    }
    std::fs::create_dir_all(dir).map_err(|source| SharedError::Io {
        what: "cannot create",
        path: dir.into(),
        source,
    })?;
    let file = SharedFile::create(dir, capacity)?;
    files.push((generation, dir.into(), Arc::clone(&file)));
    Ok(file)
}

/// What the registry's sets share: the directory and file size.
#[derive(Debug)]
struct Place {
    dir: PathBuf,
    capacity: u64,
}

/// A set recorded into shared memory: its description, fields and id.
#[derive(Debug)]
struct SharedCore {
    id: u64,
    place: Arc<Place>,
    desc: SetDesc,
    table: Arc<FieldTable>,
}

impl SharedCore {
    fn new(place: Arc<Place>, desc: SetDesc, table: Arc<FieldTable>) -> SharedCore {
        SharedCore { id: NEXT_SET.fetch_add(1, Ordering::Relaxed), place, desc, table }
    }

    /// Records one event into this thread's shard (made on first use in each thread and
    /// process).
    #[inline]
    fn record(&self, updates: &[(usize, FieldUpdate)]) -> PyResult<()> {
        let generation = GENERATION.load(Ordering::Relaxed);
        WRITERS
            .with(|w| {
                let mut writers = w.borrow_mut();
                match writers.get_mut(&self.id) {
                    Some((g, writer)) if *g == generation => writer.record(updates),
                    _ => {
                        let file = process_file(&self.place.dir, self.place.capacity)?;
                        let mut writer = file.shard(&self.desc)?;
                        let result = writer.record(updates);
                        writers.insert(self.id, (generation, writer));
                        result
                    }
                }
            })
            .map_err(shared_error)
    }

    fn record_kwargs(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        let mut updates: SmallVec<[(usize, FieldUpdate); 8]> = SmallVec::new();
        if let Some(kwargs) = kwargs {
            for (k, v) in kwargs.iter() {
                let i = self.table.index_of(k.cast::<pyo3::types::PyString>()?)?;
                updates.push((i, fields::update_of(&self.table, i, &v)?));
            }
        }
        self.record(&updates)
    }
}

/// A registry whose sets record into shared memory, one file per process, in a directory
/// every process of the service uses: `tally.multiprocess.registry()` makes one.
///
/// ```python
/// reg = tally.MultiProcessRegistry("/dev/shm/tally")   # or $TALLY_MULTIPROC_DIR
/// stats = reg.inference_stats("inference")
/// stats.record_inference(success=True, cache_hit=False, latency_s=0.012)
/// snap = reg.collect()      # every live worker + every exited one, exactly
/// ```
#[pyclass(frozen, module = "tally._tally", name = "MultiProcessRegistry")]
#[derive(Debug)]
pub struct MultiProcessRegistry {
    place: Arc<Place>,
    names: Mutex<Vec<String>>,
}

impl MultiProcessRegistry {
    fn claim(&self, name: &str, label_names: &[String]) -> PyResult<()> {
        if !tally::is_valid_metric_name(name) {
            return Err(InvalidNameError::new_err(format!(
                "metric name {name:?} is not valid: use ASCII letters, digits, '_' and ':', \
                 not starting with a digit"
            )));
        }
        for l in label_names {
            if !tally::is_valid_label_name(l) {
                return Err(InvalidNameError::new_err(format!(
                    "label name {l:?} is not valid: use ASCII letters, digits and '_', not \
                     starting with a digit or '__'"
                )));
            }
        }
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if names.iter().any(|n| n == name) {
            return Err(DuplicateNameError::new_err(format!(
                "metric {name:?} is already registered in this registry"
            )));
        }
        names.push(name.to_owned());
        Ok(())
    }

    fn desc(
        &self,
        name: &str,
        help: &str,
        label_names: &[String],
        table: &FieldTable,
        kept_gauges: Vec<String>,
    ) -> SetDesc {
        SetDesc {
            metric: name.to_owned(),
            help: help.to_owned(),
            label_names: label_names.to_vec(),
            labels: Vec::new(),
            fields: table.descs.clone(),
            kept_gauges,
        }
    }
}

/// The gauges kept after a process exits, from `keep_gauges=`: `False` (none), `True`
/// (every gauge and last value of the set), or the names of some of them.
fn kept_gauges(table: &FieldTable, keep: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let gauges = || table.descs.iter().filter(|d| d.kind.is_gauge()).map(|d| d.name.to_string());
    let Some(keep) = keep else { return Ok(Vec::new()) };
    if let Ok(all) = keep.cast::<pyo3::types::PyBool>() {
        return Ok(if all.is_true() { gauges().collect() } else { Vec::new() });
    }
    let names: Vec<String> = keep.extract().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "keep_gauges takes True, False or a list of gauge field names, not {}",
            keep.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })?;
    for n in &names {
        if !gauges().any(|g| g == *n) {
            return Err(PyValueError::new_err(format!(
                "keep_gauges names {n:?}, which is not a gauge or last value of this set (its \
                 gauges: {:?})",
                gauges().collect::<Vec<_>>()
            )));
        }
    }
    Ok(names)
}

#[pymethods]
impl MultiProcessRegistry {
    /// A registry writing in `path` (default: `$TALLY_MULTIPROC_DIR`), each process's file
    /// `capacity_mb` MiB (default `$TALLY_MULTIPROC_CAPACITY_MB` or 64; sparse).
    #[new]
    #[pyo3(signature = (path=None, *, capacity_mb=None))]
    fn new(path: Option<PathBuf>, capacity_mb: Option<u64>) -> PyResult<MultiProcessRegistry> {
        let dir = dir_of(path)?;
        let from_env = std::env::var(CAPACITY_VAR).ok().map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                PyValueError::new_err(format!("{CAPACITY_VAR}={v:?} is not a number of MiB"))
            })
        });
        let mb = match (capacity_mb, from_env) {
            (Some(mb), _) => mb,
            (None, Some(r)) => r?,
            (None, None) => DEFAULT_CAPACITY_MB,
        };
        if mb == 0 {
            return Err(PyValueError::new_err("capacity_mb must be at least 1"));
        }
        Ok(MultiProcessRegistry {
            place: Arc::new(Place { dir, capacity: mb << 20 }),
            names: Mutex::new(Vec::new()),
        })
    }

    /// The directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.place.dir.clone()
    }

    /// A set of fields registered as `name`, declared as for `tally.MetricSet`;
    /// `keep_gauges`: which of its gauges outlive the process that set them (`True`: all,
    /// or a list of names; default none: an exited worker's gauges are dropped).
    #[pyo3(signature = (
        name, *, help=String::new(), counters=None, gauges=None, last_values=None,
        histograms=None, float_counters=None, float_gauges=None, float_last_values=None,
        keep_gauges=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn metric_set(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = args::name)] name: String,
        #[pyo3(from_py_with = args::help)] help: String,
        counters: Option<&Bound<'_, PyAny>>,
        gauges: Option<&Bound<'_, PyAny>>,
        last_values: Option<&Bound<'_, PyAny>>,
        histograms: Option<&Bound<'_, PyAny>>,
        float_counters: Option<&Bound<'_, PyAny>>,
        float_gauges: Option<&Bound<'_, PyAny>>,
        float_last_values: Option<&Bound<'_, PyAny>>,
        keep_gauges: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SharedMetricSet> {
        let table = table_of(
            py,
            &fields::Declarations {
                counters,
                gauges,
                last_values,
                histograms,
                float_counters,
                float_gauges,
                float_last_values,
            },
        )?;
        let kept = kept_gauges(&table, keep_gauges)?;
        self.claim(&name, &[])?;
        let desc = self.desc(&name, &help, &[], &table, kept);
        Ok(SharedMetricSet {
            core: Arc::new(SharedCore::new(Arc::clone(&self.place), desc, table)),
        })
    }

    /// A family registered as `name` with these label names: `family.labels("bert")` is
    /// the set of that series.
    #[pyo3(signature = (
        name, labels, *, help=String::new(), counters=None, gauges=None, last_values=None,
        histograms=None, float_counters=None, float_gauges=None, float_last_values=None,
        keep_gauges=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn family(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = args::name)] name: String,
        labels: Vec<String>,
        #[pyo3(from_py_with = args::help)] help: String,
        counters: Option<&Bound<'_, PyAny>>,
        gauges: Option<&Bound<'_, PyAny>>,
        last_values: Option<&Bound<'_, PyAny>>,
        histograms: Option<&Bound<'_, PyAny>>,
        float_counters: Option<&Bound<'_, PyAny>>,
        float_gauges: Option<&Bound<'_, PyAny>>,
        float_last_values: Option<&Bound<'_, PyAny>>,
        keep_gauges: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SharedFamily> {
        let table = table_of(
            py,
            &fields::Declarations {
                counters,
                gauges,
                last_values,
                histograms,
                float_counters,
                float_gauges,
                float_last_values,
            },
        )?;
        if labels.is_empty() {
            return Err(PyValueError::new_err("a family needs at least one label name"));
        }
        if let Some(reserved) = table.descs.iter().find_map(|f| {
            tally::reserved_labels(f.kind).iter().find(|r| labels.iter().any(|l| l == *r))
        }) {
            return Err(InvalidNameError::new_err(format!(
                "label {reserved:?} is reserved by a field of this family"
            )));
        }
        let kept = kept_gauges(&table, keep_gauges)?;
        self.claim(&name, &labels)?;
        let desc = self.desc(&name, &help, &labels, &table, kept);
        Ok(SharedFamily {
            place: Arc::clone(&self.place),
            desc,
            table,
            series: papaya::HashMap::new(),
        })
    }

    /// tally's ready-made inference set (`total_inferences`, `successful_inferences`,
    /// `failed_inferences`, `cache_hits`, `cache_misses`, `in_flight`, `latency_ns`),
    /// registered as `name`.
    #[pyo3(signature = (name="inference".to_owned(), *, help=String::new()))]
    fn inference_stats(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = args::name)] name: String,
        #[pyo3(from_py_with = args::help)] help: String,
    ) -> PyResult<SharedInferenceStats> {
        let model = tally::InferenceStats::new();
        let table = Arc::new(FieldTable::new(py, tally::MetricSet::raw(&model), &[]));
        self.claim(&name, &[])?;
        let desc = self.desc(&name, &help, &[], &table, Vec::new());
        let at = |n: &str| {
            table.descs.iter().position(|d| d.name == n).expect("an InferenceStats field")
        };
        let fields = [
            at("total_inferences"),
            at("successful_inferences"),
            at("failed_inferences"),
            at("cache_hits"),
            at("cache_misses"),
            at("in_flight"),
            at("latency_ns"),
        ];
        let core = Arc::new(SharedCore::new(Arc::clone(&self.place), desc, table));
        Ok(SharedInferenceStats { core, fields })
    }

    /// Collects the directory: every live process's sets plus every exited process's
    /// counters and histograms (folded into an archive once, their files removed), merged
    /// by metric and labels. Runs without the GIL.
    fn collect(&self, py: Python<'_>) -> PyResult<RegistrySnapshot> {
        let dir = self.place.dir.clone();
        let c = py.detach(|| tally::shared::collect_shared(&dir)).map_err(shared_error)?;
        Ok(RegistrySnapshot::from_snapshot(c.snapshot))
    }

    /// The same as `collect()`: what `make_wsgi_app`/`make_asgi_app` call.
    fn snapshot(&self, py: Python<'_>) -> PyResult<RegistrySnapshot> {
        self.collect(py)
    }

    fn __repr__(&self) -> String {
        format!("MultiProcessRegistry({:?})", self.place.dir)
    }
}

fn table_of(py: Python<'_>, d: &fields::Declarations<'_, '_>) -> PyResult<Arc<FieldTable>> {
    let declared = fields::layout_from(d)?;
    let table = FieldTable::new(py, &RawSet::new(declared.layout), &declared.with_spec);
    if let Some(f) = table
        .descs
        .iter()
        .find(|f| matches!(f.kind, FieldKind::Histogram(c) if c.bucket_count() > 1 << 14))
    {
        return Err(PyValueError::new_err(format!(
            "histogram `{}` has more buckets than multi-process files hold per field; give it \
             a narrower range",
            f.name
        )));
    }
    Ok(Arc::new(table))
}

/// A set of a `MultiProcessRegistry`: `record(**fields)` as `tally.MetricSet` does, into
/// this process's shared file.
#[pyclass(frozen, module = "tally._tally", name = "SharedMetricSet")]
#[derive(Debug)]
pub struct SharedMetricSet {
    core: Arc<SharedCore>,
}

#[pymethods]
impl SharedMetricSet {
    /// Records one event: every field given is in a collection together or not at all;
    /// all values are checked before any is recorded.
    #[pyo3(signature = (**fields))]
    fn record(&self, fields: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        self.core.record_kwargs(fields)
    }

    /// The metric's name and this series' label values.
    fn __repr__(&self) -> String {
        format!("SharedMetricSet({:?}, labels={:?})", self.core.desc.metric, self.core.desc.labels)
    }
}

/// A family of a `MultiProcessRegistry`: `labels(*values)` is a series' set.
#[pyclass(frozen, module = "tally._tally", name = "SharedFamily")]
#[derive(Debug)]
pub struct SharedFamily {
    place: Arc<Place>,
    desc: SetDesc,
    table: Arc<FieldTable>,
    series: papaya::HashMap<Vec<String>, Py<SharedMetricSet>>,
}

#[pymethods]
impl SharedFamily {
    /// The series with these label values (one per label name), made on first use.
    #[pyo3(signature = (*values))]
    fn labels(&self, py: Python<'_>, values: &Bound<'_, PyTuple>) -> PyResult<Py<SharedMetricSet>> {
        let values =
            args::each_str("values", "str (label values)", values, |i| format!("at position {i}"))?;
        if values.len() != self.desc.label_names.len() {
            return Err(PyValueError::new_err(format!(
                "{} label values for the labels {:?}: give one per label",
                values.len(),
                self.desc.label_names
            )));
        }
        let series = self.series.pin();
        if let Some(s) = series.get(&values) {
            return Ok(s.clone_ref(py));
        }
        let desc = SetDesc { labels: values.clone(), ..self.desc.clone() };
        let set = Py::new(
            py,
            SharedMetricSet {
                core: Arc::new(SharedCore::new(
                    Arc::clone(&self.place),
                    desc,
                    Arc::clone(&self.table),
                )),
            },
        )?;
        // Two threads may make the same series at once: the first one kept is everyone's.
        Ok(series.get_or_insert(values, set).clone_ref(py))
    }
}

/// tally's inference set in a `MultiProcessRegistry`: `record_inference` as
/// `tally.InferenceStats` has it.
#[pyclass(frozen, module = "tally._tally", name = "SharedInferenceStats")]
#[derive(Debug)]
pub struct SharedInferenceStats {
    core: Arc<SharedCore>,
    /// Field indices: total, successful, failed, hits, misses, in_flight, latency_ns.
    fields: [usize; 7],
}

#[pymethods]
impl SharedInferenceStats {
    /// Records one finished request as one event (see `tally.InferenceStats`).
    #[pyo3(signature = (success=true, cache_hit=false, latency_s=None))]
    fn record_inference(
        &self,
        #[pyo3(from_py_with = args::success)] success: bool,
        #[pyo3(from_py_with = args::cache_hit)] cache_hit: bool,
        #[pyo3(from_py_with = args::latency_s)] latency_s: Option<f64>,
    ) -> PyResult<()> {
        let [total, ok, failed, hits, misses, _, latency] = self.fields;
        let mut updates: SmallVec<[(usize, FieldUpdate); 4]> = SmallVec::new();
        updates.push((total, FieldUpdate::Counter(1)));
        updates.push((if success { ok } else { failed }, FieldUpdate::Counter(1)));
        updates.push((if cache_hit { hits } else { misses }, FieldUpdate::Counter(1)));
        if let Some(s) = latency_s {
            // Checked finite and >= 0; `as` saturates at u64::MAX.
            updates.push((latency, FieldUpdate::Observe((s * 1e9).round() as u64)));
        }
        self.core.record(&updates)
    }

    /// Adds `n` (default 1) to `in_flight`.
    #[pyo3(signature = (n=1))]
    fn request_started(&self, #[pyo3(from_py_with = args::n)] n: i64) -> PyResult<()> {
        self.core.record(&[(self.fields[5], FieldUpdate::Gauge(n))])
    }

    /// Subtracts `n` (default 1) from `in_flight`.
    #[pyo3(signature = (n=1))]
    fn request_finished(&self, #[pyo3(from_py_with = args::n)] n: i64) -> PyResult<()> {
        self.core.record(&[(self.fields[5], FieldUpdate::Gauge(n.wrapping_neg()))])
    }

    /// Records one event of any of its fields, by name.
    #[pyo3(signature = (**fields))]
    fn record(&self, fields: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        self.core.record_kwargs(fields)
    }
}

/// The exposition of a `MultiProcessRegistry`'s collection, in the format `accept` asks
/// for: what `make_wsgi_app`/`make_asgi_app` serve for one. Runs without the GIL.
#[pyfunction]
#[pyo3(signature = (registry, accept=None))]
pub(crate) fn _exposition_multiprocess(
    py: Python<'_>,
    registry: &MultiProcessRegistry,
    accept: Option<String>,
) -> PyResult<(String, &'static str)> {
    let dir = registry.place.dir.clone();
    py.detach(|| {
        let c = tally::shared::collect_shared(&dir)?;
        Ok(crate::serve::expose(&c.snapshot, accept.as_deref()))
    })
    .map_err(shared_error)
}
