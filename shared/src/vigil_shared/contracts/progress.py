"""`{prefix}.progress.{host}`: one event per step the executor takes (JetStream)."""

from __future__ import annotations

from vigil_shared.contracts.base import Message


class ProgressEvent(Message, frozen=True, kw_only=True):
    plan_id: str
    scan_id: str
    host: str
    container: str
    phase: str  # pulling, stopping, renaming, creating, starting, healthy, removing-old, ...
    message: str = ""
    at: float
    index: int = 0  # this container's place in the plan, 1-based
    total: int = 0
