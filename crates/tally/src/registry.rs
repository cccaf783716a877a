//! Named metric sets and families, collected together; and the process-wide registry.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crossbeam_utils::sync::ShardedLock;
use tally_core::{FieldDesc, Layout, MetricSet, RawSet};
use tally_snapshot::{
    ExposedNames, InvalidSnapshot, MetricSnapshot, RegistrySnapshot, SeriesSnapshot,
    is_valid_metric_name, is_valid_unit, reserved_label_in,
};

use crate::family::{DEFAULT_CARDINALITY_LIMIT, Family, FamilyError};

/// What went wrong registering a metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name breaks the Prometheus metric-name rules.
    #[error(
        "metric name {name:?} is not valid: use ASCII letters, digits, '_' and ':', not \
         starting with a digit or with '__' (Prometheus metric-name rules)"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// The unit has characters outside `[a-zA-Z0-9_]`.
    #[error(
        "unit {unit:?} is not valid: use ASCII letters, digits and '_' (such as `seconds` \
         or `bytes`)"
    )]
    InvalidUnit {
        /// The rejected unit.
        unit: String,
    },
    /// Something is already registered under this name.
    #[error(
        "a metric named {name:?} is already registered: pick another name, or keep the \
         handle returned when it was first registered"
    )]
    Duplicate {
        /// The name.
        name: String,
    },
    /// A field would be exposed under a sample name that another field (of this metric,
    /// or of another registered metric) already uses, so an exporter could write only one
    /// of them ([`InvalidSnapshot::NameClash`]), or under a name that is not a valid metric
    /// name ([`InvalidSnapshot::ExposedName`]).
    #[error("{0}")]
    ExposedNames(#[source] InvalidSnapshot),
    /// A family of a set with histogram fields has a label called `le`, which the
    /// histograms' bucket lines need for themselves in the exposition formats.
    #[error(
        "metric {name:?} has histogram fields, whose Prometheus bucket lines use the label \
         {label:?} for their bounds: rename the label (e.g. to `{label}_`)"
    )]
    ReservedLabel {
        /// The metric's name.
        name: String,
        /// The label name (`le`).
        label: String,
    },
    /// The family's labels or limit were rejected.
    #[error("metric {name:?}: {source}")]
    Family {
        /// The metric's name.
        name: String,
        /// What was wrong.
        #[source]
        source: FamilyError,
    },
    /// The fields a collector declares cannot be exposed: a callback metric's name, which
    /// is also its field's name, has a character a field name cannot have (`:`), or two
    /// fields share a name.
    #[error(
        "metric {name:?}: {reason}: a collected metric's fields need names of ASCII letters, \
         digits and '_' (a gauge_fn or counter_fn metric's name is its field's name, so no ':')"
    )]
    InvalidFields {
        /// The metric's name.
        name: String,
        /// What is wrong with the fields.
        reason: String,
    },
    /// No metric is registered under this name.
    #[error(
        "no metric named {name:?} is registered: register it first (describing a metric \
         changes its help text and unit, it does not create it)"
    )]
    NotRegistered {
        /// The name.
        name: String,
    },
}

/// Refuses a family whose label names clash with those its fields' exposition adds
/// ([`tally_snapshot::reserved_labels`]), so that everything a registry holds can be
/// exposed.
fn check_reserved_labels(
    name: &str,
    fields: &[FieldDesc],
    label_names: &[&str],
) -> Result<(), RegistryError> {
    let kinds = fields.iter().map(|f| f.kind);
    match reserved_label_in(kinds, label_names.iter().copied()) {
        Some(label) => {
            Err(RegistryError::ReservedLabel { name: name.to_owned(), label: label.to_owned() })
        }
        None => Ok(()),
    }
}

/// A registered metric, type-erased for collection. `series` runs once per
/// [`Registry::snapshot`], under the registry's read lock.
pub(crate) trait Collect: Send + Sync {
    fn label_names(&self) -> Vec<String>;
    fn series(&self) -> Vec<SeriesSnapshot>;
    fn overflow_redirects(&self) -> u64;
}

/// A plain typed set.
struct SetEntry<S>(Arc<S>);

impl<S: MetricSet> Collect for SetEntry<S> {
    fn label_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn series(&self) -> Vec<SeriesSnapshot> {
        // Straight from the untyped layer: the typed snapshot would only be converted back.
        vec![SeriesSnapshot { labels: Vec::new(), snapshot: self.0.raw().snapshot() }]
    }
    fn overflow_redirects(&self) -> u64 {
        0
    }
}

impl Collect for Arc<RawSet> {
    fn label_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn series(&self) -> Vec<SeriesSnapshot> {
        vec![SeriesSnapshot { labels: Vec::new(), snapshot: self.snapshot() }]
    }
    fn overflow_redirects(&self) -> u64 {
        0
    }
}

impl<S: MetricSet> Collect for Arc<Family<S>> {
    fn label_names(&self) -> Vec<String> {
        Family::label_names(self).to_vec()
    }
    fn series(&self) -> Vec<SeriesSnapshot> {
        self.collect()
    }
    fn overflow_redirects(&self) -> u64 {
        Family::overflow_redirects(self)
    }
}

/// A family of run-time sets.
struct RawFamily(Arc<Family<RawSet>>);

impl Collect for RawFamily {
    fn label_names(&self) -> Vec<String> {
        self.0.label_names().to_vec()
    }
    fn series(&self) -> Vec<SeriesSnapshot> {
        self.0.collect_with(RawSet::snapshot)
    }
    fn overflow_redirects(&self) -> u64 {
        self.0.overflow_redirects()
    }
}

struct Entry {
    help: String,
    unit: Option<String>,
    metric: Box<dyn Collect>,
}

/// Metric sets and families registered by name, with help text and unit, collected together.
///
/// Registration takes a lock (it is rare); recording never touches the registry: record
/// through the handle registration returns.
///
/// ```
/// use tally::{InferenceStats, Registry, Value};
///
/// let registry = Registry::new();
/// let stats = registry.register::<InferenceStats>("inference", "The model server.").unwrap();
/// stats.record_inference(true, true);
/// let by_model = registry
///     .metric("inference_by_model")
///     .help("Per model.")
///     .family::<InferenceStats>(&["model"])
///     .unwrap();
/// by_model.with(&["resnet"], |s| s.record_inference(false, false)).unwrap();
/// assert!(registry.register::<InferenceStats>("inference", "again").is_err());
///
/// let snap = registry.snapshot();
/// let plain = &snap.metrics["inference"].series[0].snapshot;
/// assert_eq!(plain.get("total_inferences"), Some(&Value::Counter(1)));
/// assert_eq!(snap.metrics["inference_by_model"].series[0].labels, ["resnet"]);
/// ```
pub struct Registry {
    metrics: ShardedLock<Metrics>,
}

/// What the registry's lock guards.
#[derive(Default)]
struct Metrics {
    entries: BTreeMap<String, Entry>,
    /// Every sample name the registered fields are exposed under.
    exposed: ExposedNames,
}

/// Registers one metric: name, then optional help, unit and cardinality limit, then what it
/// is (a set, a family, a run-time set). From [`Registry::metric`].
#[derive(Debug)]
#[must_use = "a registration does nothing until .set(), .family(), .raw(), .raw_family(), .collector(), .gauge_fn() or .counter_fn() is called"]
pub struct Registration<'r> {
    registry: &'r Registry,
    pub(crate) name: String,
    pub(crate) help: String,
    unit: Option<String>,
    limit: usize,
    idle: Option<Duration>,
}

impl Registration<'_> {
    /// Help text (shown as `# HELP` by exporters).
    pub fn help(mut self, help: &str) -> Self {
        self.help = help.to_owned();
        self
    }

    /// Unit (shown as `# UNIT` by OpenMetrics exporters): `seconds`, `bytes`, …
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = Some(unit.to_owned());
        self
    }

    /// The cardinality limit of a family (default [`DEFAULT_CARDINALITY_LIMIT`]).
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Idle expiry of a family: a series nothing was recorded into for `after` is removed
    /// at the registry's collection ([`Family::expire_idle_after`]). For labels that come
    /// and go (users, connections, short-lived models).
    pub fn expire_idle_after(mut self, after: Duration) -> Self {
        self.idle = Some(after);
        self
    }

    /// Registers a new set of type `S`.
    ///
    /// # Errors
    ///
    /// [`RegistryError`] for an invalid or taken name or an invalid unit.
    pub fn set<S: MetricSet>(self) -> Result<Arc<S>, RegistryError> {
        let set = Arc::new(S::new_set());
        self.insert(S::FIELDS, Box::new(SetEntry(set.clone())))?;
        Ok(set)
    }

    /// Registers a new family of `S` with these label names.
    ///
    /// # Errors
    ///
    /// [`RegistryError`] as for [`set`](Self::set), [`RegistryError::Family`] for bad
    /// label names or a zero limit, or [`RegistryError::ReservedLabel`] for a label `le`
    /// when `S` has histogram fields.
    pub fn family<S: MetricSet>(
        self,
        label_names: &[&str],
    ) -> Result<Arc<Family<S>>, RegistryError> {
        check_reserved_labels(&self.name, S::FIELDS, label_names)?;
        let family = Family::<S>::with_limit(label_names, self.limit)
            .map_err(|source| RegistryError::Family { name: self.name.clone(), source })?;
        let family = Arc::new(self.with_idle(family));
        self.insert(S::FIELDS, Box::new(family.clone()))?;
        Ok(family)
    }

    /// Registers a new run-time set of this layout.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    pub fn raw(self, layout: Layout) -> Result<Arc<RawSet>, RegistryError> {
        let set = Arc::new(RawSet::new(layout));
        self.insert(set.layout().fields(), Box::new(set.clone()))?;
        Ok(set)
    }

    /// Registers a new family of run-time sets of this layout.
    ///
    /// # Errors
    ///
    /// As [`family`](Self::family).
    pub fn raw_family(
        self,
        layout: Layout,
        label_names: &[&str],
    ) -> Result<Arc<Family<RawSet>>, RegistryError> {
        check_reserved_labels(&self.name, layout.fields(), label_names)?;
        let fields = layout.fields().to_vec();
        let family =
            Family::with_factory(label_names, self.limit, move || RawSet::new(layout.clone()))
                .map_err(|source| RegistryError::Family { name: self.name.clone(), source })?;
        let family = Arc::new(self.with_idle(family));
        self.insert(&fields, Box::new(RawFamily(family.clone())))?;
        Ok(family)
    }

    fn with_idle<S: Send + Sync + 'static>(&self, family: Family<S>) -> Family<S> {
        match self.idle {
            Some(after) => family.expire_idle_after(after),
            None => family,
        }
    }

    /// Registers `metric`, whose series have these fields, under the builder's name: the
    /// name, unit and exposed names checked, all or nothing.
    pub(crate) fn insert(
        self,
        fields: &[FieldDesc],
        metric: Box<dyn Collect>,
    ) -> Result<(), RegistryError> {
        if !is_valid_metric_name(&self.name) {
            return Err(RegistryError::InvalidName { name: self.name });
        }
        if let Some(unit) = &self.unit {
            check_unit(unit)?;
        }
        let mut metrics = self.registry.metrics.write().unwrap_or_else(|e| e.into_inner());
        if metrics.entries.contains_key(&self.name) {
            return Err(RegistryError::Duplicate { name: self.name });
        }
        metrics.exposed.claim(&self.name, fields).map_err(RegistryError::ExposedNames)?;
        metrics.entries.insert(self.name, Entry { help: self.help, unit: self.unit, metric });
        Ok(())
    }
}

fn check_unit(unit: &str) -> Result<(), RegistryError> {
    if is_valid_unit(unit) {
        Ok(())
    } else {
        Err(RegistryError::InvalidUnit { unit: unit.to_owned() })
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry { metrics: ShardedLock::new(Metrics::default()) }
    }

    /// Starts registering a metric called `name`.
    pub fn metric(&self, name: &str) -> Registration<'_> {
        Registration {
            registry: self,
            name: name.to_owned(),
            help: String::new(),
            unit: None,
            limit: DEFAULT_CARDINALITY_LIMIT,
            idle: None,
        }
    }

    /// Creates a set of type `S`, registers it as `name`, and returns it (short for
    /// `metric(name).help(help).set()`).
    ///
    /// # Errors
    ///
    /// [`RegistryError`] if `name` is invalid or taken; nothing is registered then.
    pub fn register<S: MetricSet>(&self, name: &str, help: &str) -> Result<Arc<S>, RegistryError> {
        self.metric(name).help(help).set()
    }

    /// Replaces the help text of the metric registered as `name` and, when `unit` is
    /// `Some`, its unit; later snapshots carry them. For help that arrives after
    /// registration (the `metrics` crate's `describe_counter!` may run after the first
    /// `counter!`).
    ///
    /// ```
    /// let registry = tally::Registry::new();
    /// registry.register::<tally::InferenceStats>("inference", "").unwrap();
    /// registry.describe("inference", "The model server.", Some("requests")).unwrap();
    /// let snap = registry.snapshot();
    /// assert_eq!(snap.metrics["inference"].help, "The model server.");
    /// assert_eq!(snap.metrics["inference"].unit.as_deref(), Some("requests"));
    /// assert!(registry.describe("nothing", "", None).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotRegistered`] for an unknown name, [`RegistryError::InvalidUnit`]
    /// for a bad unit; nothing changes then.
    pub fn describe(
        &self,
        name: &str,
        help: &str,
        unit: Option<&str>,
    ) -> Result<(), RegistryError> {
        if let Some(unit) = unit {
            check_unit(unit)?;
        }
        let mut metrics = self.metrics.write().unwrap_or_else(|e| e.into_inner());
        let entry = metrics
            .entries
            .get_mut(name)
            .ok_or_else(|| RegistryError::NotRegistered { name: name.to_owned() })?;
        help.clone_into(&mut entry.help);
        if let Some(unit) = unit {
            entry.unit = Some(unit.to_owned());
        }
        Ok(())
    }

    /// The registered names, in order.
    pub fn names(&self) -> Vec<String> {
        self.metrics.read().unwrap_or_else(|e| e.into_inner()).entries.keys().cloned().collect()
    }

    /// A [`Publisher`](crate::epoch::Publisher) of this registry's snapshots: what
    /// `tally-http` serves, a refresher refreshes, and dashboards read without collecting.
    /// Short for `Publisher::new(move || registry.snapshot())` on a clone of the `Arc`.
    /// It collects epoch 0 now.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let registry = Arc::new(tally::Registry::new());
    /// let stats = registry.register::<tally::InferenceStats>("inference", "").unwrap();
    /// let publisher = registry.publisher();
    /// stats.record_inference(true, false);
    /// assert_eq!(publisher.latest().number(), 0); // collected before the record
    /// let epoch = publisher.refresh();
    /// let inference = &epoch.snapshot().metrics["inference"].series[0].snapshot;
    /// assert_eq!(inference.get("total_inferences"), Some(&tally::Value::Counter(1)));
    /// ```
    pub fn publisher(self: &Arc<Self>) -> tally_epoch::Publisher<RegistrySnapshot> {
        let registry = Arc::clone(self);
        tally_epoch::Publisher::new(move || registry.snapshot())
    }

    /// Collects every registered metric (each series coherent on its own).
    pub fn snapshot(&self) -> RegistrySnapshot {
        let metrics = self.metrics.read().unwrap_or_else(|e| e.into_inner());
        RegistrySnapshot {
            metrics: metrics
                .entries
                .iter()
                .map(|(name, e)| {
                    let snapshot = MetricSnapshot {
                        help: e.help.clone(),
                        unit: e.unit.clone(),
                        label_names: e.metric.label_names(),
                        series: e.metric.series(),
                        overflow_redirects: e.metric.overflow_redirects(),
                    };
                    (name.clone(), snapshot)
                })
                .collect(),
        }
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("names", &self.names()).finish()
    }
}

static GLOBAL_INITS: AtomicUsize = AtomicUsize::new(0);

static GLOBAL: LazyLock<Registry> = LazyLock::new(|| {
    GLOBAL_INITS.fetch_add(1, Ordering::Relaxed);
    Registry::new()
});

/// The process-wide default registry, created on first use (exactly once, whatever the
/// number of threads racing to get it).
///
/// ```
/// assert!(std::ptr::eq(tally::global(), tally::global()));
/// ```
pub fn global() -> &'static Registry {
    &GLOBAL
}

/// How many times the global registry's initialiser has run (0 before first use, then 1
/// forever). For tests of the once-only guarantee.
#[doc(hidden)]
pub fn __global_initialisations() -> usize {
    GLOBAL_INITS.load(Ordering::Relaxed)
}
