"""Bus.close stops a durable consumer whose handler turned the cancellation into an error of
its own, as nats-py does in places (a publish waiting for its ack): the close must not wait
for that consumer forever (a `vigil --run-once --rollout` hung at exit this way)."""

from __future__ import annotations

import asyncio

import pytest

from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.bus import Bus, BusConfig, BusError
from vigil_shared.contracts import Report

pytestmark = pytest.mark.integration


async def test_close_stops_a_consumer_whose_handler_swallowed_the_cancellation(
    nats_server: EmbeddedNats, bus: Bus
) -> None:
    consumer = await Bus.connect(BusConfig(url=nats_server.url), name="consumer")
    started = asyncio.Event()

    async def handler(report: Report, headers: dict[str, str]) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise BusError("JetStream did not store the message in time") from None

    await consumer.consume(bus.subjects.report("h1"), "swallower", Report, handler)
    report = Report(scan_id="s", plan_id="p", host="h1", started_at=0, finished_at=1)
    await bus.publish_event(bus.subjects.report("h1"), report)
    await asyncio.wait_for(started.wait(), 10)
    closing = asyncio.ensure_future(consumer.close())
    done, _ = await asyncio.wait({closing}, timeout=10)
    if not done:  # it hung for ever before: end it, so that the test fails and stops
        for task in list(consumer._tasks):
            task.get_coro().close()
        await consumer.nc.close()
    assert done, "Bus.close did not stop the consumer"
