"""`/v1/update?image=`: which containers an image filter names, as a table."""

from __future__ import annotations

import pytest

from vigil_scanner.image_filter import ImageFilter, image_matches, parse_image_filter
from vigil_scanner.selection import Selection, select
from vigil_shared.contracts import ContainerInfo
from vigil_shared.imageref import InvalidImageRef

CASES = [
    # (filter entries, the container's image, selected)
    (["nginx"], "nginx", True),
    (["nginx"], "nginx:1.27", True),  # no tag in the filter: any tag
    (["nginx"], "docker.io/library/nginx:latest", True),
    (["library/nginx"], "nginx:alpine", True),
    (["docker.io/nginx"], "index.docker.io/library/nginx", True),
    (["nginx"], "nginx-proxy", False),
    (["nginx"], "team/nginx", False),
    (["nginx:1.27"], "nginx:1.27", True),  # a tag in the filter: that tag only
    (["nginx:1.27"], "nginx:1.26", False),
    (["nginx:latest"], "nginx", True),
    (["127.0.0.1:5000/app"], "127.0.0.1:5000/app:latest", True),
    (["127.0.0.1:5000/app"], "127.0.0.1:5001/app:latest", False),  # another registry
    (["127.0.0.1:5000/app"], "app", False),
    (["127.0.0.1:5000/app:v2"], "127.0.0.1:5000/app:v2", True),
    (["ghcr.io/team/app"], "ghcr.io/team/app@sha256:" + "a" * 64, True),
    (["ghcr.io/team/app@sha256:" + "b" * 64], "ghcr.io/team/app:1", True),  # digest ignored
    (["a,b", "c"], "c", True),  # several parameters and commas
    ([" a , b "], "b:1", True),
    (["a"], "sha256:" + "c" * 64, False),  # created from an image id: follows no repository
    (["a"], "", False),
]


@pytest.mark.parametrize(("entries", "image", "selected"), CASES)
def test_image_matches(entries: list[str], image: str, selected: bool) -> None:
    assert image_matches(image, parse_image_filter(entries)) is selected


def test_parse_normalises_and_drops_repeats_and_empty_items() -> None:
    assert parse_image_filter(["nginx,,docker.io/library/nginx", "app:1"]) == (
        ImageFilter(registry="docker.io", repository="library/nginx"),
        ImageFilter(registry="docker.io", repository="library/app", tag="1"),
    )


@pytest.mark.parametrize("entry", ["Nginx", "app:bad tag", "a//b", "app@sha256:short"])
def test_an_invalid_entry_is_named(entry: str) -> None:
    with pytest.raises(InvalidImageRef, match="invalid image reference"):
        parse_image_filter([entry])


def c(name: str, image: str, state: str = "running") -> ContainerInfo:
    return ContainerInfo(id=name, name=name, image=image, image_id="sha256:x", state=state)


def test_selection_combines_the_image_filter_with_the_other_rules() -> None:
    inventory = (
        c("web", "reg:5000/web:1"),
        c("web2", "reg:5000/web:2"),
        c("db", "postgres:16"),
        c("old-web", "reg:5000/web:1", state="exited"),
    )
    images = parse_image_filter(["reg:5000/web"])
    chosen = select(inventory, Selection(images=images))
    assert [x.name for x in chosen.containers] == ["web", "web2"]
    chosen = select(inventory, Selection(images=images, disabled=("web2",)))
    assert [x.name for x in chosen.containers] == ["web"]
    chosen = select(inventory, Selection(images=images, names=("db",)))
    assert chosen.containers == ()
