"""Vigil on a NATS cluster: the server URLs a client is given, and how many replicas its
streams and key-value buckets get. Pure functions; the bus (bus.py) applies them.

Clustering itself is NATS's own (routes between nats-server nodes, JetStream's Raft groups);
Vigil only lists several servers to connect to and asks for replicated streams.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from vigil_shared.url_masking import mask_url_list

SCHEMES = ("nats", "tls", "ws", "wss")
AUTO_MAX = 3  # auto: a stream survives the loss of one node, at the cost of three copies
REPLICA_CHOICES = ("auto", "1", "3", "5")
_SEPARATORS = re.compile(r"[,\s]+")


class ServerUrlError(ValueError):
    """A server URL that cannot work: the message names it."""


def server_urls(text: str | Sequence[str]) -> tuple[str, ...]:
    """The servers of `--nats-url`: one URL, several separated by commas (or white space),
    or a sequence of such values (the flag repeated). Each must be `scheme://host[:port]`
    with a scheme nats-py speaks; websocket and plain URLs cannot be mixed (nats-py refuses
    that). A comma inside a password must be written %2C."""
    values = [text] if isinstance(text, str) else list(text)
    urls: list[str] = []
    for value in values:
        urls.extend(u for u in _SEPARATORS.split(value) if u)
    if not urls:
        raise ServerUrlError("no NATS server URL given")
    for url in urls:
        parts = urlsplit(url)
        if "://" not in url or parts.scheme not in SCHEMES:
            raise ServerUrlError(
                f"{mask_url(url)!r} is not a NATS URL (want {'|'.join(SCHEMES)}://host:port)"
            )
        try:
            host, _ = parts.hostname, parts.port
        except ValueError:
            raise ServerUrlError(f"{mask_url(url)!r}: the port is not a number") from None
        if not host:
            raise ServerUrlError(f"{mask_url(url)!r}: no host")
    websocket = {urlsplit(u).scheme in ("ws", "wss") for u in urls}
    if len(websocket) > 1:
        raise ServerUrlError("websocket (ws://, wss://) and nats:// or tls:// URLs cannot be mixed")
    return tuple(dict.fromkeys(urls))  # the same server given twice is one server


def mask_url(url: str) -> str:
    """A URL (or comma-separated URLs) of NATS servers with any secret replaced by ***."""
    return mask_url_list(url)


def parse_replicas(text: str) -> int | None:
    """`--nats-replicas`: None for auto, else the number."""
    if text == "auto" or not text:
        return None
    return int(text)


def cluster_size(server_info: Mapping[str, Any]) -> int:
    """How many servers the connected one says its cluster has, from its INFO: a server of
    no cluster is alone; a clustered one lists every member's client URL (its own too) in
    `connect_urls`, unless the cluster is configured with `no_advertise`."""
    if not server_info.get("cluster"):
        return 1
    return max(1, len(set(server_info.get("connect_urls") or ())))


def wanted_replicas(setting: int | None, server_info: Mapping[str, Any]) -> int:
    """The replicas a new stream gets: the setting, or with auto (None) min(3, cluster size)."""
    if setting is not None:
        return setting
    return min(AUTO_MAX, cluster_size(server_info))


def replicas_to_apply(wanted: int, current: int | None, *, explicit: bool) -> int:
    """The replicas a stream should have, given those it has (`current`, None when it does
    not exist yet). An explicit setting is applied as it is, up or down. Auto only ever
    raises: a stream scaled up by hand (or by a service that sees more of the cluster) is
    not scaled down by a service that sees less."""
    if current is None or explicit:
        return wanted
    return max(wanted, current or 1)
