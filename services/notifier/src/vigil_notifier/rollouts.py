"""The steps of a rollout a person must hear of, as messages (pure): it waits for approval,
it halted, it was aborted, a host was put back, it is done."""

from __future__ import annotations

from vigil_notifier.policy import Event, Level, Message, Policy, kept, kind_of, title_for
from vigil_shared.contracts import RolloutEvent

_LEVELS: dict[str, Level] = {
    "awaiting_approval": "info",
    "halted": "error",
    "aborted": "warn",
    "reverted": "warn",
    "done": "info",
}


def rollout_message(event: RolloutEvent, policy: Policy) -> Message | None:
    """None for the steps nobody needs to be told of, or below --notifications-level."""
    level = _LEVELS.get(event.step)
    if level is None:
        return None
    rid = event.rollout_id
    build = f"{event.image} @ {event.digest.removeprefix('sha256:')[:12]}"
    detail = f": {event.detail}" if event.detail else ""
    text = {
        "awaiting_approval": f"Rollout {rid} of {build} waits for approval: vigil approve {rid}",
        "halted": f"Rollout {rid} of {build} halted in wave {event.wave + 1}{detail}; "
        f"no further host updates until vigil rollout resume {rid} (or abort)",
        "aborted": f"Rollout {rid} of {build} aborted{detail}",
        "reverted": f"Rollout {rid} of {build}{detail}",
        "done": f"Rollout {rid} of {build} is done{detail}",
    }[event.step]
    found = kept(
        [
            Event(
                host="fleet", name="", image=event.image, status=event.step, level=level, text=text
            )
        ],
        policy.level,
    )
    if not found:
        return None
    return Message(
        title=title_for(policy, ("fleet",)),
        body=text,
        kind=kind_of(found),
        scan_id="",
        hosts=("fleet",),
        events=tuple(found),
    )
