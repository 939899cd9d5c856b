"""The Docker adapter: one way to reach an engine, with the API version negotiated.

A client pinned to an old API version is refused by Docker 29 (it wants 1.44 or newer), and a
client pinned to a new one is refused by older engines such as Debian's (1.41). So the client
asks the engine which versions it speaks and uses the newest both sides know.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import docker
import docker.auth
import docker.errors
import docker.tls
import docker.utils.config
import requests.exceptions

from vigil_shared.engine_kind import identify_engine, remember_identity
from vigil_shared.engine_socket import DOCKER_SOCKET, find_default_engine
from vigil_shared.logs import get_logger

log = get_logger(__name__)

# The newest API version this code is written and tested against; docker-py 7 knows it.
CLIENT_MAX_API = "1.47"
# The oldest one it can work with: an engine that speaks nothing newer is refused clearly.
CLIENT_MIN_API = "1.24"


class EngineUnavailable(Exception):
    """The engine did not answer, or speaks no API version we can use; names the engine."""


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def choose_api_version(engine_version: str, engine_min_version: str | None) -> str:
    """The API version to speak: the newest that both the engine and this client know.

    Pure, so the rule is tested by a table (Debian's 1.41 engine, Docker 29 with min 1.44).
    """
    chosen = engine_version if _key(engine_version) <= _key(CLIENT_MAX_API) else CLIENT_MAX_API
    if engine_min_version and _key(chosen) < _key(engine_min_version):
        raise ValueError(
            f"the engine needs API {engine_min_version} or newer; this client speaks at most "
            f"{CLIENT_MAX_API}"
        )
    if _key(chosen) < _key(CLIENT_MIN_API):
        raise ValueError(f"the engine speaks API {engine_version}; Vigil needs {CLIENT_MIN_API}+")
    return chosen


class EngineTlsError(EngineUnavailable):
    """--tlsverify was asked for but the certificates are not there; names the files."""


TLS_FILES = ("ca.pem", "cert.pem", "key.pem")


def engine_tls(cert_path: str | os.PathLike[str]) -> docker.tls.TLSConfig:
    """TLS to a `tcp://` engine, verified, as the Docker CLI does with --tlsverify: the CA,
    client certificate and key are `ca.pem`, `cert.pem` and `key.pem` in DOCKER_CERT_PATH."""
    folder = Path(cert_path).expanduser()
    missing = [name for name in TLS_FILES if not (folder / name).is_file()]
    if missing:
        raise EngineTlsError(
            f"--tlsverify: {', '.join(missing)} not found in {folder} "
            "(set DOCKER_CERT_PATH to the folder with ca.pem, cert.pem and key.pem)"
        )
    try:
        return docker.tls.TLSConfig(
            client_cert=(str(folder / "cert.pem"), str(folder / "key.pem")),
            ca_cert=str(folder / "ca.pem"),
            verify=True,
        )
    except docker.errors.TLSParameterError as exc:
        raise EngineTlsError(f"--tlsverify: {exc}") from None


def default_cert_path(env: Mapping[str, str]) -> str:
    """DOCKER_CERT_PATH, else ~/.docker (as the Docker CLI)."""
    return env.get("DOCKER_CERT_PATH") or str(Path(env.get("HOME") or "~") / ".docker")


def describe(base_url: str | None) -> str:
    return base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect_engine(
    base_url: str | None = None,
    *,
    tls: Any = None,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    docker_socket: str = DOCKER_SOCKET,
) -> docker.DockerClient:
    """A client for the engine at `base_url` (default: DOCKER_HOST, else the local socket).

    The version is negotiated with `/version`, which every engine answers without a version
    prefix; failure to connect is an EngineUnavailable naming the engine.
    """
    if base_url is None:
        # Nothing named: Docker's socket, else a rootless Podman's when only it answers.
        choice = find_default_engine(env or os.environ, docker_socket=docker_socket)
        if choice.url:
            log.info(choice.reason, engine=choice.url)
            base_url = choice.url
    where = describe(base_url)
    try:
        with _no_config_json():
            probe = _probe(base_url, tls, timeout, env)
        raw = probe.api.get(probe.api.base_url + "/version", timeout=timeout)
        raw.raise_for_status()
        info = raw.json()
        probe.close()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise EngineUnavailable(f"cannot reach the Docker engine at {where}: {exc}") from exc
    except ValueError as exc:
        raise EngineUnavailable(f"the Docker engine at {where} gave a bad answer: {exc}") from exc
    try:
        version = choose_api_version(str(info["ApiVersion"]), info.get("MinAPIVersion"))
    except (KeyError, ValueError) as exc:
        raise EngineUnavailable(f"cannot use the Docker engine at {where}: {exc}") from exc
    with _no_config_json():
        if base_url is None:
            client = _without_registry_auth(
                docker.DockerClient.from_env(
                    version=version, timeout=timeout, environment=dict(env or os.environ)
                )
            )
        else:
            client = _without_registry_auth(
                docker.DockerClient(base_url=base_url, version=version, tls=tls, timeout=timeout)
            )
    # The /version answer above says which engine this is (a fleet mixes Docker and Podman):
    # kept on the client, so nothing asks again, and said once in the log.
    identity = identify_engine(info)
    remember_identity(client.api, identity)
    log.info(f"engine at {where}: {identity.describe()}", engine=where, engine_kind=identity.kind)
    return client


def _probe(
    base_url: str | None, tls: Any, timeout: float, env: Mapping[str, str] | None
) -> docker.DockerClient:
    if base_url is None:
        return _verified_only(
            docker.DockerClient.from_env(
                version="1.24", timeout=timeout, environment=dict(env or os.environ)
            )
        )
    return _verified_only(
        docker.DockerClient(base_url=base_url, version="1.24", tls=tls, timeout=timeout)
    )


# docker-py reads config.json (DOCKER_CONFIG, ~/.docker) whenever a client is made, and again
# at a pull without credentials; a bad base64 `auth` there made every engine client fail, so
# one broken registry entry stopped Vigil as "the Docker engine gave a bad answer". Registry
# credentials are the gateway's alone (it reports a broken entry for its registry): the
# engine client reads none. Its proxies are not injected into recreated containers either,
# which keep exactly their own environment.
_CONFIG_PATCH = threading.Lock()


def _no_registry_auth() -> dict[str, Any]:
    """An auths table that matches no registry (docker-py loads config.json when it is empty);
    a new one each time, as docker-py pops from it."""
    return {"auths": {"vigil.invalid": {}}}


@contextlib.contextmanager
def _no_config_json() -> Iterator[None]:
    with _CONFIG_PATCH:
        original = docker.utils.config.load_general_config
        # Not {}: docker-py reads the file itself when it is given an empty config.
        docker.utils.config.load_general_config = lambda config_path=None: _no_registry_auth()
        try:
            yield
        finally:
            docker.utils.config.load_general_config = original


def _without_registry_auth(client: docker.DockerClient) -> docker.DockerClient:
    client.api._auth_configs = docker.auth.AuthConfig(_no_registry_auth())
    return _verified_only(client)


def _verified_only(client: docker.DockerClient) -> docker.DockerClient:
    if client.api.base_url.startswith("https://"):
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override the engine's own CA
        # (a session's `verify` loses to the environment), and would send the engine's TLS
        # through an HTTPS proxy: the engine's certificates are the only trust here.
        client.api.trust_env = False
    return client
