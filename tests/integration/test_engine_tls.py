"""--tlsverify and DOCKER_CERT_PATH against a real engine that listens on TCP with
`--tlsverify` (a second dockerd): verified TLS works whatever the environment's CA bundle
says; a plain client, a client of another CA and missing certificate files get clear errors."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.certs import TestCA
from tests.support.second_engine import SecondEngine, use_as_docker_cert_path
from tests.support.vigil_process import run_vigil
from vigil_shared.docker_engine import (
    EngineTlsError,
    EngineUnavailable,
    connect_engine,
    default_cert_path,
    engine_tls,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_engine(second_engine_factory: Callable[..., SecondEngine]) -> SecondEngine:
    return second_engine_factory(tls=True)


def test_verified_tls_reaches_the_engine_whatever_the_environment_trusts(
    tls_engine: SecondEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bundle that does not hold the engine's CA: requests would use it instead of ca.pem.
    other = TestCA(tmp_path, name="unrelated CA")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other.path))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other.path))
    client = connect_engine(tls_engine.tcp_url, tls=engine_tls(tls_engine.cert_path))
    try:
        assert client.api.base_url.startswith("https://127.0.0.1:")
        assert client.ping() is True
        assert client.containers.list(all=True) == []  # its own engine, not the first one
    finally:
        client.close()


def test_a_plain_client_is_refused_with_the_engine_named(tls_engine: SecondEngine) -> None:
    with pytest.raises(EngineUnavailable, match=f"Docker engine at {tls_engine.tcp_url}"):
        connect_engine(tls_engine.tcp_url, timeout=5)


def test_a_client_certificate_of_another_ca_is_refused(
    tls_engine: SecondEngine, tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(tls_engine.cert_path / "ca.pem", mine / "ca.pem")  # trusts the engine...
    stranger = TestCA(tmp_path, name="stranger CA")
    use_as_docker_cert_path(*stranger.client_cert(), mine)  # ...with a cert it does not
    with pytest.raises(EngineUnavailable, match="cannot reach the Docker engine"):
        connect_engine(tls_engine.tcp_url, tls=engine_tls(mine), timeout=5)


def test_missing_certificate_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    with pytest.raises(EngineTlsError, match=r"cert\.pem, key\.pem not found in"):
        engine_tls(tmp_path)
    assert default_cert_path({"DOCKER_CERT_PATH": "/certs"}) == "/certs"
    assert default_cert_path({"HOME": "/home/op"}) == "/home/op/.docker"


def test_vigil_with_tlsverify_and_no_certificates_stops_with_exit_2(tmp_path: Path) -> None:
    result = run_vigil(
        "scanner",
        *("--nats-url", "nats://127.0.0.1:9", "--host-id", "h1"),
        *("--docker-host", "tcp://127.0.0.1:2376", "--tlsverify"),
        env={"DOCKER_CERT_PATH": str(tmp_path)},
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert f"ca.pem, cert.pem, key.pem not found in {tmp_path}" in result.stderr
