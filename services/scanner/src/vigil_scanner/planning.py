"""What a scan decides: from the selected containers and the gateway's answers, the plan.

Pure: no Docker, no registry, no bus. Every container the scan looked at ends up either as an
action for the executor or as a settled result, so the report accounts for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from vigil_shared.contracts import (
    CheckReply,
    ContainerInfo,
    ContainerResult,
    ImageCheck,
    ImageStatus,
    Plan,
    UpdateAction,
)
from vigil_shared.imageref import InvalidImageRef, local_digests_for, parse_image_ref


class CheckList(msgspec.Struct, frozen=True, kw_only=True):
    """The distinct images to ask the gateway about, and the containers it cannot ask about."""

    checks: tuple[ImageCheck, ...]
    unusable: tuple[ContainerResult, ...]


def _settled(c: ContainerInfo, status: str, error: str = "") -> ContainerResult:
    return ContainerResult(
        name=c.name,
        container_id=c.id,
        image=c.image,
        status=status,  # type: ignore[arg-type]
        old_image_id=c.image_id,
        error=error,
    )


def _created_from_image_id(c: ContainerInfo) -> bool:
    """`docker run sha256:...` or `docker run 1a80ae26fb50`: there is no tag to follow (a short
    id would otherwise read as the Docker Hub repository `library/1a80ae26fb50`)."""
    if c.image.startswith("sha256:"):
        return True
    hex_id = c.image_id.removeprefix("sha256:")
    return len(c.image) >= 4 and bool(hex_id) and hex_id.startswith(c.image)


def checks_for(
    containers: Iterable[ContainerInfo], local_only: frozenset[str] = frozenset()
) -> CheckList:
    """One check per distinct image reference (with every local digest seen for it); the
    plan then judges each container by its own image's digests (`build_plan`).

    Containers in `local_only` (ids; --no-pull) are not checked with the registry."""
    digests: dict[str, set[str]] = {}
    unusable: list[ContainerResult] = []
    for c in containers:
        if c.id in local_only:
            continue
        if _created_from_image_id(c):
            unusable.append(
                _settled(c, "skipped", "the container was created from an image id, not a tag")
            )
            continue
        try:
            parse_image_ref(c.image)
        except InvalidImageRef as exc:
            unusable.append(_settled(c, "check_failed", str(exc)))
            continue
        digests.setdefault(c.image, set()).update(c.repo_digests)
    checks = tuple(
        ImageCheck(image=image, local_digests=tuple(sorted(d))) for image, d in digests.items()
    )
    return CheckList(checks=checks, unusable=tuple(unusable))


def build_plan(
    *,
    plan_id: str,
    scan_id: str,
    host: str,
    now: float,
    containers: Iterable[ContainerInfo],
    checklist: CheckList,
    reply: CheckReply | None,
    check_error: str = "",
    problems: tuple[str, ...] = (),
    local_only: frozenset[str] = frozenset(),
) -> Plan:
    """Decide per container: update it, or settle it as fresh, pinned, or failed to check.

    `reply` is None when the gateway could not be asked at all; `check_error` says why.
    """
    by_image: dict[str, ImageStatus] = {r.image: r for r in reply.results} if reply else {}
    unusable = {r.container_id: r for r in checklist.unusable}
    actions: list[UpdateAction] = []
    settled: list[ContainerResult] = []
    for c in containers:
        if c.id in unusable:
            settled.append(unusable[c.id])
            continue
        if c.id in local_only:
            # --no-pull: stale when the tag names another image on this host than it runs.
            if c.tag_image_id and c.tag_image_id != c.image_id:
                actions.append(_action(c))
            else:
                settled.append(_settled(c, "fresh"))
            continue
        status = by_image.get(c.image)
        if status is None:
            reason = check_error or "the registry gateway gave no answer for this image"
            settled.append(_settled(c, "check_failed", reason))
        elif status.outcome == "error":
            settled.append(_settled(c, "check_failed", status.error or "check failed"))
        elif status.outcome == "rate_limited":
            settled.append(_settled(c, "rate_limited", status.error or "rate limited"))
        elif status.outcome == "unverified":
            # No digest to judge by: pull the tag and compare image ids (watchtower's way).
            actions.append(_action(c))
        elif status.outcome in ("stale", "current") and status.remote_digest:
            if _already_on(c, status.remote_digest):
                settled.append(_settled(c, "fresh"))
            else:
                actions.append(_action(c, status.remote_digest))
        elif status.outcome == "stale":
            actions.append(_action(c))
        else:
            settled.append(_settled(c, "fresh"))
    return Plan(
        plan_id=plan_id,
        scan_id=scan_id,
        host=host,
        created_at=now,
        actions=tuple(actions),
        settled=tuple(settled),
        problems=problems,
    )


def _action(c: ContainerInfo, remote_digest: str | None = None) -> UpdateAction:
    """Update `c`; with the digest the gateway resolved, else by its tag."""
    return UpdateAction(
        container_id=c.id,
        container_name=c.name,
        image=c.image,
        old_image_id=c.image_id,
        remote_digest=remote_digest,
    )


def _already_on(c: ContainerInfo, remote_digest: str) -> bool:
    """Whether `c`'s own image has the remote digest (of its own repository). The gateway
    judges a reference by the digests of every container on it (one check per reference), so
    its `current` only says that some container of the tag runs the build: a container
    beside it on an older build of the same tag is stale, and one already on the build the
    gateway calls stale is current."""
    try:
        ref = parse_image_ref(c.image)
    except InvalidImageRef:
        return False
    return remote_digest in local_digests_for(ref, c.repo_digests)
