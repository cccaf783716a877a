"""The seeds' three tests against the rewritten manager, and the naive manager side by
side under the same load."""

import threading
import time

import pytest

from conftest import tiny_switch_interval
from inference_manager import InferenceManager
from naive_manager import NaiveInferenceManager


@pytest.fixture(autouse=True)
def fresh_singletons():
    InferenceManager._reset_for_tests()
    NaiveInferenceManager._reset_for_tests()
    yield
    InferenceManager._reset_for_tests()
    NaiveInferenceManager._reset_for_tests()


def run_threads(n, target, args_of=lambda i: ()):
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        target(*args_of(i))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_twenty_threads_racing_get_one_instance_initialised_once():
    got = [None] * 20
    with tiny_switch_interval():
        run_threads(20, lambda i: got.__setitem__(i, InferenceManager.instance()), lambda i: (i,))
    assert all(g is got[0] for g in got)
    assert InferenceManager.initialisations == 1


def test_hundred_concurrent_requests_are_all_counted_exactly():
    manager = InferenceManager.instance()

    def request(i):
        try:
            manager.predict(i % 7, fail=(i % 10 == 0))
        except RuntimeError:
            pass

    with tiny_switch_interval():
        run_threads(100, request, lambda i: (i,))
    s = manager.get_stats()
    assert s["total_inferences"] == 100
    assert s["failed_inferences"] == 10
    assert s["successful_inferences"] == 90
    assert s["cache_hits"] + s["cache_misses"] == 100
    assert s["in_flight"] == 0


def violations_of(s):
    """The invariants get_stats() must keep; the names of those it breaks."""
    broken = []
    if s["successful_inferences"] + s["failed_inferences"] != s["total_inferences"]:
        broken.append("successful + failed != total")
    if s["cache_hits"] + s["cache_misses"] != s["total_inferences"]:
        broken.append("cache_hits + cache_misses != total")
    if not 0.0 <= s["success_rate"] <= 1.0:
        broken.append("success_rate outside [0, 1]")
    if not 0.0 <= s["cache_hit_rate"] <= 1.0:
        broken.append("cache_hit_rate outside [0, 1]")
    return broken


COUNTERS = ("total_inferences", "successful_inferences", "failed_inferences", "cache_hits", "cache_misses")


def load(manager, writers, per_writer, readers, pause=0.0):
    """`writers` threads send requests while `readers` threads call get_stats(); returns
    (final stats, reads, torn reads, reads where a counter went backwards). Readers
    sleep `pause` seconds between reads (50 spinning readers would starve the writers of
    the GIL)."""
    done = threading.Event()
    reads = torn = backwards = 0
    count_lock = threading.Lock()  # only for the test's own tallies, off the measured path

    def write(w):
        for i in range(per_writer):
            try:
                manager.predict((w * 31 + i) % 50, fail=(i % 9 == 0))
            except RuntimeError:
                pass

    def read():
        nonlocal reads, torn, backwards
        last = dict.fromkeys(COUNTERS, 0)
        my_reads = my_torn = my_back = 0
        while not done.is_set():
            s = manager.get_stats()
            my_reads += 1
            if violations_of(s):
                my_torn += 1
            if any(s[k] < last[k] for k in COUNTERS):
                my_back += 1
            last = {k: s[k] for k in COUNTERS}
            if pause:
                time.sleep(pause)
        with count_lock:
            reads += my_reads
            torn += my_torn
            backwards += my_back

    writer_threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader_threads = [threading.Thread(target=read) for _ in range(readers)]
    for t in reader_threads + writer_threads:
        t.start()
    for t in writer_threads:
        t.join()
    done.set()
    for t in reader_threads:
        t.join()
    return manager.get_stats(), reads, torn, backwards


def test_fifty_readers_see_no_invariant_violation_and_no_counter_going_backwards():
    with tiny_switch_interval(1e-5):
        final, reads, torn, backwards = load(InferenceManager.instance(), 4, 2_000, 50, pause=0.001)
    assert reads > 0
    assert torn == 0
    assert backwards == 0
    assert final["total_inferences"] == 4 * 2_000
    assert not violations_of(final)


def test_naive_manager_side_by_side_loses_and_tears_where_tally_does_not(capsys):
    writers, per_writer, readers = 4, 2_000, 2
    results = {}
    with tiny_switch_interval():
        for name, manager in (("naive +=", NaiveInferenceManager()), ("tally", InferenceManager.instance())):
            final, reads, torn, backwards = load(manager, writers, per_writer, readers)
            lost = writers * per_writer - final["total_inferences"]
            results[name] = (lost, reads, torn, backwards)
    with capsys.disabled():
        print()
        print(f"  {writers} writers x {per_writer} requests, {readers} readers, switch interval 1 us")
        for name, (lost, reads, torn, backwards) in results.items():
            print(f"  {name:9s} lost updates {lost:6d}   torn reads {torn:6d} of {reads:6d}   backwards {backwards}")
    lost, reads, torn, backwards = results["tally"]
    assert lost == 0
    assert torn == 0
    assert backwards == 0
    assert reads > 0
