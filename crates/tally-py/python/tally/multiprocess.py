"""Metrics for services that run as several processes: gunicorn or uvicorn workers,
``multiprocessing`` pools, any pre-fork server.

Each process records into a shared-memory file of its own (in a directory every process
of the service is given), with the same calls as in one process; any process collects the
directory into one coherent snapshot: the exact sum of every live worker, plus the
counters and histograms of every worker that has exited, however it exited. A worker
killed with SIGKILL loses nothing it recorded: its file is in shared memory, and each
event in it is whole or absent (two copies behind sequence numbers, as tally's shards
are). A collector folds the file of a gone worker (the kernel has released its lock)
into an archive exactly once and removes it, so a scrape reads one file per live worker
and the archive, however many workers have come and gone; gauges of exited workers are
dropped unless their set keeps them (``keep_gauges=True``, or a list of the gauges to keep).

Set-up, gunicorn (``gunicorn -c gunicorn.conf.py app:app``)::

    # gunicorn.conf.py
    import os, tally.multiprocess
    os.environ.setdefault("TALLY_MULTIPROC_DIR", "/dev/shm/myservice-metrics")

    def on_starting(server):        # in the master, before any worker
        tally.multiprocess.prepare()

    # app.py
    import tally, tally.multiprocess
    registry = tally.multiprocess.registry()
    stats = registry.inference_stats("inference")

    def app(environ, start_response):
        ...
        stats.record_inference(success=True, cache_hit=False, latency_s=elapsed)
        ...

    metrics_app = tally.make_wsgi_app(registry)   # any worker answers /metrics for all

With ``--preload`` the metric objects are created in the master and inherited: each
worker still records into a file of its own (tally notices the fork). With
``multiprocessing``, call ``prepare()`` before starting the pool; ``fork`` and ``spawn``
start methods both work (a spawned process finds the directory in the environment or is
given the registry's path).
"""

import os
from typing import Optional

from ._tally import (
    MultiProcessRegistry,
    SharedFamily,
    SharedInferenceStats,
    SharedMetricSet,
    reset_multiprocess_dir,
)

__all__ = [
    "MultiProcessRegistry",
    "SharedFamily",
    "SharedInferenceStats",
    "SharedMetricSet",
    "prepare",
    "registry",
]


def prepare(path: Optional[str] = None) -> None:
    """Prepares the directory (``path``, default ``$TALLY_MULTIPROC_DIR``) for a fresh
    start of the service: creates it, and removes what earlier runs left (the archive of
    exited workers and the files of processes that are gone). Call it once, in the parent,
    before workers start; never in a worker (it would forget the exited workers' counts)."""
    reset_multiprocess_dir(path)


def registry(path: Optional[str] = None, *, capacity_mb: Optional[int] = None) -> MultiProcessRegistry:
    """A registry recording into ``path`` (default ``$TALLY_MULTIPROC_DIR``); each process
    gets a file of ``capacity_mb`` MiB (default ``$TALLY_MULTIPROC_CAPACITY_MB`` or 64,
    sparse: only what is written takes memory)."""
    return MultiProcessRegistry(path, capacity_mb=capacity_mb)
