"""tally: lock-free, coherent metrics for Python services.

Record a multi-field event in one call, from any number of threads, without a lock;
read snapshots in which every event is whole, counters never go backwards, and no
update is lost::

    import tally

    stats = tally.InferenceStats()
    stats.record_inference(success=True, cache_hit=False, latency_s=0.012)  # one event
    snap = stats.snapshot()                                                  # coherent
    assert snap.successful_inferences + snap.failed_inferences == snap.total_inferences

Floats, seconds and bytes are recorded as written, exactly, and exposed under their
unit's name (``_seconds``, ``_bytes``, ``_ratio``)::

    jobs = tally.REGISTRY.metric_set(
        "jobs",
        float_gauges={"queue_fill": tally.field(unit="ratio")},
        histograms={"latency": tally.histogram(unit="seconds", min=1e-4, max=60),
                    "response": tally.histogram(unit="bytes")},
    )
    jobs.record(queue_fill=0.75, latency=0.012, response=1536)

The native module is ``tally._tally`` (Rust, PyO3); everything public is re-exported
here. See the README's Python section.
"""

from ._tally import (
    DEFAULT_CARDINALITY_LIMIT,
    OVERFLOW_LABEL,
    UNITS,
    DecodeError,
    DuplicateNameError,
    Epoch,
    Family,
    FieldSpec,
    Histogram,
    HistogramSpec,
    InferenceStats,
    InvalidNameError,
    MetricSet,
    MetricsServer,
    OtlpExporter,
    Recorder,
    Refresher,
    Registry,
    RegistrySnapshot,
    Snapshot,
    SnapshotMismatchError,
    TallyError,
    UnknownFieldError,
    Window,
    field,
    global_registry,
    histogram,
    delete_from_gateway,
    merge,
    push_to_gateway,
    pushadd_to_gateway,
    rejected_values,
    serve,
    start_otlp_exporter,
)

from ._web import make_asgi_app, make_wsgi_app

try:  # Unix: multi-process metrics in shared memory (tally.multiprocess).
    from ._tally import MultiProcessRegistry, _multiprocess_after_fork
except ImportError:  # pragma: no cover
    MultiProcessRegistry = None
else:
    import os as _os

    # A forked child records into a file of its own, never into its parent's.
    _os.register_at_fork(after_in_child=_multiprocess_after_fork)

#: The process-wide registry (the same object ``global_registry()`` returns).
REGISTRY = global_registry()

__all__ = [
    "DEFAULT_CARDINALITY_LIMIT",
    "OVERFLOW_LABEL",
    "REGISTRY",
    "UNITS",
    "DecodeError",
    "DuplicateNameError",
    "MultiProcessRegistry",
    "Epoch",
    "Family",
    "FieldSpec",
    "Histogram",
    "HistogramSpec",
    "InferenceStats",
    "InvalidNameError",
    "MetricSet",
    "MetricsServer",
    "OtlpExporter",
    "Recorder",
    "Refresher",
    "Registry",
    "RegistrySnapshot",
    "Snapshot",
    "SnapshotMismatchError",
    "TallyError",
    "UnknownFieldError",
    "Window",
    "field",
    "global_registry",
    "histogram",
    "delete_from_gateway",
    "merge",
    "push_to_gateway",
    "pushadd_to_gateway",
    "rejected_values",
    "serve",
    "start_otlp_exporter",
]
