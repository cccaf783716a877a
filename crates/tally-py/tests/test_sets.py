"""Run-time sets, snapshots and epochs: the Python face of tally's guarantees."""

import json
import pickle
import threading
import time

import pytest

import tally
from conftest import tiny_switch_interval


def test_one_record_call_is_one_event_under_concurrent_readers():
    s = tally.MetricSet(counters=["requests", "ok", "failed", "bytes"], histograms=["size"])
    rec = s.recorder("requests", "failed", "bytes", "size")
    done = threading.Event()
    bad = []

    def write(w):
        for i in range(3_000):
            if i % 4 == 0:
                rec(1, 1, 100, 100)
            else:
                s.record(requests=1, ok=1, bytes=100, size=100)

    def read():
        while not done.is_set():
            snap = s.snapshot()
            if not (
                snap.ok + snap.failed == snap.requests
                and snap.bytes == 100 * snap.requests
                and snap.size.count == snap.requests
            ):
                bad.append(snap)

    with tiny_switch_interval(1e-5):
        readers = [threading.Thread(target=read) for _ in range(2)]
        writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join()
        done.set()
        for t in readers:
            t.join()
    assert bad == []
    snap = s.snapshot()
    assert snap.requests == 12_000 and snap.failed == 3_000 and snap.size.count == 12_000


def test_snapshot_is_immutable_and_has_field_attributes():
    s = tally.MetricSet(
        counters={"requests": "Requests seen."}, gauges=[("depth", "Queue depth.")],
        last_values=["temperature"], histograms=["latency_ns"],
    )
    s.record(requests=2, depth=5, temperature=-40, latency_ns=1_000)
    s.record(depth=-2, latency_ns=3_000.4)
    snap = s.snapshot()
    s.record(requests=100)
    assert (snap.requests, snap.depth, snap.temperature) == (2, 3, -40)
    assert snap.latency_ns.count == 2 and snap.latency_ns.min == 1_000
    assert snap.fields == ["requests", "depth", "temperature", "latency_ns"]
    assert snap.get("nope", 7) == 7
    with pytest.raises(AttributeError, match="no field 'nope'".replace("'", '"')):
        snap.nope
    with pytest.raises(AttributeError):
        snap.requests = 5
    assert s.fields == [("requests", "counter"), ("depth", "gauge"), ("temperature", "last_value"), ("latency_ns", "histogram")]


def test_inference_snapshot_rates_quantiles_and_dict():
    stats = tally.InferenceStats()
    for i in range(100):
        stats.record_inference(success=i % 4 != 0, cache_hit=i % 2 == 0, latency_s=(i + 1) / 1000)
    snap = stats.snapshot()
    assert snap.success_rate == 0.75
    assert snap.cache_hit_rate == 0.5
    assert snap.is_coherent()
    p99 = snap.latency_quantile(0.99)
    assert abs(p99 - 0.099) <= 0.099 / 32
    assert snap.quantile(0.5) == snap.quantile(0.5, field="latency_ns")
    d = snap.to_dict()
    assert d["total_inferences"] == 100 and d["latency_ns"]["count"] == 100
    assert sum(c for _, _, c in d["latency_ns"]["buckets"]) == 100
    assert tally.InferenceStats().snapshot().success_rate == 0.0
    with pytest.raises(AttributeError):
        tally.MetricSet(counters=["x"]).snapshot().success_rate


def test_in_flight_gauge_goes_up_and_down():
    stats = tally.InferenceStats()
    stats.request_started()
    stats.request_started(2)
    stats.request_finished()
    assert stats.snapshot().in_flight == 2


def test_json_bytes_and_pickle_round_trip_exactly():
    stats = tally.InferenceStats()
    stats.record_inference(True, False, 0.003)
    snap = stats.snapshot()
    assert tally.Snapshot.from_json(snap.to_json()) == snap
    assert tally.Snapshot.from_bytes(snap.to_bytes()) == snap
    assert pickle.loads(pickle.dumps(snap)) == snap
    assert json.loads(snap.to_json())["fields"][0]["name"] == "total_inferences"


def test_merge_and_delta_are_exact():
    s = tally.InferenceStats()
    s.record_inference(True, True, 0.001)
    a = s.snapshot()
    s.record_inference(False, False, 0.002)
    b = s.snapshot()
    both = a + b
    assert both.total_inferences == 3 and both.latency_ns.count == 3
    assert tally.merge([a, b, a]).total_inferences == 4
    d = b - a
    assert (d.total_inferences, d.failed_inferences, d.latency_ns.count) == (1, 1, 1)
    with pytest.raises(tally.SnapshotMismatchError, match="backwards"):
        a - b


def test_epochs_latest_refresh_and_rates():
    s = tally.MetricSet(counters=["requests"])
    e0 = s.latest()
    assert e0.number == 0 and e0.snapshot.requests == 0
    s.record(requests=10)
    assert s.latest().snapshot.requests == 0  # published, not live
    time.sleep(0.01)
    e1 = s.refresh()
    assert e1.number == 1 and s.latest().number == 1 and e1.snapshot.requests == 10
    w = e1.since(e0)
    assert w.delta.requests == 10 and w.requests == 10
    assert w.elapsed > 0 and w.rate("requests") == pytest.approx(10 / w.elapsed)
    assert set(w.rates()) == {"requests"}
    with pytest.raises(tally.SnapshotMismatchError):
        e0.since(e1)


def test_wait_for_next_and_wait_until_see_a_refresher():
    s = tally.MetricSet(counters=["requests"])
    after = s.latest().number
    with s.start_refresher(0.005) as refresher:
        assert refresher.running
        assert s.wait_for_next(after, timeout=30).number > after
        threading.Thread(target=lambda: [s.record(requests=1) for _ in range(50)]).start()
        e = s.wait_until(lambda snap: snap.requests == 50, timeout=30)
        assert e.snapshot.requests == 50
    assert not refresher.running
    with pytest.raises(TimeoutError):
        s.wait_for_next(timeout=0.01)
    with pytest.raises(ZeroDivisionError):
        s.wait_until(lambda snap: 1 / 0, timeout=1)
