"""The executor SIGKILLed at each step of an update, then started again: every time the
container ends up running under its name, on its old or its new image, with nothing left
behind. A real engine, registry, NATS and `vigil executor` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from vigil.embedded_nats import EmbeddedNats
from vigil_shared.bus import Bus
from vigil_shared.contracts import Plan, ProgressEvent, Report, UpdateAction
from vigil_shared.contracts.journal import ASIDE_MARKER

pytestmark = pytest.mark.integration

HOST = "fault"
# Slow enough to be killed in the middle of: stopping takes ~2 s (TERM is answered late),
# and the new container needs a few seconds to report healthy.
# (An ENTRYPOINT: the test image's own CMD comes after these lines and would win.)
SLOW = (
    'HEALTHCHECK --interval=1s --timeout=1s --retries=5 CMD ["test", "-f", "/ready"]\n'
    'ENTRYPOINT ["/bin/sh", "-c", "trap \'sleep 2; exit 0\' TERM; '
    '(sleep 2; touch /ready) & while true; do sleep 1; done"]\n'
)
PHASES = ["stopping", "creating", "starting", "health-check", "removing-old"]


class ExecutorProcess:
    def __init__(self, nats_url: str, log: Path) -> None:
        self.nats_url = nats_url
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHTOWER_", "VIGIL_"))}
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "vigil.cli", "executor", "--nats-url", self.nats_url,
                "--host-id", HOST, "--plan-ack-wait", "2", "--stop-timeout", "5",
                "--health-timeout", "30", "--log-format", "json",
                stdout=out, stderr=out, env=env,
            )  # fmt: skip

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


async def consumer_ready(bus: Bus) -> None:
    """The executor's durable consumer exists: a plan published now reaches it. (The first
    executor of a host starts with the plans published from then on.)"""
    deadline = time.monotonic() + 30
    while True:
        try:
            await bus.js.consumer_info(bus.subjects.stream_name, f"executor-{HOST}")
            return
        except Exception:
            assert time.monotonic() < deadline, "the executor never subscribed to its plans"
            await asyncio.sleep(0.1)


@pytest.mark.timeout(600)
async def test_killed_at_every_step_nothing_is_lost(
    bus: Bus,
    nats_server: EmbeddedNats,
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    tag = f"{registry.host}/{names('app')}:latest"
    old_image = build_test_image(docker_client, tag, marker="v1", extra=SLOW)
    push_image(docker_client, tag)
    containers = {phase: names(f"web-{phase}") for phase in PHASES}
    for name in containers.values():
        docker_client.containers.run(tag, name=name, detach=True)
    new_image = build_test_image(docker_client, tag, marker="v2", extra=SLOW)
    push_image(docker_client, tag)
    docker_client.api.remove_image(tag)

    seen: asyncio.Queue[ProgressEvent] = asyncio.Queue()
    reports: dict[str, Report] = {}

    async def on_progress(event: ProgressEvent, headers: dict[str, str]) -> None:
        await seen.put(event)

    async def on_report(report: Report, headers: dict[str, str]) -> None:
        reports[report.plan_id] = report

    await bus.subscribe(bus.subjects.progress(HOST), ProgressEvent, on_progress)
    await bus.subscribe(bus.subjects.report(HOST), Report, on_report)

    for phase, name in containers.items():
        data = docker_client.api.inspect_container(name)
        plan = Plan(
            plan_id=uuid.uuid4().hex,
            scan_id=uuid.uuid4().hex,
            host=HOST,
            created_at=time.time(),
            actions=(
                UpdateAction(
                    container_id=data["Id"],
                    container_name=name,
                    image=tag,
                    old_image_id=data["Image"],
                ),
            ),
        )
        first = ExecutorProcess(nats_server.url, tmp_path / f"executor-{phase}-1.log")
        await first.start()
        await consumer_ready(bus)
        await bus.publish_event(bus.subjects.plan(HOST), plan, msg_id=plan.plan_id)
        while True:  # kill it the moment it takes the step
            event = await asyncio.wait_for(seen.get(), 120)
            if event.container == name and event.phase == phase:
                first.kill()
                break
        await first.proc.wait() if first.proc else None

        second = ExecutorProcess(nats_server.url, tmp_path / f"executor-{phase}-2.log")
        await second.start()
        deadline = time.monotonic() + 120
        while plan.plan_id not in reports:
            assert time.monotonic() < deadline, (
                f"no report after a kill at {phase}: "
                + ((tmp_path / f"executor-{phase}-2.log").read_text()[-3000:])
            )
            await asyncio.sleep(0.2)
        await second.stop()

        report = reports[plan.plan_id]
        result = report.results[0]
        after = docker_client.api.inspect_container(name)
        assert after["State"]["Running"], f"killed at {phase}: {result}"
        assert after["Image"] in (old_image, new_image), f"killed at {phase}"
        left = [
            c.name
            for c in docker_client.containers.list(all=True)
            if c.name.startswith(name) and c.name != name
        ]
        assert left == [], f"killed at {phase}: left behind {left}"
        assert not [c for c in left if ASIDE_MARKER in c]
        assert result.status in ("updated", "fresh", "rolled_back"), (phase, result)
