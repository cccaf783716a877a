//! [`TallyRecorder`]: the `metrics::Recorder` that registers one tally family per metric
//! name and hands out handles bound to its series.
//!
//! Lookups are lock-free: the name → metric map and each metric's key → series map are
//! `papaya` maps (lock-free reads, inserts amortised O(1)), written on a miss under a
//! mutex so that each name and key is created once. Misses are rare by construction: one
//! per metric name, and one per label-value combination up to the cardinality limit.
//! (They were immutable `hashbrown` maps copied whole per new entry, which made the n-th
//! new metric or series cost O(n).)

use std::collections::HashMap as StdHashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use papaya::HashMap;
use tally::{Family, FieldDesc, FieldKind, Layout, RawSet, Registry, RegistryError};

use crate::claim::claim;
use crate::handles::{Meta, Problem, Rejected, Series};
use crate::naming::{sanitize_label_name, sanitize_metric_name};
use crate::scale::{Scale, scalar_unit};
use crate::stats::{RecorderStats, RecorderStatsSnapshot};

/// The name the recorder registers its own [`RecorderStats`] under.
pub const STATS_METRIC: &str = "tally_metrics";

/// What went wrong building a recorder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// The registry has had a recorder already (one recorder per registry, for the
    /// registry's life: the first one's metrics stay registered).
    #[error(
        "this registry already has a tally-metrics recorder: build one recorder per \
         registry and clone it (clones share everything)"
    )]
    AlreadyUsed,
    /// [`Builder::expose_stats`] was asked for, but the registry already has a metric
    /// named [`STATS_METRIC`], registered by other code.
    #[error(
        "cannot expose the recorder's stats: the registry already has a metric named \
         `{STATS_METRIC}`; rename that metric, or leave `expose_stats` off (the stats are \
         still kept: `TallyRecorder::stats`)"
    )]
    StatsNameTaken(#[source] RegistryError),
    /// The cardinality limit is zero.
    #[error(
        "a cardinality limit must be at least 1 (the default is {})",
        tally::DEFAULT_CARDINALITY_LIMIT
    )]
    ZeroLimit,
}

/// The three kinds of `metrics` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

enum Target {
    Global,
    Shared(Arc<Registry>),
}

impl Target {
    fn get(&self) -> &Registry {
        match self {
            Target::Global => tally::global(),
            Target::Shared(r) => r,
        }
    }
}

/// What `describe_*` said about a metric name.
struct Description {
    /// Which `describe_*` it came from.
    kind: Kind,
    help: String,
    unit: Option<Unit>,
}

/// A metric name's entry: a registered family, or why there is none.
// Entries live behind an `Arc`, one per metric name: the size of the small variant does not
// matter, and boxing the large one would add a pointer chase to every lookup.
#[allow(clippy::large_enum_variant)]
enum Entry {
    Live(Metric),
    /// Registration failed; its updates are dropped and counted.
    Failed {
        meta: Arc<Meta>,
    },
}

/// One registered family and its series.
struct Metric {
    kind: Kind,
    meta: Arc<Meta>,
    /// The name in the registry (the sanitized name).
    registered: String,
    /// Counters and gauges: the tally unit of their field.
    unit: tally::Unit,
    label_names: Box<[String]>,
    family: Arc<Family<RawSet>>,
    field: tally::FieldId,
    scale: Scale,
    limit: usize,
    /// Keys seen before → their series (only keys whose labels are exactly the metric's).
    series: HashMap<Key, Arc<Series>>,
    /// Under this lock: every series of the family, by label values in the family's order
    /// (the family's own map, mirrored: only the recorder binds its families).
    by_values: Mutex<StdHashMap<Vec<String>, Arc<Series>>>,
    overflow: OnceLock<Arc<Series>>,
}

struct Inner {
    target: Target,
    limit: usize,
    /// By `metrics` name as given, and by sanitized name (both point at one entry).
    metrics: HashMap<String, Arc<Entry>>,
    insert: Mutex<()>,
    descriptions: Mutex<StdHashMap<String, Description>>,
    stats: Arc<RecorderStats>,
}

/// A [`metrics::Recorder`] that records `counter!`, `gauge!` and `histogram!` into tally
/// families in a [`tally::Registry`] (see the [crate docs](crate) for the mapping).
///
/// Cheap to clone: clones share the registry, the metrics and the stats.
///
/// ```
/// use std::sync::Arc;
/// use tally_metrics::TallyRecorder;
///
/// let registry = Arc::new(tally::Registry::new());
/// let recorder = TallyRecorder::builder().registry(registry.clone()).build().unwrap();
/// metrics::with_local_recorder(&recorder, || {
///     metrics::counter!("jobs_total", "queue" => "fast").increment(2);
/// });
/// let snap = registry.snapshot();
/// let jobs = &snap.metrics["jobs_total"];
/// assert_eq!(jobs.label_names, ["queue"]);
/// assert_eq!(jobs.series[0].snapshot.get("jobs_total"), Some(&tally::Value::Counter(2)));
/// ```
#[derive(Clone)]
pub struct TallyRecorder {
    inner: Arc<Inner>,
}

/// Configures a [`TallyRecorder`]. From [`TallyRecorder::builder`].
#[must_use = "a builder does nothing until .build()"]
pub struct Builder {
    target: Target,
    limit: usize,
    expose_stats: bool,
}

impl Builder {
    /// Records into `registry` instead of [`tally::global()`].
    pub fn registry(mut self, registry: Arc<Registry>) -> Self {
        self.target = Target::Shared(registry);
        self
    }

    /// The cardinality limit of every family the recorder registers (default
    /// [`tally::DEFAULT_CARDINALITY_LIMIT`]): label-value combinations past it record into
    /// the family's overflow series (label values [`tally::OVERFLOW_LABEL`]).
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Whether the recorder registers its own [`RecorderStats`] in its registry as
    /// [`STATS_METRIC`], so that the registry's exposition (`/metrics`) has
    /// `tally_metrics_label_conflicts_total`, `tally_metrics_rejected_values_total` and
    /// `tally_metrics_rejected_updates_total` beside the application's metrics. Default
    /// off: the recorder adds nothing to the registry that the application did not record.
    /// The stats are kept either way ([`TallyRecorder::stats`]), and each kind of problem
    /// is logged the first time per metric.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tally_metrics::{STATS_METRIC, TallyRecorder};
    ///
    /// let quiet = Arc::new(tally::Registry::new());
    /// TallyRecorder::builder().registry(quiet.clone()).build().unwrap();
    /// assert!(quiet.snapshot().metrics.is_empty());
    ///
    /// let exposed = Arc::new(tally::Registry::new());
    /// TallyRecorder::builder().registry(exposed.clone()).expose_stats(true).build().unwrap();
    /// assert_eq!(exposed.names(), [STATS_METRIC]);
    /// ```
    pub fn expose_stats(mut self, expose: bool) -> Self {
        self.expose_stats = expose;
        self
    }

    /// Builds the recorder; with [`expose_stats`](Self::expose_stats), registers its
    /// [`RecorderStats`] as [`STATS_METRIC`].
    ///
    /// # Errors
    ///
    /// [`RecorderError::AlreadyUsed`] when the registry has had a recorder already,
    /// [`RecorderError::StatsNameTaken`] when the stats are to be exposed but their name
    /// is taken, [`RecorderError::ZeroLimit`] for a zero cardinality limit. Nothing is
    /// registered then.
    pub fn build(self) -> Result<TallyRecorder, RecorderError> {
        if self.limit == 0 {
            return Err(RecorderError::ZeroLimit);
        }
        let shared = match &self.target {
            Target::Global => None,
            Target::Shared(registry) => Some(registry),
        };
        let stats = claim(shared, RecorderError::AlreadyUsed, || {
            if !self.expose_stats {
                return Ok(Arc::new(RecorderStats::new()));
            }
            self.target
                .get()
                .metric(STATS_METRIC)
                .help("What the tally-metrics recorder could not record as asked.")
                .set::<RecorderStats>()
                .map_err(RecorderError::StatsNameTaken)
        })?;
        Ok(TallyRecorder {
            inner: Arc::new(Inner {
                target: self.target,
                limit: self.limit,
                metrics: HashMap::new(),
                insert: Mutex::new(()),
                descriptions: Mutex::new(StdHashMap::new()),
                stats,
            }),
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("global", &matches!(self.target, Target::Global))
            .field("cardinality_limit", &self.limit)
            .field("expose_stats", &self.expose_stats)
            .finish()
    }
}

impl TallyRecorder {
    /// A recorder on the global registry ([`tally::global()`]) with the default limit.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> Result<Self, RecorderError> {
        Self::builder().build()
    }

    /// Starts configuring a recorder.
    pub fn builder() -> Builder {
        Builder {
            target: Target::Global,
            limit: tally::DEFAULT_CARDINALITY_LIMIT,
            expose_stats: false,
        }
    }

    /// The registry the recorder records into.
    pub fn registry(&self) -> &Registry {
        self.inner.target.get()
    }

    /// What the recorder could not record as asked, so far.
    pub fn stats(&self) -> RecorderStatsSnapshot {
        self.inner.stats.snapshot()
    }

    fn register(&self, kind: Kind, key: &Key) -> Result<Arc<Series>, Arc<Meta>> {
        {
            // Resolved under the guard: no reference count taken on the entry.
            let map = self.inner.metrics.pin();
            if let Some(entry) = map.get(key.name()) {
                return resolve(entry, kind, key);
            }
        }
        resolve(&self.inner.insert_entry(kind, key), kind, key)
    }
}

/// The series `key` records into, or the stats-keeper of a metric it cannot record into.
fn resolve(entry: &Entry, kind: Kind, key: &Key) -> Result<Arc<Series>, Arc<Meta>> {
    match entry {
        Entry::Failed { meta } => Err(meta.clone()),
        Entry::Live(metric) if metric.kind != kind => {
            if metric.meta.first(Problem::KindConflict) {
                log::warn!(
                    "tally-metrics: `{}` is a {} but was used as a {}: those updates are \
                         dropped and counted in the recorder's `rejected_updates` stat \
                         (logged once per metric)",
                    key.name(),
                    metric.kind.as_str(),
                    kind.as_str()
                );
            }
            Err(metric.meta.clone())
        }
        Entry::Live(metric) => Ok(metric.series_of(key)),
    }
}

impl TallyRecorder {
    fn describe(&self, kind: Kind, name: &KeyName, unit: Option<Unit>, help: SharedString) {
        let inner = &self.inner;
        let sanitized = sanitize_metric_name(name.as_str()).into_owned();
        let mut descriptions = inner.descriptions.lock().unwrap_or_else(|e| e.into_inner());
        descriptions.insert(sanitized.clone(), Description { kind, help: help.to_string(), unit });
        drop(descriptions);
        // Registered already: update the registry's help and unit now.
        let _guard = inner.insert.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = inner.metrics.pin().get(&sanitized).cloned() else { return };
        let Entry::Live(metric) = &*entry else { return };
        // A histogram's values are read by its whole scale (a seconds histogram described in
        // milliseconds reads 12.5 as 12.5 ms, not 12.5 s), so compare scales, not units.
        let (differs, then) = match metric.kind {
            Kind::Histogram => {
                (Scale::of(unit, &sanitized) != metric.scale, metric.scale.config.unit())
            }
            _ => (scalar_unit(unit) != metric.unit, metric.unit),
        };
        if kind == metric.kind && differs && metric.meta.first(Problem::LateUnit) {
            let now = unit.map_or("no unit", |u| u.as_str());
            let then = if then.is_none() { "no unit" } else { then.as_str() };
            log::warn!(
                "tally-metrics: {} `{}` was described in {now} after its first use, which \
                 recorded it in {then}; it keeps recording as it did: describe metrics before \
                 their first use",
                kind.as_str(),
                name.as_str()
            );
        }
        let unit = unit.map(|u| u.as_str().to_owned());
        if let Err(e) = inner.target.get().describe(&metric.registered, &help, unit.as_deref()) {
            log::warn!("tally-metrics: describing `{}`: {e}", name.as_str());
        }
    }
}

impl Inner {
    /// The entry of `key`'s name, registering its family if it is new.
    #[cold]
    fn insert_entry(&self, kind: Kind, key: &Key) -> Arc<Entry> {
        let name = key.name();
        let _guard = self.insert.lock().unwrap_or_else(|e| e.into_inner());
        let map = self.metrics.pin();
        if let Some(entry) = map.get(name) {
            return entry.clone();
        }
        let sanitized = sanitize_metric_name(name).into_owned();
        let entry = match map.get(&sanitized) {
            Some(entry) => entry.clone(),
            None => Arc::new(self.create(kind, &sanitized, key)),
        };
        map.insert(sanitized, entry.clone());
        map.insert(name.to_owned(), entry.clone());
        entry
    }

    /// Registers the family of a new metric: one field, named like the registered metric
    /// (so that `tally-prometheus` exposes it under that name alone), with the label names
    /// of its first key.
    fn create(&self, kind: Kind, sanitized: &str, key: &Key) -> Entry {
        let meta = Arc::new(Meta::new(sanitized.to_owned(), self.stats.clone()));
        let descriptions = self.descriptions.lock().unwrap_or_else(|e| e.into_inner());
        let description = descriptions.get(sanitized);
        // A unit described for another kind of metric of this name does not apply.
        let unit = description.filter(|d| d.kind == kind).and_then(|d| d.unit);
        // A histogram's configuration and the factor to its steps: from its described
        // unit, else from its name (`scale.rs`).
        let scale = Scale::of(unit, sanitized);
        let registered = sanitized.to_owned();
        let mut label_names: Vec<String> = Vec::new();
        for label in key.labels() {
            let name = label_name(kind, label.key());
            if !label_names.contains(&name) {
                label_names.push(name);
            }
        }
        let desc = match kind {
            Kind::Counter => {
                FieldDesc::new("", FieldKind::Counter, "").with_unit(scalar_unit(unit))
            }
            // The level of a `metrics` gauge is one `f64`, set or moved: written whole into
            // a float last-value field (see `Series::publish`).
            Kind::Gauge => {
                FieldDesc::new("", FieldKind::LastValueF64, "").with_unit(scalar_unit(unit))
            }
            Kind::Histogram => FieldDesc::new("", FieldKind::Histogram(scale.config), ""),
        };
        let layout =
            Layout::new(vec![FieldDesc { name: registered.clone().into(), ..desc.clone() }])
                .expect("a sanitized name is a valid field name");
        // Every set of a layout has its fields at the same places: ask a spare one.
        let field =
            RawSet::new(layout.clone()).field(&registered).expect("the layout's only field");
        let unit = unit.map(|u| u.as_str().to_owned());
        let mut registration = self
            .target
            .get()
            .metric(&registered)
            .help(description.map_or("", |d| &d.help))
            .cardinality_limit(self.limit);
        if let Some(unit) = &unit {
            registration = registration.unit(unit);
        }
        let refs: Vec<&str> = label_names.iter().map(String::as_str).collect();
        let family = match registration.raw_family(layout, &refs) {
            Ok(family) => family,
            Err(e) => {
                log::error!(
                    "tally-metrics: cannot register {} `{}` as `{registered}`: {e}; its updates \
                     are dropped and counted in the recorder's `rejected_updates` stat",
                    kind.as_str(),
                    key.name()
                );
                return Entry::Failed { meta };
            }
        };
        Entry::Live(Metric {
            kind,
            meta,
            registered,
            unit: desc.unit,
            label_names: label_names.into(),
            family,
            field,
            scale,
            limit: self.limit,
            series: HashMap::new(),
            by_values: Mutex::new(StdHashMap::new()),
            overflow: OnceLock::new(),
        })
    }
}

/// The label name of a `metrics` label key: sanitized, and a label the field kind reserves
/// (`le` on histograms, the exposition's bucket label: `tally_snapshot::reserved_labels`)
/// prefixed with `_`.
fn label_name(kind: Kind, key: &str) -> String {
    let name = sanitize_label_name(key);
    let field_kind = match kind {
        Kind::Histogram => tally::FieldKind::Histogram(tally::HistogramConfig::DEFAULT),
        Kind::Counter => tally::FieldKind::Counter,
        Kind::Gauge => tally::FieldKind::Gauge,
    };
    if tally::reserved_labels(field_kind).contains(&&*name) {
        format!("_{name}")
    } else {
        name.into_owned()
    }
}

impl Metric {
    /// The series of `key`, bound on first use.
    fn series_of(&self, key: &Key) -> Arc<Series> {
        if let Some(series) = self.series.pin().get(key) {
            return series.clone();
        }
        self.bind(key)
    }

    #[cold]
    fn bind(&self, key: &Key) -> Arc<Series> {
        // The label values in the family's order, by sanitized name (the first of repeats).
        let given: Vec<(String, &str)> =
            key.labels().map(|l| (label_name(self.kind, l.key()), l.value())).collect();
        let values: Vec<String> = self
            .label_names
            .iter()
            .map(|n| given.iter().find(|(g, _)| g == n).map_or("", |(_, v)| *v).to_owned())
            .collect();
        let exact = given.len() == self.label_names.len()
            && given.iter().map(|(g, _)| g).eq(self.label_names.iter());
        let same_set = given.len() == self.label_names.len()
            && given.iter().all(|(g, _)| self.label_names.contains(g));
        if !same_set {
            self.meta.stats.label_conflicts().inc();
            if self.meta.first(Problem::LabelConflict) {
                log::warn!(
                    "tally-metrics: metric `{}` has labels {:?} (from its first use) but was used \
                     with labels {:?}: recorded into the series {:?} (labels matched by name, \
                     missing ones empty, extra ones dropped) and counted in the \
                     recorder's `label_conflicts` stat (logged once per metric); give each \
                     metric name one set of label keys",
                    self.meta.name,
                    self.label_names,
                    given.iter().map(|(g, _)| g).collect::<Vec<_>>(),
                    values,
                );
            }
        }

        let mut by_values = self.by_values.lock().unwrap_or_else(|e| e.into_inner());
        let series = match by_values.get(&values) {
            Some(series) => series.clone(),
            None if by_values.len() >= self.limit => {
                // Full: the family redirects this bind to its overflow series (and counts it).
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                let set = self.family.bind(&refs).expect("one value per label");
                return self
                    .overflow
                    .get_or_init(|| {
                        Arc::new(Series::new(set, self.field, self.scale, self.meta.clone()))
                    })
                    .clone();
            }
            None => {
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                let set = self.family.bind(&refs).expect("one value per label");
                let series = Arc::new(Series::new(set, self.field, self.scale, self.meta.clone()));
                by_values.insert(values, series.clone());
                series
            }
        };
        // Cache keys that name exactly the metric's labels (in its order, or another order
        // up to a bound): those are bounded by the limit. Conflicting keys are not cached,
        // so their extra labels cannot grow the map.
        // Inserted under `by_values`' lock, so the length read here is exact.
        let map = self.series.pin();
        if same_set && (exact || map.len() < 2 * self.limit) && !map.contains_key(key) {
            map.insert(key.clone(), series.clone());
        }
        series
    }
}

impl metrics::Recorder for TallyRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(Kind::Counter, &key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(Kind::Gauge, &key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(Kind::Histogram, &key, unit, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        match self.register(Kind::Counter, key) {
            Ok(series) => Counter::from_arc(series),
            Err(meta) => Counter::from_arc(Arc::new(Rejected(meta))),
        }
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        match self.register(Kind::Gauge, key) {
            Ok(series) => Gauge::from_arc(series),
            Err(meta) => Gauge::from_arc(Arc::new(Rejected(meta))),
        }
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        match self.register(Kind::Histogram, key) {
            Ok(series) => Histogram::from_arc(series),
            Err(meta) => Histogram::from_arc(Arc::new(Rejected(meta))),
        }
    }
}

impl fmt::Debug for TallyRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TallyRecorder")
            .field("global", &matches!(self.inner.target, Target::Global))
            .field("cardinality_limit", &self.inner.limit)
            .finish_non_exhaustive()
    }
}
