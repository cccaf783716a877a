"""tally: lock-free, coherent metrics for Python services.

Record a multi-field event in one call, from any number of threads, without a lock;
read snapshots in which every event is whole, counters never go backwards, and no
update is lost::

    import tally

    stats = tally.InferenceStats()
    stats.record_inference(success=True, cache_hit=False, latency_s=0.012)  # one event
    snap = stats.snapshot()                                                  # coherent
    assert snap.successful_inferences + snap.failed_inferences == snap.total_inferences

The native module is ``tally._tally`` (Rust, PyO3); everything public is re-exported
here. See the README's Python section.
"""

from ._tally import (
    DEFAULT_CARDINALITY_LIMIT,
    OVERFLOW_LABEL,
    DecodeError,
    DuplicateNameError,
    Epoch,
    Family,
    Histogram,
    InferenceStats,
    InvalidNameError,
    MetricSet,
    MetricsServer,
    Recorder,
    Refresher,
    Registry,
    RegistrySnapshot,
    Snapshot,
    SnapshotMismatchError,
    TallyError,
    UnknownFieldError,
    Window,
    global_registry,
    merge,
    serve,
)

#: The process-wide registry (the same object ``global_registry()`` returns).
REGISTRY = global_registry()

__all__ = [
    "DEFAULT_CARDINALITY_LIMIT",
    "OVERFLOW_LABEL",
    "REGISTRY",
    "DecodeError",
    "DuplicateNameError",
    "Epoch",
    "Family",
    "Histogram",
    "InferenceStats",
    "InvalidNameError",
    "MetricSet",
    "MetricsServer",
    "Recorder",
    "Refresher",
    "Registry",
    "RegistrySnapshot",
    "Snapshot",
    "SnapshotMismatchError",
    "TallyError",
    "UnknownFieldError",
    "Window",
    "global_registry",
    "merge",
    "serve",
]
