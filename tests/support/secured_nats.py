"""The fleet's NATS server as deploy/nats configures it: deploy/nats/fleet.conf with TLS from a
test CA and the users deploy/nats/make-users.py writes, on a random 127.0.0.1 port.

Beside the fleet's users there is one test-only user, `spy`, that may publish and subscribe
to everything (`>`): the curious subscriber of the tests.
"""

from __future__ import annotations

import importlib.util
import secrets
import ssl
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.certs import TestCA
from vigil.process.embedded_nats import free_port, launch_nats_server, stop_nats_server

REPO = Path(__file__).resolve().parents[2]
FLEET_CONF = REPO / "deploy" / "nats" / "fleet.conf"
MAKE_USERS = REPO / "deploy" / "nats" / "make-users.py"
SPY = "spy"
HOSTS = ("h1", "h2")


def make_users() -> ModuleType:
    """deploy/nats/make-users.py as a module (its name is not importable as it is)."""
    if "vigil_make_users" in sys.modules:
        return sys.modules["vigil_make_users"]
    spec = importlib.util.spec_from_file_location("vigil_make_users", MAKE_USERS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class SecuredNats:
    def __init__(
        self,
        workdir: Path,
        hosts: Sequence[str] = HOSTS,
        *,
        bcrypt: bool = True,
        verify_clients: bool = False,
        pools: Sequence[tuple[str, Sequence[str]]] = (),
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.hosts = tuple(hosts)
        self.port = free_port()
        self.ca = TestCA(workdir, name="vigil nats CA")
        self.cert, self.key = self.ca.server_cert("nats-server")
        self.tools = make_users()
        users = self.tools.fleet_users(self.hosts, pools=pools)
        spy = self.tools.User(
            SPY, "test", "", self.tools.Permissions(publish=(">",), subscribe=(">",))
        )
        self.users = [*users, spy]
        # Passwords that nats-server's config syntax would trip on if they were not quoted.
        self.passwords = {u.name: f"-{secrets.token_urlsafe(12)}#{u.name}" for u in self.users}
        stored = self.tools.hashed(self.passwords, cost=4) if bcrypt else self.passwords
        (workdir / "users.conf").write_text(self.tools.render(self.users, stored))
        conf = FLEET_CONF.read_text()
        # The paths of the hub's container, here the test's files.
        for old, new in {
            "/etc/nats/tls/server.crt": self.cert,
            "/etc/nats/tls/server.key": self.key,
            "/etc/nats/tls/ca.crt": self.ca.path,
            "/data/jetstream": workdir / "jetstream",
            "0.0.0.0:4222": f"127.0.0.1:{self.port}",
        }.items():
            assert old in conf, f"{old} is no longer in {FLEET_CONF}"
            conf = conf.replace(old, str(new))
        if verify_clients:  # mutual TLS, as the file's comment says to turn it on
            assert "verify: false" in conf
            conf = conf.replace("verify: false", "verify: true")
        self.conf = workdir / "fleet.conf"
        self.conf.write_text(conf)
        self.log_path = workdir / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def env(self, user: str) -> dict[str, str]:
        """The environment a service logs in with as `user`: VIGIL_NATS_* variables."""
        return {
            "VIGIL_NATS_URL": self.url,
            "VIGIL_NATS_USER": user,
            "VIGIL_NATS_PASSWORD": self.passwords[user],
            "VIGIL_NATS_TLS_CA": str(self.ca.path),
        }

    def spy_options(self) -> dict[str, Any]:
        """nats.connect options of the test-only user that may read everything."""
        return {
            "user": SPY,
            "password": self.passwords[SPY],
            "tls": ssl.create_default_context(cafile=str(self.ca.path)),
        }

    def start(self, timeout: float = 15) -> None:
        self.process = launch_nats_server(self.conf, self.log_path, self.port, timeout=timeout)

    def stop(self) -> None:
        if self.process is not None:
            stop_nats_server(self.process)

    @property
    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[SecuredNats]:
    server = SecuredNats(tmp_path / "secured-nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()
