"""`/v1/update?image=a,b`: only containers whose image is one of those repositories.

An entry names a repository, as Docker reads it (`nginx` is `docker.io/library/nginx`,
`127.0.0.1:5000/app` is on that registry). Without a tag it matches every tag of the
repository; with one (`app:1.2`) only containers that follow that tag. A digest in an entry
is ignored: the repository is what is compared. watchtower compares the text before the
first `:`, which breaks on a registry with a port; Vigil parses both sides.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from vigil_shared.imageref import InvalidImageRef, parse_image_ref


class ImageFilter(msgspec.Struct, frozen=True, kw_only=True):
    registry: str
    repository: str
    tag: str | None = None  # None: any tag


def _names_tag(text: str) -> bool:
    name = text.partition("@")[0]
    return ":" in name.rpartition("/")[2]


def parse_image_filter(entries: Iterable[str]) -> tuple[ImageFilter, ...]:
    """Entries (each may hold several, comma separated) to filters, in order, without
    repeats. Raises InvalidImageRef naming an entry Docker would not accept."""
    found: dict[ImageFilter, None] = {}
    for entry in entries:
        for text in entry.split(","):
            text = text.strip()
            if not text:
                continue
            ref = parse_image_ref(text)
            tag = ref.tag if _names_tag(text) else None
            found[ImageFilter(registry=ref.registry, repository=ref.repository, tag=tag)] = None
    return tuple(found)


def image_matches(image: str, filters: tuple[ImageFilter, ...]) -> bool:
    """Whether a container created from `image` (its Config.Image) is one the filters name."""
    try:
        ref = parse_image_ref(image)
    except InvalidImageRef:
        return False  # e.g. created from an image id: it follows no repository
    return any(
        f.registry == ref.registry
        and f.repository == ref.repository
        and (f.tag is None or f.tag == ref.tag)
        for f in filters
    )
