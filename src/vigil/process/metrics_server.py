"""`--metrics-port`: the Prometheus endpoint of this process (all its services' figures),
served by the project's one HTTP server (vigil_shared.http_server).

What it answers is prometheus_client's own exposition app (make_wsgi_app: the text or
OpenMetrics format by Accept, gzip by Accept-Encoding, ?name[]= filters, any path), called
here per request instead of from a second, threaded server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app

from vigil_shared.http_server import Answer, HttpServer, Request

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class MetricsServer:
    def __init__(self, port: int, addr: str = "0.0.0.0") -> None:
        self.port = port
        self.addr = addr
        self.registry = CollectorRegistry()  # this process's own, not the library's global
        self._app: Wsgi = make_wsgi_app(self.registry)
        self._server: HttpServer | None = None

    def add(self, collector: Any) -> None:
        self.registry.register(collector)

    async def start(self) -> None:
        server = HttpServer(self.answer, port=self.port, address=self.addr, name="metrics")
        await server.start()
        self._server = server
        self.port = server.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def answer(self, request: Request) -> Answer:
        return wsgi_answer(self._app, request)


def wsgi_answer(app: Wsgi, request: Request) -> Answer:
    """`request` answered by the WSGI `app` (one that reads the method, path, query and the
    Accept headers only, as prometheus_client's)."""
    path, _, query = request.target.partition("?")
    environ: dict[str, Any] = {"REQUEST_METHOD": request.method, "PATH_INFO": path}
    environ["QUERY_STRING"] = query
    for header, key in (("accept", "HTTP_ACCEPT"), ("accept-encoding", "HTTP_ACCEPT_ENCODING")):
        if header in request.headers:
            environ[key] = request.headers[header]
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        started.append((status, headers))

    body = b"".join(app(environ, start_response))
    status, headers = started[0]
    return Answer(status=int(status.split()[0]), headers=list(headers), body=body)
