"""The set-up the executor fault tests share (tests/faults/test_executor_sigkill.py,
test_executor_sigterm.py): a stale app (built, pushed, run, rebuilt and pushed again),
`vigil executor` processes, the plan for the app's containers, and its progress and report
as the test's own NATS connection sees them.

Each test has a host id of its own (`fault_host`): an interrupted update that a failed test
leaves on the engine carries that id in its marks, so no later test's executor recovers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.contracts import ContainerResult, Plan, ProgressEvent, Report, UpdateAction
from vigil_shared.contracts.journal import is_entry_key
from vigil_shared.kv_listing import kv_keys


@pytest.fixture
def fault_host() -> str:
    return f"fault-{uuid.uuid4().hex[:8]}"


@dataclass
class Nats:
    """The NATS of one run: the test's own connection (it publishes plans and reads progress
    and reports) and how an executor process reaches it (arguments, environment)."""

    bus: Bus
    host: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


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
                "--host-id", self.nats.host, *self.timing, "--health-timeout", "30",
                "--log-format", "json", stdout=out, stderr=out, env={**env, **self.nats.env},
            )  # fmt: skip

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def wait(self) -> None:
        if self.proc is not None:
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


@pytest.fixture
async def executors(names: Callable[[str], str]) -> AsyncIterator[list[ExecutorProcess]]:
    """The executor processes of one test: whatever the outcome, none outlives it, and each
    is gone before `names` removes the test's containers (set up after it, so torn down
    first): a live executor would go on creating and renaming while they are removed."""
    started: list[ExecutorProcess] = []
    yield started
    for process in started:
        process.kill()
        await process.wait()


async def consumer_ready(bus: Bus, host: str) -> None:
    """The executor's durable consumer exists: a plan published now reaches it. (The first
    executor of a host starts with the plans published from then on.)"""
    deadline = time.monotonic() + 30
    while True:
        try:
            await bus.js.consumer_info(bus.subjects.stream_name, f"executor-{host}")
            return
        except Exception:
            assert time.monotonic() < deadline, "the executor never subscribed to its plans"
            await asyncio.sleep(0.1)


async def journal_keys(bus: Bus, host: str) -> list[str]:
    """The host's journal keys, read so that a listing never comes back falsely empty
    (nats-py's keys() can: see vigil_shared.kv_listing)."""
    keys = await kv_keys(bus.js, f"{bus.subjects.stream_name}_JOURNAL")
    # Replacements in flight only, not the host's list of reported plans.
    return [k for k in keys if k.startswith(f"{host}.") and is_entry_key(k)]


@dataclass(frozen=True)
class StaleApp:
    tag: str
    old_image: str
    new_image: str


def stale_app(
    client: Any,
    tag: str,
    extra: str,
    containers: Mapping[str, Mapping[str, Any]],
    *,
    keep_new: bool = False,
    new_extra: str | None = None,
) -> StaleApp:
    """Build `tag` (marker v1, Dockerfile lines `extra`) and push it, run `containers` (name:
    keyword arguments of containers.run) on it, in order, then build and push v2 (with
    `new_extra` instead of `extra` when given: a new build that differs, e.g. never healthy).
    The local tag is removed unless `keep_new`: the executor must pull the new build."""
    old_image = build_test_image(client, tag, marker="v1", extra=extra)
    push_image(client, tag)
    for name, run in containers.items():
        client.containers.run(tag, name=name, detach=True, **run)
    new_extra = extra if new_extra is None else new_extra
    new_image = build_test_image(client, tag, marker="v2", extra=new_extra)
    push_image(client, tag)
    if not keep_new:
        client.api.remove_image(tag)
    return StaleApp(tag, old_image, new_image)


class PlanWatch:
    """A host's plans as the test publishes them, and their progress and reports."""

    def __init__(self, run_nats: Nats) -> None:
        self.bus = run_nats.bus
        self.host = run_nats.host
        self.seen: asyncio.Queue[ProgressEvent] = asyncio.Queue()
        self.reports: dict[str, Report] = {}

    async def start(self) -> PlanWatch:
        async def on_progress(event: ProgressEvent, headers: dict[str, str]) -> None:
            await self.seen.put(event)

        async def on_report(report: Report, headers: dict[str, str]) -> None:
            self.reports[report.plan_id] = report

        await self.bus.subscribe(self.bus.subjects.progress(self.host), ProgressEvent, on_progress)
        await self.bus.subscribe(self.bus.subjects.report(self.host), Report, on_report)
        return self

    def plan(
        self, client: Any, tag: str, names: Sequence[str], settled: Sequence[str] = ()
    ) -> Plan:
        """A plan to update `names` (containers on `tag`) to what `tag` names in the registry;
        `settled`: containers of the host the scan found fresh."""
        data = {n: client.api.inspect_container(n) for n in (*names, *settled)}
        return Plan(
            plan_id=uuid.uuid4().hex, scan_id=uuid.uuid4().hex, host=self.host,
            created_at=time.time(),
            actions=tuple(
                UpdateAction(container_id=data[n]["Id"], container_name=n, image=tag,
                             old_image_id=data[n]["Image"])
                for n in names
            ),
            settled=tuple(
                ContainerResult(name=n, container_id=data[n]["Id"], image=tag, status="fresh",
                                old_image_id=data[n]["Image"])
                for n in settled
            ),
        )  # fmt: skip

    async def publish(self, plan: Plan) -> None:
        await self.bus.publish_event(self.bus.subjects.plan(self.host), plan, msg_id=plan.plan_id)

    async def until_phase(self, container: str, phase: str, timeout: float = 60) -> None:
        """Returns the moment the executor says it takes `phase` of `container`."""
        while True:
            event = await asyncio.wait_for(self.seen.get(), timeout)
            if event.container == container and event.phase == phase:
                return

    async def report(self, plan_id: str, log: Path, timeout: float = 90) -> Report:
        deadline = time.monotonic() + timeout
        while plan_id not in self.reports:
            assert time.monotonic() < deadline, "no report: " + log.read_text()[-3000:]
            await asyncio.sleep(0.2)
        return self.reports[plan_id]


async def started(
    run_nats: Nats,
    executors: list[ExecutorProcess],
    log: Path,
    timing: tuple[str, ...] = (),
    *,
    first: bool = True,
) -> ExecutorProcess:
    """An executor process of the run's host, started; `first`: wait until its durable
    consumer exists (a plan published before that would not reach it)."""
    process = ExecutorProcess(run_nats, log, timing)
    executors.append(process)
    await process.start()
    if first:
        await consumer_ready(run_nats.bus, run_nats.host)
    return process


@contextlib.asynccontextmanager
async def nats_run(
    config: BusConfig, host: str, args: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> AsyncIterator[Nats]:
    """The test's connection to a NATS (streams made), and how an executor reaches it."""
    bus = await Bus.connect(config, name="faults")
    try:
        await bus.ensure_streams()
        yield Nats(bus, host, list(args), dict(env or {}))
    finally:
        await bus.close()


@pytest.fixture
async def plain_nats(nats_server: Any, fault_host: str) -> AsyncIterator[Nats]:
    """The test's NATS (the embedded server of `nats_server`)."""
    config = BusConfig(url=nats_server.url, connect_timeout=2)
    async with nats_run(config, fault_host, ["--nats-url", nats_server.url]) as run:
        yield run


def container_names(client: Any) -> list[str]:
    """Every container's name on the engine, by the low-level listing: docker-py's
    containers.list inspects each one and fails on one removed meanwhile (by another test's
    executor on the same engine, say)."""
    return [str(c["Names"][0]).lstrip("/") for c in client.api.containers(all=True) if c["Names"]]
