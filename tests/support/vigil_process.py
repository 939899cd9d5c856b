"""The real `vigil` command running in the background, as a user starts it, for e2e and fault
tests that talk to it while it runs (HTTP API, schedules, fleets of separate services). Its
output goes to a file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without settings of its own that would steer `vigil`."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WATCHTOWER_", "VIGIL_")) and k not in ("REPO_USER", "REPO_PASS")
    }
    return {**base, **(extra or {})}


def main_engine_url() -> str:
    """The engine the tests use (DOCKER_HOST, else the default socket), as an `--engine` address."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return host if "://" in host else f"unix://{host}"


def run_vigil(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`vigil ARGS...` run to its end, as a user runs it; its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(env),
        check=False,
        cwd=cwd,
    )


class VigilProcess:
    """`vigil ARGS...` (the all-in-one, with a state directory of the test's), or with
    `command` one service of a fleet: `vigil COMMAND ARGS...`. `label` names its log file
    (`{label}.log` in `tmp_path`), so several processes of one test keep theirs apart."""

    def __init__(
        self,
        tmp_path: Path,
        *args: str,
        env: dict[str, str] | None = None,
        command: str | None = None,
        label: str = "vigil",
    ) -> None:
        self.state = tmp_path / "vigil-state"
        self.label = label
        self.log_path = tmp_path / f"{label}.log"
        self._log = self.log_path.open("wb")
        argv = [command, *args] if command else ["--state-dir", str(self.state), *args]
        process_env = clean_env(env)
        if "--engine" in args:
            # A scanner given its engines refuses DOCKER_HOST beside them (--engine names each).
            process_env.pop("DOCKER_HOST", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vigil.cli", *argv],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=process_env,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no chance to clean up."""
        if self.running:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, *, count: int = 1, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.output.count(text) < count:
            if self.process.poll() is not None:
                raise AssertionError(f"vigil exited ({self.process.returncode}):\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} x{count} in {timeout} s:\n{self.output}")
            time.sleep(0.05)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as `docker stop` sends; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._log.close()


def connected_from(pid: int, local_port: int) -> bool:
    """Whether process `pid` holds the TCP socket whose local port is `local_port` (the client
    port a server sees): which of several processes sent a request. Read from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == local_port:
                    inodes.add(fields[9])
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir() if fds.exists() else ():
        with contextlib.suppress(OSError):
            link = os.readlink(fd)
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return True
    return False
