"""One plan carried out on one host: pull, hooks, dependency order, replace, restarts.

The phases, as watchtower users know them: pre-check hooks; pull every stale image (a
container whose label or flag says monitor-only is reported, not touched); pre-update hooks
(exit 75 skips); stop in reverse dependency order (dependents first, with each container's
stop signal); replace and start in dependency order, restarting dependents of what was
updated; post-update hooks; post-check hooks. `--rolling-restart` takes one container at a
time through stop, replace and start (and its health gate) before the next.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from vigil_executor.cleanup import remove_image_if_unused
from vigil_executor.config import ExecutorConfig
from vigil_executor.dependency_labels import missing_dependencies, missing_note
from vigil_executor.hooks import HookResult, RunningHooks, hook_for, run_hook
from vigil_executor.journal import Journal
from vigil_executor.order import node_from_inspect, plan_order
from vigil_executor.pulling import Puller
from vigil_executor.replace import replace_container
from vigil_executor.stopping import stop_container, stop_signal, stop_signal_problem
from vigil_executor.ties import Moved, replaced, retarget
from vigil_shared import labels as wt
from vigil_shared.contracts import ContainerResult, Plan, ProgressEvent, UpdateAction
from vigil_shared.contracts.journal import ASIDE_MARKER, JournalEntry, journal_key
from vigil_shared.contracts.report import ResultStatus
from vigil_shared.engine_port import Engine
from vigil_shared.logs import get_logger

log = get_logger("vigil.executor")

Mode = Literal["update", "monitor", "no_restart"]


def action_mode(container_labels: Mapping[str, str], config: ExecutorConfig) -> Mode:
    """Pure: what to do with a stale container, from the flags and its labels."""
    if wt.flag_with_label(
        dict(container_labels), wt.MONITOR_ONLY, config.monitor_only, config.label_take_precedence
    ):
        return "monitor"
    if config.no_restart:
        return "no_restart"
    return "update"


def no_pull(container_labels: Mapping[str, str], config: ExecutorConfig) -> bool:
    """Pure: --no-pull or the no-pull label: use the image the tag names on this host."""
    return wt.flag_with_label(
        dict(container_labels), wt.NO_PULL, config.no_pull, config.label_take_precedence
    )


def is_self(container_labels: Mapping[str, str]) -> bool:
    """Pure: the container runs Vigil itself (watchtower's own label, which Vigil's image
    carries too)."""
    return wt.is_self(container_labels)


def _labels(data: Mapping[str, Any] | None) -> dict[str, str]:
    return dict(((data or {}).get("Config") or {}).get("Labels") or {})


def _running(data: Mapping[str, Any] | None) -> bool:
    return bool(((data or {}).get("State") or {}).get("Running"))


def _api_error(exc: Exception) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def _auto_removed(data: Mapping[str, Any] | None) -> bool:
    """`--rm`: the engine removes the container as soon as it stops."""
    return bool(((data or {}).get("HostConfig") or {}).get("AutoRemove"))


@dataclass(frozen=True)
class PlanParts:
    """What a plan run uses of its executor: no more, so that it can be driven in a test with
    a fake engine and a fake bus, and plan_run never imports the service."""

    engine: Engine
    config: ExecutorConfig
    journal: Journal
    publish_progress: Callable[[ProgressEvent], Awaitable[None]]
    puller: Puller
    hooks: RunningHooks
    # By plan id, the containers that ran before an interrupted run of that plan.
    ran_before: Mapping[str, set[str]]
    draining: Callable[[], str]  # why Vigil is stopping, or ""


class PlanRun:
    def __init__(self, parts: PlanParts, plan: Plan) -> None:
        self.parts = parts
        self.plan = plan
        self.engine = parts.engine
        self.config = parts.config
        self.loop = asyncio.get_running_loop()
        self.actions = {a.container_name: a for a in plan.actions}
        self.index = {a.container_name: i for i, a in enumerate(plan.actions, 1)}
        self.results: dict[str, ContainerResult] = {r.name: r for r in plan.settled}
        self.started: dict[str, float] = {}
        self.new_ids: dict[str, str] = {}
        self.was_running: dict[str, bool] = {}
        self.inspected: dict[str, dict[str, Any]] = {}
        # Containers replaced by a new one so far: what is tied to them follows the new one.
        self.moved: list[Moved] = []
        # The containers this run stopped, and the stale ones it left alone because Vigil is
        # stopping (executor.draining): those were not started on, the next cycle takes them.
        self.stopped: set[str] = set()
        self.left: list[str] = []
        # Journal keys of the replacements that finished (`done`), forgotten once the report
        # is published.
        self.done_keys: list[str] = []

    # ---- progress and results -----------------------------------------------------------

    async def progress(self, name: str, phase: str, message: str = "") -> None:
        index, total = self.index.get(name, 0), len(self.actions)
        counter = f"[{index}/{total}] " if index else ""  # a dependent restarted: no action
        log.info(f"{counter}{name}: {phase}", message=message, host=self.plan.host)
        event = ProgressEvent(
            plan_id=self.plan.plan_id,
            scan_id=self.plan.scan_id,
            host=self.plan.host,
            container=name,
            phase=phase,
            message=message,
            at=time.time(),
            index=index,
            total=total,
        )
        try:
            await self.parts.publish_progress(event)
        except Exception as exc:  # progress is informative; never fail an update on it
            log.warning("progress event not published", error=str(exc))

    def on_step(self, name: str) -> Callable[[str, str], None]:
        """A progress callback for code running in a thread."""

        def step(phase: str, message: str) -> None:
            asyncio.run_coroutine_threadsafe(self.progress(name, phase, message), self.loop)

        return step

    def result(self, action: UpdateAction, status: str, **fields: Any) -> ContainerResult:
        started = self.started.get(action.container_name, time.monotonic())
        return ContainerResult(
            name=action.container_name,
            container_id=action.container_id,
            image=action.image,
            status=status,  # type: ignore[arg-type]
            old_image_id=action.old_image_id,
            remote_digest=action.remote_digest or "",
            duration_s=round(time.monotonic() - started, 3),
            previous_image=action.previous_image,
            **fields,
        )

    @property
    def draining(self) -> bool:
        return bool(self.parts.draining())

    def leave(self, action: UpdateAction, done: str = "") -> None:
        """Vigil is stopping: `action` is not started on (or was put back on its old build,
        `done` says so); the report says it is left for the next cycle."""
        name = action.container_name
        error = f"left for the next cycle: {self.parts.draining()}"
        self.results[name] = self.result(action, "skipped", error=f"{error}{done}")
        self.left.append(name)

    def note(self, name: str, text: str) -> None:
        if name in self.results:
            r = self.results[name]
            self.results[name] = msgspec.structs.replace(r, notes=(*r.notes, text))

    # ---- the journal ----------------------------------------------------------------------

    def _entry(self, name: str, step: str, new_id: str = "") -> tuple[str, JournalEntry]:
        data = self.inspected[name]
        old_id = str(data["Id"])
        action = self.actions.get(name)
        entry = JournalEntry(
            host=self.plan.host,
            plan_id=self.plan.plan_id,
            name=name,
            old_id=old_id,
            image=action.image if action else str((data.get("Config") or {}).get("Image")),
            step=step,  # type: ignore[arg-type]
            was_running=self.was_running.get(name, _running(data)),
            new_id=new_id,
            at=time.time(),
        )
        return journal_key(self.plan.host, old_id), entry

    async def record(self, name: str, step: str, new_id: str = "") -> None:
        key, entry = self._entry(name, step, new_id)
        await self.parts.journal.put(key, entry)

    def journal_for(self, name: str) -> Callable[[str, str], None]:
        """A journal writer for code running in a thread: returns once the step is stored."""

        def write(step: str, new_id: str) -> None:
            key, entry = self._entry(name, step, new_id)
            future = asyncio.run_coroutine_threadsafe(self.parts.journal.put(key, entry), self.loop)
            future.result(timeout=15)

        return write

    async def mark_done(self, name: str, new_id: str) -> None:
        """The replacement of `name` finished: journalled `done` until the report is out
        (Executor forgets `done_keys` then)."""
        key, entry = self._entry(name, "done", new_id)
        try:
            await self.parts.journal.put(key, entry)
        except Exception as exc:  # the update is done; only a redelivery would not know it
            log.warning("journal entry not written", container=name, error=str(exc))
            return
        self.done_keys.append(key)

    async def forget(self, name: str) -> None:
        data = self.inspected.get(name)
        if data is not None:
            await self.parts.journal.forget(journal_key(self.plan.host, str(data["Id"])))

    # ---- the run --------------------------------------------------------------------------

    async def run(self) -> list[ContainerResult]:
        names = [r.name for r in self.plan.settled] + list(self.actions)
        if self.actions or self.config.lifecycle_hooks:
            self.inspected = await asyncio.to_thread(self._inspect_all)
            # Replacements whose dependents may not have followed yet (a plan delivered
            # again after its executor died between the two).
            self.moved = replaced(self.inspected.values())
            self._number_in_update_order(names)
        dependency_notes = await self._check_depends_on(names)
        await self._hooks("pre-check", names)
        stale = await self._pull_all()
        await self._pre_update(stale)
        nodes = [node_from_inspect(d) for d in self.inspected.values()]
        order = plan_order(nodes, stale, allowed=names)
        for cycle in order.cycles:
            for name in cycle:
                if name in stale:
                    error = f"dependency cycle between {', '.join(cycle)}: left alone"
                    self.results[name] = self.result(stale.pop(name), "failed", error=error)
        if self.config.rolling_restart:
            for name in order.start:
                if not self.draining:  # else nothing of it was touched: it stays as it is
                    await self._stop(name, stale)
                await self._bring_up(name, stale, order.start)
        else:
            for wave in order.stop_waves:
                if self.draining:
                    break
                await self._stop_wave(wave, stale)
            for name in order.start:
                await self._bring_up(name, stale, order.start)
        # What moved or was left alone on purpose (a cycle, blocked by one) is not retied.
        left = {m for cycle in order.cycles for m in cycle}
        await self._retie_stopped(names, {*order.start, *stale, *left})
        await self._remove_old_providers()
        if self.config.lifecycle_hooks:
            self.inspected = await asyncio.to_thread(self._inspect_all)
        await self._hooks("post-check", names)
        for name, text in dependency_notes.items():
            self.note(name, text)
        return [self.results[n] for n in names if n in self.results]

    def _number_in_update_order(self, names: list[str]) -> None:
        """Number the actions (`[i/N]`) and take them (pulls first) in the order they are
        updated: what is depended on first, then by name; not in the order of the plan."""
        nodes = [node_from_inspect(d) for d in self.inspected.values()]
        order = plan_order(nodes, self.actions, allowed=names)
        ranked = [n for n in order.start if n in self.actions]
        ranked += [n for n in self.actions if n not in ranked]  # a cycle, or not on the host
        self.actions = {n: self.actions[n] for n in ranked}
        self.index = {n: i for i, n in enumerate(ranked, 1)}

    def cut_short(self, error: str) -> list[ContainerResult]:
        """The results when the run stopped half-way (the engine went away): what finished
        keeps its result, every other action failed with `error`."""
        for name, action in self.actions.items():
            if name not in self.results:
                self.results[name] = self.result(action, "failed", error=error)
        names = [r.name for r in self.plan.settled] + list(self.actions)
        return [self.results[n] for n in names if n in self.results]

    async def _check_depends_on(self, names: list[str]) -> dict[str, str]:
        """A warning for each selected container whose depends-on label names a container
        that is not on this host (logged now, noted on its result at the end)."""
        if not names:
            return {}
        if self.inspected:
            present = {n: _labels(d) for n, d in self.inspected.items()}
            ids = [str(d.get("Id") or "") for d in self.inspected.values()]
        else:  # nothing to update: one list call tells names, ids and labels
            try:
                listed = await asyncio.to_thread(self.engine.api.containers, all=True)
            except Exception as exc:  # a warning to give is no reason to fail the plan
                log.warning("depends-on labels not checked", error=str(exc))
                return {}
            # Names also holds `/web/db` for a container linked as db into web.
            present = {
                next((n for n in c.get("Names") or () if n.count("/") == 1), "").lstrip("/"): dict(
                    c.get("Labels") or {}
                )
                for c in listed
            }
            ids = [str(c.get("Id") or "") for c in listed]
        notes: dict[str, str] = {}
        for name in names:
            missing = missing_dependencies(present.get(name) or {}, present, ids)
            if missing:
                notes[name] = missing_note(missing)
                log.warning(
                    "depends-on names no container on this host",
                    container=name,
                    missing=", ".join(missing),
                    host=self.plan.host,
                )
        return notes

    def _local_image(self, image: str) -> str:
        """--no-pull: the image the tag names on this host now."""
        try:
            return str(self.engine.api.inspect_image(image)["Id"])
        except Exception as exc:
            reason = getattr(exc, "explanation", None) or exc
            raise RuntimeError(f"--no-pull: {image} is not on this host: {reason}") from None

    def _inspect_all(self) -> dict[str, dict[str, Any]]:
        api = self.engine.api
        found: dict[str, dict[str, Any]] = {}
        for c in api.containers(all=True):
            try:
                data: dict[str, Any] = api.inspect_container(c["Id"])
            except Exception:  # removed meanwhile
                continue
            found[str(data.get("Name") or "").lstrip("/")] = data
        return found

    async def _pull_all(self) -> dict[str, UpdateAction]:
        stale: dict[str, UpdateAction] = {}
        pulled: dict[str, str] = {}
        for name, action in self.actions.items():
            self.started[name] = time.monotonic()
            if self.draining:
                self.leave(action)
                continue
            mode = action_mode(_labels(self.inspected.get(name)), self.config)
            if mode == "monitor":
                digest = f" ({action.remote_digest})" if action.remote_digest else ""
                error = f"monitor only: a newer image is available{digest}"
                await self.progress(name, "monitor-only", error)
                self.results[name] = self.result(action, "skipped", error=error)
                continue

            if mode == "update" and (
                problem := stop_signal_problem(_labels(self.inspected.get(name)))
            ):
                # Refused before the pull: the engine would refuse the stop, half-way through.
                await self.progress(name, "failed", problem)
                self.results[name] = self.result(action, "failed", error=problem)
                continue

            async def progress(phase: str, message: str, name: str = name) -> None:
                await self.progress(name, phase, message)

            try:
                if no_pull(_labels(self.inspected.get(name)), self.config):
                    new_id = await asyncio.to_thread(self._local_image, action.image)
                else:
                    new_id = await self.parts.puller.pull(action, pulled, progress)
            except Exception as exc:
                await self.progress(name, "failed", str(exc))
                self.results[name] = self.result(action, "failed", error=str(exc))
                continue
            if new_id == action.old_image_id:
                self.results[name] = self.result(action, "fresh")
                continue
            current = self.inspected.get(name) or {}
            if current.get("Image") == new_id and current.get("Id") != action.container_id:
                self.results[name] = await self._already_replaced(action, new_id, current)
                continue
            if mode == "no_restart":
                error = "--no-restart: the new image is pulled, the container is not recreated"
                self.results[name] = self.result(
                    action, "skipped", error=error, new_image_id=new_id
                )
                continue
            stale[name] = action
            self.new_ids[name] = new_id
        return stale

    async def _already_replaced(
        self, action: UpdateAction, new_id: str, current: dict[str, Any]
    ) -> ContainerResult:
        """The container is on the new build already. `updated` only when this very plan
        did it and has not reported it (a plan delivered again after its executor died: the
        journal says `done` for it); else an earlier plan did, and reported it: up to date,
        so that one transition is never reported twice."""
        key = journal_key(self.plan.host, action.container_id)
        entry = await self.parts.journal.get(key)
        if entry is not None and entry.plan_id == self.plan.plan_id and entry.step == "done":
            self.done_keys.append(key)
            if entry.was_running and not _running(current):
                state = (current.get("State") or {}).get("Status")
                error = f"on the new build but does not run (state: {state})"
                return self.result(action, "failed", error=error, new_image_id=new_id)
            return self.result(
                action,
                "updated",
                new_image_id=new_id,
                new_container_id=str(current.get("Id")),
                notes=("finished after the executor was restarted",),
            )
        return self.result(
            action,
            "fresh",
            new_image_id=new_id,
            notes=("already on the new build: updated by an earlier cycle",),
        )

    async def _pre_update(self, stale: dict[str, UpdateAction]) -> None:
        for name in list(stale):
            hook = await self._hook(name, "pre-update")
            if self.draining:  # a hook killed as Vigil stops aborts nothing: it is left
                self.leave(stale.pop(name))
                continue
            if hook is None or hook.ok:
                continue
            if hook.asks_to_skip:
                error = "the pre-update hook asked to skip this update (exit 75)"
                self.results[name] = self.result(stale.pop(name), "skipped", error=error)
            else:
                error = f"update aborted: {hook.describe()}"
                if hook.output.strip():
                    error += f": {hook.output.strip()[-300:]}"
                self.results[name] = self.result(stale.pop(name), "failed", error=error)

    async def _stop_wave(self, wave: tuple[str, ...], stale: dict[str, UpdateAction]) -> None:
        """Stop a wave's containers at once (none depends on another of them). Each stop is
        awaited before anything fails: none is left stopping unwatched."""
        done = await asyncio.gather(*(self._stop(n, stale) for n in wave), return_exceptions=True)
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _stop(self, name: str, stale: dict[str, UpdateAction]) -> None:
        data = self.inspected.get(name)
        running = _running(data)
        # Stopped by an earlier run of this plan that was cut short (its journal said it
        # ran): it is started again after, like any container this run stops.
        self.was_running[name] = running or name in self.parts.ran_before.get(self.plan.plan_id, ())
        if not running and self.was_running[name]:
            self.stopped.add(name)  # down for this plan's update: in flight
        if not running or data is None:
            return
        if name in stale and is_self(_labels(data)):
            return  # self-update: this process must run until its successor takes over
        if _auto_removed(data):
            # Stopping it would remove it: it runs on until its turn, when its replacement is
            # created before it stops, or it is restarted in one call (which keeps it).
            return
        signal = stop_signal(_labels(data))
        await self.progress(name, "stopping", f"timeout {self.config.stop_timeout}s")
        try:
            await self.record(name, "stopping")
            self.stopped.add(name)
            await asyncio.to_thread(
                stop_container,
                self.engine.api,
                str(data["Id"]),
                timeout=self.config.stop_timeout,
                signal=signal,
            )
        except Exception as exc:
            error = f"cannot stop: {getattr(exc, 'explanation', None) or exc}"
            if name in stale:
                self.results[name] = self.result(stale.pop(name), "failed", error=error)
            else:
                self.note(name, error)
            self.was_running[name] = False  # still running: nothing to start again

    async def _bring_up(
        self, name: str, stale: dict[str, UpdateAction], order: tuple[str, ...]
    ) -> None:
        data = self.inspected.get(name)
        if data is None:
            return
        if name not in stale:
            if self.draining and name not in self.stopped:
                return  # never stopped: it stays as it is
            if self.was_running.get(name):  # else it was not running: it stays as it is
                moved = [n for n in order if n in self.new_ids and n not in self.left]
                after = f"after {', '.join(moved)} was updated" if moved else "as vigil stops"
                await self._follow(name, data, after)
                await self.forget(name)
            return
        action = stale[name]
        if self.draining:
            # Vigil is stopping. Never stopped: left as it is. Stopped for its update, which
            # has not begun: put back, running on its old build (a start, quicker than the
            # replacement), for the next cycle to update.
            stale.pop(name)
            if name not in self.stopped:
                self.leave(action)
                return
            self.leave(action, "; it runs again on its old build")
            await self._follow(name, data, "as vigil stops")
            await self.forget(name)
            return
        start = self.was_running.get(name, False) or self.config.revive_stopped
        hand_over = is_self(_labels(data)) and _running(data)
        outcome = await asyncio.to_thread(
            replace_container,
            self.engine,
            str(data["Id"]),
            action.image,
            stop_timeout=self.config.stop_timeout,
            on_step=self.on_step(name),
            stop_signal=stop_signal(_labels(data)),
            start=start,
            health_timeout=self.config.health_timeout,
            remove_volumes=self.config.remove_volumes,
            journal=self.journal_for(name),
            hand_over=hand_over,
            moved=tuple(self.moved),
            host=self.plan.host,
        )
        await self._note_moved(name, str(data["Id"]))
        new_id = self.new_ids[name]
        problem = ""
        if outcome.status == "updated":
            problem = await asyncio.to_thread(
                self._not_updated, name, outcome.new_container_id, new_id, start and not hand_over
            )
        if outcome.status == "updated" and not hand_over and not problem:
            await self.mark_done(name, outcome.new_container_id)
        elif not (hand_over and outcome.status == "updated"):  # a hand-over: the new one's
            await self.forget(name)
        if outcome.status != "updated":
            await self.progress(name, outcome.status, outcome.error)
            self.results[name] = self.result(
                action,
                outcome.status,
                error=outcome.error,
                new_image_id=new_id,
                notes=outcome.notes,
            )
            return
        if problem:
            await self.progress(name, "failed", problem)
            self.results[name] = self.result(
                action, "failed", error=problem, new_image_id=new_id, notes=outcome.notes
            )
            return
        notes = list(outcome.notes)
        if start:
            hook = await self._hook(name, "post-update")
            if hook is not None and not hook.ok:
                notes.append(hook.describe())
        if self.config.cleanup:
            await self._clean_up(name, action.old_image_id, action.previous_image)
        await self.progress(name, "done", f"running on {new_id[:19]}")
        self.results[name] = self.result(
            action,
            "updated",
            new_image_id=new_id,
            new_container_id=outcome.new_container_id,
            notes=tuple(notes),
        )

    def _not_updated(self, name: str, new_container_id: str, image_id: str, runs: bool) -> str:
        """Why the engine does not show `name` updated (blocking), "" when it does: the
        container under that name is the new one, on the new build, and runs if it should.
        A report says `updated` only of what the engine shows."""
        try:
            now = self.engine.api.inspect_container(name)
        except Exception as exc:
            return f"no container {name} after its update: {_api_error(exc)}"
        state = now.get("State") or {}
        if str(now.get("Id")) != new_container_id:
            return f"{name} is not the container the update created ({new_container_id[:12]})"
        if now.get("Image") != image_id:
            return f"{name} is not on the new build {image_id[:19]}"
        if runs and not state.get("Running"):
            return f"{name} is on the new build but does not run (state: {state.get('Status')})"
        return ""

    async def _clean_up(self, name: str, image_id: str, released: str = "") -> None:
        """--cleanup: the old image goes, unless a tag or a container still names it
        (`released`: the tag a semver policy moved the container away from)."""
        cleanup = await asyncio.to_thread(remove_image_if_unused, self.engine, image_id, released)
        if cleanup.removed:
            await self.progress(name, "cleaned-up", f"removed old image {image_id[:19]}")
        else:
            log.info("old image kept", container=name, image=image_id[:19], reason=cleanup.reason)
            await self.progress(
                name, "cleanup-skipped", f"old image {image_id[:19]} kept: {cleanup.reason}"
            )

    async def _note_moved(self, name: str, old_id: str) -> None:
        """Whether a new container now holds `name` (updated, or created again from the old
        one's settings): what is tied to the old one must follow it."""
        try:
            now = await asyncio.to_thread(self.engine.api.inspect_container, name)
        except Exception:  # nothing under that name: nothing to follow
            return
        if str(now.get("Id")) != old_id:
            self.moved.append(Moved(name=name, old_id=old_id, new_id=str(now["Id"])))

    def fail(self, name: str, error: str, status: ResultStatus = "failed") -> None:
        """A container whose own result was settled (up to date, skipped) that was left in
        a worse state: the report must say so."""
        if name in self.results:
            r = self.results[name]
            self.results[name] = msgspec.structs.replace(
                r,
                status=status,
                error="; ".join(e for e in (r.error, error) if e),
            )

    async def _follow(self, name: str, data: dict[str, Any], after: str) -> None:
        """A dependent of what was updated, itself not updated: started again, or created
        again on its own image when it is tied to a replaced container (a shared namespace,
        a legacy link), which no start can change."""
        container_id = str(data["Id"])
        try:  # as it is now: the engine renamed its links when their target was renamed
            data = await asyncio.to_thread(self.engine.api.inspect_container, container_id)
        except Exception as exc:
            reason = getattr(exc, "explanation", None) or exc
            self.fail(name, f"gone {after}: {reason}")
            return
        _, ties = retarget(data, self.moved)
        if not ties:
            await self.progress(name, "restarting", after)
            try:
                if _auto_removed(data):  # one call, which keeps it; a stop would remove it
                    await asyncio.to_thread(
                        self.engine.api.restart, container_id, timeout=self.config.stop_timeout
                    )
                else:
                    await asyncio.to_thread(self.engine.api.start, container_id)
                self.note(name, f"restarted {after}")
            except Exception as exc:
                reason = getattr(exc, "explanation", None) or exc
                self.fail(name, f"could not be restarted {after}: {reason}")
            return
        await self._recreate_tied(name, data, ties, start=True)

    async def _retie_stopped(self, names: list[str], handled: set[str]) -> None:
        """A stopped container of the cycle tied to a replaced one (only running dependents
        move with what they depend on) would fail its next start: it is created again, tied
        to the new one, and stays stopped."""
        for name in names:
            data = self.inspected.get(name)
            if not self.moved or data is None or name in handled or _running(data):
                continue
            try:
                now = await asyncio.to_thread(self.engine.api.inspect_container, str(data["Id"]))
            except Exception:  # removed meanwhile
                continue
            _, ties = retarget(now, self.moved)
            if ties and not _running(now):
                self.was_running[name] = False
                await self._recreate_tied(name, now, ties, start=False)
                await self.forget(name)

    async def _remove_old_providers(self) -> None:
        """An old container renamed aside that the engine would not remove at its update
        (Podman refuses while containers made to share its namespaces exist: "has dependent
        containers"; Docker's forced remove does it) is removed once those have followed."""
        for moved in self.moved:
            try:
                old = await asyncio.to_thread(self.engine.api.inspect_container, moved.old_id)
            except Exception:  # removed at its update, as on Docker
                continue
            aside = str(old.get("Name") or "").lstrip("/")
            if ASIDE_MARKER not in aside or _running(old):
                continue
            try:
                await asyncio.to_thread(
                    self.engine.api.remove_container,
                    moved.old_id,
                    v=self.config.remove_volumes,
                    force=True,
                )
            except Exception:  # still held: the note the update gave says so
                continue
            r = self.results.get(moved.name)
            if r is not None:
                kept = tuple(n for n in r.notes if not n.startswith(f"the old container {aside} "))
                self.results[moved.name] = msgspec.structs.replace(r, notes=kept)

    async def _recreate_tied(
        self, name: str, data: dict[str, Any], ties: tuple[str, ...], *, start: bool
    ) -> None:
        """Create `name` again on its own image, tied to the replacements it names."""
        container_id = str(data["Id"])
        joined = ", ".join(ties)
        await self.progress(name, "recreating", f"on its own image, to join {joined}")
        outcome = await asyncio.to_thread(
            replace_container,
            self.engine,
            container_id,
            str((data.get("Config") or {}).get("Image") or data["Image"]),
            stop_timeout=self.config.stop_timeout,
            on_step=self.on_step(name),
            stop_signal=stop_signal(_labels(data)),
            start=start,
            health_timeout=self.config.health_timeout,
            journal=self.journal_for(name),
            moved=tuple(self.moved),
            pin_image=str(data["Image"]),
            host=self.plan.host,
        )
        await self._note_moved(name, container_id)
        if outcome.status == "updated":
            stays = "" if start else " (it was stopped, and stays stopped)"
            self.note(name, f"recreated on its own image to join {joined}{stays}")
            for note in outcome.notes:
                self.note(name, note)
            return
        await self.progress(name, outcome.status, outcome.error)
        self.fail(name, f"recreating it to join {joined} failed: {outcome.error}", outcome.status)
        for note in outcome.notes:
            self.note(name, note)

    # ---- hooks ----------------------------------------------------------------------------

    async def _hooks(self, phase: str, names: list[str]) -> None:
        for name in names:
            if self.draining:  # Vigil is stopping: no hook starts
                return
            hook = await self._hook(name, phase)
            if hook is not None and not hook.ok:
                log.warning("lifecycle hook failed", container=name, error=hook.describe())

    async def _hook(self, name: str, phase: str) -> HookResult | None:
        """Run the container's hook for `phase`, if hooks are on and it has one and runs."""
        if not self.config.lifecycle_hooks:
            return None
        data = self.inspected.get(name)
        if data is None:
            return None
        if phase.startswith("post-update"):
            data = await asyncio.to_thread(self.engine.api.inspect_container, name)
        hook = hook_for(_labels(data), phase)
        if hook is None or not _running(data):
            return None
        await self.progress(name, f"hook:{phase}", hook.command)
        result = await asyncio.to_thread(run_hook, self.engine, name, hook, self.parts.hooks)
        await self.progress(
            name,
            f"hook:{phase}:{'ok' if result.ok else 'failed'}",
            result.output.strip()[-500:] or result.describe(),
        )
        return result
