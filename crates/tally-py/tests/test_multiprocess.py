"""Multi-process metrics: workers record into shared memory with the single-process calls;
one collection is the exact sum of the live workers and every exited one, each event
whole, whatever killed the worker."""

import multiprocessing as mp
import os
import signal
import threading
import time

import pytest

import tally
import tally.multiprocess

pytestmark = pytest.mark.skipif(tally.MultiProcessRegistry is None, reason="Unix only")

N = 2_000


def _record(path, worker, n):
    """A worker's workload: the inference set and a labelled family, `n` events each."""
    reg = tally.multiprocess.registry(path)
    stats = reg.inference_stats("inference")
    jobs = reg.family("jobs", ["kind"], counters=["done"], gauges=["busy"], histograms={"size": tally.histogram(unit="bytes")})
    for k in range(n):
        stats.record_inference(success=k % 10 != 0, cache_hit=k % 3 == 0, latency_s=k / 1e6)
        jobs.labels("even" if k % 2 == 0 else "odd").record(done=1, busy=1, size=k)
    return worker


def _expected(workers, n):
    failed = workers * sum(1 for k in range(n) if k % 10 == 0)
    hits = workers * sum(1 for k in range(n) if k % 3 == 0)
    return workers * n, failed, hits


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_exited_pool_workers_add_up_exactly_and_their_gauges_are_dropped(tmp_path, method):
    tally.multiprocess.prepare(str(tmp_path))
    ctx = mp.get_context(method)
    with ctx.Pool(3) as pool:
        assert sorted(pool.starmap(_record, [(str(tmp_path), w, N) for w in range(6)])) == list(range(6))
    reg = tally.multiprocess.registry(str(tmp_path))
    snap = reg.collect()
    total, failed, hits = _expected(6, N)
    s = snap.get("inference")
    assert (s.total_inferences, s.failed_inferences, s.cache_hits) == (total, failed, hits)
    assert s.successful_inferences + s.failed_inferences == s.total_inferences
    assert s.cache_hits + s.cache_misses == s.total_inferences
    assert s.latency_ns.count == total
    assert snap.get("jobs", "even").done == 6 * N // 2
    assert snap.get("jobs", "odd").size.count == 6 * N // 2
    assert snap.get("jobs", "even").busy == 0, "an exited worker's gauge is dropped"
    # Folded into the archive and removed: nothing of the exited workers is left but it.
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tally")]


def _record_then_wait(path, n, ready, kept):
    reg = tally.multiprocess.registry(path)
    stats = reg.inference_stats("inference")
    gauges = reg.metric_set("load", gauges=["queued", "busy"], keep_gauges=kept)
    for k in range(n):
        stats.record_inference(success=True, cache_hit=k % 2 == 0)
    gauges.record(queued=7, busy=3)
    ready.set()
    time.sleep(3600)


@pytest.mark.parametrize("kept", [False, True, ["busy"]])
def test_a_worker_killed_with_sigkill_loses_nothing_it_recorded(tmp_path, kept):
    tally.multiprocess.prepare(str(tmp_path))
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    p = ctx.Process(target=_record_then_wait, args=(str(tmp_path), N, ready, kept))
    p.start()
    assert ready.wait(60), "the worker never recorded"
    reg = tally.multiprocess.registry(str(tmp_path))
    alive = reg.collect()
    assert alive.get("inference").total_inferences == N
    assert alive.get("load").queued == 7, "a live worker's gauge counts"
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    assert p.exitcode == -signal.SIGKILL
    for _ in range(3):  # folded once, however many collections follow
        snap = reg.collect()
        assert snap.get("inference").total_inferences == N
        assert snap.get("inference").cache_hits == N // 2
        assert snap.get("load").queued == (7 if kept is True else 0), "kept only if declared"
        assert snap.get("load").busy == (0 if kept is False else 3), "kept only if declared"


def _hammer(path, stop):
    reg = tally.multiprocess.registry(path)
    stats = reg.inference_stats("inference")
    k = 0
    while not stop.is_set():
        stats.record_inference(success=k % 7 != 0, cache_hit=k % 2 == 0, latency_s=1e-4)
        k += 1


def test_collections_are_coherent_and_never_go_back_while_workers_record(tmp_path):
    tally.multiprocess.prepare(str(tmp_path))
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    workers = [ctx.Process(target=_hammer, args=(str(tmp_path), stop)) for _ in range(3)]
    for w in workers:
        w.start()
    reg = tally.multiprocess.registry(str(tmp_path))
    last, seen = 0, 0
    try:
        for i in range(300):
            snap = reg.collect()
            if "inference" not in snap.names():
                continue
            s = snap.get("inference")
            assert s.successful_inferences + s.failed_inferences == s.total_inferences
            assert s.cache_hits + s.cache_misses == s.total_inferences
            assert s.latency_ns.count == s.total_inferences
            assert s.total_inferences >= last, f"went back from {last} to {s.total_inferences}"
            last = s.total_inferences
            seen += 1
            if i == 150:  # one of them is killed mid-stream
                os.kill(workers[0].pid, signal.SIGKILL)
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert seen > 100 and last > 0
    final = reg.collect().get("inference")
    assert final.successful_inferences + final.failed_inferences == final.total_inferences >= last


def _short_lived(path):
    reg = tally.multiprocess.registry(path)
    reg.inference_stats("inference").record_inference(success=True, cache_hit=False)


def test_what_a_collection_reads_grows_with_live_workers_not_with_workers_that_ran(tmp_path):
    tally.multiprocess.prepare(str(tmp_path))
    reg = tally.multiprocess.registry(str(tmp_path))
    ctx = mp.get_context("fork")
    for round in range(4):
        procs = [ctx.Process(target=_short_lived, args=(str(tmp_path),)) for _ in range(25)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        assert reg.collect().get("inference").total_inferences == 25 * (round + 1)
        # Exited workers' files are folded and removed: the directory does not pile up.
        assert sorted(os.listdir(tmp_path)) == ["archive.json", "collect.lock"]


def test_a_recording_thread_pool_in_one_worker_adds_up(tmp_path):
    tally.multiprocess.prepare(str(tmp_path))
    reg = tally.multiprocess.registry(str(tmp_path))
    stats = reg.inference_stats("inference")

    def run():
        for _ in range(N):
            stats.record_inference(success=True, cache_hit=True)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reg.collect().get("inference").total_inferences == 4 * N


def test_bad_set_up_and_bad_input_are_refused_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("TALLY_MULTIPROC_DIR", raising=False)
    with pytest.raises(ValueError, match="TALLY_MULTIPROC_DIR"):
        tally.multiprocess.registry()
    reg = tally.multiprocess.registry(str(tmp_path))
    reg.metric_set("a", counters=["n"])
    with pytest.raises(tally.DuplicateNameError):
        reg.metric_set("a", counters=["n"])
    with pytest.raises(tally.InvalidNameError):
        reg.metric_set("not a name", counters=["n"])
    fam = reg.family("f", ["model"], counters=["n"])
    with pytest.raises(ValueError, match="one per label"):
        fam.labels("a", "b")
    s = reg.metric_set("b", counters=["n"], gauges=["g"])
    with pytest.raises(tally.UnknownFieldError):
        s.record(nope=1)
    with pytest.raises(ValueError, match="not a gauge"):
        reg.metric_set("c", counters=["n"], gauges=["g"], keep_gauges=["n"])
    with pytest.raises(TypeError, match="keep_gauges"):
        reg.metric_set("d", gauges=["g"], keep_gauges=3)
    with pytest.raises(TypeError, match="nothing was recorded"):
        s.record(n=1, g="x")  # every value checked before any is recorded
    s.record(n=2)
    assert reg.collect().get("b").n == 2, "the refused event recorded nothing"


def test_the_wsgi_app_serves_every_workers_counts(tmp_path):
    tally.multiprocess.prepare(str(tmp_path))
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_record, args=(str(tmp_path), w, 100)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    reg = tally.multiprocess.registry(str(tmp_path))
    status = []
    body = b"".join(tally.make_wsgi_app(reg)({"REQUEST_METHOD": "GET"}, lambda s, h: status.append(s)))
    assert status == ["200 OK"]
    assert b"inference_total_inferences_total 200\n" in body
