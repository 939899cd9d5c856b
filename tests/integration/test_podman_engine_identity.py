"""The engine's kind, asked once per engine and said in the log, on a real Podman engine."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from vigil_shared.docker_engine import connect_engine
from vigil_shared.engine_kind import engine_of, identify_client

pytestmark = [pytest.mark.integration]


def test_the_engine_kind_is_asked_once_per_engine(
    podman_service: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vigil_shared.docker_engine")
    client = connect_engine(podman_service.url)
    try:
        asked: list[None] = []
        version = client.api.version

        def counted(*args: Any, **kwargs: Any) -> Any:
            asked.append(None)
            return version(*args, **kwargs)

        client.api.version = counted
        # Each create and image inspect of an update asks which engine this is.
        assert [engine_of(client.api) for _ in range(3)] == ["podman"] * 3
        assert identify_client(client).kind == "podman"
        assert identify_client(client).version.startswith(("4.", "5."))
        assert asked == [], "connect_engine's /version answer is the only one asked"
    finally:
        client.close()
    said = [r.getMessage() for r in caplog.records if r.name == "vigil_shared.docker_engine"]
    assert any(f"engine at {podman_service.url}: Podman " in line for line in said), said


def test_the_heartbeat_names_the_podman_engine(podman_service: Any) -> None:
    from types import SimpleNamespace

    from vigil_shared.heartbeat import executor_details, scanner_details

    client = connect_engine(podman_service.url)
    try:
        executor = SimpleNamespace(engine=client, last_report=None)
        scanner = SimpleNamespace(
            engine=client,
            last_scan_id="",
            last_scan_at=0.0,
            scans_total=0,
            scans_skipped=0,
            next_cycle_at=0.0,
        )
        for details in (executor_details(executor), scanner_details(scanner)):
            assert str(details()["engine"]).startswith("Podman "), details()
    finally:
        client.close()


def test_the_rootless_podman_socket_is_used_when_no_docker_answers(
    podman_service: Any, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A Podman service on `$XDG_RUNTIME_DIR/podman/podman.sock`, no DOCKER_HOST, and no
    Docker engine at the Docker socket: Vigil reaches Podman there and says so."""
    import shutil
    import subprocess
    import tempfile
    import time
    from pathlib import Path

    from vigil_shared.engine_socket import socket_answers

    runtime = Path(tempfile.mkdtemp(prefix="vigil-xdg-", dir="/tmp"))  # short: a socket path
    sock = runtime / "podman" / "podman.sock"
    sock.parent.mkdir()
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=podman_service.env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not socket_answers(f"unix://{sock}"):
            assert service.poll() is None, "podman system service ended"
            assert time.monotonic() < deadline, "podman system service did not answer"
            time.sleep(0.1)
        caplog.set_level(logging.INFO, logger="vigil_shared.docker_engine")
        env = {"XDG_RUNTIME_DIR": str(runtime), "PATH": "/usr/bin:/bin"}
        client = connect_engine(env=env, docker_socket=f"unix://{runtime}/no-docker.sock")
        try:
            assert client.api.base_url.startswith("http+docker://")
            assert identify_client(client).kind == "podman"
            assert client.ping()
        finally:
            client.close()
    finally:
        service.terminate()
        service.wait(timeout=30)
        shutil.rmtree(runtime, ignore_errors=True)
    said = " | ".join(r.getMessage() for r in caplog.records)
    assert f"using the rootless Podman socket unix://{sock}" in said, said
