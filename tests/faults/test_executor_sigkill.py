"""The executor SIGKILLed at each step of an update, then started again: every time the
container ends up running under its name, on its old or its new image, with nothing left
behind. A real engine, registry, NATS and `vigil executor` processes.

Each step is run twice: over a plain NATS, and over the fleet's secured NATS as deploy/nats
configures it (TLS, the executor logged in as its host's user with only its permissions,
JetStream with `sync_interval: always`), where the journal and the redelivered plan must
work within those permissions.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.secured_nats import SPY, SecuredNats
from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.contracts import ContainerResult, Plan, ProgressEvent, Report, UpdateAction
from vigil_shared.contracts.journal import ASIDE_MARKER
from vigil_shared.kv_listing import kv_keys

pytestmark = pytest.mark.integration

HOST = "fault"
# Slow enough to be killed in the middle of: stopping takes ~2 s (TERM is answered late),
# and the new container needs a few seconds to report healthy.
# (An ENTRYPOINT: the test image's own CMD comes after these lines and would win.)
HOOK_LABEL = "com.centurylinklabs.watchtower.lifecycle"
HOOKS = ("--plan-ack-wait", "2", "--stop-timeout", "5", "--enable-lifecycle-hooks")
SLOW = (
    'HEALTHCHECK --interval=1s --timeout=1s --retries=5 CMD ["test", "-f", "/ready"]\n'
    'ENTRYPOINT ["/bin/sh", "-c", "trap \'sleep 2; exit 0\' TERM; '
    '(sleep 2; touch /ready) & while true; do sleep 1; done"]\n'
)
PHASES = ["stopping", "creating", "starting", "health-check", "removing-old"]
PODMAN_ROW = ("podman", "plain", "health-check")


async def journal_keys(bus: Bus) -> list[str]:
    """This host's journal keys, read so that a listing never comes back falsely empty
    (nats-py's keys() can: see vigil_shared.kv_listing)."""
    return [
        k
        for k in await kv_keys(bus.js, f"{bus.subjects.stream_name}_JOURNAL")
        if k.startswith(f"{HOST}.")
    ]


@dataclass
class Nats:
    """The NATS of one run: the test's own connection (it publishes plans and reads progress
    and reports) and how an executor process reaches it (arguments, environment)."""

    bus: Bus
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(params=["plain", "secured"])
async def run_nats(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Nats]:
    secured: SecuredNats | None = None
    args: list[str] = []
    env: dict[str, str] = {}
    if request.param == "plain":
        server: EmbeddedNats = request.getfixturevalue("nats_server")
        config = BusConfig(url=server.url, connect_timeout=2)
        args = ["--nats-url", server.url]
    else:
        # deploy/nats/fleet.conf with this host's users; the test is the all-seeing `spy`.
        secured = SecuredNats(tmp_path / "secured-nats", hosts=(HOST,))
        secured.start()
        config = BusConfig(
            url=secured.url,
            user=SPY,
            password=secured.passwords[SPY],
            tls_ca=str(secured.ca.path),
            connect_timeout=2,
        )
        env = secured.env(f"executor-{HOST}")  # VIGIL_NATS_URL, _USER, _PASSWORD, _TLS_CA
    bus = await Bus.connect(config, name="sigkill-test")
    try:
        await bus.ensure_streams()
        yield Nats(bus, args, env)
    finally:
        await bus.close()
        if secured is not None:
            secured.stop()


class ExecutorProcess:
    def __init__(self, run_nats: Nats, log: Path, timing: tuple[str, ...] = ()) -> None:
        self.nats = run_nats
        self.log = log
        # --plan-ack-wait and --stop-timeout, when a test needs others than these.
        self.timing = timing or ("--plan-ack-wait", "2", "--stop-timeout", "5")
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHTOWER_", "VIGIL_"))}
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "vigil.cli", "executor", *self.nats.args,
                "--host-id", HOST, *self.timing, "--health-timeout", "30", "--log-format", "json",
                stdout=out, stderr=out, env={**env, **self.nats.env},
            )  # fmt: skip

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


@pytest.fixture
async def executors() -> AsyncIterator[list[ExecutorProcess]]:
    """The executor processes of one test: whatever the outcome, none outlives it (a stray
    executor would recover other tests' updates on the engine when it starts)."""
    started: list[ExecutorProcess] = []
    yield started
    for process in started:
        process.kill()
        if process.proc is not None:
            await process.proc.wait()


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


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("engine_kind", "run_nats", "phase"),
    # Podman: one row, the step whose journal entry holds the most (the old container renamed
    # aside and stopped, the new one created and started, its health run by Vigil itself).
    [*(("docker", bus, p) for bus in ("plain", "secured") for p in PHASES), PODMAN_ROW],
    indirect=["engine_kind", "run_nats"],
)
async def test_killed_at_a_step_nothing_is_lost(
    engine_kind: str,
    phase: str,
    run_nats: Nats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    bus = run_nats.bus
    tag = f"{registry.host}/{names('app')}:latest"
    old_image = build_test_image(docker_client, tag, marker="v1", extra=SLOW)
    push_image(docker_client, tag)
    name = names(f"web-{phase}")
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
    first = ExecutorProcess(run_nats, tmp_path / "executor-1.log")
    executors.append(first)
    await first.start()
    await consumer_ready(bus)
    await bus.publish_event(bus.subjects.plan(HOST), plan, msg_id=plan.plan_id)
    while True:  # kill it the moment it takes the step
        event = await asyncio.wait_for(seen.get(), 60)
        if event.container == name and event.phase == phase:
            first.kill()
            break
    await first.proc.wait() if first.proc else None

    second = ExecutorProcess(run_nats, tmp_path / "executor-2.log")
    executors.append(second)
    await second.start()
    deadline = time.monotonic() + 60
    while plan.plan_id not in reports:
        assert time.monotonic() < deadline, (
            f"no report after a kill at {phase}: "
            + (tmp_path / "executor-2.log").read_text()[-3000:]
        )
        await asyncio.sleep(0.2)
    await second.stop()

    result = reports[plan.plan_id].results[0]
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
    # The second executor finished or undid the update from its journal: nothing is left in
    # it, so no later executor of this host would act on it again.
    keys = await journal_keys(bus)
    assert keys == [], f"killed at {phase}: journal still holds {keys}"


# Ignores SIGTERM altogether: only the engine's SIGKILL at the end of the stop timeout ends it.
DEAF = 'ENTRYPOINT ["/bin/sh", "-c", "trap \'\' TERM; while true; do sleep 1; done"]\n'


def engine_sent_signal(client: Any, container_id: str, since: float) -> bool:
    """Whether the engine has signalled the container (its `kill` event) since `since`."""
    found = client.api.events(
        since=int(since), until=int(time.time()) + 1, filters={"container": container_id,
        "event": "kill"}, decode=True,
    )  # fmt: skip
    return any(True for _ in found)


async def report_of(reports: dict[str, Report], plan_id: str, log: Path) -> Report:
    deadline = time.monotonic() + 90
    while plan_id not in reports:
        assert time.monotonic() < deadline, "no report: " + log.read_text()[-3000:]
        await asyncio.sleep(0.2)
    return reports[plan_id]


@pytest.mark.timeout(180)
async def test_killed_while_the_engine_stops_it_the_container_runs_again(
    nats_server: EmbeddedNats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """The executor SIGKILLed while the engine is stopping a container that ignores SIGTERM
    (the engine's stop goes on without it, and kills the container at the stop timeout), and
    started again at once: its recovery must wait for that stop and start the container
    again, and the redelivered plan must update it and start what it creates. The report
    says `updated` only of a container that runs on the new build."""
    bus = await Bus.connect(BusConfig(url=nats_server.url, connect_timeout=2), name="mid-stop")
    try:
        await bus.ensure_streams()
        run_nats = Nats(bus, ["--nats-url", nats_server.url])
        tag = f"{registry.host}/{names('deaf')}:latest"
        build_test_image(docker_client, tag, marker="v1", extra=DEAF)
        push_image(docker_client, tag)
        name = names("deaf")
        docker_client.containers.run(tag, name=name, detach=True)
        new_image = build_test_image(docker_client, tag, marker="v2", extra=DEAF)
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
        data = docker_client.api.inspect_container(name)
        plan = Plan(
            plan_id=uuid.uuid4().hex, scan_id=uuid.uuid4().hex, host=HOST,
            created_at=time.time(),
            actions=(UpdateAction(container_id=data["Id"], container_name=name, image=tag,
                                  old_image_id=data["Image"]),),
        )  # fmt: skip
        # The stop takes 8 s (SIGTERM is ignored); the plan comes again only after 15 s, so
        # the new executor's recovery runs while the engine still stops the container.
        timing = ("--plan-ack-wait", "15", "--stop-timeout", "8")
        first = ExecutorProcess(run_nats, tmp_path / "executor-1.log", timing)
        executors.append(first)
        await first.start()
        await consumer_ready(bus)
        asked = time.time() - 1
        await bus.publish_event(bus.subjects.plan(HOST), plan, msg_id=plan.plan_id)
        while True:
            event = await asyncio.wait_for(seen.get(), 60)
            if event.container == name and event.phase == "stopping":
                break
        deadline = time.monotonic() + 30
        while not await asyncio.to_thread(engine_sent_signal, docker_client, data["Id"], asked):
            assert time.monotonic() < deadline, "the engine never began to stop the container"
            await asyncio.sleep(0.1)
        first.kill()
        await first.proc.wait() if first.proc else None
        assert docker_client.api.inspect_container(name)["State"]["Running"], (
            "the stop ended before the executor was started again: the test proves nothing"
        )
        second = ExecutorProcess(run_nats, tmp_path / "executor-2.log", timing)
        executors.append(second)
        await second.start()
        report = await report_of(reports, plan.plan_id, tmp_path / "executor-2.log")
        await second.stop()

        result = report.results[0]
        after = docker_client.api.inspect_container(name)
        assert after["State"]["Running"], (
            f"left {after['State']['Status']} after a kill mid-stop; the report said {result}"
        )
        assert result.status == "updated", result
        assert after["Image"] == new_image, "reported updated, yet not on the new build"
        assert after["Id"] == result.new_container_id
    finally:
        await bus.close()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("phase", ["removing-old", "hook:post-update"])
async def test_a_recovered_update_is_reported_updated_once(
    phase: str,
    nats_server: EmbeddedNats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """Two plans for one transition (the next cycle planned it again before the first plan's
    report was out), the executor SIGKILLed near the end of the first: the first plan,
    delivered again, and the second together say `updated` exactly once; the other says up
    to date (it was reported twice, the second time `in 0.0s`).

    The kill must land before the first report is out. Killing on the `done` line raced the
    report (a few milliseconds behind it; CI lost that race once), so a post-update hook that
    sleeps its first time holds the executor after the journal says `done` and before it
    reports: `hook:post-update` is that window, deterministically."""
    bus = await Bus.connect(BusConfig(url=nats_server.url, connect_timeout=2), name="once")
    try:
        await bus.ensure_streams()
        run_nats = Nats(bus, ["--nats-url", nats_server.url])
        tag = f"{registry.host}/{names('app')}:latest"
        build_test_image(docker_client, tag, marker="v1", extra=SLOW)
        push_image(docker_client, tag)
        name = names("web")
        # Sleeps only its first time: the recovered run's hook (same container) is instant.
        hold = "test -e /tmp/held || { touch /tmp/held; sleep 60; }"
        docker_client.containers.run(
            tag, name=name, detach=True, labels={f"{HOOK_LABEL}.post-update": hold}
        )
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
        data = docker_client.api.inspect_container(name)
        action = UpdateAction(
            container_id=data["Id"], container_name=name, image=tag, old_image_id=data["Image"]
        )
        plans = [
            Plan(plan_id=uuid.uuid4().hex, scan_id=uuid.uuid4().hex, host=HOST,
                 created_at=time.time(), actions=(action,))
            for _ in range(2)
        ]  # fmt: skip
        first = ExecutorProcess(run_nats, tmp_path / "executor-1.log", HOOKS)
        executors.append(first)
        await first.start()
        await consumer_ready(bus)
        for plan in plans:
            await bus.publish_event(bus.subjects.plan(HOST), plan, msg_id=plan.plan_id)
        while True:
            event = await asyncio.wait_for(seen.get(), 60)
            if event.container == name and event.phase == phase:
                first.kill()
                break
        await first.proc.wait() if first.proc else None
        assert not reports, "killed too late: the first report was out"
        second = ExecutorProcess(run_nats, tmp_path / "executor-2.log", HOOKS)
        executors.append(second)
        await second.start()
        for plan in plans:
            await report_of(reports, plan.plan_id, tmp_path / "executor-2.log")
        await second.stop()

        statuses = [reports[p.plan_id].results[0].status for p in plans]
        assert statuses == ["updated", "fresh"], [reports[p.plan_id].results for p in plans]
        after = docker_client.api.inspect_container(name)
        assert after["Image"] == new_image and after["State"]["Running"]
        keys = await journal_keys(bus)
        assert keys == [], f"the journal still holds {keys}"
    finally:
        await bus.close()


@pytest.mark.timeout(150)
@pytest.mark.parametrize("phase", ["stopping", "creating", "starting", "health-check"])
async def test_killed_while_replacing_a_namespace_parent_both_run_tied(
    phase: str,
    nats_server: EmbeddedNats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """A container run with `--network container:web` (named to sort before web, as the
    chaos soak's `side` does) and the executor SIGKILLed at a step of web's update, after
    the plan stopped both: once started again, both run, the tied one in the network
    namespace of the container now named web (chaos seed 7: the executor restarted the tied
    one first, while web was still stopped or renamed aside: "cannot join network of a non
    running container", and it was left exited)."""
    bus = await Bus.connect(BusConfig(url=nats_server.url, connect_timeout=2), name="tied")
    try:
        await bus.ensure_streams()
        run_nats = Nats(bus, ["--nats-url", nats_server.url])
        tag = f"{registry.host}/{names('app')}:latest"
        build_test_image(docker_client, tag, marker="v1", extra=SLOW)
        push_image(docker_client, tag)
        web = names("web")
        side = names("a-side")  # sorts before web
        assert side < web
        docker_client.containers.run(tag, name=web, detach=True)
        docker_client.containers.run(tag, name=side, detach=True, network_mode=f"container:{web}")
        build_test_image(docker_client, tag, marker="v2", extra=SLOW)
        push_image(docker_client, tag)

        seen: asyncio.Queue[ProgressEvent] = asyncio.Queue()
        reports: dict[str, Report] = {}

        async def on_progress(event: ProgressEvent, headers: dict[str, str]) -> None:
            await seen.put(event)

        async def on_report(report: Report, headers: dict[str, str]) -> None:
            reports[report.plan_id] = report

        await bus.subscribe(bus.subjects.progress(HOST), ProgressEvent, on_progress)
        await bus.subscribe(bus.subjects.report(HOST), Report, on_report)
        data = docker_client.api.inspect_container(web)
        side_data = docker_client.api.inspect_container(side)
        plan = Plan(
            plan_id=uuid.uuid4().hex, scan_id=uuid.uuid4().hex, host=HOST,
            created_at=time.time(),
            actions=(
                UpdateAction(
                    container_id=data["Id"], container_name=web, image=tag,
                    old_image_id=data["Image"],
                ),
            ),
            settled=(
                ContainerResult(
                    name=side, container_id=side_data["Id"], image=tag, status="fresh",
                    old_image_id=side_data["Image"],
                ),
            ),
        )  # fmt: skip
        first = ExecutorProcess(run_nats, tmp_path / "executor-1.log")
        executors.append(first)
        await first.start()
        await consumer_ready(bus)
        await bus.publish_event(bus.subjects.plan(HOST), plan, msg_id=plan.plan_id)
        while True:  # kill it the moment it takes web's step
            event = await asyncio.wait_for(seen.get(), 60)
            if event.container == web and event.phase == phase:
                first.kill()
                break
        await first.proc.wait() if first.proc else None

        second = ExecutorProcess(run_nats, tmp_path / "executor-2.log")
        executors.append(second)
        await second.start()
        await report_of(reports, plan.plan_id, tmp_path / "executor-2.log")
        await second.stop()
        log = (tmp_path / "executor-2.log").read_text()[-3000:]

        now_web = docker_client.api.inspect_container(web)
        now_side = docker_client.api.inspect_container(side)
        assert now_web["State"]["Running"], f"killed at {phase}: web is not running: {log}"
        assert now_side["State"]["Running"], f"killed at {phase}: side is not running: {log}"
        assert now_side["HostConfig"]["NetworkMode"] == f"container:{now_web['Id']}", (
            f"killed at {phase}: side is not in the namespace of the web now running"
        )
        left = [
            c.name
            for c in docker_client.containers.list(all=True)
            if ASIDE_MARKER in c.name and (c.name.startswith(web) or c.name.startswith(side))
        ]
        assert left == [], f"killed at {phase}: left behind {left}"
        assert await journal_keys(bus) == [], f"killed at {phase}: journal not empty"
    finally:
        await bus.close()
