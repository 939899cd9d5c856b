"""A fleet of two hosts: the local engine and a second dockerd (its own socket, data root and
bridge, reached over TCP with --tlsverify), services as separate `vigil` processes over one
NATS, one registry-gateway. One scanner process serves both engines (`--engine`).

`vigil trigger` updates the stale containers of both hosts, and the registry sees one
manifest request per unique image for the whole fleet.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from tests.support.second_engine import SecondEngine
from tests.support.vigil_process import VigilProcess, main_engine_url, run_vigil
from vigil.process.embedded_nats import EmbeddedNats

pytestmark = pytest.mark.integration

HOST_A, HOST_B = "fleet-a", "fleet-b"
SCOPE_LABEL = "com.centurylinklabs.watchtower.scope"


class Fleet:
    def __init__(self, a: Any, b: Any, registry: RegistryServer, names: Callable[[str], str]):
        self.a, self.b = a, b
        self.repos = {kind: names(kind) for kind in ("shared", "aonly", "bonly")}
        self.tags = {kind: f"{registry.host}/{repo}:latest" for kind, repo in self.repos.items()}
        # shared: the same build runs on both hosts (pulled on B from the registry).
        build_test_image(a, self.tags["shared"], marker="v1")
        push_image(a, self.tags["shared"])
        b.images.pull(self.tags["shared"])
        build_test_image(a, self.tags["aonly"], marker="v1")
        build_test_image(b, self.tags["bonly"], marker="v1")
        push_image(a, self.tags["aonly"])
        push_image(b, self.tags["bonly"])
        self.containers = {
            (HOST_A, "shared"): names("web"),
            (HOST_A, "aonly"): names("a2"),
            (HOST_B, "shared"): names("web"),
            (HOST_B, "bonly"): names("b2"),
        }
        # A scope of the test's own: the scanner leaves every other container alone.
        self.scope = names("scope")
        for (host, kind), name in self.containers.items():
            self.engine(host).containers.run(
                self.tags[kind], name=name, detach=True, labels={SCOPE_LABEL: self.scope}
            )
        # New builds in the registry, on neither host.
        self.new_ids = {}
        for kind, client in (("shared", a), ("aonly", a), ("bonly", b)):
            self.new_ids[kind] = build_test_image(client, self.tags[kind], marker="v2")
            push_image(client, self.tags[kind])
            client.api.remove_image(self.tags[kind])

    def engine(self, host: str) -> Any:
        return self.a if host == HOST_A else self.b

    def image_of(self, host: str, name: str) -> str:
        return str(self.engine(host).api.inspect_container(name)["Image"])


@pytest.fixture
def fleet(
    docker_client: Any,
    second_engine_factory: Callable[..., SecondEngine],
    registry: RegistryServer,
    names: Callable[[str], str],
) -> Iterator[tuple[Fleet, SecondEngine]]:
    engine_b = second_engine_factory(tls=True)
    client_b = engine_b.client()
    try:
        yield Fleet(docker_client, client_b, registry, names), engine_b
    finally:
        client_b.close()


def test_trigger_updates_both_hosts_with_one_manifest_request_per_image(
    tmp_path: Path,
    nats_server: EmbeddedNats,
    registry: RegistryServer,
    fleet: tuple[Fleet, SecondEngine],
) -> None:
    hosts, engine_b = fleet
    url = nats_server.url
    tls_env = {"DOCKER_CERT_PATH": str(engine_b.cert_path)}
    metrics_port = free_port()
    processes = [
        VigilProcess(tmp_path, "--nats-url", url, command="registry-gateway", label="gateway"),
        VigilProcess(
            tmp_path, "--nats-url", url, "--host-id", HOST_A, command="executor", label="exec-a"
        ),
        VigilProcess(
            tmp_path,
            *("--nats-url", url, "--host-id", HOST_B, "--docker-host", engine_b.tcp_url),
            "--tlsverify",
            env=tls_env,
            command="executor",
            label="exec-b",
        ),
        VigilProcess(
            tmp_path,
            *("--nats-url", url, "--tlsverify", "--scope", hosts.scope),
            *("--metrics-port", str(metrics_port)),
            *("--engine", f"{HOST_A}={main_engine_url()}"),
            *("--engine", f"{HOST_B}={engine_b.tcp_url}"),
            env=tls_env,
            command="scanner",
            label="scanner",
        ),
    ]
    try:
        for process in processes:
            process.wait_for("vigil is running")
        before = len(registry.requests())

        result = run_vigil("trigger", "--nats-url", url, "--timeout", "120s", "--json", timeout=180)
        logs = "\n".join(f"--- {p.label}\n{p.output}" for p in processes)
        assert result.returncode == 0, result.stdout + result.stderr + logs
        answer = json.loads(result.stdout)
        assert answer["silent"] == []
        reports = {r["host"]: r for r in answer["reports"]}
        assert set(reports) == {HOST_A, HOST_B}
        for host, report in reports.items():
            assert [r["status"] for r in report["results"]] == ["updated", "updated"], host

        for (host, kind), name in hosts.containers.items():
            assert hosts.image_of(host, name) == hosts.new_ids[kind], (host, name)

        # The checks of the whole fleet: one manifest request per unique image, by its tag
        # (the executors pull by digest, so those requests name sha256:...).
        by_tag = Counter(
            path.split("/manifests/")[0]
            for method, path, _ in registry.requests()[before:]
            if "/manifests/latest" in path
        )
        assert by_tag == Counter({f"/v2/{repo}": 1 for repo in hosts.repos.values()})
        # One scanner process, two hosts: watchtower's figure sums them, Vigil's names each.
        figures = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(
                httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
            )
            for sample in family.samples
        }
        assert figures[("watchtower_scans_total", ())] == 2
        for host in (HOST_A, HOST_B):
            assert figures[("vigil_host_scans_total", (("host", host), ("outcome", "run")))] == 1
        assert all(p.running for p in processes), logs
    finally:
        for process in processes:
            process.stop()
