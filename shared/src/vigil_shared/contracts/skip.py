"""The `{STREAM}_SKIPS` key-value bucket: the builds an operator told the fleet to skip.

One entry per container (`skip_key(host, name)`). The scanner of the host reads its entries at
every cycle and holds the container's update while the skip applies, so a skip holds across
restarts and whichever scanner replica runs the cycle. Written by `vigil skip`, the scanner's
HTTP API and the dashboard (one function: vigil_scanner.container_commands).

A skip applies while `until` is ahead (a duration: every build is held), or, without `until`,
while the registry's build of the tag is still `digest` (the build skipped: the container stays
on what it runs until a newer build than the skipped one appears).
"""

from __future__ import annotations

import base64

from vigil_shared.contracts.base import Message

SKIP_BUCKET = "SKIPS"  # Bus.key_value(SKIP_BUCKET) -> `{STREAM}_SKIPS`


class Skip(Message, frozen=True, kw_only=True):
    host: str
    name: str  # the container
    image: str  # its image reference when skipped
    digest: str = ""  # the registry build skipped ("" with `until`: any build)
    until: float = 0.0  # 0: until a newer build than `digest` appears
    reason: str = ""
    by: str = ""
    created_at: float


def _token(text: str) -> str:
    # A KV key token takes [-_=A-Za-z0-9/]: names and host ids may have dots.
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=") or "_"


def skip_host_prefix(host: str) -> str:
    """The keys of one host's skips start with this (a scanner reads only its own)."""
    return _token(host) + "."


def skip_key(host: str, name: str) -> str:
    return skip_host_prefix(host) + _token(name)
