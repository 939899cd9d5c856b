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
  with name or ID ... found" in the middle of its update);
- a tmp_dir of its own (rootful Podman's default is the machine's /run/libpod: its exit files,
  events and locks), which a session's `podman system reset` at its end removes: with one
  tmp_dir, the end of another session (or of test_podman_sessions.py's second service) wiped
  this one's, and its next stop failed ("timed out waiting for file
  /run/libpod/exits/<id>: internal libpod error").

`RootlessPodmanService` is the same service run by a user of its own (`ROOTLESS_USER`, made by
scripts/prepare-test-env.sh with its subuid/subgid ranges), as `systemctl --user` runs it: its
socket at `$XDG_RUNTIME_DIR/podman/podman.sock`, its containers in a user namespace (Debian's
uidmap: newuidmap/newgidmap), their network slirp4netns (which needs /dev/net/tun open to the
user), its storage the kernel's own overlay (rootless since Linux 5.13) in the session's
directory, and its XDG_RUNTIME_DIR and HOME in the session's directory too.

Under CI=true a Podman that cannot start fails the test (tests/support/real_parts.py).
"""

from __future__ import annotations

import contextlib
import os
import pwd
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


def containers_conf(tmp_dir: Path) -> str:
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
        f'tmp_dir = "{tmp_dir}"\n'
    )


REGISTRIES_CONF = (
    'unqualified-search-registries = []\n[[registry]]\nlocation = "127.0.0.1"\ninsecure = true\n'
)


def storage_conf(root: Path) -> str:
    # rootless_storage_path: a rootless Podman reads that key, not graphroot.
    return (
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{root / "storage"}"\n'
        f'runroot = "{root / "run"}"\n'
        f'rootless_storage_path = "{root / "storage"}"\n'
    )


# The user the rootless Podman runs as (scripts/prepare-test-env.sh makes it).
ROOTLESS_USER = "vigil-rootless"


class PodmanService:
    """`podman system service` on a socket of its own; `url` is its `unix://` address."""

    def __init__(self) -> None:
        # Unix socket paths are limited to ~108 bytes: the socket lives in /tmp.
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-podman-", dir="/tmp"))
        self.socket = self._socket_path()
        self.url = f"unix://{self.socket}"
        self.log_path = self.dir / "podman.log"
        self.conf = self.dir / "containers.conf"
        self.registries = self.dir / "registries.conf"
        self.storage = self.dir / "storage.conf"
        self.process: subprocess.Popen[bytes] | None = None

    def _socket_path(self) -> Path:
        return self.dir / "podman.sock"

    def _tmp_dir(self) -> Path:
        """Podman's tmp_dir (exit files, events, locks): the session's, not /run/libpod."""
        return self.dir / "libpod-tmp"

    def _check_can_run(self) -> None:
        if os.geteuid() != 0:
            part_missing("the Podman tests run rootful podman: they need root")

    def _prepare(self) -> None:
        """Before the service starts (the configuration files are written)."""

    def _uid_gid(self) -> tuple[int, int] | None:
        """The user (and group) the service and its `podman` commands run as; None: this one."""
        return None

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
        self._check_can_run()
        self.conf.write_text(containers_conf(self._tmp_dir()))
        self.registries.write_text(REGISTRIES_CONF)
        self.storage.write_text(storage_conf(self.dir))
        self._prepare()
        log = self.log_path.open("ab")
        user = self._uid_gid()
        self.process = subprocess.Popen(
            ["podman", "system", "service", "--time=0", self.url],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            cwd=self.dir,
            user=user and user[0],
            group=user and user[1],
            extra_groups=user and [],
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
        user = self._uid_gid()
        return subprocess.run(
            ["podman", *args],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
            cwd=self.dir,
            user=user and user[0],
            group=user and user[1],
            extra_groups=user and [],
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
        self._after_stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _after_stop(self) -> None:
        """Once the service is stopped and its storage reset."""


class RootlessPodmanService(PodmanService):
    """`podman system service` run by `ROOTLESS_USER` on `$XDG_RUNTIME_DIR/podman/podman.sock`,
    XDG_RUNTIME_DIR being a directory of the session's (short: a socket path)."""

    def __init__(self) -> None:
        super().__init__()
        self.runtime_dir = self.dir / "xdg"
        self.user: pwd.struct_passwd | None = None

    def _socket_path(self) -> Path:
        return self.dir / "xdg" / "podman" / "podman.sock"

    def _tmp_dir(self) -> Path:
        return self.runtime_dir / "libpod" / "tmp"  # a rootless Podman's own default

    def _check_can_run(self) -> None:
        if shutil.which("newuidmap") is None:
            part_missing("no newuidmap: install Debian's uidmap (scripts/prepare-test-env.sh does)")
        try:
            self.user = pwd.getpwnam(ROOTLESS_USER)
        except KeyError:
            part_missing(f"no user {ROOTLESS_USER} (scripts/prepare-test-env.sh makes it)")
        if os.geteuid() != 0:
            part_missing(f"the rootless Podman test runs podman as {ROOTLESS_USER}: it needs root")

    def _prepare(self) -> None:
        assert self.user is not None
        self.socket.parent.mkdir(parents=True)
        self.runtime_dir.chmod(0o700)
        for path in (self.dir, *self.dir.rglob("*")):
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        # The user reads the configuration files: the directory was mkdtemp's 0700.
        self.dir.chmod(0o755)

    def _uid_gid(self) -> tuple[int, int] | None:
        if self.user is None:  # it never started
            return None
        return self.user.pw_uid, self.user.pw_gid

    @property
    def env(self) -> dict[str, str]:
        return {
            **super().env,
            "HOME": str(self.dir),
            "USER": ROOTLESS_USER,
            "LOGNAME": ROOTLESS_USER,
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_CONFIG_HOME": str(self.dir / "config"),
            "XDG_DATA_HOME": str(self.dir / "data"),
        }

    def _after_stop(self) -> None:
        # The user namespace's pause process (rootless Podman's, one per XDG_RUNTIME_DIR)
        # outlives the service: it is ended by its pid, which Podman keeps.
        pid_file = self.runtime_dir / "libpod" / "tmp" / "pause.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)


@pytest.fixture(scope="session")
def podman_service() -> Iterator[PodmanService]:
    service = PodmanService()
    try:
        service.start()
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def rootless_podman_service() -> Iterator[RootlessPodmanService]:
    service = RootlessPodmanService()
    try:
        service.start()
        yield service
    finally:
        service.stop()
