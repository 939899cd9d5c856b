"""The NATS a tool (`vigil events`, `history`, `status`, `trigger`) reads: --nats-url, else
the all-in-one's on this machine (its URL is kept in the state directory), else, where
allowed, the all-in-one's store opened by an embedded server for the time of the command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec

from vigil.bus_options import bus_config
from vigil.embedded_nats import EmbeddedNats, default_state_dir, running_url
from vigil_shared.bus import Bus


class NoNats(RuntimeError):
    """No NATS to read: none given, none running here, and no store to open."""


@asynccontextmanager
async def tool_bus(
    values: Mapping[str, Any], name: str, *, open_store: str = "always"
) -> AsyncIterator[Bus]:
    """`open_store`: "always" (start an embedded server on the state dir when none runs),
    "if-stored" (only when the store exists), "never"."""
    url = values.get("nats_url")
    config = bus_config(values, embedded=not url)  # a bad --nats-* file is named first
    embedded: EmbeddedNats | None = None
    if not url:
        state_dir = Path(values.get("state_dir") or default_state_dir())
        url = running_url(state_dir / "nats")
        if url is None:
            stored = (state_dir / "nats").is_dir()
            if open_store == "never" or (open_store == "if-stored" and not stored):
                raise NoNats(
                    f"no vigil is running from {state_dir} and nothing is stored there; "
                    "give --nats-url to reach a fleet"
                )
            embedded = EmbeddedNats(state_dir / "nats")
            await asyncio.to_thread(embedded.start)
            url = embedded.url
        config = msgspec.structs.replace(config, url=url)
    try:
        bus = await Bus.connect(config, name=name)
        try:
            yield bus
        finally:
            await bus.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
