"""tally.push_to_gateway and siblings, against a real Pushgateway (Debian's
prometheus-pushgateway) started by the test: what a batch job pushes is what the gateway
shows, exactly; bad arguments are refused before anything is sent."""

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import tally

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PROGRAM = "prometheus-pushgateway"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gateway():
    if shutil.which(PROGRAM) is None:
        if os.environ.get("TALLY_REQUIRE_EXTERNAL") == "1":
            pytest.fail(f"{PROGRAM} is required (TALLY_REQUIRE_EXTERNAL=1): apt-get install -y {PROGRAM}")
        pytest.skip(f"{PROGRAM} is not installed: apt-get install -y {PROGRAM}")
    port = free_port()
    proc = subprocess.Popen(
        [PROGRAM, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with OPENER.open(url + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "no pushgateway in 30 s"
            time.sleep(0.05)
        yield f"127.0.0.1:{port}", url
    finally:
        proc.kill()
        proc.wait()


def samples(url):
    with OPENER.open(url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return [s for f in text_string_to_metric_families(text) for s in f.samples]


def value(all_samples, name, **labels):
    found = [s.value for s in all_samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return found[0] if len(found) == 1 else None


def test_a_batch_jobs_final_counts_reach_the_gateway_exactly(gateway):
    address, url = gateway
    reg = tally.Registry()
    stats = reg.inference_stats("batch")

    def work(n):
        for i in range(n):
            stats.record_inference(success=i % 10 != 0, cache_hit=i % 3 == 0, latency_s=0.001 * (i % 7))

    threads = [threading.Thread(target=work, args=(5_000,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally.push_to_gateway(address, job="py_batch", registry=reg, grouping_key={"instance": "w1"})
    got = samples(url)
    snap = reg.snapshot().get("batch")
    for field in ("total_inferences", "successful_inferences", "failed_inferences", "cache_hits", "cache_misses"):
        assert value(got, f"batch_{field}_total", job="py_batch", instance="w1") == getattr(snap, field), field
    assert value(got, "batch_total_inferences_total", job="py_batch", instance="w1") == 20_000
    assert value(got, "batch_latency_seconds_count", job="py_batch", instance="w1") == 20_000

    # pushadd keeps the group's other metrics; delete removes the group.
    other = tally.Registry()
    other.inference_stats("extra").record_inference(success=True, cache_hit=False)
    tally.pushadd_to_gateway(address, job="py_batch", registry=other, grouping_key={"instance": "w1"})
    got = samples(url)
    assert value(got, "batch_total_inferences_total", job="py_batch", instance="w1") == 20_000
    assert value(got, "extra_total_inferences_total", job="py_batch", instance="w1") == 1
    tally.delete_from_gateway(url, job="py_batch", grouping_key={"instance": "w1"})
    assert value(samples(url), "batch_total_inferences_total", job="py_batch") is None


def test_grouping_values_of_any_kind_round_trip(gateway):
    address, url = gateway
    reg = tally.Registry()
    reg.inference_stats("batch").record_inference(success=True, cache_hit=True)
    key = {"path": "/data/shard 7", "note": ""}
    tally.push_to_gateway(address, job="a/b", registry=reg, grouping_key=key)
    assert value(samples(url), "batch_total_inferences_total", job="a/b", path="/data/shard 7") == 1


def test_bad_arguments_are_refused_and_an_absent_gateway_is_an_oserror():
    reg = tally.Registry()
    with pytest.raises(ValueError, match="job name is empty"):
        tally.push_to_gateway("localhost:9091", job="", registry=reg)
    with pytest.raises(ValueError, match="grouping label \"job\""):
        tally.push_to_gateway("localhost:9091", job="j", registry=reg, grouping_key={"job": "x"})
    with pytest.raises(ValueError, match="does not start with http"):
        tally.push_to_gateway("ftp://gw", job="j", registry=reg)
    with pytest.raises(TypeError, match="grouping_key"):
        tally.push_to_gateway("localhost:9091", job="j", registry=reg, grouping_key=[("a", "b")])
    with pytest.raises(OSError, match="is the pushgateway running there"):
        tally.push_to_gateway(f"127.0.0.1:{free_port()}", job="j", registry=reg, timeout=2)
