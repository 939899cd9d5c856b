"""Vigil on a 3-node NATS cluster, one node SIGKILLed in the middle of a cycle.

Every part is real and separate: three `nats-server` nodes routed into one cluster (each its
own store and ports), `vigil registry-gateway`, `notifier`, `scanner` and `executor`
processes given all three URLs, the engine and the registry. The node killed is the leader
of the stream that holds the plans and reports, while the executor is stopping the
container: the cycle must complete and nothing in the journal, plans or reports be lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet import Fleet
from tests.support.images import StaleContainer
from tests.support.nats_cluster import NatsCluster, nats_cluster
from tests.support.registry_fixtures import RegistryServer
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.codec import BadMessage, decode
from vigil_shared.contracts import Report
from vigil_shared.contracts.journal import is_entry_key
from vigil_shared.failover import through_failover
from vigil_shared.kv_listing import kv_keys

__all__ = ["nats_cluster"]

pytestmark = pytest.mark.integration

HOST = "clustered"
# Stopping takes ~3 s (TERM is answered late): the node is killed during it.
SLOW_STOP = (
    'ENTRYPOINT ["/bin/sh", "-c", "trap \'sleep 3; exit 0\' TERM; while true; do sleep 1; done"]\n'
)


@pytest.fixture
async def cluster_bus(nats_cluster: NatsCluster) -> AsyncIterator[Bus]:
    bus = await Bus.connect(BusConfig(url=nats_cluster.url), name="cluster-test")
    yield bus
    await bus.close()


async def reports_in_stream(bus: Bus) -> list[Report]:
    """Every report of HOST the audit stream holds, oldest first."""
    found: list[Report] = []
    sub = await bus.js.subscribe(
        bus.subjects.report(HOST), stream=bus.subjects.stream_name, ordered_consumer=True
    )
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=2)
            except Exception:
                break
            try:
                found.append(decode(msg.data, Report))
            except BadMessage:
                continue
    finally:
        await sub.unsubscribe()
    return found


async def journal_keys(bus: Bus) -> list[str]:
    # Not kv.keys(): it can list a bucket that holds keys as empty (vigil_shared.kv_listing).
    keys = await kv_keys(bus.js, f"{bus.subjects.stream_name}_JOURNAL")
    # Replacements in flight only, not the host's list of reported plans.
    return [k for k in keys if k.startswith(f"{HOST}.") and is_entry_key(k)]


@pytest.mark.timeout(150)
async def test_a_node_killed_mid_cycle_loses_nothing(
    nats_cluster: NatsCluster,
    cluster_bus: Bus,
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    first = StaleContainer(docker_client, registry.host, names("web"), names("app"))
    second_name, second_repo = names("slow"), names("slowapp")
    fleet = Fleet(tmp_path, nats_cluster.url)
    try:
        fleet.start("registry-gateway", label="gateway")
        fleet.start("notifier", label="notifier")
        fleet.start("executor", "--stop-timeout", "10", label="executor", host=HOST)
        fleet.start("scanner", first.name, second_name, label="scanner", host=HOST)
        await asyncio.to_thread(fleet.wait_ready)

        # auto on a cluster of three: every stream and bucket Vigil made has three replicas.
        stream = cluster_bus.subjects.stream_name
        for name in (stream, f"KV_{stream}_JOURNAL", f"KV_{stream}_STATUS"):
            info = await cluster_bus.js.stream_info(name)
            assert info.config.num_replicas == 3, (name, info.config)

        # An earlier cycle, before anything breaks: its events must survive the kill.
        out, err = await asyncio.to_thread(fleet.trigger("--host", HOST).communicate, timeout=100)
        assert f"updated       {first.name} ({first.tag})" in out, out + err + fleet.logs()

        second = StaleContainer(
            docker_client, registry.host, second_name, second_repo, extra=SLOW_STOP
        )
        trigger = fleet.trigger("--host", HOST)
        executor = fleet.processes["executor"]
        # The second cycle's stop (the first cycle stopped `first` already).
        await asyncio.to_thread(executor.wait_for, ": stopping", count=2, timeout=60)
        leader = (await cluster_bus.js.stream_info(stream)).cluster
        assert leader is not None and leader.leader, "the stream has no cluster leader"
        killed = nats_cluster.node(leader.leader)
        killed.kill()

        out, err = await asyncio.to_thread(trigger.communicate, timeout=100)
        assert trigger.returncode == 0, out + err + fleet.logs()
        assert f"updated       {second.name} ({second.tag})" in out, out + err + fleet.logs()
        assert second.updated() and first.updated()
        # The notifier, reading its durable consumer through the failover, delivers it too.
        await asyncio.to_thread(
            fleet.processes["notifier"].wait_for, f"updated       {second.name}", timeout=30
        )
        leftovers = [c.name for c in docker_client.containers.list(all=True)
                     if c.name.startswith(second.name) and c.name != second.name]  # fmt: skip
        assert leftovers == []

        # Nothing lost: both cycles' reports are in the audit stream (the first one written
        # before the kill, to the node that died among others), and the journal is empty.
        # (A read may be served by a replica still catching up: read until it has caught up.)
        wanted = {(first.name, "updated"), (second.name, "updated")}
        statuses: set[tuple[str, str]] = set()
        deadline = time.monotonic() + 30
        while not wanted <= statuses and time.monotonic() < deadline:
            reports = await through_failover(lambda: reports_in_stream(cluster_bus), "reports")
            statuses = {(r.name, r.status) for report in reports for r in report.results}
        assert wanted <= statuses, statuses
        assert await through_failover(lambda: journal_keys(cluster_bus), "journal") == []

        # The next trigger works on the two nodes left.
        out, err = await asyncio.to_thread(fleet.trigger("--host", HOST).communicate, timeout=100)
        assert f"Vigil report for host {HOST}" in out, out + err + fleet.logs()
        assert all(p.running for p in fleet.processes.values()), fleet.logs()
    finally:
        status = fleet.stop_all()
    assert set(status.values()) == {0}, fleet.logs()
