"""Which containers a scan looks at: watchtower's selection rules, as a pure function."""

from __future__ import annotations

import msgspec

from vigil_scanner.image_filter import ImageFilter, image_matches
from vigil_shared import labels
from vigil_shared.contracts import ContainerInfo


class Selection(msgspec.Struct, frozen=True, kw_only=True):
    names: tuple[str, ...] = ()  # container names given as arguments
    label_enable: bool = False  # only containers labelled enable=true
    disabled: tuple[str, ...] = ()  # --disable-containers
    scope: str = ""  # --scope; "none" selects containers without a scope label
    include_stopped: bool = False
    include_restarting: bool = False
    images: tuple[ImageFilter, ...] = ()  # HTTP API ?image=: only these repositories


class Selected(msgspec.Struct, frozen=True, kw_only=True):
    containers: tuple[ContainerInfo, ...]
    missing_names: tuple[str, ...] = ()  # names asked for that no container has


def _truthy(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _state_allowed(c: ContainerInfo, sel: Selection) -> bool:
    if c.state == "running":
        return True
    if c.state == "restarting":
        return sel.include_restarting
    if c.state in {"exited", "created"}:
        return sel.include_stopped
    return False  # paused, dead, removing


def is_selected(c: ContainerInfo, sel: Selection) -> bool:
    if sel.names and c.name not in sel.names:
        return False
    if c.name in sel.disabled:
        return False
    if sel.images and not image_matches(c.image, sel.images):
        return False
    enable = _truthy(c.labels.get(labels.ENABLE))
    if enable is False:
        return False  # an explicit opt-out wins everywhere
    if sel.label_enable and enable is not True:
        return False
    if sel.scope:
        # As watchtower: a container without a scope label is in the scope "none".
        container_scope = c.labels.get(labels.SCOPE, "").strip() or "none"
        if container_scope != sel.scope:
            return False
    return _state_allowed(c, sel)


def select(containers: tuple[ContainerInfo, ...], sel: Selection) -> Selected:
    chosen = tuple(c for c in containers if is_selected(c, sel))
    present = {c.name for c in containers}
    missing = tuple(n for n in sel.names if n not in present)
    return Selected(containers=chosen, missing_names=missing)
