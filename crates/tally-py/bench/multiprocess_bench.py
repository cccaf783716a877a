"""tally's multi-process mode beside prometheus_client's, on the same scenario.

    python crates/tally-py/bench/multiprocess_bench.py          # the table in docs/PERFORMANCE.md
    python crates/tally-py/bench/multiprocess_bench.py --test   # a quick run (CI), 20 restarts

Per event: one finished inference request (total, outcome, cache result, latency) in a
worker: `record_inference` on a `tally.multiprocess` registry's inference set, against
four `prometheus_client` calls (three counters' `inc` and a histogram's `observe`) in its
multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, mmap'd `.db` files per process).

Scrape: one collection and exposition of the directory by a process serving /metrics,
with 4 live workers, after 0 and after R worker restarts (R short-lived worker processes
that each record 10 requests and exit; prometheus_client's `mark_process_dead` is called
for each, as its documentation asks, in gunicorn's `child_exit`). tally folds an exited
worker's file into its archive once, so its scrape reads the live workers and the
archive; prometheus_client reads every file every process ever wrote.
"""

import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time

TEST = "--test" in sys.argv
EVENTS = 20_000 if TEST else 200_000
RESTARTS = [0, 20] if TEST else [0, 100, 1000]
SCRAPES = 3 if TEST else 15


def load_avg():
    return os.getloadavg()[0]


# --- prometheus_client: its module reads PROMETHEUS_MULTIPROC_DIR at import in each
# process, so every prometheus_client process is a fresh one started with it set.


def prom_worker(d, n, live, ready, stop):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = d
    from prometheus_client import Counter, Histogram

    total = Counter("inference_total_inferences", "Requests.")
    ok = Counter("inference_successful_inferences", "Succeeded.")
    failed = Counter("inference_failed_inferences", "Failed.")
    hits = Counter("inference_cache_hits", "Hits.")
    misses = Counter("inference_cache_misses", "Misses.")
    latency = Histogram("inference_latency_seconds", "Latency.")
    for k in range(n):
        total.inc()
        (ok if k % 10 else failed).inc()
        (hits if k % 3 == 0 else misses).inc()
        latency.observe(k / 1e6)
    if live:
        ready.set()
        stop.wait()


def prom_event_cost(d):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = d
    from prometheus_client import Counter, Histogram

    total = Counter("bench_total", "Requests.")
    ok = Counter("bench_ok", "Succeeded.")
    hits = Counter("bench_hits", "Hits.")
    latency = Histogram("bench_latency_seconds", "Latency.")
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for k in range(EVENTS):
            total.inc()
            ok.inc()
            hits.inc()
            latency.observe(0.0123)
        best = min(best, (time.perf_counter() - t) / EVENTS)
    return best


def prom_scrape(d, dead_pids, q):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = d
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    for pid in dead_pids:
        multiprocess.mark_process_dead(pid, d)
    times = []
    for _ in range(SCRAPES):
        t = time.perf_counter()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=d)
        body = generate_latest(registry)
        times.append(time.perf_counter() - t)
    q.put((min(times), statistics.median(times), len(body), len(os.listdir(d))))


# --- tally


def tally_worker(d, n, live, ready, stop):
    import tally.multiprocess

    stats = tally.multiprocess.registry(d).inference_stats("inference")
    for k in range(n):
        stats.record_inference(success=k % 10 != 0, cache_hit=k % 3 == 0, latency_s=k / 1e6)
    if live:
        ready.set()
        stop.wait()


def tally_event_cost(d):
    import tally.multiprocess

    stats = tally.multiprocess.registry(d).inference_stats("bench")
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(EVENTS):
            stats.record_inference(success=True, cache_hit=True, latency_s=0.0123)
        best = min(best, (time.perf_counter() - t) / EVENTS)
    return best


def tally_scrape(d, dead_pids, q):
    import tally
    import tally.multiprocess

    reg = tally.multiprocess.registry(d)
    app = tally.make_wsgi_app(reg)
    times = []
    for _ in range(SCRAPES):
        t = time.perf_counter()
        body = b"".join(app({"REQUEST_METHOD": "GET"}, lambda s, h: None))
        times.append(time.perf_counter() - t)
    q.put((min(times), statistics.median(times), len(body), len(os.listdir(d))))


def in_child(ctx, target, *args):
    q = ctx.Queue()
    p = ctx.Process(target=target, args=args + (q,))
    p.start()
    out = q.get()
    p.join()
    return out


def scenario(ctx, worker, scrape, restarts, prepare):
    d = tempfile.mkdtemp(prefix="mp-bench-")
    prepare(d)
    stop, readies, live = ctx.Event(), [], []
    for _ in range(4):
        ready = ctx.Event()
        p = ctx.Process(target=worker, args=(d, 1000, True, ready, stop))
        p.start()
        live.append(p)
        readies.append(ready)
    for r in readies:
        r.wait()
    dead = []
    for _ in range(restarts):
        p = ctx.Process(target=worker, args=(d, 10, False, None, None))
        p.start()
        p.join()
        dead.append(p.pid)
    # One scrape first (tally folds the exited workers then, as the first scrape after
    # they exit does), then the timed ones.
    in_child(ctx, scrape, d, dead)
    result = in_child(ctx, scrape, d, dead)
    stop.set()
    for p in live:
        p.join()
    shutil.rmtree(d, ignore_errors=True)
    return result


def tally_prepare(d):
    import tally.multiprocess

    tally.multiprocess.prepare(d)


def main():
    # fork: the bench process never imports prometheus_client, so each child imports it
    # fresh with its directory set; tally notices the fork.
    ctx = mp.get_context("fork")
    print(f"load average before: {load_avg():.2f}; {EVENTS} events per timing, best of 5")
    d, dp = tempfile.mkdtemp(prefix="mp-bench-"), tempfile.mkdtemp(prefix="mp-bench-prom-")
    # Each in a fresh process: prometheus_client reads its directory when imported.
    with ctx.Pool(1) as pool:
        tally_ns = pool.apply(tally_event_cost, (d,)) * 1e9
    with ctx.Pool(1) as pool:
        prom_ns = pool.apply(prom_event_cost, (dp,)) * 1e9
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(dp, ignore_errors=True)
    print()
    print("| per event (one inference request) | ns |")
    print("|:--|--:|")
    print(f"| tally.multiprocess `record_inference` | {tally_ns:.0f} |")
    print(f"| prometheus_client multiprocess: 3 counters + 1 histogram | {prom_ns:.0f} |")
    print()
    print("| scrape (4 live workers) | after restarts | min | median | files in the directory | body |")
    print("|:--|--:|--:|--:|--:|--:|")
    for restarts in RESTARTS:
        for name, worker, scrape, prepare in [
            ("tally.multiprocess", tally_worker, tally_scrape, tally_prepare),
            ("prometheus_client", prom_worker, prom_scrape, lambda d: None),
        ]:
            lo, med, size, files = scenario(ctx, worker, scrape, restarts, prepare)
            print(f"| {name} | {restarts} | {lo * 1e3:.2f} ms | {med * 1e3:.2f} ms | {files} | {size} B |")
    print()
    print(f"load average after: {load_avg():.2f}")


if __name__ == "__main__":
    main()
