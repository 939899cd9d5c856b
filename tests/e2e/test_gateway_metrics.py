"""A standalone registry-gateway with --metrics-port: figures a Prometheus server scrapes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from tests.support.registry_proxy import RegistryProxy
from tests.support.vigil_process import clean_env, run_vigil
from vigil.process.embedded_nats import EmbeddedNats

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(registry: RegistryServer) -> Iterator[RegistryProxy]:
    with RegistryProxy(registry.url) as p:
        yield p


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_show_requests_outcomes_and_rate_limits(
    nats_server: EmbeddedNats,
    registry: RegistryServer,
    proxy: RegistryProxy,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    pushed = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, pushed)
    push_image(docker_client, pushed)
    image = pushed.replace(registry.host, proxy.host)  # the same repository, through the proxy
    proxy.fault(
        r"/manifests/",
        headers={"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "76;w=21600"},
    )
    port = free_port()
    gateway = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vigil.cli",
            "registry-gateway",
            "--nats-url",
            nats_server.url,
            "--metrics-port",
            str(port),
            "--metrics-address",
            "127.0.0.1",
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the metrics endpoint never answered"
                time.sleep(0.1)
        check = run_vigil("check", "--nats-url", nats_server.url, image, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "rate limit:    76 of 100 left" in check.stdout

        found = samples(httpx.get(url).text)
        assert found[("vigil_registry_manifest_requests_total", ())] == 1
        assert found[("vigil_registry_checks_total", (("outcome", "stale"),))] == 1
        assert found[("vigil_registry_ratelimit_limit", (("registry", proxy.host),))] == 100
        assert found[("vigil_registry_ratelimit_remaining", (("registry", proxy.host),))] == 76
    finally:
        gateway.send_signal(signal.SIGTERM)
        out, err = gateway.communicate(timeout=30)
    assert gateway.returncode == 0, out + err
