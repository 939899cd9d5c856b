"""The executor's journal of replacements in flight, one key per old container: written
before each step, read by recovery after a crash (recovery.py)."""

from __future__ import annotations

import contextlib

import msgspec
import nats.js.errors

from vigil_executor.recovery import parse_entries
from vigil_shared.bus_port import KeyValue
from vigil_shared.contracts.journal import JournalEntry, is_entry_key, reported_plans_key
from vigil_shared.logs import get_logger

log = get_logger("vigil.executor")

# How many of a host's last reported plans are remembered: JetStream delivers a plan again
# only until it is acknowledged, so the last few are all that can come back.
REPORTED_KEPT = 64


class Journal:
    """Over a key-value bucket (Bus.key_value's FailoverKeyValue, or a test's fake)."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def entries(self) -> dict[str, bytes]:
        """The replacements' entries, by key (every host's)."""
        found: dict[str, bytes] = await self.kv.entries()
        return {k: v for k, v in found.items() if is_entry_key(k)}

    async def reported_plans(self, host: str) -> list[str]:
        """The ids of the host's last plans whose report is out, oldest first."""
        try:
            raw = (await self.kv.get(reported_plans_key(host))).value or b"[]"
        except nats.js.errors.KeyNotFoundError:
            return []
        try:
            return msgspec.json.decode(raw, type=list[str])
        except msgspec.DecodeError as exc:  # not JSON, or not a list of ids
            log.warning("unreadable list of reported plans ignored", host=host, error=str(exc))
            return []

    async def note_reported(self, host: str, plan_ids: list[str]) -> None:
        """Keep `plan_ids` (oldest first; the last REPORTED_KEPT) as the host's reported plans."""
        kept = plan_ids[-REPORTED_KEPT:]
        await self.kv.put(reported_plans_key(host), msgspec.json.encode(kept))

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
