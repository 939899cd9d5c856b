"""The chaos soak: seeded random rounds against two real engines, a real registry behind a
proxy that can fail, real NATS and Vigil's services as processes (two hosts run as separate
services, a third as the all-in-one joined to the same NATS). Each round pushes new builds
(sometimes one that never turns healthy), starts a cycle, and injects one fault at a random
moment; then the oracle (tests/support/chaos_oracle.py) checks what the engines, the registry
and the audit stream show.

`make test` runs a short soak with a fixed seed (3 rounds, seed 470: NATS restarted mid-plan,
executor-a SIGKILLed, the all-in-one SIGTERMed); `make chaos ROUNDS=200 SEED=7` a long one
(CHAOS_ROUNDS, CHAOS_SEED). The summary line gives rounds, faults, violations and the seed,
and each violation its evidence.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from tests.support.chaos_oracle import Audit, Result, Seen, Tag, check_round, short
from tests.support.fleet import READY, Fleet
from tests.support.images import build_test_image, push_image
from tests.support.registry_proxy import RegistryProxy
from tests.support.second_engine import SecondEngine
from tests.support.vigil_process import VigilProcess, clean_env, main_engine_url
from vigil.process.embedded_nats import EmbeddedNats

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

ROUNDS = int(os.environ.get("CHAOS_ROUNDS", "3"))
SEED = int(os.environ.get("CHAOS_SEED", "470"))
HOST_A, HOST_B = "chaos-a", "chaos-b"
# A third host on the main engine, under a scope of its own: the all-in-one (scanner,
# gateway, executor and notifier in one process) joined to the soak's NATS.
HOST_C = "chaos-c"
SCOPE_LABEL = "com.centurylinklabs.watchtower.scope"
DEPENDS_LABEL = "com.centurylinklabs.watchtower.depends-on"
REPORT_DEADLINE_S = 90  # a cycle whose reporter was killed is reported after its restart

HEALTHY = 'HEALTHCHECK --interval=1s --timeout=1s --retries=3 CMD ["true"]\n'
UNHEALTHY = 'HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD ["false"]\n'
# Ignores SIGTERM: each stop takes the container's whole stop timeout (2 s) and a SIGKILL.
SLOW_STOP = 'ENTRYPOINT ["/bin/sh", "-c", "trap \'\' TERM; while true; do sleep 1; done"]\n'
REPOS = {"app": HEALTHY, "slow": SLOW_STOP, "side": ""}
SERVICES = ("gateway", "scanner", "executor-a", "executor-b", "all-in-one")
FAULTS = (
    *(f"{sig} {s}" for s in SERVICES for sig in ("SIGKILL", "SIGTERM")),
    "nats restart",
    "registry 503",
    "registry 429",
    "registry slow",
    "none",
)


@dataclass(frozen=True)
class App:
    host: str
    name: str
    repo: str
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.host}/{self.name}"


@dataclass
class Soak:
    tmp_path: Path
    nats: EmbeddedNats
    proxy: RegistryProxy
    engines: dict[str, Any]
    engine_b: SecondEngine
    scope: str
    scope_c: str  # the all-in-one's (HOST_C)
    prefix: str
    fleet: Fleet
    role: dict[str, VigilProcess] = field(default_factory=dict)
    starts: Counter[str] = field(default_factory=Counter)
    builds: dict[str, list[str]] = field(default_factory=dict)  # repo: image ids pushed
    unhealthy: set[str] = field(default_factory=set)
    apps: list[App] = field(default_factory=list)

    def tag(self, repo: str) -> str:
        return f"{self.proxy.host}/{self.prefix}-{repo}:latest"

    def push(self, repo: str, marker: str, *, unhealthy: bool = False) -> None:
        a = self.engines[HOST_A]
        extra = UNHEALTHY if unhealthy else REPOS[repo]
        image = build_test_image(a, self.tag(repo), marker=marker, extra=extra)
        push_image(a, self.tag(repo))
        self.builds.setdefault(repo, []).append(image)
        if unhealthy:
            self.unhealthy.add(image)

    def start(self, role: str) -> VigilProcess:
        self.starts[role] += 1
        label = f"{role}-{self.starts[role]}"
        tls_env = {"DOCKER_CERT_PATH": str(self.engine_b.cert_path)}
        args: tuple[str, ...] = ()
        env: dict[str, str] | None = None
        argv = ["--nats-url", self.nats.url]
        command: str | None
        if role == "all-in-one":
            command = None  # `vigil` itself
            args = ("--host-id", HOST_C, "--scope", self.scope_c, "--interval", "86400",
                    "--docker-host", main_engine_url(), "--stop-timeout", "2",
                    "--health-timeout", "15", "--plan-ack-wait", "2")  # fmt: skip
        elif role == "gateway":
            command = "registry-gateway"
        elif role == "scanner":
            command = "scanner"
            args = ("--interval", "86400", "--scope", self.scope, "--tlsverify",
                    "--engine", f"{HOST_A}={main_engine_url()}",
                    "--engine", f"{HOST_B}={self.engine_b.tcp_url}")  # fmt: skip
            env = tls_env
        else:
            command = "executor"
            host = HOST_A if role == "executor-a" else HOST_B
            args = ("--host-id", host, "--stop-timeout", "2", "--health-timeout", "15",
                    "--plan-ack-wait", "2")  # fmt: skip
            if host == HOST_B:
                args += ("--docker-host", self.engine_b.tcp_url, "--tlsverify")
                env = tls_env
        process = VigilProcess(self.tmp_path, *argv, *args, env=env, command=command, label=label)
        self.fleet.processes[label] = process
        self.role[role] = process
        return process

    def inspect(self, app: App) -> dict[str, Any] | None:
        matches = self.engines[app.host].api.containers(all=True, filters={"name": app.name})
        exact = [c for c in matches if f"/{app.name}" in c["Names"]]
        if not exact:
            return None
        return dict(self.engines[app.host].api.inspect_container(app.name))

    def unique_engines(self) -> list[Any]:
        """Each engine once (HOST_A and HOST_C share the main one)."""
        return list({id(e): e for e in self.engines.values()}.values())

    def all_names(self) -> list[str]:
        # The low-level listing: docker-py's containers.list inspects each container and
        # fails on one an executor removes meanwhile (round 8 of seed 7 did).
        return [
            name
            for engine in self.unique_engines()
            for c in engine.api.containers(all=True)
            for name in (str(n).lstrip("/") for n in (c.get("Names") or ())[:1])
            if name.startswith(self.prefix)
        ]


def events(soak: Soak) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "vigil.cli", "events", "--json", "--nats-url", soak.nats.url],
        capture_output=True, text=True, timeout=60, env=clean_env(), check=False,
    )  # fmt: skip
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def audit_of(evs: list[dict[str, Any]], names: list[str]) -> Audit:
    plans, reported, results = [], [], []
    for ev in evs:
        msg = ev.get("message") or {}
        if ev.get("kind") == "plan" and msg.get("actions"):
            plans.append(msg["plan_id"])
        elif ev.get("kind") == "report":
            reported.append(msg.get("plan_id", ""))
            for r in msg.get("results", ()):
                results.append(Result(
                    plan_id=msg.get("plan_id", ""), name=f"{ev.get('host')}/{r['name']}",
                    status=r["status"], old_image_id=r.get("old_image_id", ""),
                    new_image_id=r.get("new_image_id", ""), error=r.get("error", ""),
                ))  # fmt: skip
    return Audit(tuple(plans), tuple(results), tuple(reported), tuple(names))


def wait_reports(soak: Soak, names: list[str]) -> Audit:
    """Every published plan has its report, or the deadline passed (the oracle then says so)."""
    deadline = time.monotonic() + REPORT_DEADLINE_S
    while True:
        audit = audit_of(events(soak), names)
        if set(audit.plans) <= set(audit.reported) or time.monotonic() > deadline:
            return audit
        time.sleep(0.5)  # a poll interval of the deadline-bound wait above


def cycle_began(soak: Soak, scans: int) -> None:
    """Wait until the scanner has begun the trigger's cycle (its `scan started` lines past
    `scans`), so that the fault lands within the cycle: on a loaded machine the trigger
    process alone takes seconds to send its command, and a fault timed from its start landed
    before the cycle, every time for the scanner's. A command that never comes (it went
    nowhere) is the round's outcome to judge, not the soak's failure."""
    scanner = soak.role["scanner"]
    deadline = time.monotonic() + 30
    while scanner.output.count("scan started") <= scans and time.monotonic() < deadline:
        time.sleep(0.05)  # a poll interval of the deadline-bound wait above


def silent_hosts(trigger_json: str) -> tuple[str, ...]:
    """The hosts `vigil trigger --json` said sent no report. A trigger that printed no answer
    (it lost NATS itself) claimed no report of any host."""
    try:
        return tuple(json.loads(trigger_json).get("silent") or ())
    except ValueError:
        return (HOST_A, HOST_B)


def inject(soak: Soak, fault: str) -> str | None:
    """The fault at its moment; the role to start again afterwards, if any."""
    if fault.startswith(("SIGKILL", "SIGTERM")):
        sig, role = fault.split()
        process = soak.role[role]
        if process.running:
            process.process.send_signal(signal.SIGKILL if sig == "SIGKILL" else signal.SIGTERM)
        return role
    if fault == "nats restart":
        soak.nats.stop()
        soak.nats.start()
    elif fault == "registry 503":
        soak.proxy.fault(r"/manifests/", status=503)
    elif fault == "registry 429":
        soak.proxy.fault(r"/manifests/", status=429, headers={"Retry-After": "1"})
    elif fault == "registry slow":
        soak.proxy.fault(r"/manifests/", delay=4)
    return None


def evidence(soak: Soak, app: App, audit: Audit) -> str:
    data = soak.inspect(app)
    state = "gone" if data is None else (
        f"{data['State']['Status']} image {short(data['Image'])} health "
        f"{(data['State'].get('Health') or {}).get('Status', '-')}"
    )  # fmt: skip
    lines = [f"    {r.plan_id[:8]} {r.status} {short(r.old_image_id)} -> {short(r.new_image_id)}"
             f" {r.error}" for r in audit.results if r.name == app.key][-4:]  # fmt: skip
    return f"  engine {app.key}: {state}\n" + "\n".join(lines)


@pytest.fixture
def soak(
    tmp_path: Path,
    nats_server: EmbeddedNats,
    proxy: RegistryProxy,
    docker_client: Any,
    second_engine_factory: Callable[..., SecondEngine],
    names: Callable[[str], str],
) -> Iterator[Soak]:
    engine_b = second_engine_factory(tls=True)
    client_b = engine_b.client()
    fleet = Fleet(tmp_path, nats_server.url)
    engines = {HOST_A: docker_client, HOST_B: client_b, HOST_C: docker_client}
    s = Soak(tmp_path, nats_server, proxy, engines, engine_b,
             names("scope"), names("scope-c"), names("chaos"), fleet)  # fmt: skip
    try:
        yield s
    finally:
        fleet.stop_all()
        for engine in s.unique_engines():
            for scope in (s.scope, s.scope_c):
                for c in engine.containers.list(
                    all=True, filters={"label": f"{SCOPE_LABEL}={scope}"}
                ):
                    c.remove(force=True)
        client_b.close()


def set_up(soak: Soak) -> None:
    for repo in REPOS:
        soak.push(repo, "v0")
    b = soak.engines[HOST_B]
    for repo in ("app", "slow"):
        b.images.pull(soak.tag(repo))
    web = f"{soak.prefix}-web"
    soak.apps = [
        App(HOST_A, web, "app"),
        App(HOST_A, f"{soak.prefix}-side", "side", {"network_mode": f"container:{web}"}),
        App(HOST_A, f"{soak.prefix}-dep", "side", {"labels": {DEPENDS_LABEL: web}}),
        App(HOST_A, f"{soak.prefix}-slow", "slow"),
        App(HOST_B, web, "app"),
        App(HOST_B, f"{soak.prefix}-slow", "slow"),
        App(HOST_C, f"{soak.prefix}-c-web", "app"),
        App(
            HOST_C,
            f"{soak.prefix}-c-dep",
            "side",
            {"labels": {DEPENDS_LABEL: f"{soak.prefix}-c-web"}},
        ),
    ]
    for app in soak.apps:
        run = dict(app.run)
        scope = soak.scope_c if app.host == HOST_C else soak.scope
        labels = {SCOPE_LABEL: scope, **run.pop("labels", {})}
        api = soak.engines[app.host].api
        api.create_container(
            soak.tag(app.repo), name=app.name, labels=labels, stop_signal="SIGTERM",
            stop_timeout=2 if app.repo == "slow" else None,
            host_config=api.create_host_config(**run),
        )  # fmt: skip
        api.start(app.name)
    for role in SERVICES:
        soak.start(role)
    for process in soak.role.values():
        process.wait_for(READY, timeout=90)


@pytest.mark.timeout(180 + ROUNDS * 120)
def test_chaos_soak(soak: Soak, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    began = time.monotonic()
    set_up(soak)
    faults: Counter[str] = Counter()
    # Every kind of fault once before any comes again (a short soak still sees most kinds).
    order = [*FAULTS]
    rng.shuffle(order)
    violations: list[str] = []
    said: set[str] = set()
    for n in range(1, ROUNDS + 1):
        soak.proxy.clear_faults()
        pushed = rng.sample(sorted(REPOS), rng.randint(1, len(REPOS)))
        for repo in pushed:
            soak.push(repo, f"r{n}", unhealthy=repo == "app" and rng.random() < 0.25)
        before = {app.key: soak.inspect(app) for app in soak.apps}
        fault = order[(n - 1) % len(order)]
        faults[fault] += 1
        scans = soak.role["scanner"].output.count("scan started")
        trigger = soak.fleet.trigger("--timeout", "60s", "--json")
        cycle_began(soak, scans)
        time.sleep(rng.uniform(0, 4))  # the fault's moment in the cycle, not a wait
        restart = inject(soak, fault)
        if restart:
            soak.role[restart].process.wait(timeout=60)
            soak.start(restart).wait_for(READY, timeout=90)
        out, _ = trigger.communicate(timeout=120)
        soak.proxy.clear_faults()
        silent = silent_hosts(out)
        audit = replace(wait_reports(soak, soak.all_names()), silent=silent)
        seen, tags = [], {}
        for app in soak.apps:
            data = soak.inspect(app)
            was = before[app.key]
            prior = was["Image"] if was else ""
            current = soak.builds[app.repo][-1]
            seen.append(Seen(
                name=app.key, count=0 if data is None else 1,
                running=bool(data and data["State"]["Running"]),
                image_id=data["Image"] if data else "",
                ran_before=bool(was and was["State"]["Running"]),
            ))  # fmt: skip
            tags[app.key] = Tag(current, prior, unhealthy=current in soak.unhealthy)
        # A violation that lasts (a container left down, a duplicate in the stream) counts once.
        found = [v for v in check_round(seen, tags, audit) if v not in said]
        said.update(found)
        on_tag = sum(s.image_id == tags[s.name].current for s in seen)
        with capsys.disabled():
            print(f"\nchaos round {n}: pushed {','.join(pushed)}; fault {fault}; "
                  f"{on_tag}/{len(seen)} on the tag's build; {len(found)} violations"
                  + (f"; trigger: {','.join(silent)} silent" if silent else ""))  # fmt: skip
        for v in found:
            culprit = next((a for a in soak.apps if v.startswith(f"{a.key}:")), None)
            violations.append(f"round {n} ({fault}): {v}" + (
                "\n" + evidence(soak, culprit, audit) if culprit else ""))  # fmt: skip
            with capsys.disabled():
                print(violations[-1])
    summary = (
        f"chaos: {ROUNDS} rounds, faults {dict(faults)}, {len(violations)} violations, "
        f"seed {SEED}, {time.monotonic() - began:.0f} s"
    )
    with capsys.disabled():
        print("\n" + summary + "".join(f"\n{v}" for v in violations))
    assert not violations, summary + "\n" + "\n".join(violations) + "\n" + soak.fleet.logs()
