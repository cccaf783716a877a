"""The seeds' inference manager, with its statistics in tally.

The original kept ``total_inferences``, ``successful_inferences``, ... as plain attributes
updated with ``+=`` from many threads and read field by field in ``get_stats()``: updates
got lost (``+=`` is a read, an add and a write, and a thread switch can fall in between)
and reads came out torn (``success_rate`` computed from fields of different moments).

Here a request is one tally event (``record_inference``: total, one outcome, one cache
result and the latency, together), recorded without any lock, and ``get_stats()`` reads
one coherent snapshot. The only lock left guards the singleton's creation
(double-checked), which happens once.

Run it: ``python examples/python/inference_manager.py`` (with the ``tally`` package
installed, see the README's Python section).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable, Dict, Optional

import tally


class InferenceManager:
    """A process-wide inference manager: one instance, created on first use by whichever
    thread gets there first (thread-safe, double-checked)."""

    _instance: Optional["InferenceManager"] = None
    _instance_lock = threading.Lock()
    #: How many times ``__init__`` ran: 1 however many threads race (tests check it).
    initialisations = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> "InferenceManager":
        # First check without the lock: the fast path once the instance exists.
        if cls._instance is None:
            with cls._instance_lock:
                # Second check under the lock: another thread may have won the race.
                if cls._instance is None:
                    instance = super().__new__(cls)
                    instance._setup(*args, **kwargs)
                    cls._instance = instance
        return cls._instance

    @classmethod
    def instance(cls) -> "InferenceManager":
        """The singleton, created on first use."""
        return cls()

    @classmethod
    def _reset_for_tests(cls) -> None:
        with cls._instance_lock:
            cls._instance = None
            cls.initialisations = 0

    def _setup(self, model: Optional[Callable[[Any], Any]] = None, cache_size: int = 1024) -> None:
        type(self).initialisations += 1
        # Simulates a slow model load, which widens the creation race window.
        time.sleep(0.01)
        self._model = model or (lambda x: x)
        # The statistics: one tally set, no lock. A dict cache (single dict operations
        # are atomic under the GIL; a lost cache insert only costs a recomputation).
        self.stats = tally.InferenceStats()
        self._cache: Dict[Any, Any] = {}
        self._cache_size = cache_size

    def predict(self, request: Any, fail: bool = False) -> Any:
        """Serves one request: from the cache if it can, else by running the model.
        Records one event whatever happens."""
        start = time.perf_counter()
        self.stats.request_started()
        hit = request in self._cache
        try:
            if fail:
                raise RuntimeError("model failed")
            result = self._cache[request] if hit else self._model(request)
            if not hit and len(self._cache) < self._cache_size:
                self._cache[request] = result
            ok = True
            return result
        except Exception:
            ok = False
            raise
        finally:
            self.stats.request_finished()
            # total, outcome, cache result and latency: one event.
            self.stats.record_inference(
                success=ok, cache_hit=hit, latency_s=time.perf_counter() - start
            )

    def get_stats(self) -> Dict[str, Any]:
        """Every figure from one coherent snapshot: ``successful + failed == total`` and
        ``cache_hits + cache_misses == total`` always hold, and rates are in [0, 1]."""
        snap = self.stats.snapshot()
        return {
            "total_inferences": snap.total_inferences,
            "successful_inferences": snap.successful_inferences,
            "failed_inferences": snap.failed_inferences,
            "cache_hits": snap.cache_hits,
            "cache_misses": snap.cache_misses,
            "in_flight": snap.in_flight,
            "success_rate": snap.success_rate,
            "cache_hit_rate": snap.cache_hit_rate,
            "p99_latency_s": snap.latency_quantile(0.99),
        }


def main() -> None:
    manager = InferenceManager.instance()
    rng = random.Random(7)
    requests = [(rng.randrange(50), rng.random() < 0.05) for _ in range(20_000)]

    def worker(chunk):
        for key, fail in chunk:
            try:
                manager.predict(key, fail=fail)
            except RuntimeError:
                pass

    threads = [threading.Thread(target=worker, args=(requests[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        s = manager.get_stats()
        assert s["successful_inferences"] + s["failed_inferences"] == s["total_inferences"]
        assert s["cache_hits"] + s["cache_misses"] == s["total_inferences"]
    for t in threads:
        t.join()
    stats = manager.get_stats()
    assert stats["total_inferences"] == len(requests), stats
    for k, v in stats.items():
        print(f"{k:22s} {v}")


if __name__ == "__main__":
    main()
