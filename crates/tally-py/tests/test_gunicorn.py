"""A real pre-fork server: gunicorn with 4 sync workers serves requests from a load
generator; one worker is killed with SIGKILL mid-run and gunicorn replaces it; every
scrape of /metrics during the run is coherent and never goes back, and the last one
equals, exactly, the requests the load generator saw answered."""

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import tally

gunicorn = pytest.importorskip("gunicorn", reason="gunicorn is installed by ci/test.sh")
pytestmark = pytest.mark.skipif(tally.MultiProcessRegistry is None, reason="Unix only")

WORKERS = 4
CLIENTS = 4
PER_PHASE = 600  # requests per client before the kill, and again after it

APP = '''
import os
import tally
import tally.multiprocess

registry = tally.multiprocess.registry()
stats = registry.inference_stats("inference", help="Requests served.")
metrics = tally.make_wsgi_app(registry)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/metrics":
        return metrics(environ, start_response)
    if path == "/pid":
        body = str(os.getpid()).encode()
    else:
        k = int(environ["QUERY_STRING"].split("=")[1])
        # Recorded before the answer: an answered request is always counted.
        stats.record_inference(success=k % 10 != 0, cache_hit=k % 3 == 0, latency_s=k / 1e7)
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''

CONF = '''
import tally.multiprocess

workers = {workers}
bind = "127.0.0.1:{port}"
worker_class = "sync"
timeout = 120
graceful_timeout = 5


def on_starting(server):
    tally.multiprocess.prepare()
'''

SAMPLE = re.compile(r"^(inference_[a-z_]+) (\d+)$", re.M)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _scrape(port):
    status, body = _get(port, "/metrics")
    assert status == 200
    samples = {name: int(v) for name, v in SAMPLE.findall(body.decode())}
    return samples


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def test_gunicorn_workers_one_killed_with_sigkill_add_up_exactly(tmp_path):
    port = _free_port()
    metrics_dir = tmp_path / "metrics"
    (tmp_path / "mp_app.py").write_text(APP)
    (tmp_path / "gunicorn.conf.py").write_text(CONF.format(workers=WORKERS, port=port))
    env = dict(os.environ, TALLY_MULTIPROC_DIR=str(metrics_dir), PYTHONPATH=str(tmp_path))
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "mp_app:app"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(600):  # until it answers (bounded by a count of polls)
            try:
                if _get(port, "/pid")[0] == 200 and len(_children(server.pid)) == WORKERS:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read().decode()
            time.sleep(0.05)
        else:
            pytest.fail("gunicorn never answered")

        answered = []  # the k of every request answered with "ok"
        lock = threading.Lock()
        problems = []
        go = threading.Event()

        def client(c, phase):
            for i in range(PER_PHASE):
                k = (phase * CLIENTS + c) * PER_PHASE + i
                status, body = _get(port, f"/work?k={k}")
                if status == 200 and body == b"ok":
                    with lock:
                        answered.append(k)
                else:
                    problems.append((k, status, body))

        scrapes = []
        victims = []
        scraping = threading.Event()

        def scraper():
            while not scraping.is_set():
                s = _scrape(port)
                if s:
                    scrapes.append(s)
                time.sleep(0.01)

        watcher = threading.Thread(target=scraper)
        watcher.start()
        try:
            for phase in range(2):
                clients = [threading.Thread(target=client, args=(c, phase)) for c in range(CLIENTS)]
                for t in clients:
                    t.start()
                for t in clients:
                    t.join()
                if phase == 0:
                    # Mid-run, with no request in flight (a request in flight when its worker
                    # dies is neither answered nor surely counted), one worker is killed.
                    victim = _children(server.pid)[0]
                    victims.append(victim)
                    os.kill(victim, signal.SIGKILL)
                    for _ in range(600):
                        kids = _children(server.pid)
                        if victim not in kids and len(kids) == WORKERS:
                            break
                        time.sleep(0.05)
                    else:
                        pytest.fail("gunicorn did not replace the killed worker")
        finally:
            scraping.set()
            watcher.join()
        assert not problems, problems[:5]

        final = _scrape(port)
        ks = answered
        expected = {
            "inference_total_inferences_total": len(ks),
            "inference_successful_inferences_total": sum(1 for k in ks if k % 10 != 0),
            "inference_failed_inferences_total": sum(1 for k in ks if k % 10 == 0),
            "inference_cache_hits_total": sum(1 for k in ks if k % 3 == 0),
            "inference_cache_misses_total": sum(1 for k in ks if k % 3 != 0),
        }
        assert len(ks) == 2 * CLIENTS * PER_PHASE
        for name, value in expected.items():
            assert final[name] == value, (name, final[name], value)
        assert final["inference_latency_seconds_count"] == len(ks)

        # Every scrape during the run: coherent, and never going back.
        assert len(scrapes) > 10
        last = 0
        for s in scrapes:
            total = s["inference_total_inferences_total"]
            assert s["inference_successful_inferences_total"] + s["inference_failed_inferences_total"] == total, s
            assert s["inference_cache_hits_total"] + s["inference_cache_misses_total"] == total, s
            assert total >= last, (last, total)
            last = total
        # The killed worker's file was folded and removed: a file per live worker at most.
        files = [f for f in os.listdir(metrics_dir) if f.endswith(".tally")]
        assert len(files) <= WORKERS, files
        assert not [f for f in files if f.startswith(f"{victims[0]}-")], files
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
