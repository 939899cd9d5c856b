"""A lone `vigil executor` stopped with SIGTERM at each step of an update: before it exits it
finishes the container in flight (or puts it back running on its old build), leaves the
containers it has not started on, and publishes the report itself, which says so. No second
executor is started: what runs afterwards is what the stopped one left. A real engine,
registry, NATS and `vigil executor` processes."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats.js.errors
import pytest

from tests.faults.test_executor_sigkill import (
    HOST,
    SLOW,
    ExecutorProcess,
    Nats,
    consumer_ready,
    executors,
    report_of,
)
from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.contracts import Plan, ProgressEvent, Report, UpdateAction
from vigil_shared.contracts.journal import ASIDE_MARKER

pytestmark = pytest.mark.integration
__all__ = ["executors"]

PHASES = ["pulling", "stopping", "creating", "starting", "health-check", "removing-old"]


@pytest.mark.timeout(150)
@pytest.mark.parametrize("phase", PHASES)
async def test_sigterm_at_a_step_finishes_or_puts_back_and_reports_before_exit(
    phase: str,
    nats_server: EmbeddedNats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    bus = await Bus.connect(BusConfig(url=nats_server.url, connect_timeout=2), name="sigterm")
    try:
        await bus.ensure_streams()
        tag = f"{registry.host}/{names('app')}:latest"
        old_image = build_test_image(docker_client, tag, marker="v1", extra=SLOW)
        push_image(docker_client, tag)
        # Started in name order, stopped the other way round: `a` is updated first.
        first_name, second_name = names("a"), names("b")
        for name in (first_name, second_name):
            docker_client.containers.run(tag, name=name, detach=True)
        before = {n: docker_client.api.inspect_container(n) for n in (first_name, second_name)}
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
        plan = Plan(
            plan_id=uuid.uuid4().hex, scan_id=uuid.uuid4().hex, host=HOST,
            created_at=time.time(),
            actions=tuple(
                UpdateAction(container_id=d["Id"], container_name=n, image=tag,
                             old_image_id=d["Image"])
                for n, d in before.items()
            ),
        )  # fmt: skip
        executor = ExecutorProcess(Nats(bus, ["--nats-url", nats_server.url]), tmp_path / "x.log")
        executors.append(executor)
        await executor.start()
        await consumer_ready(bus)
        await bus.publish_event(bus.subjects.plan(HOST), plan, msg_id=plan.plan_id)
        # Stopping: the first container stopped (`b`); the other steps are `a`'s.
        target = second_name if phase == "stopping" else first_name
        while True:
            event = await asyncio.wait_for(seen.get(), 60)
            if event.container == target and event.phase == phase:
                break
        assert executor.proc is not None
        executor.proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(executor.proc.wait(), 90)
        log = (tmp_path / "x.log").read_text()
        assert status == 0, log[-3000:]
        # Published by this executor before it exited: no other one ever ran.
        report = await report_of(reports, plan.plan_id, tmp_path / "x.log")

        results = {r.name: r for r in report.results}
        for name in (first_name, second_name):
            after = docker_client.api.inspect_container(name)
            assert after["State"]["Running"], f"SIGTERM at {phase}: {name} {results[name]}"
        first = docker_client.api.inspect_container(first_name)
        second = docker_client.api.inspect_container(second_name)
        if phase in ("pulling", "stopping"):  # nothing of `a` was begun
            assert first["Id"] == before[first_name]["Id"] and first["Image"] == old_image
            assert results[first_name].status == "skipped", results[first_name]
            assert "left for the next cycle" in results[first_name].error
            updated = 0
        else:  # `a` was in flight: finished
            assert results[first_name].status == "updated", results[first_name]
            assert first["Image"] == new_image
            updated = 1
        # `b` never begun (pulling), or stopped and put back on its old build: left.
        assert second["Image"] == old_image, f"SIGTERM at {phase}"
        assert results[second_name].status == "skipped", results[second_name]
        assert "left for the next cycle" in results[second_name].error
        assert (
            f"interrupted: {updated} updated, 2 left for the next cycle (vigil stopped by SIGTERM)"
            if updated == 0
            else f"interrupted: {updated} updated, 1 left for the next cycle "
            "(vigil stopped by SIGTERM)"
        ) in report.problems, report.problems
        aside = [c.name for c in docker_client.containers.list(all=True) if ASIDE_MARKER in c.name]
        assert not [n for n in aside if first_name in n or second_name in n], aside
        journal = await bus.key_value("JOURNAL")
        try:
            keys = [k for k in await journal.keys() if k.startswith(f"{HOST}.")]
        except nats.js.errors.NoKeysError:
            keys = []
        assert keys == [], f"SIGTERM at {phase}: journal still holds {keys}"
    finally:
        await bus.close()


@pytest.mark.timeout(150)
async def test_a_second_sigterm_exits_now_and_the_journal_recovers(
    nats_server: EmbeddedNats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """A second SIGTERM while the first lets the update in flight finish means "exit now":
    the executor does not wait for the update; the next executor finishes or rolls it back
    from the journal, and the container runs under its name."""
    bus = await Bus.connect(BusConfig(url=nats_server.url, connect_timeout=2), name="twice")
    try:
        await bus.ensure_streams()
        run_nats = Nats(bus, ["--nats-url", nats_server.url])
        tag = f"{registry.host}/{names('app')}:latest"
        old_image = build_test_image(docker_client, tag, marker="v1", extra=SLOW)
        push_image(docker_client, tag)
        name = names("web")
        docker_client.containers.run(tag, name=name, detach=True)
        data = docker_client.api.inspect_container(name)
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
        plan = Plan(
            plan_id=uuid.uuid4().hex, scan_id=uuid.uuid4().hex, host=HOST,
            created_at=time.time(),
            actions=(UpdateAction(container_id=data["Id"], container_name=name, image=tag,
                                  old_image_id=data["Image"]),),
        )  # fmt: skip
        first = ExecutorProcess(run_nats, tmp_path / "executor-1.log")
        executors.append(first)
        await first.start()
        await consumer_ready(bus)
        await bus.publish_event(bus.subjects.plan(HOST), plan, msg_id=plan.plan_id)
        while True:
            event = await asyncio.wait_for(seen.get(), 60)
            if event.container == name and event.phase == "health-check":
                break
        assert first.proc is not None
        first.proc.send_signal(signal.SIGTERM)
        first.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.proc.wait(), 60)
        second = ExecutorProcess(run_nats, tmp_path / "executor-2.log")
        executors.append(second)
        await second.start()
        report = await report_of(reports, plan.plan_id, tmp_path / "executor-2.log")
        await second.stop()
        after = docker_client.api.inspect_container(name)
        assert after["State"]["Running"], report.results
        assert after["Image"] in (old_image, new_image)
        assert report.results[0].status in ("updated", "rolled_back"), report.results
        aside = [c.name for c in docker_client.containers.list(all=True) if ASIDE_MARKER in c.name]
        assert not [n for n in aside if name in n], aside
    finally:
        await bus.close()
