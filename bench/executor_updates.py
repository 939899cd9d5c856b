"""Updating 20 containers in dependency chains: Vigil's executor beside the same steps done
directly through the Docker API.

Four chains of five containers (each depends on the previous through the depends-on label),
all on one stale tag. Vigil: `Executor.execute` on a real NATS (progress events, the journal
written before every step, the dependency order, the health gate). Direct: the same stops,
renames, creates (the same create body), starts and removals, in the same order, with nothing
else. The new image is pushed to a local registry and pulled before both sides run, so
Vigil's pull finds it up to date and neither side measures the registry much.

Vigil stops what does not depend on each other at once (stop waves: here the same link of
the four chains), so the direct side runs twice: `direct` stops one container after the
other, as a plain script (and watchtower) would; `direct-waves` stops each wave at once, as
Vigil does: the ratio to it is Vigil's own overhead, the ratio to `direct` what a user gains.

Printed per round and as medians: the wall time of the whole update, and each container's
downtime, from the engine's `die` event of the old container to the `start` event of the new
one. Targets (issues 5, 21): Vigil within 1.2 times the direct steps, downtime within 1.1.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from vigil.process.embedded_nats import EmbeddedNats
from vigil_executor.recreate import build_create_spec, container_name
from vigil_executor.service import Executor, ExecutorConfig
from vigil_gateway.service import Gateway, GatewayConfig
from vigil_shared import labels
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.contracts import Plan, UpdateAction
from vigil_shared.docker_engine import connect_engine
from vigil_shared.logs import Redactor
from vigil_shared.telemetry import Telemetry

PREFIX = "vigil-bench-exec-"
CHAINS, LENGTH = 4, 5


def _chains(client: Any, tag: str, run: str) -> list[list[str]]:
    chains = []
    for c in range(CHAINS):
        chain: list[str] = []
        for i in range(LENGTH):
            name = f"{PREFIX}{run}-{c}-{i}"
            extra = {labels.DEPENDS_ON: chain[-1]} if chain else {}
            client.containers.run(tag, name=name, detach=True, labels=extra)
            chain.append(name)
        chains.append(chain)
    return chains


def _downtimes(client: Any, names: set[str], since: float, until: float) -> list[float]:
    died: dict[str, float] = {}
    down: list[float] = []
    for event in client.api.events(
        since=int(since), until=int(until) + 1, decode=True, filters={"type": "container"}
    ):
        name = event.get("Actor", {}).get("Attributes", {}).get("name", "")
        at = event.get("timeNano", 0) / 1e9
        if name not in names or at < since:
            continue
        if event.get("status") == "die" and name not in died:
            died[name] = at
        elif event.get("status") == "start" and name in died:
            down.append(at - died.pop(name))
    return down


def _direct(client: Any, chains: list[list[str]], tag: str, *, waves: bool = False) -> None:
    """The same steps as Vigil's, straight through the API: stop dependents first (one at a
    time, or with `waves` each link of the chains at once), then rename, create, start,
    remove, dependencies first."""
    api = client.api
    olds = {name: api.inspect_container(name) for chain in chains for name in chain}
    if waves:
        with ThreadPoolExecutor(len(chains)) as pool:
            for link in reversed(range(LENGTH)):
                wave = [chain[link] for chain in chains]
                list(pool.map(lambda name: api.stop(name, timeout=10), wave))
    else:
        for chain in chains:
            for name in reversed(chain):
                api.stop(name, timeout=10)
    for chain in chains:
        for name in chain:
            old = olds[name]
            old_image = api.inspect_image(old["Image"])
            spec = build_create_spec(old, old_image, tag)
            api.rename(old["Id"], f"{name}-old")
            new_id = api.create_container_from_config(spec.body, name=container_name(old))["Id"]
            api.start(new_id)
            api.remove_container(old["Id"], force=True)


async def _vigil(bus: Bus, client: Any, chains: list[list[str]], tag: str) -> None:
    actions = []
    for chain in chains:
        for name in chain:
            data = client.api.inspect_container(name)
            actions.append(
                UpdateAction(
                    container_id=data["Id"],
                    container_name=name,
                    image=tag,
                    old_image_id=data["Image"],
                )
            )
    plan = Plan(
        plan_id=uuid.uuid4().hex,
        scan_id=uuid.uuid4().hex,
        host="bench",
        created_at=time.time(),
        actions=tuple(actions),
    )
    executor = Executor(bus, client, ExecutorConfig(host_id="bench"), Telemetry.disabled())
    await executor.start()
    report = await executor.execute(plan)
    failed = [r for r in report.results if r.status != "updated"]
    if failed:
        raise SystemExit(f"vigil did not update everything: {failed[:2]}")


def _next_second() -> float:
    now = time.time()
    time.sleep(int(now) + 1 - now)
    return float(int(now) + 1)


async def _run(rounds: int) -> None:
    client = connect_engine()
    run = uuid.uuid4().hex[:6]
    registry = RegistryServer()
    registry.start()
    tag = f"{registry.host}/{PREFIX}{run}:latest"
    with tempfile.TemporaryDirectory(prefix="vigil-bench-exec-") as tmp:
        nats = EmbeddedNats(Path(tmp) / "nats")
        nats.start()
        bus = await Bus.connect(BusConfig(url=nats.url), name="bench")
        await bus.ensure_streams()
        gateway = Gateway(bus, GatewayConfig(home=tmp), Redactor())  # answers pull-auth
        await gateway.start()
        sides = ("vigil", "direct", "direct-waves")
        rows: dict[str, list[tuple[float, list[float]]]] = {s: [] for s in sides}
        try:
            print(
                f"executor updates: {CHAINS * LENGTH} containers in {CHAINS} chains of "
                f"{LENGTH}, one stale tag; Vigil's executor beside the direct API steps"
            )
            for n in range(rounds):
                for side in sides[n % 3 :] + sides[: n % 3]:  # each side first in turn
                    build_test_image(client, tag, marker=f"old-{run}-{n}-{side}")
                    chains = _chains(client, tag, f"{run}-{n}-{sides.index(side)}")
                    build_test_image(client, tag, marker=f"new-{run}-{n}-{side}")
                    push_image(client, tag)
                    since = _next_second()
                    started = time.monotonic()
                    if side == "vigil":
                        await _vigil(bus, client, chains, tag)
                    else:
                        waves = side == "direct-waves"
                        await asyncio.to_thread(_direct, client, chains, tag, waves=waves)
                    wall = time.monotonic() - started
                    names = {name for chain in chains for name in chain}
                    down = _downtimes(client, names, since, time.time())
                    rows[side].append((wall, down))
                    print(
                        f"  round {n + 1} {side:<12}: {wall:6.2f} s for {len(names)} containers, "
                        f"downtime median {statistics.median(down) * 1000:6.0f} ms, "
                        f"max {max(down) * 1000:6.0f} ms"
                    )
                    for name in names:
                        client.api.remove_container(name, force=True)
            walls = {s: statistics.median(w for w, _ in rows[s]) for s in rows}
            downs = {s: statistics.median(d for _, ds in rows[s] for d in ds) for s in rows}
            for base in ("direct", "direct-waves"):
                print(
                    f"median over {rounds} rounds: Vigil {walls['vigil']:.2f} s, {base} "
                    f"{walls[base]:.2f} s (ratio {walls['vigil'] / walls[base]:.2f}, target "
                    f"<= 1.2); downtime per container Vigil {downs['vigil'] * 1000:.0f} ms, "
                    f"{base} {downs[base] * 1000:.0f} ms "
                    f"(ratio {downs['vigil'] / downs[base]:.2f}, target <= 1.1)"
                )
        finally:
            await gateway.close()
            await bus.close()
            nats.stop()
            registry.stop()
            for container in client.containers.list(all=True):
                if container.name.startswith(PREFIX):
                    container.remove(force=True)
            for image in client.images.list():
                for t in image.tags:
                    if t.startswith(PREFIX):
                        client.api.remove_image(t, force=True)
            client.close()


def run_executor_updates(*, rounds: int) -> None:
    try:
        asyncio.run(_run(rounds))
    except KeyboardInterrupt:
        sys.exit(130)
