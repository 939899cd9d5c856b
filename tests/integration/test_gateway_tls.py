"""TLS trust in the gateway: a registry with a private CA, and --registry-ca(-validate)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.certs import TestCA
from tests.support.gateway_fixtures import check
from tests.support.oci import push_tiny_image
from tests.support.registry_fixtures import RegistryServer
from vigil_gateway.service import Gateway, GatewayConfig, GatewayStartupError
from vigil_shared.bus import Bus
from vigil_shared.contracts import ImageCheck
from vigil_shared.logs import Redactor

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_registry(
    registry_factory: Callable[..., RegistryServer], tmp_path: Path
) -> tuple[RegistryServer, TestCA, str, str]:
    """A registry on 127.0.0.1 that speaks only TLS, with a certificate from a private CA,
    holding one image; (registry, CA, image, digest)."""
    ca = TestCA(tmp_path)
    server = registry_factory(tls=ca.server_cert())
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca.path))) as http:
        digest = push_tiny_image(http, server.url, "team/app", "latest", "tls")["digest"]
    return server, ca, f"{server.host}/team/app:latest", str(digest)


async def test_a_private_ca_is_a_clear_error_without_registry_ca(
    bus: Bus, gateway_factory: Any, tls_registry: tuple[RegistryServer, TestCA, str, str]
) -> None:
    server, _, image, _ = tls_registry
    await gateway_factory()
    untrusted = (await check(bus, ImageCheck(image=image)))[image]
    assert untrusted.outcome == "error"  # no fallback to plain HTTP, no pull-and-compare
    assert f"registry {server.host}: TLS certificate not trusted" in (untrusted.error or "")
    assert "--registry-ca" in (untrusted.error or "")


async def test_a_private_ca_works_with_registry_ca(
    bus: Bus, gateway_factory: Any, tls_registry: tuple[RegistryServer, TestCA, str, str]
) -> None:
    # One gateway per test: gateways on one bus share a queue group and split the requests.
    _, ca, image, digest = tls_registry
    await gateway_factory(registry_ca=str(ca.path))
    trusted = (await check(bus, ImageCheck(image=image)))[image]
    assert (trusted.outcome, trusted.remote_digest) == ("stale", digest)


async def test_insecure_registry_skips_verification_for_that_registry_only(
    bus: Bus, gateway_factory: Any, tls_registry: tuple[RegistryServer, TestCA, str, str]
) -> None:
    server, _, image, digest = tls_registry
    await gateway_factory(insecure_registries=(server.host,))
    status = (await check(bus, ImageCheck(image=image)))[image]
    assert (status.outcome, status.remote_digest) == ("stale", digest)


def _bundle(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.pem"
    if kind == "missing":
        return path
    if kind == "empty":
        path.write_text("")
    elif kind == "not-pem":
        path.write_text("just some text\n")
    elif kind == "unreadable":
        path.mkdir()  # a directory cannot be read as a file, even by root
    elif kind == "not-ca":
        path.write_bytes(TestCA(tmp_path, name="leaf", is_ca=False).pem)
    elif kind == "expired":
        path.write_bytes(TestCA(tmp_path, name="old CA", expired=True).pem)
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "no such file"),
        ("empty", "is empty"),
        ("not-pem", "holds no PEM certificate"),
        ("unreadable", "cannot be read"),
        ("not-ca", "is not a CA certificate"),
        ("expired", "expired on"),
    ],
)
def test_registry_ca_validate_refuses_each_kind_of_bad_bundle(
    bus: Bus, tmp_path: Path, kind: str, reason: str
) -> None:
    bundle = _bundle(tmp_path, kind)
    config = GatewayConfig(registry_ca=str(bundle), registry_ca_validate=True)
    with pytest.raises(GatewayStartupError) as caught:
        Gateway(bus, config, Redactor())
    assert str(caught.value).startswith(f"--registry-ca {bundle}")
    assert reason in str(caught.value)


def test_without_validate_a_bad_bundle_is_logged_and_the_gateway_runs(
    bus: Bus, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = _bundle(tmp_path, "not-pem")
    Gateway(bus, GatewayConfig(registry_ca=str(bundle)), Redactor())
    assert "registry CA bundle ignored" in caplog.text
