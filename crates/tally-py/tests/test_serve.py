"""tally.serve: the Rust /metrics endpoint in the background, stopped by its handle."""

import json
import socket
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import tally


# Straight to 127.0.0.1, whatever proxy the environment names.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url, accept=None):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with OPENER.open(req, timeout=10) as resp:
        return resp.headers.get("Content-Type"), resp.read().decode()


def test_serve_exposes_the_registry_and_stops():
    reg = tally.Registry()
    stats = reg.inference_stats("inference")
    stats.record_inference(success=True, cache_hit=False, latency_s=0.01)
    with tally.serve(port=0, registry=reg, max_age=0) as server:
        assert server.running and server.host == "127.0.0.1" and server.port != 0
        _, text = get(server.url)
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["inference_total_inferences"].samples[0].value == 1
        stats.record_inference(success=False, cache_hit=True)
        _, text = get(server.url)  # max_age=0: every scrape collects
        assert "inference_total_inferences_total 2" in text
        ctype, om = get(server.url, accept="application/openmetrics-text; version=1.0.0")
        assert ctype.startswith("application/openmetrics-text") and om.endswith("# EOF\n")
        _, js = get(server.url + ".json")
        assert "inference" in json.loads(js)["metrics"]
        port = server.port
    assert not server.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    server.stop()  # idempotent


def test_serve_on_a_taken_port_raises_oserror():
    with tally.serve(port=0, registry=tally.Registry()) as first:
        with pytest.raises(OSError, match="cannot serve metrics"):
            tally.serve(port=first.port, registry=tally.Registry())


def test_serve_rejects_a_host_that_is_not_an_ip():
    with pytest.raises(ValueError, match="host must be an IP address"):
        tally.serve(port=0, host="localhost:80")


def test_idle_connections_never_keep_a_scrape_waiting():
    """More idle connections than the server's 64 slots (silent, or sending half a request
    head): at the limit a new connection closes the one idle the longest, so a scrape is
    answered at once, not after the idle ones' 10 s header-read timeout."""
    reg = tally.Registry()
    reg.inference_stats("inference").record_inference(success=True, cache_hit=False)
    with tally.serve(port=0, registry=reg, max_age=0) as server:
        idle = []
        try:
            for i in range(100):
                s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                if i % 5 == 0:
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n")  # never finished
                idle.append(s)
            start = time.monotonic()
            _, text = get(server.url)
            took = time.monotonic() - start
            assert "inference_total_inferences_total 1" in text
            # Generous: the old server made it wait up to 10 s.
            assert took < 2.0, f"a scrape behind 100 idle connections took {took:.2f} s"
        finally:
            for s in idle:
                s.close()
