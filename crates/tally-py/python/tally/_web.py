"""``/metrics`` as a WSGI or an ASGI application, to mount in a web framework's own server
(as ``prometheus_client``'s ``make_wsgi_app`` and ``make_asgi_app`` are mounted).

The format follows the request's ``Accept`` header: Prometheus text unless OpenMetrics is
preferred. Collection and encoding run in Rust without the GIL; the ASGI app runs them on
the event loop's default executor, so the loop keeps serving while a scrape collects.

A per-request recording pattern for Starlette or FastAPI (any ASGI framework with
middleware)::

    import time
    import tally
    from fastapi import FastAPI

    app = FastAPI()
    requests = tally.REGISTRY.inference_family("http_requests", ["route"])

    @app.middleware("http")
    async def record(request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        requests.labels(request.url.path).record_inference(
            success=response.status_code < 500,
            cache_hit=False,
            latency_s=time.perf_counter() - start,
        )
        return response

    app.mount("/metrics", tally.make_asgi_app())

Recording never blocks the loop: it is one call into Rust with no lock and no await.
"""

import asyncio
from typing import Any, Awaitable, Callable, Dict, Iterable, List, MutableMapping, Optional, Tuple

from ._tally import Registry, _exposition

try:  # Unix only: shared-memory files.
    from ._tally import MultiProcessRegistry, _exposition_multiprocess
except ImportError:  # pragma: no cover
    MultiProcessRegistry = None
    _exposition_multiprocess = None

_ALLOW = "GET, HEAD"


def _expose(registry: Any, accept: Optional[str]) -> Tuple[str, str]:
    if MultiProcessRegistry is not None and isinstance(registry, MultiProcessRegistry):
        return _exposition_multiprocess(registry, accept)
    return _exposition(registry, accept)


def make_wsgi_app(registry: Optional[Registry] = None) -> Callable[..., Iterable[bytes]]:
    """A WSGI application that answers GET and HEAD with ``registry`` (default: the
    global registry; a ``tally.MultiProcessRegistry`` collects every worker) in the format
    the ``Accept`` header asks for, and 405 otherwise."""

    def app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response(
                "405 Method Not Allowed",
                [("Allow", _ALLOW), ("Content-Type", "text/plain; charset=utf-8")],
            )
            return [b"use GET or HEAD\n"]
        body, content_type = _expose(registry, environ.get("HTTP_ACCEPT"))
        data = body.encode()
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(data)))])
        return [b""] if method == "HEAD" else [data]

    return app


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def make_asgi_app(registry: Optional[Registry] = None) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI application that answers GET and HEAD with ``registry`` (default: the
    global registry) in the format the ``Accept`` header asks for, and 405 otherwise; it
    also answers the lifespan protocol, so that it can be served on its own."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            raise ValueError(f"tally's /metrics app serves HTTP, not {scope['type']!r}")
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, "text/plain; charset=utf-8", b"use GET or HEAD\n", [(b"allow", _ALLOW.encode())])
            return
        accept = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"accept"), None)
        loop = asyncio.get_running_loop()
        body, content_type = await loop.run_in_executor(None, _expose, registry, accept)
        data = body.encode()
        await _respond(send, 200, content_type, b"" if method == "HEAD" else data, [], len(data))

    return app


async def _respond(
    send: Send,
    status: int,
    content_type: str,
    body: bytes,
    extra: List[Tuple[bytes, bytes]],
    length: Optional[int] = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body) if length is None else length).encode()),
    ] + extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
