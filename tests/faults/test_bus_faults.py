"""Faults on the bus: garbage on every subject Vigil listens to, and NATS restarted in the
middle of a cycle. The real `vigil` all-in-one over a test NATS, the real engine and registry;
each case asserts the outcome, not only that nothing crashed."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.support.images import StaleContainer
from tests.support.registry_fixtures import RegistryServer
from tests.support.vigil_process import VigilProcess
from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.bus import ERROR_HEADER, Bus, BusConfig
from vigil_shared.contracts import (
    CheckRequest,
    Inventory,
    Plan,
    ProgressEvent,
    PullAuthRequest,
    Report,
    ScanCommand,
)

pytestmark = pytest.mark.integration

HOST = "g1"
GARBAGE_PER_KIND = 50  # of each kind below, on every subject: a few hundred per subject
OVERSIZED = 5 * 1024 * 1024  # over Vigil's 4 MiB limit, under the server's max_payload


def garbage(wrong_schema: msgspec.Struct) -> list[bytes]:
    """Random bytes, JSON of the wrong shape, a message of the subject's own type with a
    schema version Vigil does not speak, oversized payloads."""
    wrong = msgspec.json.encode(wrong_schema)
    kinds: list[bytes] = []
    for i in range(GARBAGE_PER_KIND):
        kinds.append(os.urandom(64 + i))
        kinds.append(json.dumps({"unexpected": i, "scan_id": 5}).encode())
        kinds.append(json.dumps([i, "list"]).encode())
        kinds.append(wrong)
    kinds.append(b"{" * OVERSIZED)
    return kinds


class Stale(StaleContainer):
    """A stale container of this test on the engine; `slow_stop` answers SIGTERM late."""

    def __init__(self, client: Any, registry: RegistryServer, names: Callable[[str], str], *,
                 slow_stop: bool = False) -> None:  # fmt: skip
        extra = (
            'ENTRYPOINT ["/bin/sh", "-c", "trap \'sleep 3; exit 0\' TERM; '
            'while true; do sleep 1; done"]\n'
            if slow_stop
            else ""
        )
        super().__init__(client, registry.host, names("web"), names("app"), extra=extra)


async def cycle(bus: Bus, timeout: float = 120) -> Report:
    """Ask for a cycle as `vigil trigger` does; the host's report of it."""
    scan_id = uuid.uuid4().hex
    done: asyncio.Future[Report] = asyncio.get_running_loop().create_future()

    async def on_report(report: Report, headers: dict[str, str]) -> None:
        if report.scan_id == scan_id and not done.done():
            done.set_result(report)

    await bus.subscribe(bus.subjects.report(HOST), Report, on_report)
    await bus.publish(bus.subjects.cmd_scan, ScanCommand(scan_id=scan_id, hosts=(HOST,)))
    return await asyncio.wait_for(done, timeout)


@pytest.fixture
async def client_bus(nats_server: EmbeddedNats) -> Any:
    bus = await Bus.connect(BusConfig(url=nats_server.url), name="fault-test")
    await bus.ensure_streams()
    yield bus
    await bus.close()


def start_vigil(tmp_path: Path, nats_server: EmbeddedNats, *names: str) -> VigilProcess:
    vigil = VigilProcess(
        tmp_path, "--nats-url", nats_server.url, "--host-id", HOST, "--interval", "86400", *names
    )
    vigil.wait_for("vigil is running")
    return vigil


@pytest.mark.timeout(300)
async def test_garbage_on_every_subject_changes_nothing(
    tmp_path: Path,
    nats_server: EmbeddedNats,
    client_bus: Bus,
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    stale = Stale(docker_client, registry, names)
    vigil = start_vigil(tmp_path, nats_server, stale.name)
    try:
        subjects = client_bus.subjects
        for payload in garbage(ScanCommand(scan_id="x", schema=999)):
            await client_bus.nc.publish(subjects.cmd_scan, payload)
        requests = {
            subjects.registry_check: CheckRequest(scan_id="x", host=HOST, images=(), schema=999),
            subjects.pull_auth: PullAuthRequest(host=HOST, image="a", public_key="k", schema=999),
        }
        for subject, wrong in requests.items():
            payloads = garbage(wrong)
            answers = [
                await client_bus.nc.request(subject, payload, timeout=10)
                for payload in payloads[:: max(1, len(payloads) // 40)]
            ]
            # Every request gets an error reply naming what was wrong with it.
            assert all((a.headers or {}).get(ERROR_HEADER) == "1" for a in answers)
            assert any(b"schema version 999" in a.data for a in answers)
            assert any(b"exceeds" in a.data for a in answers)
        events = {
            subjects.plan(HOST): Plan(plan_id="x", scan_id="x", host=HOST, created_at=0, schema=9),
            subjects.report(HOST): Report(
                scan_id="x", plan_id="x", host=HOST, started_at=0, finished_at=0, schema=9
            ),
            subjects.inventory(HOST): Inventory(scan_id="x", host=HOST, taken_at=0, schema=9),
            subjects.progress(HOST): ProgressEvent(
                plan_id="x", scan_id="x", host=HOST, container="c", phase="p", at=0, schema=9
            ),
        }
        for subject, wrong in events.items():
            for payload in garbage(wrong):
                await client_bus.js.publish(subject, payload)
        await client_bus.nc.flush()

        report = await cycle(client_bus)
        assert [(r.name, r.status) for r in report.results] == [(stale.name, "updated")]
        assert stale.updated()
        assert vigil.process.poll() is None
        assert "dropped malformed message" in vigil.output
    finally:
        assert vigil.stop() == 0, vigil.output[-3000:]


@pytest.mark.timeout(300)
async def test_nats_restarted_mid_cycle(
    tmp_path: Path,
    nats_server: EmbeddedNats,
    client_bus: Bus,
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    first = Stale(docker_client, registry, names, slow_stop=True)
    second = Stale(docker_client, registry, names)
    vigil = start_vigil(tmp_path, nats_server, first.name, second.name)
    try:
        scan_id = uuid.uuid4().hex
        reports: dict[str, Report] = {}

        async def on_report(report: Report, headers: dict[str, str]) -> None:
            reports[report.scan_id] = report

        await client_bus.subscribe(client_bus.subjects.report(HOST), Report, on_report)
        await client_bus.publish(
            client_bus.subjects.cmd_scan,
            ScanCommand(scan_id=scan_id, hosts=(HOST,), names=(first.name,)),
        )
        await client_bus.nc.flush()
        # The executor is in the middle of it (waited for in a thread: the loop must run).
        await asyncio.to_thread(vigil.wait_for, ": stopping", timeout=60)
        await asyncio.to_thread(nats_server.stop)
        await asyncio.sleep(2)
        await asyncio.to_thread(nats_server.start)  # the same port and the same store

        deadline = time.monotonic() + 150
        while scan_id not in reports:
            assert time.monotonic() < deadline, vigil.output[-4000:]
            await asyncio.sleep(0.5)
        result = reports[scan_id].results[0]
        # Completed, or reported as what it is; never lost.
        assert result.status in ("updated", "failed", "rolled_back"), result
        assert docker_client.api.inspect_container(first.name)["State"]["Running"]
        leftovers = [c.name for c in docker_client.containers.list(all=True)
                     if c.name.startswith(first.name) and c.name != first.name]  # fmt: skip
        assert leftovers == []

        # The next trigger works, and the audit stream kept what happened before the restart.
        report = await cycle(client_bus)
        assert {r.name: r.status for r in report.results}[second.name] == "updated"
        assert second.updated()
        kinds = []
        sub = await client_bus.js.subscribe(
            f"vigil.*.{HOST}", stream="VIGIL", ordered_consumer=True
        )
        try:
            while True:
                msg = await sub.next_msg(timeout=2)
                kinds.append((msg.subject.split(".")[1], json.loads(msg.data).get("scan_id")))
        except Exception:
            pass
        finally:
            await sub.unsubscribe()
        assert ("inventory", scan_id) in kinds and ("plan", scan_id) in kinds
        assert vigil.process.poll() is None
    finally:
        assert vigil.stop() == 0, vigil.output[-3000:]
