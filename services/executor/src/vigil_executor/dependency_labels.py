"""The `com.centurylinklabs.watchtower.depends-on` label, checked against the host.

Pure. A name in the label that is no container on this host is ignored by the dependency
order (as watchtower ignores it), but the user is told: it is most likely a typo, or a
container that was renamed or removed, and the order they asked for is not kept.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from vigil_shared import labels

_SHORT_ID = 12  # the shortest id prefix the dependency order resolves


def named_dependencies(container_labels: Mapping[str, str]) -> tuple[str, ...]:
    """The containers the label names, as written (leading `/` dropped), each once."""
    value = container_labels.get(labels.DEPENDS_ON) or ""
    parts = (part.strip().lstrip("/") for part in value.split(","))
    return tuple(dict.fromkeys(p for p in parts if p))


def missing_dependencies(
    container_labels: Mapping[str, str], names: Collection[str], ids: Collection[str]
) -> tuple[str, ...]:
    """The names in the label that match no container on the host (by name, or by id or an
    id prefix of at least 12 characters, as the dependency order reads them)."""

    def known(ref: str) -> bool:
        return ref in names or (len(ref) >= _SHORT_ID and any(i.startswith(ref) for i in ids))

    return tuple(ref for ref in named_dependencies(container_labels) if not known(ref))


def missing_note(missing: tuple[str, ...]) -> str:
    """The warning for a container whose label names containers that are not there."""
    which = ", ".join(missing)
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"the {labels.DEPENDS_ON} label names {which}, which {verb} no container on this "
        "host: that dependency is ignored"
    )
