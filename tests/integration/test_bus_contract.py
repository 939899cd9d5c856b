"""The fake bus (tests/support/fake_bus.py) keeps Bus's contract over a real nats-server.

Each case runs twice: against Bus on a real nats-server (tests/support/nats_fixtures.py) and
against the fake, with the same calls and the same assertions, so a unit test that uses the
fake relies on nothing NATS would not do: wildcards and queue groups, drops of what does not
decode, request/reply and its errors, the stream's de-duplication, durable consumers (order,
redelivery of a failed handler's message, where a durable stands), key-value buckets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import msgspec
import nats.js.errors
import pytest

from tests.support.fake_bus import FakeBus
from vigil_shared.bus import Bus, BusConfig, Handler, NoResponders, RemoteError
from vigil_shared.bus_port import BusPort

pytestmark = pytest.mark.integration


class Ping(msgspec.Struct, frozen=True):
    n: int


class Other(msgspec.Struct, frozen=True):
    text: str


class Pong(msgspec.Struct, frozen=True):
    n: int
    by: str = ""


@pytest.fixture(params=["real", "fake"])
async def side(request: pytest.FixtureRequest) -> AsyncIterator[BusPort]:
    if request.param == "real":
        server = request.getfixturevalue("nats_server")  # as tests/support/nats_fixtures' bus
        bus = await Bus.connect(BusConfig(url=server.url, connect_timeout=2), name="contract")
        await bus.ensure_streams()
        try:
            yield bus
        finally:
            await bus.close()
        return
    fake = FakeBus(redelivery_delay=0.05)
    try:
        yield fake
    finally:
        await fake.close()


async def until(what: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for `what` to hold, with a deadline (delivery is asynchronous on both sides)."""
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "not within the deadline"
        await asyncio.sleep(0.01)


def _recorder(into: list[tuple[str, int]], tag: str) -> Handler[Ping]:
    async def handler(message: Ping, headers: dict[str, str]) -> None:
        into.append((tag, message.n))

    return handler


async def test_wildcards_reach_the_subjects_they_match_and_no_others(side: BusPort) -> None:
    got: list[tuple[str, int]] = []
    await side.subscribe("t.one.*", Ping, _recorder(got, "star"))
    await side.subscribe("t.>", Ping, _recorder(got, "rest"))
    await side.subscribe("t.one.a", Ping, _recorder(got, "exact"))
    await side.publish("t.one.a", Ping(1))
    await side.publish("t.one.a.b", Ping(2))  # `*` is one token
    await side.publish("t", Ping(3))  # `>` needs one token at least
    await side.publish("t.two", Ping(4))
    # Last, one that every subscription hears: each hears its messages in order, so once
    # each has heard this one it has heard all it ever will.
    await side.publish("t.one.a", Ping(9))
    await until(lambda: sum(1 for _, n in got if n == 9) == 3)
    heard_last = [("star", 9), ("rest", 9), ("exact", 9)]
    assert sorted(got) == sorted(
        [("star", 1), ("rest", 1), ("exact", 1), ("rest", 2), ("rest", 4), *heard_last]
    )


async def test_one_member_of_a_queue_group_gets_each_message(side: BusPort) -> None:
    got: list[tuple[str, int]] = []
    for member in ("a", "b"):
        await side.subscribe("q.x", Ping, _recorder(got, member), queue="workers")
    await side.subscribe("q.x", Ping, _recorder(got, "all"))
    for n in range(6):
        await side.publish("q.x", Ping(n))
    await until(lambda: len(got) == 12)
    assert sorted(n for tag, n in got if tag == "all") == list(range(6))
    assert sorted(n for tag, n in got if tag != "all") == list(range(6))


async def test_a_message_that_does_not_decode_is_dropped_and_the_next_one_arrives(
    side: BusPort,
) -> None:
    got: list[tuple[str, int]] = []
    await side.subscribe("d.x", Ping, _recorder(got, "ping"))
    await side.publish("d.x", Other("not a ping"))
    await side.publish("d.x", Ping(7))
    await until(lambda: bool(got))
    assert got == [("ping", 7)]


async def test_a_request_gets_its_answer_or_bus_s_errors(side: BusPort) -> None:
    async def answer(message: Ping, headers: dict[str, str]) -> Pong:
        if message.n < 0:
            raise ValueError("negative")
        return Pong(message.n * 2, by="server")

    with pytest.raises(NoResponders, match=r"r\.double"):
        await side.request("r.double", Ping(1), Pong, timeout=2)
    await side.serve("r.double", Ping, answer, queue="doublers")
    assert await side.request("r.double", Ping(21), Pong, timeout=5) == Pong(42, by="server")
    with pytest.raises(RemoteError, match=r"r\.double: ValueError: negative"):
        await side.request("r.double", Ping(-1), Pong, timeout=5)
    with pytest.raises(RemoteError, match=r"r\.double: .*n"):  # a request that does not decode
        await side.request("r.double", Other("x"), Pong, timeout=5)
    with pytest.raises(RemoteError, match=r"r\.double: unusable answer"):
        await side.request("r.double", Ping(1), Other, timeout=5)


async def test_the_stream_keeps_one_message_per_msg_id(side: BusPort) -> None:
    subject = side.subjects.report("h1")
    assert await side.publish_event(subject, Ping(1), msg_id="report-p1") is True
    assert await side.publish_event(subject, Ping(1), msg_id="report-p1") is False
    assert await side.publish_event(subject, Ping(2)) is True  # no id: always stored
    got: list[tuple[str, int]] = []
    await side.consume(subject, "contract-all", Ping, _recorder(got, "c"), deliver_new=False)
    await until(lambda: len(got) == 2)
    assert got == [("c", 1), ("c", 2)]


async def test_a_durable_consumer_delivers_new_ones_in_order_and_again_what_failed(
    side: BusPort,
) -> None:
    subject = side.subjects.plan("h1")
    await side.publish_event(subject, Ping(0))  # before the consumer: not delivered
    got: list[int] = []
    failed: list[int] = []

    async def handler(message: Ping, headers: dict[str, str]) -> None:
        if message.n == 2 and not failed:
            failed.append(message.n)
            raise RuntimeError("first try fails")
        got.append(message.n)

    await side.consume(subject, "contract-new", Ping, handler, ack_wait=5)
    for n in (1, 2, 3):
        await side.publish_event(subject, Ping(n))
    await until(lambda: len(got) == 3, timeout=20)  # NATS redelivers after its nak delay
    assert got == [1, 2, 3]  # one at a time: the failed one again before the next
    assert failed == [2]


async def test_a_bucket_s_keys_values_and_missing_keys(side: BusPort) -> None:
    kv = await side.key_value("CONTRACT")
    assert await kv.keys() == []
    assert await kv.entries() == {}
    first = await kv.put("h1.abc", b"one")
    second = await kv.put("h1.def", b"two")
    assert second > first
    assert (await kv.get("h1.abc")).value == b"one"
    await kv.put("h1.abc", b"uno")
    assert await kv.entries() == {"h1.abc": b"uno", "h1.def": b"two"}
    assert await kv.delete("h1.abc") is True
    assert await kv.delete("h1.never") is True  # a delete of a missing key is no error
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("h1.abc")  # deleted
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("h1.never")
    assert sorted(await kv.keys()) == ["h1.def"]
    again = await side.key_value("CONTRACT")  # the same bucket, by name
    assert (await again.get("h1.def")).value == b"two"
