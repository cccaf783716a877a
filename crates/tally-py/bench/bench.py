"""Python-side benchmark: tally against prometheus_client, a threading.Lock around plain
attributes, and unsynchronized ``+=``.

Per contender, from 1, 2 and 4 Python threads: the cost of one recorded request event
(total, one outcome, one cache result and a latency: tally's ``record_inference``,
prometheus_client's three ``Counter.inc()`` and a ``Histogram.observe()``), the cost of
one snapshot (a read of every figure), and the share of torn snapshots a concurrent
reader sees (``ok + failed != total`` or ``hits + misses != total``).

    python crates/tally-py/bench/bench.py            # rewrites its region of docs/PERFORMANCE.md
    python crates/tally-py/bench/bench.py --test     # each contender once, quickly

Times are process CPU time per event over all threads (with the GIL, threads share one
core's worth of Python), the best of several interleaved rounds; compare ratios within
one run.
"""

import argparse
import os
import platform
import sys
import threading
import time

import prometheus_client as prom

import tally

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


# --- contenders: each has record(ok, hit, latency_s) and read() -> (total, ok, failed, hits, misses)


class Tally:
    name = "tally `record_inference`"

    def __init__(self):
        self.stats = tally.InferenceStats()
        self.record = self.stats.record_inference

    def read(self):
        s = self.stats.snapshot()
        return (s.total_inferences, s.successful_inferences, s.failed_inferences, s.cache_hits, s.cache_misses)


class TallyWrapped(Tally):
    name = "tally `record_inference` (from a Python function)"

    def __init__(self):
        super().__init__()
        rec = self.stats.record_inference

        def record(ok, hit, latency_s):
            rec(ok, hit, latency_s)

        self.record = record


class TallyGeneric:
    name = "tally `MetricSet.recorder` (positional)"

    def __init__(self):
        self.set = tally.MetricSet(
            counters=["total", "ok", "failed", "hits", "misses"], histograms=["latency_ns"]
        )
        self.recs = {
            (ok, hit): self.set.recorder(
                "total", "ok" if ok else "failed", "hits" if hit else "misses", "latency_ns"
            )
            for ok in (True, False)
            for hit in (True, False)
        }
        self.record = lambda ok, hit, latency_s: self.recs[ok, hit](1, 1, 1, latency_s * 1e9)

    def calls(self, events):
        # The recorder of each event's fields, called directly with positional values.
        return [(self.recs[ok, hit], (1, 1, 1, lat * 1e9)) for ok, hit, lat in events]

    def read(self):
        s = self.set.snapshot()
        return (s.total, s.ok, s.failed, s.hits, s.misses)


class TallyKwargs(TallyGeneric):
    name = "tally `MetricSet.record(**fields)` (from a Python function)"

    def __init__(self):
        super().__init__()
        rec = self.set.record

        def record(ok, hit, latency_s):
            if ok:
                if hit:
                    rec(total=1, ok=1, hits=1, latency_ns=latency_s * 1e9)
                else:
                    rec(total=1, ok=1, misses=1, latency_ns=latency_s * 1e9)
            elif hit:
                rec(total=1, failed=1, hits=1, latency_ns=latency_s * 1e9)
            else:
                rec(total=1, failed=1, misses=1, latency_ns=latency_s * 1e9)

        self.record = record

    def calls(self, events):
        return [(self.record, e) for e in events]


class Prometheus:
    name = "prometheus_client (3 `inc()` + `observe()`)"

    def __init__(self):
        self.registry = prom.CollectorRegistry()
        total = prom.Counter("requests", "Requests.", registry=self.registry)
        outcome = prom.Counter("outcomes", "Outcomes.", ["outcome"], registry=self.registry)
        cache = prom.Counter("cache", "Cache results.", ["result"], registry=self.registry)
        latency = prom.Histogram("latency_seconds", "Latency.", registry=self.registry)
        ok_c, failed_c = outcome.labels("ok"), outcome.labels("failed")
        hit_c, miss_c = cache.labels("hit"), cache.labels("miss")

        def record(ok, hit, latency_s):
            total.inc()
            (ok_c if ok else failed_c).inc()
            (hit_c if hit else miss_c).inc()
            latency.observe(latency_s)

        self.record = record

    def read(self):
        v = {}
        for metric in self.registry.collect():
            for s in metric.samples:
                if s.name.endswith("_total"):
                    v[(s.name, tuple(sorted(s.labels.values())))] = s.value
        return (
            v[("requests_total", ())],
            v.get(("outcomes_total", ("ok",)), 0),
            v.get(("outcomes_total", ("failed",)), 0),
            v.get(("cache_total", ("hit",)), 0),
            v.get(("cache_total", ("miss",)), 0),
        )


class Locked:
    name = "`threading.Lock` around plain attributes"

    def __init__(self):
        self.lock = threading.Lock()
        self.total = self.ok = self.failed = self.hits = self.misses = 0
        self.latency_sum = 0.0
        self.latency_count = 0

    def record(self, ok, hit, latency_s):
        with self.lock:
            self.total += 1
            if ok:
                self.ok += 1
            else:
                self.failed += 1
            if hit:
                self.hits += 1
            else:
                self.misses += 1
            self.latency_sum += latency_s
            self.latency_count += 1

    def read(self):
        with self.lock:
            return (self.total, self.ok, self.failed, self.hits, self.misses)


class Unsynchronized(Locked):
    name = "unsynchronized `+=` (loses updates)"

    def record(self, ok, hit, latency_s):
        self.total += 1
        if ok:
            self.ok += 1
        else:
            self.failed += 1
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        self.latency_sum += latency_s
        self.latency_count += 1

    def read(self):
        return (self.total, self.ok, self.failed, self.hits, self.misses)


CONTENDERS = [Tally, TallyWrapped, TallyGeneric, TallyKwargs, Prometheus, Locked, Unsynchronized]


def calls_of(c, events):
    """What one thread calls per event: ``(function, args)`` pairs, prepared up front."""
    if hasattr(c, "calls"):
        return c.calls(events)
    return [(c.record, e) for e in events]

# The event stream: 1 in 10 fails, 3 in 4 hit the cache, latencies from 1 to 50 ms.
EVENTS = [(i % 10 != 0, i % 4 != 0, (1 + i % 50) / 1000) for i in range(1000)]


def record_cost(cls, threads, per_thread):
    """Process CPU nanoseconds per event, all threads together, for one run. CPU time, not
    wall-clock: the machine is shared, and time spent preempted is not the contender's."""
    best = float("inf")
    for _ in range(1):
        c = cls()
        calls = calls_of(c, EVENTS)
        barrier = threading.Barrier(threads + 1)

        def work():
            barrier.wait()
            for _ in range(per_thread // len(calls)):
                for fn, a in calls:
                    fn(*a)

        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        # Read before the barrier releases the workers: read after it, a worker could do
        # all its work before this thread is scheduled again (a fast contender then showed
        # 2 ns per event). Waiting at the barrier costs no CPU time.
        t0 = time.process_time()
        barrier.wait()
        for t in ts:
            t.join()
        elapsed = time.process_time() - t0
        n = threads * (per_thread // len(EVENTS)) * len(EVENTS)
        total = c.read()[0]
        assert cls is Unsynchronized or total == n, (cls.name, total, n)
        best = min(best, elapsed / n * 1e9)
    return best


def snapshot_cost(cls, reads, repeats):
    c = cls()
    for ok, hit, lat in EVENTS:
        c.record(ok, hit, lat)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(reads):
            c.read()
        best = min(best, (time.process_time() - t0) / reads * 1e9)
    return best


def torn_share(cls, writers, seconds):
    """Share of a concurrent reader's snapshots that break an invariant, while `writers`
    threads record (switch interval 10 us to force interleavings)."""
    c = cls()
    stop = threading.Event()
    reads = torn = 0

    def write():
        rec = c.record
        while not stop.is_set():
            for ok, hit, lat in EVENTS:
                rec(ok, hit, lat)

    def read():
        nonlocal reads, torn
        while not stop.is_set():
            total, ok, failed, hits, misses = c.read()
            reads += 1
            if ok + failed != total or hits + misses != total:
                torn += 1

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        ts = [threading.Thread(target=write) for _ in range(writers)] + [threading.Thread(target=read)]
        for t in ts:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in ts:
            t.join()
    finally:
        sys.setswitchinterval(old)
    return torn, reads


def fmt_ns(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--test", action="store_true", help="each contender once, small counts, no file written")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "PERFORMANCE.md"))
    args = ap.parse_args()
    per_thread, repeats, reads, seconds = (2_000, 1, 100, 0.1) if args.test else (20_000, 15, 2_000, 1.0)
    thread_counts = (1, 2, 4)

    # Rounds interleave the contenders, and each keeps its best round: the machine is
    # shared, and a quiet moment should not favour whoever happened to run in it.
    best = {(cls, t): float("inf") for cls in CONTENDERS for t in thread_counts}
    for _ in range(repeats):
        for t in thread_counts:
            for cls in CONTENDERS:
                best[cls, t] = min(best[cls, t], record_cost(cls, t, per_thread))
    rows = []
    for cls in CONTENDERS:
        costs = [best[cls, t] for t in thread_counts]
        snap = snapshot_cost(cls, reads, repeats)
        torn, nreads = torn_share(cls, 2, seconds)
        rows.append((cls, costs, snap, torn, nreads))
        print(f"{cls.name}: {[fmt_ns(c) for c in costs]} snapshot {fmt_ns(snap)} torn {torn}/{nreads}", flush=True)

    by = {cls: (costs, snap, torn, nreads) for cls, costs, snap, torn, nreads in rows}
    t1 = by[Tally][0][0]
    tw1 = by[TallyWrapped][0][0]
    lock1 = by[Locked][0][0]
    prom1 = by[Prometheus][0][0]
    lines = [
        "## Python binding",
        "",
        "Generated by `python crates/tally-py/bench/bench.py` (the `tally` package built with",
        "`maturin develop --release`). One event is one finished request: the total, one outcome,",
        "one cache result and a latency (tally's `record_inference`; prometheus_client's three",
        "`Counter.inc()` and a `Histogram.observe()`). Cost per event: the process's CPU time over",
        "all threads divided by the events they recorded, best of "
        f"{repeats} interleaved rounds of {per_thread:,}",
        "events per thread (CPU time because the machine is shared: time spent preempted is",
        "nobody's cost). With the GIL, Python threads share one core's worth of bytecode. Each",
        "thread loops over prepared `(function, args)` pairs; the Lock, `+=` and",
        "prometheus_client contenders are Python functions, as is the second tally row, which",
        "adds that call to tally's. A snapshot reads every figure once. Torn: snapshots taken",
        f"by a reader alongside two writer threads for {seconds:g} s with a 10 µs switch interval, where",
        "`ok + failed != total` or `hits + misses != total`.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs (shared with other jobs), "
        f"Python {platform.python_version()}, prometheus_client {prom_version()}.",
        "",
        "| contender | 1 thread | 2 threads | 4 threads | snapshot | torn snapshots |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for cls, costs, snap, torn, nreads in rows:
        share = f"{torn} of {nreads} ({100 * torn / nreads:.1f} %)" if nreads else "n/a"
        lines.append(f"| {cls.name} | " + " | ".join(fmt_ns(c) for c in costs) + f" | {fmt_ns(snap)} | {share} |")
    lines += [
        "",
        f"One thread: tally's `record_inference` costs {t1 / lock1:.2f}× the `threading.Lock` version",
        f"and is {prom1 / t1:.1f}× faster than prometheus_client (targets: ≤ 1× and ≥ 5×); called",
        f"from a Python function, {tw1 / lock1:.2f}× and {prom1 / tw1:.1f}×. Torn tally snapshots: "
        f"{by[Tally][2] + by[TallyWrapped][2] + by[TallyGeneric][2] + by[TallyKwargs][2]} (target 0).",
        "The unsynchronized version's totals are not checked: it loses updates. It shows no",
        "torn snapshot here because CPython 3.11 switches threads only at a few instructions",
        "(function entry, loop back-edges), and its `record` and `read` have none between",
        "fields; code that bumps fields through helpers tears and loses (see the naive manager in",
        "`crates/tally-py/tests/test_inference_manager.py`).",
        "",
    ]
    text = "\n".join(lines)
    print()
    print(text)
    if not args.test:
        splice(args.out, text)
        print(f"wrote the python region of {args.out}")
    # The guarantees the numbers rest on: tally never tears, whatever the timings.
    assert all(by[c][2] == 0 for c in (Tally, TallyWrapped, TallyGeneric, TallyKwargs))


BEGIN = "<!-- BEGIN generated:python -->"
END = "<!-- END generated:python -->"


def splice(path, text):
    """Replaces the text between the `generated:python` markers of `path` (appending the
    markers if the file has none), leaving the rest of the file as it is."""
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    region = f"{BEGIN}\n{text.rstrip()}\n{END}"
    start, end = old.find(BEGIN), old.find(END)
    if start != -1 and end > start:
        new = old[:start] + region + old[end + len(END):]
    else:
        new = old.rstrip() + "\n\n" + region + "\n"
    with open(path, "w") as f:
        f.write(new)


def prom_version():
    try:
        from importlib.metadata import version

        return version("prometheus_client")
    except Exception:
        return "?"


if __name__ == "__main__":
    main()
