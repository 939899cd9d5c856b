"""The audit stream read back: every inventory, plan, progress event and report, in order.

Pure parts (what a message says, whether it matches a filter, the history of changes) are
functions; `read_events` is the one adapter, an ordered JetStream consumer that replays the
stream from a point in time and, with `follow`, keeps going.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.js.api import ConsumerConfig, DeliverPolicy

from vigil_shared.bus import Bus
from vigil_shared.codec import BadMessage, decode
from vigil_shared.contracts import Inventory, Plan, ProgressEvent, Report, RolloutEvent
from vigil_shared.contracts.rollout import revert_of
from vigil_shared.summary import report_summary

KINDS: dict[str, type[msgspec.Struct]] = {
    "inventory": Inventory,
    "plan": Plan,
    "progress": ProgressEvent,
    "report": Report,
    "rollout": RolloutEvent,  # a step of a rollout: fleet-wide, its host is "fleet"
}
CHANGES = ("updated", "failed", "rolled_back")
# The dashboard replays a stream of up to this many messages from its start (every
# container's recent history); a larger one from the last message of each subject, so it
# starts in seconds at any fleet size (docs/performance.md).
REPLAY_ALL_UP_TO = 20_000


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    subject: str
    kind: str
    host: str
    at: float  # when the stream stored it
    message: Any  # one of KINDS, decoded


class HistoryRow(msgspec.Struct, frozen=True, kw_only=True):
    at: float
    host: str
    container: str
    image: str
    old_image_id: str
    new_image_id: str
    status: str
    error: str = ""


def kind_of(subject: str, prefix: str) -> str:
    """`vigil.report.h1` -> `report` (empty for a subject outside the audit stream)."""
    rest = subject.removeprefix(prefix + ".")
    kind = rest.split(".", 1)[0]
    return kind if kind in KINDS and rest != subject else ""


def mentions(event: AuditEvent, container: str) -> bool:
    """Pure: whether the event concerns the container named `container`."""
    m = event.message
    if isinstance(m, Inventory):
        return any(c.name == container for c in m.containers)
    if isinstance(m, Plan):
        return any(a.container_name == container for a in m.actions) or any(
            r.name == container for r in m.settled
        )
    if isinstance(m, ProgressEvent):
        return m.container == container
    if isinstance(m, Report):
        return any(r.name == container for r in m.results)
    return False


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def describe(event: AuditEvent) -> str:
    """Pure: one readable line for an event."""
    m = event.message
    head = f"{_when(event.at)} {event.host:<12} {event.kind:<9}"
    if isinstance(m, Inventory):
        return f"{head} {len(m.containers)} containers (scan {m.scan_id[:8]})"
    if isinstance(m, Plan):
        names = ", ".join(a.container_name for a in m.actions) or "nothing"
        problems = f"; {len(m.problems)} problems" if m.problems else ""
        return (
            f"{head} to update: {names}; {len(m.settled)} settled{problems} (scan {m.scan_id[:8]})"
        )
    if isinstance(m, ProgressEvent):
        return f"{head} [{m.index}/{m.total}] {m.container}: {m.phase} {m.message}".rstrip()
    if isinstance(m, Report):
        rid = revert_of(m.scan_id)
        cycle = f"revert of rollout {rid}" if rid else f"scan {m.scan_id[:8]}"
        return f"{head} {report_summary(m)} ({cycle})"
    if isinstance(m, RolloutEvent):
        hosts = f" {', '.join(m.hosts)}" if m.hosts else ""
        detail = f": {m.detail}" if m.detail else ""
        return (
            f"{head} {m.rollout_id} {m.step.replace('_', ' ')} (wave {m.wave + 1}){hosts} "
            f"{m.image} @ {_short(m.digest)}{detail}"
        )
    return head


def as_json(event: AuditEvent) -> bytes:
    return msgspec.json.encode(
        {
            "seq": event.seq,
            "subject": event.subject,
            "kind": event.kind,
            "host": event.host,
            "at": datetime.datetime.fromtimestamp(event.at, datetime.UTC).isoformat(),
            "message": event.message,
        }
    )


def history(reports: Iterable[Report], container: str = "") -> list[HistoryRow]:
    """Pure: what changed, when, from which image to which, and how it ended."""
    rows = [
        HistoryRow(
            at=r.finished_at,
            host=r.host,
            container=res.name,
            image=res.image,
            old_image_id=res.old_image_id,
            new_image_id=res.new_image_id,
            status=res.status,
            error=res.error,
        )
        for r in reports
        for res in r.results
        if res.status in CHANGES and (not container or res.name == container)
    ]
    return sorted(rows, key=lambda row: row.at)


def describe_change(row: HistoryRow) -> str:
    change = f"{_short(row.old_image_id)} -> {_short(row.new_image_id) or '?'}"
    line = f"{_when(row.at)} {row.host:<12} {row.container:<24} {row.status:<11} {change}"
    line += f" ({row.image})"
    return line + (f": {row.error}" if row.error else "")


def replay_start(
    messages: int, *, since: float | None = None, replay_all_up_to: int | None = None
) -> DeliverPolicy:
    """Pure: where a replay of a stream holding `messages` starts. From `since` when given;
    else from the start, unless the stream holds more than `replay_all_up_to` messages: then
    from the last message of each subject (each host's latest inventory, plan, progress and
    report, in stream order), so a reader of a large fleet's stream (the dashboard: 10,000
    hosts hold ~26 M messages over 30 days) starts from what is current, not from a month."""
    if since is not None:
        return DeliverPolicy.BY_START_TIME
    if replay_all_up_to is not None and messages > replay_all_up_to:
        return DeliverPolicy.LAST_PER_SUBJECT
    return DeliverPolicy.ALL


async def read_events(
    bus: Bus,
    *,
    since: float | None = None,
    hosts: tuple[str, ...] = (),
    follow: bool = False,
    replay_all_up_to: int | None = None,
) -> AsyncIterator[AuditEvent]:
    """Replay the audit stream (from `since`, a Unix time, or from the start), in order.

    One ordered consumer over the whole stream, so the order is the stream's; hosts are
    filtered here. Without `follow` it stops at the message that was last when it started. A
    message that does not decode is skipped: it must not stop the replay. With
    `replay_all_up_to`, a stream holding more messages is read from the last message of each
    subject instead of from its start (`replay_start`).
    """
    prefix = bus.subjects.prefix
    stream = bus.subjects.stream_name
    while True:
        try:
            state = (await bus.js.stream_info(stream)).state
            last = state.last_seq
            break
        except nats.js.errors.NotFoundError:
            if not follow:
                return  # nothing has run yet: no stream, no events
            await asyncio.sleep(1.0)  # following: the events come once something runs
    if not follow and last == 0:
        return
    policy = replay_start(state.messages, since=since, replay_all_up_to=replay_all_up_to)
    if since is not None:
        config = ConsumerConfig(
            deliver_policy=policy,
            opt_start_time=datetime.datetime.fromtimestamp(since, datetime.UTC),
        )
    else:
        config = ConsumerConfig(deliver_policy=policy)
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)
    # No pending limits on the subscription: past them (256 MB) nats-py drops messages as a
    # slow consumer, and its ordered consumer does not notice (it counted the dropped one
    # before dropping it), so a slow reader silently misses them: a dashboard starting on
    # 10,000 hosts (30,000 messages of ~22 KB, 675 MB) lost half the fleet that way
    # (docs/performance.md). What waits is bounded by the replay's size.

    async def on_msg(msg: Any) -> None:
        await queue.put(msg)

    sub = await bus.js.subscribe(
        f"{prefix}.*.*",
        stream=stream,
        ordered_consumer=True,
        config=config,
        cb=on_msg,
        pending_msgs_limit=0,
        pending_bytes_limit=0,
    )
    try:
        while True:
            try:
                msg = await asyncio.wait_for(queue.get(), timeout=1.0)
            except TimeoutError:
                if follow:
                    continue
                break  # nothing at or after `since` up to the end
            event = _event(msg, prefix)
            if event is not None and (not hosts or event.host in hosts):
                yield event
            if not follow and msg.metadata.sequence.stream >= last:
                break
    finally:
        with contextlib.suppress(nats.errors.Error):
            await sub.unsubscribe()


def _event(msg: Any, prefix: str) -> AuditEvent | None:
    kind = kind_of(msg.subject, prefix)
    if not kind:
        return None
    try:
        message = decode(msg.data, KINDS[kind])
    except BadMessage:
        return None
    stamp = msg.metadata.timestamp
    at = stamp.timestamp() if isinstance(stamp, datetime.datetime) else time.time()
    return AuditEvent(
        seq=msg.metadata.sequence.stream,
        subject=msg.subject,
        kind=kind,
        host="fleet" if kind == "rollout" else msg.subject.rsplit(".", 1)[-1],
        at=at,
        message=message,
    )
