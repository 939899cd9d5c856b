"""Which engine answers: told from its /version answer, by a table of real answers."""

from __future__ import annotations

from typing import Any

import pytest

from vigil_shared.engine_kind import EngineIdentity, identify_engine

DEBIAN_PODMAN = {
    "Platform": {"Name": "linux/amd64/debian-12"},
    "Components": [
        {"Name": "Podman Engine", "Version": "4.3.1", "Details": {"APIVersion": "4.3.1"}},
        {"Name": "Conmon", "Version": "conmon version 2.1.6, commit: unknown"},
    ],
    "Version": "4.3.1",
    "ApiVersion": "1.41",
}
DEBIAN_DOCKER = {
    "Platform": {"Name": ""},
    "Components": [
        {"Name": "Engine", "Version": "20.10.24+dfsg1"},
        {"Name": "containerd", "Version": "1.6.20~ds1"},
    ],
    "Version": "20.10.24+dfsg1",
    "ApiVersion": "1.41",
}
DOCKER_CE = {
    "Platform": {"Name": "Docker Engine - Community"},
    "Components": [{"Name": "Engine", "Version": "29.0.1"}],
    "Version": "29.0.1",
    "ApiVersion": "1.52",
}
PODMAN_5_PLATFORM_ONLY = {"Platform": {"Name": "linux/amd64/podman"}, "Version": "5.2.0"}


@pytest.mark.parametrize(
    ("answer", "identity"),
    [
        (DEBIAN_PODMAN, EngineIdentity(kind="podman", version="4.3.1", api_version="1.41")),
        (
            DEBIAN_DOCKER,
            EngineIdentity(kind="docker", version="20.10.24+dfsg1", api_version="1.41"),
        ),
        (DOCKER_CE, EngineIdentity(kind="docker", version="29.0.1", api_version="1.52")),
        (PODMAN_5_PLATFORM_ONLY, EngineIdentity(kind="podman", version="5.2.0")),
        ({}, EngineIdentity(kind="docker")),  # an old engine with no components
    ],
)
def test_the_engine_is_told_from_its_version_answer(
    answer: dict[str, Any], identity: EngineIdentity
) -> None:
    assert identify_engine(answer) == identity


@pytest.mark.parametrize(
    ("identity", "text"),
    [
        (
            EngineIdentity(kind="podman", version="4.3.1", api_version="1.41"),
            "Podman 4.3.1 (API 1.41)",
        ),
        (EngineIdentity(kind="docker", version="20.10.24"), "Docker 20.10.24"),
        (EngineIdentity(), "Docker"),
    ],
)
def test_the_engine_is_described_by_name_and_version(identity: EngineIdentity, text: str) -> None:
    assert identity.describe() == text
