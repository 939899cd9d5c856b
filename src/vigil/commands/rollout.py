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
from vigil.commands.tool_bus import NoNats, tool_bus
from vigil_coordinator.decisions import counts, soak_ends
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


# How `vigil rollout status` and the dashboard group the hosts' statuses.
DONE_STATUSES = ("updated", "gone")  # on the build, or nothing to do there
PENDING_STATUSES = ("pending", "go")  # still to update
FAILED_STATUSES = ("failed", "revert_failed")


def tally(r: Rollout) -> tuple[int, int, int]:
    """Hosts done (on the build, or with nothing to do), pending (still to update) and
    failed; a host going back or gone back after an abort is none of these (`reverts`)."""
    c = counts(r)
    return tuple(sum(c.get(s, 0) for s in group) for group in _GROUPS)  # type: ignore[return-value]


def reverts(r: Rollout) -> tuple[int, int]:
    """Hosts going back to the old build after an abort, and those back on it."""
    c = counts(r)
    return c.get("reverting", 0), c.get("reverted", 0)


_GROUPS = (DONE_STATUSES, PENDING_STATUSES, FAILED_STATUSES)


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def soak_line(r: Rollout, now: float) -> str:
    """When the soak of the rollout's current wave ends, and what comes then ("" when no
    soak runs)."""
    ends = soak_ends(r)
    if ends is None:
        return ""
    then = f"then wave {r.wave + 2}/{len(r.waves)}"
    if ends <= now:
        return f"soak of wave {r.wave + 1} ended at {_clock(ends)}; {then} starts"
    return f"soak of wave {r.wave + 1} ends in {ends - now:.0f}s (at {_clock(ends)}); {then}"


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def render_status(rollouts: Iterable[Rollout], now: float) -> str:
    """One block per rollout, oldest first (then by id: the same order every time): id,
    state, image and build, wave, hosts by status, why it stopped, when its soak ends."""
    lines: list[str] = []
    for r in sorted(rollouts, key=lambda r: (r.created_at, r.rollout_id)):
        done, pending, failed = tally(r)
        going_back, back = reverts(r)
        more = "".join(
            f", {n} {what}" for n, what in ((going_back, "reverting"), (back, "reverted")) if n
        )
        age = int(now - r.created_at)
        lines.append(
            f"{r.rollout_id}  {r.state:<17} {r.image} @ {_short(r.digest)}  "
            f"wave {min(r.wave + 1, len(r.waves))}/{len(r.waves)}  "
            f"hosts: {done} done, {pending} pending, {failed} failed{more}  ({age}s ago)"
        )
        if r.reason:
            lines.append(f"    {r.reason}")
        if soak := soak_line(r, now):
            lines.append(f"    {soak}")
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
