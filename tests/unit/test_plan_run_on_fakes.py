"""The executor's plan runs over the fake engine and the fake bus: no IO, the same Executor
the service runs (tests/support/fake_engine.py and fake_bus.py, kept true by
tests/integration/test_engine_contract.py and test_bus_contract.py).

Plan order (who stops and starts first), rollback (create, start or health fails: the old
container is back under its name, running), recovery after a crash at each engine call of a
replacement (what the journal says, what the next executor does), and the engine lost in
the middle of a plan.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pytest

from tests.support.fake_bus import FakeBus
from tests.support.fake_engine import FakeEngine, api_error
from vigil_executor.service import Executor, ExecutorConfig
from vigil_shared import labels
from vigil_shared.contracts import ContainerResult, Plan, Report, UpdateAction
from vigil_shared.contracts.journal import (
    ASIDE_MARKER,
    REPLACES_LABEL,
    JournalEntry,
    is_entry_key,
    reported_plans_key,
)
from vigil_shared.telemetry import Telemetry

TAG = "127.0.0.1:5000/app:latest"
HEALTHCHECK = {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 1_000_000_000}}


class Crash(BaseException):
    """The executor dies here: nothing of it catches this (it catches Exception)."""


class Host:
    """One host: a fake engine whose containers run build v1 of TAG, a fake bus, and the
    registry's build v2 of TAG, by digest."""

    def __init__(self, image_config: dict[str, Any] | None = None) -> None:
        self.engine = FakeEngine()
        self.bus = FakeBus()
        self.old_image = self.engine.build(TAG, "v1", image_config)
        self.new_image, self.digest = self.engine.publish(TAG, "v2", image_config)

    def run(self, name: str, depends: str = "") -> str:
        body: dict[str, Any] = {"Labels": {labels.DEPENDS_ON: depends}} if depends else {}
        return self.engine.run(TAG, name, **body)

    def plan(self, stale: Sequence[str], current: Sequence[str] = ()) -> Plan:
        api = self.engine.api
        return Plan(
            plan_id=uuid.uuid4().hex,
            scan_id=uuid.uuid4().hex,
            host="h1",
            created_at=time.time(),
            actions=tuple(
                UpdateAction(
                    container_id=api.inspect_container(n)["Id"],
                    container_name=n,
                    image=TAG,
                    old_image_id=api.inspect_container(n)["Image"],
                    remote_digest=self.digest,
                )
                for n in stale
            ),
            settled=tuple(
                ContainerResult(
                    name=n, container_id=api.inspect_container(n)["Id"], image=TAG, status="fresh"
                )
                for n in current
            ),
        )

    def executor(self, **config: Any) -> Executor:
        return Executor(
            self.bus, self.engine, ExecutorConfig(host_id="h1", **config), Telemetry.disabled()
        )

    async def execute(self, plan: Plan, **config: Any) -> Report:
        """A new executor started (its journal, its recovery) and `plan` delivered to it."""
        await self.executor(**config).start()
        return await self.deliver(plan)

    async def deliver(self, plan: Plan) -> Report:
        """`plan` through the bus, as the scanner sends it; the report the executor published."""
        await self.bus.publish_event(self.bus.subjects.plan("h1"), plan)
        await self.bus.settle(timeout=30)
        reports = self.bus.messages(self.bus.subjects.report("h1"), Report)
        found = [r for r in reports if r.plan_id == plan.plan_id]
        assert len(found) == 1, f"{len(found)} reports of plan {plan.plan_id}"
        return found[0]

    def actions(self, *wanted: str) -> list[tuple[str, str]]:
        """(action, container name) of the engine's events since the set-up, in order."""
        return [
            (e["Action"], e["Actor"]["Attributes"]["name"])
            for e in self.engine.api.event_log
            if e["Action"] in wanted
        ]

    def start_events(self) -> None:
        """What happened in the set-up is not the plan's: forget its events."""
        self.engine.api.event_log.clear()

    def id_of(self, name: str) -> str:
        return str(self.engine.api.inspect_container(name)["Id"])

    def image_of(self, name: str) -> str:
        return str(self.engine.api.inspect_container(name)["Image"])

    async def journal(self) -> dict[str, JournalEntry]:
        kv = await self.bus.key_value("JOURNAL")
        return {
            k: msgspec.json.decode(v, type=JournalEntry)
            for k, v in (await kv.entries()).items()
            if is_entry_key(k)
        }


def by_name(report: Report) -> dict[str, ContainerResult]:
    return {r.name: r for r in report.results}


def crash_after(engine: FakeEngine, method: str, when: Callable[..., bool]) -> None:
    """The executor dies right after the engine carried out `method` (once, where `when`)."""
    real = getattr(engine.api, method)
    fired: list[bool] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        answer = real(*args, **kwargs)
        if not fired and when(*args, **kwargs):
            fired.append(True)
            raise Crash(method)
        return answer

    setattr(engine.api, method, call)


# ---- plan order --------------------------------------------------------------------------


async def test_plan_order_a_chain_stops_dependents_first_and_starts_them_after() -> None:
    host = Host()
    db_id = host.run("db")
    api_id = host.run("api", depends="db")
    web_id = host.run("web", depends="api")
    host.start_events()
    report = await host.execute(host.plan(["db"], ["api", "web"]))
    results = by_name(report)
    assert results["db"].status == "updated", results["db"].error
    assert results["api"].status == "fresh"
    assert any("restarted after" in n for n in results["api"].notes)
    assert [n for a, n in host.actions("die")] == ["web", "api", "db"]
    assert [n for a, n in host.actions("start")] == ["db", "api", "web"]
    # db recreated on the new build, its dependents restarted (the same containers).
    assert host.id_of("db") != db_id and host.image_of("db") == host.new_image
    assert (host.id_of("api"), host.id_of("web")) == (api_id, web_id)
    assert host.engine.names() == {"db": True, "api": True, "web": True}


async def test_an_old_provider_kept_at_its_update_goes_once_its_dependent_followed() -> None:
    """Podman refuses to remove a container that another one was created to share a
    namespace of ("has dependent containers which must be removed before it"), as the old
    `web` is while `side` (`--network container:web`) is not yet recreated in the new one:
    it goes once `side` has followed, and the report keeps no note of a container left."""
    host = Host()
    web_id = host.run("web")
    host.engine.run(TAG, "side", HostConfig={"NetworkMode": f"container:{web_id}"})
    refusal = api_error(
        500, f"container {web_id} has dependent containers which must be removed before it"
    )
    host.engine.api.fail(
        "remove_container", refusal, when=lambda container, **kw: container == web_id
    )

    report = await host.execute(host.plan(["web"], ["side"]))

    results = by_name(report)
    assert results["web"].status == "updated", results["web"].error
    assert host.engine.names() == {"web": True, "side": True}  # no `-vigil-old-` left
    side = host.engine.api.inspect_container("side")
    assert side["HostConfig"]["NetworkMode"] == f"container:{host.id_of('web')}"
    assert not [n for n in results["web"].notes if "could not be removed" in n], results["web"]


async def test_plan_order_rolling_restart_takes_one_container_at_a_time() -> None:
    host = Host()
    host.run("base")
    host.run("left", depends="base")
    host.run("right", depends="base")
    host.run("top", depends="left,right")
    host.start_events()
    report = await host.execute(host.plan(["base"], ["left", "right", "top"]), rolling_restart=True)
    assert by_name(report)["base"].status == "updated"
    sequence = host.actions("die", "start")
    # Each container stops and starts again before the next one stops.
    assert [a for a, _ in sequence] == ["die", "start"] * 4
    assert all(sequence[i][1] == sequence[i + 1][1] for i in range(0, 8, 2))
    starts = [n for a, n in sequence if a == "start"]
    assert starts[0] == "base" and starts[-1] == "top" and set(starts[1:3]) == {"left", "right"}


async def test_plan_order_a_dependency_cycle_is_reported_and_left_alone() -> None:
    host = Host()
    x_id = host.run("x", depends="y")
    host.run("y", depends="x")
    host.start_events()
    result = by_name(await host.execute(host.plan(["x"], ["y"])))["x"]
    assert result.status == "failed"
    assert "dependency cycle" in result.error and "x" in result.error and "y" in result.error
    assert host.id_of("x") == x_id and host.image_of("x") == host.old_image
    assert host.actions("die", "start") == []


async def test_plan_order_every_stale_container_is_pulled_once_and_updated() -> None:
    host = Host()
    host.run("a")
    host.run("b")
    report = await host.execute(host.plan(["a", "b"]))
    assert {r.name: r.status for r in report.results} == {"a": "updated", "b": "updated"}
    assert len(host.engine.api.called("pull")) == 1  # one digest: pulled once for both
    assert host.image_of("a") == host.image_of("b") == host.new_image


async def test_plan_order_independent_containers_are_stopped_at_once() -> None:
    """Two containers that do not depend on each other stop together: two that each take
    their stop timeout cost one timeout, not two. Their dependent still stops first."""
    host = Host()
    host.run("a")
    host.run("b")
    host.run("front", depends="a")
    both = threading.Barrier(2, timeout=5)  # broken unless a's and b's stops overlap
    real_stop = host.engine.api.stop

    def stop(container: str, **kwargs: Any) -> Any:
        if container in (host.id_of("a"), host.id_of("b")):
            both.wait()
        return real_stop(container, **kwargs)

    host.engine.api.stop = stop  # type: ignore[method-assign,assignment]
    host.start_events()
    report = await host.execute(host.plan(["a", "b"], ["front"]))
    assert {r.name: r.status for r in report.results if r.name != "front"} == {
        "a": "updated",
        "b": "updated",
    }, report
    stops = [name for _, name in host.actions("stop")]
    assert stops[0] == "front" and sorted(stops[1:3]) == ["a", "b"], stops


# ---- rollback ----------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["create", "start", "health"])
async def test_rollback_puts_the_old_container_back_under_its_name_running(failing: str) -> None:
    host = Host(HEALTHCHECK if failing == "health" else None)
    db_id = host.run("db")
    api_id = host.run("api", depends="db")
    if failing == "create":
        host.engine.api.fail("create_container_from_config")
    elif failing == "start":
        host.engine.api.fail("start", when=lambda container: container != db_id)
    else:
        host.engine.api.health["db"] = "unhealthy"
    report = await host.execute(host.plan(["db"], ["api"]), health_timeout=5)
    result = by_name(report)["db"]
    assert result.status == "rolled_back", result
    assert (host.id_of("db"), host.image_of("db")) == (db_id, host.old_image)
    # Its dependent runs again too, and nothing is left renamed aside or half-made.
    assert host.engine.names() == {"db": True, "api": True}
    assert host.id_of("api") == api_id
    assert await host.journal() == {}
    assert report.problems == ()  # the engine answers: nothing for recovery to do


# ---- a plan delivered again -------------------------------------------------------------


@pytest.mark.parametrize("restarted", [False, True], ids=["same-executor", "restarted-executor"])
async def test_a_plan_delivered_again_after_its_report_is_not_run_again(restarted: bool) -> None:
    """JetStream delivers a plan again when its ack is lost after the report went out (a NATS
    restart mid-plan: chaos seed 146). Run again, it stopped the dependents a second time and
    retried the update it had rolled back, and its report was dropped as a duplicate."""
    host = Host(HEALTHCHECK)
    db_id = host.run("db")
    api_id = host.run("api", depends="db")
    host.engine.api.health["db"] = "unhealthy"
    plan = host.plan(["db"], ["api"])
    first = by_name(await host.execute(plan, health_timeout=5))
    assert first["db"].status == "rolled_back", first["db"]
    host.start_events()
    if restarted:  # the list of reported plans is in the journal, not only in memory
        await host.executor(health_timeout=5).start()
    await host.deliver(plan)
    assert [e["Action"] for e in host.engine.api.event_log] == []
    assert (host.id_of("db"), host.id_of("api")) == (db_id, api_id)
    assert host.engine.names() == {"db": True, "api": True}
    kv = await host.bus.key_value("JOURNAL")
    kept = msgspec.json.decode((await kv.get(reported_plans_key("h1"))).value or b"")
    assert kept == [plan.plan_id]


async def test_a_plan_without_actions_is_not_recorded_and_an_unreadable_record_is_ignored() -> None:
    host = Host()
    host.run("web")
    kv = await host.bus.key_value("JOURNAL")
    await kv.put(reported_plans_key("h1"), b"not json")
    executor = host.executor()
    await executor.start()  # an unreadable list: warned of, taken as empty
    assert executor.reported == []
    await host.deliver(host.plan([], ["web"]))
    assert executor.reported == []  # nothing it could do twice: no write per quiet cycle
    plan = host.plan(["web"])
    await host.deliver(plan)
    assert executor.reported == [plan.plan_id]


# ---- recovery after a crash --------------------------------------------------------------


# The engine call the executor dies right after -> whether the update is then finished
# (True) or rolled back (False) by the next executor.
CRASH_POINTS = {
    "stop": False,  # stopped under its name: started again
    "rename": False,  # renamed aside, no new one: renamed back, started
    "create_container_from_config": False,  # the new one made, never started: removed
    "start": True,  # the new one runs (no healthcheck): the update is finished
    "remove_container": True,  # the old one removed already: finished
}


def _crash_when(method: str, old_id: str) -> Callable[..., bool]:
    """Which call of `method` the executor dies after: the new container's start, the old
    one's removal; any other call's first."""
    if method == "start":
        return lambda container, *args, **kwargs: container != old_id
    if method == "remove_container":
        return lambda container, *args, **kwargs: container == old_id
    return lambda *args, **kwargs: True


@pytest.mark.parametrize("method", list(CRASH_POINTS))
async def test_recovery_after_a_crash_right_after_each_engine_call(method: str) -> None:
    host = Host()
    old_id = host.run("web")
    plan = host.plan(["web"])
    crash_after(host.engine, method, _crash_when(method, old_id))
    dead = host.executor()
    await dead.start()
    with pytest.raises(Crash):
        await dead.execute(plan)
    journalled = await host.journal()
    assert [e.name for e in journalled.values()] == ["web"]  # the dead executor's entry

    successor = host.executor()
    await successor.start()  # recovers before it takes a plan
    assert host.engine.names() == {"web": True}  # one container, under its name, running
    assert not any(ASIDE_MARKER in n for n in host.engine.names())
    after = await host.journal()
    if CRASH_POINTS[method]:
        assert host.image_of("web") == host.new_image
        labels_now = host.engine.api.inspect_container("web")["Config"]["Labels"]
        assert labels_now[REPLACES_LABEL] == old_id
        # Finished, not reported: kept as done until the plan, delivered again, reports it.
        assert [(e.step, e.new_id) for e in after.values()] == [("done", host.id_of("web"))]
        new_id = host.id_of("web")
        again = by_name(await host.deliver(plan))["web"]
        assert (again.status, again.new_container_id) == ("updated", new_id)
    else:
        assert host.id_of("web") == old_id and host.image_of("web") == host.old_image
        assert after == {}
        again = by_name(await host.deliver(plan))["web"]  # and the update goes ahead
        assert again.status == "updated", again
        assert host.image_of("web") == host.new_image
    assert host.engine.names() == {"web": True}
    assert await host.journal() == {}  # reported: nothing left to say of it


async def test_recovery_leaves_what_another_host_s_executor_journals() -> None:
    host = Host()
    old_id = host.run("web")
    crash_after(host.engine, "rename", lambda *a, **k: True)
    dead = host.executor()
    await dead.start()
    with pytest.raises(Crash):
        await dead.execute(host.plan(["web"]))
    # The entry is another host's (an executor sharing this engine, e.g. watchtower scopes).
    kv = await host.bus.key_value("JOURNAL")
    (key, raw) = next(iter((await kv.entries()).items()))
    await kv.delete(key)
    await kv.put(f"h2.{key.split('.', 1)[1]}", raw)
    successor = host.executor()
    await successor.start()  # recovers (and leaves it)
    done = await successor.recover()  # what it says of it, again
    assert done and "left alone" in done[0] and "h2" in done[0]
    aside = [n for n in host.engine.names() if ASIDE_MARKER in n]
    assert len(aside) == 1 and host.id_of(aside[0]) == old_id  # untouched


# ---- the engine lost mid-plan ------------------------------------------------------------


async def test_engine_lost_mid_plan_is_reported_and_recovered_once_it_is_back() -> None:
    host = Host()
    a_id = host.run("a")
    b_id = host.run("b")

    def lose_at_b(config: Any, name: str | None = None) -> bool:
        if name == "b":
            host.engine.lose()
        return False

    host.engine.api.fail("create_container_from_config", when=lose_at_b)
    executor = host.executor()
    await executor.start()
    report = await host.deliver(host.plan(["a", "b"]))
    results = by_name(report)
    assert results["a"].status == "updated", results["a"]
    assert results["b"].status == "failed"
    assert any("cannot reach the Docker engine" in p for p in report.problems)
    assert executor.engine_lost

    host.engine.come_back()
    # b was stopped and renamed aside when the engine went: the next plan recovers it first.
    assert any(ASIDE_MARKER in n for n in host.engine.names())
    again = await host.deliver(host.plan([], ["a", "b"]))
    assert not executor.engine_lost and again.problems == ()
    assert host.engine.names() == {"a": True, "b": True}
    assert host.id_of("a") != a_id and host.image_of("a") == host.new_image
    assert host.id_of("b") == b_id and host.image_of("b") == host.old_image
    assert await host.journal() == {}


async def test_engine_lost_before_the_plan_fails_each_action_and_touches_nothing() -> None:
    host = Host()
    a_id = host.run("a")
    executor = host.executor()
    await executor.start()
    plan = host.plan(["a"])
    host.engine.lose()
    report = await host.deliver(plan)
    assert [(r.name, r.status) for r in report.results] == [("a", "failed")]
    assert "cannot reach the Docker engine" in report.results[0].error
    host.engine.come_back()
    assert host.engine.names() == {"a": True} and host.id_of("a") == a_id
