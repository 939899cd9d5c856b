"""The HTTP API (`--http-api-update`, `--http-api-metrics`): a small asyncio server.

HTTP/1.1 is parsed by h11; what to answer is decided in vigil_scanner.api_routes. One request
per connection (every answer says `Connection: close`). It is bounded: the request head may be
8 KiB and a body 64 KiB, the request must arrive within 10 s, at most 64 connections are
served at once (more get 503), and anything that is not HTTP gets 400. A request never takes
the server down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import h11
import msgspec

from vigil_scanner.api_routes import authorized, decide, error_body, outcome_answer
from vigil_scanner.trigger import Busy, CycleOutcome
from vigil_shared.logs import get_logger

log = get_logger("vigil.scanner.api")

Trigger = Callable[[tuple[str, ...]], Awaitable[CycleOutcome]]
MetricsText = Callable[[], tuple[bytes, str]]  # the exposition and its content type
# POST /v1/rollouts/{id}/approve: the status, headers and body to answer with.
Approve = Callable[[str], Awaitable[tuple[int, list[tuple[str, str]], bytes]]]

JSON = "application/json"


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    head_bytes: int = 8192
    body_bytes: int = 65536
    read_timeout: float = 10.0
    write_timeout: float = 10.0
    connections: int = 64
    retry_after_s: int = 10  # said with 429


_STATUSES = frozenset(s.value for s in HTTPStatus)


def _head_size(request: h11.Request) -> int:
    """About the size of the request line and headers as sent."""
    line = len(request.method) + len(request.target) + 12
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers)


class _Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


class _Gone(Exception):
    """The client closed the connection before it finished its request."""


class HttpApi:
    def __init__(
        self,
        *,
        token: str,
        trigger: Trigger | None,
        metrics: MetricsText | None,
        port: int = 8080,
        address: str = "0.0.0.0",
        report_timeout: float = 600.0,
        limits: Limits | None = None,
        approve: Approve | None = None,
    ) -> None:
        if not token:
            raise ValueError("the HTTP API needs a token")
        self._token = token  # never logged, never in a repr
        self.trigger = trigger
        self.metrics = metrics
        self.approve = approve
        self.port = port
        self.address = address
        self.report_timeout = report_timeout
        self.limits = limits or Limits()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"HttpApi(address={self.address!r}, port={self.port})"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection, host=self.address, port=self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if len(self._connections) >= self.limits.connections or task is None:
            await self._write(
                writer,
                b"HTTP/1.1 503 Service Unavailable\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n",
            )
            await self._close(writer)
            return
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._connections.discard(task)
            await self._close(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.head_bytes)
        started = time.monotonic()
        method, target = "-", "-"
        try:
            try:
                request = await asyncio.wait_for(
                    self._read_request(conn, reader), timeout=self.limits.read_timeout
                )
            except TimeoutError:
                wait = self.limits.read_timeout
                raise _Refused(408, f"the request did not arrive within {wait:g} s") from None
            method = request.method.decode("ascii", "replace")
            target = request.target.decode("ascii", "replace")
            status, headers, body = await self._answer(request)
        except _Gone:
            return
        except asyncio.CancelledError:  # vigil is stopping: say so rather than hang up
            body = error_body("vigil is stopping; the cycle may not have ended")
            await self._respond(conn, writer, 503, [], body, head=method == "HEAD")
            raise
        except h11.RemoteProtocolError as exc:
            status, headers = exc.error_status_hint, []
            body = error_body(f"not a valid HTTP/1.1 request: {exc}")
        except _Refused as exc:
            status, headers, body = exc.status, [], error_body(exc.error)
        except Exception as exc:  # never let one request take the server down
            log.exception("HTTP API request failed", method=method, path=target.split("?")[0])
            status, headers, body = 500, [], error_body(f"internal error: {type(exc).__name__}")
        log.info(
            "HTTP API request",
            method=method,
            target=target,
            status=status,
            seconds=round(time.monotonic() - started, 3),
        )
        await self._respond(conn, writer, status, headers, body, head=method == "HEAD")

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> h11.Request:
        request: h11.Request | None = None
        body = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(16384))
            elif isinstance(event, h11.Request):
                request = event
                if _head_size(request) > self.limits.head_bytes:
                    raise _Refused(431, f"the request head is over {self.limits.head_bytes} bytes")
            elif isinstance(event, h11.Data):
                body += len(event.data)
                if body > self.limits.body_bytes:
                    raise _Refused(413, f"the body is over {self.limits.body_bytes} bytes")
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                return request
            elif isinstance(event, h11.ConnectionClosed):
                raise _Gone()

    async def _answer(self, request: h11.Request) -> tuple[int, list[tuple[str, str]], bytes]:
        header = next((v for k, v in request.headers if k == b"authorization"), None)
        decision = decide(
            request.method.decode("ascii", "replace"),
            request.target.decode("ascii", "replace"),
            is_authorized=authorized(header, self._token),
            update=self.trigger is not None,
            metrics=self.metrics is not None,
            approve=self.approve is not None,
        )
        if decision.endpoint == "approve" and self.approve is not None:
            return await self.approve(decision.rollout_id)
        if decision.endpoint == "metrics" and self.metrics is not None:
            text, content_type = self.metrics()
            return 200, [("content-type", content_type)], text
        if decision.endpoint == "update" and self.trigger is not None:
            try:
                outcome = await self.trigger(decision.images)
            except Busy as exc:
                retry = [("retry-after", str(self.limits.retry_after_s))]
                return 429, retry, error_body(f"busy: {exc}")
            status, body = outcome_answer(outcome, self.report_timeout)
            return status, [], body
        headers: list[tuple[str, str]] = []
        if decision.status == 401:
            headers.append(("www-authenticate", 'Bearer realm="vigil"'))
        if decision.allow:
            headers.append(("allow", decision.allow))
        return decision.status, headers, error_body(decision.error)

    async def _respond(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        head: bool,
    ) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        if not any(name == "content-type" for name, _ in headers):
            headers = [*headers, ("content-type", JSON)]
        headers = [
            *headers,
            ("content-length", str(len(body))),
            ("cache-control", "no-store"),
            ("connection", "close"),
        ]
        try:
            reason = HTTPStatus(status).phrase.encode() if status in _STATUSES else b""
            response = h11.Response(status_code=status, headers=headers, reason=reason)
            data = conn.send(response) or b""
            if not head:
                data += conn.send(h11.Data(data=body)) or b""
            data += conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            log.warning("HTTP API answer could not be framed", error=str(exc))
            return
        await self._write(writer, data)

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            writer.write(data)
            await asyncio.wait_for(writer.drain(), timeout=self.limits.write_timeout)

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), timeout=self.limits.write_timeout)
