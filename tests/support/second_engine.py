"""A second Docker engine on this machine, standing in for a second host in fleet tests.

It has its own socket, data root, exec root and pidfile, and a bridge of its own made here
(`ip link add ... type bridge`) with `--iptables=false --ip-masq=false`, so it leaves the first
engine's `docker0` and rules alone. Optionally it also listens on `tcp://127.0.0.1:PORT` with
`--tlsverify`, for the tests of `--tlsverify` and DOCKER_CERT_PATH.

Under CI=true a second engine that cannot start fails the test (tests/support/real_parts.py).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.certs import TestCA
from tests.support.real_parts import part_missing
from tests.support.registry_fixtures import free_port
from vigil_shared.docker_engine import EngineUnavailable, connect_engine

START_TIMEOUT_S = 60.0


def use_as_docker_cert_path(cert: Path, key: Path, folder: Path) -> None:
    """Put a client certificate where the Docker CLI (and --tlsverify) looks for it."""
    shutil.copy(cert, folder / "cert.pem")
    shutil.copy(key, folder / "key.pem")


class SecondEngine:
    """A `dockerd` of its own. `url` is its unix socket; with `tls`, `tcp_url` is its
    TLS-verified TCP endpoint and `cert_path` a DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)."""

    def __init__(self, workdir: Path, *, tls: bool = False) -> None:
        run = uuid.uuid4().hex[:6]
        self.workdir = workdir
        # Unix socket paths are limited to ~108 bytes: the socket and exec root live in /tmp.
        self.short = Path(tempfile.mkdtemp(prefix=f"vd{run}-", dir="/tmp"))
        self.socket = self.short / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.bridge = f"vglbr{run}"
        # A /24 of 10.213.0.0/16 picked per run, so engines of parallel runs do not collide.
        self.subnet = ipaddress.ip_network(f"10.213.{int(run, 16) % 250}.0/24")
        self.tls = tls
        self.tcp_port = free_port() if tls else 0
        self.tcp_url = f"tcp://127.0.0.1:{self.tcp_port}" if tls else ""
        self.cert_path = workdir / "docker-certs"
        self.log_path = workdir / "dockerd-2.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._args: list[str] = []

    def _make_bridge(self) -> None:
        gateway = next(self.subnet.hosts())
        for cmd in (
            ["ip", "link", "add", "name", self.bridge, "type", "bridge"],
            ["ip", "addr", "add", f"{gateway}/{self.subnet.prefixlen}", "dev", self.bridge],
            ["ip", "link", "set", self.bridge, "up"],
        ):
            subprocess.run(cmd, check=True, capture_output=True)

    def _tls_args(self) -> list[str]:
        self.cert_path.mkdir(parents=True, exist_ok=True)
        ca = TestCA(self.cert_path, name="docker test CA")
        shutil.copy(ca.path, self.cert_path / "ca.pem")
        server_cert, server_key = ca.server_cert("dockerd")
        use_as_docker_cert_path(*ca.client_cert("client"), self.cert_path)
        return [
            "--host",
            self.tcp_url,
            "--tlsverify",
            "--tlscacert",
            str(self.cert_path / "ca.pem"),
            "--tlscert",
            str(server_cert),
            "--tlskey",
            str(server_key),
        ]

    def start(self) -> None:
        if shutil.which("dockerd") is None or shutil.which("ip") is None:
            part_missing("a second engine needs dockerd and ip (scripts/prepare-test-env.sh)")
        if os.geteuid() != 0:
            part_missing("a second Docker engine needs root")
        self._make_bridge()
        self._args = [
            "dockerd",
            "--host",
            self.url,
            *(self._tls_args() if self.tls else []),
            "--data-root",
            str(self.workdir / "docker-data"),
            "--exec-root",
            str(self.short / "exec"),
            "--pidfile",
            str(self.short / "docker.pid"),
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
        ]
        self._launch()

    def revive(self) -> None:
        """Start the engine again after kill(), on the same data root: the host is back."""
        assert not self.running, "the engine still runs"
        self.log.close()
        # As after a reboot: the exec root (a tmpfs under /run on a host) starts empty; left
        # as it is, dockerd would wait for the dead containerd of its pidfile.
        shutil.rmtree(self.short / "exec", ignore_errors=True)
        self._launch()

    def _launch(self) -> None:
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self._args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                connect_engine(self.url, timeout=5).close()
                return
            except EngineUnavailable:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = self.log_path.read_text(errors="replace")[-2000:]
                    self.stop()
                    part_missing(f"the second dockerd did not answer:\n{tail}")
                time.sleep(0.3)

    def client(self) -> Any:
        return connect_engine(self.url)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """The engine goes away at once, as a host that dies would (SIGKILL): dockerd, its
        containerd, the shims and the containers' processes, so that revive() finds what a
        host finds after a crash."""
        if self.running:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self._kill_leftovers()

    def _kill_leftovers(self) -> None:
        """containerd and the shims run in sessions of their own; they name our exec root
        (clients of the engine name only its socket, beside it, and are left alone)."""
        marker = f"{self.short / 'exec'}/".encode()
        parents: dict[int, int] = {}
        ours: set[int] = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                pid = int(entry.name)
                stat = (entry / "stat").read_text()
                parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
                if marker in (entry / "cmdline").read_bytes():
                    ours.add(pid)
        # The containers' processes are the shims' descendants.
        grown = True
        while grown:
            more = {pid for pid, parent in parents.items() if parent in ours} - ours
            grown = bool(more)
            ours |= more
        for pid in ours:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(Exception):
                client = connect_engine(self.url, timeout=5)
                for container in client.containers.list(all=True):
                    container.remove(force=True, v=True)
                client.close()
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        # A killed dockerd leaves its containerd and shims behind (sessions of their own).
        if self.process is not None:
            with contextlib.suppress(Exception):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._kill_leftovers()
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)
        # Overlay mounts under the data root must go before the folder can.
        subprocess.run(
            [
                "sh",
                "-c",
                f"grep -o ' {self.workdir}/docker-data[^ ]*' /proc/mounts | "
                "sort -r | xargs -r -n1 umount -l",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.short, ignore_errors=True)
        if getattr(self, "log", None) is not None:
            self.log.close()


@pytest.fixture
def second_engine_factory(tmp_path: Path) -> Iterator[Callable[..., SecondEngine]]:
    """Start second engines for one test: `second_engine_factory(tls=True)`."""
    started: list[SecondEngine] = []

    def start(*, tls: bool = False) -> SecondEngine:
        workdir = tmp_path / f"engine-{len(started) + 2}"
        workdir.mkdir()
        engine = SecondEngine(workdir, tls=tls)
        started.append(engine)
        engine.start()
        return engine

    yield start
    for engine in started:
        engine.stop()


@pytest.fixture
def second_engine(second_engine_factory: Callable[..., SecondEngine]) -> SecondEngine:
    return second_engine_factory()
