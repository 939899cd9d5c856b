"""Image references, parsed the way Docker parses them.

`nginx` is `docker.io/library/nginx:latest`; `127.0.0.1:5000/app` is on that registry; a
first component is a registry only when it has a dot or a port, or is `localhost`. A reference
that Docker would refuse is refused here too, with the reason, so a typo is an error that
names the reference rather than a 404 from a registry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import msgspec

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
# Every name under which users write Docker Hub, in config.json keys and in references.
DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN = re.compile(
    r"^(?:(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
    r"(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]{32,}$")
_SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")
_WHITESPACE = re.compile(r"\s")  # one C scan, not a Python generator over the characters


class InvalidImageRef(ValueError):
    """A reference Docker would not accept; the message names it and says why."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f"invalid image reference {reference!r}: {reason}")
        self.reference = reference
        self.reason = reason


class ImageRef(msgspec.Struct, frozen=True, kw_only=True):
    registry: str  # `docker.io` for Docker Hub, else host[:port] as written
    repository: str  # `library/nginx`, `team/app`
    tag: str | None = None  # `latest` when neither tag nor digest is given
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """The host to send registry API requests to."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def reference(self) -> str:
        """What goes after `/manifests/`: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def pinned(self) -> bool:
        return self.digest is not None

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _split_domain(remainder: str) -> tuple[str, str]:
    first, sep, rest = remainder.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return DOCKER_HUB, remainder


def parse_image_ref(text: str) -> ImageRef:
    """Parse a reference as Docker does; raise InvalidImageRef with the reason.

    Memoised: a fleet cycle parses the same few references for every container (planning,
    the gateway's check, each RepoDigests entry), and the parse is a pure function of the
    text returning a frozen struct. Refusals are not cached (they raise)."""
    if not isinstance(text, str) or not text:
        raise InvalidImageRef(str(text), "it is empty")
    return _parse_image_ref(text)


# Bounded: the references of one host's or one gateway's containers and their RepoDigests.
@lru_cache(maxsize=8192)
def _parse_image_ref(text: str) -> ImageRef:
    if _WHITESPACE.search(text):
        raise InvalidImageRef(text, "it contains whitespace")
    if len(text) > 4096:
        raise InvalidImageRef(text[:40] + "...", "it is longer than 4096 characters")
    remainder, at, digest = text.partition("@")
    if at:
        if not _DIGEST.match(digest):
            raise InvalidImageRef(text, f"{digest!r} is not a digest (algorithm:hex)")
        if digest.startswith("sha256:") and not _SHA256.match(digest):
            raise InvalidImageRef(text, "a sha256 digest is 64 lowercase hex characters")
    tag: str | None = None
    slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidImageRef(text, f"{tag!r} is not a valid tag")
    domain, path = _split_domain(remainder)
    if not path:
        raise InvalidImageRef(text, "it has no repository name")
    if (domain != DOCKER_HUB or "/" in remainder) and not _DOMAIN.match(domain):
        raise InvalidImageRef(text, f"{domain!r} is not a valid registry host")
    for component in path.split("/"):
        if not component:
            raise InvalidImageRef(text, "it has an empty path component")
        if not _COMPONENT.match(component):
            reason = (
                "repository names must be lowercase"
                if component.lower() != component
                else f"{component!r} is not a valid path component"
            )
            raise InvalidImageRef(text, reason)
    if domain in DOCKER_HUB_ALIASES:
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(domain) + 1 + len(path) > 255:
        raise InvalidImageRef(text, "the repository name is longer than 255 characters")
    if tag is None and not at:
        tag = "latest"
    return ImageRef(registry=domain, repository=path, tag=tag, digest=digest if at else None)


def split_tag(image: str) -> tuple[str, str]:
    """`registry:5000/app:1.2` -> (`registry:5000/app`, `1.2`); no tag means `latest`.

    A plain split of the text, without validation (what a pull or a tag call needs): the one
    place that splits a reference into name and tag."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, "latest"
    return name, tag


def same_repository(a: ImageRef, b: ImageRef) -> bool:
    return a.registry == b.registry and a.repository == b.repository


def local_digests_for(ref: ImageRef, repo_digests: Iterable[str]) -> frozenset[str]:
    """The digests among an image's RepoDigests (`name@sha256:...`) that belong to `ref`'s
    repository: an image pulled from two registries has a digest for each, and only this
    repository's may be compared with this repository's remote digest."""
    found: set[str] = set()
    for entry in repo_digests:
        try:
            other = parse_image_ref(entry)
        except InvalidImageRef:
            continue
        if other.digest and same_repository(ref, other):
            found.add(other.digest)
    return frozenset(found)
