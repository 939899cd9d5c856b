"""The rollout-coordinator over a real NATS, without engines: approvals, its state surviving
a restart (a new coordinator on the same bucket), a failed report halting the rollout, and
each step in the audit stream."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest

from vigil.process.embedded_nats import EmbeddedNats
from vigil_coordinator.service import Coordinator
from vigil_coordinator.spec import RolloutPolicy
from vigil_notifier.config import NotifierConfig
from vigil_notifier.service import Notifier
from vigil_scanner.http_api import HttpApi
from vigil_scanner.rollout_gate import http_approver
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.codec import decode
from vigil_shared.contracts import (
    ContainerResult,
    GateItem,
    GateReply,
    GateRequest,
    Report,
    RolloutCommand,
    RolloutCommandReply,
    RolloutEvent,
    ScanCommand,
)

pytestmark = pytest.mark.integration

IMAGE = "reg:5000/app:latest"
NEW = "sha256:" + "b" * 64
POLICY = RolloutPolicy(canary=1, soak_s=0, approve=True)


async def ask(bus: Bus, host: str) -> tuple[str, str, str]:
    item = GateItem(
        image=IMAGE,
        digest=NEW,
        container_name="web",
        container_id=f"{host}-c",
        old_image_id="sha256:old",
        old_digests=("reg:5000/app@sha256:" + "a" * 64,),
    )
    reply = await bus.request(
        bus.subjects.update_gate,
        GateRequest(scan_id="s", host=host, items=(item,)),
        GateReply,
        timeout=5,
    )
    (verdict,) = reply.verdicts
    return verdict.decision, verdict.rollout_id, verdict.reason


async def command(bus: Bus, action: str, rid: str = "") -> RolloutCommandReply:
    return await bus.request(
        bus.subjects.rollout_command,
        RolloutCommand(action=action, rollout_id=rid, by="test"),  # type: ignore[arg-type]
        RolloutCommandReply,
        timeout=5,
    )


async def test_approval_then_canary_state_survives_a_restart_and_a_failure_halts(
    nats_server: EmbeddedNats, bus: Bus
) -> None:
    scans: list[ScanCommand] = []

    async def on_scan(cmd: ScanCommand, headers: dict[str, str]) -> None:
        scans.append(cmd)

    await bus.subscribe(bus.subjects.cmd_scan, ScanCommand, on_scan)
    # A real notifier, with rollouts on, writing its messages to `told`.
    told = io.StringIO()
    notifier_bus = await Bus.connect(BusConfig(url=nats_server.url), name="notifier")
    notifier = Notifier(
        notifier_bus,
        out=told,
        config=NotifierConfig(
            log_stdout=True, rollouts=True, startup_message=False, print_reports=False
        ),
    )
    await notifier.start()
    first_bus = await Bus.connect(BusConfig(url=nats_server.url), name="coordinator-1")
    first = Coordinator(first_bus, POLICY, tick_s=0.1)
    await first.start()
    try:
        decision, rid, reason = await ask(bus, "h1")
        assert decision == "hold"
        assert f"rollout {rid} waits for approval: vigil approve {rid}" == reason
        bad = await command(bus, "resume", rid)
        assert not bad.ok and "not halted" in bad.error
        missing = await command(bus, "approve", "nope")
        assert not missing.ok and f"no rollout 'nope' (rollouts: {rid})" == missing.error
        approved = await command(bus, "approve", rid[:6])  # an unambiguous start of the id
        assert approved.ok and approved.rollouts[0].state == "running"
    finally:
        await first.close()
        await first_bus.close()
    # The canary's turn came: it was asked for a cycle of that image at once.
    for _ in range(50):
        if scans:
            break
        await asyncio.sleep(0.05)
    assert [(s.hosts, s.images) for s in scans] == [(("h1",), (IMAGE,))]

    # A new coordinator (a restart) goes on from the bucket.
    second_bus = await Bus.connect(BusConfig(url=nats_server.url), name="coordinator-2")
    second = Coordinator(second_bus, POLICY, tick_s=0.1)
    await second.start()
    try:
        assert (await ask(bus, "h1"))[0] == "go"
        failed = ContainerResult(
            name="web",
            container_id="h1-c",
            image=IMAGE,
            status="rolled_back",
            remote_digest=NEW,
            error="the new container is unhealthy",
        )
        report = Report(
            scan_id="s", plan_id="p", host="h1", started_at=1, finished_at=2, results=(failed,)
        )
        await bus.publish_event(bus.subjects.report("h1"), report)
        for _ in range(100):
            (r,) = (await command(bus, "list")).rollouts
            if r.state == "halted":
                break
            await asyncio.sleep(0.05)
        assert r.state == "halted"
        assert "the update failed on h1: web: rolled_back (the new container is unhealthy)" in (
            r.reason
        )
        decision, _, reason = await ask(bus, "h2")
        assert decision == "hold" and "is halted" in reason
    finally:
        await second.close()
        await second_bus.close()

    raw = await bus.js.get_last_msg(bus.subjects.stream_name, bus.subjects.rollout(rid))
    assert decode(raw.data or b"", RolloutEvent).step == "halted"
    # What waits and what halted were notified.
    for _ in range(100):
        if "halted" in told.getvalue():
            break
        await asyncio.sleep(0.05)
    await notifier.close()
    await notifier_bus.close()
    assert f"Rollout {rid} of {IMAGE} @ bbbbbbbbbbbb waits for approval: vigil approve {rid}" in (
        told.getvalue()
    )
    assert f"Rollout {rid} of {IMAGE} @ bbbbbbbbbbbb halted in wave 1: the update failed on h1" in (
        told.getvalue()
    )


async def test_a_rollout_is_approved_through_the_http_api(
    nats_server: EmbeddedNats, bus: Bus
) -> None:
    coordinator_bus = await Bus.connect(BusConfig(url=nats_server.url), name="coordinator")
    coordinator = Coordinator(coordinator_bus, POLICY, tick_s=0.1)
    await coordinator.start()
    api = HttpApi(
        token="s3cret",
        trigger=None,
        metrics=None,
        port=0,
        address="127.0.0.1",
        approve=http_approver(bus),
    )
    await api.start()
    base = f"http://127.0.0.1:{api.port}/v1/rollouts"
    good = {"Authorization": "Bearer s3cret"}
    try:
        decision, rid, _ = await ask(bus, "h1")
        assert decision == "hold"
        async with httpx.AsyncClient(timeout=10) as http:
            refused = await http.post(f"{base}/{rid}/approve", headers={"Authorization": "x"})
            assert refused.status_code == 401
            assert (await ask(bus, "h1"))[0] == "hold"  # nothing changed
            answer = await http.post(f"{base}/{rid}/approve", headers=good)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {
                "rollout_id": rid,
                "state": "running",
                "image": IMAGE,
                "digest": NEW,
            }
            again = await http.post(f"{base}/{rid}/approve", headers=good)
            assert again.status_code == 409
            assert "is running, not waiting for approval" in again.json()["error"]
        assert (await ask(bus, "h1"))[0] == "go"
    finally:
        await api.close()
        await coordinator.close()
        await coordinator_bus.close()
