"""A small HTTP/1.1 server: h11 on asyncio, for the scanner's HTTP API and the dashboard.

h11 does the framing (chunked bodies for streamed answers included); what to answer is the
`App`'s business. One request per connection (every answer says `Connection: close`), within
`Limits`: the request head and body sizes (431 and 413 beyond them), the time to send the
request (408), the connections served at once (more get 503 and are closed). Anything that is
not HTTP/1.1 gets 400, and an app that raises gets 500: one request never takes the server
down. A streamed answer goes on until its generator ends, the client hangs up or the server
closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from http import HTTPStatus

import h11
import msgspec

from vigil_shared.logs import Logger, get_logger

Headers = list[tuple[str, str]]


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    head_bytes: int = 8192
    body_bytes: int = 65536
    read_timeout: float = 10.0  # for the whole request, head and body
    write_timeout: float = 10.0  # for each write of the answer
    connections: int = 64


class Request(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    target: str
    headers: dict[str, str]  # lower-case names; the last of a repeated header
    body: bytes = b""
    # Every header field as sent, in order (names lower-cased by h11): for a check that must
    # see the first of a repeated header.
    raw_headers: tuple[tuple[bytes, bytes], ...] = ()


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    headers: Headers = []
    body: bytes = b""
    # A streamed body instead of `body` (sent chunked, for as long as it yields).
    stream: Callable[[], AsyncGenerator[bytes, None]] | None = None


class Served(msgspec.Struct, frozen=True, kw_only=True):
    """What was answered, told just before the answer is written (for a request log)."""

    method: str  # "-" when the request could not be read
    target: str
    status: int
    seconds: float  # since the connection was accepted


App = Callable[[Request], Awaitable[Answer]]

_STATUSES = frozenset(s.value for s in HTTPStatus)
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _Gone(Exception):
    """The client closed the connection before it finished its request."""


class _Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status


class HttpServer:
    def __init__(
        self,
        app: App,
        *,
        port: int,
        address: str,
        limits: Limits | None = None,
        name: str = "HTTP",
        log: Logger | None = None,
        headers: Sequence[tuple[str, str]] = (),
        stopping: Answer | None = None,
        on_served: Callable[[Served], None] | None = None,
    ) -> None:
        """`name` starts the log lines (`<name> request failed`), on `log`; `headers` go with
        every answer, the server's own error answers included; `stopping` is what a request
        still waiting for the app gets when the server closes (None: no answer, the connection
        is closed)."""
        self.app = app
        self.port = port
        self.address = address
        self.limits = limits or Limits()
        self.name = name
        self.log = log or get_logger("vigil.http")
        self.headers = list(headers)
        self.stopping = stopping
        self.on_served = on_served
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def open_connections(self) -> int:
        return len(self._connections)

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
            await self._write(writer, _BUSY)
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
                    self._read(conn, reader), timeout=self.limits.read_timeout
                )
            except TimeoutError:
                wait = self.limits.read_timeout
                raise _Refused(408, f"the request did not arrive within {wait:g} s") from None
            method, target = request.method, request.target
            answer = await self.app(request)
        except _Gone:
            return
        except asyncio.CancelledError:  # the server is closing
            if self.stopping is not None:
                await self._respond(conn, writer, self.stopping, head=method == "HEAD")
            raise
        except h11.RemoteProtocolError as exc:
            answer = _error(exc.error_status_hint, f"not a valid HTTP/1.1 request: {exc}")
        except _Refused as exc:
            answer = _error(exc.status, str(exc))
        except Exception as exc:  # one request never takes the server down
            path = target.split("?")[0]
            self.log.exception(f"{self.name} request failed", method=method, path=path)
            answer = _error(500, f"internal error: {type(exc).__name__}")
        if self.on_served is not None:
            seconds = time.monotonic() - started
            self.on_served(
                Served(method=method, target=target, status=answer.status, seconds=seconds)
            )
        if answer.stream is None or method == "HEAD":
            await self._respond(conn, writer, answer, head=method == "HEAD")
            return
        # A stream ends when the client hangs up: its end of the connection reads EOF (a
        # closed page would otherwise hold its connection until a write failed).
        streaming = asyncio.create_task(self._respond(conn, writer, answer, head=False))
        hangup = asyncio.create_task(_until_eof(reader))
        try:
            await asyncio.wait((streaming, hangup), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (streaming, hangup):
                task.cancel()
            await asyncio.gather(streaming, hangup, return_exceptions=True)

    async def _read(self, conn: h11.Connection, reader: asyncio.StreamReader) -> Request:
        head: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(16384))
            elif isinstance(event, h11.Request):
                # h11 bounds only a head still incomplete; one that came whole in a read is
                # measured here.
                if _head_size(event) > self.limits.head_bytes:
                    raise _Refused(431, f"the request head is over {self.limits.head_bytes} bytes")
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.limits.body_bytes:
                    raise _Refused(413, f"the body is over {self.limits.body_bytes} bytes")
            elif isinstance(event, h11.EndOfMessage) and head is not None:
                return Request(
                    method=head.method.decode("ascii", "replace"),
                    target=head.target.decode("ascii", "replace"),
                    headers={
                        k.decode("ascii", "replace"): v.decode("latin-1") for k, v in head.headers
                    },
                    body=body,
                    raw_headers=tuple((k, v) for k, v in head.headers),
                )
            elif isinstance(event, h11.ConnectionClosed):
                raise _Gone()

    async def _respond(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, answer: Answer, *, head: bool
    ) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        headers = [*answer.headers, *self.headers]
        if answer.stream is None:
            headers.append(("content-length", str(len(answer.body))))
        headers.append(("connection", "close"))
        reason = HTTPStatus(answer.status).phrase.encode() if answer.status in _STATUSES else b""
        try:
            data = conn.send(
                h11.Response(status_code=answer.status, headers=headers, reason=reason)
            )
            data = data or b""
            if answer.stream is None or head:
                if not head:
                    data += conn.send(h11.Data(data=answer.body)) or b""
                data += conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            self.log.warning(f"{self.name} answer could not be framed", error=str(exc))
            return
        if not await self._write(writer, data) or answer.stream is None or head:
            return
        async with contextlib.aclosing(answer.stream()) as chunks:
            async for chunk in chunks:
                if not await self._write(writer, conn.send(h11.Data(data=chunk)) or b""):
                    return  # the client left
        await self._write(writer, conn.send(h11.EndOfMessage()) or b"")

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> bool:
        """Whether the data went out and the connection is still open."""
        try:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), timeout=self.limits.write_timeout)
        except (ConnectionError, TimeoutError, RuntimeError):
            return False
        return not writer.is_closing()

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), timeout=self.limits.write_timeout)


def _error(status: int, error: str) -> Answer:
    return Answer(
        status=status,
        headers=[("content-type", "application/json")],
        body=msgspec.json.encode({"error": error}),
    )


def _head_size(request: h11.Request) -> int:
    """About the size of the request line and headers as sent."""
    line = len(request.method) + len(request.target) + 12
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers)


async def _until_eof(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass  # nothing more is expected on a one-request connection
