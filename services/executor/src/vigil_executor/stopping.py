"""Stopping a container the way its owner asked: the stop-signal label, then the timeout.

`com.centurylinklabs.watchtower.stop-signal` (e.g. SIGHUP) is sent instead of the image's
stop signal; when the container is still up after `--stop-timeout`, it is killed, as
`docker stop` does. Blocking docker-py calls: run in a thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil_shared import labels


def stop_signal(container_labels: Mapping[str, str]) -> str | None:
    """Pure: the signal the label asks for, if any."""
    value = (container_labels.get(labels.STOP_SIGNAL) or "").strip()
    return value or None


def stop_container(api: Any, container_id: str, *, timeout: int, signal: str | None) -> None:
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
