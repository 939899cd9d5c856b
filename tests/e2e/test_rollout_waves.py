"""Canary waves over a fleet of two real hosts: the main engine (DOCKER_HOST) and a second
dockerd, services as separate `vigil` processes over one NATS, with `--rollout canary=1` and
the first host named as the canary.

- A healthy build goes to the canary first; the other host is held ("waiting for wave 2")
  and updated by the coordinator only after the soak, even though the coordinator is
  restarted in the middle of it; `vigil rollout abort` then puts both hosts back on the old
  build.
- The dashboard (`vigil dashboard` beside the fleet, in a real headless Chromium) shows the
  rollout as it goes: a click on the held host's row opens the rollout's page, its soak
  counting down; then both waves done with every step, and after the abort both hosts
  reverted. The screenshot is docs/dashboard-rollout.png (VIGIL_DASHBOARD_SCREENSHOT_DIR=DIR
  writes it there).
- A build whose healthcheck fails is rolled back on the canary by its executor and halts the
  rollout: the other host is never touched and `vigil rollout status` says halted.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from tests.support.browser import Browser
from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from tests.support.second_engine import SecondEngine
from tests.support.vigil_process import VigilProcess, run_vigil
from vigil.process.embedded_nats import EmbeddedNats

pytestmark = pytest.mark.integration

HOST_A, HOST_B = "wave-a", "wave-b"
SCOPE_LABEL = "com.centurylinklabs.watchtower.scope"
FAILING_HEALTH = 'HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["false"]\n'
SOAK_S = 4.0


class TwoHosts:
    """Build v1 of one tag on both hosts (running as a container of the test's scope), and
    the services of a fleet with rollouts on, over `nats_url`."""

    def __init__(
        self,
        tmp_path: Path,
        nats_url: str,
        a: Any,
        b: Any,
        engine_b: SecondEngine,
        registry: RegistryServer,
        names: Callable[[str], str],
    ) -> None:
        self.tmp_path, self.url, self.a, self.b = tmp_path, nats_url, a, b
        self.tag = f"{registry.host}/{names('wave')}:latest"
        self.name = names("web")
        self.scope = names("scope")
        self.old_id = build_test_image(a, self.tag, marker="v1")
        push_image(a, self.tag)
        b.images.pull(self.tag)
        for client in (a, b):
            client.containers.run(
                self.tag, name=self.name, detach=True, labels={SCOPE_LABEL: self.scope}
            )
        self.first_ids = {h: self.container(h)["Id"] for h in (HOST_A, HOST_B)}
        engine_a = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        self.processes: dict[str, VigilProcess] = {}
        self.coordinator_args = (
            *("--nats-url", nats_url, "--rollout", f"canary=1,soak={SOAK_S:g}s"),
            *("--canary-host", HOST_A),
        )
        for label, command, args in (
            ("gateway", "registry-gateway", ()),
            ("coordinator", "rollout-coordinator", self.coordinator_args[2:]),
            ("exec-a", "executor", ("--host-id", HOST_A, "--docker-host", engine_a)),
            ("exec-b", "executor", ("--host-id", HOST_B, "--docker-host", engine_b.url)),
            (
                "scanner",
                "scanner",
                (
                    *("--scope", self.scope, "--rollout", "on", "--interval", "86400"),
                    *("--engine", f"{HOST_A}={engine_a}", "--engine", f"{HOST_B}={engine_b.url}"),
                ),
            ),
        ):
            self.start(label, command, *args)
        for process in self.processes.values():
            process.wait_for("vigil is running", timeout=60)

    def start(self, label: str, command: str, *args: str) -> VigilProcess:
        extra = ("--health-timeout", "15s") if command == "executor" else ()
        # --engine names every engine: DOCKER_HOST (the first one here) would clash with it.
        env = {"DOCKER_HOST": ""} if command == "scanner" else None
        process = VigilProcess(
            self.tmp_path,
            *("--nats-url", self.url, *args, *extra),
            env=env,
            command=command,
            label=label,
        )
        self.processes[label] = process
        return process

    def engine(self, host: str) -> Any:
        return self.a if host == HOST_A else self.b

    def container(self, host: str) -> dict[str, Any]:
        data: dict[str, Any] = self.engine(host).api.inspect_container(self.name)
        return data

    def push_v2(self, extra: str = "") -> str:
        new_id = build_test_image(self.a, self.tag, marker="v2", extra=extra)
        push_image(self.a, self.tag)
        self.a.api.remove_image(self.tag)  # the executor must pull it
        return new_id

    def trigger(self) -> dict[str, dict[str, Any]]:
        result = run_vigil("trigger", "--nats-url", self.url, "--timeout", "60s", "--json")
        assert result.returncode in (0, 1), result.stdout + result.stderr + self.logs()
        answer = json.loads(result.stdout)
        assert answer["silent"] == [], self.logs()
        return {r["host"]: r for r in answer["reports"]}

    def rollouts(self) -> list[dict[str, Any]]:
        result = run_vigil("rollout", "status", "--json", "--nats-url", self.url)
        assert result.returncode == 0, result.stderr + self.logs()
        return list(json.loads(result.stdout)["rollouts"])

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self._holds(check):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s\n{self.logs()}")
            time.sleep(0.2)

    @staticmethod
    def _holds(check: Callable[[], bool]) -> bool:
        """`check()`, a container missing under its name counting as not yet: while an
        executor replaces it, the old one is renamed aside before the new one is created."""
        try:
            return check()
        except docker.errors.NotFound:
            return False

    def logs(self) -> str:
        return "\n".join(f"--- {k}\n{p.output[-3000:]}" for k, p in self.processes.items())

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()


@pytest.fixture
def hosts(
    tmp_path: Path,
    nats_server: EmbeddedNats,
    docker_client: Any,
    second_engine_factory: Callable[..., SecondEngine],
    registry: RegistryServer,
    names: Callable[[str], str],
) -> Iterator[TwoHosts]:
    engine_b = second_engine_factory()
    client_b = engine_b.client()
    fleet: TwoHosts | None = None
    try:
        fleet = TwoHosts(
            tmp_path, nats_server.url, docker_client, client_b, engine_b, registry, names
        )
        # A first cycle, with nothing new: every scanner's inventory is in the stream, so a
        # rollout knows the hosts that run the image.
        assert {r["status"] for h in fleet.trigger().values() for r in h["results"]} == {"fresh"}
        yield fleet
    finally:
        if fleet is not None:
            fleet.stop()
        client_b.close()


def _result(report: dict[str, Any]) -> dict[str, Any]:
    (result,) = report["results"]
    return dict(result)


SOAK_TEXT = "document.getElementById('rollout-soak').textContent"
STEPS = (
    "[...document.querySelectorAll('#rollout-steps tbody tr')]"
    ".map((tr) => tr.children[1].textContent)"
)
HOST_STATES = (
    "Object.fromEntries([...document.querySelectorAll('#rollout-waves span.wave-host')]"
    ".map((s) => [s.dataset.host, s.dataset.state]))"
)
WAVE_STATES = (
    "[...document.querySelectorAll('#rollout-waves tbody td[data-state]')]"
    ".map((td) => td.dataset.state)"
)


def test_the_canary_updates_first_and_the_other_host_after_the_soak(hosts: TwoHosts) -> None:
    port = free_port()
    dashboard = hosts.start(
        "dashboard", "dashboard", "--dashboard-port", str(port), "--dashboard-check-interval", "0"
    )
    new_id = hosts.push_v2()
    dashboard.wait_for("dashboard serving", timeout=60)
    browser = Browser(hosts.tmp_path)
    try:
        browser.open(f"http://127.0.0.1:{port}/")
        rid = _the_canary_then_the_soak_then_host_b(hosts, browser, new_id)
        _abort_puts_both_back(hosts, browser, rid)
    finally:
        browser.close()


def _the_canary_then_the_soak_then_host_b(hosts: TwoHosts, browser: Browser, new_id: str) -> str:
    reports = hosts.trigger()
    canary, held = _result(reports[HOST_A]), _result(reports[HOST_B])
    assert canary["status"] == "updated", hosts.logs()
    assert held["status"] == "held"
    assert "waiting for wave 2 of rollout" in held["error"]
    assert hosts.container(HOST_A)["Image"] == new_id
    assert hosts.container(HOST_B)["Id"] == hosts.first_ids[HOST_B]  # not touched
    canary_done = reports[HOST_A]["finished_at"]

    # The page, during the soak: the held host's row names the rollout it belongs to; a
    # click opens the rollout's page, its soak counting down.
    link = f"#containers tr[data-key='{HOST_B}/{hosts.name}'] button[data-open-rollout]"
    browser.wait_for(f"document.querySelector({json.dumps(link)}) !== null", timeout=SOAK_S)
    browser.click(link)
    browser.wait_for(f"/^soak of wave 1 ends in \\d+ s/.test({SOAK_TEXT})", timeout=SOAK_S)
    assert browser.evaluate(HOST_STATES) == {HOST_A: "updated", HOST_B: "pending"}
    assert browser.evaluate(WAVE_STATES) == ["soaking", "waiting"]

    # The coordinator goes away in the middle of the soak; its state is in NATS.
    assert hosts.processes["coordinator"].stop() == 0
    hosts.start("coordinator", "rollout-coordinator", *hosts.coordinator_args[2:])
    hosts.processes["coordinator"].wait_for("vigil is running")

    hosts.wait_for("host B on the new build", lambda: hosts.container(HOST_B)["Image"] == new_id)
    assert time.time() - canary_done >= SOAK_S
    hosts.wait_for("the rollout done", lambda: hosts.rollouts()[0]["state"] == "done")
    (rollout,) = hosts.rollouts()
    assert rollout["image"] == hosts.tag
    assert rollout["waves"] == [[HOST_A], [HOST_B]]
    assert {h: p["status"] for h, p in rollout["hosts"].items()} == {
        HOST_A: "updated",
        HOST_B: "updated",
    }
    rid = rollout["rollout_id"]
    assert browser.evaluate("location.hash") == f"#rollout={rid}"

    # Every step is in the audit stream.
    events = run_vigil("events", "--json", "--nats-url", hosts.url)
    steps = [
        (e["message"]["step"], e["message"]["wave"])
        for e in map(json.loads, events.stdout.splitlines())
        if e["kind"] == "rollout"
    ]
    assert steps == [
        ("created", 0),
        ("wave_started", 0),
        ("wave_done", 0),
        ("wave_started", 1),
        ("wave_done", 1),
        ("done", 1),
    ], events.stdout[-3000:]
    # The rollout's page says the same: both waves done, each host updated, every step.
    browser.wait_for(f"{WAVE_STATES}.join() === 'done,done'", timeout=20)
    assert browser.evaluate(HOST_STATES) == {HOST_A: "updated", HOST_B: "updated"}
    browser.wait_for(f"{STEPS}.length === 6")
    assert browser.evaluate(STEPS) == [
        "created",
        "wave started",
        "wave done",
        "wave started",
        "wave done",
        "done",
    ]
    assert "every wave done" in browser.evaluate(SOAK_TEXT)
    shot = hosts.tmp_path / "dashboard-rollout.png"
    browser.screenshot(shot)
    if os.environ.get("VIGIL_DASHBOARD_SCREENSHOT_DIR"):
        shutil.copyfile(shot, Path(os.environ["VIGIL_DASHBOARD_SCREENSHOT_DIR"]) / shot.name)
    return str(rid)


def _abort_puts_both_back(hosts: TwoHosts, browser: Browser, rid: str) -> None:
    # Abort: the fleet goes back to the old build, by its digest.
    result = run_vigil("rollout", "abort", rid, "--nats-url", hosts.url)
    assert result.returncode == 0, result.stderr + hosts.logs()

    def back_on_v1() -> bool:
        return all(hosts.container(h)["Image"] == hosts.old_id for h in (HOST_A, HOST_B))

    hosts.wait_for("both hosts back on v1", back_on_v1)
    hosts.wait_for(
        "both reverted",
        lambda: {p["status"] for p in hosts.rollouts()[0]["hosts"].values()} == {"reverted"},
    )
    # The next cycle finds the tag's new build again, and holds it: the rollout was aborted.
    reports = hosts.trigger()
    for host in (HOST_A, HOST_B):
        assert _result(reports[host])["status"] == "held"
        assert f"rollout {rid} was aborted" in _result(reports[host])["error"]
    assert hosts.container(HOST_A)["Image"] == hosts.old_id
    # The page, reached from the rollouts list this time: both hosts reverted.
    browser.click("#rollout-close")
    browser.wait_for("document.getElementById('rollout-page').hidden")
    browser.click(f"#rollouts button[data-open-rollout='{rid}']")
    reverted = f"(({HOST_STATES}) || {{}})"
    browser.wait_for(
        f"{reverted}['{HOST_A}'] === 'reverted' && {reverted}['{HOST_B}'] === 'reverted'"
    )
    assert browser.evaluate("document.getElementById('rollout-summary').dataset.state") == (
        "aborted"
    )


def test_a_failing_canary_halts_the_rollout_and_the_other_host_is_never_touched(
    hosts: TwoHosts,
) -> None:
    hosts.push_v2(extra=FAILING_HEALTH)
    reports = hosts.trigger()
    canary, held = _result(reports[HOST_A]), _result(reports[HOST_B])
    assert canary["status"] == "rolled_back", hosts.logs()
    assert held["status"] == "held"
    assert hosts.container(HOST_A)["Image"] == hosts.old_id  # its executor rolled it back
    hosts.wait_for("the rollout halted", lambda: hosts.rollouts()[0]["state"] == "halted")
    time.sleep(SOAK_S + 1)  # longer than the soak: still nothing starts on B
    assert hosts.container(HOST_B)["Id"] == hosts.first_ids[HOST_B]
    # One plan for the canary: the cycle the coordinator would ask of it (its own was already
    # under way) must not update it a second time after the halt.
    pulls = hosts.processes["exec-a"].output.count(": pulling ")
    assert pulls == 1, hosts.logs()
    assert hosts.container(HOST_A)["Image"] == hosts.old_id
    status = run_vigil("rollout", "status", "--nats-url", hosts.url)
    assert status.returncode == 0
    assert "halted" in status.stdout and f"the update failed on {HOST_A}" in status.stdout
    assert f"{HOST_B} pending" in status.stdout
    # Another cycle on B is held too: the rollout stays halted until someone resumes it.
    reports = hosts.trigger()
    assert "is halted" in _result(reports[HOST_B])["error"]
    assert hosts.container(HOST_B)["Id"] == hosts.first_ids[HOST_B]
