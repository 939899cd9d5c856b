"""The rollout-coordinator: a fleet-wide service that owns the rollouts.

It answers scanners' gate requests (may this host update this image now?), follows every
host's reports, starts the next wave once a wave soaked, and takes the commands of `vigil
rollout` and `vigil approve`. Its state is the `{STREAM}_ROLLOUTS` bucket, so a coordinator
that restarts goes on where it was; every step goes to the audit stream. Run one per fleet:
its changes to a rollout are serialised in the process, not across replicas.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from typing import Any

import nats.js.errors

from vigil_coordinator import decisions
from vigil_coordinator.spec import RolloutPolicy
from vigil_shared.bus import Bus
from vigil_shared.codec import BadMessage, decode, encode
from vigil_shared.contracts import (
    ROLLOUT_BUCKET,
    GateReply,
    GateRequest,
    GateVerdict,
    Inventory,
    Plan,
    Report,
    Rollout,
    RolloutCommand,
    RolloutCommandReply,
    RolloutEvent,
    ScanCommand,
)
from vigil_shared.heartbeat import is_alive, read_heartbeats
from vigil_shared.logs import get_logger

log = get_logger("vigil.rollout")

ROLE = "rollout-coordinator"
QUEUE = "rollout-coordinator"
DURABLE = "rollout-coordinator"
DEFAULT_RETENTION_S = 30 * 86400.0  # --rollout-retention
PRUNE_EVERY_S = 60.0  # at most this long between two looks for rollouts to prune
# The other canaries are asked for a cycle only if they have not asked the gate within this:
# a trigger starts every host's cycle at once, and a canary whose own cycle is under way would
# otherwise get a second plan for the same update (after a halt, an update it must not make).
ASK_GRACE_S = 5.0


class Coordinator:
    def __init__(
        self,
        bus: Bus,
        policy: RolloutPolicy,
        *,
        tick_s: float = 1.0,
        retention_s: float = DEFAULT_RETENTION_S,
    ) -> None:
        self.bus = bus
        self.policy = policy
        self.tick_s = tick_s
        self.retention_s = retention_s
        # A short retention (tests) is looked at as often as it needs, a long one once a minute.
        self._prune_every = min(PRUNE_EVERY_S, max(tick_s, retention_s / 4))
        self._pruned_at = 0.0  # monotonic
        self._lock = asyncio.Lock()  # one change of the rollouts at a time
        self._kv: Any = None
        self._ticker: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # When the next soak ends (the bucket is only read again then, or on a report).
        self._due: float | None = None
        self.gate_requests = 0
        self._asks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._kv = await self.bus.key_value(ROLLOUT_BUCKET)
        subjects = self.bus.subjects
        await self.bus.serve(subjects.update_gate, GateRequest, self._on_gate, queue=QUEUE)
        await self.bus.serve(
            subjects.rollout_command, RolloutCommand, self._on_command, queue=QUEUE
        )
        # Durable: reports that came while the coordinator was down are read when it is back.
        await self.bus.consume(
            subjects.all_reports, DURABLE, Report, self._on_report, max_ack_pending=64
        )
        await self._advance()  # after a restart: a soak that ended meanwhile, the next ones
        await self._prune()
        self._ticker = asyncio.create_task(self._tick_loop())

    async def close(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.cancel()
            # Bounded: a NATS call that swallows the cancellation must not hold the stop.
            await asyncio.wait({self._ticker}, timeout=2.0)
        for ask in self._asks:
            ask.cancel()

    # ---- state ------------------------------------------------------------------------

    async def load(self, rollout_id: str) -> Rollout | None:
        try:
            entry = await self._kv.get(rollout_id)
        except nats.js.errors.KeyNotFoundError:
            return None
        try:
            return decode(entry.value or b"", Rollout)
        except BadMessage as exc:
            log.error("unreadable rollout ignored", rollout=rollout_id, error=str(exc))
            return None

    async def rollouts(self) -> list[Rollout]:
        found = []
        for rid, value in (await self._kv.entries()).items():
            try:
                found.append(decode(value, Rollout))
            except BadMessage as exc:
                log.error("unreadable rollout ignored", rollout=rid, error=str(exc))
        return sorted(found, key=lambda r: (r.created_at, r.rollout_id))

    def _note_due(self, r: Rollout) -> None:
        due = decisions.soak_ends(r)
        if due is not None and (self._due is None or due < self._due):
            self._due = due

    async def _store(self, r: Rollout, events: Iterable[RolloutEvent]) -> None:
        await self._kv.put(r.rollout_id, encode(r))
        self._note_due(r)
        for event in events:
            log.info(
                f"rollout {event.step}",
                rollout=r.rollout_id,
                image=r.image,
                wave=event.wave + 1,
                hosts=",".join(event.hosts),
                detail=event.detail,
            )
            await self.bus.publish_event(self.bus.subjects.rollout(r.rollout_id), event)

    async def _scan(self, r: Rollout, hosts: Iterable[str]) -> Rollout:
        """Hosts whose turn came: a cycle now, for the rollout's image only (remembered, so
        that a host whose cycle finds no such container any more does not hold its wave)."""
        hosts = tuple(hosts)
        if not hosts:
            return r
        command = ScanCommand(
            scan_id=uuid.uuid4().hex,
            hosts=hosts,
            images=(r.image,),
            requested_by=f"rollout {r.rollout_id}",
        )
        r = decisions.scan_asked(r, command.scan_id, time.time())
        await self._store(r, ())
        await self.bus.publish(self.bus.subjects.cmd_scan, command)
        return r

    # ---- handlers ---------------------------------------------------------------------

    async def _on_gate(self, request: GateRequest, headers: dict[str, str]) -> GateReply:
        self.gate_requests += 1
        verdicts: list[GateVerdict] = []
        async with self._lock:
            for item in request.items:
                now = time.time()
                rid = decisions.rollout_id(item.image, item.digest)
                r = await self.load(rid)
                if r is None:
                    r = await self._create(item.image, item.digest, request.host, now)
                r, decision, reason = decisions.gate(
                    r, request.host, item, self.policy, now, request.scan_id
                )
                await self._store(r, ())
                verdicts.append(
                    GateVerdict(
                        image=item.image,
                        digest=item.digest,
                        container_name=item.container_name,
                        decision=decision,
                        rollout_id=rid,
                        reason=reason,
                    )
                )
        return GateReply(verdicts=tuple(verdicts))

    async def _create(self, image: str, digest: str, asking: str, now: float) -> Rollout:
        hosts = tuple(sorted({asking, *await self._hosts_running(image, digest)}))
        r, events = decisions.new_rollout(image, digest, hosts, self.policy, now)
        # An older build's rollout of the same image is over: this build replaces it.
        for old in await self.rollouts():
            if old.image == image and old.state not in decisions.TERMINAL:
                reason = f"superseded by rollout {r.rollout_id} ({digest})"
                done = decisions.supersede(old, now, reason)
                await self._store(done, [decisions.step(done, "done", now, reason)])
        await self._store(r, events)
        # The other canaries are asked for a cycle now, not at their next scheduled one
        # (unless their own cycle asks the gate meanwhile: ASK_GRACE_S).
        others = tuple(h for h in r.waves[0] if h != asking) if r.waves else ()
        if r.state == "running" and others:
            task = asyncio.create_task(self._ask_if_silent(r.rollout_id, others))
            self._asks.add(task)
            task.add_done_callback(self._asks.discard)
        return r

    async def _ask_if_silent(self, rid: str, hosts: tuple[str, ...]) -> None:
        await asyncio.sleep(ASK_GRACE_S)
        try:
            async with self._lock:
                r = await self.load(rid)
                if r is None or r.state != "running":
                    return
                silent = [h for h in hosts if h in r.hosts and r.hosts[h].status == "pending"]
                await self._scan(r, silent)
        except Exception as exc:  # NATS away: the canaries' own next cycles ask instead
            log.warning("could not ask the canaries for a cycle", rollout=rid, error=str(exc))

    async def _hosts_running(self, image: str, digest: str) -> set[str]:
        """The hosts with a live scanner whose last inventory has a container of `image` not
        already on `digest` (a host on the build has nothing to do in its rollout)."""
        now = time.time()
        stream = self.bus.subjects.stream_name
        hosts: set[str] = set()
        for beat in await read_heartbeats(self.bus):
            if beat.role != "scanner" or not beat.host or not is_alive(beat, now):
                continue
            try:
                raw = await self.bus.js.get_last_msg(stream, self.bus.subjects.inventory(beat.host))
                inventory = decode(raw.data or b"", Inventory)
            except (nats.js.errors.NotFoundError, BadMessage):
                continue
            if any(
                c.image == image and not any(d.endswith(f"@{digest}") for d in c.repo_digests)
                for c in inventory.containers
            ):
                hosts.add(beat.host)
        return hosts

    async def _on_report(self, report: Report, headers: dict[str, str]) -> None:
        async with self._lock:
            for r in await self.rollouts():
                if report.host not in r.hosts:
                    continue
                now = time.time()
                changed, events = decisions.on_report(r, report, now)
                if changed is not r:
                    await self._store(changed, events)
        await self._advance()

    async def _prune(self) -> None:
        """Finished rollouts past --rollout-retention leave the bucket: each said in the log
        and as a `pruned` step in the audit stream (after it, the same build's next gate
        request starts a new rollout: an aborted build is held only as long as its rollout
        is kept)."""
        self._pruned_at = time.monotonic()
        if self.retention_s <= 0:
            return
        async with self._lock:
            for r in await self.rollouts():
                now = time.time()
                if not decisions.prunable(r, now, self.retention_s):
                    continue
                await self._kv.purge(r.rollout_id)
                age = now - (r.updated_at or r.created_at)
                detail = (
                    f"{r.state} {age:.0f}s ago, past --rollout-retention {self.retention_s:g}s: "
                    "removed from the rollouts bucket"
                )
                log.info(
                    "rollout pruned",
                    rollout=r.rollout_id,
                    image=r.image,
                    state=r.state,
                    finished_s_ago=round(age),
                    retention_s=self.retention_s,
                )
                event = decisions.step(r, "pruned", now, detail)
                await self.bus.publish_event(self.bus.subjects.rollout(r.rollout_id), event)

    async def _tick_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(self.tick_s)
            if time.monotonic() - self._pruned_at >= self._prune_every:
                try:
                    await self._prune()
                except Exception:  # the next look tries again; the service keeps running
                    log.exception("rollout pruning failed")
            if self._due is None or time.time() < self._due:
                continue
            self._due = None
            try:
                await self._advance()
            except Exception:  # the next tick tries again; the service keeps running
                self._due = time.time()
                log.exception("rollout tick failed")

    async def _advance(self) -> None:
        async with self._lock:
            for r in await self.rollouts():
                changed, events, started = decisions.advance(r, time.time())
                if changed is not r:
                    await self._store(changed, events)
                    await self._scan(changed, started)
                else:
                    self._note_due(r)

    async def _on_command(
        self, command: RolloutCommand, headers: dict[str, str]
    ) -> RolloutCommandReply:
        async with self._lock:
            if command.action == "list":
                return RolloutCommandReply(ok=True, rollouts=tuple(await self.rollouts()))
            r = await self._find(command.rollout_id)
            if r is None:
                known = ", ".join(x.rollout_id for x in await self.rollouts()) or "none"
                return RolloutCommandReply(
                    ok=False, error=f"no rollout {command.rollout_id!r} (rollouts: {known})"
                )
            now = time.time()
            try:
                if command.action == "abort":
                    ids = {h: uuid.uuid4().hex for h in r.hosts}
                    r, events, plans = decisions.abort(r, now, ids, command.by)
                    await self._store(r, events)
                    await self._publish_plans(plans)
                else:
                    act = decisions.approve if command.action == "approve" else decisions.resume
                    r, events, hosts = act(r, now, command.by)
                    await self._store(r, events)
                    await self._scan(r, hosts)
            except decisions.RolloutStateError as exc:
                return RolloutCommandReply(ok=False, error=str(exc), rollouts=(r,))
            return RolloutCommandReply(ok=True, rollouts=(r,))

    async def _find(self, given: str) -> Rollout | None:
        """A rollout by its id, or by an unambiguous start of it."""
        exact = await self.load(given) if given else None
        if exact is not None:
            return exact
        matches = [r for r in await self.rollouts() if given and r.rollout_id.startswith(given)]
        return matches[0] if len(matches) == 1 else None

    async def _publish_plans(self, plans: Iterable[Plan]) -> None:
        for plan in plans:
            await self.bus.publish_event(
                self.bus.subjects.plan(plan.host), plan, msg_id=plan.plan_id
            )
