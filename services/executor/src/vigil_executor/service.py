"""The executor service: takes its host's plans from a durable consumer and carries them out.

A plan is acknowledged only once its report is published, so a plan survives an executor
restart, and `max_ack_pending=1` means two plans never run at once on one host.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec
import nats.js.errors

from vigil_executor.hooks import RunningHooks
from vigil_executor.plan_run import PlanRun
from vigil_executor.recovery import parse_entries, recover
from vigil_executor.replace import pull_image
from vigil_shared.bus import Bus, BusError
from vigil_shared.contracts import (
    ContainerResult,
    Plan,
    PullAuthReply,
    PullAuthRequest,
    Report,
    UpdateAction,
)
from vigil_shared.contracts.journal import JournalEntry
from vigil_shared.contracts.registry import pull_auth_binding
from vigil_shared.contracts.report import FAILED_STATUSES
from vigil_shared.docker_engine import describe
from vigil_shared.engine_port import Engine
from vigil_shared.imageref import split_tag
from vigil_shared.logs import get_logger
from vigil_shared.sealing import OneTimeKey, SealError
from vigil_shared.telemetry import Telemetry

log = get_logger("vigil.executor")


class ExecutorConfig(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    cleanup: bool = False
    stop_timeout: int = 10
    health_timeout: float = 60.0
    lifecycle_hooks: bool = False  # --enable-lifecycle-hooks
    rolling_restart: bool = False  # one container at a time, each fully replaced
    monitor_only: bool = False  # report new images, change nothing
    no_restart: bool = False  # pull new images, recreate nothing
    no_pull: bool = False  # use the image the tag names on the host; pull nothing
    revive_stopped: bool = False  # start stopped containers after their update
    remove_volumes: bool = False  # remove anonymous volumes with the old container
    label_take_precedence: bool = False  # the monitor-only label wins over the flag
    # How soon a plan left unfinished by a dead executor is delivered again (the live one
    # keeps its plan with in-progress acks meanwhile).
    plan_ack_wait: float = 30.0
    engine_url: str = ""  # the engine's address, for messages ("": DOCKER_HOST or the default)


# How long a finished replacement whose report never went out waits for its plan to be
# delivered again; a plan that never comes back (removed from the stream) is not waited for.
DONE_KEPT_S = 3600.0


def interrupted_summary(
    reason: str, results: Iterable[ContainerResult], left: Iterable[str]
) -> str:
    """Pure: what a report cut short by a stop of Vigil says, e.g. `interrupted: 1 updated,
    2 left for the next cycle (vigil stopped by SIGTERM)`."""
    updated = sum(1 for r in results if r.status == "updated")
    return f"interrupted: {updated} updated, {len(set(left))} left for the next cycle ({reason})"


def pinned(image: str, digest: str) -> str:
    """The reference of exactly the build the gateway resolved: `name@sha256:...`."""
    return f"{split_tag(image)[0]}@{digest}"


class Executor:
    def __init__(
        self, bus: Bus, engine: Engine, config: ExecutorConfig, telemetry: Telemetry
    ) -> None:
        self.bus = bus
        self.engine = engine
        self.config = config
        self.tracer = telemetry.tracer("vigil.executor")
        self.results: Counter[str] = Counter()  # every container result, by status (metrics)
        self.last_report: Report | None = None
        self.hooks = RunningHooks()  # killed when Vigil is asked to stop
        # A plan was cut short by the engine going away: recover once it answers again.
        self.engine_lost = False
        # By plan id, the containers that ran before an interrupted run of that plan (its
        # journal says so): the plan delivered again starts what it creates for them, even
        # when it finds them stopped (by that run's own stop).
        self.ran_before: dict[str, set[str]] = {}
        # Vigil is stopping: the container in flight is finished, no other one is started on,
        # and the report says what was left (`drain`).
        self.draining = ""  # why, once draining: e.g. "vigil was stopped (SIGTERM)"
        self._idle = asyncio.Event()
        self._idle.set()
        # By plan id: journal keys of finished replacements whose report is not out yet.
        self._done_keys: dict[str, list[str]] = {}

    async def start(self) -> None:
        host = self.config.host_id
        self.journal = await self.bus.key_value("JOURNAL")
        await self.recover()
        await self.bus.consume(
            self.bus.subjects.plan(host),
            f"executor-{host}",
            Plan,
            self._on_plan,
            ack_wait=self.config.plan_ack_wait,
            max_ack_pending=1,
        )

    async def recover(self) -> list[str]:
        """Finish or roll back what an earlier executor of this host left unfinished."""
        prefix = f"{self.config.host_id}."
        journal = await self.journal.entries()
        every = list(journal)
        keys = [k for k in every if k.startswith(prefix)]
        # Other hosts' updates in progress, by old container: an executor sharing this engine
        # (watchtower scopes) may be replacing one right now; it is not ours to roll back.
        others = {
            k.rsplit(".", 1)[1]: k.rsplit(".", 1)[0] for k in every if not k.startswith(prefix)
        }
        entries = parse_entries([(key, journal[key]) for key in keys])
        finished: dict[str, str] = {}
        for entry in entries.values():
            if entry.was_running:
                self.ran_before.setdefault(entry.plan_id, set()).add(entry.name)
        done = await asyncio.to_thread(
            recover,
            self.engine,
            entries,
            self.config.remove_volumes,
            others,
            self.config.stop_timeout,
            finished,
        )
        for line in done:
            log.warning("recovered an interrupted update", host=self.config.host_id, what=line)
        now = time.time()
        for key in keys:
            found = entries.get(key)
            if found is not None and key in finished:
                # Finished, never reported: the plan, delivered again, reports it (once).
                done_entry = msgspec.structs.replace(found, step="done", new_id=finished[key])
                if found.step != "done":
                    done_entry = msgspec.structs.replace(done_entry, at=now)
                if now - done_entry.at < DONE_KEPT_S:
                    await self.journal_put(key, done_entry)
                    continue
            await self.journal_forget(key)
        return done

    async def journal_put(self, key: str, entry: JournalEntry) -> None:
        await self.journal.put(key, msgspec.json.encode(entry))

    async def journal_get(self, key: str) -> JournalEntry | None:
        try:
            raw = (await self.journal.get(key)).value or b""
        except nats.js.errors.KeyNotFoundError:
            return None
        entries = parse_entries([(key, raw)])
        return entries.get(key)

    async def journal_forget(self, key: str) -> None:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await self.journal.delete(key)

    async def drain(self, reason: str) -> None:
        """Vigil is stopping: let the plan in flight finish the container it is at (or put it
        back on its old build), leave the others for the next cycle, and publish its report;
        returns once no plan runs. A plan that comes meanwhile leaves every container."""
        if not self.draining:
            self.draining = reason
            if not self._idle.is_set():
                log.info("stopping: finishing the update in flight", host=self.config.host_id)
        await self._idle.wait()

    async def _on_plan(self, plan: Plan, headers: dict[str, str]) -> None:
        if plan.host != self.config.host_id:
            log.warning("ignored a plan for another host", plan_host=plan.host)
            return
        self._idle.clear()
        try:
            report = await self.execute(plan)
            self.results.update(r.status for r in report.results)
            self.last_report = report
            await self.bus.publish_event(
                self.bus.subjects.report(plan.host), report, msg_id=f"report-{plan.plan_id}"
            )
            self.ran_before.pop(plan.plan_id, None)
            # Reported: nothing to say of them again if this plan is delivered once more.
            for key in self._done_keys.pop(plan.plan_id, ()):
                await self.journal_forget(key)
        finally:
            self._idle.set()

    async def execute(self, plan: Plan) -> Report:
        started = time.time()
        problems = plan.problems
        if self.engine_lost and await self.engine_problem() is None:
            # The engine is back. What the cut-short plan left (an old container renamed
            # aside, one stopped for its update) is finished or rolled back first, as at a
            # restart, so no container stays away from its name until the executor restarts.
            await self.recover()
            self.engine_lost = False
        with self.tracer.start_as_current_span("execute") as span:
            span.set_attribute("vigil.scan_id", plan.scan_id)
            span.set_attribute("vigil.host", plan.host)
            run = PlanRun(self, plan)
            self._done_keys[plan.plan_id] = run.done_keys
            try:
                results = await run.run()
            except Exception:
                # The engine went away (the host died, dockerd was stopped): report that, with
                # what was done before, instead of failing the plan and having it delivered
                # again forever with no report. Anything else fails the plan as before.
                problem = await self.engine_problem()
                if problem is None:
                    raise
                log.error("plan cut short", host=plan.host, plan_id=plan.plan_id, error=problem)
                results = run.cut_short(problem)
                problems = (*problems, problem)
                self.engine_lost = True
            else:
                # A replacement that failed and could not be rolled back because the engine
                # went away meanwhile: said in the report, and recovered once it is back.
                if any(r.status in FAILED_STATUSES for r in results):
                    problem = await self.engine_problem()
                    if problem is not None:
                        problems = (*problems, problem)
                        self.engine_lost = True
                if run.left:
                    problems = (*problems, interrupted_summary(self.draining, results, run.left))
        return Report(
            scan_id=plan.scan_id,
            plan_id=plan.plan_id,
            host=plan.host,
            started_at=started,
            finished_at=time.time(),
            results=tuple(results),
            problems=problems,
        )

    async def engine_problem(self) -> str | None:
        """What is wrong with the engine, naming it, when it does not answer a ping; None when
        it answers."""
        try:
            await asyncio.to_thread(self.engine.ping)
        except Exception as exc:
            where = self.config.engine_url or describe(None)
            return f"cannot reach the Docker engine at {where}: {exc}"
        return None

    async def pull(self, action: UpdateAction, pulled: dict[str, str], progress: Any) -> str:
        """Pull exactly the build the gateway resolved and tag it as the container's tag."""
        key = action.remote_digest or action.image
        if key in pulled:
            return pulled[key]
        target = (
            pinned(action.image, action.remote_digest) if action.remote_digest else action.image
        )
        auth = await self._pull_auth(target)
        await progress("pulling", target)
        image_id = await asyncio.to_thread(pull_image, self.engine, target, auth)
        if action.remote_digest:
            repo, tag = split_tag(action.image)
            await asyncio.to_thread(self.engine.api.tag, image_id, repo, tag, force=True)
        pulled[key] = image_id
        return image_id

    async def _pull_auth(self, image: str) -> dict[str, str] | None:
        """Pull credentials for `image` from the gateway, sealed to a key made for this one
        request. Without an answer the pull goes ahead without credentials: an open registry
        needs none, and a closed one fails the pull with the registry's own reason."""
        host = self.config.host_id
        key = OneTimeKey()
        request = PullAuthRequest(host=host, image=image, public_key=key.public_b64)
        try:
            reply = await self.bus.request(
                self.bus.subjects.pull_auth, request, PullAuthReply, timeout=30
            )
        except BusError as exc:
            log.warning("no pull credentials from the gateway", image=image, error=str(exc))
            return None
        if reply.error:
            log.warning("the gateway gave no pull credentials", image=image, error=reply.error)
            return None
        if reply.kind == "none":
            return None
        try:
            opened = json.loads(key.open(reply.sealed, pull_auth_binding(host, image)))
        except (SealError, ValueError) as exc:
            log.error("pull credentials could not be opened", image=image, error=str(exc))
            return None
        if not isinstance(opened, dict):
            return None
        return {str(k): str(v) for k, v in opened.items()}
