"""The hand-off of a plan under rollout control (--rollout, --approve): before the plan goes
to the executor, the rollout-coordinator says for each update whether this host may do it
now. What may not is taken out of the plan and reported as held, saying what it waits for.

`gate_items` and `apply_verdicts` are pure; `gate_plan` is the one request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import msgspec

from vigil_scanner.holds import Hold, hold_updates
from vigil_shared.bus import Bus, BusError, NoResponders
from vigil_shared.contracts import (
    ContainerInfo,
    GateItem,
    GateReply,
    GateRequest,
    GateVerdict,
    Plan,
    RolloutCommand,
    RolloutCommandReply,
    UpdateAction,
)
from vigil_shared.logs import get_logger

log = get_logger("vigil.scanner")


def gate_items(plan: Plan, containers: Iterable[ContainerInfo]) -> tuple[GateItem, ...]:
    """The plan's updates to a resolved build. An update without a digest (--no-pull, a
    registry that gives none) cannot be pinned to one build: it is not rolled out, it goes."""
    by_id = {c.id: c for c in containers}
    return tuple(
        GateItem(
            image=a.image,
            digest=a.remote_digest,
            container_name=a.container_name,
            container_id=a.container_id,
            old_image_id=a.old_image_id,
            old_digests=by_id[a.container_id].repo_digests if a.container_id in by_id else (),
        )
        for a in plan.actions
        if a.remote_digest
    )


def apply_verdicts(plan: Plan, verdicts: Iterable[GateVerdict]) -> Plan:
    """The plan with every update that may not go now moved to its settled results as held."""
    stopped = {(v.container_name, v.digest): v for v in verdicts if v.decision != "go"}

    def hold_for(a: UpdateAction) -> Hold | None:
        verdict = stopped.get((a.container_name, a.remote_digest or ""))
        return None if verdict is None else Hold(reason=verdict.reason)

    return hold_updates(plan, hold_for)


async def gate_plan(
    bus: Bus, plan: Plan, containers: Iterable[ContainerInfo], timeout: float = 10.0
) -> Plan:
    """Ask the coordinator; without an answer every gated update is held (rollout control
    was asked for: nothing goes out unchecked), and the next cycle asks again."""
    items = gate_items(plan, containers)
    if not items:
        return plan
    request = GateRequest(scan_id=plan.scan_id, host=plan.host, items=items)
    try:
        reply = await bus.request(bus.subjects.update_gate, request, GateReply, timeout=timeout)
        verdicts: Iterable[GateVerdict] = reply.verdicts
    except BusError as exc:
        reason = f"held: the rollout-coordinator did not answer ({exc})"
        log.error("rollout gate failed", host=plan.host, error=str(exc))
        verdicts = [
            GateVerdict(
                image=i.image,
                digest=i.digest,
                container_name=i.container_name,
                decision="hold",
                reason=reason,
            )
            for i in items
        ]
    return apply_verdicts(plan, verdicts)


def http_approver(
    bus: Bus,
) -> Callable[[str], Awaitable[tuple[int, list[tuple[str, str]], bytes]]]:
    """`POST /v1/rollouts/{id}/approve`: `vigil approve ID` through the HTTP API. 200 with the
    rollout's state; 409 when the coordinator refused (unknown id, not waiting); 503 when no
    coordinator answers."""

    async def approve(rollout_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
        command = RolloutCommand(action="approve", rollout_id=rollout_id, by="HTTP API")
        try:
            reply = await bus.request(
                bus.subjects.rollout_command, command, RolloutCommandReply, timeout=15
            )
        except NoResponders:
            return 503, [], msgspec.json.encode({"error": "no rollout-coordinator answers"})
        except BusError as exc:
            return 503, [], msgspec.json.encode({"error": f"rollout-coordinator: {exc}"})
        if not reply.ok:
            return 409, [], msgspec.json.encode({"error": reply.error})
        r = reply.rollouts[0]
        body = {"rollout_id": r.rollout_id, "state": r.state, "image": r.image, "digest": r.digest}
        return 200, [], msgspec.json.encode(body)

    return approve
