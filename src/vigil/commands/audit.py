"""`vigil events` and `vigil history`: the audit stream, for people and scripts.

They read the fleet's NATS with --nats-url; without it, the NATS of a running all-in-one
(its URL is in the state directory), or, when none runs, the all-in-one's store itself,
opened by an embedded server for the time of the command.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

import msgspec

from vigil import options
from vigil.commands.tool_bus import tool_bus
from vigil_shared.audit import as_json, describe, describe_change, history, mentions, read_events
from vigil_shared.bus import Bus
from vigil_shared.contracts import Report

EXIT_OK = 0


async def run_audit(command: str, values: Mapping[str, Any], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    async with tool_bus(values, f"vigil-{command}") as bus:
        # No ensure_streams here: a reader must not reset the stream's retention.
        if command == options.EVENTS:
            await _events(bus, values, out)
        else:
            await _history(bus, values, out)
    return EXIT_OK


async def _events(bus: Bus, values: Mapping[str, Any], out: TextIO) -> None:
    since = values.get("audit_since")
    container = values.get("audit_container") or ""
    async for event in read_events(
        bus,
        since=time.time() - float(since) if since is not None else None,
        hosts=tuple(values.get("audit_hosts") or ()),
        follow=bool(values.get("audit_follow")),
    ):
        if container and not mentions(event, container):
            continue
        if values.get("audit_json"):
            out.write(as_json(event).decode() + "\n")
        else:
            out.write(describe(event) + "\n")
        out.flush()


async def _history(bus: Bus, values: Mapping[str, Any], out: TextIO) -> None:
    reports = [
        e.message
        async for e in read_events(bus, hosts=tuple(values.get("audit_hosts") or ()))
        if isinstance(e.message, Report)
    ]
    rows = history(reports, values.get("audit_container") or "")
    for row in rows:
        if values.get("audit_json"):
            out.write(msgspec.json.encode(row).decode() + "\n")
        else:
            out.write(describe_change(row) + "\n")
    if not rows and not values.get("audit_json"):
        out.write("no changes recorded\n")
