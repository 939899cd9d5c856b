"""A real OpenID Connect provider process for the sign-in tests: `oidc-provider-mock` (PyPI,
on authlib and Flask), run as `python -m oidc_provider_mock` on 127.0.0.1. It serves
discovery, the authorization form (a user is picked by its subject, with the claims given
here), the token endpoint, the JWKS and the userinfo; clients must register (as at Keycloak
or Authelia, where the admin does): `register` gets a client id and secret for a redirect URI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from tests.support.registry_fixtures import free_port

OPERATOR = {"sub": "alice", "preferred_username": "alice", "groups": ["vigil-operators", "dev"]}
VIEWER = {"sub": "bob", "preferred_username": "bob", "groups": ["staff"]}


class OidcProvider:
    def __init__(self, log_dir: Path, users: tuple[Mapping[str, object], ...]) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "oidc_provider_mock", "--port", str(self.port)]
        args += ["--require-registration"]
        for user in users:
            args += ["--user-claims", json.dumps(user)]
        self._log = (log_dir / "oidc-provider.log").open("wb")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, "the OIDC provider exited (oidc-provider.log)"
            try:
                if httpx.get(self.issuer + "/.well-known/openid-configuration").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the OIDC provider did not start in 30 s"
            time.sleep(0.05)

    def register(self, redirect_uri: str) -> tuple[str, str]:
        """A client for `redirect_uri`: (client id, client secret)."""
        answer = httpx.post(self.issuer + "/oauth2/clients", json={"redirect_uris": [redirect_uri]})
        assert answer.status_code == 201, answer.text
        doc = answer.json()
        return str(doc["client_id"]), str(doc["client_secret"])

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@pytest.fixture(scope="module")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    provider = OidcProvider(tmp_path_factory.mktemp("oidc"), (OPERATOR, VIEWER))
    try:
        yield provider
    finally:
        provider.close()
