"""`vigil skip HOST/NAME [--for DURATION] [--reason TEXT]`, `vigil skip --stop HOST/NAME`,
and `vigil skip` (the skips in force): vigil_scanner.container_commands on the fleet's bus
(at --nats-url, or the all-in-one's on this machine)."""

from __future__ import annotations

import getpass
import socket
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import msgspec

from vigil.commands.tool_bus import NoNats, tool_bus
from vigil.options import UsageError, parse_duration
from vigil_scanner.container_commands import (
    Refused,
    read_skips,
    skip_container,
    unskip_container,
)
from vigil_scanner.skips import skip_reason
from vigil_shared.bus import BusError
from vigil_shared.contracts import Skip

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def parse_target(text: str) -> tuple[str, str]:
    """`HOST/NAME` -> (host, name); a ValueError naming what is wrong."""
    host, sep, name = text.partition("/")
    if not sep or not host or not name or "/" in name:
        raise ValueError(f"{text!r} is not HOST/NAME (e.g. web-1/nginx; see vigil status)")
    return host, name


def render_skips(skips: Iterable[Skip]) -> str:
    lines = [f"{s.host}/{s.name}  {s.image}  {skip_reason(s)}" for s in skips]
    return "\n".join(sorted(lines)) if lines else "no skips"


async def run_skip(values: Mapping[str, Any], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    target = values.get("skip_container")
    try:
        host, name = parse_target(str(target)) if target else ("", "")
        duration = parse_duration(values["skip_for"], "--for") if values.get("skip_for") else 0.0
    except (ValueError, UsageError) as exc:
        print(f"vigil skip: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if values.get("skip_stop") and not target:
        print("vigil skip: --stop needs the container (HOST/NAME)", file=sys.stderr)
        return EXIT_USAGE
    by = f"{getpass.getuser()}@{socket.gethostname()}"
    try:
        async with tool_bus(values, "vigil-skip", open_store="never") as bus:
            if not target:
                skips = await read_skips(bus)
                if values.get("skip_json"):
                    out.write(msgspec.json.encode(skips).decode() + "\n")
                else:
                    out.write(render_skips(skips) + "\n")
                return EXIT_OK
            if values.get("skip_stop"):
                had = await unskip_container(bus, host, name)
                out.write(
                    f"{host}/{name}: " + ("no longer skipped\n" if had else "was not skipped\n")
                )
                return EXIT_OK
            skip = await skip_container(
                bus,
                host,
                name,
                duration=duration,
                reason=str(values.get("skip_reason") or ""),
                by=by,
            )
    except Refused as exc:
        print(f"vigil skip: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (NoNats, BusError) as exc:
        print(f"vigil skip: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if values.get("skip_json"):
        out.write(msgspec.json.encode(skip).decode() + "\n")
    else:
        out.write(f"{host}/{name}: {skip_reason(skip)}\n")
    return EXIT_OK
