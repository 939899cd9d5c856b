"""A container Vigil leaves to Podman is said once in the log per reason, not at each cycle
(its report row says skipped every cycle)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from vigil_scanner.service import Scanner, ScannerConfig
from vigil_shared.contracts import ContainerInfo
from vigil_shared.telemetry import Telemetry


def info(labels: dict[str, str], engine: str = "podman") -> ContainerInfo:
    return ContainerInfo(
        id="x", name="web", image="r/app:1", image_id="img", labels=labels, engine=engine
    )


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "left as it is" in r.getMessage()]


def test_a_refused_container_is_said_once_and_again_when_its_reason_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine: Any = None  # _say_refused reads no engine and no bus
    scanner = Scanner(engine, engine, ScannerConfig(host_id="h1"), Telemetry.disabled())
    caplog.set_level(logging.INFO)
    unit = info({"PODMAN_SYSTEMD_UNIT": "web.service"})
    for _cycle in range(3):
        scanner._say_refused([unit, info({}), info({"PODMAN_SYSTEMD_UNIT": "x"}, "docker")])
    assert len(said(caplog)) == 1, said(caplog)
    scanner._say_refused([info({"io.containers.autoupdate": "registry"})])
    assert len(said(caplog)) == 2, said(caplog)
