"""A real OpenID Connect provider process for the sign-in tests: `oidc-provider-mock` (PyPI,
on authlib and Flask), run as `python -m oidc_provider_mock` on 127.0.0.1. It serves
discovery, the authorization form (a user is picked by its subject, with the claims given
here), the token endpoint, the JWKS and the userinfo; clients must register (as at Keycloak
or Authelia, where the admin does): `register` gets a client id and secret for a redirect URI.
"""

from __future__ import annotations

import json
import ssl
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


# The provider over TLS: its CLI has no TLS options, so its app under uvicorn, as the CLI
# runs it, with a certificate.
_TLS_LAUNCHER = """
import json, sys, uvicorn, oidc_provider_mock
from oidc_provider_mock._storage import User
port, cert, key, users = int(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
users = [User(sub=u.pop("sub"), claims=u) for u in users]
app = oidc_provider_mock.app(require_client_registration=True, user_claims=users)
uvicorn.run(app, interface="wsgi", host="127.0.0.1", port=port, ssl_certfile=cert,
            ssl_keyfile=key, log_config=None)
"""


class OidcProvider:
    def __init__(
        self,
        log_dir: Path,
        users: tuple[Mapping[str, object], ...],
        tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        """`tls`: (CA, certificate, key) to serve https with."""
        self.port = free_port()
        if tls is None:
            self.issuer = f"http://127.0.0.1:{self.port}"
            args = [sys.executable, "-m", "oidc_provider_mock", "--port", str(self.port)]
            args += ["--require-registration"]
            for user in users:
                args += ["--user-claims", json.dumps(user)]
        else:
            self.issuer = f"https://127.0.0.1:{self.port}"
            args = [sys.executable, "-c", _TLS_LAUNCHER, str(self.port), str(tls[1]), str(tls[2])]
            args.append(json.dumps(list(users)))
        self.verify = ssl.create_default_context(cafile=str(tls[0])) if tls else True
        self._log = (log_dir / "oidc-provider.log").open("wb")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        discovery = self.issuer + "/.well-known/openid-configuration"
        while True:
            assert self.process.poll() is None, "the OIDC provider exited (oidc-provider.log)"
            try:
                if httpx.get(discovery, verify=self.verify).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the OIDC provider did not start in 30 s"
            time.sleep(0.05)

    def register(self, redirect_uri: str) -> tuple[str, str]:
        """A client for `redirect_uri`: (client id, client secret)."""
        answer = httpx.post(
            self.issuer + "/oauth2/clients",
            json={"redirect_uris": [redirect_uri]},
            verify=self.verify,
        )
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
