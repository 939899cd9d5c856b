"""`{prefix}.cmd.scan`: ask scanners for a cycle now (core publish); and
`{prefix}.work.scan.{group}.{host}`: one host's cycle handed to one replica of a scanner group
(JetStream work queue)."""

from __future__ import annotations

from vigil_shared.contracts.base import Message


class ScanCommand(Message, frozen=True, kw_only=True):
    scan_id: str
    hosts: tuple[str, ...] = ()  # empty: every host
    names: tuple[str, ...] = ()  # empty: the scanner's own selection
    images: tuple[str, ...] = ()  # only containers of these repositories (HTTP API ?image=)
    requested_by: str = ""


class ScanWork(Message, frozen=True, kw_only=True):
    """One cycle of one host, for whichever replica of the scanner group takes it first.

    `key` names the tick (or the command) it is for; every replica publishes the same item
    under the message id `{group}.{host}.{key}`, and JetStream keeps one."""

    group: str
    host: str
    key: str
    scan_id: str
    names: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    offered_at: float = 0.0
