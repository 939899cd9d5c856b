"""The container labels watchtower users already set; Vigil reads them unchanged.

Scanner (selection) and executor (order, hooks, stop signal) read them: one definition.
"""

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


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def flag_with_label(
    container_labels: dict[str, str], label: str, flag: bool, label_take_precedence: bool
) -> bool:
    """Pure: a per-container switch (monitor-only, no-pull) from the flag and the label.

    A label set to true adds to the flag; with --label-take-precedence a label set to false
    also overrides the flag (watchtower's rule)."""
    value = (container_labels.get(label) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE and label_take_precedence:
        return False
    return flag
