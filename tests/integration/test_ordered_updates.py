"""The executor on a real engine: dependency order read back from the engine's own events,
dependents restarted, cycles left alone, lifecycle hooks at their moments."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from vigil_executor.service import Executor, ExecutorConfig
from vigil_shared import labels
from vigil_shared.bus import Bus
from vigil_shared.contracts import ContainerResult, Plan, ProgressEvent, Report, UpdateAction
from vigil_shared.telemetry import Telemetry

pytestmark = pytest.mark.integration


class Host:
    """Containers on the engine, and plans for them as the scanner would make them."""

    def __init__(self, client: Any, registry: RegistryServer, names: Callable[[str], str]):
        self.client = client
        self.names = names
        self.stale_tag = f"{registry.host}/{names('app')}:latest"
        build_test_image(client, self.stale_tag, marker="v1")
        push_image(client, self.stale_tag)
        self.current_tag = f"{names('steady')}:latest"
        build_test_image(client, self.current_tag, marker="steady")
        self.containers: dict[str, str] = {}  # short name -> real name

    def run(self, short: str, *, stale: bool, depends: str = "", **kw: Any) -> str:
        name = self.names(short)
        extra = dict(kw.pop("labels", {}))
        if depends:
            extra[labels.DEPENDS_ON] = ",".join(self.containers[d] for d in depends.split(","))
        tag = self.stale_tag if stale else self.current_tag
        self.client.containers.run(tag, name=name, detach=True, labels=extra, **kw)
        self.containers[short] = name
        return name

    def publish_new_build(self) -> None:
        build_test_image(self.client, self.stale_tag, marker="v2")
        push_image(self.client, self.stale_tag)
        self.client.api.remove_image(self.stale_tag)

    def plan(self, stale: list[str], current: list[str]) -> Plan:
        def inspect(short: str) -> dict[str, Any]:
            data: dict[str, Any] = self.client.api.inspect_container(self.containers[short])
            return data

        actions = tuple(
            UpdateAction(
                container_id=inspect(s)["Id"],
                container_name=self.containers[s],
                image=self.stale_tag,
                old_image_id=inspect(s)["Image"],
            )
            for s in stale
        )
        settled = tuple(
            ContainerResult(
                name=self.containers[s],
                container_id=inspect(s)["Id"],
                image=self.current_tag,
                status="fresh",
            )
            for s in current
        )
        return Plan(
            plan_id=uuid.uuid4().hex,
            scan_id=uuid.uuid4().hex,
            host="h1",
            created_at=time.time(),
            actions=actions,
            settled=settled,
        )

    def events(self, since: float, until: float, action: str) -> list[str]:
        """Container names in the order the engine reports `action` for them."""
        ours = set(self.containers.values())
        found = []
        # Podman 4.3 answers nothing when `until` has passed: ask up to now, keep to `until`.
        asked = max(int(until), int(time.time())) + 1
        for event in self.client.api.events(
            since=int(since), until=asked, decode=True, filters={"type": "container"}
        ):
            name = event.get("Actor", {}).get("Attributes", {}).get("name", "")
            late = int(event.get("time") or 0) > int(until) + 1
            if event.get("status") == action and name in ours and not late:
                found.append(name)
        return found


def next_second() -> float:
    """Wait for the next whole second: engine events are filtered by whole seconds, and the
    set-up's own starts must fall before it."""
    now = time.time()
    time.sleep(int(now) + 1 - now)
    return float(int(now) + 1)


@pytest.fixture
def host(docker_client: Any, registry: RegistryServer, names: Callable[[str], str]) -> Host:
    return Host(docker_client, registry, names)


async def execute(bus: Bus, client: Any, plan: Plan, **config: Any) -> Report:
    executor = Executor(bus, client, ExecutorConfig(host_id="h1", **config), Telemetry.disabled())
    await executor.start()  # the journal, and recovery of anything unfinished
    return await executor.execute(plan)


def by_name(report: Report) -> dict[str, ContainerResult]:
    return {r.name: r for r in report.results}


@pytest.mark.both_engines
async def test_a_chain_stops_dependents_first_and_starts_them_after(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    db = host.run("db", stale=True)
    api = host.run("api", stale=False, depends="db")
    web = host.run("web", stale=False, depends="api")
    web_id = docker_client.api.inspect_container(web)["Id"]
    host.publish_new_build()
    plan = host.plan(["db"], ["api", "web"])
    since = next_second()
    report = await execute(bus, docker_client, plan)
    until = time.time()

    results = by_name(report)
    assert results[db].status == "updated", results[db].error
    assert results[api].status == "fresh" and any(
        "restarted after" in n for n in results[api].notes
    )
    assert host.events(since, until, "die") == [web, api, db]
    assert host.events(since, until, "start") == [db, api, web]
    # The dependents were restarted, not recreated.
    assert docker_client.api.inspect_container(web)["Id"] == web_id
    for name in (db, api, web):
        assert docker_client.api.inspect_container(name)["State"]["Running"]


async def test_a_diamond_in_order_and_rolling(bus: Bus, host: Host, docker_client: Any) -> None:
    base = host.run("base", stale=True)
    left = host.run("left", stale=False, depends="base")
    right = host.run("right", stale=False, depends="base")
    top = host.run("top", stale=False, depends="left,right")
    host.publish_new_build()
    plan = host.plan(["base"], ["left", "right", "top"])
    since = next_second()
    report = await execute(bus, docker_client, plan, rolling_restart=True)
    until = time.time()
    assert by_name(report)[base].status == "updated"
    starts = host.events(since, until, "start")
    assert starts[0] == base and starts[-1] == top and set(starts[1:3]) == {left, right}
    # Rolling: each container stops and starts before the next one stops.
    sequence = [
        (e["status"], e["Actor"]["Attributes"]["name"])
        for e in docker_client.api.events(
            since=int(since), until=int(until) + 1, decode=True, filters={"type": "container"}
        )
        if e.get("status") in ("die", "start")
        and e["Actor"]["Attributes"]["name"] in {base, left, right, top}
    ]
    for i in range(0, len(sequence), 2):
        assert sequence[i][0] == "die" and sequence[i + 1] == ("start", sequence[i][1])


@pytest.mark.both_engines
async def test_a_dependency_cycle_is_reported_and_left_alone(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    x = host.run("x", stale=True)
    y = host.run("y", stale=False, depends="x")
    # x must name y too: run it again under its name, now with the label.
    docker_client.api.remove_container(x, force=True)
    docker_client.containers.run(host.stale_tag, name=x, detach=True, labels={labels.DEPENDS_ON: y})
    x_id = docker_client.api.inspect_container(x)["Id"]
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["x"], ["y"]))
    result = by_name(report)[x]
    assert result.status == "failed"
    assert "dependency cycle" in result.error and x in result.error and y in result.error
    assert docker_client.api.inspect_container(x)["Id"] == x_id


def hook_labels(log_dir: str, pre_update: str = "") -> dict[str, str]:
    out = {labels.hook_label(phase): f"echo {phase} >> /hooks/log" for phase in labels.HOOK_PHASES}
    if pre_update:
        out[labels.hook_label("pre-update")] = pre_update
    return out


async def test_hooks_run_at_their_moments(
    bus: Bus, host: Host, docker_client: Any, tmp_path: Path
) -> None:
    web = host.run(
        "web",
        stale=True,
        labels=hook_labels(str(tmp_path)),
        volumes={str(tmp_path): {"bind": "/hooks", "mode": "rw"}},
    )
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["web"], []), lifecycle_hooks=True)
    assert by_name(report)[web].status == "updated", by_name(report)[web].error
    assert (tmp_path / "log").read_text().split() == [
        "pre-check", "pre-update", "post-update", "post-check",
    ]  # fmt: skip


async def test_hooks_do_not_run_unless_enabled(
    bus: Bus, host: Host, docker_client: Any, tmp_path: Path
) -> None:
    web = host.run(
        "web",
        stale=True,
        labels=hook_labels(str(tmp_path)),
        volumes={str(tmp_path): {"bind": "/hooks", "mode": "rw"}},
    )
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["web"], []))
    assert by_name(report)[web].status == "updated"
    assert not (tmp_path / "log").exists()


@pytest.mark.parametrize(
    ("pre_update", "status", "error"),
    [
        ("exit 75", "skipped", "asked to skip this update (exit 75)"),
        ("echo disk full; exit 1", "failed", "pre-update hook exited 1: disk full"),
        ("sleep 300", "failed", "pre-update hook timed out and was killed"),
    ],
)
async def test_pre_update_hook_decides(
    bus: Bus,
    host: Host,
    docker_client: Any,
    tmp_path: Path,
    pre_update: str,
    status: str,
    error: str,
) -> None:
    hooks = hook_labels(str(tmp_path), pre_update=pre_update)
    hooks[labels.hook_timeout_label("pre-update")] = "0.03"  # minutes: 1.8 s
    web = host.run(
        "web", stale=True, labels=hooks, volumes={str(tmp_path): {"bind": "/hooks", "mode": "rw"}}
    )
    old_id = docker_client.api.inspect_container(web)["Id"]
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["web"], []), lifecycle_hooks=True)
    result = by_name(report)[web]
    assert result.status == status
    assert error in result.error
    assert docker_client.api.inspect_container(web)["Id"] == old_id  # untouched
    assert docker_client.api.inspect_container(web)["State"]["Running"]


@pytest.mark.both_engines
async def test_monitor_only_label_reports_and_changes_nothing(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    web = host.run("web", stale=True, labels={labels.MONITOR_ONLY: "true"})
    old_id = docker_client.api.inspect_container(web)["Id"]
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["web"], []))
    assert by_name(report)[web].status == "skipped"
    assert "monitor only" in by_name(report)[web].error
    assert docker_client.api.inspect_container(web)["Id"] == old_id


@pytest.mark.both_engines
async def test_self_update_hands_over_to_the_new_instance(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    vigil = host.run("vigil", stale=True, labels={labels.SELF: "true"})
    old_id = docker_client.api.inspect_container(vigil)["Id"]
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["vigil"], []))
    result = by_name(report)[vigil]
    assert result.status == "updated", result.error
    assert any("self-update" in n for n in result.notes)
    # The old instance was never stopped: it runs beside its successor, renamed aside.
    old = docker_client.api.inspect_container(old_id)
    assert old["State"]["Running"] and old["Name"].lstrip("/").startswith(f"{vigil}-vigil-old-")
    new = docker_client.api.inspect_container(vigil)
    assert new["State"]["Running"] and new["Id"] == result.new_container_id

    # The new instance starts: its executor finishes the hand-over.
    successor = Executor(bus, docker_client, ExecutorConfig(host_id="h1"), Telemetry.disabled())
    await successor.start()
    remaining = [c.name for c in docker_client.containers.list(all=True) if vigil in c.name]
    assert remaining == [vigil]


@pytest.mark.both_engines
async def test_no_restart_pulls_and_recreates_nothing(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    web = host.run("web", stale=True)
    old_id = docker_client.api.inspect_container(web)["Id"]
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["web"], []), no_restart=True)
    result = by_name(report)[web]
    assert result.status == "skipped" and "--no-restart" in result.error
    assert docker_client.api.inspect_container(web)["Id"] == old_id
    assert docker_client.api.inspect_image(host.stale_tag)["Id"] == result.new_image_id


@pytest.mark.parametrize("revive", [False, True])
async def test_a_stopped_container_is_started_only_with_revive_stopped(
    bus: Bus, host: Host, docker_client: Any, revive: bool
) -> None:
    web = host.run("web", stale=True)
    docker_client.api.stop(web, timeout=5)
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["web"], []), revive_stopped=revive)
    assert by_name(report)[web].status == "updated"
    assert docker_client.api.inspect_container(web)["State"]["Running"] is revive


@pytest.mark.both_engines
@pytest.mark.parametrize("remove_volumes", [False, True])
async def test_anonymous_volumes_follow_or_go_with_remove_volumes(
    bus: Bus, host: Host, docker_client: Any, remove_volumes: bool
) -> None:
    web = host.run("web", stale=True, volumes=["/data"])
    old_volume = next(
        m["Name"] for m in docker_client.api.inspect_container(web)["Mounts"]
        if m["Destination"] == "/data"
    )  # fmt: skip
    host.publish_new_build()
    report = await execute(
        bus, docker_client, host.plan(["web"], []), remove_volumes=remove_volumes
    )
    assert by_name(report)[web].status == "updated", by_name(report)[web].error
    new_volume = next(
        m["Name"] for m in docker_client.api.inspect_container(web)["Mounts"]
        if m["Destination"] == "/data"
    )  # fmt: skip
    volumes = {v.name for v in docker_client.volumes.list()}
    if remove_volumes:
        assert new_volume != old_volume and old_volume not in volumes
    else:
        assert new_volume == old_volume
    docker_client.api.remove_container(web, force=True, v=True)
    # docker-py gives `volumes=["/data"]` as a bind without source: that volume is bound by
    # name after the update (docs/updates.md#anonymous-volumes), and `rm -v` keeps it.
    if new_volume in {v.name for v in docker_client.volumes.list()}:
        docker_client.api.remove_volume(new_volume)


async def test_progress_counters_follow_the_update_order(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    """`[i/N]` counts the containers in the order they are updated (what is depended on
    first), whatever the order of the plan's actions: the log reads 1/3, 2/3, 3/3."""
    db = host.run("db", stale=True)
    api = host.run("api", stale=True, depends="db")
    web = host.run("web", stale=True, depends="api")
    host.publish_new_build()
    plan = host.plan(["web", "api", "db"], [])  # the plan lists them the other way round
    events: list[ProgressEvent] = []

    async def on_progress(event: ProgressEvent, headers: dict[str, str]) -> None:
        events.append(event)

    await bus.subscribe(bus.subjects.progress("h1"), ProgressEvent, on_progress)
    report = await execute(bus, docker_client, plan)
    assert all(r.status == "updated" for r in report.results), report.results
    deadline = time.monotonic() + 10
    while sum(e.phase == "done" for e in events) < 3:
        assert time.monotonic() < deadline, [(e.container, e.phase) for e in events]
        await asyncio.sleep(0.05)
    # One image: pulled once, for the first container updated.
    assert [(e.index, e.container) for e in events if e.phase == "pulling"] == [(1, db)]
    for phase in ("creating", "done"):
        seen = [(e.index, e.container) for e in events if e.phase == phase]
        assert seen == [(1, db), (2, api), (3, web)], (phase, seen)
    assert {e.total for e in events} == {3}
