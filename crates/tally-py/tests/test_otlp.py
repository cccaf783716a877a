"""tally.start_otlp_exporter against an OTLP/HTTP receiver written here, which decodes
every post with the official `opentelemetry-proto` package: what arrives is the
registry's snapshot, point for point; deltas add up to the totals; the standard OTEL_*
variables set it up; a receiver that is down is reported, never raised; bad arguments are
refused with messages that say what to write."""

import math
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

import tally

OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
)


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch):
    """Each test sets the variables it is about; none leak in from the environment."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


class Receiver:
    """An OTLP/HTTP receiver on a free local port: decodes each post, keeps it, answers 200
    with an empty ExportMetricsServiceResponse."""

    def __init__(self):
        self.requests = []
        self.headers = []
        self.problems = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    if self.path != "/v1/metrics":
                        receiver.problems.append(f"posted to {self.path}")
                    if self.headers.get("Content-Type") != "application/x-protobuf":
                        receiver.problems.append(f"content type {self.headers.get('Content-Type')}")
                    request = ExportMetricsServiceRequest()
                    request.ParseFromString(body)
                    receiver.requests.append(request)
                    receiver.headers.append(dict(self.headers))
                answer = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self):
        with self.lock:
            assert not self.problems, self.problems
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def metrics_of(request):
    (rm,) = request.resource_metrics
    (sm,) = rm.scope_metrics
    assert sm.scope.name == "tally"
    return {m.name: m for m in sm.metrics}


def resource_of(request):
    return {a.key: a.value.string_value for a in request.resource_metrics[0].resource.attributes}


def model_of(point):
    (attr,) = [a for a in point.attributes if a.key == "model"]
    return attr.value.string_value


def points_by_model(metric):
    kind = metric.WhichOneof("data")
    return {model_of(p): p for p in getattr(metric, kind).data_points}


MODELS = ("bert", "llama", "resnet")
EPS = 2.0**-5  # tally.histogram's default precision: the relative error of a bucket


def make_work(reg):
    return reg.family(
        "work",
        ["model"],
        help="Batch work.",
        counters=["requests", "failed"],
        gauges=["queued"],
        float_counters={"busy": tally.field(unit="seconds")},
        float_gauges={"fill": tally.field(unit="ratio")},
        histograms={"latency": tally.histogram(unit="seconds", min=1e-6, max=100)},
    )


def record(work, latencies, start, n):
    """Records requests start..start+n, spread over the models; keeps each latency."""
    for k in range(start, start + n):
        model = MODELS[k % 3]
        latency = 0.0 if k % 97 == 0 else 1e-6 + (k * 2654435761 % 1_000_000) * 1e-6
        latencies.setdefault(model, []).append(latency)
        work.labels(model).record(
            requests=1,
            failed=1 if k % 10 == 3 else 0,
            queued=1 if k % 2 == 0 else -1,
            busy=0.25,
            fill=0.125,
            latency=latency,
        )
    return start + n


def check_buckets(point, values):
    """Every recorded value is counted within the documented bound: the cumulative count at
    each bucket's upper bound u lies between the values <= u(1 - eps) and <= u(1 + eps)."""
    assert point.zero_count == sum(1 for v in values if v == 0)
    base = 2.0 ** (2.0**-point.scale)
    cumulative = point.zero_count
    for i, c in enumerate(point.positive.bucket_counts):
        cumulative += c
        upper = base ** (point.positive.offset + i + 1)
        lo = sum(1 for v in values if v <= upper * (1 - EPS))
        hi = sum(1 for v in values if v <= upper * (1 + EPS))
        assert lo <= cumulative <= hi, (point.positive.offset + i, cumulative, lo, hi)
    assert cumulative == len(values) == point.count


def check_cumulative(request, snapshot, latencies):
    """A cumulative request is the snapshot, point for point."""
    cumulative = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    got = metrics_of(request)
    assert {"work_requests", "work_failed", "work_queued", "work_busy_seconds", "work_fill_ratio",
            "work_latency_seconds"} <= set(got)
    assert (got["work_busy_seconds"].unit, got["work_fill_ratio"].unit, got["work_latency_seconds"].unit) == (
        "s", "1", "s")
    for name in ("work_requests", "work_failed", "work_busy_seconds"):
        assert got[name].sum.is_monotonic and got[name].sum.aggregation_temporality == cumulative, name
    assert got["work_latency_seconds"].exponential_histogram.aggregation_temporality == cumulative
    for model in MODELS:
        snap = snapshot.get("work", model)
        assert points_by_model(got["work_requests"])[model].as_int == snap.requests
        assert points_by_model(got["work_failed"])[model].as_int == snap.failed
        assert points_by_model(got["work_queued"])[model].as_int == snap.queued
        assert points_by_model(got["work_busy_seconds"])[model].as_double == snap.busy
        assert points_by_model(got["work_fill_ratio"])[model].as_double == snap.fill
        h = snap.latency
        p = points_by_model(got["work_latency_seconds"])[model]
        assert p.count == h.count == len(latencies[model])
        assert p.sum == h.sum_in_unit
        assert (p.min, p.max) == (h.min_in_unit, h.max_in_unit)
        check_buckets(p, latencies[model])


def test_the_exported_points_decode_to_the_snapshot_exactly(receiver):
    reg = tally.Registry()
    work = make_work(reg)
    latencies = {}
    k = record(work, latencies, 0, 300)
    exporter = tally.start_otlp_exporter(
        receiver.endpoint,
        registry=reg,
        interval_s=0.02,
        service_name="py-eval",
        resource={"deployment.environment": "test"},
        headers={"x-api-key": "k-123"},
    )
    assert exporter.running and exporter.url == receiver.endpoint + "/v1/metrics"
    assert exporter.temporality == "cumulative"
    # Keep recording until the loop has exported twice (bounded by a count of polls).
    for _ in range(3000):
        if exporter.report()["exported"] >= 2:
            break
        k = record(work, latencies, k, 30)
        time.sleep(0.01)
    else:
        pytest.fail(f"the exporter never exported twice: {exporter.report()}")
    k = record(work, latencies, k, 123)
    report = exporter.stop()
    assert not exporter.running
    assert report["exported"] == len(receiver.received()) >= 3
    assert (report["failed_attempts"], report["dropped_batches"], report["refused_values"]) == (0, 0, 0)
    assert report["points_exported"] == report["exported"] * 3 * 6
    assert exporter.stop() == report, "stopping again returns the same report"
    # The last export (at stop) holds everything recorded.
    last = receiver.received()[-1]
    check_cumulative(last, reg.snapshot(), latencies)
    assert sum(p.as_int for p in points_by_model(metrics_of(last)["work_requests"]).values()) == k
    resource = resource_of(last)
    assert resource["service.name"] == "py-eval"
    assert resource["deployment.environment"] == "test"
    assert resource["telemetry.sdk.name"] == "tally"
    assert all(h.get("x-api-key") == "k-123" for h in receiver.headers)
    # Cumulative: one start time for every point of every export.
    starts = {p.start_time_unix_nano for r in receiver.received()
              for p in metrics_of(r)["work_requests"].sum.data_points}
    assert len(starts) == 1


def test_delta_exports_add_up_to_the_final_snapshot_exactly(receiver):
    reg = tally.Registry()
    work = make_work(reg)
    latencies = {}
    k = 0
    with tally.start_otlp_exporter(receiver.endpoint, registry=reg, interval_s=0.02, temporality="delta") as exp:
        assert exp.temporality == "delta"
        for _ in range(3000):
            if exp.report()["exported"] >= 4:
                break
            k = record(work, latencies, k, 20)
            time.sleep(0.01)
        else:
            pytest.fail(f"the exporter never exported 4 times: {exp.report()}")
    assert not exp.running, "leaving the block stopped it"
    received = receiver.received()
    delta = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    sums = {model: {"requests": 0, "failed": 0, "busy": 0.0, "count": 0} for model in MODELS}
    windows = []
    for request in received:
        got = metrics_of(request)
        if "work_requests" not in got:
            continue  # collected before the first record
        assert got["work_requests"].sum.aggregation_temporality == delta
        for model, p in points_by_model(got["work_requests"]).items():
            sums[model]["requests"] += p.as_int
            windows.append((p.start_time_unix_nano, p.time_unix_nano))
        for model, p in points_by_model(got["work_failed"]).items():
            sums[model]["failed"] += p.as_int
        for model, p in points_by_model(got["work_busy_seconds"]).items():
            sums[model]["busy"] += p.as_double
        for model, p in points_by_model(got["work_latency_seconds"]).items():
            assert not p.HasField("min") and not p.HasField("max"), "a delta's min and max are left out"
            sums[model]["count"] += p.count
    final = reg.snapshot()
    for model in MODELS:
        snap = final.get("work", model)
        assert sums[model]["requests"] == snap.requests, model
        assert sums[model]["failed"] == snap.failed, model
        assert sums[model]["busy"] == snap.busy, model  # quarter seconds: every delta exact
        assert sums[model]["count"] == snap.latency.count, model
    assert sum(s["requests"] for s in sums.values()) == k
    # Consecutive exports tile time: each starts where the previous one ended.
    ends = sorted(set(windows))
    assert all(b[0] == a[1] for a, b in zip(ends, ends[1:])), ends


def test_the_standard_environment_variables_set_it_up(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "region=eu%2Dwest,k8s.pod.name=p-1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=t7")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")
    reg = tally.Registry()
    reg.metric_set("jobs", counters=["done"]).record(done=5)
    exporter = tally.start_otlp_exporter(registry=reg, interval_s=60)
    assert exporter.url == receiver.endpoint + "/v1/metrics"
    assert exporter.temporality == "delta"
    report = exporter.stop()
    assert report["exported"] == 1, report
    (request,) = receiver.received()
    resource = resource_of(request)
    assert (resource["service.name"], resource["region"], resource["k8s.pod.name"]) == ("from-env", "eu-west", "p-1")
    assert receiver.headers[0].get("x-tenant") == "t7"
    assert metrics_of(request)["jobs_done"].sum.data_points[0].as_int == 5
    # An argument given wins over its variable.
    exporter = tally.start_otlp_exporter(registry=reg, interval_s=60, service_name="arg", temporality="cumulative")
    assert exporter.temporality == "cumulative"
    exporter.stop()
    assert resource_of(receiver.received()[-1])["service.name"] == "arg"


def test_an_integer_counter_beyond_what_otlp_holds_is_refused_not_rounded(receiver):
    reg = tally.Registry()
    big = reg.metric_set("big", counters=["moved"], gauges=["level"])
    big.record(moved=2**63, level=3)
    report = tally.start_otlp_exporter(receiver.endpoint, registry=reg, interval_s=60).stop()
    assert report["refused_values"] == 1
    (refused,) = report["refused"]
    assert refused["metric"] == "big_moved" and "2^63" in refused["reason"], refused
    (request,) = receiver.received()
    got = metrics_of(request)
    assert "big_moved" not in got, "not sent rounded"
    assert got["big_level"].gauge.data_points[0].as_int == 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_receiver_that_is_down_is_reported_not_raised():
    reg = tally.Registry()
    reg.metric_set("jobs", counters=["done"]).record(done=1)
    exporter = tally.start_otlp_exporter(
        f"http://127.0.0.1:{free_port()}", registry=reg, interval_s=60, timeout_s=0.5, flush_timeout_s=0.3
    )
    report = exporter.stop()
    assert report["exported"] == 0
    assert report["failed_attempts"] >= 1, report
    assert report["dropped_batches"] == 1 and report["dropped_points"] == 1, report
    (dropped,) = report["dropped"]
    assert dropped["reason"] == "unsent" and dropped["batches"] == 1
    assert dropped["from_s"] <= dropped["to_s"] and math.isfinite(dropped["to_s"])
    assert "is the OTLP receiver" in report["last_error"], report


def test_bad_arguments_are_refused_with_messages_that_say_what_to_write(monkeypatch):
    reg = tally.Registry()
    with pytest.raises(ValueError, match="http://localhost:4318"):
        tally.start_otlp_exporter("localhost:4318", registry=reg)
    with pytest.raises(ValueError, match='temporality must be "cumulative" or "delta"'):
        tally.start_otlp_exporter(registry=reg, temporality="sometimes")
    with pytest.raises(ValueError, match="buffer must be an integer in 1"):
        tally.start_otlp_exporter(registry=reg, buffer=0)
    with pytest.raises(ValueError, match="interval_s must be a number of seconds > 0"):
        tally.start_otlp_exporter(registry=reg, interval_s=0)
    with pytest.raises(ValueError, match="bad:name"):
        tally.start_otlp_exporter(registry=reg, headers={"bad:name": "v"})
    with pytest.raises(ValueError, match="its key is empty"):
        tally.start_otlp_exporter(registry=reg, resource={"": "v"})
    with pytest.raises(TypeError, match="registry must be a tally.Registry"):
        tally.start_otlp_exporter(registry="global")
    with pytest.raises(TypeError, match="headers must be a dict of str to str"):
        tally.start_otlp_exporter(registry=reg, headers=[("a", "b")])
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_PROTOCOL.*http/protobuf"):
        tally.start_otlp_exporter(registry=reg)
