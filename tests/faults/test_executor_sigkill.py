"""The executor SIGKILLed at each step of an update, then started again: every time the
container ends up running under its name, on its old or its new image, with nothing left
behind. A real engine, registry, NATS and `vigil executor` processes.

Each step is run twice: over a plain NATS, and over the fleet's secured NATS as deploy/nats
configures it (TLS, the executor logged in as its host's user with only its permissions,
JetStream with `sync_interval: always`), where the journal and the redelivered plan must
work within those permissions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_stops import engine_began_stop, stop_under_way
from tests.support.executor_faults import (
    ExecutorProcess,
    Nats,
    PlanWatch,
    container_names,
    journal_keys,
    nats_run,
    stale_app,
    started,
)
from tests.support.registry_fixtures import RegistryServer
from tests.support.secured_nats import SPY, SecuredNats
from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.bus import BusConfig
from vigil_shared.contracts.journal import ASIDE_MARKER

pytestmark = pytest.mark.integration

# Slow enough to be killed in the middle of: stopping takes 1 s (TERM is answered 1 s late,
# always: the loop waits on a background sleep, so the trap runs at once, where a foreground
# `sleep 1` made it 1-2 s more at random), and the new container reports healthy only at the
# engine's second check, about 2 s after its start. The test kills within milliseconds of a
# step's progress event, well inside those windows.
# (An ENTRYPOINT: the test image's own CMD comes after these lines and would win.)
HOOK_LABEL = "com.centurylinklabs.watchtower.lifecycle"
HOOKS = ("--plan-ack-wait", "2", "--stop-timeout", "5", "--enable-lifecycle-hooks")
SLOW = (
    'HEALTHCHECK --interval=1s --timeout=1s --retries=5 CMD ["test", "-f", "/ready"]\n'
    'ENTRYPOINT ["/bin/sh", "-c", "trap \'sleep 1; exit 0\' TERM; '
    '(sleep 1.2; touch /ready) & while true; do sleep 1 & wait; done"]\n'
)
PHASES = ["stopping", "creating", "starting", "health-check", "removing-old"]
# Podman: three steps of five, each recovery's own outcome there: killed as the stop begins,
# during the health check (the old container aside and stopped, the new one created and
# started, its health run by Vigil itself: rolled back), and while removing the old one
# (finished). `creating` and `starting` pass on Podman too (the health check's roll-back).
PODMAN_ROWS = [("podman", "plain", p) for p in ("stopping", "health-check", "removing-old")]


@pytest.fixture(params=["plain", "secured"])
async def run_nats(
    request: pytest.FixtureRequest, tmp_path: Path, fault_host: str
) -> AsyncIterator[Nats]:
    if request.param == "plain":
        server: EmbeddedNats = request.getfixturevalue("nats_server")
        config = BusConfig(url=server.url, connect_timeout=2)
        async with nats_run(config, fault_host, ["--nats-url", server.url]) as run:
            yield run
        return
    # deploy/nats/fleet.conf with this host's users; the test is the all-seeing `spy`.
    secured = SecuredNats(tmp_path / "secured-nats", hosts=(fault_host,))
    secured.start()
    config = BusConfig(
        url=secured.url,
        user=SPY,
        password=secured.passwords[SPY],
        tls_ca=str(secured.ca.path),
        connect_timeout=2,
    )
    try:
        # VIGIL_NATS_URL, _USER, _PASSWORD, _TLS_CA
        async with nats_run(config, fault_host, env=secured.env(f"executor-{fault_host}")) as run:
            yield run
    finally:
        secured.stop()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("engine_kind", "run_nats", "phase"),
    [*(("docker", bus, p) for bus in ("plain", "secured") for p in PHASES), *PODMAN_ROWS],
    indirect=["engine_kind", "run_nats"],
)
async def test_killed_at_a_step_nothing_is_lost(
    engine_kind: str,
    phase: str,
    run_nats: Nats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    name = names(f"web-{phase}")
    app = stale_app(docker_client, f"{registry.host}/{names('app')}:latest", SLOW, {name: {}})
    watch = await PlanWatch(run_nats).start()
    plan = watch.plan(docker_client, app.tag, [name])
    first = await started(run_nats, executors, tmp_path / "executor-1.log")
    await watch.publish(plan)
    await watch.until_phase(name, phase)  # kill it the moment it takes the step
    first.kill()
    await first.wait()

    second = await started(run_nats, executors, tmp_path / "executor-2.log", first=False)
    report = await watch.report(plan.plan_id, tmp_path / "executor-2.log", timeout=60)
    await second.stop()

    result = report.results[0]
    after = docker_client.api.inspect_container(name)
    assert after["State"]["Running"], f"killed at {phase}: {result}"
    assert after["Image"] in (app.old_image, app.new_image), f"killed at {phase}"
    left = [n for n in container_names(docker_client) if n.startswith(name) and n != name]
    assert left == [], f"killed at {phase}: left behind {left}"
    assert not [c for c in left if ASIDE_MARKER in c]
    assert result.status in ("updated", "fresh", "rolled_back"), (phase, result)
    # The second executor finished or undid the update from its journal: nothing is left in
    # it, so no later executor of this host would act on it again.
    keys = await journal_keys(run_nats.bus, run_nats.host)
    assert keys == [], f"killed at {phase}: journal still holds {keys}"


# Ignores SIGTERM altogether: only the engine's SIGKILL at the end of the stop timeout ends it.
DEAF = 'ENTRYPOINT ["/bin/sh", "-c", "trap \'\' TERM; while true; do sleep 1; done"]\n'


@pytest.mark.timeout(180)
@pytest.mark.parametrize("engine_kind", ["docker", "podman"], indirect=True)
async def test_killed_while_the_engine_stops_it_the_container_runs_again(
    engine_kind: str,
    plain_nats: Nats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """The executor SIGKILLed while the engine is stopping a container that ignores SIGTERM
    (the engine's stop goes on without it, and kills the container at the stop timeout), and
    started again at once: its recovery must wait for that stop and start the container
    again, and the redelivered plan must update it and start what it creates. The report
    says `updated` only of a container that runs on the new build."""
    name = names("deaf")
    app = stale_app(docker_client, f"{registry.host}/{names('deaf')}:latest", DEAF, {name: {}})
    watch = await PlanWatch(plain_nats).start()
    plan = watch.plan(docker_client, app.tag, [name])
    old_id = plan.actions[0].container_id
    # The stop takes 5 s (SIGTERM is ignored), so the new executor's recovery (its process is
    # up within 2 s of the kill, usually 0.5 s) runs while the engine still stops the
    # container; the plan comes again only after 8 s, 3 s after that stop is over: had the
    # recovery not waited for the stop, the plan would find the container stopped.
    timing = ("--plan-ack-wait", "8", "--stop-timeout", "5")
    first = await started(plain_nats, executors, tmp_path / "executor-1.log", timing)
    asked = time.time() - 1
    await watch.publish(plan)
    await watch.until_phase(name, "stopping")
    deadline = time.monotonic() + 30
    while not await asyncio.to_thread(engine_began_stop, docker_client, old_id, asked):
        assert time.monotonic() < deadline, "the engine never began to stop the container"
        await asyncio.sleep(0.1)
    first.kill()
    await first.wait()
    assert stop_under_way(docker_client.api.inspect_container(name)["State"]), (
        "the stop ended before the executor was started again: the test proves nothing"
    )
    log = tmp_path / "executor-2.log"
    second = await started(plain_nats, executors, log, timing, first=False)
    report = await watch.report(plan.plan_id, log)
    await second.stop()

    result = report.results[0]
    after = docker_client.api.inspect_container(name)
    assert after["State"]["Running"], (
        f"left {after['State']['Status']} after a kill mid-stop; the report said {result}"
    )
    assert result.status == "updated", result
    assert after["Image"] == app.new_image, "reported updated, yet not on the new build"
    assert after["Id"] == result.new_container_id
    # The recovery itself waited for the stop and started the container again (on Podman it
    # did not wait, and its start failed: "must be in Created or Stopped state"; only the
    # plan delivered again made it run).
    text = log.read_text()
    assert "waiting for a stop the engine is carrying out" in text, text
    assert "stopped for an update that never went further: started again" in text, text


@pytest.mark.timeout(180)
@pytest.mark.parametrize("phase", ["removing-old", "hook:post-update"])
async def test_a_recovered_update_is_reported_updated_once(
    phase: str,
    plain_nats: Nats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """Two plans for one transition (the next cycle planned it again before the first plan's
    report was out), the executor SIGKILLed near the end of the first: the first plan,
    delivered again, and the second together say `updated` exactly once; the other says up
    to date (it was reported twice, the second time `in 0.0s`).

    The kill must land before the first report is out. Killing on the `done` line raced the
    report (a few milliseconds behind it; CI lost that race once), so a post-update hook that
    sleeps its first time holds the executor after the journal says `done` and before it
    reports: `hook:post-update` is that window, deterministically."""
    name = names("web")
    # Sleeps only its first time: the recovered run's hook (same container) is instant.
    hold = "test -e /tmp/held || { touch /tmp/held; sleep 60; }"
    run = {"labels": {f"{HOOK_LABEL}.post-update": hold}}
    app = stale_app(docker_client, f"{registry.host}/{names('app')}:latest", SLOW, {name: run})
    watch = await PlanWatch(plain_nats).start()
    plans = [watch.plan(docker_client, app.tag, [name]) for _ in range(2)]
    first = await started(plain_nats, executors, tmp_path / "executor-1.log", HOOKS)
    for plan in plans:
        await watch.publish(plan)
    await watch.until_phase(name, phase)
    first.kill()
    await first.wait()
    assert not watch.reports, "killed too late: the first report was out"
    log = tmp_path / "executor-2.log"
    second = await started(plain_nats, executors, log, HOOKS, first=False)
    for plan in plans:
        await watch.report(plan.plan_id, log)
    await second.stop()

    statuses = [watch.reports[p.plan_id].results[0].status for p in plans]
    assert statuses == ["updated", "fresh"], [watch.reports[p.plan_id].results for p in plans]
    after = docker_client.api.inspect_container(name)
    assert after["Image"] == app.new_image and after["State"]["Running"]
    keys = await journal_keys(plain_nats.bus, plain_nats.host)
    assert keys == [], f"the journal still holds {keys}"


@pytest.mark.timeout(150)
@pytest.mark.parametrize("phase", ["stopping", "creating", "starting", "health-check"])
async def test_killed_while_replacing_a_namespace_parent_both_run_tied(
    phase: str,
    plain_nats: Nats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """A container run with `--network container:web` (named to sort before web, as the
    chaos soak's `side` does) and the executor SIGKILLed at a step of web's update, after
    the plan stopped both: once started again, both run, the tied one in the network
    namespace of the container now named web (chaos seed 7: the executor restarted the tied
    one first, while web was still stopped or renamed aside: "cannot join network of a non
    running container", and it was left exited)."""
    web = names("web")
    side = names("a-side")  # sorts before web
    assert side < web
    containers = {web: {}, side: {"network_mode": f"container:{web}"}}
    tag = f"{registry.host}/{names('app')}:latest"
    stale_app(docker_client, tag, SLOW, containers, keep_new=True)
    watch = await PlanWatch(plain_nats).start()
    plan = watch.plan(docker_client, tag, [web], settled=[side])
    first = await started(plain_nats, executors, tmp_path / "executor-1.log")
    await watch.publish(plan)
    await watch.until_phase(web, phase)  # kill it the moment it takes web's step
    first.kill()
    await first.wait()

    second = await started(plain_nats, executors, tmp_path / "executor-2.log", first=False)
    await watch.report(plan.plan_id, tmp_path / "executor-2.log")
    await second.stop()
    log = (tmp_path / "executor-2.log").read_text()[-3000:]

    now_web = docker_client.api.inspect_container(web)
    now_side = docker_client.api.inspect_container(side)
    assert now_web["State"]["Running"], f"killed at {phase}: web is not running: {log}"
    assert now_side["State"]["Running"], f"killed at {phase}: side is not running: {log}"
    assert now_side["HostConfig"]["NetworkMode"] == f"container:{now_web['Id']}", (
        f"killed at {phase}: side is not in the namespace of the web now running"
    )
    left = [
        n
        for n in container_names(docker_client)
        if ASIDE_MARKER in n and (n.startswith(web) or n.startswith(side))
    ]
    assert left == [], f"killed at {phase}: left behind {left}"
    keys = await journal_keys(plain_nats.bus, plain_nats.host)
    assert keys == [], f"killed at {phase}: journal not empty"


UNHEALTHY = 'HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD ["false"]\n'
DEPENDS_LABEL = "com.centurylinklabs.watchtower.depends-on"


async def acknowledged_past(run_nats: Nats, seq: int, log: Path, timeout: float = 60) -> None:
    """The host's executor has acknowledged a plan stored after stream sequence `seq`."""
    bus, deadline = run_nats.bus, time.monotonic() + timeout
    while True:
        info = await bus.js.consumer_info(bus.subjects.stream_name, f"executor-{run_nats.host}")
        if info.ack_floor.stream_seq > seq and not info.num_ack_pending:
            return
        assert time.monotonic() < deadline, "the copy was never acknowledged: " + log.read_text()
        await asyncio.sleep(0.2)


@pytest.mark.timeout(120)
async def test_a_plan_delivered_again_after_its_report_is_not_run_again(
    run_nats: Nats,
    executors: list[ExecutorProcess],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """JetStream delivers a plan again when its ack is lost after the report went out (a
    NATS restart mid-plan: chaos seed 146). Run again, the plan stopped the dependents a
    second time and retried the update it had rolled back, with that run's report dropped
    as a duplicate. Here the copy comes to a restarted executor: the list of reported plans
    is in the journal, within the executor's permissions on the secured NATS."""
    web, dep = names("web"), names("dep")
    tag = f"{registry.host}/{names('app')}:latest"
    run = {web: {}, dep: {"labels": {DEPENDS_LABEL: web}}}
    stale_app(docker_client, tag, "", run, new_extra=UNHEALTHY)  # v2 never turns healthy
    watch = await PlanWatch(run_nats).start()
    plan = watch.plan(docker_client, tag, [web], settled=[dep])
    first = await started(run_nats, executors, tmp_path / "executor-1.log")
    await watch.publish(plan)
    report = await watch.report(plan.plan_id, tmp_path / "executor-1.log")
    assert [r.status for r in report.results if r.name == web] == ["rolled_back"], report
    first.kill()
    await first.wait()
    before = {n: docker_client.api.inspect_container(n) for n in (web, dep)}

    log = tmp_path / "executor-2.log"
    await started(run_nats, executors, log, first=False)
    while not watch.seen.empty():  # the first run's progress
        watch.seen.get_nowait()
    # The same plan again, as JetStream delivers it when the ack was lost.
    bus = run_nats.bus
    info = await bus.js.consumer_info(bus.subjects.stream_name, f"executor-{run_nats.host}")
    await bus.publish_event(bus.subjects.plan(run_nats.host), plan, msg_id=f"{plan.plan_id}-x")
    await acknowledged_past(run_nats, info.delivered.stream_seq, log)

    after = {n: docker_client.api.inspect_container(n) for n in (web, dep)}
    for n in (web, dep):  # neither stopped nor replaced: the same container, the same start
        assert after[n]["Id"] == before[n]["Id"], n
        assert after[n]["State"]["StartedAt"] == before[n]["State"]["StartedAt"], n
        assert after[n]["State"]["Running"], n
    assert watch.seen.empty(), f"the copy was run: {watch.seen.get_nowait()}"
    assert "plan delivered again after its report: not run again" in log.read_text()
