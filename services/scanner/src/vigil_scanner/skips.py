"""Skipped builds (`vigil skip`, the dashboard's *Skip this build*): which updates of a plan a
skip holds, as pure functions. The bucket is vigil_shared.contracts.skip."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import msgspec

from vigil_shared.contracts import ContainerResult, Plan, Skip


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def skip_applies(skip: Skip, remote_digest: str, now: float) -> bool:
    """Whether `skip` holds an update to `remote_digest` now: a duration holds every build
    until it ends; a skipped build holds only itself (a newer one goes). An update whose
    build is not known by digest is held by a build skip too: it cannot be told apart."""
    if skip.until:
        return now < skip.until
    return not remote_digest or remote_digest == skip.digest


def skip_reason(skip: Skip) -> str:
    """What the held container's row and report say."""
    who = f" by {skip.by}" if skip.by else ""
    why = f": {skip.reason}" if skip.reason else ""
    if skip.until:
        return f"held: skipped{who} until {_when(skip.until)}{why}"
    return f"held: build {_short(skip.digest)} skipped{who} until a newer one appears{why}"


def apply_skips(plan: Plan, skips: Mapping[str, Skip], now: float) -> Plan:
    """The plan with every update a skip holds moved to its settled results as held.
    `skips`: by container name (the host's own)."""
    actions, held = [], []
    for a in plan.actions:
        skip = skips.get(a.container_name)
        if skip is None or not skip_applies(skip, a.remote_digest or "", now):
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
                error=skip_reason(skip),
                held_until=skip.until,
            )
        )
    if not held:
        return plan
    return msgspec.structs.replace(plan, actions=tuple(actions), settled=(*plan.settled, *held))


def skips_by_name(entries: Iterable[Skip], host: str) -> dict[str, Skip]:
    return {s.name: s for s in entries if s.host == host}
