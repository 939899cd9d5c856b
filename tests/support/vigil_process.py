"""The real `vigil` command running in the background, as a user starts it, for e2e tests
that talk to it while it runs (HTTP API, schedules). Its output goes to a file."""

from __future__ import annotations

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
    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.state = tmp_path / "vigil-state"
        self.log_path = tmp_path / "vigil.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vigil.cli", "--state-dir", str(self.state), *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=clean_env(env),
        )

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
