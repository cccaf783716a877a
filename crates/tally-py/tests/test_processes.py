"""Across processes: snapshots travel as messages and merge exactly in the parent."""

import multiprocessing as mp

import tally

WORKERS, PER_WORKER = 4, 2_500


def work(worker):
    """A worker process records into its own set and sends back a snapshot."""
    stats = tally.InferenceStats()
    for i in range(PER_WORKER):
        stats.record_inference(success=(i + worker) % 10 != 0, cache_hit=i % 3 == 0, latency_s=(i % 100) / 1e4)
    return stats.snapshot()  # pickled on the way back


def work_bytes(args):
    worker, queue = args
    reg = tally.Registry()
    fam = reg.family("jobs", ["kind"], counters=["done"], histograms=["size"])
    for i in range(PER_WORKER):
        fam.labels("even" if i % 2 == 0 else "odd").record(done=1, size=i)
    queue.put(reg.snapshot().to_bytes())


def test_pool_workers_snapshots_merge_to_exact_totals():
    ctx = mp.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        snaps = pool.map(work, range(WORKERS))
    total = tally.merge(snaps)
    assert total.total_inferences == WORKERS * PER_WORKER
    assert total.failed_inferences == WORKERS * PER_WORKER // 10
    assert total.cache_hits == WORKERS * ((PER_WORKER + 2) // 3)
    assert total.latency_ns.count == WORKERS * PER_WORKER
    assert total.is_coherent()


def test_registry_snapshots_over_a_queue_merge_exactly():
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        queue = manager.Queue()
        with ctx.Pool(2) as pool:
            pool.map(work_bytes, [(w, queue) for w in range(WORKERS)])
        parts = [tally.RegistrySnapshot.from_bytes(queue.get()) for _ in range(WORKERS)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    assert merged.get("jobs", "even").done == WORKERS * PER_WORKER // 2
    assert merged.get("jobs", "odd").size.count == WORKERS * PER_WORKER // 2
    assert "jobs_done_total{kind=\"even\"} %d" % (WORKERS * PER_WORKER // 2) in merged.expose()
