"""The seeds' original inference manager: statistics as plain attributes, ``+=`` from
many threads, ``get_stats()`` reading field by field. Kept for the side-by-side test: it
loses updates and tears reads under forced thread switches (it may get lucky)."""

import threading


class NaiveInferenceManager:
    _instance = None
    _lock = threading.Lock()

    def __new__(cls):
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    inst = super().__new__(cls)
                    inst.total_inferences = 0
                    inst.successful_inferences = 0
                    inst.failed_inferences = 0
                    inst.cache_hits = 0
                    inst.cache_misses = 0
                    inst._cache = {}
                    cls._instance = inst
        return cls._instance

    @classmethod
    def _reset_for_tests(cls):
        cls._instance = None

    def _bump(self, name):
        # The usual generic stats helper: read, add, write back.
        setattr(self, name, getattr(self, name) + 1)

    def predict(self, request, fail=False):
        self._bump("total_inferences")
        hit = request in self._cache
        self._bump("cache_hits" if hit else "cache_misses")
        if not hit:
            self._cache[request] = request
        self._bump("failed_inferences" if fail else "successful_inferences")
        return request

    def get_stats(self):
        total = self.total_inferences
        ok = self.successful_inferences
        failed = self.failed_inferences
        hits = self.cache_hits
        misses = self.cache_misses
        return {
            "total_inferences": total,
            "successful_inferences": ok,
            "failed_inferences": failed,
            "cache_hits": hits,
            "cache_misses": misses,
            "success_rate": ok / total if total else 0.0,
            "cache_hit_rate": hits / total if total else 0.0,
        }
