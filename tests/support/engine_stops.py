"""Whether an engine has begun to stop a container: the moment a test waits for before it
interrupts Vigil mid-stop ("the engine is at it: its stop goes on, whatever Vigil does").

The engines say it differently:

- Docker sends its stop signal with a `kill` event (`signal=15`), then `die` and `stop`.
- Podman 4.3 logs no event when a stop begins (no `kill`, and no `stop` at all through the
  compatible API's stop: only `died` (`die`) once the container has exited, then `cleanup`);
  what shows it is the container's state, `stopping` from just before its signal until the
  container exits (Docker has no such state: its container is `running` until it exits).
  Its events API also answers nothing when `until` has passed by the time it reads its log.
"""

from __future__ import annotations

import time
from typing import Any


def engine_began_stop(client: Any, container_id: str, since: float) -> bool:
    """Whether the engine has begun to stop the container since `since` (a time.time()):
    Podman's state `stopping`, or Docker's `kill` event."""
    state = client.api.inspect_container(container_id)["State"]
    if state.get("Status") == "stopping":
        return True
    found = client.api.events(
        since=since,
        until=time.time(),  # Docker answers at once, up to now (a later `until` streams)
        filters={"container": container_id, "event": "kill"},
        decode=True,
    )
    return any(True for _ in found)


def stop_under_way(state: dict[str, Any]) -> bool:
    """Whether a container's inspect `State` lets a stop still be under way: Docker's
    container is running until it exits, Podman's is `stopping` (and not `Running`)."""
    return bool(state.get("Running")) or state.get("Status") == "stopping"
