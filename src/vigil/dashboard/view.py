"""What the dashboard shows, from the audit stream and the gateway's answers (pure).

`FleetView` folds audit events as they come (the latest inventory and plan of each host, the
last reports, the last events); the functions below turn it into the rows of the page. A
container's state:

- failed: its last result is failed, check_failed or rolled_back;
- held (by policy): its last result is held (a minimum age, a maintenance window, a wave of a
  rollout) or skipped (monitor-only, --no-restart, a pre-update hook's exit 75, created from
  an image id);
- unverified: its last result is unverified (a newer build without the signature the trust
  policy asks for: docs/trust.md); the reason names what failed;
- stale: the host's latest plan updates it and its report is not in yet, or the dashboard's
  own gateway check finds a newer build in the registry than the one it runs (a check asked
  before the container's latest report is dropped: the report is the newer truth);
- updated / current: its last result is updated / fresh, and no newer build is known;
- unknown: no cycle has judged it yet, or the registry rate-limited the check.
"""

from __future__ import annotations

import urllib.parse
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

import msgspec

from vigil.commands.rollout import tally
from vigil_coordinator.decisions import DONE, soak_ends
from vigil_scanner.skips import skip_applies, skip_reason
from vigil_shared.audit import AuditEvent, describe
from vigil_shared.codec import BadMessage, decode
from vigil_shared.contracts import (
    ContainerInfo,
    ContainerResult,
    ImageStatus,
    Inventory,
    Plan,
    ProgressEvent,
    Report,
    Rollout,
    RolloutEvent,
    Skip,
)
from vigil_shared.contracts.report import FAILED_STATUSES
from vigil_shared.imageref import InvalidImageRef, local_digests_for, parse_image_ref

CYCLES_KEPT = 50
EVENTS_KEPT = 200
HISTORY_KEPT = 20  # the last results of each container, for its history
# The labels the page shows beside a container: those that change what Vigil does with it.
SHOWN_LABEL_PREFIXES = ("com.centurylinklabs.watchtower.",)
STEPS_KEPT = 200  # the steps of each rollout, for its page
# The image's OCI labels a container's history shows (where its source is, which version).
OCI_LABELS = (
    "org.opencontainers.image.source",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
)


class ContainerRow(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    name: str
    image: str
    image_id: str
    digest: str  # the build it runs, by registry digest, when known
    run_state: str  # running, exited, ...
    state: str  # failed, held, stale, updated, current, unknown
    detail: str = ""
    labels: dict[str, str] = {}
    changed_at: float = 0.0  # when the last result about it was reported
    skipped: bool = False  # a skip (vigil skip) holds it: the row offers to stop skipping
    held_until: float = 0.0  # when its hold ends (0: not held, or until a newer build)
    action: str = ""  # the progress and result of the last action asked from its row
    next: str = ""  # what happens to it next, in words ("updated at the next cycle")
    next_at: float = 0.0  # when (0: not known); the page writes it after `next`
    rollout: str = ""  # the id of the rollout it belongs to (its image's newest on its host)


class HistoryRow(msgspec.Struct, frozen=True, kw_only=True):
    """One report's result about a container: what its history shows."""

    at: float  # when the report came (its cycle's end)
    scan_id: str  # the cycle (a rollout's steps are cycles too)
    status: str
    line: str  # in words: "updated 1234abcd5678 -> 9a8b7c6d5e4f in 3.2 s"
    image: str = ""
    old_image_id: str = ""
    new_image_id: str = ""
    duration_s: float = 0.0


class Asked(msgspec.Struct, frozen=True, kw_only=True):
    """An action asked from a container's row, shown on the row until the next one."""

    kind: str  # update, check, skip, unskip
    at: float
    scan_id: str = ""  # update: the cycle it asked for
    note: str = ""  # check, skip, unskip: what came of it
    seq: int = 0  # the audit stream's position when it was asked (a later report outdates a check)


class Checked(msgspec.Struct, frozen=True, kw_only=True):
    """The dashboard's own registry answer for an image, and the audit stream's position
    when it was asked: a report about a container after that position is newer than it."""

    status: ImageStatus
    seq: int


class CycleRow(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    scan_id: str
    started_at: float
    finished_at: float
    counts: dict[str, int]
    problems: tuple[str, ...]
    failed: bool


class EventRow(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    kind: str
    host: str
    at: float
    line: str


# A container's result, the report it came in, and that report's audit seq.
Judged = tuple[ContainerResult, Report, int]


class FleetView:
    """The audit stream as far as the page needs it; fed one event at a time, in order."""

    def __init__(self, cycles_kept: int = CYCLES_KEPT, events_kept: int = EVENTS_KEPT) -> None:
        self.inventories: dict[str, Inventory] = {}
        self.plans: dict[str, Plan] = {}  # the latest plan of each host
        self.reports: deque[Report] = deque(maxlen=cycles_kept)
        # The latest result of each container (host, name), the report it came in and that
        # report's audit seq: one tuple per result, shared with the container's history.
        self.results: dict[tuple[str, str], Judged] = {}
        # The last results of each container, oldest first: between HISTORY_KEPT and twice
        # that many (trimmed now and then, not per result); its rows are made when asked.
        self.history: dict[tuple[str, str], list[Judged]] = {}
        # The last events, as read: their rows (describe) are made only for a page.
        self.events: deque[AuditEvent] = deque(maxlen=events_kept)
        self.last_seq = 0
        # The latest step of each container's update (host, name), and the row actions asked.
        self.progress: dict[tuple[str, str], ProgressEvent] = {}
        self.asked: dict[tuple[str, str], Asked] = {}
        self.rollout_steps: dict[str, deque[RolloutEvent]] = {}  # each rollout's, oldest first

    def apply(self, event: AuditEvent) -> None:
        """Fold one event in. Per result of a report only a tuple and two dict entries: a
        10,000-host start folds 500,000 of them (docs/performance.md)."""
        m = event.message
        if isinstance(m, Inventory):
            self.inventories[m.host] = m
        elif isinstance(m, Plan):
            self.plans[m.host] = m
        elif isinstance(m, ProgressEvent):
            self.progress[(m.host, m.container)] = m
        elif isinstance(m, Report):
            self.reports.append(m)
            host, seq, results, history = m.host, event.seq, self.results, self.history
            for result in m.results:
                key = (host, result.name)
                judged = (result, m, seq)
                results[key] = judged
                kept = history.get(key)
                if kept is None:
                    history[key] = [judged]
                else:
                    kept.append(judged)
                    if len(kept) >= 2 * HISTORY_KEPT:
                        del kept[:-HISTORY_KEPT]
        elif isinstance(m, RolloutEvent):
            steps = self.rollout_steps.setdefault(m.rollout_id, deque(maxlen=STEPS_KEPT))
            steps.append(m)
        self.events.append(event)
        self.last_seq = event.seq

    def result_seq(self, host: str, name: str) -> int:
        """The audit seq of the report with the container's latest result (0: none)."""
        judged = self.results.get((host, name))
        return judged[2] if judged is not None else 0

    def event_rows(self) -> list[EventRow]:
        """The last events as the page lists them, oldest first."""
        return [event_row(e) for e in self.events]


def history_line(result: ContainerResult) -> str:
    """Pure: a result in the words of a container's history."""
    words = result.status.replace("_", " ")
    took = f" in {result.duration_s:.1f} s" if result.duration_s else ""
    if result.status == "updated":
        old, new = _short(result.old_image_id), _short(result.new_image_id)
        moved = f" from {result.previous_image}" if result.previous_image else ""
        return f"updated{moved} {old or '?'} -> {new or '?'}{took}"
    if result.status == "fresh":
        return "up to date"
    if result.error:
        return f"{words}: {result.error}{took}"
    return words + took


def history_row(result: ContainerResult, report: Report) -> HistoryRow:
    return HistoryRow(
        at=report.finished_at,
        scan_id=report.scan_id,
        status=result.status,
        line=history_line(result),
        image=result.image,
        old_image_id=result.old_image_id,
        new_image_id=result.new_image_id,
        duration_s=result.duration_s,
    )


def container_history(view: FleetView, host: str, name: str) -> list[HistoryRow]:
    """A container's last results, newest first (empty when none is known)."""
    kept = view.history.get((host, name), ())
    return [history_row(result, report) for result, report, _ in reversed(kept[-HISTORY_KEPT:])]


def next_step(
    state: str,
    detail: str,
    *,
    skip: Skip | None,
    held_until: float,
    next_cycle: float,
) -> tuple[str, float]:
    """Pure: what happens to a container next, in words, and when (0: not known). `skip` is
    a skip that holds it now; `held_until` when its hold ends; `next_cycle` when its host's
    next periodic cycle starts (0: none scheduled, or not said)."""
    if state == "stale" and detail == "update in progress":
        return "the executor is updating it now", 0.0
    if skip is not None:
        if skip.until:
            return "skipped until", skip.until
        build = skip.digest.removeprefix("sha256:")[:12]
        return f"skipped until a newer build than {build} appears", 0.0
    if state == "held" and held_until:
        return "may be updated at the first cycle after", held_until
    words = {
        "stale": "updated at the next cycle",
        "failed": "tried again at the next cycle",
        "unknown": "judged at the next cycle",
    }.get(state, "checked again at the next cycle")
    return words, next_cycle


def event_row(event: AuditEvent) -> EventRow:
    return EventRow(
        seq=event.seq, kind=event.kind, host=event.host, at=event.at, line=describe(event)
    )


def _digest_of(info: ContainerInfo) -> str:
    try:
        ref = parse_image_ref(info.image)
    except InvalidImageRef:
        return ""
    found = sorted(local_digests_for(ref, info.repo_digests))
    return found[0] if found else ""


def _runs_build(info: ContainerInfo, digest: str, result: ContainerResult | None) -> bool:
    """Whether the container runs the registry build `digest`: its image has it, or the last
    cycle updated it to it (the inventory, taken before the update, does not know yet)."""
    if result is not None and result.status == "updated" and result.remote_digest == digest:
        return True
    try:
        ref = parse_image_ref(info.image)
    except InvalidImageRef:
        return False
    return digest in local_digests_for(ref, info.repo_digests)


def newer_build(
    info: ContainerInfo, check: ImageStatus | None, result: ContainerResult | None
) -> str:
    """The registry's newer build of the container's tag, by digest, or "" when none is known."""
    if check is None or check.outcome not in ("stale", "current") or not check.remote_digest:
        return ""
    if _runs_build(info, check.remote_digest, result):
        return ""
    return check.remote_digest


def container_state(
    info: ContainerInfo,
    result: ContainerResult | None,
    *,
    pending: bool = False,
    check: ImageStatus | None = None,
) -> tuple[str, str]:
    """Pure: the state of a container and a few words on why (see the module's table).

    `result` is its last reported result (of any cycle); `pending` says the host's latest plan
    updates it and that plan's report is not in yet; `check` is the dashboard's own gateway
    answer for its image, when it has one."""
    if pending:
        return "stale", "update in progress"
    if result is not None and result.status in FAILED_STATUSES:
        return "failed", result.error or result.status.replace("_", " ")
    if result is not None and result.status in ("held", "skipped"):
        return "held", result.error or result.status
    if result is not None and result.status == "unverified":
        return "unverified", result.error or "the new build carries no trusted signature"
    newer = newer_build(info, check, result)
    if newer:
        return "stale", f"a newer build is in the registry: {newer.removeprefix('sha256:')[:12]}"
    if result is None:
        return "unknown", "not judged by a cycle yet"
    if result.status == "rate_limited":
        return "unknown", result.error or "the registry rate-limited the check"
    if result.status == "updated":
        old, new = _short(result.old_image_id), _short(result.new_image_id)
        return "updated", f"updated {old} -> {new}" if old and new else "updated"
    return "current", ""


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _pending(view: FleetView, host: str, name: str) -> bool:
    plan = view.plans.get(host)
    if plan is None or not any(a.container_name == name for a in plan.actions):
        return False
    return not any(r.host == host and r.plan_id == plan.plan_id for r in view.reports)


def shown_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(labels.items()) if k.startswith(SHOWN_LABEL_PREFIXES)}


def skip_holds(
    skip: Skip | None, info: ContainerInfo, check: ImageStatus | None, now: float
) -> bool:
    """Whether a skip (vigil skip) holds the container now: a duration still running, or a
    skipped build that is still the newest the dashboard knows of (a newer one ends it)."""
    if skip is None:
        return False
    if skip.until:
        return now < skip.until
    newer = (check.remote_digest or "") if check is not None else ""
    return skip_applies(skip, newer or skip.digest, now)


def action_note(view: FleetView, host: str, name: str) -> str:
    """What the row says of the last action asked from it: an update as it goes (asked, its
    steps, its result), or what a check, skip or unskip came to."""
    asked = view.asked.get((host, name))
    if asked is None:
        return ""
    if asked.kind == "check" and view.result_seq(host, name) > asked.seq:
        return ""  # a report since says more than the check did
    if asked.kind != "update":
        return asked.note
    for report in reversed(view.reports):
        if report.host == host and report.scan_id == asked.scan_id:
            result = next((r for r in report.results if r.name == name), None)
            if result is None:
                return "update: the cycle did not judge it" + (
                    f" ({'; '.join(report.problems)})" if report.problems else ""
                )
            words = result.status.replace("_", " ")
            return f"update: {words}" + (f": {result.error}" if result.error else "")
    step = view.progress.get((host, name))
    if step is not None and step.scan_id == asked.scan_id:
        return f"update: {step.phase}" + (f" ({step.message})" if step.message else "")
    return f"update asked (cycle {asked.scan_id[:8]})"


def current_check(
    view: FleetView, host: str, info: ContainerInfo, checked: Checked | None
) -> ImageStatus | None:
    """The dashboard's answer for the container's image if no report about the container
    came after it was asked (an update, a rollout's step: the report is newer than it)."""
    if checked is None or view.result_seq(host, info.name) > checked.seq:
        return None
    return checked.status


def container_rows(
    view: FleetView,
    checks: Mapping[str, Mapping[str, Checked]] | None = None,
    skips: Mapping[tuple[str, str], Skip] | None = None,
    now: float = 0.0,
    next_cycles: Mapping[str, float] | None = None,
    rollouts: Sequence[Rollout] = (),
) -> list[ContainerRow]:
    """Every container of every host's latest inventory, with its state. `checks`: the
    dashboard's own gateway answers, by host then image; `skips`: the skips in force, by
    (host, name); `next_cycles`: when each host's next periodic cycle starts; `rollouts`:
    those of the bucket (each row names the one it belongs to)."""
    belongs = rollout_index(rollouts)
    checks = checks or {}
    skips = skips or {}
    next_cycles = next_cycles or {}
    rows: list[ContainerRow] = []
    for host, inventory in sorted(view.inventories.items()):
        for info in sorted(inventory.containers, key=lambda c: c.name):
            last = view.results.get((host, info.name))
            # The result is about this container, or about the one it replaced (an inventory
            # taken after the update); a container recreated by hand has none yet.
            judged = last is not None and info.id in (
                last[0].container_id,
                last[0].new_container_id,
            )
            result = last[0] if last is not None and judged else None
            check = current_check(view, host, info, checks.get(host, {}).get(info.image))
            state, detail = container_state(
                info, result, pending=_pending(view, host, info.name), check=check
            )
            skip = skips.get((host, info.name))
            skipped = skip is not None and skip_holds(skip, info, check, now)
            if skip is not None and skipped and detail != "update in progress":
                state, detail = "held", skip_reason(skip)
            held_until = skip.until if skip is not None and skipped else 0.0
            if not held_until and state == "held" and result is not None:
                held_until = result.held_until
            updated = result is not None and result.status == "updated"
            what_next, next_at = next_step(
                state,
                detail,
                skip=skip if skipped else None,
                held_until=held_until,
                next_cycle=next_cycles.get(host, 0.0),
            )
            rows.append(
                ContainerRow(
                    host=host,
                    name=info.name,
                    image=info.image,
                    image_id=(result.new_image_id if updated and result else "") or info.image_id,
                    digest=(result.remote_digest if updated and result else "") or _digest_of(info),
                    run_state=info.state,
                    state=state,
                    detail=detail,
                    labels=shown_labels(info.labels),
                    changed_at=last[1].finished_at if last is not None and judged else 0.0,
                    skipped=skipped,
                    held_until=held_until,
                    action=action_note(view, host, info.name),
                    next=what_next,
                    next_at=next_at,
                    rollout=belongs.get((host, info.image), ""),
                )
            )
    return rows


def rollout_index(rollouts: Iterable[Rollout]) -> dict[tuple[str, str], str]:
    """Pure: (host, image reference) -> the id of the newest rollout of that image with the
    host in it: the rollout a container of that image on that host belongs to."""
    index: dict[tuple[str, str], str] = {}
    for r in sorted(rollouts, key=lambda r: (r.created_at, r.rollout_id)):
        for host in r.hosts:
            index[(host, r.image)] = r.rollout_id
    return index


def oci_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Pure: the image's OCI labels (source, version, revision) among a container's labels."""
    return {k.rsplit(".", 1)[1]: labels[k] for k in OCI_LABELS if labels.get(k)}


def source_link(source: str) -> str:
    """Pure: the label's source as a link the page may open: an http or https URL with a
    host, else "" (a `javascript:` or `file:` value is shown as text, never followed)."""
    try:
        url = urllib.parse.urlsplit(source.strip())
    except ValueError:
        return ""
    if url.scheme.lower() not in ("http", "https") or not url.netloc:
        return ""
    return url.geturl()


def cycle_rows(reports: Iterable[Report], limit: int = 20) -> list[CycleRow]:
    """The last cycles, newest first."""
    newest = sorted(reports, key=lambda r: r.finished_at, reverse=True)[:limit]
    rows = []
    for r in newest:
        counts: dict[str, int] = {}
        for result in r.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        rows.append(
            CycleRow(
                host=r.host,
                scan_id=r.scan_id,
                started_at=r.started_at,
                finished_at=r.finished_at,
                counts=dict(sorted(counts.items())),
                problems=r.problems,
                failed=r.failed,
            )
        )
    return rows


class RolloutRow(msgspec.Struct, frozen=True, kw_only=True):
    rollout_id: str
    image: str = ""
    digest: str = ""
    build: str = ""  # the digest, short
    state: str  # a RolloutState, or "unreadable"
    wave: int = 0  # the current wave, from 1 (0: the rollout has no waves)
    waves: int = 0
    done: int = 0  # hosts on the build
    pending: int = 0
    failed: int = 0
    waits_for: str = ""  # what it waits for, in a few words
    soak_ends_at: float = 0.0  # when the current wave's soak ends (0: no soak running)
    hosts: dict[str, str] = {}  # each host's status
    actions: tuple[str, ...] = ()  # the buttons that fit its state: approve, resume, abort
    created_at: float = 0.0
    updated_at: float = 0.0


def rollout_actions(state: str) -> tuple[str, ...]:
    """The commands that fit a rollout's state (the coordinator refuses the others): approve
    while it awaits approval, resume while halted, abort until it is finished (a done rollout
    is aborted with `vigil rollout abort`, on purpose: the whole fleet goes back)."""
    actions: list[str] = []
    if state == "awaiting_approval":
        actions.append("approve")
    if state == "halted":
        actions.append("resume")
    if state in ("awaiting_approval", "running", "halted"):
        actions.append("abort")
    return tuple(actions)


def waits_for(r: Rollout) -> str:
    """What a rollout waits for now, in a few words."""
    rid = r.rollout_id
    if r.state == "awaiting_approval":
        return f"approval (vigil approve {rid})"
    if r.state == "halted":
        return f"resume or abort: {r.reason}" if r.reason else "resume or abort"
    if r.state == "aborted":
        back = sorted(h for h, p in r.hosts.items() if p.status == "reverting")
        return f"hosts going back to the old build: {', '.join(back)}" if back else ""
    if r.state != "running" or not r.waves:
        return ""
    wave = r.waves[r.wave]
    busy = [f"{h} ({r.hosts[h].status})" for h in wave if r.hosts[h].status not in DONE]
    if busy:
        return f"wave {r.wave + 1} to update: {', '.join(busy)}"
    if soak_ends(r) is not None:
        return f"the soak of wave {r.wave + 1}, then wave {r.wave + 2}"
    return ""


def rollout_row(r: Rollout) -> RolloutRow:
    done, pending, failed = tally(r)
    return RolloutRow(
        rollout_id=r.rollout_id,
        image=r.image,
        digest=r.digest,
        build=_short(r.digest),
        state=r.state,
        wave=min(r.wave + 1, len(r.waves)),
        waves=len(r.waves),
        done=done,
        pending=pending,
        failed=failed,
        waits_for=waits_for(r),
        soak_ends_at=soak_ends(r) or 0.0,
        hosts={h: p.status for h, p in sorted(r.hosts.items())},
        actions=rollout_actions(r.state),
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def rollout_rows(entries: Mapping[str, bytes]) -> list[RolloutRow]:
    """The VIGIL_ROLLOUTS bucket's entries (key: the rollout id), newest first; an entry that
    is not a Rollout shows as unreadable, saying why, and takes no button."""
    rows: list[RolloutRow] = []
    for key, value in entries.items():
        try:
            rows.append(rollout_row(decode(value, Rollout)))
        except BadMessage as exc:
            rows.append(RolloutRow(rollout_id=key, state="unreadable", waits_for=str(exc)))
    return sorted(rows, key=lambda row: (-row.created_at, row.rollout_id))


# ---- a rollout's page: its waves, each host's state, its soak and every step -----------

# The coordinator's host statuses in the page's words (vigil_shared.contracts.rollout).
HOST_STATES = {
    "pending": "pending",
    "go": "updating",
    "updated": "updated",
    "gone": "gone",
    "failed": "failed",
    "reverting": "reverting",
    "reverted": "reverted",
    "revert_failed": "failed",
}


class RolloutHostRow(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    state: str  # pending, updating, updated, gone, failed, reverting, reverted
    status: str  # the coordinator's own word (go, revert_failed, ...)
    containers: tuple[str, ...] = ()
    error: str = ""
    at: float = 0.0  # when its state last changed


class WaveRow(msgspec.Struct, frozen=True, kw_only=True):
    number: int  # from 1
    state: str  # done, soaking, updating, waiting (a later wave), stopped (halted, aborted)
    hosts: tuple[RolloutHostRow, ...] = ()


class StepRow(msgspec.Struct, frozen=True, kw_only=True):
    at: float
    step: str
    wave: int  # from 1
    hosts: tuple[str, ...] = ()
    detail: str = ""


class RolloutPage(msgspec.Struct, frozen=True, kw_only=True):
    rollout: RolloutRow
    reason: str = ""
    soak_s: float = 0.0
    wave_finished_at: float = 0.0  # when the current wave was all on the build (0: not yet)
    waves: tuple[WaveRow, ...] = ()
    steps: tuple[StepRow, ...] = ()  # oldest first


def host_row(host: str, r: Rollout) -> RolloutHostRow:
    p = r.hosts[host]
    return RolloutHostRow(
        host=host,
        state=HOST_STATES.get(p.status, p.status),
        status=p.status,
        containers=tuple(c.name for c in p.containers),
        error=p.error,
        at=p.at,
    )


def wave_state(r: Rollout, index: int) -> str:
    """Pure: where a wave is: done (every host on the build, or with nothing to do), soaking
    (done, its soak running), updating (the wave allowed now), waiting (a later one), or
    stopped (a halted or aborted rollout's wave that is not done)."""
    wave = r.waves[index]
    done = all(r.hosts[h].status in DONE for h in wave)
    if index < r.wave or (done and r.state == "done"):
        return "done"
    if index > r.wave:
        return "stopped" if r.state in ("aborted", "halted") else "waiting"
    if done:
        return "soaking" if soak_ends(r) is not None else "done"
    if r.state in ("aborted", "halted"):
        return "stopped"
    return "waiting" if r.state == "awaiting_approval" else "updating"


def rollout_page(r: Rollout, steps: Iterable[RolloutEvent]) -> RolloutPage:
    """Pure: what a rollout's page shows, from its entry in the bucket and its steps in the
    audit stream."""
    return RolloutPage(
        rollout=rollout_row(r),
        reason=r.reason,
        soak_s=r.soak_s,
        wave_finished_at=r.wave_finished_at,
        waves=tuple(
            WaveRow(
                number=i + 1,
                state=wave_state(r, i),
                hosts=tuple(host_row(h, r) for h in wave if h in r.hosts),
            )
            for i, wave in enumerate(r.waves)
        ),
        steps=tuple(
            StepRow(at=e.at, step=e.step, wave=e.wave + 1, hosts=e.hosts, detail=e.detail)
            for e in steps
            if e.rollout_id == r.rollout_id
        ),
    )


def find_rollout(rollouts: Sequence[Rollout], given: str) -> Rollout | None:
    """Pure: a rollout by its id or by an unambiguous start of it (as the command line)."""
    exact = next((r for r in rollouts if r.rollout_id == given), None)
    if exact is not None or not given:
        return exact
    matches = [r for r in rollouts if r.rollout_id.startswith(given)]
    return matches[0] if len(matches) == 1 else None
