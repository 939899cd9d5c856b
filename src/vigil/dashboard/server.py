"""The dashboard's HTTP server: h11 on asyncio, as the scanner's HTTP API (vigil_scanner.http_api).

h11 is already one of Vigil's dependencies and does the HTTP/1.1 framing (chunked bodies for
the event stream included); what to answer is the `App`'s business. One request per
connection (`Connection: close`), bounded as the scanner's API is: an 8 KiB head, a 64 KiB
body, 10 s to send the request, at most 64 connections at once (more get 503). A streamed
answer (Server-Sent Events) goes on until the client leaves or the server closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from http import HTTPStatus

import h11
import msgspec

from vigil_shared.logs import get_logger

log = get_logger("vigil.dashboard")

HEAD_BYTES = 8192
BODY_BYTES = 65536
READ_TIMEOUT_S = 10.0
WRITE_TIMEOUT_S = 10.0
CONNECTIONS = 64

Headers = list[tuple[str, str]]


class Request(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    target: str
    headers: dict[str, str]  # lower-case names; the last of a repeated header
    body: bytes = b""


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    headers: Headers = []
    body: bytes = b""
    # A streamed body instead of `body` (sent chunked, for as long as it yields).
    stream: Callable[[], AsyncGenerator[bytes, None]] | None = None


App = Callable[[Request], Awaitable[Answer]]


class _Gone(Exception):
    pass


class _Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status


class HttpServer:
    def __init__(self, app: App, *, port: int, address: str) -> None:
        self.app = app
        self.port = port
        self.address = address
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
        if len(self._connections) >= CONNECTIONS or task is None:
            await _write(writer, b"HTTP/1.1 503 Service Unavailable\r\n"
                         b"Content-Length: 0\r\nConnection: close\r\n\r\n")  # fmt: skip
            await _close(writer)
            return
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._connections.discard(task)
            await _close(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_BYTES)
        method = "-"
        try:
            try:
                request = await asyncio.wait_for(_read(conn, reader), timeout=READ_TIMEOUT_S)
            except TimeoutError:
                raise _Refused(408, "the request did not arrive in time") from None
            method = request.method
            answer = await self.app(request)
        except _Gone:
            return
        except h11.RemoteProtocolError as exc:
            answer = _error(exc.error_status_hint, f"not a valid HTTP/1.1 request: {exc}")
        except _Refused as exc:
            answer = _error(exc.status, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one request never takes the dashboard down
            log.exception("dashboard request failed", method=method)
            answer = _error(500, f"internal error: {type(exc).__name__}")
        if answer.stream is None or method == "HEAD":
            await _respond(conn, writer, answer, head=method == "HEAD")
            return
        # A stream ends when the client hangs up: its end of the connection reads EOF (a
        # closed page would otherwise hold its connection until a write failed).
        streaming = asyncio.create_task(_respond(conn, writer, answer, head=False))
        hangup = asyncio.create_task(_until_eof(reader))
        try:
            await asyncio.wait((streaming, hangup), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (streaming, hangup):
                task.cancel()
            await asyncio.gather(streaming, hangup, return_exceptions=True)


def _error(status: int, error: str) -> Answer:
    return Answer(
        status=status,
        headers=[("content-type", "application/json")],
        body=msgspec.json.encode({"error": error}),
    )


async def _until_eof(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass  # nothing more is expected on a one-request connection


async def _read(conn: h11.Connection, reader: asyncio.StreamReader) -> Request:
    head: h11.Request | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(16384))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > BODY_BYTES:
                raise _Refused(413, f"the body is over {BODY_BYTES} bytes")
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            return Request(
                method=head.method.decode("ascii", "replace"),
                target=head.target.decode("ascii", "replace"),
                headers={
                    k.decode("ascii", "replace"): v.decode("latin-1") for k, v in head.headers
                },
                body=body,
            )
        elif isinstance(event, h11.ConnectionClosed):
            raise _Gone()


async def _respond(
    conn: h11.Connection, writer: asyncio.StreamWriter, answer: Answer, *, head: bool
) -> None:
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    headers = [*answer.headers, ("connection", "close")]
    if answer.stream is None:
        headers.append(("content-length", str(len(answer.body))))
    try:
        phrase = HTTPStatus(answer.status).phrase.encode()
    except ValueError:
        phrase = b""
    data = conn.send(h11.Response(status_code=answer.status, headers=headers, reason=phrase))
    if answer.stream is None or head:
        data = (data or b"") + (b"" if head else conn.send(h11.Data(data=answer.body)) or b"")
        data += conn.send(h11.EndOfMessage()) or b""
        await _write(writer, data)
        return
    if not await _write(writer, data or b""):
        return
    async with contextlib.aclosing(answer.stream()) as chunks:
        async for chunk in chunks:
            if not await _write(writer, conn.send(h11.Data(data=chunk)) or b""):
                return  # the client left
    await _write(writer, conn.send(h11.EndOfMessage()) or b"")


async def _write(writer: asyncio.StreamWriter, data: bytes) -> bool:
    try:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), timeout=WRITE_TIMEOUT_S)
    except (ConnectionError, TimeoutError, RuntimeError):
        return False
    return not writer.is_closing()


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, TimeoutError, OSError):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), timeout=WRITE_TIMEOUT_S)
