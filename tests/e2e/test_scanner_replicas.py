"""Scanners that scale out: three `vigil scanner --scanner-group` replicas serving the same two
hosts (the local engine and a second dockerd), over one NATS and one gateway. Every tick, each
host is scanned exactly once; with one replica killed, the next ticks still cover every host.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.registry_proxy import RegistryProxy
from tests.support.second_engine import SecondEngine
from tests.support.secured_nats import SecuredNats
from tests.support.vigil_process import VigilProcess, main_engine_url
from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.codec import decode
from vigil_shared.contracts import Plan

pytestmark = pytest.mark.integration

HOSTS = ("rep-a", "rep-b")
INTERVAL = 5
# The secured case has no slow check and kills nothing: ticks of 3 s leave its cycles (well
# under 1 s each) room enough, and its two ticks go by sooner.
SECURED_INTERVAL = 3
SCOPE_LABEL = "com.centurylinklabs.watchtower.scope"


async def _plans(url: str, options: dict[str, Any]) -> list[Plan]:
    nc = await nats.connect(url, **options)
    found: list[Plan] = []
    try:
        sub = await nc.jetstream().subscribe(
            "vigil.plan.*",
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        while True:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                return found
            found.append(decode(msg.data, Plan))
    finally:
        await nc.close()


def scans_per_tick(url: str, interval: int = INTERVAL, **options: Any) -> dict[int, Counter[str]]:
    """{tick: {host: cycles}} from the audit stream: a cycle is done when its plan is out (a
    replica killed mid-scan may have published its inventory, never its plan)."""
    ticks: dict[int, Counter[str]] = {}
    for plan in asyncio.run(_plans(url, options)):
        if plan.host in HOSTS:
            ticks.setdefault(int(plan.created_at // interval), Counter())[plan.host] += 1
    return ticks


def ticks_after(
    url: str, after: float, count: int, interval: int = INTERVAL, **options: Any
) -> dict[int, Counter[str]]:
    """The cycles of the `count` whole ticks that start after `after`, once they are over."""
    first = int(after // interval) + 1
    time.sleep(max(0.0, (first + count) * interval + 1 - time.time()))
    ticks = scans_per_tick(url, interval, **options)
    return {t: ticks.get(t, Counter()) for t in range(first, first + count)}


def run_in_scope(client: Any, tag: str, name: str, scope: str) -> None:
    """A container of a fresh image pushed to the registry, in the test's own scope."""
    build_test_image(client, tag, marker="v1")
    push_image(client, tag)
    client.containers.run(tag, name=name, detach=True, labels={SCOPE_LABEL: scope})


def keys_taken(replica: VigilProcess, host: str) -> list[str]:
    """The ticks (keys) of `host` whose cycle `replica` took, in order."""
    return re.findall(rf"cycle taken .*host={host} key=(\S+)", replica.output)


def tick_key(tick: int) -> str:
    """The key every replica gives the tick that starts at `tick * INTERVAL` (ticks.py's
    interval_key)."""
    return f"{tick}@{INTERVAL}s"


def taker_of(
    replicas: list[VigilProcess], host: str, key: str, timeout: float
) -> VigilProcess | None:
    """The replica that takes `host`'s cycle of the tick `key`, as soon as it has taken it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for replica in replicas:
            if key in keys_taken(replica, host):
                return replica
        time.sleep(0.02)
    return None


def test_each_host_is_scanned_exactly_once_per_tick_even_when_a_replica_dies(
    tmp_path: Path,
    nats_server: EmbeddedNats,
    docker_client: Any,
    second_engine: SecondEngine,
    registry: RegistryServer,
    names: Callable[[str], str],
) -> None:
    url = nats_server.url
    scope = names("scope")
    # Checks of host A's image take 1.5 s (and are not reused), so a replica can be killed
    # while it holds host A's cycle.
    proxy = RegistryProxy(registry.url)
    proxy.start()
    client_b = second_engine.client()
    try:
        slow = names("slow")
        for client, host, repo in (
            (docker_client, proxy.host, slow),
            (client_b, registry.host, names("app")),
        ):
            run_in_scope(client, f"{host}/{repo}:latest", names("c"), scope)
    finally:
        client_b.close()
    proxy.fault(f"/v2/{slow}/manifests/", delay=1.5)

    gateway = VigilProcess(
        tmp_path,
        *("--nats-url", url, "--digest-cache-ttl", "0"),
        command="registry-gateway",
        label="gw",
    )
    replicas = [
        VigilProcess(
            tmp_path,
            *("--nats-url", url, "--scanner-group", "pool", "--interval", str(INTERVAL)),
            *("--scope", scope),
            *("--engine", f"{HOSTS[0]}={main_engine_url()}"),
            *("--engine", f"{HOSTS[1]}={second_engine.url}"),
            command="scanner",
            label=f"replica-{n}",
        )
        for n in range(3)
    ]
    processes = [gateway, *replicas]

    def logs() -> str:
        return "\n".join(f"--- {p.label}\n{p.output}" for p in processes)

    try:
        for process in processes:
            process.wait_for("vigil is running")
        every_host_once = Counter(dict.fromkeys(HOSTS, 1))

        # Two whole ticks with the three replicas, then the tick of the kill and two more.
        # The kill lands in the tick right after the first two (whose audit is read at the
        # end, with the others): no tick goes by unwatched while the first two are counted.
        first = int(time.time() // INTERVAL) + 1
        # Kill the replica that takes host A's cycle of that tick, while it waits for the
        # registry.
        holder = taker_of(replicas, HOSTS[0], tick_key(first + 2), timeout=4 * INTERVAL)
        assert holder is not None, logs()
        holder.kill()
        killed_at = time.time()
        assert int(killed_at // INTERVAL) == first + 2, (killed_at, first, logs())
        held = tick_key(first + 2)
        survivors = [r for r in replicas if r is not holder]

        ticks = ticks_after(url, first * INTERVAL - 1, 5)
        assert all(scans == every_host_once for scans in ticks.values()), (ticks, logs())
        # The cycle the killed replica held was taken again, by a survivor.
        assert any(held in keys_taken(r, HOSTS[0]) for r in survivors), (held, logs())
        assert all(p.running for p in [gateway, *survivors]), logs()
    finally:
        # The replicas before the gateway: one stopped mid-cycle finishes that cycle first,
        # and with the gateway gone it would wait out its check's timeout.
        for process in reversed(processes):
            process.stop()
        proxy.stop()


def test_replicas_of_a_group_work_on_the_secured_bus_as_one_scanner_pool_user(
    tmp_path: Path,
    docker_client: Any,
    second_engine: SecondEngine,
    registry: RegistryServer,
    names: Callable[[str], str],
) -> None:
    """deploy/nats with `make-users.py --scanner-pool pool=rep-a,rep-b`: two replicas log in
    as scanner-pool over TLS; the work queue's JetStream calls are all permitted."""
    nats_server = SecuredNats(tmp_path / "nats", HOSTS, pools=[("pool", HOSTS)])
    nats_server.start()
    scope = names("scope")
    client_b = second_engine.client()
    try:
        for client in (docker_client, client_b):
            run_in_scope(client, f"{registry.host}/{names('app')}:latest", names("c"), scope)
    finally:
        client_b.close()
    gateway = VigilProcess(
        tmp_path, env=nats_server.env("registry-gateway"), command="registry-gateway", label="gw"
    )
    processes = [gateway]
    try:
        # The hub first: only its user may create the stream and the heartbeat bucket.
        gateway.wait_for("vigil is running")
        processes += [
            VigilProcess(
                tmp_path,
                *("--scanner-group", "pool", "--interval", str(SECURED_INTERVAL)),
                *("--scope", scope),
                *("--engine", f"{HOSTS[0]}={main_engine_url()}"),
                *("--engine", f"{HOSTS[1]}={second_engine.url}"),
                env=nats_server.env("scanner-pool"),
                command="scanner",
                label=f"replica-{n}",
            )
            for n in range(2)
        ]
        for process in processes:
            process.wait_for("vigil is running")
        ticks = ticks_after(
            nats_server.url, time.time(), 2, SECURED_INTERVAL, **nats_server.spy_options()
        )
        logs = "\n".join(f"--- {p.label}\n{p.output}" for p in processes)
        assert all(scans == Counter(dict.fromkeys(HOSTS, 1)) for scans in ticks.values()), (
            ticks,
            logs,
        )
        assert "NATS refused" not in logs, logs
        assert "Violation" not in nats_server.server_log, nats_server.server_log[-3000:]
    finally:
        # The replicas before the gateway: one stopped mid-cycle finishes that cycle first,
        # and with the gateway gone it would wait out its check's timeout.
        for process in reversed(processes):
            process.stop()
        nats_server.stop()
