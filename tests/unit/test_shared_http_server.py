"""vigil_shared.http_server on a loopback port, with small apps: what its users rely on and
their own tests do not show (the scanner's bounds and error answers:
tests/unit/test_http_server.py; the dashboard's stream against NATS:
tests/integration/test_dashboard_stream.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.unit.test_http_server import exchange
from vigil_shared.http_server import Answer, App, HttpServer, Limits, Request, Served

Serve = Callable[..., Awaitable[HttpServer]]


def split(answer: bytes) -> tuple[str, dict[str, str], bytes]:
    head, body = answer.split(b"\r\n\r\n", 1)
    status, *fields = head.decode("latin-1").split("\r\n")
    headers = dict(field.lower().split(": ", 1) for field in fields)
    return status, headers, body


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    started: list[HttpServer] = []

    async def start(app: App, **options: Any) -> HttpServer:
        server = HttpServer(app, port=0, address="127.0.0.1", **options)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.close()


async def test_the_app_gets_the_request_as_sent(serve: Serve) -> None:
    seen: list[Request] = []

    async def app(request: Request) -> Answer:
        seen.append(request)
        return Answer(status=200, body=b"ok")

    server = await serve(app)
    answer = await exchange(
        server.port,
        b"POST /x?a=1 HTTP/1.1\r\nHost: h\r\nX-Twice: first\r\nX-Twice: second\r\n"
        b"Content-Length: 4\r\n\r\nbody",
    )
    assert split(answer)[0] == "HTTP/1.1 200 OK"
    [request] = seen
    assert (request.method, request.target, request.body) == ("POST", "/x?a=1", b"body")
    assert request.headers["x-twice"] == "second"  # the last of a repeated header
    assert [v for k, v in request.raw_headers if k == b"x-twice"] == [b"first", b"second"]


async def test_its_headers_go_with_every_answer_and_each_answer_is_told(serve: Serve) -> None:
    served: list[Served] = []

    async def app(request: Request) -> Answer:
        if request.target == "/fail":
            raise RuntimeError("boom")
        return Answer(status=204)

    server = await serve(
        app,
        limits=Limits(read_timeout=0.3),
        headers=[("cache-control", "no-store")],
        on_served=served.append,
    )
    cases = [
        (b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 204 No Content", ""),
        (b"GET /fail HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 500 ", "internal error: RuntimeError"),
        (b"GET /ok HTTP/1.1\r\n\r\n", "HTTP/1.1 400 ", "not a valid HTTP/1.1 request"),
    ]
    for request, status, error in cases:
        head, headers, body = split(await exchange(server.port, request))
        assert head.startswith(status), request
        assert headers["cache-control"] == "no-store" and headers["connection"] == "close"
        if error:
            assert headers["content-type"] == "application/json"
            assert error in json.loads(body)["error"]
    slow = split(await exchange(server.port, b"GET /o", eof=False))
    assert slow[0] == "HTTP/1.1 408 Request Timeout" and slow[1]["cache-control"] == "no-store"
    assert json.loads(slow[2]) == {"error": "the request did not arrive within 0.3 s"}
    told = [(s.method, s.target, s.status) for s in served]
    assert told == [("GET", "/ok", 204), ("GET", "/fail", 500), ("-", "-", 400), ("-", "-", 408)]


async def test_a_stream_is_chunked_head_gets_no_body_and_a_hangup_ends_it(serve: Serve) -> None:
    closed = asyncio.Event()

    async def ticks() -> AsyncGenerator[bytes, None]:
        try:
            yield b"one\n"
            yield b"two\n"
            await asyncio.Event().wait()  # then nothing, until the client leaves
            yield b"never\n"
        finally:
            closed.set()

    async def app(request: Request) -> Answer:
        return Answer(status=200, headers=[("content-type", "text/plain")], stream=ticks)

    server = await serve(app)
    head = await exchange(server.port, b"HEAD /s HTTP/1.1\r\nHost: h\r\n\r\n")
    status, headers, body = split(head)
    assert status == "HTTP/1.1 200 OK" and body == b"" and "content-length" not in headers
    assert server.open_connections == 0

    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /s HTTP/1.1\r\nHost: h\r\n\r\n")
    seen = b""
    while b"two\n" not in seen:
        seen += await asyncio.wait_for(reader.read(4096), 5)
    assert b"transfer-encoding: chunked" in seen.lower()
    assert server.open_connections == 1
    writer.close()  # the client hangs up: the stream ends at once, not at its next write
    await asyncio.wait_for(closed.wait(), 2)
    for _ in range(100):
        if server.open_connections == 0:
            break
        await asyncio.sleep(0.02)
    assert server.open_connections == 0


async def test_closing_without_a_stopping_answer_hangs_up(serve: Serve) -> None:
    async def forever(request: Request) -> Answer:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    server = await serve(forever)
    waiting = asyncio.create_task(exchange(server.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(server.close(), 5)
    assert await waiting == b""
