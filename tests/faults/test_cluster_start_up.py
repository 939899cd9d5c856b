"""Services started together with a 3-node NATS cluster that has not formed yet.

The cluster's nodes come up one by one, as a compose file or a reboot starts them beside
Vigil: until a majority is routed, JetStream has no leader and answers nothing. Vigil's
services wait for it with a bounded backoff, say what they wait for, and run once it forms;
a cluster that never forms is a clear exit status 2, never a traceback (the notifier once
exited with `nats.errors.TimeoutError` from `ensure_streams`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nats_cluster import NatsCluster
from tests.support.vigil_process import VigilProcess

pytestmark = pytest.mark.integration

WAITING = "waiting for NATS JetStream"


@pytest.fixture
def forming(tmp_path: Path) -> Iterator[NatsCluster]:
    cluster = NatsCluster(tmp_path / "nats-cluster")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.timeout(150)
def test_services_started_before_the_cluster_forms_wait_and_then_run(
    forming: NatsCluster, tmp_path: Path
) -> None:
    forming.start_nodes("n1")  # one of three: no majority, no JetStream leader
    bus = ["--nats-url", forming.url, "--log-format", "json", "--nats-ready-timeout", "90"]
    services = [
        VigilProcess(tmp_path, *bus, command="notifier", label="notifier"),
        VigilProcess(tmp_path, *bus, "--host-id", "forming", command="executor", label="executor"),
    ]
    try:
        for service in services:
            service.wait_for(WAITING, timeout=60)
        assert all(s.running for s in services)
        forming.start_nodes("n2", "n3")
        forming.wait_for_meta_leader(60)
        for service in services:
            service.wait_for("NATS JetStream is ready", timeout=60)
            service.wait_for("vigil is running", timeout=60)
            assert service.running, service.output
        for service in services:
            assert service.stop() == 0, service.output
            assert "Traceback" not in service.output, service.output
            assert '"level":"error"' not in service.output.replace(" ", ""), service.output
    finally:
        for service in services:
            service.kill()


@pytest.mark.timeout(90)
def test_a_cluster_that_never_forms_is_a_clear_exit_2(forming: NatsCluster, tmp_path: Path) -> None:
    forming.start_nodes("n1")
    notifier = VigilProcess(
        tmp_path, "--nats-url", forming.url, "--nats-ready-timeout", "4",
        command="notifier", label="notifier",
    )  # fmt: skip
    try:
        assert notifier.process.wait(timeout=60) == 2, notifier.output
    finally:
        notifier.kill()
    out = notifier.output
    assert "NATS JetStream did not get ready within 4s" in out, out
    assert "--nats-ready-timeout" in out
    assert "Traceback" not in out, out
