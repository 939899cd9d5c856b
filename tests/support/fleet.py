"""A fleet of real `vigil` service processes on one test NATS, for fault tests: each service a
process of its own (`vigil scanner|registry-gateway|executor|notifier --nats-url URL`), as an
operator runs them, and `vigil trigger` run in the background while the test breaks things.

The `fleet` fixture stops whatever it started; `Fleet.stop_all()` returns each process's exit
status, so a test can assert that every service survived (0 on SIGTERM).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.vigil_process import VigilProcess, clean_env
from vigil.process.embedded_nats import EmbeddedNats

READY = "vigil is running"  # every service logs it once it serves


class Fleet:
    def __init__(self, tmp_path: Path, nats_url: str) -> None:
        self.tmp_path = tmp_path
        self.nats_url = nats_url
        self.processes: dict[str, VigilProcess] = {}
        self.triggers: list[subprocess.Popen[str]] = []

    def start(
        self, command: str, *args: str, label: str, host: str = "", docker_host: str = ""
    ) -> VigilProcess:
        """`vigil COMMAND --nats-url URL [--host-id H] [--docker-host D] ARGS...`; its log is
        `{label}.log` in the test's folder."""
        argv = ["--nats-url", self.nats_url]
        if host:
            argv += ["--host-id", host]
        if docker_host:
            argv += ["--docker-host", docker_host]
        if command == "scanner":
            argv += ["--interval", "86400"]  # cycles only when the test asks for one
        process = VigilProcess(self.tmp_path, *argv, *args, command=command, label=label)
        self.processes[label] = process
        return process

    def wait_ready(self, timeout: float = 60) -> None:
        for process in self.processes.values():
            process.wait_for(READY, timeout=timeout)

    def trigger(self, *args: str, timeout: str = "90s") -> subprocess.Popen[str]:
        """`vigil trigger ARGS...` in the background; `.communicate()` waits for its output."""
        trigger = subprocess.Popen(
            [sys.executable, "-m", "vigil.cli", "trigger", "--nats-url", self.nats_url,
             "--timeout", timeout, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )  # fmt: skip
        self.triggers.append(trigger)
        return trigger

    def logs(self) -> str:
        """The tail of every process's log, for assertion messages."""
        return "\n".join(f"--- {label}:\n{p.output[-2500:]}" for label, p in self.processes.items())

    def stop_all(self) -> dict[str, int]:
        """SIGTERM to each process still running; every exit status by label (-9: killed).
        A trigger still waiting is killed."""
        for trigger in self.triggers:
            if trigger.poll() is None:
                trigger.kill()
                trigger.communicate()
        return {label: p.stop() for label, p in self.processes.items()}


@pytest.fixture
def fleet(tmp_path: Path, nats_server: EmbeddedNats) -> Iterator[Fleet]:
    started = Fleet(tmp_path, nats_server.url)
    try:
        yield started
    finally:
        started.stop_all()
