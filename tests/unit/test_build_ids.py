"""Telling a registry build by its image id (vigil_gateway/build_ids.py): the pure parts."""

from __future__ import annotations

from typing import Any

import pytest

from vigil_gateway.build_ids import config_digest, judge_by_image_id, platform_manifest
from vigil_shared.contracts import ImageStatus

ID = "sha256:" + "c" * 64


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({"config": {"digest": ID}}, ID),
        ({"config": {"digest": ""}}, ""),
        ({"config": {"digest": 7}}, ""),
        ({"config": "sha256:x"}, ""),
        ({"layers": []}, ""),  # no config: not an image manifest
        ({"config": {"digest": "not-a-digest"}}, ""),
    ],
)
def test_config_digest(manifest: dict[str, Any], expected: str) -> None:
    assert config_digest(manifest) == expected


def entry(digest: str, os: str, arch: str = "amd64") -> dict[str, Any]:
    return {"digest": digest, "platform": {"os": os, "architecture": arch}}


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([entry("a", "linux", "arm64"), entry("b", "linux")], "b"),
        ([entry("att", "unknown", "unknown"), entry("a", "linux", "arm64")], "a"),
        ([entry("att", "unknown", "unknown")], ""),
        ([{"digest": "n"}], ""),  # no platform: not an image manifest of a platform
        ([], ""),
    ],
)
def test_platform_manifest(entries: list[dict[str, Any]], expected: str) -> None:
    assert platform_manifest({"manifests": entries}) == expected


@pytest.mark.parametrize(
    ("local_ids", "remote_id", "outcome", "said_id"),
    [
        ((ID,), ID, "current", ID),
        (("sha256:" + "d" * 64,), ID, "stale", ID),
        ((ID,), "", "stale", ""),  # the registry did not say: as the digests judged
        ((), ID, "stale", ID),
    ],
)
def test_judge_by_image_id(
    local_ids: tuple[str, ...], remote_id: str, outcome: str, said_id: str
) -> None:
    stale = ImageStatus(image="r/app:1", outcome="stale", remote_digest="sha256:" + "e" * 64)
    judged = judge_by_image_id(stale, local_ids, remote_id)
    assert (judged.outcome, judged.remote_image_id) == (outcome, said_id)
    assert judged.remote_digest == stale.remote_digest
