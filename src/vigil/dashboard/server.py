"""The dashboard's HTTP server: vigil_shared.http_server, as the scanner's HTTP API uses it.

Bounded as the scanner's API is (`Limits`' defaults): an 8 KiB head, a 64 KiB body, 10 s to
send the request, at most 64 connections at once (more get 503). A streamed answer
(Server-Sent Events) goes on until the client leaves or the server closes; closing answers no
request still waiting (the page reconnects on its own).
"""

from __future__ import annotations

from vigil_shared import http_server
from vigil_shared.http_server import Answer, App, Request
from vigil_shared.logs import get_logger

__all__ = ["Answer", "App", "HttpServer", "Request"]

log = get_logger("vigil.dashboard")


class HttpServer(http_server.HttpServer):
    def __init__(self, app: App, *, port: int, address: str) -> None:
        super().__init__(app, port=port, address=address, name="dashboard", log=log)
