"""The executor service: takes its host's plans from a durable consumer and carries them out.

A plan is acknowledged only once its report is published, so a plan survives an executor
restart, and `max_ack_pending=1` means two plans never run at once on one host. A plan whose
report is out is never run again, even when JetStream delivers it again (its ack was lost:
a NATS restart can lose a consumer's acks; the journal keeps the host's reported plan ids).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable

import msgspec

from vigil_executor.config import ExecutorConfig as ExecutorConfig  # re-exported: its old home
from vigil_executor.hooks import RunningHooks
from vigil_executor.journal import REPORTED_KEPT, Journal
from vigil_executor.plan_run import PlanParts, PlanRun
from vigil_executor.pulling import Puller
from vigil_executor.recovery import parse_entries, recover
from vigil_shared.bus_port import BusPort
from vigil_shared.contracts import ContainerResult, Plan, ProgressEvent, Report
from vigil_shared.contracts.journal import JournalEntry
from vigil_shared.contracts.report import FAILED_STATUSES
from vigil_shared.docker_engine import describe
from vigil_shared.engine_port import Engine
from vigil_shared.logs import get_logger
from vigil_shared.telemetry import Telemetry

log = get_logger("vigil.executor")


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


class Executor:
    def __init__(
        self, bus: BusPort, engine: Engine, config: ExecutorConfig, telemetry: Telemetry
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
        # The host's last plans whose report is out, oldest first (read from the journal).
        self.reported: list[str] = []

    async def start(self) -> None:
        host = self.config.host_id
        self.journal = Journal(await self.bus.key_value("JOURNAL"))
        self.reported = await self.journal.reported_plans(host)
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
            self.config.host_id,
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
        await self.journal.put(key, entry)

    async def journal_get(self, key: str) -> JournalEntry | None:
        return await self.journal.get(key)

    async def journal_forget(self, key: str) -> None:
        await self.journal.forget(key)

    def plan_parts(self) -> PlanParts:
        """What a plan run uses of this service, and nothing else."""

        async def publish_progress(event: ProgressEvent) -> None:
            await self.bus.publish_event(self.bus.subjects.progress(event.host), event)

        return PlanParts(
            engine=self.engine,
            config=self.config,
            journal=self.journal,
            publish_progress=publish_progress,
            puller=Puller(self.bus, self.engine, self.config.host_id),
            hooks=self.hooks,
            ran_before=self.ran_before,
            draining=lambda: self.draining,
        )

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
        if plan.plan_id in self.reported:
            # Its ack was lost after the report went out: running it again would stop its
            # containers' dependents again and retry what it rolled back, unreported.
            log.info(
                "plan delivered again after its report: not run again",
                host=plan.host,
                plan_id=plan.plan_id,
            )
            return
        self._idle.clear()
        try:
            report = await self.execute(plan)
            self.results.update(r.status for r in report.results)
            self.last_report = report
            await self.bus.publish_event(
                self.bus.subjects.report(plan.host), report, msg_id=f"report-{plan.plan_id}"
            )
            if plan.actions:  # one without any is harmless to run again
                await self._note_reported(plan.plan_id)
            self.ran_before.pop(plan.plan_id, None)
            # Reported: nothing to say of them again if this plan is delivered once more.
            for key in self._done_keys.pop(plan.plan_id, ()):
                await self.journal_forget(key)
        finally:
            self._idle.set()

    async def _note_reported(self, plan_id: str) -> None:
        self.reported = [*self.reported, plan_id][-REPORTED_KEPT:]
        try:
            await self.journal.note_reported(self.config.host_id, self.reported)
        except Exception as exc:  # the report is out: failing the plan now would rerun it
            log.warning(
                "could not record the plan as reported; this executor still remembers it",
                host=self.config.host_id,
                plan_id=plan_id,
                error=str(exc) or type(exc).__name__,
            )

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
            run = PlanRun(self.plan_parts(), plan)
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
