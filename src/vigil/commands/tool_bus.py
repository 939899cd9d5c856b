"""The NATS a tool (`vigil events`, `history`, `status`, `trigger`) reads: --nats-url, else
the all-in-one's on this machine (its URL is kept in the state directory), else, where
allowed, the all-in-one's store opened by an embedded server for the time of the command."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec

from vigil.process.bus_options import bus_config
from vigil.process.embedded_nats import EmbeddedNats, default_state_dir, running_url, start_embedded
from vigil.process.state_lock import StateDirBusy, StateLock, busy_message
from vigil_shared.bus import Bus

WAIT_FOR_RUNNING_S = 10.0  # a Vigil that holds the state dir has this long to answer


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
    lock: StateLock | None = None
    try:
        if not url:
            state_dir = Path(values.get("state_dir") or default_state_dir())
            url, lock = await _running_or_locked(state_dir, name, create=open_store == "always")
            if url is None:
                stored = (state_dir / "nats").is_dir()
                if open_store == "never" or (open_store == "if-stored" and not stored):
                    raise NoNats(
                        f"no vigil is running from {state_dir} and nothing is stored there; "
                        "give --nats-url to reach a fleet"
                    )
                embedded = EmbeddedNats(state_dir / "nats")
                await start_embedded(embedded)
                url = embedded.url
            config = msgspec.structs.replace(config, url=url)
        bus = await Bus.connect(config, name=name)
        try:
            yield bus
        finally:
            await bus.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        if lock is not None:
            lock.release()


async def _running_or_locked(
    state_dir: Path, name: str, *, create: bool, wait_s: float = WAIT_FOR_RUNNING_S
) -> tuple[str | None, StateLock | None]:
    """The running Vigil's NATS URL, or (when none runs) the state dir's lock, so that no
    Vigil starts on the store while this tool has it open. A holder whose NATS does not
    answer yet (it is starting) is waited for a little; then StateDirBusy names it."""
    deadline = time.monotonic() + wait_s
    while True:
        url = running_url(state_dir / "nats")
        if url is not None:
            return url, None
        if not create and not state_dir.is_dir():
            return None, None  # nothing there to open or to lock
        lock = StateLock(state_dir, name.replace("-", " ", 1))
        if await asyncio.to_thread(lock.try_acquire):
            # Locked: if a Vigil had started just before, its URL answers now.
            url = running_url(state_dir / "nats")
            if url is not None:
                lock.release()
                return url, None
            return None, lock
        if time.monotonic() > deadline:
            raise StateDirBusy(busy_message(state_dir) + "; its NATS does not answer")
        await asyncio.sleep(0.2)
