"""JetStream writes that ride out a failover.

When a NATS node dies, the streams it led elect a new leader among the replicas left; for
those few seconds (and while the client reconnects to another node) a publish gets "no
response from stream" or no answer. The write is not refused, only early: it is sent again
until FAILOVER_WAIT has passed. Publishing again is safe: stream publishes carry a
`Nats-Msg-Id` (JetStream keeps one copy within the duplicate window), and a key-value put
or delete of the same key and value has the same outcome twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats.errors
import nats.js.errors

from vigil_shared.kv_listing import kv_entries, kv_keys
from vigil_shared.logs import get_logger

T = TypeVar("T")

FAILOVER_WAIT = 30.0  # seconds: an election takes a few; a reconnect to another node, less
RETRY_PAUSE = 0.5
# What a write sees while its stream has no leader or its connection has no server.
TRANSIENT: tuple[type[BaseException], ...] = (
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError,
    TimeoutError,
)

log = get_logger("vigil.bus")


async def through_failover(
    call: Callable[[], Awaitable[T]], what: str, *, wait: float = FAILOVER_WAIT
) -> T:
    """`call()` again while it fails as a failover does, up to `wait` seconds; then the last
    error is raised as it came."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    warned = False
    while True:
        try:
            return await call()
        except TRANSIENT as exc:
            if loop.time() + RETRY_PAUSE > deadline:
                raise
            if not warned:
                log.warning(
                    "JetStream did not take the write (a NATS node away, its streams "
                    "electing a leader?); sending it again",
                    what=what,
                    error=str(exc) or type(exc).__name__,
                )
                warned = True
        await asyncio.sleep(RETRY_PAUSE)


# Runs a write to a subject, raising at once when the server refuses the subject (Bus does).
Guard = Callable[[str, Awaitable[Any]], Awaitable[Any]]


class FailoverKeyValue:
    """A nats-py key-value bucket whose writes and reads ride out a failover; anything else
    is the bucket's own. With `guard`, a write the server refuses fails at once instead of
    being sent again until the failover wait is out (a refusal is no failover). With `js`
    (the bucket's JetStream context), `keys()` and `entries()` list the bucket as
    kv_listing.py does, never short."""

    def __init__(
        self, kv: Any, bucket: str = "", guard: Guard | None = None, js: Any = None
    ) -> None:
        self._kv = kv
        self._bucket = bucket
        self._guard = guard
        self._js = js

    def _write(self, key: str, call: Awaitable[Any]) -> Awaitable[Any]:
        if self._guard is None:
            return call
        return self._guard(f"$KV.{self._bucket}.{key}", call)

    async def put(self, key: str, value: bytes) -> int:
        revision: int = await through_failover(
            lambda: self._write(key, self._kv.put(key, value)), f"put {key}"
        )
        return revision

    async def delete(self, key: str) -> bool:
        done: bool = await through_failover(
            lambda: self._write(key, self._kv.delete(key)), f"delete {key}"
        )
        return done

    async def get(self, key: str) -> Any:
        return await through_failover(lambda: self._kv.get(key), f"get {key}")

    async def keys(self) -> list[str]:
        """The keys that hold a value ([] for none; nats-py's own raises NoKeysError)."""
        if self._js is None:
            found: list[str] = await through_failover(lambda: self._kv.keys(), "list keys")
            return found
        return await through_failover(lambda: kv_keys(self._js, self._bucket), "list keys")

    async def entries(self) -> dict[str, bytes]:
        """Every key that holds a value, with its value."""
        if self._js is None:
            raise TypeError("FailoverKeyValue.entries() needs the bucket's JetStream context")
        return await through_failover(lambda: kv_entries(self._js, self._bucket), "list keys")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kv, name)
