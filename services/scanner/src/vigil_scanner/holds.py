"""Taking updates out of a plan as `held` (pure): what skips, the rollout gate and any
later reason to wait share, so a held result is built one way."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from vigil_shared.contracts import ContainerResult, Plan, UpdateAction


class Hold(msgspec.Struct, frozen=True, kw_only=True):
    reason: str  # what the report and the row say
    until: float = 0.0  # Unix seconds the hold ends; 0 when no time can be told


def hold_updates(plan: Plan, hold_for: Callable[[UpdateAction], Hold | None]) -> Plan:
    """The plan with every update `hold_for` holds moved to its settled results as held
    (the plan itself when none is)."""
    actions: list[UpdateAction] = []
    held: list[ContainerResult] = []
    for a in plan.actions:
        hold = hold_for(a)
        if hold is None:
            actions.append(a)
            continue
        held.append(
            ContainerResult(
                name=a.container_name,
                container_id=a.container_id,
                image=a.image,
                status="held",
                old_image_id=a.old_image_id,
                remote_digest=a.remote_digest or "",
                error=hold.reason,
                held_until=hold.until,
            )
        )
    if not held:
        return plan
    return msgspec.structs.replace(plan, actions=tuple(actions), settled=(*plan.settled, *held))
