"""Stopping a container the way its owner asked: the stop-signal label, then the timeout.

`com.centurylinklabs.watchtower.stop-signal` (e.g. SIGHUP) is sent instead of the image's
stop signal; when the container is still up after `--stop-timeout`, it is killed, as
`docker stop` does. A label the engine would refuse is found before anything is pulled or
stopped (`stop_signal_problem`). Blocking docker-py calls: run in a thread.
"""

from __future__ import annotations

from collections.abc import Mapping

from vigil_shared import labels
from vigil_shared.engine_port import EngineApi

# The signals the engine takes by name on Linux (moby's signal map), without the SIG prefix;
# it also takes numbers 1 to 64, and names in any case, with or without SIG.
_SIGNALS = frozenset(
    (
        "ABRT",
        "ALRM",
        "BUS",
        "CHLD",
        "CLD",
        "CONT",
        "FPE",
        "HUP",
        "ILL",
        "INT",
        "IO",
        "IOT",
        "KILL",
        "PIPE",
        "POLL",
        "PROF",
        "PWR",
        "QUIT",
        "SEGV",
        "STKFLT",
        "STOP",
        "SYS",
        "TERM",
        "TRAP",
        "TSTP",
        "TTIN",
        "TTOU",
        "URG",
        "USR1",
        "USR2",
        "VTALRM",
        "WINCH",
        "XCPU",
        "XFSZ",
        "RTMIN",
        "RTMAX",
        *(f"RTMIN+{n}" for n in range(1, 16)),
        *(f"RTMAX-{n}" for n in range(1, 15)),
    )
)
_MAX_SIGNAL = 64


def valid_signal(value: str) -> bool:
    """Pure: whether the engine takes `value` as a signal (as `docker kill -s` does)."""
    if value.isdigit():
        return 0 < int(value) <= _MAX_SIGNAL
    name = value.upper()
    return name.removeprefix("SIG") in _SIGNALS


def stop_signal_problem(container_labels: Mapping[str, str]) -> str:
    """Pure: why the stop-signal label cannot be used, naming label and value; "" when it
    can, or is not set."""
    value = stop_signal(container_labels)
    if value is None or valid_signal(value):
        return ""
    return (
        f"the label {labels.STOP_SIGNAL}={value!r} is not a signal the engine knows "
        "(e.g. SIGTERM, SIGHUP, SIGINT, or a number 1-64): fix or remove it"
    )


def stop_signal(container_labels: Mapping[str, str]) -> str | None:
    """Pure: the signal the label asks for, if any."""
    value = (container_labels.get(labels.STOP_SIGNAL) or "").strip()
    return value or None


def stop_container(api: EngineApi, container_id: str, *, timeout: int, signal: str | None) -> None:
    """Stop `container_id`; raises the engine's error when it cannot."""
    if signal is None:
        api.stop(container_id, timeout=timeout)
        return
    api.kill(container_id, signal=signal)
    try:
        api.wait(container_id, timeout=timeout)
    except Exception:  # still running after the timeout (requests' ReadTimeout)
        api.kill(container_id, signal="SIGKILL")
        api.wait(container_id, timeout=30)
