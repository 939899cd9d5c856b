"""`vigil rollout status|resume ID|abort ID` and `vigil approve ID`: ask the fleet's
rollout-coordinator (at --nats-url, or the all-in-one's on this machine) and print its answer.
`render_status` is pure."""

from __future__ import annotations

import getpass
import socket
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import msgspec

from vigil import options
from vigil.rollouts.decisions import counts
from vigil.tool_bus import NoNats, tool_bus
from vigil_shared.bus import Bus, BusError, NoResponders
from vigil_shared.contracts import Rollout, RolloutCommand, RolloutCommandReply
from vigil_shared.contracts.rollout import CommandAction

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ACTIONS = ("status", "resume", "abort")
COMMAND_TIMEOUT_S = 15.0
NO_COORDINATOR = (
    "no rollout-coordinator answers: start `vigil rollout-coordinator` (or the all-in-one "
    "with --rollout or --approve)"
)


async def ask_coordinator(bus: Bus, request: RolloutCommand) -> RolloutCommandReply:
    """The one way a command reaches the rollout-coordinator (`vigil rollout`, `vigil
    approve`, the dashboard's buttons). Raises NoResponders when none runs, BusError else."""
    return await bus.request(
        bus.subjects.rollout_command, request, RolloutCommandReply, timeout=COMMAND_TIMEOUT_S
    )


def tally(r: Rollout) -> tuple[int, int, int]:
    """Hosts done (on the build), pending (anything else still to do) and failed."""
    c = counts(r)
    done = c.get("updated", 0)
    failed = sum(c.get(s, 0) for s in ("failed", "revert_failed"))
    return done, len(r.hosts) - done - failed, failed


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def render_status(rollouts: Iterable[Rollout], now: float) -> str:
    """One block per rollout: id, state, image and build, wave, hosts by status."""
    lines: list[str] = []
    for r in rollouts:
        done, pending, failed = tally(r)
        age = int(now - r.created_at)
        lines.append(
            f"{r.rollout_id}  {r.state:<17} {r.image} @ {_short(r.digest)}  "
            f"wave {min(r.wave + 1, len(r.waves))}/{len(r.waves)}  "
            f"hosts: {done} done, {pending} pending, {failed} failed  ({age}s ago)"
        )
        if r.reason:
            lines.append(f"    {r.reason}")
        for i, wave in enumerate(r.waves):
            hosts = ", ".join(f"{h} {r.hosts[h].status}" for h in wave)
            lines.append(f"    wave {i + 1}: {hosts}")
        for host, p in sorted(r.hosts.items()):
            if p.error:
                lines.append(f"    {host}: {p.error}")
    return "\n".join(lines) if lines else "no rollouts"


def _command(command: str, values: Mapping[str, Any]) -> RolloutCommand:
    """The request of the command line; UsageError-style problems come back as ValueError."""
    by = f"{getpass.getuser()}@{socket.gethostname()}"
    if command == options.APPROVE:
        return RolloutCommand(action="approve", rollout_id=str(values["rollout_id"]), by=by)
    action = str(values.get("rollout_action") or "status")
    rid = str(values.get("rollout_id") or "")
    if action == "status":
        return RolloutCommand(action="list", by=by)
    if not rid:
        raise ValueError(
            f"vigil rollout {action} needs the rollout's ID (see vigil rollout status)"
        )
    verb: CommandAction = "abort" if action == "abort" else "resume"
    return RolloutCommand(action=verb, rollout_id=rid, by=by)


async def run_rollout(command: str, values: Mapping[str, Any], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    name = "vigil approve" if command == options.APPROVE else "vigil rollout"
    try:
        request = _command(command, values)
    except ValueError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        async with tool_bus(values, f"vigil-{command}", open_store="never") as bus:
            reply = await ask_coordinator(bus, request)
    except NoResponders:
        print(f"{name}: {NO_COORDINATOR}", file=sys.stderr)
        return EXIT_FAILED
    except (NoNats, BusError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if values.get("rollout_json"):
        out.write(msgspec.json.encode(reply).decode() + "\n")
    elif reply.ok and request.action != "list":
        r = reply.rollouts[0]
        out.write(f"rollout {r.rollout_id} is {r.state}\n" + render_status([r], time.time()) + "\n")
    elif reply.ok:
        out.write(render_status(reply.rollouts, time.time()) + "\n")
    if not reply.ok:
        print(f"{name}: {reply.error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
