"""The bus as the executor uses it: a port, so that a fake can stand in (the engine's is
engine_port.py).

`vigil_shared.bus.Bus` is the real adapter; tests/support/fake_bus.py an in-memory one, and
tests/integration/test_bus_contract.py runs the same cases against both, so the fake stays
true. Errors are part of the contract: `NoResponders`, `RequestTimeout` and `RemoteError`
(bus.py) from a request; a missing key of a bucket is nats-py's `KeyNotFoundError`.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

import msgspec

from vigil_shared.bus import Handler, RequestHandler
from vigil_shared.contracts.subjects import Subjects

M = TypeVar("M", bound=msgspec.Struct)


class KeyValueEntry(Protocol):
    @property
    def value(self) -> bytes | None: ...


class KeyValue(Protocol):
    """A key-value bucket (Bus.key_value's FailoverKeyValue, as used)."""

    async def put(self, key: str, value: bytes) -> int: ...

    async def get(self, key: str) -> KeyValueEntry: ...

    async def delete(self, key: str) -> bool: ...

    async def keys(self) -> list[str]: ...

    async def entries(self) -> dict[str, bytes]: ...


class BusPort(Protocol):
    """Bus's calls (its signatures, as far as they are used)."""

    @property
    def subjects(self) -> Subjects: ...

    async def publish(self, subject: str, message: msgspec.Struct) -> None: ...

    async def publish_event(
        self, subject: str, message: msgspec.Struct, *, msg_id: str | None = None
    ) -> bool: ...

    async def subscribe(
        self, subject: str, kind: type[M], handler: Handler[M], *, queue: str = ""
    ) -> None: ...

    async def request(
        self, subject: str, message: msgspec.Struct, reply: type[M], *, timeout: float | None = None
    ) -> M: ...

    async def serve(
        self, subject: str, kind: type[M], handler: RequestHandler[M], *, queue: str
    ) -> None: ...

    async def consume(
        self,
        subject: str,
        durable: str,
        kind: type[M],
        handler: Handler[M],
        *,
        ack_wait: float = 60.0,
        max_ack_pending: int = 1,
        deliver_new: bool = True,
        stream: str | None = None,
    ) -> None: ...

    async def key_value(self, suffix: str) -> KeyValue: ...
