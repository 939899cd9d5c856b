"""The container labels watchtower users already set; Vigil reads them unchanged."""

PREFIX = "com.centurylinklabs.watchtower"
ENABLE = f"{PREFIX}.enable"
SCOPE = f"{PREFIX}.scope"
MONITOR_ONLY = f"{PREFIX}.monitor-only"
NO_PULL = f"{PREFIX}.no-pull"
# watchtower marks its own container with this label; Vigil does the same.
SELF = f"{PREFIX}"
DEPENDS_ON = f"{PREFIX}.depends-on"
STOP_SIGNAL = f"{PREFIX}.stop-signal"
