"""`--cleanup`: the old image of an update is removed once nothing on this engine names it.

An image stays while any tag names it (`app:1.2` beside the updated `app:latest`: by then the
pull has moved the updated tag to the new build, so any tag left on the old image is another
one) or while any container uses it, running or stopped (another container of the same tag
not updated yet, an old container renamed aside). Watchtower removes the old image by id with
force, which takes every other tag with it and deletes an image a stopped container still
runs on; Vigil keeps it then and says why.

A semver policy moves a container to another tag (`app:1.2.3` to `app:1.4.0`): the old
tag then names the old image, and is the update's own leftover. It does not keep the image
when no container (running or stopped) is created from that tag; it is removed with it.
Any other tag still keeps it.

The decision is pure; the removal is a thin adapter (blocking docker-py calls: run it in a
thread), and it does not force, so the engine itself refuses an image that a container took
up meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from vigil_shared.engine_port import Engine, EngineApi
from vigil_shared.logs import get_logger

log = get_logger("vigil.executor")

_UNTAGGED = "<none>:<none>"


class Cleanup(msgspec.Struct, frozen=True, kw_only=True):
    removed: bool
    reason: str = ""  # why the image was kept, when it was


def why_kept(
    image: Mapping[str, Any], containers: Iterable[Mapping[str, Any]], released: str = ""
) -> str:
    """Pure: why `image` (its inspect data) must stay, given the engine's containers (the
    list call's entries, all of them); "" when it may be removed. `released`: the tag the
    update moved the container away from, which keeps the image only while a container
    is created from it."""
    containers = list(containers)
    image_id = str(image.get("Id") or "")
    tags = sorted(t for t in image.get("RepoTags") or () if t and t != _UNTAGGED)
    if released in tags and not any(c.get("Image") == released for c in containers):
        tags.remove(released)
    if tags:
        return f"still tagged {', '.join(tags)}"
    users = sorted(
        str((c.get("Names") or [c.get("Id", "")[:12]])[0]).lstrip("/")
        for c in containers
        if image_id and image_id in (c.get("ImageID"), c.get("Image"))
    )
    if users:
        return (
            f"still used by {'container' if len(users) == 1 else 'containers'} {', '.join(users)}"
        )
    return ""


def _exists(api: EngineApi, image_id: str) -> bool:
    try:
        api.inspect_image(image_id)
    except Exception as exc:
        if getattr(exc, "status_code", None) == 404:
            return False
        raise
    return True


def _api_error(exc: Exception) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def remove_image_if_unused(client: Engine, image_id: str, released: str = "") -> Cleanup:
    """Remove `image_id` unless a tag or a container on this engine still names it
    (`released`: a tag the update moved away from, see `why_kept`)."""
    api = client.api
    try:
        image = api.inspect_image(image_id)
    except Exception as exc:
        if getattr(exc, "status_code", None) == 404:
            return Cleanup(removed=False, reason="it is not on this host any more")
        return Cleanup(removed=False, reason=f"cannot inspect it: {_api_error(exc)}")
    try:
        reason = why_kept(image, api.containers(all=True), released)
        if reason:
            return Cleanup(removed=False, reason=reason)
        if released and released in (image.get("RepoTags") or ()):
            api.remove_image(released, force=False)  # the last tag: the image goes with it
            if not _exists(api, image_id):
                return Cleanup(removed=True)
        try:
            api.remove_image(image_id, force=False)
        except Exception as exc:
            # Untagged, but pulled under more than one name: the digests that are left are no
            # tags a user names, and the engine removes them only when forced.
            if "referenced in multiple repositories" not in _api_error(exc):
                raise
            reason = why_kept(api.inspect_image(image_id), api.containers(all=True))
            if reason:
                return Cleanup(removed=False, reason=reason)
            api.remove_image(image_id, force=True)
    except Exception as exc:
        log.warning("old image not removed", image=image_id[:19], error=_api_error(exc))
        return Cleanup(removed=False, reason=f"the engine refused: {_api_error(exc)}")
    return Cleanup(removed=True)
