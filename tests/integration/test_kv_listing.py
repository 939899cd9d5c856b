"""Listing a key-value bucket over a real nats-server, with the consumer's deliveries late.

The proxy (tests/support/nats_proxy.py) holds a consumer's deliveries back until the
JetStream API has answered "nothing pending": what a busy machine does now and then
(`vigil rollout status` said "no rollouts" right after listing one, 1 in 8 runs of
tests/e2e/test_rollout_waves.py). A listing must still be whole: the bucket's keys, the
rollouts, the executor's journal, the heartbeats.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import nats.js.errors
import pytest

from tests.integration.test_rollout_coordinator import IMAGE, POLICY, ask, command
from tests.support.nats_proxy import LateDeliveriesProxy
from vigil.process.embedded_nats import EmbeddedNats
from vigil_coordinator.service import Coordinator
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.codec import encode
from vigil_shared.contracts import STATUS_BUCKET, Heartbeat
from vigil_shared.heartbeat import read_heartbeats

pytestmark = pytest.mark.integration


@pytest.fixture
def late(nats_server: EmbeddedNats) -> Iterator[LateDeliveriesProxy]:
    proxy = LateDeliveriesProxy(nats_server.port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
async def late_bus(late: LateDeliveriesProxy, bus: Bus) -> AsyncIterator[Bus]:
    b = await Bus.connect(BusConfig(url=late.url, connect_timeout=2), name="late")
    try:
        yield b
    finally:
        await b.close()


async def test_the_fault_is_real_nats_py_lists_nothing_when_deliveries_are_late(
    late: LateDeliveriesProxy, late_bus: Bus
) -> None:
    """What the proxy does to nats-py's own listing (if nats-py ever gets it right, this
    test has done its job and may go)."""
    kv = await late_bus.key_value("PLAIN")
    await kv.put("one", b"1")
    raw = await late_bus.js.key_value(f"{late_bus.subjects.stream_name}_PLAIN")
    with pytest.raises(nats.js.errors.NoKeysError):
        await raw.keys()
    assert late.held >= 1


async def test_a_bucket_lists_every_key_it_holds_and_none_it_deleted(late_bus: Bus) -> None:
    kv = await late_bus.key_value("LISTED")
    assert await kv.keys() == []
    assert await kv.entries() == {}
    for key in ("b", "a", "gone", "purged", "h.1.x"):
        await kv.put(key, key.encode())
    await kv.put("a", b"again")
    await kv.delete("gone")
    await kv.purge("purged")
    for _ in range(5):  # every time, not most times
        assert await kv.keys() == ["a", "b", "h.1.x"]
        assert await kv.entries() == {"a": b"again", "b": b"b", "h.1.x": b"h.1.x"}


async def test_rollout_status_lists_the_rollout_every_time(late_bus: Bus, bus: Bus) -> None:
    coordinator = Coordinator(late_bus, POLICY, tick_s=0.1)
    await coordinator.start()
    try:
        decision, rid, _ = await ask(bus, "h1")
        assert decision == "hold"
        for _ in range(3):
            listed = await command(bus, "list")
            assert [(r.rollout_id, r.image) for r in listed.rollouts] == [(rid, IMAGE)]
    finally:
        await coordinator.close()


async def test_the_heartbeats_are_read_whole(late_bus: Bus) -> None:
    kv = await late_bus.key_value(STATUS_BUCKET)
    beat = Heartbeat(role="scanner", host="h1", version="t", pid=1, at=1.0, started_at=1.0)
    await kv.put("scanner.h1", encode(beat))
    assert [(b.role, b.host) for b in await read_heartbeats(late_bus)] == [("scanner", "h1")]
