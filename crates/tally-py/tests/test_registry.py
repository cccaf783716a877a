"""Registries, labelled families and exposition."""

import threading
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

import tally


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_global_registry_is_one_registry_for_every_thread():
    name = unique("global_set")
    seen = []

    def look():
        seen.append(tally.global_registry())

    threads = [threading.Thread(target=look) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = tally.REGISTRY.metric_set(name, counters=["x"])
    s.record(x=3)
    assert all(name in r.names() for r in seen)
    assert seen[0].snapshot().get(name).x == 3


def test_family_series_are_created_once_and_capped():
    reg = tally.Registry()
    fam = reg.family("requests_by_route", ["route", "code"], counters=["requests"], cardinality_limit=3)
    assert fam.label_names == ["route", "code"] and fam.cardinality_limit == 3
    a = fam.labels("/a", "200")
    a.record(requests=1)
    fam.labels("/a", "200").record(requests=1)  # the same series
    for route in ["/b", "/c", "/d", "/e"]:
        fam.labels(route, "200").record(requests=1)
    assert len(fam) == 3
    assert fam.overflow_redirects == 2
    snap = fam.snapshot()
    assert snap[("/a", "200")].requests == 2
    assert snap[(tally.OVERFLOW_LABEL, tally.OVERFLOW_LABEL)].requests == 2
    assert sum(s.requests for s in snap.values()) == 6
    assert reg.snapshot().to_dict()["requests_by_route"]["overflow_redirects"] == 2


def test_inference_family_children_are_inference_stats():
    reg = tally.Registry()
    fam = reg.inference_family("inference_by_model", ["model"], help="Per model.")
    resnet = fam.labels("resnet")
    assert isinstance(resnet, tally.InferenceStats) and isinstance(resnet, tally.MetricSet)
    resnet.record_inference(success=True, cache_hit=True, latency_s=0.004)
    assert reg.snapshot().get("inference_by_model", "resnet").success_rate == 1.0


def test_exposition_parses_with_prometheus_client():
    reg = tally.Registry()
    stats = reg.inference_stats("inference", help="All requests.")
    for i in range(10):
        stats.record_inference(success=i != 3, cache_hit=i % 2 == 0, latency_s=0.002 * (i + 1))
    fam = reg.family("jobs", ["kind"], counters=["done"], gauges=["queued"])
    fam.labels("etl").record(done=2, queued=5)
    families = {f.name: f for f in text_string_to_metric_families(reg.expose())}
    total = families["inference_total_inferences"].samples[0]
    assert total.value == 10
    latency = families["inference_latency_seconds"]
    count = [s for s in latency.samples if s.name.endswith("_count")][0]
    assert count.value == 10
    done = families["jobs_done"].samples[0]
    assert done.labels == {"kind": "etl"} and done.value == 2
    assert reg.expose(openmetrics=True).endswith("# EOF\n")


def test_registry_snapshot_round_trips_and_pickles():
    import pickle

    reg = tally.Registry()
    reg.metric_set("a", counters=["x"]).record(x=4)
    snap = reg.snapshot()
    assert tally.RegistrySnapshot.from_json(snap.to_json()) == snap
    assert pickle.loads(pickle.dumps(snap)) == snap
    assert snap.names() == ["a"]
    with pytest.raises(KeyError):
        snap.get("b")
    doubled = snap.merge(snap)
    assert doubled.get("a").x == 8


def _exposed_total(snap, family_name):
    families = {f.name: f for f in text_string_to_metric_families(snap.expose())}
    return sum(s.value for s in families[family_name].samples if s.name.endswith("_total"))


def test_merges_of_an_overflowed_family_expose_every_count():
    """Regression: a family over its cardinality cap put its overflow series last, the
    merge found series by binary search and duplicated them, and the exposition then
    dropped the duplicates in silence: merge(rs, rs) exposed 5 of 6 counts, a 3-way
    merge 6 of 9."""
    reg = tally.Registry()
    fam = reg.family("by_key", ["key"], counters=["hits"], cardinality_limit=2)
    for key in ["a", "b", "c"]:
        fam.labels(key).record(hits=1)
    rs = reg.snapshot()
    assert _exposed_total(rs, "by_key_hits") == 3
    assert _exposed_total(rs.merge(rs), "by_key_hits") == 6
    assert _exposed_total(rs.merge(rs).merge(rs), "by_key_hits") == 9
    # Through pickling (what a multiprocessing pool sends), in any order.
    import pickle

    back = pickle.loads(pickle.dumps(rs))
    assert _exposed_total(back.merge(rs).merge(back), "by_key_hits") == 9
    assert _exposed_total(rs.merge(back.merge(rs)), "by_key_hits") == 9


def test_a_snapshot_that_breaks_the_rules_is_refused_on_the_way_in():
    """Regression: a deserialized snapshot with a bad metric name was accepted, then left
    out of expose() in silence. It is refused, naming what is wrong."""
    reg = tally.Registry()
    reg.metric_set("good", counters=["x"]).record(x=1)
    text = reg.snapshot().to_json().replace('"good"', '"bad name"')
    with pytest.raises(tally.DecodeError, match="bad name"):
        tally.RegistrySnapshot.from_json(text)
