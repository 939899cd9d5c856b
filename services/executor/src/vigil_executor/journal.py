"""The executor's journal of replacements in flight, one key per old container: written
before each step, read by recovery after a crash (recovery.py)."""

from __future__ import annotations

import contextlib

import msgspec
import nats.js.errors

from vigil_executor.recovery import parse_entries
from vigil_shared.bus_port import KeyValue
from vigil_shared.contracts.journal import JournalEntry


class Journal:
    """Over a key-value bucket (Bus.key_value's FailoverKeyValue, or a test's fake)."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def entries(self) -> dict[str, bytes]:
        found: dict[str, bytes] = await self.kv.entries()
        return found

    async def put(self, key: str, entry: JournalEntry) -> None:
        await self.kv.put(key, msgspec.json.encode(entry))

    async def get(self, key: str) -> JournalEntry | None:
        try:
            raw = (await self.kv.get(key)).value or b""
        except nats.js.errors.KeyNotFoundError:
            return None
        return parse_entries([(key, raw)]).get(key)

    async def forget(self, key: str) -> None:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await self.kv.delete(key)
