"""Podman's inspect forms turned into what its create takes (engine_forms.py), by tables."""

from __future__ import annotations

from typing import Any

import pytest

from vigil_executor.engine_forms import for_engine, ulimit_name
from vigil_executor.podman_api import check_interval, with_image_healthcheck
from vigil_executor.recreate import build_create_spec
from vigil_shared.engine_kind import EngineKind

SHORT_ID = "9b9cb12a0d1d"
ABSENT = object()


@pytest.mark.parametrize(
    ("reported", "given"),
    [
        ("RLIMIT_NOFILE", "nofile"),  # Podman's inspect
        ("RLIMIT_NPROC", "nproc"),
        ("rlimit_core", "core"),
        ("nofile", "nofile"),  # Docker's, as it was given
        ("memlock", "memlock"),
    ],
)
def test_ulimit_names_are_given_back_as_create_takes_them(reported: str, given: str) -> None:
    assert ulimit_name(reported) == given


# (engine, body field path, inspect value, create value or ABSENT)
CASES: list[tuple[EngineKind, tuple[str, ...], Any, Any]] = [
    (
        "podman",
        ("HostConfig", "Ulimits"),
        [{"Name": "RLIMIT_NOFILE", "Soft": 1024, "Hard": 1024}],
        [{"Name": "nofile", "Soft": 1024, "Hard": 1024}],
    ),
    (
        "docker",
        ("HostConfig", "Ulimits"),
        [{"Name": "RLIMIT_NOFILE", "Soft": 1024, "Hard": 2048}],
        [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
    ),
    ("docker", ("HostConfig", "Ulimits"), None, None),
    # Podman's own environment entries: its defaults, and the old container's hostname.
    (
        "podman",
        ("Env",),
        ["PATH=/bin", "TERM=xterm", "container=podman", "A=1", f"HOSTNAME={SHORT_ID}"],
        ["PATH=/bin", "A=1"],
    ),
    ("podman", ("Env",), ["HOSTNAME=mine", "TERM=vt100"], ["HOSTNAME=mine", "TERM=vt100"]),
    ("docker", ("Env",), ["TERM=xterm", "container=podman"], ["TERM=xterm", "container=podman"]),
    ("podman", ("HostConfig", "Runtime"), "oci", ABSENT),
    ("podman", ("HostConfig", "Runtime"), "runc", "runc"),
    ("docker", ("HostConfig", "Runtime"), "runc", "runc"),
    ("podman", ("HostConfig", "PidMode"), "private", ABSENT),
    ("podman", ("HostConfig", "PidMode"), "host", "host"),
    ("podman", ("HostConfig", "UTSMode"), "private", ABSENT),
    ("podman", ("HostConfig", "IpcMode"), "shareable", ABSENT),
    ("podman", ("HostConfig", "IpcMode"), "container:db", "container:db"),
    ("podman", ("HostConfig", "CgroupnsMode"), "private", ABSENT),
    ("docker", ("HostConfig", "IpcMode"), "shareable", "shareable"),
    ("podman", ("StopSignal",), "15", ABSENT),  # Podman's default, by number
    ("podman", ("StopSignal",), "2", "SIGINT"),
    ("podman", ("StopSignal",), "SIGUSR1", "SIGUSR1"),
    ("docker", ("StopSignal",), "SIGINT", "SIGINT"),
    # Podman reports no device permissions, and refuses "" at create.
    (
        "podman",
        ("HostConfig", "Devices"),
        [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": ""}],
        [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}],
    ),
    (
        "podman",
        ("HostConfig", "Devices"),
        [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "r"}],
        [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "r"}],
    ),
]


def _at(body: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path[:-1]:
        body = body.get(key) or {}
    return body.get(path[-1], ABSENT)


@pytest.mark.parametrize(("engine", "path", "reported", "given"), CASES)
def test_a_field_as_inspect_reports_it_is_created_as_the_engine_takes_it(
    engine: EngineKind, path: tuple[str, ...], reported: Any, given: Any
) -> None:
    body: dict[str, Any] = {"HostConfig": {}}
    target = body if len(path) == 1 else body["HostConfig"]
    target[path[-1]] = reported
    assert _at(for_engine(body, engine, SHORT_ID), path) == given


def test_the_input_body_is_left_as_it_was() -> None:
    body = {"Env": ["TERM=xterm"], "HostConfig": {"Ulimits": [{"Name": "RLIMIT_NOFILE"}]}}
    for_engine(body, "podman", SHORT_ID)
    assert body == {"Env": ["TERM=xterm"], "HostConfig": {"Ulimits": [{"Name": "RLIMIT_NOFILE"}]}}


def test_a_podman_container_as_inspect_reports_it_gives_a_create_podman_takes() -> None:
    """Debian's podman 4.3.1: `podman run -d --name web -e A=1 IMAGE`, as its compatible
    inspect reports it (the fields that differ from Docker's)."""
    container = {
        "Id": SHORT_ID + "0" * 52,
        "Name": "/web",
        "Image": "sha256:" + "1" * 64,
        "Config": {
            "Hostname": SHORT_ID,
            "Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
                "container=podman",
                "VIGIL_TEST_MARKER=v1",
                "A=1",
                f"HOSTNAME={SHORT_ID}",
            ],
            "StopSignal": "15",
            "Labels": {"vigil.test.marker": "v1"},
        },
        "HostConfig": {
            "NetworkMode": "bridge",
            "IpcMode": "shareable",
            "PidMode": "private",
            "UTSMode": "private",
            "Runtime": "oci",
            "Ulimits": [
                {"Name": "RLIMIT_NOFILE", "Hard": 1024, "Soft": 1024},
                {"Name": "RLIMIT_NPROC", "Hard": 1024, "Soft": 1024},
            ],
        },
        "NetworkSettings": {"Networks": {"podman": {"Aliases": [SHORT_ID], "NetworkID": "podman"}}},
    }
    image = {"Config": {"Env": ["VIGIL_TEST_MARKER=v1"], "Labels": {"vigil.test.marker": "v1"}}}
    body = build_create_spec(container, image, "app:latest", engine="podman").body
    assert body["Env"] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "A=1",
    ]
    assert "StopSignal" not in body and "Hostname" not in body
    host = body["HostConfig"]
    assert [u["Name"] for u in host["Ulimits"]] == ["nofile", "nproc"]
    assert not {"IpcMode", "PidMode", "UTSMode", "Runtime"} & set(host)
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"podman": {}}}


@pytest.mark.parametrize(
    ("compat", "libpod", "healthcheck"),
    [
        ({"Config": {}}, {"Healthcheck": {"Test": ["CMD", "true"]}}, {"Test": ["CMD", "true"]}),
        ({"Config": {}}, {}, ABSENT),
        ({"Config": {"Healthcheck": {"Test": ["NONE"]}}}, {"Healthcheck": {}}, {"Test": ["NONE"]}),
    ],
)
def test_an_image_healthcheck_podman_leaves_out_of_its_compatible_inspect_is_put_back(
    compat: dict[str, Any], libpod: dict[str, Any], healthcheck: Any
) -> None:
    assert with_image_healthcheck(compat, libpod)["Config"].get("Healthcheck", ABSENT) == (
        healthcheck
    )


@pytest.mark.parametrize(
    ("healthcheck", "seconds"),
    [({"Interval": 2_000_000_000}, 2.0), ({"Interval": 0}, 30.0), (None, 30.0)],
)
def test_the_check_interval_vigil_runs_podman_checks_at(healthcheck: Any, seconds: float) -> None:
    assert check_interval({"Config": {"Healthcheck": healthcheck}}) == seconds
