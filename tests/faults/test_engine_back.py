"""A host's engine dies in the middle of a replacement and comes back: the executor, still
running, finishes or rolls back what was left (the old container renamed aside) before its
next plan, so the container is back under its name without an executor restart.

A second dockerd (tests/support/second_engine.py) is the host; a real registry and NATS.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.second_engine import SecondEngine
from vigil_executor.service import Executor, ExecutorConfig
from vigil_shared.bus import Bus
from vigil_shared.contracts import Plan, ProgressEvent, UpdateAction
from vigil_shared.contracts.journal import aside_name
from vigil_shared.telemetry import Telemetry

pytestmark = pytest.mark.integration

HOST = "comes-back"


def plan_for(actions: tuple[UpdateAction, ...] = ()) -> Plan:
    return Plan(
        plan_id=uuid.uuid4().hex,
        scan_id=uuid.uuid4().hex,
        host=HOST,
        created_at=time.time(),
        actions=actions,
    )


@pytest.mark.timeout(150)
async def test_what_a_dead_engine_left_is_recovered_when_it_is_back(
    bus: Bus,
    second_engine: SecondEngine,
    registry: RegistryServer,
    names: Callable[[str], str],
) -> None:
    client = second_engine.client()
    tag = f"{registry.host}/{names('app')}:latest"
    build_test_image(client, tag, marker="v1")
    push_image(client, tag)
    name = names("web")
    client.containers.run(tag, name=name, detach=True)
    old = client.api.inspect_container(name)
    build_test_image(client, tag, marker="v2")
    push_image(client, tag)
    client.api.remove_image(tag)

    executor = Executor(
        bus,
        client,
        ExecutorConfig(host_id=HOST, engine_url=second_engine.url, stop_timeout=2),
        Telemetry.disabled(),
    )
    await executor.start()
    phases: asyncio.Queue[str] = asyncio.Queue()

    async def on_progress(event: ProgressEvent, headers: dict[str, str]) -> None:
        if event.container == name:
            await phases.put(event.phase)

    await bus.subscribe(bus.subjects.progress(HOST), ProgressEvent, on_progress)
    action = UpdateAction(
        container_id=old["Id"], container_name=name, image=tag, old_image_id=old["Image"]
    )
    running = asyncio.create_task(executor.execute(plan_for((action,))))
    while await asyncio.wait_for(phases.get(), 60) != "creating":
        pass  # the old container is renamed aside now; its replacement is not created
    await asyncio.to_thread(second_engine.kill)
    report = await asyncio.wait_for(running, 60)
    assert any(
        f"cannot reach the Docker engine at {second_engine.url}" in p for p in report.problems
    )
    assert [r.status for r in report.results] == ["failed"]

    await asyncio.to_thread(second_engine.revive)
    back = second_engine.client()
    executor.engine = back  # the same engine, a new connection to it
    try:
        # While the engine was away nothing could be done: the old container is still aside.
        assert back.api.inspect_container(aside_name(name, old["Id"], HOST))["Id"] == old["Id"]
        # The next plan (nothing to update) finds the engine back and recovers first.
        await executor.execute(plan_for())
        now = back.api.inspect_container(name)
        assert now["Id"] == old["Id"] and now["State"]["Running"]
        assert [c["Names"] for c in back.api.containers(all=True)] == [[f"/{name}"]]
    finally:
        back.close()
        client.close()
