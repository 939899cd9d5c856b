"""A lone `vigil executor` stopped with SIGTERM at each step of an update: before it exits it
finishes the container in flight (or puts it back running on its old build), leaves the
containers it has not started on, and publishes the report itself, which says so. No second
executor is started: what runs afterwards is what the stopped one left. A real engine,
registry, NATS and `vigil executor` processes."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.test_executor_sigkill import SLOW
from tests.support.executor_faults import (
    ExecutorProcess,
    Nats,
    PlanWatch,
    container_names,
    journal_keys,
    stale_app,
    started,
)
from tests.support.registry_fixtures import RegistryServer
from vigil_shared.contracts.journal import ASIDE_MARKER

pytestmark = pytest.mark.integration

PHASES = ["pulling", "stopping", "creating", "starting", "health-check", "removing-old"]


@pytest.mark.timeout(150)
@pytest.mark.parametrize("phase", PHASES)
async def test_sigterm_at_a_step_finishes_or_puts_back_and_reports_before_exit(
    phase: str,
    plain_nats: Nats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    # Started in name order, stopped the other way round: `a` is updated first.
    first_name, second_name = names("a"), names("b")
    tag = f"{registry.host}/{names('app')}:latest"
    app = stale_app(docker_client, tag, SLOW, {first_name: {}, second_name: {}})
    watch = await PlanWatch(plain_nats).start()
    plan = watch.plan(docker_client, tag, [first_name, second_name])
    before = {a.container_name: a.container_id for a in plan.actions}
    log = tmp_path / "x.log"
    executor = await started(plain_nats, executors, log)
    await watch.publish(plan)
    # Stopping: the first container stopped (`b`); the other steps are `a`'s.
    await watch.until_phase(second_name if phase == "stopping" else first_name, phase)
    assert executor.proc is not None
    executor.proc.send_signal(signal.SIGTERM)
    status = await asyncio.wait_for(executor.proc.wait(), 90)
    assert status == 0, log.read_text()[-3000:]
    # Published by this executor before it exited: no other one ever ran.
    report = await watch.report(plan.plan_id, log)

    results = {r.name: r for r in report.results}
    for name in (first_name, second_name):
        after = docker_client.api.inspect_container(name)
        assert after["State"]["Running"], f"SIGTERM at {phase}: {name} {results[name]}"
    first = docker_client.api.inspect_container(first_name)
    second = docker_client.api.inspect_container(second_name)
    if phase in ("pulling", "stopping"):  # nothing of `a` was begun
        assert first["Id"] == before[first_name] and first["Image"] == app.old_image
        assert results[first_name].status == "skipped", results[first_name]
        assert "left for the next cycle" in results[first_name].error
        updated = 0
    else:  # `a` was in flight: finished
        assert results[first_name].status == "updated", results[first_name]
        assert first["Image"] == app.new_image
        updated = 1
    # `b` never begun (pulling), or stopped and put back on its old build: left.
    assert second["Image"] == app.old_image, f"SIGTERM at {phase}"
    assert results[second_name].status == "skipped", results[second_name]
    assert "left for the next cycle" in results[second_name].error
    assert (
        f"interrupted: {updated} updated, {2 - updated} left for the next cycle "
        "(vigil stopped by SIGTERM)"
    ) in report.problems, report.problems
    aside = [n for n in container_names(docker_client) if ASIDE_MARKER in n]
    assert not [n for n in aside if first_name in n or second_name in n], aside
    keys = await journal_keys(plain_nats.bus, plain_nats.host)
    assert keys == [], f"SIGTERM at {phase}: journal still holds {keys}"


@pytest.mark.timeout(150)
async def test_a_second_sigterm_exits_now_and_the_journal_recovers(
    plain_nats: Nats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """A second SIGTERM while the first lets the update in flight finish means "exit now":
    the executor does not wait for the update; the next executor finishes or rolls it back
    from the journal, and the container runs under its name."""
    name = names("web")
    app = stale_app(docker_client, f"{registry.host}/{names('app')}:latest", SLOW, {name: {}})
    watch = await PlanWatch(plain_nats).start()
    plan = watch.plan(docker_client, app.tag, [name])
    first = await started(plain_nats, executors, tmp_path / "executor-1.log")
    await watch.publish(plan)
    await watch.until_phase(name, "health-check")
    assert first.proc is not None
    first.proc.send_signal(signal.SIGTERM)
    first.proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(first.proc.wait(), 60)
    log = tmp_path / "executor-2.log"
    second = await started(plain_nats, executors, log, first=False)
    report = await watch.report(plan.plan_id, log)
    await second.stop()
    after = docker_client.api.inspect_container(name)
    assert after["State"]["Running"], report.results
    assert after["Image"] in (app.old_image, app.new_image)
    assert report.results[0].status in ("updated", "rolled_back"), report.results
    aside = [n for n in container_names(docker_client) if ASIDE_MARKER in n]
    assert not [n for n in aside if name in n], aside
