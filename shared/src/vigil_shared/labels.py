"""The container labels watchtower users already set; Vigil reads them unchanged.

Scanner (selection) and executor (order, hooks, stop signal) read them: one definition.
"""

from __future__ import annotations

from collections.abc import Mapping

PREFIX = "com.centurylinklabs.watchtower"
ENABLE = f"{PREFIX}.enable"
SCOPE = f"{PREFIX}.scope"
MONITOR_ONLY = f"{PREFIX}.monitor-only"
NO_PULL = f"{PREFIX}.no-pull"
# watchtower marks its own container with this label; Vigil does the same.
SELF = f"{PREFIX}"
DEPENDS_ON = f"{PREFIX}.depends-on"
STOP_SIGNAL = f"{PREFIX}.stop-signal"

# Lifecycle hooks (--enable-lifecycle-hooks): a shell command run inside the container, and
# its timeout in minutes (`...-timeout`).
HOOK_PHASES = ("pre-check", "pre-update", "post-update", "post-check")


def hook_label(phase: str) -> str:
    return f"{PREFIX}.lifecycle.{phase}"


def hook_timeout_label(phase: str) -> str:
    return f"{PREFIX}.lifecycle.{phase}-timeout"


# Go's strconv.ParseBool, which watchtower reads every boolean label with: exactly these
# strings. Anything else ("yes", "on", " true", "falsy", "") is not a boolean, and a label
# that is not a boolean counts as not set.
_PARSE_BOOL = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
# The boolean labels; the self label is not one of them (see is_self).
BOOL_LABELS = (ENABLE, MONITOR_ONLY, NO_PULL)


def bool_label(container_labels: Mapping[str, str], label: str) -> bool | None:
    """Pure: a boolean label as watchtower reads it; None when it is missing or is not a
    boolean (watchtower warns and treats it as not set)."""
    raw = container_labels.get(label)
    return None if raw is None else _PARSE_BOOL.get(raw)


def unparsable_bool_labels(container_labels: Mapping[str, str]) -> tuple[str, ...]:
    """Pure: the boolean labels set to something that is not a boolean (worth a warning)."""
    return tuple(
        f"{label}={container_labels[label]!r}"
        for label in BOOL_LABELS
        if label in container_labels and bool_label(container_labels, label) is None
    )


def is_self(container_labels: Mapping[str, str]) -> bool:
    """Pure: the container runs Vigil (or watchtower) itself. watchtower compares this label
    with "true" exactly (ContainsWatchtowerLabel), not with ParseBool."""
    return container_labels.get(SELF) == "true"


def flag_with_label(
    container_labels: Mapping[str, str], label: str, flag: bool, label_take_precedence: bool
) -> bool:
    """Pure: a per-container switch (monitor-only, no-pull) from the flag and the label, as
    watchtower's getContainerOrGlobalBool: a label that is missing or not a boolean leaves
    the flag; a label set to true adds to the flag; with --label-take-precedence the label,
    true or false, wins over the flag."""
    value = bool_label(container_labels, label)
    if value is None:
        return flag
    return value if label_take_precedence else (value or flag)
