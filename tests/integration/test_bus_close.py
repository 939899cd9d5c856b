"""Bus.close stops a durable consumer whose handler turned the cancellation into an error of
its own, as nats-py does in places (a publish waiting for its ack): the close must not wait
for that consumer forever (a `vigil --run-once --rollout` hung at exit this way)."""

from __future__ import annotations

import asyncio
import gc

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


async def test_closing_with_a_handler_in_flight_logs_no_unretrieved_exception(
    nats_server: EmbeddedNats, bus: Bus
) -> None:
    """A core subscription whose handler is still at work when the bus closes (a cycle in
    flight at a SIGTERM): the drain gives up on it after its timeout, and nothing is left for
    the garbage collector to log as `_GatheringFuture exception was never retrieved` (an
    ERROR line at every such shutdown: our bound cancelled nats-py's drain from outside)."""
    service = await Bus.connect(BusConfig(url=nats_server.url), name="service")
    started = asyncio.Event()

    async def handler(report: Report, headers: dict[str, str]) -> None:
        started.set()
        await asyncio.sleep(30)

    await service.subscribe(bus.subjects.report("h1"), Report, handler)
    await service.nc.flush()  # the server knows the subscription before the publish
    report = Report(scan_id="s", plan_id="p", host="h1", started_at=0, finished_at=1)
    await bus.publish_event(bus.subjects.report("h1"), report)
    await asyncio.wait_for(started.wait(), 10)
    loop = asyncio.get_running_loop()
    unretrieved: list[str] = []
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context["message"]))
    try:
        await asyncio.wait_for(service.close(), 10)
        assert service.nc.is_closed
        gc.collect()
        await asyncio.sleep(0)  # the loop's handler runs for futures collected just now
    finally:
        loop.set_exception_handler(None)
    assert unretrieved == []
