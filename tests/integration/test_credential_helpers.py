"""Credential helpers in the registry-gateway, against a real htpasswd registry over real NATS.

The helpers are shell scripts `docker-credential-NAME` in tmp_path, which is put in front of
PATH: the gateway builds its CredentialStore itself, and the store reads PATH at each lookup.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway_fixtures import check
from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from vigil_shared.bus import Bus
from vigil_shared.contracts import ImageCheck

pytestmark = pytest.mark.integration

USER, PASSWORD = "alice", "correct-horse-battery"


@pytest.fixture
def helper_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "helpers"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


def write_helper(directory: Path, name: str, stdout: str, status: int = 0) -> Path:
    """`docker-credential-NAME get`: appends its stdin to NAME.log, prints `stdout`."""
    log = directory / f"{name}.log"
    script = directory / f"docker-credential-{name}"
    script.write_text(
        "#!/bin/sh\n"
        f'printf \'%s %s\\n\' "$1" "$(cat)" >> {shlex.quote(str(log))}\n'
        f"printf '%s\\n' {shlex.quote(stdout)}\n"
        f"exit {status}\n"
    )
    script.chmod(0o755)
    return log


def docker_config(tmp_path: Path, config: dict[str, Any]) -> str:
    directory = tmp_path / "docker-config"
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return str(directory)


def published(client: Any, registry: RegistryServer, name: str, **push: Any) -> tuple[str, str]:
    tag = f"{registry.host}/{name}:latest"
    build_test_image(client, tag, marker=name)
    return tag, push_image(client, tag, **push)


async def test_credentials_from_a_cred_helper_open_an_htpasswd_registry(
    bus: Bus,
    gateway_factory: Any,
    registry_factory: Callable[..., RegistryServer],
    docker_client: Any,
    names: Any,
    tmp_path: Path,
    helper_dir: Path,
) -> None:
    server = registry_factory(htpasswd={USER: PASSWORD})
    auth = {"username": USER, "password": PASSWORD, "serveraddress": server.host}
    tag, digest = published(docker_client, server, names("app"), auth=auth)
    other, other_digest = published(docker_client, server, names("other"), auth=auth)
    answer = {"ServerURL": server.host, "Username": USER, "Secret": PASSWORD}
    log = write_helper(helper_dir, "vigiltest", json.dumps(answer))
    # The auths entry is wrong on purpose: the credHelpers entry comes first, as in Docker.
    config = {
        "credHelpers": {server.host: "vigiltest"},
        "auths": {server.host: {"username": USER, "password": "wrong-password"}},
    }
    await gateway_factory(docker_config_env=docker_config(tmp_path, config), digest_cache_ttl=0)

    for _ in range(3):
        results = await check(bus, ImageCheck(image=tag), ImageCheck(image=other))
        assert (results[tag].outcome, results[tag].remote_digest) == ("stale", digest)
        assert (results[other].outcome, results[other].remote_digest) == ("stale", other_digest)
        assert results[tag].credentials == "docker-credential-vigiltest"
        assert results[other].credentials == "docker-credential-vigiltest"
    # Six checks, no answer cache: the helper's answer is reused, it ran once.
    assert log.read_text().splitlines() == [f"get {server.host}"]


async def test_a_helper_printing_garbage_is_an_error_for_its_registry_only(
    bus: Bus,
    gateway_factory: Any,
    registry_factory: Callable[..., RegistryServer],
    registry: RegistryServer,
    docker_client: Any,
    names: Any,
    tmp_path: Path,
    helper_dir: Path,
) -> None:
    server = registry_factory(htpasswd={USER: PASSWORD})
    auth = {"username": USER, "password": PASSWORD, "serveraddress": server.host}
    locked, _ = published(docker_client, server, names("locked"), auth=auth)
    open_tag, open_digest = published(docker_client, registry, names("open"))
    write_helper(helper_dir, "vigilbroken", "Traceback: keyring exploded")
    config = {"credHelpers": {server.host: "vigilbroken"}}
    await gateway_factory(docker_config_env=docker_config(tmp_path, config))

    results = await check(bus, ImageCheck(image=locked), ImageCheck(image=open_tag))
    assert results[locked].outcome == "error"
    error = results[locked].error or ""
    assert f"credential helper docker-credential-vigilbroken for {server.host}" in error
    assert "not JSON: 'Traceback: keyring exploded'" in error
    assert PASSWORD not in error
    # The open registry has no helper entry and no credsStore: anonymous, and fine.
    assert (results[open_tag].outcome, results[open_tag].remote_digest) == ("stale", open_digest)
    assert results[open_tag].credentials == "anonymous"


async def test_a_helper_without_credentials_means_anonymous(
    bus: Bus,
    gateway_factory: Any,
    registry_factory: Callable[..., RegistryServer],
    docker_client: Any,
    names: Any,
    tmp_path: Path,
    helper_dir: Path,
) -> None:
    server = registry_factory(htpasswd={USER: PASSWORD})
    auth = {"username": USER, "password": PASSWORD, "serveraddress": server.host}
    tag, _ = published(docker_client, server, names("app"), auth=auth)
    write_helper(helper_dir, "vigilempty", "credentials not found in native keychain", status=1)
    await gateway_factory(docker_config_env=docker_config(tmp_path, {"credsStore": "vigilempty"}))

    result = (await check(bus, ImageCheck(image=tag)))[tag]
    assert result.outcome == "error"
    assert f"registry {server.host}: unauthorized" in (result.error or "")
    assert "credential helper" not in (result.error or "")
    assert result.credentials == "anonymous"
