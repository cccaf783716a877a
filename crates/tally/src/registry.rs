//! Named metric sets, collected together; and the process-wide default registry.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use crossbeam_utils::sync::ShardedLock;
use tally_core::{MetricSet, Snapshot};
use tally_snapshot::SetSnapshot;

/// What went wrong registering a set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name breaks the Prometheus metric-name rules.
    #[error(
        "metric name {name:?} is not valid: use ASCII letters, digits, '_' and ':', not \
         starting with a digit (Prometheus metric-name rules), and not starting with '__'"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// A set is already registered under this name.
    #[error(
        "a metric set named {name:?} is already registered: pick another name, or use \
         the handle returned when it was first registered"
    )]
    Duplicate {
        /// The name.
        name: String,
    },
}

/// Whether `name` is a valid Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`, not
/// starting with the reserved `__`.
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
        && !name.starts_with("__")
}

/// A registered set, type-erased for collection.
trait Collect: Send + Sync {
    fn collect(&self) -> SetSnapshot;
}

impl<S: MetricSet> Collect for S {
    fn collect(&self) -> SetSnapshot {
        self.snapshot().to_set_snapshot()
    }
}

struct Entry {
    help: String,
    set: Arc<dyn Collect>,
}

/// Metric sets registered by name, with help text, collected together.
///
/// Registration takes a lock (it is rare); recording never touches the registry: record
/// through the `Arc` that [`register`](Registry::register) returns.
///
/// ```
/// use tally::{InferenceStats, Registry};
///
/// let registry = Registry::new();
/// let stats = registry.register::<InferenceStats>("inference", "The model server.").unwrap();
/// stats.record_inference(true, true);
/// assert!(registry.register::<InferenceStats>("inference", "again").is_err());
///
/// let snap = registry.snapshot();
/// assert_eq!(snap.sets["inference"].snapshot.get("total_inferences"), Some(&tally::Value::Counter(1)));
/// ```
pub struct Registry {
    sets: ShardedLock<BTreeMap<String, Entry>>,
}

/// One registered set's snapshot, with its help text.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NamedSnapshot {
    /// The help text given at registration.
    pub help: String,
    /// The set's snapshot.
    pub snapshot: SetSnapshot,
}

/// A snapshot of every set in a registry, by name (each set coherent on its own).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegistrySnapshot {
    /// The sets, by registered name, in name order.
    pub sets: BTreeMap<String, NamedSnapshot>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry { sets: ShardedLock::new(BTreeMap::new()) }
    }

    /// Creates a set of type `S`, registers it as `name`, and returns it.
    ///
    /// # Errors
    ///
    /// [`RegistryError`] if `name` is invalid or taken; nothing is registered then.
    pub fn register<S: MetricSet>(&self, name: &str, help: &str) -> Result<Arc<S>, RegistryError> {
        if !is_valid_metric_name(name) {
            return Err(RegistryError::InvalidName { name: name.to_owned() });
        }
        let mut sets = self.sets.write().unwrap_or_else(|e| e.into_inner());
        if sets.contains_key(name) {
            return Err(RegistryError::Duplicate { name: name.to_owned() });
        }
        let set = Arc::new(S::new_set());
        sets.insert(name.to_owned(), Entry { help: help.to_owned(), set: set.clone() });
        Ok(set)
    }

    /// The registered names, in order.
    pub fn names(&self) -> Vec<String> {
        self.sets.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    /// Collects every registered set.
    pub fn snapshot(&self) -> RegistrySnapshot {
        let sets = self.sets.read().unwrap_or_else(|e| e.into_inner());
        RegistrySnapshot {
            sets: sets
                .iter()
                .map(|(name, e)| {
                    (
                        name.clone(),
                        NamedSnapshot { help: e.help.clone(), snapshot: e.set.collect() },
                    )
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
