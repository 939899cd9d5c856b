"""One container, now: update it, check it, skip its build, stop skipping. The one path of
`vigil trigger --host H NAME`, `vigil skip`, the scanner's HTTP API (/v1/containers/...) and
the dashboard's row buttons, so each says and does the same.

The container is found in its host's latest inventory (the audit stream); a check is the
scanner's own `registry.check` request, as an explicit cycle (the registry's answer now, not
a cached one); a skip is an entry of the SKIPS bucket, which every cycle of the host reads.
"""

from __future__ import annotations

import contextlib
import time
import uuid

import msgspec
import nats.errors
import nats.js.errors

from vigil_scanner.planning import already_on, checks_for
from vigil_scanner.policy import LabelProblem, PolicyDefaults, policy_for
from vigil_scanner.skips import skip_reason
from vigil_shared.bus import Bus, BusError
from vigil_shared.codec import BadMessage, decode
from vigil_shared.contracts import (
    SKIP_BUCKET,
    CheckReply,
    CheckRequest,
    ContainerInfo,
    Inventory,
    ScanCommand,
    Skip,
    skip_host_prefix,
    skip_key,
)
from vigil_shared.logs import get_logger

log = get_logger("vigil.scanner")

CHECK_TIMEOUT_S = 30.0


class Refused(Exception):
    """The command cannot be done; the message says why (an unknown container, nothing to
    skip, no gateway)."""


class ContainerCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The registry's answer about one container's image, now."""

    host: str
    name: str
    image: str
    outcome: str  # stale, current, unverified, error, rate_limited, ...
    remote_digest: str = ""
    target: str = ""  # the newer tag a semver policy would move to
    newer: bool = False  # the registry has a build the container does not run
    error: str = ""


async def find_container(bus: Bus, host: str, name: str) -> ContainerInfo:
    """The container as its host's latest inventory lists it."""
    try:
        msg = await bus.js.get_last_msg(bus.subjects.stream_name, bus.subjects.inventory(host))
    except nats.js.errors.NotFoundError:
        raise Refused(f"host {host} has sent no inventory (no cycle ran there yet)") from None
    except (nats.errors.Error, TimeoutError) as exc:
        raise Refused(f"cannot read host {host}'s inventory: {exc}") from None
    try:
        inventory = decode(msg.data or b"", Inventory)
    except BadMessage as exc:
        raise Refused(f"host {host}'s latest inventory is unreadable: {exc}") from None
    for info in inventory.containers:
        if info.name == name:
            return info
    raise Refused(f"no container named {name!r} in host {host}'s latest inventory")


async def check_container(bus: Bus, host: str, name: str) -> ContainerCheck:
    """Ask the gateway about the container's image, as a cycle would (its policy label
    counts), with what the registry says now."""
    info = await find_container(bus, host, name)
    try:
        policies = {info.id: policy_for(info.labels, PolicyDefaults())}
    except LabelProblem as exc:
        raise Refused(str(exc)) from None
    checklist = checks_for([info], policies=policies)
    if checklist.unusable:
        r = checklist.unusable[0]
        raise Refused(f"{name} cannot be checked: {r.error or r.status}")
    key = f"check-{uuid.uuid4().hex[:12]}"
    request = CheckRequest(scan_id=key, host=host, images=checklist.checks, cycle_key=key)
    try:
        reply = await bus.request(
            bus.subjects.registry_check, request, CheckReply, timeout=CHECK_TIMEOUT_S
        )
    except BusError as exc:
        raise Refused(f"the registry-gateway did not answer: {exc}") from None
    if not reply.results:
        raise Refused("the registry-gateway gave no answer for this image")
    status = reply.results[0]
    digest = status.remote_digest or ""
    # As the plan judges it: by the container's own image, not the tag's other users.
    newer = status.outcome == "stale"
    if status.outcome in ("stale", "current") and digest:
        newer = bool(status.target) or not already_on(info, digest, status.remote_image_id)
    return ContainerCheck(
        host=host,
        name=name,
        image=info.image,
        outcome=status.outcome,
        remote_digest=digest,
        target=status.target,
        newer=newer,
        error=status.error or "",
    )


async def update_container(bus: Bus, host: str, name: str, by: str) -> str:
    """A cycle of this one container on its host, now (as `vigil trigger --host H NAME`):
    the scan id; progress and the report follow in the audit stream."""
    await find_container(bus, host, name)
    scan_id = uuid.uuid4().hex
    await bus.publish(
        bus.subjects.cmd_scan,
        ScanCommand(scan_id=scan_id, hosts=(host,), names=(name,), requested_by=by),
    )
    log.info("container update asked", host=host, container=name, scan_id=scan_id, by=by)
    return scan_id


async def skip_container(
    bus: Bus,
    host: str,
    name: str,
    *,
    duration: float = 0.0,
    reason: str = "",
    by: str = "",
    now: float | None = None,
) -> Skip:
    """Skip the build the registry has for the container now (it stays on what it runs until
    a newer build appears), or, with `duration`, every build for that long."""
    now = time.time() if now is None else now
    check = await check_container(bus, host, name)
    if not duration:
        if check.outcome not in ("stale", "current") or not check.remote_digest:
            raise Refused(
                f"the registry's build of {check.image} cannot be told ({check.outcome}"
                f"{': ' + check.error if check.error else ''}); skip for a duration instead"
            )
        if not check.newer:
            raise Refused(
                f"nothing to skip: {name} runs the registry's newest build of {check.image}; "
                "skip for a duration to hold it anyway"
            )
    skip = Skip(
        host=host,
        name=name,
        image=check.image,
        digest=check.remote_digest,
        until=now + duration if duration else 0.0,
        reason=reason,
        by=by,
        created_at=now,
    )
    kv = await bus.key_value(SKIP_BUCKET)
    await kv.put(skip_key(host, name), msgspec.json.encode(skip))
    log.info("build skipped", host=host, container=name, reason=skip_reason(skip), by=by)
    return skip


async def unskip_container(bus: Bus, host: str, name: str) -> bool:
    """Stop skipping: whether there was a skip."""
    kv = await bus.key_value(SKIP_BUCKET)
    try:
        await kv.get(skip_key(host, name))
    except nats.js.errors.KeyNotFoundError:
        return False
    await kv.delete(skip_key(host, name))
    log.info("skip ended", host=host, container=name)
    return True


async def read_skips(bus: Bus, host: str | None = None, now: float | None = None) -> list[Skip]:
    """The skips in force (of one host, or of the fleet); none when there is no bucket (a
    reader does not create it). A duration ended is left out; an entry that does not decode is
    logged and left out."""
    now = time.time() if now is None else now
    bucket = f"{bus.subjects.stream_name}_{SKIP_BUCKET}"
    try:
        kv = await bus.js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        return []
    try:
        # Every key, then this host's: nats-py's key filters find none on some servers.
        keys = await kv.keys()
        if host is not None:
            keys = [k for k in keys if k.startswith(skip_host_prefix(host))]
    except nats.js.errors.NoKeysError:
        return []
    skips: list[Skip] = []
    for key in keys:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            entry = await kv.get(key)
            try:
                skip = decode(entry.value or b"", Skip)
            except BadMessage as exc:
                log.warning("unreadable skip ignored", key=key, error=str(exc))
                continue
            if not skip.until or now < skip.until:
                skips.append(skip)
    return skips
