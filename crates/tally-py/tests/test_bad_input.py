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
    with pytest.raises(ValueError, match=r"q must be a number in \[0, 1\], got 1.5"):
        s.snapshot().latency_quantile(1.5)


# Every argument the native module converts: a bad value raises TypeError (wrong type) or
# ValueError (out of range) whose message starts with the argument's name and says what it
# accepts, as `port must be an integer in 0..=65535, got 70000`. (PyO3's own conversions
# said only "out of range integral type conversion attempted".)
I64 = "an integer in -9223372036854775808..=9223372036854775807"
U64_OR_NONE = "an integer in 0..=18446744073709551615, or None"


def a_set():
    s = tally.MetricSet(counters=["requests"], histograms=["latency_ns"])
    s.record(requests=1, latency_ns=10)
    return s


def a_window():
    s = a_set()
    first = s.latest()
    return s.refresh().since(first)


def a_registry_snapshot():
    reg = tally.Registry()
    reg.inference_family("by_model", ["model"]).labels("m").record_inference()
    return reg.snapshot()


BAD_ARGUMENTS = {
    # tally.serve
    "port too big": (lambda: tally.serve(port=70000), ValueError,
                     "port must be an integer in 0..=65535, got 70000"),
    "port negative": (lambda: tally.serve(port=-1), ValueError,
                      "port must be an integer in 0..=65535, got -1"),
    "port huge": (lambda: tally.serve(port=2**100), ValueError,
                  "port must be an integer in 0..=65535, got 1267"),
    "port str": (lambda: tally.serve(port="80"), TypeError,
                 "port must be an integer in 0..=65535, got '80' (a str)"),
    "port float": (lambda: tally.serve(port=80.0), TypeError,
                   "port must be an integer in 0..=65535, got 80.0 (a float)"),
    "port bool": (lambda: tally.serve(port=True), TypeError,
                  "port must be an integer in 0..=65535, got True (a bool)"),
    "host int": (lambda: tally.serve(port=0, host=1), TypeError,
                 'host must be a str holding an IP address such as "127.0.0.1"'),
    "host name": (lambda: tally.serve(port=0, host="localhost"), ValueError,
                  'host must be an IP address such as "127.0.0.1" or "::1", got "localhost"'),
    "registry": (lambda: tally.serve(port=0, registry="global"), TypeError,
                 "registry must be a tally.Registry, or None"),
    "max_age negative": (lambda: tally.serve(port=0, max_age=-1), ValueError,
                         "max_age must be a number of seconds >= 0, got -1"),
    "max_age nan": (lambda: tally.serve(port=0, max_age=math.nan), ValueError,
                    "max_age must be a number of seconds >= 0, got nan"),
    "max_age str": (lambda: tally.serve(port=0, max_age="1"), TypeError,
                    "max_age must be a number of seconds >= 0, got '1' (a str)"),
    # recording
    "success": (lambda: tally.InferenceStats().record_inference(success="yes"), TypeError,
                "success must be a bool (True or False), got 'yes' (a str)"),
    "cache_hit": (lambda: tally.InferenceStats().record_inference(cache_hit=1), TypeError,
                  "cache_hit must be a bool (True or False), got 1 (an int)"),
    "latency_s str": (lambda: tally.InferenceStats().record_inference(latency_s="0.1"), TypeError,
                      "latency_s must be a finite number of seconds >= 0, or None, got '0.1'"),
    "n too big": (lambda: tally.InferenceStats().request_started(2**63), ValueError,
                  f"n must be {I64}, got 9223372036854775808"),
    "n float": (lambda: tally.InferenceStats().request_finished(1.5), TypeError,
                f"n must be {I64}, got 1.5 (a float)"),
    # registries
    "name": (lambda: tally.Registry().metric_set(3, counters=["x"]), TypeError,
             "name must be a str, got 3 (an int)"),
    "help": (lambda: tally.Registry().inference_stats("m", help=3), TypeError,
             "help must be a str, got 3 (an int)"),
    "unit": (lambda: tally.Registry().metric_set("m", counters=["x"], unit=3), TypeError,
             'unit must be a str (such as "seconds" or "bytes"), or None, got 3'),
    "counters": (lambda: tally.MetricSet(counters="requests"), TypeError,
                 "counters must be a list of names (str), of (name, help) pairs, or a dict"),
    "labels": (lambda: tally.Registry().inference_family("f", "model"), TypeError,
               "labels must be a list of label names (str)"),
    "cardinality_limit zero": (
        lambda: tally.Registry().family("f", ["a"], counters=["x"], cardinality_limit=0),
        ValueError, "cardinality_limit must be an integer in 1..=18446744073709551615, or None, got 0"),
    "cardinality_limit str": (
        lambda: tally.Registry().inference_family("f", ["a"], cardinality_limit="10"),
        TypeError, "cardinality_limit must be an integer in 1..="),
    "label values": (lambda: tally.Registry().inference_family("f", ["model"]).labels(3),
                     TypeError, 'label values must be str, got 3 (an int) for label "model"'),
    "openmetrics": (lambda: tally.Registry().expose(openmetrics="yes"), TypeError,
                    "openmetrics must be a bool (True or False)"),
    # epochs and waits
    "after negative": (lambda: a_set().wait_for_next(after=-1, timeout=0), ValueError,
                       f"after must be {U64_OR_NONE}, got -1"),
    "timeout negative": (lambda: a_set().wait_for_next(timeout=-1), ValueError,
                         "timeout must be a number of seconds >= 0, or None, got -1"),
    "timeout str": (lambda: a_set().wait_until(bool, timeout="1"), TypeError,
                    "timeout must be a number of seconds >= 0, or None, got '1' (a str)"),
    "timeout of next_epoch": (lambda: a_set().next_epoch(timeout=-1), ValueError,
                              "timeout must be a number of seconds >= 0, or None"),
    "predicate": (lambda: a_set().wait_until(3), TypeError,
                  "predicate must be callable"),
    "predicate of until": (lambda: a_set().until("x"), TypeError,
                           "predicate must be callable"),
    "period zero": (lambda: a_set().start_refresher(0), ValueError,
                    "period must be a number of seconds > 0, got 0"),
    "period inf": (lambda: a_set().start_refresher(math.inf), ValueError,
                   "period must be a number of seconds > 0, got inf"),
    "recorder names": (lambda: a_set().recorder("requests", 3), TypeError,
                       "names must be field names (str), got 3 (an int) at position 1"),
    "earlier epoch": (lambda: a_set().latest().since(3), TypeError,
                      "earlier must be a tally.Epoch, got 3 (an int)"),
    "window rate": (lambda: a_window().rate(3), TypeError,
                    "name must be a str"),
    # snapshots
    "q above 1": (lambda: a_set().snapshot().quantile(1.5), ValueError,
                  "q must be a number in [0, 1], got 1.5"),
    "q str": (lambda: a_set().snapshot().quantile("0.5"), TypeError,
              "q must be a number in [0, 1], got '0.5' (a str)"),
    "q of a histogram": (lambda: a_set().snapshot().latency_ns.quantile(-0.5), ValueError,
                         "q must be a number in [0, 1], got -0.5"),
    "field": (lambda: a_set().snapshot().quantile(0.5, field=3), TypeError,
              "field must be a str (a histogram field's name), or None"),
    "numerator": (lambda: tally.InferenceStats().snapshot().ratio(1, "total_inferences"),
                  TypeError, "numerator must be a str"),
    "denominator": (lambda: tally.InferenceStats().snapshot().ratio("cache_hits", None),
                    TypeError, "denominator must be a str"),
    "snapshot get": (lambda: a_set().snapshot().get(3), TypeError, "name must be a str"),
    "text": (lambda: tally.Snapshot.from_json(b"{}"), TypeError,
             "text must be a str (what to_json() returned), got b'{}' (a bytes)"),
    "data": (lambda: tally.Snapshot.from_bytes("{}"), TypeError,
             "data must be bytes (what to_bytes() returned), got '{}' (a str)"),
    "other": (lambda: a_set().snapshot().merge({}), TypeError,
              "other must be a tally.Snapshot, got {} (a dict)"),
    "earlier snapshot": (lambda: a_set().snapshot().delta(None), TypeError,
                         "earlier must be a tally.Snapshot, got None (a NoneType)"),
    "snapshots": (lambda: tally.merge(3), TypeError,
                  "snapshots must be an iterable of tally.Snapshot, got 3 (an int)"),
    "snapshots item": (lambda: tally.merge([a_set().snapshot(), 3]), TypeError,
                       "snapshots must be an iterable of tally.Snapshot, got 3 (an int) at position 1"),
    "snapshots empty": (lambda: tally.merge([]), ValueError,
                        "snapshots must hold at least one tally.Snapshot"),
    "registry snapshot get": (lambda: a_registry_snapshot().get("by_model", 3), TypeError,
                              "labels must be str (label values), got 3 (an int) at position 0"),
    "registry snapshot text": (lambda: tally.RegistrySnapshot.from_json(None), TypeError,
                               "text must be a str"),
    "registry snapshot data": (lambda: tally.RegistrySnapshot.from_bytes(3), TypeError,
                               "data must be bytes"),
    "registry snapshot other": (lambda: a_registry_snapshot().merge(a_set().snapshot()),
                                TypeError, "other must be a tally.RegistrySnapshot, got "),
    "registry snapshot openmetrics": (lambda: a_registry_snapshot().expose(openmetrics=None),
                                      TypeError, "openmetrics must be a bool"),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS, ids=list(BAD_ARGUMENTS))
def test_a_bad_argument_is_named_with_what_it_accepts(case):
    call, error, message = BAD_ARGUMENTS[case]
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(message), str(info.value)


def test_a_bad_latency_names_the_argument_and_records_nothing():
    stats = tally.InferenceStats()
    with pytest.raises(ValueError) as info:
        stats.record_inference(latency_s=-1.0)
    assert str(info.value) == (
        "latency_s must be a finite number of seconds >= 0, or None, got -1.0 (nothing was recorded)"
    )
    assert stats.snapshot().total_inferences == 0


def test_the_ends_of_each_range_are_accepted():
    reg = tally.Registry()
    # Huge numbers of seconds mean "no limit" (they used to panic, converted to a duration).
    for max_age in [0, 0.5, 1e300]:
        with tally.serve(port=0, registry=reg, max_age=max_age):
            pass
    s = a_set()
    with s.start_refresher(1e300):
        pass
    s.refresh()
    assert s.wait_for_next(after=0, timeout=1e300).number >= 1  # there already
    with pytest.raises(TimeoutError):
        s.wait_for_next(after=2**64 - 1, timeout=0)
    assert reg.family("f", ["a"], counters=["x"], cardinality_limit=1).cardinality_limit == 1
    stats = tally.InferenceStats()
    stats.request_started(2**63 - 1)
    stats.request_finished(-(2**63))
    stats.record_inference(success=False, cache_hit=True, latency_s=0)
    snap = s.snapshot()
    assert snap.quantile(0) == snap.quantile(1) == 10
    assert snap.latency_ns.quantile(0.5) == 10
