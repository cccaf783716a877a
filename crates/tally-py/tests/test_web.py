"""make_wsgi_app and make_asgi_app: /metrics mounted in a web framework's own server, the
format negotiated by Accept, scraped while requests are recorded; the ASGI app never
blocks its event loop."""

import asyncio
import threading
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families
from prometheus_client.parser import text_string_to_metric_families

import tally

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def test_the_wsgi_app_serves_the_registry_in_the_negotiated_format():
    reg = tally.Registry()
    stats = reg.inference_stats("web")
    for i in range(1000):
        stats.record_inference(success=i % 4 != 0, cache_hit=False, latency_s=0.002)
    server = make_server("127.0.0.1", 0, tally.make_wsgi_app(reg), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        with OPENER.open(url, timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            families = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
        assert families["web_total_inferences"].samples[0].value == 1000
        assert families["web_failed_inferences"].samples[0].value == 250
        req = urllib.request.Request(url, headers={"Accept": OPENMETRICS})
        with OPENER.open(req, timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
            text = resp.read().decode()
        assert text.endswith("# EOF\n")
        families = {f.name: f for f in om_families(text)}
        assert families["web_latency_seconds"].type == "histogram"
        req = urllib.request.Request(url, data=b"x", method="POST")
        try:
            OPENER.open(req, timeout=10)
            raise AssertionError("POST answered")
        except urllib.error.HTTPError as e:
            assert e.code == 405 and e.headers["Allow"] == "GET, HEAD"
    finally:
        server.shutdown()
        server.server_close()


async def _call(app, method="GET", accept=None):
    sent = []
    headers = [(b"accept", accept.encode())] if accept else []
    scope = {"type": "http", "method": method, "path": "/metrics", "headers": headers}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


def test_the_asgi_app_serves_the_registry_and_answers_lifespan():
    reg = tally.Registry()
    stats = reg.inference_stats("api")
    stats.record_inference(success=True, cache_hit=True, latency_s=0.001)
    app = tally.make_asgi_app(reg)

    async def scenario():
        status, headers, body = await _call(app)
        assert status == 200 and headers[b"content-type"].startswith(b"text/plain; version=0.0.4")
        assert int(headers[b"content-length"]) == len(body)
        assert b"api_total_inferences_total 1" in body
        status, headers, body = await _call(app, accept=OPENMETRICS)
        assert headers[b"content-type"].startswith(b"application/openmetrics-text") and body.endswith(b"# EOF\n")
        status, headers, body = await _call(app, method="HEAD")
        assert status == 200 and body == b"" and int(headers[b"content-length"]) > 0
        status, headers, _ = await _call(app, method="DELETE")
        assert status == 405 and headers[b"allow"] == b"GET, HEAD"
        # Lifespan: started and stopped.
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        outbox = []

        async def receive():
            return inbox.pop(0)

        async def send(message):
            outbox.append(message["type"])

        await app({"type": "lifespan"}, receive, send)
        assert outbox == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

    asyncio.run(scenario())


def test_scrapes_through_the_asgi_app_keep_the_loop_running_and_see_whole_events():
    """Tasks record while others scrape through the app: a ticker task keeps ticking (the
    loop is never blocked), and every scrape's figures are whole (successful + failed ==
    total) and never go backwards."""
    reg = tally.Registry()
    stats = reg.inference_stats("busy")
    app = tally.make_asgi_app(reg)

    async def scenario():
        stop = asyncio.Event()
        ticks = 0

        async def ticker():
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        async def recorder(i):
            n = 0
            while not stop.is_set():
                stats.record_inference(success=n % 3 != 0, cache_hit=False, latency_s=0.0001)
                n += 1
                if n % 100 == 0:
                    await asyncio.sleep(0)

        async def scraper():
            last = 0
            for _ in range(50):
                _, _, body = await _call(app)
                values = {}
                for family in text_string_to_metric_families(body.decode()):
                    for s in family.samples:
                        values[s.name] = s.value
                total = values["busy_total_inferences_total"]
                assert values["busy_successful_inferences_total"] + values["busy_failed_inferences_total"] == total
                assert total >= last
                last = total
            return last

        tasks = [asyncio.create_task(recorder(i)) for i in range(8)] + [asyncio.create_task(ticker())]
        seen = await scraper()
        stop.set()
        await asyncio.gather(*tasks)
        assert seen > 0 and ticks > 10

    asyncio.run(scenario())
