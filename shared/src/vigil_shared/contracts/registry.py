"""`{prefix}.registry.check`: digest checks, scanner -> gateway (request/reply, queue group)."""

from __future__ import annotations

from typing import Literal

import msgspec

from vigil_shared.contracts.base import Message

CheckOutcome = Literal["stale", "current", "pinned", "error"]


class ImageCheck(msgspec.Struct, frozen=True, kw_only=True):
    image: str  # the reference as the container names it
    local_digests: tuple[str, ...] = ()  # RepoDigests of the local image


class CheckRequest(Message, frozen=True, kw_only=True):
    scan_id: str
    host: str
    images: tuple[ImageCheck, ...]


class ImageStatus(msgspec.Struct, frozen=True, kw_only=True):
    image: str
    outcome: CheckOutcome
    remote_digest: str | None = None
    error: str | None = None
    credentials: str = "anonymous"  # where credentials came from; never the secret


class CheckReply(Message, frozen=True, kw_only=True):
    scan_id: str
    results: tuple[ImageStatus, ...]
