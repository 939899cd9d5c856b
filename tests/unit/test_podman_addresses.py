"""The addresses a Podman container was given, which neither of Podman's inspects shows: from
Vigil's label on a replacement, else from the `podman run`/`podman create` command line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vigil_executor.podman_api import STATIC_ADDRESSES_LABEL, addresses_given, with_addresses

IMAGE = "docker.io/library/web:latest"
SERVICE = ["podman", "system", "service", "--time=0", "unix:///run/podman/podman.sock"]


def libpod(command: list[str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"ImageName": IMAGE, "Config": {"CreateCommand": command, "Labels": labels or {}}}


@pytest.mark.parametrize(
    ("command", "networks", "given"),
    [
        (
            ["podman", "run", "-d", "--network", "net", "--ip", "10.1.0.5", "--ip6=fd00::5", "web"],
            ["net"],
            {"net": {"IPv4Address": "10.1.0.5", "IPv6Address": "fd00::5"}},
        ),
        (
            [
                "podman",
                "container",
                "create",
                "--net=a:ip=10.1.0.5,alias=x",
                "--network",
                "b:ip6=fd00::6,ip=10.2.0.6",
                "localhost/web:latest",
            ],
            ["a", "b"],
            {
                "a": {"IPv4Address": "10.1.0.5"},
                "b": {"IPv4Address": "10.2.0.6", "IPv6Address": "fd00::6"},
            },
        ),
        # --ip with two networks: Podman refuses it; nothing is guessed.
        (["podman", "run", "--ip", "10.1.0.5", "web"], ["a", "b"], {}),
        # After the image: the container's own arguments, not Podman's.
        (["podman", "run", "--network", "net", "web", "serve", "--ip", "1.2.3.4"], ["net"], {}),
        # No address given: the container's address is Podman's to assign.
        (["podman", "run", "--network", "net", "web"], ["net"], {}),
        # Made through the API (docker CLI, docker compose, Vigil): the service's command line.
        (SERVICE, ["net"], {}),
    ],
)
def test_addresses_from_the_command_line(
    command: list[str], networks: list[str], given: dict[str, dict[str, str]]
) -> None:
    assert addresses_given(libpod(command), networks) == given


def test_vigil_s_label_comes_first() -> None:
    label = json.dumps({"net": {"IPv4Address": "10.1.0.5"}, "gone": {"IPv4Address": "10.9.0.9"}})
    data = libpod(SERVICE, {STATIC_ADDRESSES_LABEL: label})
    assert addresses_given(data, ["net"]) == {"net": {"IPv4Address": "10.1.0.5"}}
    broken = libpod(SERVICE, {STATIC_ADDRESSES_LABEL: "{not json"})
    assert addresses_given(broken, ["net"]) == {}


def test_with_addresses_fills_only_an_empty_ipam_config() -> None:
    container: dict[str, Any] = {
        "NetworkSettings": {
            "Networks": {
                "a": {"IPAMConfig": None, "IPAddress": "10.1.0.5"},
                "b": {"IPAMConfig": {"IPv4Address": "10.2.0.7"}},
            }
        }
    }
    given = {"a": {"IPv4Address": "10.1.0.5"}, "b": {"IPv4Address": "10.2.0.6"}}
    out = with_addresses(container, given)["NetworkSettings"]["Networks"]
    assert out["a"]["IPAMConfig"] == {"IPv4Address": "10.1.0.5"}
    assert out["b"]["IPAMConfig"] == {"IPv4Address": "10.2.0.7"}
    assert container["NetworkSettings"]["Networks"]["a"]["IPAMConfig"] is None  # not changed
