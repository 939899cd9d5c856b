"""--rollout-retention over a real NATS: a finished rollout older than the retention leaves
the rollouts bucket, said in the coordinator's log and as a `pruned` step in the audit
stream; a rollout still going is kept."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from vigil.process.embedded_nats import EmbeddedNats
from vigil_coordinator.service import Coordinator
from vigil_coordinator.spec import RolloutPolicy
from vigil_shared.audit import read_events
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.contracts import (
    ROLLOUT_BUCKET,
    GateItem,
    GateReply,
    GateRequest,
    RolloutCommand,
    RolloutCommandReply,
    RolloutEvent,
)
from vigil_shared.kv_listing import kv_keys

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "b" * 64


async def gate(bus: Bus, image: str) -> str:
    item = GateItem(
        image=image, digest=DIGEST, container_name="web", container_id="c", old_image_id="i"
    )
    request = GateRequest(scan_id="s", host="h1", items=(item,))
    reply = await bus.request(bus.subjects.update_gate, request, GateReply, timeout=5)
    return reply.verdicts[0].rollout_id


async def test_a_finished_rollout_is_pruned_after_the_retention_and_a_going_one_kept(
    nats_server: EmbeddedNats, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vigil.rollout")
    coordinator_bus = await Bus.connect(BusConfig(url=nats_server.url), name="coordinator")
    coordinator = Coordinator(
        coordinator_bus, RolloutPolicy(approve=True), tick_s=0.1, retention_s=1.0
    )
    await coordinator.start()
    bucket = f"{bus.subjects.stream_name}_{ROLLOUT_BUCKET}"
    try:
        aborted = await gate(bus, "reg:5000/app:latest")
        waiting = await gate(bus, "reg:5000/db:latest")  # awaits approval: not finished
        command = RolloutCommand(action="abort", rollout_id=aborted, by="test")
        reply = await bus.request(
            bus.subjects.rollout_command, command, RolloutCommandReply, timeout=5
        )
        assert reply.ok, reply.error
        aborted_at = time.time()
        assert sorted(await kv_keys(bus.js, bucket)) == sorted([aborted, waiting])

        deadline = time.monotonic() + 20
        while aborted in await kv_keys(bus.js, bucket):
            assert time.monotonic() < deadline, "the aborted rollout was never pruned"
            await asyncio.sleep(0.1)
        assert time.time() - aborted_at >= 1.0  # not before its retention
        assert await kv_keys(bus.js, bucket) == [waiting]

        steps = [
            e.message
            async for e in read_events(bus)
            if isinstance(e.message, RolloutEvent) and e.message.step == "pruned"
        ]
        assert [s.rollout_id for s in steps] == [aborted]
        assert "past --rollout-retention 1s: removed from the rollouts bucket" in steps[0].detail
        logged = [r for r in caplog.records if r.getMessage() == "rollout pruned"]
        assert [getattr(r, "fields", {}).get("rollout") for r in logged] == [aborted]
    finally:
        await coordinator.close()
        await coordinator_bus.close()
