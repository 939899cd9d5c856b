"""What a rollout does next: the coordinator's decisions, as pure functions over `Rollout`.

Each returns the new state and the steps to put in the audit stream; the coordinator stores
the one and publishes the others. Nothing here reads a clock, the bus or Docker.
"""

from __future__ import annotations

import hashlib

import msgspec

from vigil_coordinator.spec import RolloutPolicy
from vigil_coordinator.waves import assign_waves, late_wave
from vigil_shared.contracts import (
    ContainerResult,
    GateItem,
    HostContainer,
    HostProgress,
    Plan,
    Report,
    Rollout,
    RolloutEvent,
    UpdateAction,
)
from vigil_shared.contracts.rollout import REVERT_SCAN_PREFIX, Decision, Step
from vigil_shared.imageref import split_tag

TERMINAL = frozenset({"aborted", "done"})
DONE = frozenset({"updated", "gone"})  # a host with nothing more to do in its wave
_SCANS_KEPT = 32
# A cycle given "go" whose report has not come for this long lost its plan: go again.
IN_FLIGHT_S = 900.0
_FAILED = frozenset({"failed", "rolled_back"})
_ON_BUILD = frozenset({"updated", "fresh"})
_SEEN = _FAILED | _ON_BUILD | {"skipped"}  # the results that say how an update went


def rollout_id(image: str, digest: str) -> str:
    """One rollout per image reference and build: the same id from every scanner."""
    return hashlib.sha256(f"{image}@{digest}".encode()).hexdigest()[:12]


def _event(
    r: Rollout,
    step: Step,
    now: float,
    *,
    wave: int = 0,
    hosts: tuple[str, ...] = (),
    detail: str = "",
) -> RolloutEvent:
    return RolloutEvent(
        rollout_id=r.rollout_id,
        step=step,
        image=r.image,
        digest=r.digest,
        at=now,
        wave=wave,
        hosts=hosts,
        detail=detail,
    )


def _with(r: Rollout, now: float, **fields: object) -> Rollout:
    return msgspec.structs.replace(r, updated_at=now, **fields)


def _host(r: Rollout, host: str, now: float, **fields: object) -> Rollout:
    hosts = dict(r.hosts)
    hosts[host] = msgspec.structs.replace(hosts[host], at=now, **fields)
    return _with(r, now, hosts=hosts)


def new_rollout(
    image: str, digest: str, hosts: tuple[str, ...], policy: RolloutPolicy, now: float
) -> tuple[Rollout, list[RolloutEvent]]:
    """A rollout of `digest` over `hosts` (the hosts that run `image`)."""
    rid = rollout_id(image, digest)
    waves = assign_waves(rid, hosts, policy)
    progress = {h: HostProgress(wave=i, at=now) for i, wave in enumerate(waves) for h in wave}
    r = Rollout(
        rollout_id=rid,
        image=image,
        digest=digest,
        created_at=now,
        state="awaiting_approval" if policy.approve else "running",
        waves=waves,
        soak_s=policy.soak_s,
        hosts=progress,
        updated_at=now,
    )
    events = [_event(r, "created", now, hosts=tuple(progress), detail=_waves_text(waves))]
    if policy.approve:
        events.append(
            _event(r, "awaiting_approval", now, detail=f"vigil approve {rid} lets it start")
        )
    else:
        events.append(_event(r, "wave_started", now, wave=0, hosts=waves[0] if waves else ()))
    return r, events


def step(r: Rollout, name: Step, now: float, detail: str = "") -> RolloutEvent:
    """A step of `r` to publish (for the coordinator's own steps)."""
    return _event(r, name, now, wave=r.wave, detail=detail)


def supersede(r: Rollout, now: float, reason: str) -> Rollout:
    """A newer build of the image has its own rollout: this one is over, as it is."""
    return _with(r, now, state="done", reason=reason)


def _waves_text(waves: tuple[tuple[str, ...], ...]) -> str:
    return "; ".join(f"wave {i + 1}: {', '.join(w)}" for i, w in enumerate(waves))


def join(r: Rollout, host: str, policy: RolloutPolicy, now: float) -> Rollout:
    """Add a host that was not in the rollout when it was made."""
    if host in r.hosts:
        return r
    wave = late_wave(r.waves, host, policy)
    waves = list(r.waves)
    if wave == len(waves):
        waves.append(())
    waves[wave] = (*waves[wave], host)
    hosts = {**r.hosts, host: HostProgress(wave=wave, at=now)}
    return _with(r, now, waves=tuple(waves), hosts=hosts)


def decide(r: Rollout, host: str) -> tuple[Decision, str]:
    """May `host` update to the rollout's build now? go, wait (its turn comes), or hold (a
    person must act: approve, resume)."""
    rid = r.rollout_id
    if r.state == "done":
        return "go", ""
    if r.state == "aborted":
        return "hold", f"rollout {rid} was aborted ({r.reason})"
    if r.state == "awaiting_approval":
        return "hold", f"rollout {rid} waits for approval: vigil approve {rid}"
    if r.state == "halted":
        return "hold", f"rollout {rid} is halted ({r.reason}): vigil rollout resume {rid}"
    progress = r.hosts.get(host)
    if progress is None or progress.wave <= r.wave:
        return "go", ""
    if progress.wave == r.wave + 1 and r.wave_finished_at:
        return (
            "wait",
            f"waiting for wave {progress.wave + 1} of rollout {rid} (soaking wave {r.wave + 1})",
        )
    return "wait", f"waiting for wave {progress.wave + 1} of rollout {rid}"


def in_flight(progress: HostProgress, scan_id: str, now: float) -> bool:
    """Pure: `host` was given "go" by another cycle whose report has not come (and not so
    long ago that its plan must be lost): that update is still on its way."""
    return (
        progress.status == "go"
        and bool(progress.go_scan_id)
        and progress.go_scan_id != scan_id
        and now - progress.go_at < IN_FLIGHT_S
    )


def gate(
    r: Rollout,
    host: str,
    item: GateItem,
    policy: RolloutPolicy,
    now: float,
    scan_id: str = "",
) -> tuple[Rollout, Decision, str]:
    """A scanner asks whether `host` may update `item` now (in its cycle `scan_id`): the
    answer, and the rollout with the container remembered (to put it back on its old build
    should the rollout be aborted)."""
    r = join(r, host, policy, now)
    decision, reason = decide(r, host)
    progress = r.hosts[host]
    if decision == "go" and r.state != "done" and in_flight(progress, scan_id, now):
        # A cycle the coordinator asked for can start while the host's own cycle, given
        # "go" a moment ago, is still updating: both plans would run, one after the other.
        return (
            r,
            "wait",
            f"an update to this build is on its way on {host} (cycle {progress.go_scan_id[:12]})",
        )
    known = {c.name: c for c in progress.containers}
    old_digest = next((d for d in item.old_digests if d.split("@", 1)[0] == _repo(r.image)), "")
    if item.container_name not in known or known[item.container_name].new_image_id == "":
        known[item.container_name] = HostContainer(
            name=item.container_name,
            container_id=item.container_id,
            old_image_id=item.old_image_id,
            old_digest=old_digest
            or known.get(item.container_name, HostContainer(name="")).old_digest,
        )
    fields: dict[str, object] = {"containers": tuple(known.values())}
    if decision == "go" and progress.status == "pending":
        fields.update(status="go", go_scan_id=scan_id, go_at=now)
    return _host(r, host, now, **fields), decision, reason


def _repo(image: str) -> str:
    """`reg:5000/app:latest` -> `reg:5000/app`, the name repo digests carry."""
    return split_tag(image)[0]


def on_report(r: Rollout, report: Report, now: float) -> tuple[Rollout, list[RolloutEvent]]:
    """What a host's report says about the rollout: its containers on the build, or a failed
    update, which halts the rollout fleet-wide (the executor rolled that host back)."""
    progress = r.hosts.get(report.host)
    if progress is None:
        return r, []
    if progress.revert_plan_id and report.plan_id == progress.revert_plan_id:
        return _reverted(r, report, now)
    mine = [x for x in report.results if _concerns(r, x)]
    if progress.go_scan_id and report.scan_id == progress.go_scan_id:
        # The cycle given "go" has reported: nothing of this host is on its way any more.
        progress = msgspec.structs.replace(progress, go_scan_id="")
        r = _with(r, now, hosts={**r.hosts, report.host: progress})
    if r.state in TERMINAL:
        return r, []
    if not mine:
        return _gone(r, report, now), []
    events: list[RolloutEvent] = []
    failed = [x for x in mine if x.status in _FAILED]
    containers = {c.name: c for c in progress.containers}
    for x in mine:
        if x.status == "skipped":
            # Left alone on purpose (monitor-only, --no-restart): nothing to wait for there.
            containers.pop(x.name, None)
        elif x.status in _ON_BUILD:
            old = containers.get(x.name, HostContainer(name=x.name))
            containers[x.name] = msgspec.structs.replace(
                old,
                container_id=x.new_container_id or x.container_id,
                new_image_id=x.new_image_id or x.old_image_id,
            )
    if failed:
        error = "; ".join(f"{x.name}: {x.status} ({x.error})" for x in failed)
        r = _host(
            r, report.host, now, status="failed", error=error, containers=tuple(containers.values())
        )
        if r.state == "running":
            reason = f"the update failed on {report.host}: {error}"
            r = _with(r, now, state="halted", reason=reason)
            events.append(
                _event(r, "halted", now, wave=r.wave, hosts=(report.host,), detail=reason)
            )
        return r, events
    if all(c.new_image_id for c in containers.values()):
        r = _host(
            r, report.host, now, status="updated", error="", containers=tuple(containers.values())
        )
    else:
        r = _host(r, report.host, now, containers=tuple(containers.values()))
    return r, events


def _gone(r: Rollout, report: Report, now: float) -> Rollout:
    """A cycle asked by the coordinator that found no container of the image on a host that
    had not updated: it has nothing to do in this rollout, and must not hold its wave."""
    progress = r.hosts[report.host]
    if (
        report.scan_id not in r.scans
        or progress.status not in ("pending", "go")
        or report.problems
        or any(x.image == r.image for x in report.results)
    ):
        return r
    return _host(r, report.host, now, status="gone", error="no container of the image any more")


def scan_asked(r: Rollout, scan_id: str, now: float) -> Rollout:
    """Remember a cycle asked of the rollout's hosts, to read its reports."""
    return _with(r, now, scans=(*r.scans, scan_id)[-_SCANS_KEPT:])


def _concerns(r: Rollout, x: ContainerResult) -> bool:
    return x.image == r.image and x.remote_digest == r.digest and x.status in _SEEN


def advance(r: Rollout, now: float) -> tuple[Rollout, list[RolloutEvent], tuple[str, ...]]:
    """A running rollout whose wave is all on the build: the soak starts; once it passed,
    the next wave starts (its hosts are returned: the coordinator has them scanned now), or
    the rollout is done after its last wave."""
    if r.state != "running" or not r.waves:
        return r, [], ()
    wave = r.waves[r.wave]
    if not all(r.hosts[h].status in DONE for h in wave):
        return r, [], ()
    events: list[RolloutEvent] = []
    last = r.wave == len(r.waves) - 1
    if not r.wave_finished_at:
        r = _with(r, now, wave_finished_at=now)
        detail = "" if last else f"soaking {r.soak_s:g}s before wave {r.wave + 2}"
        events.append(_event(r, "wave_done", now, wave=r.wave, hosts=wave, detail=detail))
    if last:
        r = _with(r, now, state="done")
        events.append(_event(r, "done", now, wave=r.wave))
        return r, events, ()
    if now < r.wave_finished_at + r.soak_s:
        return r, events, ()
    r = _with(r, now, wave=r.wave + 1, wave_finished_at=0.0)
    started = r.waves[r.wave]
    events.append(_event(r, "wave_started", now, wave=r.wave, hosts=started))
    return r, events, started


def soak_ends(r: Rollout) -> float | None:
    """When `advance` has something to do for `r` without a new report: the end of the soak
    of a running rollout whose wave is done (None: only a report can move it)."""
    if r.state != "running" or not r.wave_finished_at or r.wave >= len(r.waves) - 1:
        return None
    return r.wave_finished_at + r.soak_s


def approve(
    r: Rollout, now: float, by: str = ""
) -> tuple[Rollout, list[RolloutEvent], tuple[str, ...]]:
    if r.state != "awaiting_approval":
        raise RolloutStateError(f"rollout {r.rollout_id} is {r.state}, not waiting for approval")
    r = _with(r, now, state="running")
    first = r.waves[0] if r.waves else ()
    return (
        r,
        [
            _event(r, "approved", now, detail=f"by {by}" if by else ""),
            _event(r, "wave_started", now, wave=0, hosts=first),
        ],
        first,
    )


def resume(
    r: Rollout, now: float, by: str = ""
) -> tuple[Rollout, list[RolloutEvent], tuple[str, ...]]:
    """A halted rollout goes on: the failed hosts of its wave are tried again."""
    if r.state != "halted":
        raise RolloutStateError(f"rollout {r.rollout_id} is {r.state}, not halted")
    hosts = {
        h: msgspec.structs.replace(p, status="pending", error="", at=now)
        if p.status == "failed"
        else p
        for h, p in r.hosts.items()
    }
    r = _with(r, now, state="running", reason="", hosts=hosts)
    again = tuple(h for h in r.waves[r.wave] if r.hosts[h].status not in DONE) if r.waves else ()
    return (
        r,
        [_event(r, "resumed", now, wave=r.wave, hosts=again, detail=f"by {by}" if by else "")],
        again,
    )


class RolloutStateError(ValueError):
    """A command that does not fit the rollout's state; the message says why."""


def abort(
    r: Rollout, now: float, plan_ids: dict[str, str], by: str = ""
) -> tuple[Rollout, list[RolloutEvent], list[Plan]]:
    """Stop the rollout and put the hosts already on its build back on their old build: a
    plan per such host that pins each container's old digest (the executor's own update
    path). A container whose old digest is unknown (its image was built on the host, never
    pulled) cannot be put back: that host is revert_failed, saying so."""
    if r.state == "aborted":
        raise RolloutStateError(f"rollout {r.rollout_id} is aborted already")
    r = _with(r, now, state="aborted", reason=f"aborted by {by}" if by else "aborted")
    plans: list[Plan] = []
    events = [_event(r, "aborted", now, wave=r.wave, detail=r.reason)]
    for host, progress in sorted(r.hosts.items()):
        on_build = [c for c in progress.containers if c.new_image_id]
        if progress.status not in ("updated", "failed") or not on_build:
            continue
        blind = [c.name for c in on_build if not c.old_digest]
        if blind:
            r = _host(
                r,
                host,
                now,
                status="revert_failed",
                error=(
                    f"no old digest known for {', '.join(blind)} (its image was never pulled "
                    "from a registry): put it back by hand"
                ),
            )
            continue
        plan = Plan(
            plan_id=plan_ids[host],
            scan_id=f"{REVERT_SCAN_PREFIX}{r.rollout_id}",
            host=host,
            created_at=now,
            actions=tuple(
                UpdateAction(
                    container_id=c.container_id,
                    container_name=c.name,
                    image=r.image,
                    old_image_id=c.new_image_id,
                    remote_digest=c.old_digest.split("@", 1)[1],
                )
                for c in on_build
            ),
        )
        plans.append(plan)
        r = _host(r, host, now, status="reverting", revert_plan_id=plan.plan_id)
    return r, events, plans


def _reverted(r: Rollout, report: Report, now: float) -> tuple[Rollout, list[RolloutEvent]]:
    bad = [x for x in report.results if x.status not in _ON_BUILD]
    problems = list(report.problems) + [f"{x.name}: {x.status} ({x.error})" for x in bad]
    if problems:
        r = _host(r, report.host, now, status="revert_failed", error="; ".join(problems))
        detail = f"could not put {report.host} back: {'; '.join(problems)}"
    else:
        r = _host(r, report.host, now, status="reverted", error="")
        detail = f"{report.host} is back on its old build"
    return r, [_event(r, "reverted", now, hosts=(report.host,), detail=detail)]


def prunable(r: Rollout, now: float, retention_s: float) -> bool:
    """Whether a rollout is past its retention: finished (done or aborted, no host still
    going back) and unchanged for `retention_s` or more. 0 keeps every rollout."""
    if retention_s <= 0 or r.state not in TERMINAL:
        return False
    if any(p.status == "reverting" for p in r.hosts.values()):
        return False
    return now - (r.updated_at or r.created_at) >= retention_s


def counts(r: Rollout) -> dict[str, int]:
    """Hosts by status, for `vigil rollout status`."""
    out: dict[str, int] = {}
    for p in r.hosts.values():
        out[p.status] = out.get(p.status, 0) + 1
    return out
