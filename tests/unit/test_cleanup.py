"""--cleanup: when the old image of an update may be removed (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from vigil_executor.cleanup import why_kept

OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64


def image(*tags: str) -> dict[str, Any]:
    return {"Id": OLD, "RepoTags": list(tags), "RepoDigests": [f"reg/app@sha256:{'3' * 64}"]}


def container(name: str, image_id: str, image_field: str = "reg/app:latest") -> dict[str, Any]:
    return {"Id": "c" * 64, "Names": [f"/{name}"], "ImageID": image_id, "Image": image_field}


@pytest.mark.parametrize(
    ("old_image", "containers", "expected"),
    [
        pytest.param(image(), [], "", id="untagged-unused-removed"),
        pytest.param(image("<none>:<none>"), [], "", id="none-tag-is-no-tag"),
        pytest.param(image(), [container("web", NEW)], "", id="others-on-the-new-image"),
        pytest.param(
            image("reg/app:1.2"), [], "still tagged reg/app:1.2", id="another-tag-of-the-image"
        ),
        pytest.param(
            image("reg/app:1.2", "mirror/app:x"),
            [],
            "still tagged mirror/app:x, reg/app:1.2",
            id="several-tags",
        ),
        pytest.param(
            image(), [container("worker", OLD)], "still used by container worker", id="stopped"
        ),
        pytest.param(
            image(),
            [container("b", OLD), container("web-vigil-old-0123456789ab", OLD, OLD)],
            "still used by containers b, web-vigil-old-0123456789ab",
            id="several-containers-one-by-id",
        ),
        pytest.param(
            image(),
            [{"Id": "d" * 64, "Image": OLD}],
            f"still used by container {'d' * 12}",
            id="container-without-names-nor-image-id",
        ),
        pytest.param(
            image("reg/app:1.2"),
            [container("worker", OLD)],
            "still tagged reg/app:1.2",
            id="tag-said-first",
        ),
    ],
)
def test_the_old_image_stays_while_a_tag_or_a_container_names_it(
    old_image: dict[str, Any], containers: list[dict[str, Any]], expected: str
) -> None:
    assert why_kept(old_image, containers) == expected


@pytest.mark.parametrize(
    ("old_image", "containers", "expected"),
    [
        pytest.param(image("reg/app:1.2.3"), [], "", id="the-released-tag-alone"),
        pytest.param(
            image("reg/app:1.2.3"),
            [container("web", NEW, "reg/app:1.4.0")],
            "",
            id="its-container-moved-on",
        ),
        pytest.param(
            image("reg/app:1.2.3"),
            [container("api", OLD, "reg/app:1.2.3")],
            "still tagged reg/app:1.2.3",
            id="another-container-follows-the-released-tag",
        ),
        pytest.param(
            image("reg/app:1.2.3", "reg/app:1.2"),
            [],
            "still tagged reg/app:1.2",
            id="another-tag-still-keeps-it",
        ),
        pytest.param(
            image("reg/app:1.2.3"),
            [container("worker", OLD, OLD)],
            "still used by container worker",
            id="a-container-on-the-image-by-id",
        ),
    ],
)
def test_a_tag_a_semver_move_left_behind_does_not_keep_the_image(
    old_image: dict[str, Any], containers: list[dict[str, Any]], expected: str
) -> None:
    assert why_kept(old_image, containers, released="reg/app:1.2.3") == expected
