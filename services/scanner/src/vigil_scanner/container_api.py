"""`POST /v1/containers/{name}/update|check|skip|unskip` of the scanner's HTTP API, over
vigil_scanner.container_commands (the path of `vigil skip` and the dashboard's rows)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec

from vigil_scanner.api_routes import Decision
from vigil_scanner.container_commands import (
    Refused,
    check_container,
    skip_container,
    unskip_container,
    update_container,
)
from vigil_scanner.skips import skip_reason
from vigil_shared.bus import Bus, BusError


def http_container_commands(
    bus: Bus, host: str, parse_duration: Callable[[str], float]
) -> Callable[[Decision], Awaitable[tuple[int, bytes]]]:
    """`POST /v1/containers/{name}/update|check|skip|unskip` of the host's HTTP API: the same
    functions as `vigil skip` and the dashboard's rows. 202 with the scan id for an update;
    200 with the check, the skip or whether one was stopped; 409 when refused (an unknown
    container, nothing to skip), 400 for a bad ?for=, 503 without a gateway."""

    async def act(d: Decision) -> tuple[int, bytes]:
        by = "HTTP API"
        try:
            if d.action == "update":
                scan_id = await update_container(bus, host, d.container, by)
                return 202, msgspec.json.encode({"host": host, "scan_id": scan_id})
            if d.action == "check":
                return 200, msgspec.json.encode(await check_container(bus, host, d.container))
            if d.action == "skip":
                try:
                    duration = parse_duration(d.skip_for) if d.skip_for else 0.0
                except ValueError as exc:
                    return 400, msgspec.json.encode({"error": f"?for=: {exc}"})
                skip = await skip_container(
                    bus, host, d.container, duration=duration, reason=d.reason, by=by
                )
                body = {"skip": skip, "held": skip_reason(skip)}
                return 200, msgspec.json.encode(body)
            had = await unskip_container(bus, host, d.container)
            return 200, msgspec.json.encode({"host": host, "name": d.container, "was_skipped": had})
        except Refused as exc:
            return 409, msgspec.json.encode({"error": str(exc)})
        except BusError as exc:
            return 503, msgspec.json.encode({"error": str(exc)})

    return act
