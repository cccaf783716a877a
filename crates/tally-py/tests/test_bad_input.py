"""Bad input: a clear exception, nothing recorded, the set still usable."""

import math

import pytest

import tally


def make_set():
    return tally.MetricSet(counters=["requests", "errors"], gauges=["depth"], histograms=["latency_ns"])


def totals(s):
    snap = s.snapshot()
    return (snap.requests, snap.errors, snap.depth, snap.latency_ns.count)


@pytest.mark.parametrize(
    "fields, error, words",
    [
        ({"requests": 1, "reqests": 1}, tally.UnknownFieldError, "no field 'reqests'"),
        ({"requests": 1, "errors": -1}, ValueError, "counter 'errors' got -1"),
        ({"requests": 1, "latency_ns": math.nan}, ValueError, "finite number >= 0"),
        ({"requests": 1, "latency_ns": -5.0}, ValueError, "finite number >= 0"),
        ({"requests": 1, "latency_ns": -5}, ValueError, "observations must be >= 0"),
        ({"requests": 1, "latency_ns": math.inf}, ValueError, "finite number >= 0"),
        ({"requests": 1.5}, TypeError, "counter 'requests' got a float"),
        ({"requests": "1"}, TypeError, "got a str"),
        ({"requests": 2**64}, OverflowError, "increment >= 0"),
        ({"depth": 2**63}, OverflowError, "signed 64-bit"),
    ],
)
def test_a_bad_field_raises_clearly_and_records_nothing(fields, error, words):
    s = make_set()
    s.record(requests=1, depth=2, latency_ns=10)
    before = totals(s)
    with pytest.raises(error) as info:
        s.record(**fields)
    assert words.replace("'", '"') in str(info.value)
    assert "nothing was recorded" in str(info.value) or error is tally.UnknownFieldError
    assert totals(s) == before
    s.record(requests=1, latency_ns=20)  # still usable
    assert totals(s) == (before[0] + 1, 0, 2, 2)


def test_unknown_field_is_a_tally_error_and_a_value_error():
    s = make_set()
    with pytest.raises(tally.TallyError):
        s.record(nope=1)
    with pytest.raises(ValueError):
        s.record(nope=1)


@pytest.mark.parametrize("latency", [math.nan, -0.001, math.inf, -math.inf])
def test_record_inference_rejects_a_bad_latency_and_records_nothing(latency):
    stats = tally.InferenceStats()
    stats.record_inference(success=True, cache_hit=True, latency_s=0.01)
    with pytest.raises(ValueError, match="latency_s"):
        stats.record_inference(success=True, cache_hit=False, latency_s=latency)
    snap = stats.snapshot()
    assert (snap.total_inferences, snap.cache_misses, snap.latency_ns.count) == (1, 0, 1)
    stats.record_inference(success=False, cache_hit=False, latency_s=0.02)
    assert stats.snapshot().total_inferences == 2


def test_record_inference_takes_bools_only():
    stats = tally.InferenceStats()
    with pytest.raises(TypeError):
        stats.record_inference(success="yes")
    assert stats.snapshot().total_inferences == 0


def test_recorder_with_wrong_arity_or_bad_value_records_nothing():
    s = make_set()
    rec = s.recorder("requests", "latency_ns")
    with pytest.raises(TypeError, match="takes 2 values"):
        rec(1)
    with pytest.raises(ValueError):
        rec(1, -1)
    assert totals(s) == (0, 0, 0, 0)
    rec(1, 5)
    assert totals(s) == (1, 0, 0, 1)
    with pytest.raises(tally.UnknownFieldError):
        s.recorder("requests", "nope")
    with pytest.raises(tally.DuplicateNameError):
        s.recorder("requests", "requests")


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"counters": ["9lives"]}, tally.InvalidNameError),
        ({"counters": ["a-b"]}, tally.InvalidNameError),
        ({"counters": ["a"], "gauges": ["a"]}, tally.DuplicateNameError),
        ({"counters": ["to_dict"]}, tally.InvalidNameError),
        ({"counters": ["__class__"]}, tally.InvalidNameError),
        ({"counters": "requests"}, TypeError),
        ({}, ValueError),
    ],
)
def test_bad_field_declarations_are_refused(kwargs, error):
    with pytest.raises(error):
        tally.MetricSet(**kwargs)


@pytest.mark.parametrize("name", ["9metric", "has space", "__reserved", "dash-ed", ""])
def test_invalid_metric_names_are_refused_and_register_nothing(name):
    reg = tally.Registry()
    with pytest.raises(tally.InvalidNameError, match="Prometheus metric-name rules"):
        reg.metric_set(name, counters=["x"])
    with pytest.raises(tally.InvalidNameError):
        reg.inference_stats(name)
    assert reg.names() == []
    reg.metric_set("ok_name", counters=["x"]).record(x=1)
    assert reg.snapshot().get("ok_name").x == 1


@pytest.mark.parametrize("label", ["9x", "__x", "a-b", ""])
def test_invalid_label_names_are_refused_and_register_nothing(label):
    reg = tally.Registry()
    with pytest.raises(tally.InvalidNameError, match="label name"):
        reg.family("by_label", [label], counters=["x"])
    with pytest.raises(tally.InvalidNameError):
        reg.inference_family("inference_by_label", ["model", label])
    assert reg.names() == []


def test_duplicate_names_are_refused():
    reg = tally.Registry()
    reg.inference_stats("inference")
    with pytest.raises(tally.DuplicateNameError, match="already registered"):
        reg.metric_set("inference", counters=["x"])
    with pytest.raises(tally.DuplicateNameError):
        reg.family("fam", ["a", "a"], counters=["x"])
    assert reg.names() == ["inference"]


def test_wrong_label_count_raises_and_creates_no_series():
    reg = tally.Registry()
    fam = reg.inference_family("by_model", ["model", "version"])
    with pytest.raises(tally.TallyError, match="2 labels"):
        fam.labels("resnet")
    assert len(fam) == 0


def test_garbage_bytes_are_a_decode_error():
    with pytest.raises(tally.DecodeError):
        tally.Snapshot.from_bytes(b"\x00not json")
    with pytest.raises(tally.DecodeError):
        tally.Snapshot.from_json('{"fields": [], "values": [1]}')
    with pytest.raises(tally.DecodeError):
        tally.RegistrySnapshot.from_json("[]")


def test_merging_snapshots_of_different_sets_is_refused():
    a = tally.MetricSet(counters=["x"]).snapshot()
    b = tally.MetricSet(counters=["y"]).snapshot()
    with pytest.raises(tally.SnapshotMismatchError):
        a.merge(b)
    with pytest.raises(TypeError):
        a + 1


def test_quantile_outside_zero_one_is_refused():
    s = tally.InferenceStats()
    s.record_inference(latency_s=0.001)
    with pytest.raises(ValueError, match="outside"):
        s.snapshot().latency_quantile(1.5)
