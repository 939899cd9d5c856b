"""The bus: Vigil's one adapter over nats-py.

Everything a service says or hears goes through here, as typed messages: publish, request with
a timeout, serve requests in a queue group, and consume a durable JetStream consumer. Decoding
happens at this edge; a malformed message becomes an error reply (requests) or a logged drop
(events), never an exception in a handler. Trace context rides in NATS headers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from opentelemetry import context as otel_context

from vigil_shared.codec import BadMessage, decode, encode
from vigil_shared.contracts.base import ErrorReply
from vigil_shared.contracts.subjects import Subjects
from vigil_shared.logs import get_logger
from vigil_shared.telemetry import extract_context, inject_headers

M = TypeVar("M", bound=msgspec.Struct)

ERROR_HEADER = "Vigil-Error"
DRAIN_TIMEOUT = 2.0  # seconds a closing connection may take to deliver what it holds
DAY = 86400.0

log = get_logger("vigil.bus")


class BusError(RuntimeError):
    """A bus failure described for a human: what was attempted and why it failed."""


class BusUnavailable(BusError):
    pass


class NoResponders(BusError):
    pass


class RequestTimeout(BusError):
    pass


class RemoteError(BusError):
    """The service answered, with an error."""


class BusConfig(msgspec.Struct, frozen=True, kw_only=True):
    url: str = "nats://127.0.0.1:4222"
    prefix: str = "vigil"
    connect_timeout: float = 3.0
    request_timeout: float = 30.0
    audit_retention: float = 30 * DAY
    user: str | None = None
    password: str | None = None
    creds_file: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    def __repr__(self) -> str:  # the password never reaches a log through a repr
        return f"BusConfig(url={_mask_url(self.url)!r}, prefix={self.prefix!r})"


def _mask_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


Handler = Callable[[M, dict[str, str]], Awaitable[None]]
RequestHandler = Callable[[M, dict[str, str]], Awaitable[msgspec.Struct]]


class Bus:
    def __init__(self, nc: NATS, config: BusConfig, name: str) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.config = config
        self.subjects = Subjects(config.prefix)
        self.name = name
        self._tasks: set[asyncio.Task[None]] = set()
        self._subs: list[Subscription] = []
        self._pulls: list[Any] = []  # pull subscriptions of durable consumers

    # ---- connection -------------------------------------------------------------------

    @classmethod
    async def connect(cls, config: BusConfig, *, name: str) -> Bus:
        """Connect, failing fast with a clear error when nobody answers at `config.url`.

        nats-py by default retries a failed first connection for minutes; a service that
        cannot reach its bus at start should say so at once. Once connected, it reconnects
        forever, since a restarting NATS server must not take the services down.
        """

        async def on_error(exc: Exception) -> None:
            log.debug("nats error", error=str(exc))

        connected: list[NATS] = []

        async def on_disconnect() -> None:
            if connected and (connected[0].is_closed or connected[0].is_draining):
                return  # our own close, not a lost connection
            log.warning("disconnected from NATS; reconnecting", url=_mask_url(config.url))

        async def on_reconnect() -> None:
            log.info("reconnected to NATS", url=_mask_url(config.url))

        options: dict[str, Any] = {
            "servers": [config.url],
            "name": name,
            "connect_timeout": config.connect_timeout,
            "allow_reconnect": True,
            "max_reconnect_attempts": 1,
            "reconnect_time_wait": 0.5,
            "error_cb": on_error,
            "disconnected_cb": on_disconnect,
            "reconnected_cb": on_reconnect,
            "drain_timeout": DRAIN_TIMEOUT,
        }
        if config.user:
            options["user"] = config.user
            options["password"] = config.password or ""
        if config.creds_file:
            options["user_credentials"] = config.creds_file
        if config.tls_ca or config.tls_cert:
            import ssl

            tls = ssl.create_default_context(cafile=config.tls_ca)
            if config.tls_cert:
                tls.load_cert_chain(config.tls_cert, config.tls_key)
            options["tls"] = tls
        try:
            nc = await asyncio.wait_for(nats.connect(**options), config.connect_timeout * 3)
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            reason = str(exc) or type(exc).__name__
            raise BusUnavailable(
                f"cannot reach NATS at {_mask_url(config.url)}: {reason}"
            ) from None
        connected.append(nc)
        # From now on a lost connection is retried without limit.
        nc.options["max_reconnect_attempts"] = -1
        nc.options["reconnect_time_wait"] = 1.0
        return cls(nc, config, name)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Messages a pull subscription fetched but nobody handles would hold drain forever;
        # unacknowledged, they are delivered again to the next consumer anyway.
        for sub in self._pulls:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if not self.nc.is_closed:
            # Bounded: a service that was asked to stop must stop.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.drain(), DRAIN_TIMEOUT)
            if not self.nc.is_closed:
                with contextlib.suppress(Exception):
                    await self.nc.close()

    # ---- streams ----------------------------------------------------------------------

    async def ensure_streams(self) -> None:
        """Create (or bring up to date) the one stream that keeps inventory, plans, progress
        and reports. Idempotent: every service calls it at start."""
        config = StreamConfig(
            name=self.subjects.stream_name,
            subjects=self.subjects.stream_subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=self.config.audit_retention,
            duplicate_window=120.0,
        )
        try:
            await self.js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await self.js.update_stream(config)

    async def key_value(self, suffix: str) -> Any:
        """The key-value bucket `{STREAM}_{suffix}` (created if missing), file-backed."""
        bucket = f"{self.subjects.stream_name}_{suffix}"
        try:
            return await self.js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            config = KeyValueConfig(bucket=bucket, history=1, storage=StorageType.FILE)
            return await self.js.create_key_value(config)

    # ---- core publish / subscribe ---------------------------------------------------------

    async def publish(self, subject: str, message: msgspec.Struct) -> None:
        await self.nc.publish(subject, encode(message), headers=inject_headers())

    async def publish_event(
        self, subject: str, message: msgspec.Struct, *, msg_id: str | None = None
    ) -> None:
        """Publish into the JetStream stream and wait for it to be stored."""
        headers = inject_headers()
        if msg_id:
            headers["Nats-Msg-Id"] = msg_id
        try:
            await self.js.publish(subject, encode(message), headers=headers, timeout=10)
        except nats.errors.TimeoutError:
            raise BusError(f"JetStream did not store the message on {subject} in time") from None

    async def subscribe(
        self, subject: str, kind: type[M], handler: Handler[M], *, queue: str = ""
    ) -> None:
        """Core subscription; a message that does not decode is logged and dropped."""

        async def on_message(msg: Msg) -> None:
            headers = dict(msg.headers or {})
            try:
                message = decode(msg.data, kind)
            except BadMessage as exc:
                log.warning("dropped malformed message", subject=msg.subject, error=str(exc))
                return
            token = otel_context.attach(extract_context(headers))
            try:
                await handler(message, headers)
            except Exception:
                log.exception("handler failed", subject=msg.subject)
            finally:
                otel_context.detach(token)

        self._subs.append(await self.nc.subscribe(subject, queue=queue, cb=on_message))

    # ---- request / reply --------------------------------------------------------------

    async def request(
        self, subject: str, message: msgspec.Struct, reply: type[M], *, timeout: float | None = None
    ) -> M:
        timeout = timeout or self.config.request_timeout
        try:
            answer = await self.nc.request(
                subject, encode(message), timeout=timeout, headers=inject_headers()
            )
        except nats.errors.NoRespondersError:
            raise NoResponders(f"no service answers on {subject}") from None
        except nats.errors.TimeoutError:
            raise RequestTimeout(f"no answer on {subject} within {timeout:g}s") from None
        if answer.headers and answer.headers.get(ERROR_HEADER):
            try:
                error = decode(answer.data, ErrorReply).error
            except BadMessage:
                error = answer.data[:200].decode(errors="replace")
            raise RemoteError(f"{subject}: {error}")
        try:
            return decode(answer.data, reply)
        except BadMessage as exc:
            raise RemoteError(f"{subject}: unusable answer: {exc}") from None

    async def serve(
        self, subject: str, kind: type[M], handler: RequestHandler[M], *, queue: str
    ) -> None:
        """Answer requests in a queue group. A bad request, or a handler that fails, gets an
        error reply naming what went wrong; the service keeps serving."""

        async def on_request(msg: Msg) -> None:
            headers = dict(msg.headers or {})
            try:
                request = decode(msg.data, kind)
            except BadMessage as exc:
                log.warning("bad request", subject=msg.subject, error=str(exc))
                await self._reply_error(msg, str(exc))
                return
            token = otel_context.attach(extract_context(headers))
            try:
                answer = await handler(request, headers)
            except Exception as exc:
                log.exception("request handler failed", subject=msg.subject)
                await self._reply_error(msg, f"{type(exc).__name__}: {exc}")
                return
            finally:
                otel_context.detach(token)
            if msg.reply:
                await msg.respond(encode(answer))

        async def dispatch(msg: Msg) -> None:
            # Requests are served concurrently: one slow registry must not hold the others.
            self._spawn(on_request(msg))

        self._subs.append(await self.nc.subscribe(subject, queue=queue, cb=dispatch))

    async def _reply_error(self, msg: Msg, error: str) -> None:
        if msg.reply:
            body = encode(ErrorReply(error=error, subject=msg.subject))
            with contextlib.suppress(Exception):
                await self.nc.publish(msg.reply, body, headers={ERROR_HEADER: "1"})

    # ---- durable consumers ------------------------------------------------------------

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
    ) -> None:
        """Run a durable pull consumer in the background.

        A message is acknowledged only after its handler returns, so work survives a restart.
        Long handlers are kept alive with in-progress acks. A message that does not decode is
        logged and terminated (never redelivered: it would fail again).
        """
        config = ConsumerConfig(
            durable_name=durable,
            filter_subject=subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_ack_pending=max_ack_pending,
            deliver_policy=DeliverPolicy.NEW if deliver_new else DeliverPolicy.ALL,
        )
        sub = await self.js.pull_subscribe(
            subject, durable=durable, stream=self.subjects.stream_name, config=config
        )
        self._pulls.append(sub)

        async def keep_alive(msg: Msg) -> None:
            while True:
                await asyncio.sleep(ack_wait / 3)
                with contextlib.suppress(Exception):
                    await msg.in_progress()

        async def handle(msg: Msg) -> None:
            headers = dict(msg.headers or {})
            try:
                message = decode(msg.data, kind)
            except BadMessage as exc:
                log.warning("dropped malformed message", subject=msg.subject, error=str(exc))
                await msg.term()
                return
            alive = asyncio.create_task(keep_alive(msg))
            token = otel_context.attach(extract_context(headers))
            try:
                await handler(message, headers)
            except Exception:
                log.exception(
                    "handler failed; the message will be redelivered", subject=msg.subject
                )
                with contextlib.suppress(Exception):
                    await msg.nak(delay=5)
                return
            finally:
                otel_context.detach(token)
                alive.cancel()
            await msg.ack()

        async def loop() -> None:
            while True:
                try:
                    batch = await sub.fetch(1, timeout=5)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning(
                        "consumer fetch failed; retrying",
                        durable=durable,
                        error=str(exc) or type(exc).__name__,
                    )
                    await asyncio.sleep(1)
                    continue
                for msg in batch:
                    await handle(msg)

        self._spawn(loop())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
