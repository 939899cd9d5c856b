"""The `vigil` process as a user runs it: bad numbers refused at once, one Vigil per state
directory (the tools still reach the running one), and SIGTERM at any moment leaving no child
process behind (its nats-server, a lifecycle hook in its container). Real engine, registry,
NATS and processes; what is left is read from /proc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_stops import engine_began_stop
from tests.support.fleet import Fleet, fleet
from tests.support.images import StaleContainer, build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.registry_proxy import RegistryProxy
from tests.support.vigil_process import VigilProcess, clean_env, run_vigil
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
__all__ = ["fleet"]

HOST = "e2e-life"


def pids_with(*needles: str, cgroup: str = "") -> list[int]:
    """Live processes whose command line holds every needle (and, with `cgroup`, whose cgroup
    names it: a container's processes seen from the host)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
            groups = (entry / "cgroup").read_text() if cgroup else ""
        except OSError:
            continue
        if stat.rpartition(")")[2].split()[0] in ("Z", "X"):
            continue
        if all(n.encode() in argv for n in needles) and cgroup in groups:
            found.append(int(entry.name))
    return found


def nats_servers(state: Path) -> list[int]:
    return pids_with(str(state / "nats" / "nats-server.conf"))


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--interval", "-5"], {}, "--interval: -5 is not allowed"),
        (["--interval", "0"], {}, "--interval: 0 is not allowed"),
        ([], {"WATCHTOWER_POLL_INTERVAL": "-1"}, "WATCHTOWER_POLL_INTERVAL (--interval): -1"),
    ],
)
def test_a_zero_or_negative_interval_exits_2_at_once(
    tmp_path: Path, args: list[str], env: dict[str, str], needle: str
) -> None:
    state = tmp_path / "state"
    started = time.monotonic()
    result = run_vigil("--state-dir", str(state), *args, env=env, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert needle in result.stderr
    assert time.monotonic() - started < 15
    assert not nats_servers(state)  # refused before anything started


def test_a_second_vigil_on_the_state_dir_refuses_and_the_tools_reach_the_first(
    tmp_path: Path, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    app = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, app, marker="v1")
    push_image(docker_client, app)
    web = names("web")
    docker_client.containers.run(app, name=web, detach=True)
    daemon = VigilProcess(tmp_path, "--host-id", HOST, web)
    state = str(daemon.state)
    try:
        daemon.wait_for("vigil is running", timeout=60)
        url = (daemon.state / "nats" / "nats.url").read_text().strip()

        second = run_vigil("--state-dir", state, "--host-id", HOST, "--run-once", web, timeout=60)
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"pid {daemon.pid}" in second.stderr and url in second.stderr, second.stderr
        assert len(nats_servers(daemon.state)) == 1

        # Global options before the subcommand; the subcommand is never a container name.
        status = run_vigil("--state-dir", state, "status", "--json", timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        [host] = json.loads(status.stdout)["hosts"]
        assert host["host"] == HOST and host["scanner"]["pid"] == daemon.pid
        assert host["scanner"]["alive"] and host["executor"]["alive"]

        trigger = run_vigil("--state-dir", state, "trigger", "--timeout", "60s", timeout=90)
        assert trigger.returncode == 0, trigger.stdout + trigger.stderr
        assert f"Vigil report for host {HOST}" in trigger.stdout

        events = run_vigil("events", "--state-dir", state, timeout=60)
        assert events.returncode == 0 and "report" in events.stdout, events.stderr
        history = run_vigil("--state-dir", state, "history", timeout=60)
        assert history.returncode == 0, history.stderr

        misplaced = run_vigil("--state-dir", state, web, "status", timeout=30)
        assert misplaced.returncode == 2
        assert "'status' is a vigil command, not a container name" in misplaced.stderr
        assert daemon.running and len(nats_servers(daemon.state)) == 1

        # A SIGKILLed Vigil blocks nobody: the lock dies with it, and the nats-server it left
        # (in a session of its own) is stopped by the next one instead of shared.
        daemon.kill()
        assert len(nats_servers(daemon.state)) == 1  # the orphan
        again = run_vigil("--state-dir", state, "--host-id", HOST, "--run-once", web, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        assert not nats_servers(daemon.state)
    finally:
        daemon.stop()
        for pid in nats_servers(daemon.state):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("mode", ["run-once", "daemon"])
def test_sigterm_during_a_pre_update_hook_stops_the_hook_and_nats_and_changes_nothing(
    tmp_path: Path,
    docker_client: Any,
    registry: RegistryServer,
    names: Callable[[str], str],
    mode: str,
) -> None:
    app = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, app, marker="v1")
    push_image(docker_client, app)
    web = names("web")
    hook = "com.centurylinklabs.watchtower.lifecycle.pre-update"
    container = docker_client.containers.run(
        app,
        name=web,
        detach=True,
        labels={hook: "sleep 300", f"{hook}-timeout": "10"},
    )
    old_image = container.image.id
    build_test_image(docker_client, app, marker="v2")
    push_image(docker_client, app)

    once = ["--run-once"] if mode == "run-once" else []
    vigil = VigilProcess(tmp_path, "--host-id", HOST, *once, "--enable-lifecycle-hooks", web)
    trigger: subprocess.Popen[bytes] | None = None
    try:
        if mode == "daemon":
            vigil.wait_for("vigil is running", timeout=60)
            trigger = subprocess.Popen(
                [sys.executable, "-m", "vigil.cli", "trigger", "--state-dir", str(vigil.state)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=clean_env(),
            )
        hook_pids = wait_until(
            lambda: pids_with("sleep", "300", cgroup=container.id), 120, "the hook running"
        )
        [nats_pid] = nats_servers(vigil.state)
        time.sleep(0.5)
        vigil.process.send_signal(signal.SIGTERM)
        status = vigil.process.wait(timeout=30)
    finally:
        vigil.stop()
        if trigger is not None:
            trigger.kill()
            trigger.wait()
    if mode == "run-once":
        assert status == 1, vigil.output  # the cycle did not finish
        assert "stopped by SIGTERM before the cycle finished" in vigil.output
    else:
        assert status == 0, vigil.output
    assert nats_pid not in nats_servers(vigil.state) and not nats_servers(vigil.state)
    assert hook_pids and not pids_with("sleep", "300", cgroup=container.id)
    container.reload()
    assert container.status == "running" and container.name == web
    assert container.image.id == old_image
    left = [c.name for c in docker_client.containers.list(all=True) if web in c.name]
    assert left == [web]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_events_follow_ends_promptly_on_a_signal_and_stops_its_nats(
    tmp_path: Path, sig: signal.Signals
) -> None:
    state = tmp_path / "state"
    follow = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli", "events", "--follow", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        # No Vigil runs here: the tool opens the store with a nats-server of its own.
        wait_until(
            lambda: nats_servers(state) or follow.poll() is not None, 60, "the tool's nats-server"
        )
        assert follow.poll() is None, follow.communicate()
        time.sleep(2.0)
        # Following, though nothing ran here yet: it waits for events instead of ending.
        assert follow.poll() is None, follow.communicate()
        follow.send_signal(sig)
        status = follow.wait(timeout=15)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert status == 0, follow.stderr.read() if follow.stderr else ""
    assert not nats_servers(state)


def test_status_after_a_run_once_says_it_is_over_with_its_last_cycle(
    tmp_path: Path, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    web = StaleContainer(docker_client, registry.host, names("web"), names("app")).name
    state = str(tmp_path / "state")

    once = run_vigil("--state-dir", state, "--host-id", HOST, "--run-once", web, timeout=120)
    assert once.returncode == 0, once.stdout + once.stderr

    table = run_vigil("--state-dir", state, "status", timeout=60)
    assert table.returncode == 0, table.stdout + table.stderr
    [line] = [x for x in table.stdout.splitlines() if x.startswith(f"{HOST}: run-once")]
    assert "run-once finished at" in line
    assert "last cycle: ok: 1 scanned, 1 updated" in line, table.stdout
    assert " alive " not in table.stdout  # nothing runs any more
    doc = json.loads(run_vigil("status", "--state-dir", state, "--json", timeout=60).stdout)
    [host] = doc["hosts"]
    assert host["executor"]["state"] == "finished" and not host["executor"]["alive"]
    assert host["scanner"]["state"] == "finished"
    assert host["executor"]["last_report"]["counts"] == {"updated": 1}
    assert {f["state"] for f in doc["fleet"]} == {"finished"}
    assert not nats_servers(Path(state))  # status opened the store and closed it again


# Ignores SIGTERM (only the engine's kill at the stop timeout ends it) and turns healthy 2 s
# after it starts.
DEAF_AND_SLOW = (
    'HEALTHCHECK --interval=1s --timeout=1s --retries=5 CMD ["test", "-f", "/ready"]\n'
    'ENTRYPOINT ["/bin/sh", "-c", "trap \'\' TERM; (sleep 2; touch /ready) & '
    'while true; do sleep 1; done"]\n'
)


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("engine_kind", "mode", "phase"),
    # Podman: both steps once (the modes differ in Vigil's process, not in the engine's work):
    # the engine's stop under way (Podman shows it by its state `stopping`, not by an event:
    # tests/support/engine_stops.py), and the health gate, whose checks Vigil runs itself there.
    [
        *(("docker", m, p) for m in ("run-once", "daemon") for p in ("stopping", "health-check")),
        *(("podman", "run-once", p) for p in ("stopping", "health-check")),
    ],
    indirect=["engine_kind"],
)
def test_sigterm_mid_update_lets_the_container_in_flight_finish_before_exit(
    engine_kind: str,
    tmp_path: Path,
    docker_client: Any,
    registry: RegistryServer,
    names: Callable[[str], str],
    mode: str,
    phase: str,
) -> None:
    """`docker stop` of Vigil while it stops a container with a 10 s stop timeout, or waits
    for the new one's health: before it exits, Vigil puts the stopped one back on its old
    build, or finishes the update under way, and the container runs afterwards without Vigil
    being started again (it was left Exited (137)); the report says what was left."""
    web = names("web")
    stale = StaleContainer(docker_client, registry.host, web, names("app"), extra=DEAF_AND_SLOW)
    once = ["--run-once"] if mode == "run-once" else []
    vigil = VigilProcess(tmp_path, "--host-id", HOST, *once, "--stop-timeout", "10", web)
    trigger: subprocess.Popen[bytes] | None = None
    try:
        if mode == "daemon":
            vigil.wait_for("vigil is running", timeout=60)
            trigger = subprocess.Popen(
                [sys.executable, "-m", "vigil.cli", "trigger", "--state-dir", str(vigil.state)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=clean_env(),
            )
        began = time.time() - 1
        vigil.wait_for(f"{web}: {phase}", timeout=120)
        if phase == "stopping":  # the engine is at it: its stop goes on, whatever Vigil does
            wait_until(lambda: engine_began_stop(docker_client, stale.old_id, began), 30, "a stop")
        vigil.process.send_signal(signal.SIGTERM)
        status = vigil.process.wait(timeout=90)
    finally:
        vigil.stop()
        if trigger is not None:
            trigger.kill()
            trigger.wait()
    state = docker_client.api.inspect_container(web)
    assert state["State"]["Running"], state["State"]
    if phase == "stopping":
        # Stopped, not replaced yet: put back on its old build, left for the next cycle.
        assert state["Image"] == stale.old_image
        assert "interrupted: 0 updated, 1 left for the next cycle" in vigil.output
        assert status == (1 if mode == "run-once" else 0), vigil.output
    else:  # the replacement was under way: finished
        assert f"{web}: done" in vigil.output, vigil.output
        assert stale.updated()
        assert status == 0, vigil.output
    left = [c.name for c in docker_client.containers.list(all=True) if web in c.name]
    assert left == [web]


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("mode", "moment"),
    [
        *(("daemon", m) for m in ("idle", "scan started", "checked images", "pulling")),
        *(("run-once", m) for m in ("scan started", "checked images", "pulling")),
    ],
)
def test_a_normal_sigterm_logs_no_error(
    tmp_path: Path,
    docker_client: Any,
    registry: RegistryServer,
    names: Callable[[str], str],
    moment: str,
    mode: str,
) -> None:
    """`docker stop` of the all-in-one, whatever it is doing (idle between cycles, scanning,
    checking the registry, updating), is a normal stop: not one ERROR line or traceback in
    its output (`_GatheringFuture exception was never retrieved` was one)."""
    web = names("web")
    StaleContainer(docker_client, registry.host, web, names("app"))
    args = ["--run-once"] if mode == "run-once" else ["--interval", "2"]
    vigil = VigilProcess(tmp_path, "--host-id", HOST, *args, web)
    try:
        if mode == "daemon":
            vigil.wait_for("vigil is running", timeout=60)
        if moment == "idle":
            vigil.wait_for("report delivered", timeout=120)
        else:
            vigil.wait_for(moment if moment != "pulling" else f"{web}: pulling", timeout=120)
        vigil.process.send_signal(signal.SIGTERM)
        status = vigil.process.wait(timeout=90)
    finally:
        vigil.stop()
    bad = [
        line
        for line in vigil.output.splitlines()
        if " ERROR " in line or "Traceback" in line or "never retrieved" in line
    ]
    assert status in ((0,) if mode == "daemon" else (0, 1)), vigil.output
    assert bad == [], vigil.output


@pytest.mark.timeout(180)
@pytest.mark.parametrize("moment", ["after the cycle", "while updating"])
def test_services_stopped_normally_log_no_error(
    fleet: Fleet,
    docker_client: Any,
    registry: RegistryServer,
    names: Callable[[str], str],
    moment: str,
) -> None:
    """Each service as a process of its own (a fleet), all stopped with SIGTERM after a
    cycle or while the executor updates: each exits 0 with no ERROR line or traceback."""
    web = names("web")
    StaleContainer(docker_client, registry.host, web, names("app"))
    fleet.start("registry-gateway", label="gateway")
    fleet.start("notifier", label="notifier")
    fleet.start("scanner", web, label="scanner", host=HOST)
    executor = fleet.start("executor", label="executor", host=HOST)
    fleet.wait_ready()
    trigger = fleet.trigger()
    if moment == "after the cycle":
        out, err = trigger.communicate(timeout=120)
        assert trigger.returncode == 0, out + err + fleet.logs()
    else:
        executor.wait_for(f"{web}: pulling", timeout=120)
    status = fleet.stop_all()
    assert set(status.values()) == {0}, (status, fleet.logs())
    for label, process in fleet.processes.items():
        bad = [
            line
            for line in process.output.splitlines()
            if " ERROR " in line or "Traceback" in line or "never retrieved" in line
        ]
        assert bad == [], f"{label}:\n{process.output}"


@pytest.mark.timeout(180)
def test_a_sigterm_while_the_registry_is_slow_logs_no_error(
    tmp_path: Path, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    """SIGTERM while the gateway waits for a slow registry: the check in flight is dropped
    quietly (no ERROR line, no traceback, no "image check failed" blaming the registry: it
    was the gateway's own HTTP client, closed under the check) and Vigil exits 0."""
    with RegistryProxy(registry.url) as proxy:
        web = names("web")
        StaleContainer(docker_client, proxy.host, web, names("app"))
        proxy.delay = 5.0
        before = len(proxy.arrivals())
        vigil = VigilProcess(tmp_path, "--host-id", HOST, "--interval", "2", web)
        try:
            vigil.wait_for("scan started", timeout=120)
            wait_until(
                lambda: [a for a in proxy.arrivals()[before:] if "/manifests/" in a.path],
                60,
                "the gateway asking the registry",
            )
            vigil.process.send_signal(signal.SIGTERM)
            status = vigil.process.wait(timeout=90)
        finally:
            vigil.stop()
    bad = [
        line
        for line in vigil.output.splitlines()
        if " ERROR " in line
        or "Traceback" in line
        or "never retrieved" in line
        or "image check failed" in line
    ]
    assert status == 0, vigil.output
    assert bad == [], vigil.output
