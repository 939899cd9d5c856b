"""The stop-signal label and --stop-timeout on a real container."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.images import build_test_image
from vigil_executor.stopping import stop_container, stop_signal
from vigil_shared import labels

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

# Writes the signal it got to /got, then exits: which signal arrived is readable after.
TRAPS = (
    "trap 'echo HUP > /got; exit 0' HUP; trap 'echo TERM > /got; exit 0' TERM; "
    "while true; do sleep 1; done"
)


def test_the_label_signal_is_sent(docker_client: Any, names: Callable[[str], str]) -> None:
    tag = f"{names('sig')}:latest"
    build_test_image(docker_client, tag)
    c = docker_client.containers.run(
        tag, ["sh", "-c", TRAPS], name=names("sig"), detach=True,
        labels={labels.STOP_SIGNAL: "SIGHUP"},
    )  # fmt: skip
    assert stop_signal(c.labels) == "SIGHUP"
    stop_container(docker_client.api, c.id, timeout=10, signal="SIGHUP")
    archive, _ = docker_client.api.get_archive(c.id, "/got")
    assert b"HUP" in b"".join(archive)


def test_a_container_ignoring_the_signal_is_killed_after_the_timeout(
    docker_client: Any, names: Callable[[str], str]
) -> None:
    tag = f"{names('sig')}:latest"
    build_test_image(docker_client, tag)
    c = docker_client.containers.run(
        tag, ["sh", "-c", "trap '' HUP TERM; while true; do sleep 1; done"],
        name=names("stubborn"), detach=True,
    )  # fmt: skip
    started = time.monotonic()
    stop_container(docker_client.api, c.id, timeout=2, signal="SIGHUP")
    assert 1.5 < time.monotonic() - started < 20
    assert not docker_client.api.inspect_container(c.id)["State"]["Running"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [({}, None), ({labels.STOP_SIGNAL: " "}, None), ({labels.STOP_SIGNAL: "SIGINT"}, "SIGINT")],
)
def test_stop_signal_label(given: dict[str, str], expected: str | None) -> None:
    assert stop_signal(given) == expected
