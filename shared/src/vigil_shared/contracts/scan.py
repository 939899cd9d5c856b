"""`{prefix}.cmd.scan`: ask scanners for a cycle now (core publish)."""

from __future__ import annotations

from vigil_shared.contracts.base import Message


class ScanCommand(Message, frozen=True, kw_only=True):
    scan_id: str
    hosts: tuple[str, ...] = ()  # empty: every host
    names: tuple[str, ...] = ()  # empty: the scanner's own selection
    images: tuple[str, ...] = ()  # only containers of these repositories (HTTP API ?image=)
    requested_by: str = ""
