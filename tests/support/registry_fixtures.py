"""A real registry per test: Debian's `docker-registry` on a random 127.0.0.1 port.

Three ways to run it, like the registries our users run: open (anonymous), htpasswd (Basic
credentials) and token auth (a Bearer challenge pointing at a small token server that signs
RS256 JWTs the registry verifies against a certificate bundle). Every request the registry
answers is read back from its access log, so tests and the benchmark can count them.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.support.real_parts import part_missing

REGISTRY_BINARY = "docker-registry"
SERVICE = "vigil-test-registry"
ISSUER = "vigil-test-issuer"

_ACCESS_LINE = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


def registry_binary() -> str | None:
    return shutil.which(REGISTRY_BINARY) or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _DeepBacklogServer(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: dozens of concurrent token fetches would
    # wait for connection retries, which no real token server makes them do.
    request_queue_size = 512
    daemon_threads = True


class TokenServer:
    """The token endpoint of a token-auth registry: grants what is asked to anyone, or only
    to the users it knows when it has some. Counts the token requests it answers."""

    def __init__(
        self,
        workdir: Path,
        users: dict[str, str] | None = None,
        ttl: int = 300,
        delay: float = 0.0,
    ):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.users = users or {}
        self.ttl = ttl
        self.delay = delay  # seconds slept before answering each token request
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vigil test token signer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.bundle = workdir / "token-signer.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def token_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def issue(self, scopes: list[str], subject: str) -> str:
        import jwt

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + self.ttl,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        headers = {"x5c": [base64.b64encode(self.cert_der).decode()]}
        return jwt.encode(claims, self.key, algorithm="RS256", headers=headers)

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if owner.delay > 0:
                    time.sleep(owner.delay)
                query = parse_qs(urlparse(self.path).query)
                user = ""
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if owner.users.get(user) != password:
                        return self._answer(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                elif owner.users:
                    return self._answer(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                with owner._lock:
                    owner.requests.append({"query": query, "user": user})
                token = owner.issue(query.get("scope", []), user or "anonymous")
                self._answer(200, {"token": token, "expires_in": owner.ttl})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _DeepBacklogServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class RegistryServer:
    """`docker-registry serve` on 127.0.0.1 (dockerd and Vigil both allow plain HTTP there)."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        htpasswd: dict[str, str] | None = None,
        token: TokenServer | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.tls = tls  # (certificate, key): serve HTTPS
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="vigil-registry-"))
        self.htpasswd = htpasswd
        self.token = token
        self.port = free_port()
        self.log_path = self.workdir / "registry.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def _config(self) -> str:
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  formatter: text",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {storage}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            "  secret: vigil-test-secret",
        ]
        if self.tls:
            lines += ["  tls:", f"    certificate: {self.tls[0]}", f"    key: {self.tls[1]}"]
        if self.htpasswd:
            import bcrypt

            path = self.workdir / "htpasswd"
            path.write_text(
                "".join(
                    f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"
                    for user, pw in self.htpasswd.items()
                )
            )
            lines += ["auth:", "  htpasswd:", "    realm: vigil-test", f"    path: {path}"]
        elif self.token:
            lines += [
                "auth:",
                "  token:",
                f"    realm: {self.token.realm}",
                f"    service: {SERVICE}",
                f"    issuer: {ISSUER}",
                f"    rootcertbundle: {self.token.bundle}",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        binary = registry_binary()
        if binary is None:
            raise RuntimeError(
                "docker-registry is not installed (Debian: apt-get install docker-registry; "
                "or run scripts/prepare-test-env.sh)"
            )
        config = self.workdir / "config.yml"
        config.write_text(self._config())
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_path.read_text()[-2000:]}")
            try:
                httpx.get(f"{self.url}/v2/", timeout=1, verify=False)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not answer on {self.host} within 20 s")

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request answered so far, oldest first."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            m = _ACCESS_LINE.search(line)
            if m:
                found.append((m.group(1), m.group(2), int(m.group(3))))
        return found

    def manifest_requests(self) -> list[tuple[str, str, int]]:
        return [r for r in self.requests() if "/manifests/" in r[1]]

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _require_binary() -> None:
    if registry_binary() is None:
        part_missing("docker-registry is not installed: run scripts/prepare-test-env.sh")


@pytest.fixture
def registry_factory(tmp_path: Path) -> Iterator[Callable[..., RegistryServer]]:
    """Start registries with the given auth: `registry_factory(htpasswd={"u": "p"})`,
    `registry_factory(token_users={...})` or `registry_factory(token_users={})` for tokens
    given to anyone; `tls=(cert, key)` (see tests.support.certs) serves HTTPS."""
    _require_binary()
    started: list[RegistryServer | TokenServer] = []

    def start(
        *,
        htpasswd: dict[str, str] | None = None,
        token_users: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> RegistryServer:
        workdir = tmp_path / f"registry-{len(started)}"
        workdir.mkdir()
        token = None
        if token_users is not None:
            token = TokenServer(workdir, token_users)
            token.start()
            started.append(token)
        server = RegistryServer(workdir, htpasswd=htpasswd, token=token, tls=tls)
        server.start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for item in reversed(started):
            item.stop()


@pytest.fixture
def registry(registry_factory: Callable[..., RegistryServer]) -> RegistryServer:
    """An open registry on 127.0.0.1."""
    return registry_factory()
