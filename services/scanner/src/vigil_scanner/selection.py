"""Which containers a scan looks at: watchtower's selection rules, as a pure function.

Names given as arguments are matched as watchtower's FilterByNames does: a name equal to the
container's (with or without Docker's leading slash), or a regular expression whose first
match in `/NAME` starts at or after the slash and ends at most one character short of the
end (watchtower's `start <= 1 && end >= len-1`; so `web` also selects `web1`, and
`ba(b|ll)oon` selects `balloon` but not `baboonious`). --disable-containers names are exact
(with or without the slash), never patterns, as FilterByDisableNames.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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


class NamePatterns:
    """Names and patterns of the arguments, compiled once per scan (a pattern that is not a
    regular expression only matches by equality, as watchtower skips it)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._compiled: list[tuple[str, re.Pattern[str] | None]] = []
        for name in self.names:
            try:
                self._compiled.append((name, re.compile(name)))
            except re.error:
                self._compiled.append((name, None))

    def matching(self, container_name: str) -> tuple[str, ...]:
        """The names of the arguments that select this container."""
        return tuple(n for n, rx in self._compiled if _name_matches(n, rx, container_name))

    def matches(self, container_name: str) -> bool:
        return any(_name_matches(n, rx, container_name) for n, rx in self._compiled)


def _name_matches(name: str, rx: re.Pattern[str] | None, container_name: str) -> bool:
    full = "/" + container_name  # the name as Docker reports it, and watchtower compares it
    if name in (full, container_name):
        return True
    if rx is None:
        return False
    found = rx.search(full)
    return found is not None and found.start() <= 1 and found.end() >= len(full) - 1


def name_matches(name: str, container_name: str) -> bool:
    """Pure: does one name argument select the container `container_name`?"""
    return NamePatterns((name,)).matches(container_name)


def _disabled(container_name: str, disabled: tuple[str, ...]) -> bool:
    return container_name in disabled or "/" + container_name in disabled


def _state_allowed(c: ContainerInfo, sel: Selection) -> bool:
    if c.state == "running":
        return True
    if c.state == "restarting":
        return sel.include_restarting
    if c.state in {"exited", "created"}:
        return sel.include_stopped
    return False  # paused, dead, removing


def is_selected(c: ContainerInfo, sel: Selection, names: NamePatterns | None = None) -> bool:
    if sel.names and not (names or NamePatterns(sel.names)).matches(c.name):
        return False
    if _disabled(c.name, sel.disabled):
        return False
    if sel.images and not image_matches(c.image, sel.images):
        return False
    # A label that is not a boolean counts as not set (watchtower's Enabled()).
    enable = labels.bool_label(c.labels, labels.ENABLE)
    if enable is False:
        return False  # an explicit opt-out wins everywhere
    if sel.label_enable and enable is None:
        # watchtower's FilterByEnableLabel asks only that the label be set (to a boolean);
        # enable=false was excluded just above.
        return False
    if sel.scope:
        # As watchtower: a container without a scope label, or with an empty one, is in the
        # scope "none".
        container_scope = c.labels.get(labels.SCOPE) or "none"
        if container_scope != sel.scope:
            return False
    return _state_allowed(c, sel)


def select(containers: tuple[ContainerInfo, ...], sel: Selection) -> Selected:
    names = NamePatterns(sel.names)
    chosen = tuple(c for c in containers if is_selected(c, sel, names))
    used = {n for c in containers for n in names.matching(c.name)}
    missing = tuple(n for n in sel.names if n not in used)
    return Selected(containers=chosen, missing_names=missing)
