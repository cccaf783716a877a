"""Values and units: floats, seconds and bytes are recorded as a prometheus_client user
writes them, and the value recorded is the value exposed, exactly. Nothing is rounded
to 0 or dropped in silence: a value tally cannot take raises, and nothing of its event is
recorded."""

import datetime
import math
import pickle
import threading
import time

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families

import tally
from conftest import tiny_switch_interval

PARSERS = {
    "text": (lambda reg: reg.expose(), text_families),
    "openmetrics": (lambda reg: reg.expose(openmetrics=True), openmetrics_families),
}


def exposed(reg, format):
    """`{sample name: {labels as a sorted tuple: value}}` of the registry's exposition,
    parsed back by prometheus_client's own parser of that format."""
    expose, parse = PARSERS[format]
    samples = {}
    for family in parse(expose(reg)):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def families(reg, format):
    expose, parse = PARSERS[format]
    return {f.name: f for f in parse(expose(reg))}


def bucket(samples, name, le):
    """The cumulative count of the `le` bucket (bounds compared as numbers)."""
    for labels, value in samples[name + "_bucket"].items():
        if float(dict(labels)["le"]) == le:
            return value
    raise KeyError(f"{name} has no bucket le={le}")


# --- the value recorded is the value exposed


@pytest.mark.parametrize("format", PARSERS)
def test_a_float_gauge_of_a_ratio_exposes_exactly_what_was_recorded(format):
    reg = tally.Registry()
    batcher = reg.metric_set("batcher", float_gauges={"queue_fill": tally.field(unit="ratio")})
    batcher.record(queue_fill=0.5)
    batcher.record(queue_fill=0.25)
    assert batcher.snapshot().queue_fill == 0.75
    assert exposed(reg, format)["batcher_queue_fill_ratio"] == {(): 0.75}
    if format == "openmetrics":
        assert families(reg, format)["batcher_queue_fill_ratio"].unit == "ratio"


@pytest.mark.parametrize("format", PARSERS)
@pytest.mark.parametrize(
    "declaration",
    [["latency"], {"latency": tally.histogram()}, {"latency": tally.histogram(unit="seconds")}],
    ids=["bare name", "tally.histogram()", "unit=seconds"],
)
def test_seconds_recorded_as_a_float_sum_to_exactly_what_was_recorded(declaration, format):
    reg = tally.Registry()
    http = reg.metric_set("http", histograms=declaration)
    http.record(latency=0.012)  # 12 ms, as prometheus_client's observe(0.012)
    h = http.snapshot().latency
    assert (h.count, h.sum, h.unit, h.decimals) == (1, 12_000_000, "seconds", 9)  # ns steps
    assert h.sum_in_unit == 0.012 and h.max_in_unit == 0.012
    samples = exposed(reg, format)
    assert samples["http_latency_seconds_sum"] == {(): 0.012}
    assert samples["http_latency_seconds_count"] == {(): 1}
    assert bucket(samples, "http_latency_seconds", 0.01) == 0
    assert bucket(samples, "http_latency_seconds", 0.025) == 1
    if format == "openmetrics":
        assert families(reg, format)["http_latency_seconds"].unit == "seconds"


def test_a_seconds_field_named_like_prometheus_client_records_twelve_milliseconds_not_zero():
    s = tally.MetricSet(histograms=["latency_s"])
    s.record(latency_s=0.012)
    assert s.snapshot().latency_s.sum == 12_000_000
    assert s.snapshot().latency_s.sum_in_unit == 0.012


@pytest.mark.parametrize("format", PARSERS)
def test_bytes_are_recorded_whole_with_bounds_and_sum_in_bytes(format):
    reg = tally.Registry()
    http = reg.metric_set("http", histograms={"response": tally.histogram(unit="bytes")})
    http.record(response=1536)
    h = http.snapshot().response
    assert (h.sum, h.sum_in_unit, h.unit, h.decimals) == (1536, 1536.0, "bytes", 0)
    samples = exposed(reg, format)
    assert samples["http_response_bytes_sum"] == {(): 1536}
    assert bucket(samples, "http_response_bytes", 1000) == 0
    assert bucket(samples, "http_response_bytes", 2500) == 1
    bounds = [float(dict(labels)["le"]) for labels in samples["http_response_bytes_bucket"]]
    assert 1024 * 1024 * 1024 < max(b for b in bounds if b != math.inf)  # bytes, not ns
    if format == "openmetrics":
        assert families(reg, format)["http_response_bytes"].unit == "bytes"


@pytest.mark.parametrize("format", PARSERS)
def test_a_float_counter_of_seconds_is_a_seconds_total(format):
    reg = tally.Registry()
    job = reg.metric_set("job", float_counters={"cpu": tally.field(unit="seconds", help="CPU time.")})
    for x in [0.125, 1.5, 0.1]:
        job.record(cpu=x)
    expected = 0.125 + 1.5 + 0.1  # added in this order, as one thread adds them
    assert job.snapshot().cpu == expected
    assert exposed(reg, format)["job_cpu_seconds_total"] == {(): expected}
    assert families(reg, format)["job_cpu_seconds"].type == "counter"


@pytest.mark.parametrize("format", PARSERS)
def test_a_float_last_value_is_the_newest_value_set(format):
    reg = tally.Registry()
    gpu = reg.metric_set("gpu", float_last_values={"busy": tally.field(unit="ratio"), "temp": tally.field(unit="celsius")})
    gpu.record(busy=0.75, temp=41.5)
    gpu.record(busy=0.8125)
    snap = gpu.snapshot()
    assert (snap.busy, snap.temp) == (0.8125, 41.5) and isinstance(snap.busy, float)
    samples = exposed(reg, format)
    assert samples["gpu_busy_ratio"] == {(): 0.8125}
    assert samples["gpu_temp_celsius"] == {(): 41.5}


@pytest.mark.parametrize("format", PARSERS)
def test_labelled_series_of_float_fields_are_exposed_exactly(format):
    reg = tally.Registry()
    fam = reg.family("worker", ["gpu"], float_gauges={"memory_used": tally.field(unit="bytes")})
    fam.labels("0").record(memory_used=1.5 * 2**30)
    fam.labels("1").record(memory_used=0.25)
    assert exposed(reg, format)["worker_memory_used_bytes"] == {
        (("gpu", "0"),): 1.5 * 2**30,
        (("gpu", "1"),): 0.25,
    }


def test_a_histogram_declared_by_range_keeps_its_low_end_within_the_precision():
    spec = tally.histogram(unit="seconds", min=1e-4, max=60, precision=5)
    assert (spec.unit, spec.decimals, spec.precision, spec.min, spec.max) == ("seconds", 6, 5, 1e-4, 60.0)
    s = tally.MetricSet(histograms={"rpc": spec})
    s.record(rpc=1e-4)
    s.record(rpc=2.5)
    h = s.snapshot().rpc
    assert h.sum == 2_500_100 and h.sum_in_unit == 2.5001  # steps of 1 µs
    assert h.min_in_unit == 1e-4
    p50 = h.quantile_in_unit(0.5)
    assert abs(p50 - 1e-4) <= 1e-4 / 32


def test_a_ratio_histogram_takes_ints_and_floats_in_its_unit():
    s = tally.MetricSet(histograms={"fill": tally.histogram(unit="ratio", min=0.001, max=1)})
    s.record(fill=1)  # a whole batch: 1, not one step
    s.record(fill=0.75)
    h = s.snapshot().fill
    assert (h.count, h.sum_in_unit, h.max_in_unit, h.min_in_unit) == (2, 1.75, 1.0, 0.75)
    assert [(lo <= 0.75 <= hi) or (lo <= 1 <= hi) for lo, hi, _ in h.buckets_in_unit()] == [True, True]


def test_plain_number_histograms_record_whole_numbers():
    s = tally.MetricSet(histograms={"tokens": tally.histogram(unit=None)})
    s.record(tokens=512)
    h = s.snapshot().tokens
    assert (h.unit, h.decimals, h.sum, h.sum_in_unit) == (None, 0, 512, 512.0)


def test_durations_are_recorded_exactly():
    s = tally.MetricSet(
        float_counters={"busy": tally.field(unit="seconds")},
        histograms={"latency": tally.histogram(), "response": tally.histogram(unit="bytes")},
    )
    s.record(latency=datetime.timedelta(milliseconds=12), busy=datetime.timedelta(microseconds=250_000))
    snap = s.snapshot()
    assert (snap.latency.sum, snap.busy) == (12_000_000, 0.25)
    with pytest.raises(TypeError, match="measures bytes, not seconds"):
        s.record(response=datetime.timedelta(seconds=1))
    with pytest.raises(ValueError, match="negative"):
        s.record(latency=datetime.timedelta(seconds=-1))


def test_a_recorder_takes_floats_as_record_does():
    s = tally.MetricSet(counters=["requests"], float_gauges=["load"], histograms=["latency"])
    rec = s.recorder("requests", "load", "latency")
    rec(1, 0.5, 0.012)
    snap = s.snapshot()
    assert (snap.requests, snap.load, snap.latency.sum_in_unit) == (1, 0.5, 0.012)
    with pytest.raises(ValueError, match="NaN"):
        rec(1, math.nan, 0.012)
    assert s.snapshot() == snap


# --- ints, floats and the kinds


def test_an_int_given_to_a_float_field_is_exact_up_to_2_to_the_53():
    s = tally.MetricSet(float_gauges=["x"])
    s.record(x=3)
    s.record(x=2**53 - 3)
    assert s.snapshot().x == float(2**53) and isinstance(s.snapshot().x, float)
    with pytest.raises(ValueError, match=r"beyond 2\^53"):
        s.record(x=2**53 + 1)
    with pytest.raises(ValueError, match=r"beyond 2\^53"):
        s.record(x=-(2**70))
    with pytest.raises(TypeError, match="got a bool"):
        s.record(x=True)
    with pytest.raises(TypeError, match="got a str"):
        s.record(x="0.5")
    assert s.snapshot().x == float(2**53)


@pytest.mark.parametrize(
    "kind, float_kind",
    [("counters", "float_counters"), ("gauges", "float_gauges"), ("last_values", "float_last_values")],
)
def test_a_float_given_to_an_integer_field_says_to_declare_a_float_kind(kind, float_kind):
    s = tally.MetricSet(**{kind: ["x"]})
    with pytest.raises(TypeError) as info:
        s.record(x=0.5)
    assert f"declare the field in {float_kind}=" in str(info.value)
    assert "nothing was recorded" in str(info.value)


def test_fields_report_the_float_kinds():
    s = tally.MetricSet(
        counters=["a"], float_counters=["b"], gauges=["c"], float_gauges=["d"],
        last_values=["e"], float_last_values=["f"], histograms=["g"],
    )
    assert s.fields == [
        ("a", "counter"), ("b", "counter_f64"), ("c", "gauge"), ("d", "gauge_f64"),
        ("e", "last_value"), ("f", "last_value_f64"), ("g", "histogram"),
    ]
    assert s.snapshot().fields == ["a", "b", "c", "d", "e", "f", "g"]


def test_old_declarations_keep_their_meaning():
    """Histograms declared by a bare name are the default histogram (seconds, in steps of
    1 ns), as before: ints are nanoseconds; a field named ..._ns takes nanoseconds, int or
    float (and is exposed as ..._seconds)."""
    reg = tally.Registry()
    s = reg.metric_set("api", counters=["requests"], histograms=["latency_ns", "wait"])
    s.record(requests=1, latency_ns=84_000, wait=5_000)
    s.record(latency_ns=1_000.4, wait=0.5)
    snap = s.snapshot()
    assert (snap.latency_ns.count, snap.latency_ns.sum) == (2, 85_000)
    assert snap.wait.sum == 500_005_000  # 5 µs as an int (ns), 0.5 s as a float
    samples = exposed(reg, "text")
    assert samples["api_latency_seconds_sum"] == {(): 85e-6}
    stats = tally.InferenceStats()
    stats.record(latency_ns=2_000_000)
    assert stats.snapshot().latency_quantile(1) == pytest.approx(0.002, rel=2**-5)


# --- refused values


def make_set():
    return tally.MetricSet(
        counters=["requests"],
        float_counters={"cpu": tally.field(unit="seconds")},
        float_gauges=["fill"],
        float_last_values=["temp"],
        histograms={"latency": tally.histogram(), "size": tally.histogram(unit="bytes"), "latency_ns": ""},
    )


REFUSED = [
    ("cpu", -0.5, "negative", "a negative value cannot be added to a counter"),
    ("cpu", -1, "negative", "a negative value cannot be added to a counter"),
    ("cpu", math.nan, "not_finite", "NaN and infinities cannot be recorded"),
    ("cpu", math.inf, "not_finite", "NaN and infinities cannot be recorded"),
    ("fill", math.nan, "not_finite", "NaN and infinities cannot be recorded"),
    ("fill", -math.inf, "not_finite", "NaN and infinities cannot be recorded"),
    ("temp", math.nan, "not_finite", "NaN and infinities cannot be recorded"),
    ("latency", -0.001, "negative", "recorded in a histogram"),
    ("latency", -1, "negative", "recorded in a histogram"),
    ("latency", math.nan, "not_finite", "NaN and infinities cannot be recorded"),
    ("latency", 1e11, "too_large", "beyond the histogram's 2^63 steps"),
    ("size", -1536, "negative", "recorded in a histogram"),
    ("size", 2**64, "too_large", "beyond the histogram's 2^63 steps"),
    ("latency_ns", -5.0, "negative", "recorded in a histogram"),
    ("latency_ns", math.inf, "not_finite", "NaN and infinities cannot be recorded"),
]


@pytest.mark.parametrize("field, value, reason, words", REFUSED, ids=[f"{f}={v!r}" for f, v, *_ in REFUSED])
def test_a_refused_value_raises_with_the_reason_and_its_event_is_absent(field, value, reason, words):
    s = make_set()
    s.record(requests=1, cpu=0.25, fill=0.5, temp=20.5, latency=0.001, size=100, latency_ns=10)
    before = s.snapshot()
    counted = tally.rejected_values()[reason]
    event = dict(requests=1, cpu=0.25, fill=0.5, temp=21.0, latency=0.002, size=200, latency_ns=20)
    event[field] = value
    with pytest.raises(ValueError) as info:
        s.record(**event)
    message = str(info.value)
    assert message.startswith(f'{dict(s.fields)[field]} "{field}" got {value!r}'), message
    assert words in message and message.endswith("(nothing was recorded)")
    assert s.snapshot() == before  # not one field of the event
    assert tally.rejected_values()[reason] == counted + 1
    s.record(**{**event, field: 0})  # the set is still usable
    assert s.snapshot().requests == 2


def test_a_float_last_value_may_be_infinite_and_only_nan_is_refused():
    s = tally.MetricSet(float_last_values=["estimate"])
    s.record(estimate=math.inf)
    assert s.snapshot().estimate == math.inf
    s.record(estimate=-math.inf)
    assert s.snapshot().estimate == -math.inf
    with pytest.raises(ValueError):
        s.record(estimate=math.nan)
    assert s.snapshot().estimate == -math.inf


def test_an_observation_past_the_range_is_counted_as_overflow_not_refused():
    s = tally.MetricSet(histograms={"latency": tally.histogram(unit="seconds", min=1e-3, max=10)})
    s.record(latency=3600.0)
    h = s.snapshot().latency
    assert (h.count, h.overflow, h.sum_in_unit) == (1, 1, 3600.0)


# --- declarations


def test_units_are_checked_when_declared():
    assert tally.UNITS == ("seconds", "bytes", "ratio", "celsius", "joules", "volts", "amperes", "meters", "grams")
    with pytest.raises(ValueError) as info:
        tally.field(unit="fortnights")
    assert str(info.value).startswith('unit must be one of "seconds", "bytes", "ratio",')
    assert "got 'fortnights'" in str(info.value)
    with pytest.raises(TypeError, match="unit must be one of"):
        tally.histogram(unit=3)
    assert tally.field(unit="none").unit is None and tally.field().unit is None


@pytest.mark.parametrize(
    "declare, error, words",
    [
        (lambda: tally.histogram(min=1e-4), ValueError, "give both min and max"),
        (lambda: tally.histogram(min=0, max=1), ValueError, "the low end must be a positive"),
        (lambda: tally.histogram(min=2, max=1), ValueError, "at least the low end"),
        (lambda: tally.histogram(precision=11), ValueError, "precision must be an integer in 1..=10"),
        (lambda: tally.histogram(unit="ratio"), ValueError, "needs its range"),
        (lambda: tally.MetricSet(histograms={"fill": tally.field(unit="ratio")}), ValueError, "needs its range"),
        (lambda: tally.MetricSet(counters={"x": tally.histogram()}), TypeError, "pass it in histograms="),
        (lambda: tally.MetricSet(float_gauges=[("x", 3)]), TypeError, "float_gauges must be a list of names"),
        (lambda: tally.MetricSet(float_gauges=[("x", "help", "extra")]), TypeError, "float_gauges must be"),
    ],
)
def test_bad_declarations_are_refused(declare, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(".", r"\.")):
        declare()


def test_a_declaration_may_give_a_help_and_a_unit_in_every_form():
    reg = tally.Registry()
    reg.metric_set(
        "svc",
        counters=[("sent", tally.field(unit="bytes", help="Bytes sent."))],
        float_gauges={"fill": tally.field(unit="ratio", help="Queue fill.")},
        histograms=[("latency", tally.histogram(unit="seconds", min=1e-4, max=60, help="Latency."))],
    ).record(sent=1536, fill=0.75, latency=0.012)
    fams = families(reg, "openmetrics")
    assert (fams["svc_sent_bytes"].documentation, fams["svc_sent_bytes"].unit) == ("Bytes sent.", "bytes")
    assert fams["svc_fill_ratio"].documentation == "Queue fill."
    assert fams["svc_latency_seconds"].documentation == "Latency."
    assert tally.histogram(unit="bytes", help="x") == tally.histogram(unit="bytes", help="x")
    # Among histograms, a tally.field without a unit is a help, as in {name: help}.
    s = tally.MetricSet(histograms={"wait": tally.field(help="Waits."), "size": tally.field(unit="bytes")})
    s.record(wait=5_000, size=1536)
    snap = s.snapshot()
    assert (snap.wait.unit, snap.wait.sum, snap.size.unit, snap.size.sum) == ("seconds", 5_000, "bytes", 1536)
    assert repr(tally.field(help="Waits.")) == 'tally.field(help="Waits.")'
    assert repr(tally.field(unit=None)) == "tally.field(unit=None)"
    assert repr(tally.histogram()) == "tally.histogram(unit='seconds', precision=5)"
    # The defaults: seconds in 1 ns steps to 100 s; whole bytes to 1 TiB; whole numbers.
    seconds, size, plain = tally.histogram(), tally.histogram(unit="bytes"), tally.histogram(unit=None)
    assert (seconds.decimals, seconds.max, seconds.precision) == (9, 100.0, 5)
    assert (size.decimals, size.max, plain.decimals, plain.unit) == (0, 2.0**40, 0, None)


# --- snapshots of float fields


def test_snapshots_of_float_fields_serialize_merge_and_subtract_exactly():
    s = tally.MetricSet(float_counters=["cpu"], float_gauges=["fill"], float_last_values=["temp"],
                        histograms={"latency": tally.histogram(unit="seconds", min=1e-4, max=60)})
    s.record(cpu=0.25, fill=-0.5, temp=1.5, latency=0.012)
    a = s.snapshot()
    s.record(cpu=0.5, fill=0.125, temp=2.5, latency=0.5)
    b = s.snapshot()
    for back in [tally.Snapshot.from_json(b.to_json()), tally.Snapshot.from_bytes(b.to_bytes()), pickle.loads(pickle.dumps(b))]:
        assert back == b and back.cpu == 0.75 and back.latency.sum_in_unit == 0.512
    both = a + b
    assert (both.cpu, both.fill, both.temp, both.latency.sum_in_unit) == (1.0, -0.875, 2.5, 0.524)
    d = b - a
    assert (d.cpu, d.fill, d.latency.count, d.latency.sum_in_unit) == (0.5, 0.125, 1, 0.5)
    assert b.ratio("cpu", "cpu") == 1.0
    assert b.to_dict()["cpu"] == 0.75 and b.to_dict()["latency"]["sum_in_unit"] == 0.512
    assert b.to_dict()["latency"]["unit"] == "seconds"
    with pytest.raises(tally.SnapshotMismatchError, match="backwards"):
        a - b


def test_window_rates_of_float_fields():
    s = tally.MetricSet(counters=["requests"], float_counters=["cpu"], float_last_values=["temp"])
    first = s.latest()
    s.record(requests=4, cpu=0.5, temp=3.0)
    time.sleep(0.01)
    w = s.refresh().since(first)
    assert w.cpu == 0.5 and w.rate("cpu") == pytest.approx(0.5 / w.elapsed)
    rates = w.rates()
    assert rates["temp"] is None and rates["requests"] == pytest.approx(4 / w.elapsed)


# --- concurrency


def test_concurrent_float_gauge_adds_sum_exactly():
    """Dyadic steps (quarters, eighths) are exact in binary: the total is known exactly,
    and every snapshot in between is a multiple of 1/8 (no torn or lost update)."""
    s = tally.MetricSet(float_gauges=["level"], float_counters=["work"])
    threads, rounds = 8, 2_000
    done = threading.Event()
    seen = []

    def write():
        for _ in range(rounds):
            s.record(level=0.25, work=0.25)
            s.record(level=-0.125)

    def read():
        last = 0.0
        while not done.is_set():
            snap = s.snapshot()
            seen.append((snap.level * 8).is_integer() and snap.work >= last)
            last = snap.work

    with tiny_switch_interval(1e-5):
        readers = [threading.Thread(target=read) for _ in range(2)]
        writers = [threading.Thread(target=write) for _ in range(threads)]
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join()
        done.set()
        for t in readers:
            t.join()
    snap = s.snapshot()
    assert snap.level == threads * rounds * 0.125
    assert snap.work == threads * rounds * 0.25
    assert seen and all(seen)
