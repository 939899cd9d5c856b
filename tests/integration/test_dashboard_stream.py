"""The dashboard's event stream against a real NATS: a report published on the bus reaches
an open page at once, the containers it names show with their state, and a page that hangs
up frees its connection at once (not at the next failed write)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from vigil.dashboard.service import Dashboard, DashboardConfig
from vigil_shared.bus import Bus
from vigil_shared.contracts import ContainerInfo, ContainerResult, Inventory, Report

pytestmark = pytest.mark.integration


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.05)


async def test_a_report_reaches_an_open_page_and_a_closed_page_frees_its_connection(
    bus: Bus,
) -> None:
    dashboard = Dashboard(bus, DashboardConfig(port=0, check_interval=0))
    await dashboard.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", dashboard.server.port)
        writer.write(b"GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"retry: 2000")
        assert b"text/event-stream" in head
        await _until(lambda: len(dashboard._clients) == 1)

        info = ContainerInfo(id="c1", name="web", image="r:5000/app:latest", image_id="sha256:1")
        await bus.publish_event(
            bus.subjects.inventory("h1"),
            Inventory(scan_id="s1", host="h1", taken_at=1, containers=(info,)),
        )
        failed = ContainerResult(
            name="web", container_id="c1", image=info.image, status="failed", error="pull <refused>"
        )
        report = Report(
            scan_id="s1", plan_id="p1", host="h1", started_at=1, finished_at=2, results=(failed,)
        )
        await bus.publish_event(bus.subjects.report("h1"), report)
        seen = b""
        while b"event: audit" not in seen or b"report" not in seen:
            seen += await asyncio.wait_for(reader.read(65536), timeout=5)
        rows = (await _json(dashboard, "/api/containers"))["containers"]
        assert [(r["name"], r["state"], r["detail"]) for r in rows] == [
            ("web", "failed", "pull <refused>")
        ]

        writer.close()  # the page goes away
        await _until(lambda: dashboard.server.open_connections == 0, timeout=2.0)
        assert not dashboard._clients
    finally:
        await dashboard.close()


async def _json(dashboard: Dashboard, path: str) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", dashboard.server.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    return json.loads(data.split(b"\r\n\r\n", 1)[1])  # type: ignore[no-any-return]


async def test_a_dashboard_started_on_a_large_stream_reads_each_hosts_latest(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fleet's stream holds millions of messages: a (re)started dashboard reads the last
    # message of each subject, not the stream from its start, and still shows every host.
    monkeypatch.setattr("vigil.dashboard.service.REPLAY_ALL_UP_TO", 5)
    for cycle in range(4):
        for host in ("h1", "h2", "h3"):
            info = ContainerInfo(
                id=f"{host}c", name="web", image="r:5000/app:latest", image_id="sha256:1"
            )
            await bus.publish_event(
                bus.subjects.inventory(host),
                Inventory(scan_id=f"s{cycle}", host=host, taken_at=cycle, containers=(info,)),
            )
            result = ContainerResult(
                name="web",
                container_id=info.id,
                image=info.image,
                status="failed" if cycle == 3 else "fresh",
                error=f"cycle {cycle}",
            )
            report = Report(
                scan_id=f"s{cycle}",
                plan_id=f"p{cycle}",
                host=host,
                started_at=cycle,
                finished_at=cycle,
                results=(result,),
            )
            await bus.publish_event(bus.subjects.report(host), report)
    dashboard = Dashboard(bus, DashboardConfig(port=0, check_interval=0))
    await dashboard.start()
    try:
        await _until(
            lambda: len(dashboard.view.inventories) == 3 and len(dashboard.view.reports) == 3
        )
        rows = (await _json(dashboard, "/api/containers"))["containers"]
        assert sorted((r["host"], r["state"], r["detail"]) for r in rows) == [
            (host, "failed", "cycle 3") for host in ("h1", "h2", "h3")
        ]
        # Only the latest inventory and report of each host were read (6 of 24 messages).
        assert [e.kind for e in dashboard.view.events] == ["inventory", "report"] * 3
    finally:
        await dashboard.close()
