"""Podman containers Vigil refuses to recreate, each with its reason (a table)."""

from __future__ import annotations

from typing import Any

import pytest

from vigil_shared.podman_refusals import podman_refusal


def inspect(pod: str = "", **labels: str) -> dict[str, Any]:
    return {"Id": "c" * 64, "Pod": pod, "Config": {"Labels": labels}}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (inspect(), ()),
        (inspect(**{"com.example.role": "web"}), ()),
        (inspect(pod="ab" * 32), ("pod abababababab", "kube play")),
        (inspect(PODMAN_SYSTEMD_UNIT="web.service"), ("systemd unit web.service",)),
        (
            inspect(**{"io.containers.autoupdate": "registry"}),
            ("io.containers.autoupdate=registry", "podman auto-update"),
        ),
        # A pod's reason first: it is the one that no label change undoes.
        (inspect(pod="ab" * 32, PODMAN_SYSTEMD_UNIT="p.service"), ("pod abababababab",)),
        ({"Config": {"Labels": None}}, ()),
    ],
)
def test_podman_refusal(data: dict[str, Any], words: tuple[str, ...]) -> None:
    reason = podman_refusal(data)
    assert bool(reason) == bool(words)
    for word in words:
        assert word in reason
