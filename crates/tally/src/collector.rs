//! Values computed at collection time: a [`Collector`], or a callback
//! ([`Registry::gauge_fn`], [`Registry::counter_fn`]), registered in a [`Registry`] like a
//! set and read once per [`Registry::snapshot`], so that they appear in the same snapshot,
//! and the same published epoch, as everything else.

use std::borrow::Cow;

use tally_core::Snapshot;
use tally_snapshot::{
    FieldDesc, FieldKind, SeriesSnapshot, SetSnapshot, Value, is_valid_field_name,
    is_valid_metric_name,
};

use crate::registry::{Collect, Registration, Registry, RegistryError};

/// A metric whose values are computed when the registry is collected, for values owned by
/// another structure (a queue's length, a pool's size, a cache's entries) or read from
/// elsewhere (the process collector reads `/proc`). Its fields are those of a
/// [`metric_set!`](crate::metric_set) snapshot: declare the set for its snapshot type and
/// its field docs (the exposed help), and return a snapshot from
/// [`collect`](Self::collect). A closure returning a snapshot is a collector too.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tally::{Registry, Value};
///
/// tally::metric_set! {
///     /// The job queue.
///     pub struct Queue {
///         /// Jobs waiting.
///         waiting: Gauge,
///         /// Jobs ever queued.
///         queued: Counter,
///     }
/// }
///
/// let jobs = Arc::new(Mutex::new((Vec::<u32>::new(), 0u64)));
/// let registry = Registry::new();
/// let source = Arc::clone(&jobs);
/// registry
///     .metric("jobs")
///     .help("The job queue, read at collection.")
///     .collector(move || {
///         let (waiting, queued) = &*source.lock().unwrap();
///         QueueSnapshot { waiting: waiting.len() as i64, queued: *queued }
///     })
///     .unwrap();
///
/// *jobs.lock().unwrap() = (vec![1, 2, 3], 7);
/// let snap = registry.snapshot();
/// let series = &snap.metrics["jobs"].series[0].snapshot;
/// assert_eq!(series.get("waiting"), Some(&Value::Gauge(3)));
/// assert_eq!(series.get("queued"), Some(&Value::Counter(7)));
/// ```
///
/// [`collect`](Self::collect) runs on the thread collecting the registry, once per
/// collection, while the registry's lock is held for reading: keep it short, do not panic,
/// and do not register metrics in the same registry from it (that waits for the lock it
/// runs under). Counters it reports should only grow: a counter that goes down reads as a
/// reset to a cumulative backend.
pub trait Collector: Send + Sync + 'static {
    /// The snapshot type whose fields this collector reports.
    type Snapshot: Snapshot;
    /// The values now.
    fn collect(&self) -> Self::Snapshot;
}

impl<F, S> Collector for F
where
    F: Fn() -> S + Send + Sync + 'static,
    S: Snapshot,
{
    type Snapshot = S;
    fn collect(&self) -> S {
        self()
    }
}

/// A registered collector or callback: its fields, fixed at registration, and how to read
/// one value per field.
struct Collected {
    fields: Vec<FieldDesc>,
    read: Box<dyn Fn() -> Vec<Value> + Send + Sync>,
}

impl Collect for Collected {
    fn label_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn series(&self) -> Vec<SeriesSnapshot> {
        let snapshot = SetSnapshot::new(self.fields.clone(), (self.read)())
            .expect("fields checked at registration; values of their kinds by construction");
        vec![SeriesSnapshot { labels: Vec::new(), snapshot }]
    }
    fn overflow_redirects(&self) -> u64 {
        0
    }
}

impl Registration<'_> {
    /// Registers `collector`: its snapshot's fields, exposed like a set's, read by calling
    /// it at each collection of the registry (see [`Collector`]).
    ///
    /// # Errors
    ///
    /// [`RegistryError`] as for [`set`](Self::set).
    pub fn collector<C: Collector>(self, collector: C) -> Result<(), RegistryError> {
        let fields = <C::Snapshot as Snapshot>::fields().to_vec();
        let read = Box::new(move || collector.collect().values());
        self.collected(fields, read)
    }

    /// Registers a gauge whose value `read` returns at each collection: one field, named
    /// like the metric, so that it is exposed under the metric's own name, with the
    /// registration's help.
    ///
    /// # Errors
    ///
    /// [`RegistryError`] as for [`set`](Self::set); [`RegistryError::InvalidFields`] for a
    /// name with a `:` (a field name cannot have one).
    pub fn gauge_fn(
        self,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Result<(), RegistryError> {
        let field = self.own_field(FieldKind::Gauge);
        self.collected(vec![field], Box::new(move || vec![Value::Gauge(read())]))
    }

    /// Registers a counter whose value `read` returns at each collection (a count kept
    /// elsewhere: bytes a socket wrote, entries a cache evicted): as
    /// [`gauge_fn`](Self::gauge_fn), exposed as `<name>_total` (or as the name when it ends
    /// in `_total`). The value should only grow.
    ///
    /// # Errors
    ///
    /// As [`gauge_fn`](Self::gauge_fn).
    pub fn counter_fn(
        self,
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Result<(), RegistryError> {
        let field = self.own_field(FieldKind::Counter);
        self.collected(vec![field], Box::new(move || vec![Value::Counter(read())]))
    }

    /// The one field of a callback metric: named like it, with its help.
    fn own_field(&self, kind: FieldKind) -> FieldDesc {
        FieldDesc {
            name: Cow::Owned(self.name.clone()),
            kind,
            help: Cow::Owned(self.help.clone()),
            unit: tally_core::Unit::None,
        }
    }

    fn collected(
        self,
        fields: Vec<FieldDesc>,
        read: Box<dyn Fn() -> Vec<Value> + Send + Sync>,
    ) -> Result<(), RegistryError> {
        if !is_valid_metric_name(&self.name) {
            return Err(RegistryError::InvalidName { name: self.name });
        }
        // What `SetSnapshot::new` checks at every collection, checked once here: the values
        // are of their fields' kinds by construction.
        let reason = fields.iter().enumerate().find_map(|(i, f)| {
            if !is_valid_field_name(&f.name) {
                Some(format!("field name {:?} is not valid", f.name))
            } else if fields[..i].iter().any(|g| g.name == f.name) {
                Some(format!("field {:?} appears twice", f.name))
            } else {
                None
            }
        });
        if let Some(reason) = reason {
            return Err(RegistryError::InvalidFields { name: self.name, reason });
        }
        let metric = Collected { fields: fields.clone(), read };
        self.insert(&fields, Box::new(metric))
    }
}

impl Registry {
    /// Registers a gauge computed at each collection (short for
    /// `metric(name).help(help).gauge_fn(read)`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use tally::{Registry, Value};
    ///
    /// let queue_len = Arc::new(AtomicUsize::new(0));
    /// let registry = Registry::new();
    /// let q = Arc::clone(&queue_len);
    /// registry.gauge_fn("queue_length", "Jobs waiting.", move || q.load(Ordering::Relaxed) as i64).unwrap();
    /// queue_len.store(3, Ordering::Relaxed);
    /// let snap = registry.snapshot();
    /// let value = snap.metrics["queue_length"].series[0].snapshot.get("queue_length");
    /// assert_eq!(value, Some(&Value::Gauge(3)));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Registration::gauge_fn`].
    pub fn gauge_fn(
        &self,
        name: &str,
        help: &str,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Result<(), RegistryError> {
        self.metric(name).help(help).gauge_fn(read)
    }

    /// Registers a counter computed at each collection (short for
    /// `metric(name).help(help).counter_fn(read)`).
    ///
    /// # Errors
    ///
    /// As [`Registration::counter_fn`].
    pub fn counter_fn(
        &self,
        name: &str,
        help: &str,
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Result<(), RegistryError> {
        self.metric(name).help(help).counter_fn(read)
    }
}
