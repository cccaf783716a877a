//! Values computed at collection: callbacks and collectors are read once per collection,
//! appear in that snapshot (and so in the published epoch and the exposition) beside the
//! recorded metrics, and their names go through the registry's rules.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use tally::epoch::Publisher;
use tally::{Cache, InferenceStats, Outcome, Registry, RegistryError, Value};

tally::metric_set! {
    /// A pool of connections, owned elsewhere.
    struct Pool {
        /// Connections open.
        open: Gauge,
        /// Connections ever opened.
        opened: Counter,
    }
}

#[test]
fn a_callbacks_value_appears_in_the_exposition_under_the_metrics_own_name() {
    let registry = Registry::new();
    let queue = Arc::new(AtomicI64::new(0));
    let q = Arc::clone(&queue);
    registry.gauge_fn("queue_length", "Jobs waiting.", move || q.load(Ordering::Relaxed)).unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let w = Arc::clone(&written);
    registry
        .metric("socket_written_bytes_total")
        .help("Bytes written to the socket.")
        .unit("bytes")
        .counter_fn(move || w.load(Ordering::Relaxed))
        .unwrap();
    queue.store(42, Ordering::Relaxed);
    written.store(4096, Ordering::Relaxed);

    let mut text = String::new();
    tally_prometheus::encode_text(&registry.snapshot(), &mut text);
    for line in [
        "# HELP queue_length Jobs waiting.\n",
        "# TYPE queue_length gauge\n",
        "queue_length 42\n",
        "# TYPE socket_written_bytes_total counter\n",
        "socket_written_bytes_total 4096\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    queue.store(-3, Ordering::Relaxed);
    text.clear();
    tally_prometheus::encode_text(&registry.snapshot(), &mut text);
    assert!(text.contains("queue_length -3\n"), "{text}");
}

#[test]
fn a_collector_is_read_once_per_collection_into_the_same_epoch_as_recorded_metrics() {
    let registry = Arc::new(Registry::new());
    let stats = registry.register::<InferenceStats>("inference", "Requests.").unwrap();
    let reads = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&reads);
    let (open, opened) = (Arc::new(AtomicI64::new(0)), Arc::new(AtomicU64::new(0)));
    let (o, n) = (Arc::clone(&open), Arc::clone(&opened));
    registry
        .metric("pool")
        .help("The connection pool.")
        .collector(move || {
            r.fetch_add(1, Ordering::Relaxed);
            PoolSnapshot { open: o.load(Ordering::Relaxed), opened: n.load(Ordering::Relaxed) }
        })
        .unwrap();

    let source = Arc::clone(&registry);
    let publisher = Publisher::new(move || source.snapshot());
    let collections_before = reads.load(Ordering::Relaxed);
    stats.record_request(Outcome::Success, Cache::Miss);
    open.store(2, Ordering::Relaxed);
    opened.store(5, Ordering::Relaxed);
    let epoch = publisher.refresh();
    assert_eq!(reads.load(Ordering::Relaxed), collections_before + 1, "one read per collection");
    let snap = epoch.snapshot();
    let pool = &snap.metrics["pool"].series[0].snapshot;
    assert_eq!(pool.get("open"), Some(&Value::Gauge(2)));
    assert_eq!(pool.get("opened"), Some(&Value::Counter(5)));
    let inference = &snap.metrics["inference"].series[0].snapshot;
    assert_eq!(inference.get("total_inferences"), Some(&Value::Counter(1)));
    // Reading the published epoch again does not call the collector.
    let _ = publisher.latest();
    assert_eq!(reads.load(Ordering::Relaxed), collections_before + 1);
    snap.validate().unwrap();
}

#[test]
fn collected_metrics_go_through_the_registrys_name_rules() {
    let registry = Registry::new();
    registry.register::<InferenceStats>("inference", "").unwrap();
    // A taken name.
    let err = registry.gauge_fn("inference", "", || 0).unwrap_err();
    assert!(matches!(err, RegistryError::Duplicate { .. }), "{err}");
    // An exposed name another metric's field already has.
    let err = registry.gauge_fn("inference_total_inferences", "", || 0).unwrap_err();
    assert!(matches!(err, RegistryError::ExposedNames(_)), "{err}");
    // An invalid metric name.
    let err = registry.counter_fn("9lives", "", || 0).unwrap_err();
    assert!(matches!(err, RegistryError::InvalidName { .. }), "{err}");
    // A valid metric name that cannot be a field name.
    let err = registry.gauge_fn("job:queue:length", "", || 0).unwrap_err();
    assert!(matches!(err, RegistryError::InvalidFields { .. }), "{err}");
    assert!(err.to_string().contains("no ':'"), "{err}");
    // A collector whose fields clash with a registered metric's exposed names.
    registry.gauge_fn("pool_open", "", || 0).unwrap();
    let err = registry.metric("pool").collector(PoolSnapshot::default).unwrap_err();
    assert!(matches!(err, RegistryError::ExposedNames(_)), "{err}");
    assert_eq!(registry.names(), ["inference", "pool_open"], "nothing refused was registered");
}
