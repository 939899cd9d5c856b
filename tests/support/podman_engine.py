"""A real Podman engine for the tests: Debian's podman serving its Docker-compatible API.

`podman system service --time=0 unix:///...` on a socket of the test session's own, started
once per session (when a test asks for it) and stopped at the end. Its containers.conf and
registries.conf are the session's (CONTAINERS_CONF, CONTAINERS_REGISTRIES_CONF for the service
process), so `make test` changes nothing in /etc:

- `default_ulimits` at or below this machine's hard limits: rootful podman's own defaults
  (nofile 1048576) are above what a sandboxed process may raise, and every container then fails
  to start with "error setting rlimit type 7: operation not permitted";
- netavark as the network backend (a CNI file of containers-common would pick CNI, whose
  plugins are not installed), runc (crun refuses the hybrid cgroup v1 hierarchy of these
  machines) and cgroupfs (no systemd here);
- the test registries (127.0.0.1 on random ports) insecure: a registry entry for `127.0.0.1`
  also matches `127.0.0.1:PORT` in the containers/image of Debian's podman 4.3;
- a storage of its own (storage.conf: graphroot and runroot in the session's directory), not
  the machine's /var/lib/containers: the test images are built the same way everywhere, so
  two sessions on one storage (two worktrees, or a suite beside a helper's run) get one image
  (the build cache) under their own tags, and Podman's forced `rmi` of one session's tag, at
  its tests' clean-up, removes the other session's containers on that image ("no container
  with name or ID ... found" in the middle of its update).

Under CI=true a Podman that cannot start fails the test (tests/support/real_parts.py).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.real_parts import part_missing
from vigil_shared.docker_engine import EngineUnavailable, connect_engine

START_TIMEOUT_S = 60.0
# At most this, and at most the machine's hard limits (which a container may not exceed).
ULIMIT_CAP = 1024


def _ulimit(name: str, which: int) -> str:
    hard = resource.getrlimit(which)[1]
    value = ULIMIT_CAP if hard == resource.RLIM_INFINITY else min(ULIMIT_CAP, hard)
    return f"{name}={value}:{value}"


def containers_conf() -> str:
    ulimits = [_ulimit("nofile", resource.RLIMIT_NOFILE), _ulimit("nproc", resource.RLIMIT_NPROC)]
    quoted = ", ".join(f'"{u}"' for u in ulimits)
    return (
        "[containers]\n"
        f"default_ulimits = [{quoted}]\n"
        "[network]\n"
        'network_backend = "netavark"\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )


REGISTRIES_CONF = (
    'unqualified-search-registries = []\n[[registry]]\nlocation = "127.0.0.1"\ninsecure = true\n'
)


def storage_conf(root: Path) -> str:
    return (
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{root / "storage"}"\n'
        f'runroot = "{root / "run"}"\n'
    )


class PodmanService:
    """`podman system service` on a socket of its own; `url` is its `unix://` address."""

    def __init__(self) -> None:
        # Unix socket paths are limited to ~108 bytes: the socket lives in /tmp.
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-podman-", dir="/tmp"))
        self.socket = self.dir / "podman.sock"
        self.url = f"unix://{self.socket}"
        self.log_path = self.dir / "podman.log"
        self.conf = self.dir / "containers.conf"
        self.registries = self.dir / "registries.conf"
        self.storage = self.dir / "storage.conf"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """What the service process (and any `podman` command of a test) is run with."""
        return {
            **os.environ,
            "CONTAINERS_CONF": str(self.conf),
            "CONTAINERS_REGISTRIES_CONF": str(self.registries),
            "CONTAINERS_STORAGE_CONF": str(self.storage),
        }

    def start(self) -> None:
        if shutil.which("podman") is None:
            part_missing("no podman: install Debian's podman (scripts/prepare-test-env.sh does)")
        if os.geteuid() != 0:
            part_missing("the Podman tests run rootful podman: they need root")
        self.conf.write_text(containers_conf())
        self.registries.write_text(REGISTRIES_CONF)
        self.storage.write_text(storage_conf(self.dir))
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            ["podman", "system", "service", "--time=0", self.url],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                connect_engine(self.url, timeout=5).close()
                return
            except EngineUnavailable:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = self.log_path.read_text(errors="replace")[-2000:]
                    self.stop()
                    part_missing(f"podman system service did not answer:\n{tail}")
                time.sleep(0.2)

    def podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `podman` command with the service's configuration (pods, quadlet-free set-up)."""
        return subprocess.run(
            ["podman", *args], capture_output=True, text=True, env=self.env, check=False
        )

    def stop(self) -> None:
        """Stop the service. Its containers' conmon processes are their own; the tests
        removed what they made (the `names` fixture)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        if self.process is not None:
            # The session's storage: whatever is left in it (and its overlay mounts) goes.
            self.podman("system", "reset", "--force")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def podman_service() -> Iterator[PodmanService]:
    service = PodmanService()
    try:
        service.start()
        yield service
    finally:
        service.stop()
