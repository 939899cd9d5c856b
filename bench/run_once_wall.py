"""`vigil --run-once` beside pyouroboros's `ouroboros --run-once` on the same containers.

20 containers on 10 images (two each) of a local registry, reached through the counting
proxy of tests/support/registry_proxy.py; before every run one image gets a new build in the
registry, so each run updates its two containers. Both tools watch the same containers by
label (`com.centurylinklabs.watchtower.enable` with Vigil's --label-enable,
`com.ouroboros.enable` with ouroboros's --label-enable --labels-only) on the same engine,
one run each per round, their order alternating. Printed per run and as medians: the wall
time of the whole process, the registry requests it made (the engine's pulls for ouroboros,
the gateway's for Vigil), and for Vigil its start-up: from the process's start to the
"scan started" line of its first cycle.

ouroboros-cli 1.4.2 is installed by the benchmark into a venv of its own under
~/.cache/vigil-bench (or $VIGIL_BENCH_CACHE), never into the project's: it pulls its own
docker-py, apprise and influxdb. It runs on Python 3.11 with today's docker-py (7.x: its
requirement has no upper bound), but not with apprise >= 1.0 (below), so apprise is pinned.
Targets (issue 21): Vigil's wall time at most 0.7x ouroboros's, with containers that stop
at once and with containers that take their stop timeout (both run by default); start-up to
the first scan under 250 ms.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.registry_proxy import RegistryProxy
from vigil_shared.docker_engine import connect_engine

PREFIX = "vigil-bench-ro-"
CONTAINERS, IMAGES = 20, 10
# apprise 1.0 dropped `Apprise.servers`, which ouroboros 1.4.2 reads after every update (an
# AttributeError in its update job): it gets the apprise of its day.
OUROBOROS = ("ouroboros-cli==1.4.2", "apprise<1")
LABELS = {"com.centurylinklabs.watchtower.enable": "true", "com.ouroboros.enable": "true"}
# The test image's own command runs its trap only once its `sleep 1` ends: a stop would cost
# 0 to 1 s at random, and the figures would measure busybox. This one answers SIGTERM at once.
COMMAND = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"]
# The other kind (issue 21): a container that ignores SIGTERM (a shell as PID 1 without a
# trap) and so takes its whole stop timeout, STOP_TIMEOUT seconds for both tools (Vigil's
# --stop-timeout, docker-py's default `t` in ouroboros's container.stop()).
SLOW_COMMAND = ["/bin/sh", "-c", "sleep 86400 & wait"]
STOP_TIMEOUT = 10
STOPS = {"at-once": COMMAND, "timeout": SLOW_COMMAND}


def _cache_dir() -> Path:
    return Path(os.environ.get("VIGIL_BENCH_CACHE") or Path.home() / ".cache" / "vigil-bench")


def ouroboros_binary() -> Path | None:
    """The `ouroboros` of a venv of its own, made on first use; None (and why, printed) when
    it cannot be installed or run here."""
    venv = _cache_dir() / "ouroboros-1.4.2-apprise0"  # named by what it holds
    binary = venv / "bin" / "ouroboros"
    if not binary.exists():
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        python = shutil.which("python3") or sys.executable
        made = subprocess.run(
            [python, "-m", "venv", str(venv)], capture_output=True, text=True, check=False
        )
        installed = made.returncode == 0 and (
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", *OUROBOROS],
                capture_output=True,
                text=True,
                check=False,
            )
        )
        if not installed or installed.returncode != 0:
            error = installed.stderr if installed else made.stderr
            print(f"ouroboros side skipped: cannot install {OUROBOROS}: {error.strip()[-400:]}")
            shutil.rmtree(venv, ignore_errors=True)
            return None
    probe = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        print(f"ouroboros side skipped: `ouroboros --version` failed: {probe.stderr[-400:]}")
        return None
    return binary


def compile_bytecode() -> None:
    """Vigil's modules compiled to bytecode, as the image's pip install leaves them (and as
    pip left ouroboros's): with PYTHONDONTWRITEBYTECODE set and no .pyc files, every start
    would compile some 700 modules from source, about half a second here."""
    root = Path(__file__).resolve().parent.parent
    sources = [root / "src", root / "shared" / "src", *sorted(root.glob("services/*/src"))]
    venv_lib = Path(sys.executable).parent.parent / "lib"
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", str(venv_lib), *map(str, sources)],
        stdout=subprocess.DEVNULL,
        check=True,
    )


def _setup(client: Any, registry_host: str, run: str, command: list[str]) -> list[str]:
    """The images pushed and the containers started; returns the image tags."""
    tags = [f"{registry_host}/{PREFIX}{run}-app{i}:latest" for i in range(IMAGES)]
    for i, tag in enumerate(tags):
        build_test_image(client, tag, marker=f"{run}-app{i}-v0")
        push_image(client, tag)
    for n in range(CONTAINERS):
        client.containers.run(
            tags[n % IMAGES],
            command=command,
            name=f"{PREFIX}{run}-c{n}",
            detach=True,
            labels=LABELS,
        )
    return tags


def _make_stale(client: Any, tag: str, marker: str) -> str:
    """A new build of `tag` in the registry while the host's tag stays on the build its
    containers run (as after a CI push elsewhere): they are stale. The new build's layers
    stay on the host, so neither side's pull measures blob transfer. Returns the new image
    id. (ouroboros ignores a container whose image has lost its tag: the host's tag must
    stay on the old build for it to see the update at all.)"""
    old_id = client.api.inspect_image(tag)["Id"]
    image_id = build_test_image(client, tag, marker=marker)
    push_image(client, tag)
    repo, _, label = tag.rpartition(":")
    client.api.tag(old_id, repo, label, force=True)
    return image_id


def _check_updated(client: Any, run: str, stale_index: int, image_id: str, side: str) -> None:
    """Both sides must really update: a side that skipped the work must not look fast."""
    ours = {
        c["Names"][0].lstrip("/"): c
        for c in client.api.containers(all=True)
        if c["Names"][0].startswith(f"/{PREFIX}{run}-")
    }
    names = [f"{PREFIX}{run}-c{n}" for n in range(CONTAINERS) if n % IMAGES == stale_index]
    stale = [name for name in names if name not in ours or ours[name]["ImageID"] != image_id]
    running = [c for c in ours.values() if c["State"] == "running"]
    if stale or len(ours) != CONTAINERS or len(running) != CONTAINERS:
        raise SystemExit(
            f"{side} did not update as it should: not updated {stale}, {len(ours)} "
            f"containers, {len(running)} running"
        )


def _vigil(engine: str, state_dir: Path) -> tuple[float, float]:
    """One `vigil --run-once`: (wall time, start-up to the first scan's start)."""
    command = [
        str(Path(sys.executable).with_name("vigil")),
        "--run-once",
        "--label-enable",
        "--host-id",
        "bench",
        "--state-dir",
        str(state_dir),
        "--log-format",
        "json",
        "--stop-timeout",
        f"{STOP_TIMEOUT}s",
    ]
    env = {**os.environ, "DOCKER_HOST": engine}
    started = time.time()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"vigil --run-once failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, _scan_started(done.stdout + done.stderr) - started


def _scan_started(output: str) -> float:
    for line in output.splitlines():
        if '"scan started"' not in line:
            continue
        entry = json.loads(line)
        return datetime.fromisoformat(str(entry["time"]).replace("Z", "+00:00")).timestamp()
    raise SystemExit(f"no 'scan started' line in vigil's output: {output[-2000:]}")


def _ouroboros(binary: Path, engine: str) -> float:
    command = [str(binary), "--run-once", "--label-enable", "--labels-only", "-d", engine]
    command += ["--skip-startup-notifications", "-l", "info"]
    started = time.time()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"ouroboros --run-once failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall


def run_run_once_wall(*, rounds: int, stops: tuple[str, ...] = tuple(STOPS)) -> None:
    """One comparison per kind of stop in `stops` (keys of STOPS), each on fresh containers."""
    binary = ouroboros_binary()
    compile_bytecode()
    for stop in stops:
        _compare(binary, rounds=rounds, stop=stop)


def _compare(binary: Path | None, *, rounds: int, stop: str) -> None:
    client = connect_engine()
    engine = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    registry = RegistryServer()
    registry.start()
    proxy = RegistryProxy(registry.url)
    proxy.start()
    run = uuid.uuid4().hex[:6]
    rows: dict[str, list[tuple[float, int]]] = {"vigil": [], "ouroboros": []}
    startups: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="vigil-bench-ro-") as tmp:
            tags = _setup(client, proxy.host, run, STOPS[stop])
            sides = ["vigil", "ouroboros"] if binary else ["vigil"]
            print(
                f"run-once wall time: {CONTAINERS} containers on {IMAGES} images, one image "
                f"stale before each run ({CONTAINERS // IMAGES} containers to update); "
                f"{' and '.join(sides)}, alternating, {rounds} rounds; containers that stop "
                f"{'at once' if stop == 'at-once' else f'in their {STOP_TIMEOUT} s stop timeout'}"
            )
            for n in range(rounds):
                for side in sides if n % 2 == 0 else list(reversed(sides)):
                    stale_index = (n * 3 + len(rows[side])) % IMAGES
                    image_id = _make_stale(client, tags[stale_index], f"{run}-{side}-{n}")
                    before = len(proxy.requests())
                    if side == "vigil":
                        wall, startup = _vigil(engine, Path(tmp) / "state")
                        startups.append(startup)
                        extra = f", start-up to first scan {startup * 1000:4.0f} ms"
                    else:
                        assert binary is not None
                        wall, extra = _ouroboros(binary, engine), ""
                    count = len(proxy.requests()) - before
                    _check_updated(client, run, stale_index, image_id, side)
                    rows[side].append((wall, count))
                    print(
                        f"  round {n + 1} {side:<9}: {wall:5.2f} s, {count:3d} registry "
                        f"requests{extra}"
                    )
            medians = {s: statistics.median(w for w, _ in rows[s]) for s in sides}
            made = {s: statistics.median(r for _, r in rows[s]) for s in sides}
            print(
                f"[{stop}] median over {rounds} rounds: vigil {medians['vigil']:.2f} s, "
                f"{made['vigil']:g} registry requests; start-up to first scan "
                f"{statistics.median(startups) * 1000:.0f} ms (target < 500 ms)"
            )
            if binary:
                print(
                    f"[{stop}] median over {rounds} rounds: ouroboros "
                    f"{medians['ouroboros']:.2f} s, "
                    f"{made['ouroboros']:g} registry requests; vigil / ouroboros: "
                    f"{medians['vigil'] / medians['ouroboros']:.2f}x the wall time (target "
                    f"<= 1), {made['ouroboros'] / max(made['vigil'], 1):.1f}x fewer "
                    "registry requests"
                )
    finally:
        for container in client.containers.list(all=True):
            if container.name.startswith(PREFIX):
                container.remove(force=True)
        for image in client.images.list():
            for t in image.tags:
                if PREFIX in t:
                    client.api.remove_image(t, force=True)
        client.close()
        proxy.stop()
        registry.stop()
