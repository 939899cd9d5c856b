"""The HTTP API's server on a loopback port, with a stand-in for the cycle: its bounds and
its answers to what is not a good request. (The real thing end to end: tests/e2e.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from vigil_scanner.http_api import HttpApi, Limits
from vigil_scanner.trigger import Busy, CycleOutcome

AUTH = b"Authorization: Bearer T\r\n"


async def exchange(port: int, data: bytes, *, eof: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    if eof:
        writer.write_eof()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


def update(path: str = "/v1/update") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode() + AUTH + b"\r\n"


Trigger = Callable[[tuple[str, ...]], Awaitable[CycleOutcome]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[HttpApi]]]:
    started: list[HttpApi] = []

    async def start(trigger: Trigger | None = None, **limits: float) -> HttpApi:
        async def done(images: tuple[str, ...]) -> CycleOutcome:
            return CycleOutcome(scan_id="s", host="h", images=images)

        api = HttpApi(
            token="T",
            trigger=trigger or done,
            metrics=lambda: (b"watchtower_scans_total 1.0\n", "text/plain; version=0.0.4"),
            port=0,
            address="127.0.0.1",
            limits=Limits(**limits),  # type: ignore[arg-type]
        )
        await api.start()
        started.append(api)
        return api

    yield start
    for api in started:
        await api.close()


async def test_garbage_then_a_good_request(serve: Callable[..., Awaitable[HttpApi]]) -> None:
    api = await serve()
    for garbage in (
        b"\x00\xff\xfe\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /v1/update HTTP/1.1\r\n\r\n",  # no Host
        b"GET /v1/update HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n",
        b"POST /v1/update HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"POST /v1/update HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ):
        assert (await exchange(api.port, garbage)).startswith(b"HTTP/1.1 400 "), garbage
    answer = await exchange(api.port, update("/v1/update?image=a"))
    assert answer.startswith(b"HTTP/1.1 202 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["images"] == ["a"]


async def test_the_bounds(serve: Callable[..., Awaitable[HttpApi]]) -> None:
    api = await serve(read_timeout=0.3, body_bytes=10, head_bytes=200)
    slow = await exchange(api.port, b"GET /v1/upd", eof=False)
    assert slow.startswith(b"HTTP/1.1 408 ")
    big_body = update().replace(b"\r\n\r\n", b"\r\nContent-Length: 11\r\n\r\n") + b"x" * 11
    assert (await exchange(api.port, big_body)).startswith(b"HTTP/1.1 413 ")
    big_head = update().replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"a" * 300 + b"\r\n\r\n")
    assert (await exchange(api.port, big_head)).startswith(b"HTTP/1.1 431 ")
    small_body = update().replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\n") + b"x" * 5
    assert (await exchange(api.port, small_body)).startswith(b"HTTP/1.1 202 ")


async def test_connections_beyond_the_limit_get_503(
    serve: Callable[..., Awaitable[HttpApi]],
) -> None:
    api = await serve(connections=1, read_timeout=2)
    _, holder = await asyncio.open_connection("127.0.0.1", api.port)  # sends nothing yet
    await asyncio.sleep(0.1)
    assert (await exchange(api.port, update())).startswith(b"HTTP/1.1 503 ")
    holder.close()


async def test_busy_is_429_with_retry_after(serve: Callable[..., Awaitable[HttpApi]]) -> None:
    async def busy(images: tuple[str, ...]) -> CycleOutcome:
        raise Busy("32 requests are waiting for a cycle already")

    api = await serve(trigger=busy)
    answer = await exchange(api.port, update())
    assert answer.startswith(b"HTTP/1.1 429 ") and b"retry-after: 10" in answer


async def test_a_failing_cycle_is_500_and_the_server_stays(
    serve: Callable[..., Awaitable[HttpApi]],
) -> None:
    calls = 0

    async def flaky(images: tuple[str, ...]) -> CycleOutcome:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the bus is gone")
        return CycleOutcome(scan_id="s", host="h")

    api = await serve(trigger=flaky)
    assert (await exchange(api.port, update())).startswith(b"HTTP/1.1 500 ")
    assert (await exchange(api.port, update())).startswith(b"HTTP/1.1 202 ")


async def test_stopping_answers_the_waiting_request_503(
    serve: Callable[..., Awaitable[HttpApi]],
) -> None:
    async def forever(images: tuple[str, ...]) -> CycleOutcome:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    api = await serve(trigger=forever)
    waiting = asyncio.create_task(exchange(api.port, update()))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(api.close(), 5)
    assert (await waiting).startswith(b"HTTP/1.1 503 ")


async def test_metrics_and_head(serve: Callable[..., Awaitable[HttpApi]]) -> None:
    api = await serve()
    get = b"GET /v1/metrics HTTP/1.1\r\nHost: x\r\n" + AUTH + b"\r\n"
    answer = await exchange(api.port, get)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"watchtower_scans_total 1.0\n")
    head = b"HEAD /v1/metrics HTTP/1.1\r\nHost: x\r\n" + AUTH + b"\r\n"
    answer = await exchange(api.port, head)
    assert answer.startswith(b"HTTP/1.1 405 ") and answer.endswith(b"\r\n\r\n")


def test_the_token_is_not_in_the_repr() -> None:
    api = HttpApi(token="s3cret-token", trigger=None, metrics=None)
    assert "s3cret" not in repr(api)
    with pytest.raises(ValueError, match="needs a token"):
        HttpApi(token="", trigger=None, metrics=None)
