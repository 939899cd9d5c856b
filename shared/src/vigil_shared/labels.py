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
