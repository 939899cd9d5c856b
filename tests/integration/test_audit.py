"""The audit stream replayed by `vigil events` and `vigil history` (a real NATS)."""

from __future__ import annotations

import io
import json
import time

import pytest

from vigil.commands.audit import run_audit
from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.bus import Bus
from vigil_shared.contracts import (
    ContainerInfo,
    ContainerResult,
    Inventory,
    Plan,
    ProgressEvent,
    Report,
    UpdateAction,
)

pytestmark = pytest.mark.integration

OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64


async def publish_cycle(bus: Bus, host: str, scan_id: str, updated: bool = True) -> None:
    now = time.time()
    web = ContainerInfo(id="c1", name="web", image="reg/app:1", image_id=OLD)
    db = ContainerInfo(id="c2", name="db", image="reg/db:1", image_id=OLD)
    await bus.publish_event(
        bus.subjects.inventory(host),
        Inventory(scan_id=scan_id, host=host, taken_at=now, containers=(web, db)),
    )
    action = UpdateAction(
        container_id="c1", container_name="web", image="reg/app:1", old_image_id=OLD
    )
    fresh = ContainerResult(name="db", container_id="c2", image="reg/db:1", status="fresh")
    await bus.publish_event(
        bus.subjects.plan(host),
        Plan(
            plan_id=f"p-{scan_id}",
            scan_id=scan_id,
            host=host,
            created_at=now,
            actions=(action,),
            settled=(fresh,),
        ),
    )
    await bus.publish_event(
        bus.subjects.progress(host),
        ProgressEvent(
            plan_id=f"p-{scan_id}",
            scan_id=scan_id,
            host=host,
            container="web",
            phase="pulling",
            at=now,
            index=1,
            total=1,
        ),
    )
    result = ContainerResult(
        name="web",
        container_id="c1",
        image="reg/app:1",
        status="updated" if updated else "failed",
        old_image_id=OLD,
        new_image_id=NEW if updated else "",
        error="" if updated else "pull failed",
    )
    await bus.publish_event(
        bus.subjects.report(host),
        Report(
            scan_id=scan_id,
            plan_id=f"p-{scan_id}",
            host=host,
            started_at=now,
            finished_at=now,
            results=(result, fresh),
        ),
    )


async def audit(nats_server: EmbeddedNats, command: str, **values: object) -> list[str]:
    out = io.StringIO()
    assert await run_audit(command, {"nats_url": nats_server.url, **values}, out) == 0
    return out.getvalue().splitlines()


async def test_a_late_subscriber_replays_a_cycle_in_order(
    bus: Bus, nats_server: EmbeddedNats
) -> None:
    await publish_cycle(bus, "h1", "scan-1")
    await publish_cycle(bus, "h2", "scan-2", updated=False)
    await bus.nc.publish("vigil.report.h1", b"garbage that is not a report")  # skipped

    lines = await audit(nats_server, "events", audit_json=True)
    events = [json.loads(line) for line in lines]
    assert [(e["kind"], e["host"]) for e in events] == [
        ("inventory", "h1"), ("plan", "h1"), ("progress", "h1"), ("report", "h1"),
        ("inventory", "h2"), ("plan", "h2"), ("progress", "h2"), ("report", "h2"),
    ]  # fmt: skip
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[3]["message"]["results"][0]["new_image_id"] == NEW

    text = await audit(nats_server, "events", audit_hosts=["h2"])
    assert len(text) == 4 and all(" h2 " in line for line in text)
    assert "to update: web; 1 settled (scan scan-2)" in text[1]
    assert "[1/1] web: pulling" in text[2]
    assert "2 scanned, 1 failed, 1 fresh" in text[3]

    only_db = await audit(nats_server, "events", audit_container="db", audit_json=True)
    assert [json.loads(line)["kind"] for line in only_db] == ["inventory", "plan", "report"] * 2

    recent = await audit(nats_server, "events", audit_since=3600.0)
    assert len(recent) == 8
    # --since counts back from now: a negative duration starts in the future, after all.
    assert await audit(nats_server, "events", audit_since=-3600.0) == []


async def test_history_lists_changes_only(bus: Bus, nats_server: EmbeddedNats) -> None:
    await publish_cycle(bus, "h1", "scan-1")
    await publish_cycle(bus, "h2", "scan-2", updated=False)
    rows = await audit(nats_server, "history")
    assert len(rows) == 2
    assert " h1 " in rows[0] and "web" in rows[0] and "updated" in rows[0]
    assert "aaaaaaaaaaaa -> bbbbbbbbbbbb (reg/app:1)" in rows[0]
    assert " h2 " in rows[1] and "failed" in rows[1] and rows[1].endswith(": pull failed")
    assert await audit(nats_server, "history", audit_container="db") == ["no changes recorded"]


async def test_nothing_recorded_yet(nats_server: EmbeddedNats) -> None:
    assert await audit(nats_server, "events") == []
