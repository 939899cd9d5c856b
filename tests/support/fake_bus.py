"""An in-memory bus (the `vigil_shared.bus_port.BusPort` port), as httpx ships
`MockTransport`: for unit tests of what the services decide, without a NATS server.

It does what Bus does over NATS that its callers rely on: subjects with NATS wildcards (`*`
one token, `>` the rest), queue groups (one member of a group gets each message), messages
that go over the wire (encoded and decoded, so what does not decode is dropped as Bus drops
it), request/reply with Bus's errors, a JetStream stream with msg-id de-duplication, durable
consumers that deliver in order and deliver again what a handler failed, and key-value
buckets with nats-py's errors. tests/integration/test_bus_contract.py runs the same cases
against Bus over a real nats-server and this fake, so it stays true.

Delivery is asynchronous, as on NATS: `await bus.settle()` returns once every message
published so far has been handled. Differences in time only, on purpose: a request that only
plain subscribers hear (nobody serves the subject) times out at once instead of after its
timeout; a publish_event on a subject no stream holds fails at once (Bus retries it for ~30 s
as a failover before its BusError); a failed handler's message comes again after
`redelivery_delay` (Bus naks it for 5 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
import nats.js.errors

from vigil_shared.bus import (
    BusError,
    Handler,
    NoResponders,
    RemoteError,
    RequestHandler,
    RequestTimeout,
)
from vigil_shared.codec import BadMessage, decode, encode
from vigil_shared.contracts.subjects import Subjects
from vigil_shared.telemetry import inject_headers

M = TypeVar("M", bound=msgspec.Struct)


def subject_matches(pattern: str, subject: str) -> bool:
    """Pure: NATS's rule: `*` is one token, `>` (last) one token or more."""
    wanted, got = pattern.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(got) > i
        if i >= len(got) or (token != "*" and token != got[i]):
            return False
    return len(wanted) == len(got)


# ---- key-value ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeEntry:
    bucket: str
    key: str
    value: bytes | None
    revision: int


@dataclass
class FakeKeyValue:
    """A bucket (the `KeyValue` port): one revision counter, deletes leave no key."""

    bucket: str
    data: dict[str, FakeEntry] = field(default_factory=dict)
    revision: int = 0
    # Raised by the next put (e.g. the bus gone), then cleared; None: puts succeed.
    fail_puts: BaseException | None = None

    async def put(self, key: str, value: bytes) -> int:
        if self.fail_puts is not None:
            error, self.fail_puts = self.fail_puts, None
            raise error
        self.revision += 1
        self.data[key] = FakeEntry(self.bucket, key, bytes(value), self.revision)
        return self.revision

    async def get(self, key: str) -> FakeEntry:
        if key not in self.data:  # never put, or deleted: nats-py says not found for both
            raise nats.js.errors.KeyNotFoundError()
        return self.data[key]

    async def delete(self, key: str) -> bool:
        self.revision += 1  # a delete marker, as NATS stores one (even for a missing key)
        self.data.pop(key, None)
        return True

    async def keys(self) -> list[str]:
        return list(self.data)

    async def entries(self) -> dict[str, bytes]:
        return {key: entry.value or b"" for key, entry in self.data.items()}


# ---- subscriptions and consumers ------------------------------------------------------------


@dataclass
class _Subscription:
    pattern: str
    kind: type[Any]
    handler: Handler[Any]
    queue: str


@dataclass
class _Server:
    pattern: str
    kind: type[Any]
    handler: RequestHandler[Any]
    queue: str


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]
    stream: str


@dataclass
class _Consumer:
    stream: str
    durable: str
    pattern: str
    kind: type[Any]
    handler: Handler[Any]
    cursor: int  # the stream sequence delivered and acknowledged last
    busy: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] = field(init=False)


class FakeBus:
    """The `BusPort` port in memory, with what a test reads back (`published`, `stored`)."""

    def __init__(self, prefix: str = "vigil", *, redelivery_delay: float = 0.05) -> None:
        self.subjects = Subjects(prefix)
        self.redelivery_delay = redelivery_delay
        # Every message published (core and JetStream), decoded as it was sent.
        self.published: list[tuple[str, msgspec.Struct]] = []
        self.stored: list[StoredMessage] = []
        self.buckets: dict[str, FakeKeyValue] = {}
        self._subs: list[_Subscription] = []
        self._servers: list[_Server] = []
        self._consumers: dict[tuple[str, str], _Consumer] = {}
        self._streams: dict[str, list[str]] = {
            self.subjects.stream_name: list(self.subjects.stream_subjects)
        }
        self._msg_ids: dict[str, int] = {}
        self._seq = itertools.count(1)
        self._rr = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()  # deliveries to core subscribers
        self._workers: list[asyncio.Task[None]] = []  # one per durable consumer

    # ---- what a test reads back ---------------------------------------------------------

    def messages(self, pattern: str, kind: type[M]) -> list[M]:
        """The messages of `kind` published on subjects matching `pattern`, in order."""
        return [m for s, m in self.published if subject_matches(pattern, s) and isinstance(m, kind)]

    async def settle(self, timeout: float = 5.0) -> None:
        """Return once every message published so far has been handled (or raise)."""
        deadline = time.monotonic() + timeout
        while True:
            await asyncio.sleep(0)
            pending = [t for t in self._tasks if not t.done()]
            if pending:
                await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
            if not any(not t.done() for t in self._tasks) and not any(
                c.busy or self._next(c) is not None
                for c in self._consumers.values()
                if not c.worker.done()  # a consumer whose worker died delivers nothing
            ):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the fake bus did not settle")
            await asyncio.sleep(0.001)

    # ---- set-up (Bus's, no-ops here but for the streams they make) -------------------------

    async def ensure_streams(self) -> None:
        return None

    async def ensure_work_stream(self, duplicate_window: float) -> None:
        self._streams[self.subjects.work_stream_name] = list(self.subjects.work_stream_subjects)

    async def close(self) -> None:
        for task in [*self._tasks, *self._workers]:
            task.cancel()
        for task in [*self._tasks, *self._workers]:
            with contextlib.suppress(BaseException):
                await task

    # ---- core publish / subscribe ---------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _deliver(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        matching = [s for s in self._subs if subject_matches(s.pattern, subject)]
        chosen = [s for s in matching if not s.queue]
        groups: dict[str, list[_Subscription]] = {}
        for s in matching:
            if s.queue:
                groups.setdefault(s.queue, []).append(s)
        chosen += [members[next(self._rr) % len(members)] for members in groups.values()]
        for sub in chosen:
            self._spawn(self._handle(sub, subject, data, dict(headers)))

    async def _handle(
        self, sub: _Subscription, subject: str, data: bytes, headers: dict[str, str]
    ) -> None:
        try:
            message = decode(data, sub.kind)
        except BadMessage:  # Bus logs and drops it
            return
        with contextlib.suppress(Exception):  # Bus logs a handler's failure
            await sub.handler(message, headers)

    async def publish(self, subject: str, message: msgspec.Struct) -> None:
        data = encode(message)
        self.published.append((subject, decode(data, type(message))))
        self._deliver(subject, data, inject_headers())

    async def subscribe(
        self, subject: str, kind: type[M], handler: Handler[M], *, queue: str = ""
    ) -> None:
        self._subs.append(_Subscription(subject, kind, handler, queue))

    # ---- request / reply --------------------------------------------------------------

    async def serve(
        self, subject: str, kind: type[M], handler: RequestHandler[M], *, queue: str
    ) -> None:
        self._servers.append(_Server(subject, kind, handler, queue))

    async def request(
        self, subject: str, message: msgspec.Struct, reply: type[M], *, timeout: float | None = None
    ) -> M:
        timeout = timeout or 30.0
        servers = [s for s in self._servers if subject_matches(s.pattern, subject)]
        if not servers:
            if any(subject_matches(s.pattern, subject) for s in self._subs):
                raise RequestTimeout(f"no answer on {subject} within {timeout:g}s")
            raise NoResponders(f"no service answers on {subject}")
        server = servers[next(self._rr) % len(servers)]
        headers = inject_headers()
        try:
            request = decode(encode(message), server.kind)
        except BadMessage as exc:
            raise RemoteError(f"{subject}: {exc}") from None  # Bus: an error reply
        try:
            answer = await asyncio.wait_for(server.handler(request, headers), timeout)
        except TimeoutError:
            raise RequestTimeout(f"no answer on {subject} within {timeout:g}s") from None
        except Exception as exc:
            raise RemoteError(f"{subject}: {type(exc).__name__}: {exc}") from None
        try:
            return decode(encode(answer), reply)
        except BadMessage as exc:
            raise RemoteError(f"{subject}: unusable answer: {exc}") from None

    # ---- JetStream ----------------------------------------------------------------------

    async def publish_event(
        self, subject: str, message: msgspec.Struct, *, msg_id: str | None = None
    ) -> bool:
        stream = next(
            (
                name
                for name, patterns in self._streams.items()
                if any(subject_matches(p, subject) for p in patterns)
            ),
            None,
        )
        if stream is None:  # NATS: no stream answers the publish
            raise BusError(f"JetStream did not store the message on {subject} in time")
        if msg_id is not None and msg_id in self._msg_ids:
            return False
        data = encode(message)
        headers = {**inject_headers(), "Nats-Msg-Id": msg_id or f"fake-{len(self.stored)}"}
        seq = next(self._seq)
        if msg_id is not None:
            self._msg_ids[msg_id] = seq
        self.published.append((subject, decode(data, type(message))))
        self.stored.append(StoredMessage(seq, subject, data, headers, stream))
        self._deliver(subject, data, headers)  # core subscribers hear it too, as on NATS
        for consumer in self._consumers.values():
            consumer.wake.set()
        return True

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
    ) -> None:
        stream_name = stream or self.subjects.stream_name
        key = (stream_name, durable)
        found = self._consumers.get(key)
        if found is not None:
            if found.pattern != subject:
                raise BusError(
                    f"the consumer {durable} of stream {stream_name} is not the one Vigil makes"
                )
            found.handler = handler  # the durable is bound again, where it stood
            if found.worker.done():  # its consumer died (a handler that crashed)
                found.worker = asyncio.ensure_future(self._consume(found))
                self._workers.append(found.worker)
            found.wake.set()
            return
        cursor = self.stored[-1].seq if deliver_new and self.stored else 0
        consumer = _Consumer(stream_name, durable, subject, kind, handler, cursor)
        self._consumers[key] = consumer
        consumer.worker = asyncio.ensure_future(self._consume(consumer))
        self._workers.append(consumer.worker)

    def _next(self, consumer: _Consumer) -> StoredMessage | None:
        for message in self.stored:
            if (
                message.seq > consumer.cursor
                and message.stream == consumer.stream
                and subject_matches(consumer.pattern, message.subject)
            ):
                return message
        return None

    async def _consume(self, consumer: _Consumer) -> None:
        while True:
            message = self._next(consumer)
            if message is None:
                consumer.wake.clear()
                await consumer.wake.wait()
                continue
            consumer.busy = True
            try:
                try:
                    decoded = decode(message.data, consumer.kind)
                except BadMessage:  # terminated: never delivered again
                    consumer.cursor = message.seq
                    continue
                try:
                    await consumer.handler(decoded, dict(message.headers))
                except Exception:  # nak'd: delivered again after a pause
                    await asyncio.sleep(self.redelivery_delay)
                    continue
                consumer.cursor = message.seq
            finally:
                consumer.busy = False

    # ---- key-value ----------------------------------------------------------------------

    async def key_value(self, suffix: str) -> FakeKeyValue:
        bucket = f"{self.subjects.stream_name}_{suffix}"
        return self.buckets.setdefault(bucket, FakeKeyValue(bucket))
