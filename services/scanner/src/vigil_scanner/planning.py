"""What a scan decides: from the selected containers and the gateway's answers, the plan.

Pure: no Docker, no registry, no bus. Every container the scan looked at ends up either as an
action for the executor or as a settled result, so the report accounts for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo

import msgspec

from vigil_scanner.policy import ContainerPolicy
from vigil_scanner.windows import is_open, next_open
from vigil_shared.contracts import (
    CheckReply,
    ContainerInfo,
    ContainerResult,
    ImageCheck,
    ImageStatus,
    Plan,
    UpdateAction,
)
from vigil_shared.contracts.registry import VERIFY_LABEL
from vigil_shared.imageref import InvalidImageRef, local_digests_for, parse_image_ref
from vigil_shared.podman_refusals import refusal_of


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


def engine_refusal(c: ContainerInfo) -> str:
    """Why Vigil does not recreate `c` on its engine ("": it may): on Podman, a pod's
    container, a systemd unit's, or one `podman auto-update` updates."""
    if c.engine != "podman":
        return ""
    reason = refusal_of(c.labels, c.pod)
    return f"not updated: {reason}" if reason else ""


def _created_from_image_id(c: ContainerInfo) -> bool:
    """`docker run sha256:...` or `docker run 1a80ae26fb50`: there is no tag to follow (a short
    id would otherwise read as the Docker Hub repository `library/1a80ae26fb50`)."""
    if c.image.startswith("sha256:"):
        return True
    hex_id = c.image_id.removeprefix("sha256:")
    return len(c.image) >= 4 and bool(hex_id) and hex_id.startswith(c.image)


# A container's policy, or why its policy labels cannot be read (it is then reported failed).
Policies = Mapping[str, ContainerPolicy | str]
_DEFAULT = ContainerPolicy()


def _policy_text(policy: ContainerPolicy) -> str:
    return "" if policy.update.kind == "digest" else policy.update.text


def checks_for(
    containers: Iterable[ContainerInfo],
    local_only: frozenset[str] = frozenset(),
    policies: Policies | None = None,
) -> CheckList:
    """One check per distinct image reference and update policy (with every local digest
    seen for it); the plan then judges each container by its own image's digests
    (`build_plan`). The check asks for the build's age when any container of it has a
    minimum age.

    Containers in `local_only` (ids; --no-pull) are not checked with the registry; those
    whose policy labels cannot be read are failed here."""
    digests: dict[tuple[str, str, str], set[str]] = {}
    image_ids: dict[tuple[str, str, str], set[str]] = {}
    aged: set[tuple[str, str, str]] = set()
    unusable: list[ContainerResult] = []
    for c in containers:
        policy = (policies or {}).get(c.id, _DEFAULT)
        if isinstance(policy, str):
            unusable.append(_settled(c, "failed", policy))
            continue
        refused = engine_refusal(c)
        if refused:  # nothing to check nor plan: it keeps running as it is
            unusable.append(_settled(c, "skipped", refused))
            continue
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
        key = (c.image, _policy_text(policy), c.labels.get(VERIFY_LABEL, ""))
        digests.setdefault(key, set()).update(c.repo_digests)
        if c.engine == "podman":
            # A build pushed from a Podman host keeps only its local manifest digest: the
            # gateway compares image ids instead (ImageCheck.local_image_ids).
            image_ids.setdefault(key, set()).add(c.image_id)
        if policy.min_age_s > 0:
            aged.add(key)
    checks = tuple(
        ImageCheck(
            image=image,
            local_digests=tuple(sorted(d)),
            policy=policy,
            age=(image, policy, verify) in aged,
            verify=verify,
            local_image_ids=tuple(sorted(image_ids.get((image, policy, verify), ()))),
        )
        for (image, policy, verify), d in digests.items()
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
    policies: Policies | None = None,
    zone: tzinfo = UTC,
) -> Plan:
    """Decide per container: update it, hold it (a policy says not yet), or settle it as
    fresh, pinned, or failed to check.

    `reply` is None when the gateway could not be asked at all; `check_error` says why.
    `zone`: where maintenance windows are read (TZ).
    """
    by_image: dict[tuple[str, str, str], ImageStatus] = (
        {(r.image, r.policy, r.verify): r for r in reply.results} if reply else {}
    )
    unusable = {r.container_id: r for r in checklist.unusable}
    actions: list[UpdateAction] = []
    settled: list[ContainerResult] = []

    def update(
        c: ContainerInfo, policy: ContainerPolicy, status: ImageStatus | None, digest: str | None
    ) -> None:
        hold = _hold(c, policy, status, now, zone)
        if hold is not None:
            settled.append(hold)
        else:
            actions.append(_action(c, digest, status.target if status else ""))

    for c in containers:
        if c.id in unusable:
            settled.append(unusable[c.id])
            continue
        found = (policies or {}).get(c.id, _DEFAULT)
        policy = found if isinstance(found, ContainerPolicy) else _DEFAULT
        if c.id in local_only:
            # --no-pull: stale when the tag names another image on this host than it runs.
            if c.tag_image_id and c.tag_image_id != c.image_id:
                update(c, policy, None, None)
            else:
                settled.append(_settled(c, "fresh"))
            continue
        status = by_image.get((c.image, _policy_text(policy), c.labels.get(VERIFY_LABEL, "")))
        if status is None:
            reason = check_error or "the registry gateway gave no answer for this image"
            settled.append(_settled(c, "check_failed", reason))
        elif status.outcome == "error":
            settled.append(_settled(c, "check_failed", status.error or "check failed"))
        elif status.outcome == "rate_limited":
            settled.append(_settled(c, "rate_limited", status.error or "rate limited"))
        elif status.outcome == "untrusted":
            # The new build lacks the signature the gateway's trust policy asks for: never
            # pulled; the container keeps its build (docs/trust.md).
            refused = _settled(c, "unverified", status.error or "no trusted signature")
            settled.append(
                msgspec.structs.replace(refused, remote_digest=status.remote_digest or "")
            )
        elif status.outcome == "unverified":
            # No digest to judge by: pull the tag and compare image ids (watchtower's way).
            update(c, policy, status, None)
        elif status.outcome in ("stale", "current") and status.remote_digest:
            if not status.target and already_on(c, status.remote_digest, status.remote_image_id):
                settled.append(_settled(c, "fresh"))
            else:
                update(c, policy, status, status.remote_digest)
        elif status.outcome == "stale":
            update(c, policy, status, None)
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


def _action(c: ContainerInfo, remote_digest: str | None = None, target: str = "") -> UpdateAction:
    """Update `c`; with the digest the gateway resolved, else by its tag; onto `target`
    (another tag) when a semver policy chose one."""
    return UpdateAction(
        container_id=c.id,
        container_name=c.name,
        image=target or c.image,
        old_image_id=c.image_id,
        remote_digest=remote_digest,
        previous_image=c.image if target and target != c.image else "",
    )


def describe_age(seconds: float) -> str:
    """24h, 7d, 1h30m, 90s: how a minimum age reads in a report."""
    whole = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts) or "0s"


def _when(moment: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(moment, zone).strftime("%Y-%m-%d %H:%M %Z").strip()


def _hold(
    c: ContainerInfo,
    policy: ContainerPolicy,
    status: ImageStatus | None,
    now: float,
    zone: tzinfo,
) -> ContainerResult | None:
    """Pure: a `held` result when the container's policy keeps it from this update now:
    the new build is younger than its minimum age, or its maintenance window is closed."""
    newer = status.target if status and status.target else "the new image"
    digest = (status.remote_digest or "") if status else ""

    def held(reason: str, until: float) -> ContainerResult:
        return ContainerResult(
            name=c.name,
            container_id=c.id,
            image=c.image,
            status="held",
            old_image_id=c.image_id,
            remote_digest=digest,
            error=reason,
            held_until=until,
        )

    if policy.min_age_s > 0 and status is not None:
        # The image config's created time; else when the gateway first saw the build.
        born = status.created or status.first_seen
        age = describe_age(policy.min_age_s)
        if not born:
            return held(
                f"held by policy: the age of {newer} cannot be told (no digest from the "
                f"registry), and the minimum age is {age}",
                0.0,
            )
        until = born + policy.min_age_s
        if until > now:
            return held(
                f"held by policy (until {_when(until, zone)}): {newer} is younger than the "
                f"minimum age {age}",
                until,
            )
    if policy.window is not None:
        moment = datetime.fromtimestamp(now, zone)
        if not is_open(policy.window, moment, zone):
            opens = next_open(policy.window, moment, zone).timestamp()
            return held(
                f"held: outside the maintenance window {policy.window.text!r} "
                f"(next opens at {_when(opens, zone)})",
                opens,
            )
    return None


def already_on(c: ContainerInfo, remote_digest: str, remote_image_id: str = "") -> bool:
    """Whether `c`'s own image has the remote digest (of its own repository), or the image id
    of the registry's build when the gateway read it (a Podman push keeps another digest).
    The gateway judges a reference by the digests of every container on it (one check per
    reference), so its `current` only says that some container of the tag runs the build: a
    container beside it on an older build of the same tag is stale, and one already on the
    build the gateway calls stale is current."""
    if remote_image_id and c.image_id == remote_image_id:
        return True
    try:
        ref = parse_image_ref(c.image)
    except InvalidImageRef:
        return False
    return remote_digest in local_digests_for(ref, c.repo_digests)
