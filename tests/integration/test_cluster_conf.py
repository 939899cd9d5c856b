"""deploy/nats/cluster-{1,2,3}.conf as an operator runs them: three nodes that share
cluster.conf (and fleet.conf: TLS, users, JetStream with fsync) form one cluster over routes
verified by TLS both ways, and Vigil's streams and buckets get three replicas on it.
Only the paths and addresses are the test's (127.0.0.1, its ports and files)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats.errors
import pytest

from tests.support.certs import TestCA
from tests.support.secured_nats import SPY, make_users
from vigil.process.embedded_nats import free_port, launch_nats_server, stop_nats_server
from vigil_shared.bus import Bus, BusConfig, BusError

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nats"
NODES = 3


class DeployedCluster:
    def __init__(self, workdir: Path) -> None:
        self.ca = TestCA(workdir, name="vigil cluster CA")
        self.cert, self.key = self.ca.node_cert("nats-node")
        tools = make_users()
        spy = tools.User(SPY, "test", "", tools.Permissions(publish=(">",), subscribe=(">",)))
        users = [*tools.fleet_users(("h1",)), spy]
        self.passwords = {u.name: secrets.token_urlsafe(12) for u in users}
        users_conf = tools.render(users, tools.hashed(self.passwords, cost=4))
        self.ports = [free_port() for _ in range(NODES)]
        routes = [free_port() for _ in range(NODES)]
        self.dirs = [workdir / f"node-{i + 1}" for i in range(NODES)]
        for i, node in enumerate(self.dirs):
            node.mkdir()
            (node / "users.conf").write_text(users_conf)
            replace = {
                "/etc/nats/tls/server.crt": str(self.cert),
                "/etc/nats/tls/server.key": str(self.key),
                "/etc/nats/tls/ca.crt": str(self.ca.path),
                "/data/jetstream": str(node / "jetstream"),
                "0.0.0.0:4222": f"127.0.0.1:{self.ports[i]}",
                "0.0.0.0:6222": f"127.0.0.1:{routes[i]}",
                **{f"nats-{n + 1}.example:6222": f"127.0.0.1:{routes[n]}" for n in range(NODES)},
            }
            for name in ("fleet.conf", "cluster.conf", f"cluster-{i + 1}.conf"):
                text = (DEPLOY / name).read_text()
                for old, new in replace.items():
                    text = text.replace(old, new)
                (node / name).write_text(text)
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return ",".join(f"tls://127.0.0.1:{p}" for p in self.ports)

    def config(self, user: str, **kw: object) -> BusConfig:
        return BusConfig(
            url=self.url,
            user=user,
            password=self.passwords[user],
            tls_ca=str(self.ca.path),
            **kw,  # type: ignore[arg-type]
        )

    def start(self) -> None:
        for i, node in enumerate(self.dirs):
            self.processes.append(
                launch_nats_server(
                    node / f"cluster-{i + 1}.conf", node / "nats-server.log", self.ports[i]
                )
            )

    def stop(self) -> None:
        for process in self.processes:
            stop_nats_server(process)

    async def wait_formed(self, timeout: float = 30) -> None:
        """Until every node's INFO lists all three members, as an operator's cluster has long
        been when Vigil starts: a node that has just started may know only some of its routes,
        and `--nats-replicas auto` reads the cluster's size from the INFO it gets."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            sizes = []
            for port in self.ports:
                config = self.config(SPY)
                config = BusConfig(
                    url=f"tls://127.0.0.1:{port}",
                    user=config.user,
                    password=config.password,
                    tls_ca=config.tls_ca,
                )
                bus = await Bus.connect(config, name="formed?")
                sizes.append(len(set(bus.nc._server_info.get("connect_urls") or ())))
                await bus.close()
            if all(size == NODES for size in sizes):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the cluster did not form: {sizes}\n{self.logs()}")
            await asyncio.sleep(0.2)

    def logs(self) -> str:
        return "\n".join((d / "nats-server.log").read_text(errors="replace")[-1500:]
                         for d in self.dirs)  # fmt: skip


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[DeployedCluster]:
    cluster = DeployedCluster(tmp_path)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def gateway_bus(deployed: DeployedCluster) -> AsyncIterator[Bus]:
    await deployed.wait_formed()
    # The registry-gateway's user may create and change Vigil's streams (docs/security.md).
    bus = await Bus.connect(deployed.config("registry-gateway"), name="gateway")
    yield bus
    await bus.close()


async def ensure_when_jetstream_answers(bus: Bus) -> None:
    """The streams, once the cluster's JetStream has elected its meta leader."""
    for _ in range(100):
        try:
            await bus.ensure_streams()
            return
        except nats.errors.Error:  # 503 / no answer until the meta group has a leader
            await asyncio.sleep(0.2)
    await bus.ensure_streams()


@pytest.mark.timeout(90)
async def test_the_deployed_cluster_keeps_three_replicas(
    deployed: DeployedCluster, gateway_bus: Bus
) -> None:
    await ensure_when_jetstream_answers(gateway_bus)
    await gateway_bus.key_value("STATUS")
    for name in ("VIGIL", "KV_VIGIL_STATUS"):
        info = await gateway_bus.js.stream_info(name)
        assert info.config.num_replicas == 3, name
        assert info.cluster is not None and info.cluster.name == "vigil"
        # Three nodes hold it, named by their own files (cluster-N.conf).
        peers = {info.cluster.leader, *(p.name for p in info.cluster.replicas or [])}
        assert peers == {"vigil-nats-1", "vigil-nats-2", "vigil-nats-3"}, deployed.logs()


@pytest.mark.timeout(90)
async def test_an_existing_single_replica_stream_is_raised_to_three(
    deployed: DeployedCluster,
) -> None:
    one = await Bus.connect(deployed.config("registry-gateway", replicas=1), name="r1")
    try:
        await ensure_when_jetstream_answers(one)
        assert (await one.js.stream_info("VIGIL")).config.num_replicas == 1
    finally:
        await one.close()
    auto = await Bus.connect(deployed.config("registry-gateway"), name="auto")
    try:
        await auto.ensure_streams()
        assert (await auto.js.stream_info("VIGIL")).config.num_replicas == 3
    finally:
        await auto.close()


@pytest.mark.timeout(90)
async def test_more_replicas_than_nodes_is_an_error_naming_the_option(
    deployed: DeployedCluster,
) -> None:
    five = await Bus.connect(deployed.config("registry-gateway", replicas=5), name="r5")
    try:
        with pytest.raises(
            BusError, match=r"NATS cannot keep 5 replicas of VIGIL: .*--nats-replicas"
        ):
            await ensure_when_jetstream_answers(five)
    finally:
        await five.close()
