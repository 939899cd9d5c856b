"""The bus: Vigil's one adapter over nats-py.

Everything a service says or hears goes through here, as typed messages: publish, request with
a timeout, serve requests in a queue group, and consume a durable JetStream consumer. Decoding
happens at this edge; a malformed message becomes an error reply (requests) or a logged drop
(events), never an exception in a handler. Trace context rides in NATS headers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import re
import ssl
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

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
    StoreCompression,
    StreamConfig,
)
from opentelemetry import context as otel_context

from vigil_shared.codec import BadMessage, decode, encode
from vigil_shared.contracts.base import ErrorReply
from vigil_shared.contracts.subjects import Subjects
from vigil_shared.failover import FailoverKeyValue, through_failover
from vigil_shared.jetstream_ready import READY_TIMEOUT, NotReady, ReplicasShort, until_ready
from vigil_shared.logs import get_logger
from vigil_shared.nats_cluster import (
    cluster_size,
    mask_url,
    replicas_to_apply,
    server_urls,
    wanted_replicas,
)
from vigil_shared.quiet import quiet_ttl
from vigil_shared.telemetry import extract_context, inject_headers

M = TypeVar("M", bound=msgspec.Struct)
T = TypeVar("T")

ERROR_HEADER = "Vigil-Error"
DRAIN_TIMEOUT = 2.0  # seconds a closing connection may take to deliver what it holds
CLOSE_MARGIN = 3.0  # beyond it: the last flush and the close itself
DAY = 86400.0
STREAM_WAIT = 60.0  # seconds a role that may not create the stream waits for it to appear
# Consumers a stream of Vigil's may have: every executor has a durable one (its plans), so a
# fleet has one per host. nats-server 2.15 caps a stream that sets none at 1000 (and reads 0
# or -1 as that default), which stops the 1001st host's executor at start.
MAX_CONSUMERS = 1_000_000
# JetStream's "no suitable peers for placement", "insufficient resources" and "replicas > 1
# not supported in non-clustered mode": more replicas asked for than the servers can keep.
_REPLICA_ERRORS = frozenset({10005, 10023, 10074})
_RECENT = 512  # subjects remembered to name a refused one as it was written
# nats-py lower-cases the server's -ERR text: 'permissions violation for publish to "x"'.
_VIOLATION = re.compile(r'permissions violation for (publish|subscription) to "([^"]+)"')

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


class PermissionDenied(BusError):
    """The NATS server refused this user a publish or subscription."""


class BusConfig(msgspec.Struct, frozen=True, kw_only=True):
    url: str = "nats://127.0.0.1:4222"
    prefix: str = "vigil"
    connect_timeout: float = 3.0
    request_timeout: float = 30.0
    audit_retention: float = 30 * DAY
    # A quiet cycle's messages (quiet.py) are stored this long, not audit_retention; 0: as long.
    audit_quiet_retention: float = DAY
    user: str | None = None
    password: str | None = None
    creds_file: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    # Replicas of the streams and key-value buckets this service creates; None: auto
    # (min(3, the cluster's size); 1 on a single server). nats_cluster.py says how.
    replicas: int | None = None
    # How long, at most, a stream, bucket or consumer set-up waits for JetStream to answer
    # (a cluster still electing its leader) before the service gives up (jetstream_ready.py).
    ready_timeout: float = READY_TIMEOUT

    def __repr__(self) -> str:  # the password never reaches a log through a repr
        return f"BusConfig(url={_mask_url(self.url)!r}, prefix={self.prefix!r})"


def nats_user(config: BusConfig) -> str:
    """Who this connection is to the server: --nats-user, the user in the URL, or the name
    in the credentials file's user JWT; "" when anonymous."""
    if config.user:
        return config.user
    url_user = next((u for u in map(_url_user, config.url.split(",")) if u), "")
    if url_user:
        return url_user
    if config.creds_file:
        return _jwt_name(config.creds_file)
    return ""


def _url_user(url: str) -> str:
    try:
        return urlsplit(url.strip()).username or ""
    except ValueError:
        return ""


def _jwt_name(creds_file: str) -> str:
    try:
        with open(creds_file, encoding="utf-8", errors="replace") as f:
            text = f.read()
        token = text.split("-----BEGIN NATS USER JWT-----", 1)[1].split("---", 1)[0].strip()
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims.get("name") or "")
    except (OSError, IndexError, ValueError):
        return ""


def inbox_prefix(config: BusConfig) -> str:
    """Replies to this connection come on `_INBOX.<user>.>`, so a server can give each user
    its own inboxes and no role can read another's replies (deploy/nats). Anonymous: _INBOX."""
    user = re.sub(r"[^A-Za-z0-9_-]", "_", nats_user(config))
    return f"_INBOX.{user}" if user else "_INBOX"


def _same_stream(current: StreamConfig, wanted: StreamConfig) -> bool:
    return (
        sorted(current.subjects or []) == sorted(wanted.subjects or [])
        and current.retention == wanted.retention
        and current.storage == wanted.storage
        and abs((current.max_age or 0) - (wanted.max_age or 0)) < 1
        and abs((current.duplicate_window or 0) - (wanted.duplicate_window or 0)) < 1
        and (current.num_replicas or 1) == (wanted.num_replicas or 1)
        and (current.compression or StoreCompression.NONE)
        == (wanted.compression or StoreCompression.NONE)
        and bool(current.allow_msg_ttl) == bool(wanted.allow_msg_ttl)
        and (current.max_consumers or -1) == (wanted.max_consumers or -1)
    )


_mask_url = mask_url  # also every URL of a comma-separated list


def _stop_if_cancelled() -> None:
    """nats-py turns a cancellation into one of its own errors in places (a publish waiting
    for its ack, a fetch on a closing connection); a loop that caught that error would go on
    after Bus.close cancelled it, and the close would wait for it forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


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
        self.user = nats_user(config)
        self._recent: dict[str, str] = {}  # lower-cased subject -> as written
        self._denials: dict[str, set[asyncio.Future[None]]] = {}  # lower-cased subject
        # Whether the audit stream takes per-message TTLs (quiet.py): read once; a stream
        # an older Vigil made, that this user may not change, refuses them.
        self._msg_ttl: bool | None = None

    # ---- connection -------------------------------------------------------------------

    @classmethod
    async def connect(cls, config: BusConfig, *, name: str) -> Bus:
        """Connect, failing fast with a clear error when nobody answers at `config.url`.

        nats-py by default retries a failed first connection for minutes; a service that
        cannot reach its bus at start should say so at once. Once connected, it reconnects
        forever, since a restarting NATS server must not take the services down.
        """

        owner: list[Bus] = []

        # Why the first connection fails, as nats-py sees it: its own exception says only "no
        # servers available". A refused login or an untrusted certificate will not get better
        # by retrying, so it ends the attempt at once.
        refused: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        first_errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            found = _VIOLATION.search(str(exc))
            if found is None:
                if not owner:
                    text = str(exc) or type(exc).__name__
                    first_errors.append(text)
                    final = isinstance(exc, ssl.SSLCertVerificationError) or (
                        "authorization violation" in text.lower()
                    )
                    if final and not refused.done():
                        refused.set_result(text)
                log.debug("nats error", error=str(exc))
                return
            kind, subject = found.groups()
            if owner:
                owner[0]._denied(kind, subject)
            else:
                log.warning(
                    "NATS refused a permission",
                    action=kind,
                    subject=subject,
                    user=nats_user(config),
                )

        connected: list[NATS] = []

        async def on_disconnect() -> None:
            if connected and (connected[0].is_closed or connected[0].is_draining):
                return  # our own close, not a lost connection
            log.warning("disconnected from NATS; reconnecting", url=_mask_url(config.url))

        async def on_reconnect() -> None:
            log.info("reconnected to NATS", url=_mask_url(config.url))

        try:
            servers = list(server_urls(config.url))
        except ValueError as exc:
            raise BusUnavailable(f"cannot reach NATS at {_mask_url(config.url)}: {exc}") from None
        options: dict[str, Any] = {
            # Several servers (a cluster): nats-py tries them in turn and, once connected,
            # fails over to another one (or one the cluster told it of) when its server goes.
            "servers": servers,
            "name": name,
            "connect_timeout": config.connect_timeout,
            "allow_reconnect": True,
            "max_reconnect_attempts": 1,
            "reconnect_time_wait": 0.5,
            "error_cb": on_error,
            "disconnected_cb": on_disconnect,
            "reconnected_cb": on_reconnect,
            "drain_timeout": DRAIN_TIMEOUT,
            "inbox_prefix": inbox_prefix(config),
        }
        if config.user:
            options["user"] = config.user
            options["password"] = config.password or ""
        if config.creds_file:
            options["user_credentials"] = config.creds_file
        if config.tls_ca or config.tls_cert:
            tls = ssl.create_default_context(cafile=config.tls_ca)
            if config.tls_cert:
                tls.load_cert_chain(config.tls_cert, config.tls_key)
            options["tls"] = tls
        nc = NATS()
        attempt = asyncio.ensure_future(nc.connect(**options))
        try:
            waiting: set[asyncio.Future[Any]] = {attempt, refused}
            await asyncio.wait(
                waiting, timeout=config.connect_timeout * 3, return_when=asyncio.FIRST_COMPLETED
            )
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(BaseException):
                    await attempt
                with contextlib.suppress(Exception):
                    await nc.close()
                raise TimeoutError()
            attempt.result()
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            reason = str(exc) or type(exc).__name__
            if refused.done():
                reason = refused.result()
            elif first_errors and isinstance(exc, (TimeoutError, nats.errors.NoServersError)):
                reason = first_errors[0]  # "no servers available" hides the cause
            raise BusUnavailable(
                f"cannot reach NATS at {_mask_url(config.url)}: {reason}"
            ) from None
        connected.append(nc)
        # From now on a lost connection is retried without limit.
        nc.options["max_reconnect_attempts"] = -1
        nc.options["reconnect_time_wait"] = 1.0
        bus = cls(nc, config, name)
        owner.append(bus)
        return bus

    # ---- permissions ------------------------------------------------------------------

    def _note(self, subject: str) -> None:
        """Remember how a subject is written: the server's refusal comes back lower-cased."""
        self._recent[subject.lower()] = subject
        if len(self._recent) > _RECENT:
            self._recent.pop(next(iter(self._recent)))

    def _denied(self, kind: str, reported: str) -> None:
        """A permission violation: said as a warning with the subject and the NATS user (its
        role); the service goes on. A call waiting on that subject is told at once."""
        subject = self._recent.get(reported) or self._restore_prefix(reported)
        log.warning(
            "NATS refused a permission",
            action=kind,
            subject=subject,
            user=self.user or "(anonymous)",
            connection=self.name,
        )
        for waiter in self._denials.get(reported, ()):
            if not waiter.done():
                waiter.set_result(None)

    def _restore_prefix(self, reported: str) -> str:
        for lower, written in self._recent.items():
            if lower.endswith(".") and reported.startswith(lower):
                return written + reported[len(lower) :]
        return reported

    async def _unless_denied(self, subject: str, call: Awaitable[T]) -> T:
        """Run a JetStream API call, raising PermissionDenied as soon as the server refuses
        `subject` (nats-py would otherwise wait out its timeout for an answer never sent)."""
        self._note(subject)
        denied: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._denials.setdefault(subject.lower(), set())
        waiters.add(denied)
        task: asyncio.Future[T] = asyncio.ensure_future(call)
        try:
            waiting: set[asyncio.Future[Any]] = {task, denied}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise PermissionDenied(
                f"NATS user {self.user or '(anonymous)'} may not publish to {subject}"
            )
        finally:
            waiters.discard(denied)
            if not waiters:
                self._denials.pop(subject.lower(), None)

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
            # Bounded: a service that was asked to stop must stop. nats-py's own drain_timeout
            # (DRAIN_TIMEOUT) gives up first, on a handler still at work; were this bound to
            # cancel the drain from outside, its gather's CancelledError would be left
            # unretrieved, logged as an ERROR at every such shutdown.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.drain(), DRAIN_TIMEOUT + CLOSE_MARGIN)
            if not self.nc.is_closed:
                with contextlib.suppress(Exception):
                    await self.nc.close()

    # ---- streams ----------------------------------------------------------------------

    async def ensure_streams(self) -> None:
        """Create (or bring up to date) the one stream that keeps inventory, plans, progress
        and reports. Idempotent: every service calls it at start.

        In a fleet with permissions (deploy/nats) only the fleet-wide services may create or
        change it; another role finds it as it is, or waits up to STREAM_WAIT seconds for it
        to be created, then fails with an error saying who may create it."""
        config = StreamConfig(
            name=self.subjects.stream_name,
            subjects=self.subjects.stream_subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=self.config.audit_retention,
            duplicate_window=120.0,
            # S2 on disk: a cycle's JSON repeats itself (ids, images, field names), the store
            # is ~5x smaller (66.5 -> 13.4 KB a host-cycle of 50 containers; docs/performance.md).
            compression=StoreCompression.S2,
            allow_msg_ttl=True,  # a quiet cycle's messages expire sooner (quiet.py)
            max_consumers=MAX_CONSUMERS,  # one durable consumer per host (its executor)
        )
        await self._when_ready(f"the stream {config.name}", lambda: self._ensure_stream(config))
        self._msg_ttl = None  # read again at the next quiet publish

    def replicas(self, current: int | None) -> int:
        """The replicas a stream that has `current` (None: not there yet) should have."""
        server_info = getattr(self.nc, "_server_info", None) or {}
        wanted = wanted_replicas(self.config.replicas, server_info)
        return replicas_to_apply(wanted, current, explicit=self.config.replicas is not None)

    async def _replicated(self, call: Awaitable[T], name: str, replicas: int) -> T:
        """A stream create or update; a server that cannot place `replicas` copies (a single
        server, or fewer JetStream nodes than asked for) is named with the option to change."""
        try:
            return await call
        except nats.js.errors.APIError as exc:
            if replicas > 1 and exc.err_code in _REPLICA_ERRORS:
                raise ReplicasShort(
                    f"NATS cannot keep {replicas} replicas of {name}: {exc.description} "
                    "(set --nats-replicas, VIGIL_NATS_REPLICAS, to what the cluster has)",
                    replicas,
                ) from None
            raise

    async def _when_ready(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """A set-up call retried while JetStream is not ready yet (bounded by
        `ready_timeout`); what waiting does not mend is a BusError, named (exit status 2)."""

        def size() -> int:
            return cluster_size(getattr(self.nc, "_server_info", None) or {})

        try:
            return await until_ready(
                what, call, timeout=self.config.ready_timeout, cluster_size=size
            )
        except (NotReady, ReplicasShort) as exc:
            raise BusError(str(exc)) from None

    async def _ensure_stream(self, config: StreamConfig) -> None:
        name = str(config.name)
        current = await self._stream_config(name)
        replicas = self.replicas(current.num_replicas if current is not None else None)
        config = dataclasses.replace(config, num_replicas=replicas)
        if current is not None and _same_stream(current, config):
            return  # the common case: nothing to change, no permission needed
        if current is not None and (current.num_replicas or 1) != replicas:
            log.info(
                "changing the stream's replicas",
                stream=name,
                replicas=f"{current.num_replicas or 1} -> {replicas}",
            )
        verb = "UPDATE" if current is not None else "CREATE"
        try:
            if current is None:
                try:
                    await self._unless_denied(
                        f"$JS.API.STREAM.CREATE.{name}",
                        self._replicated(self.js.add_stream(config), name, replicas),
                    )
                    return
                except nats.js.errors.BadRequestError:
                    verb = "UPDATE"  # created meanwhile by another service
            await self._unless_denied(
                f"$JS.API.STREAM.UPDATE.{name}",
                self._replicated(self.js.update_stream(config), name, replicas),
            )
        except PermissionDenied:
            if verb == "UPDATE":
                log.warning(
                    "the stream's settings differ from this service's, and its NATS user may "
                    "not change them: using the stream as it is",
                    stream=name,
                    user=self.user,
                )
                return
            await self._wait_for_stream(name)

    async def _stream_config(self, name: str) -> StreamConfig | None:
        self._note(f"$JS.API.STREAM.INFO.{name}")
        try:
            return (await self.js.stream_info(name)).config
        except nats.js.errors.NotFoundError:
            return None

    async def _wait_for_stream(self, name: str) -> None:
        log.info(
            "waiting for the stream to be created by a service whose NATS user may "
            "(registry-gateway or notifier)",
            stream=name,
            user=self.user,
        )
        deadline = asyncio.get_running_loop().time() + STREAM_WAIT
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(1.0)
            if await self._stream_config(name) is not None:
                return
        raise BusError(
            f"the stream {name} does not exist and NATS user {self.user} may not create it: "
            "start the registry-gateway or the notifier (their users may)"
        )

    async def ensure_work_stream(self, duplicate_window: float) -> None:
        """The scanner groups' work queue (created or brought up to date; idempotent).

        `duplicate_window` must outlast the spread of the replicas' clocks at a tick: within
        it, the same item offered by every replica is stored once."""
        config = StreamConfig(
            name=self.subjects.work_stream_name,
            subjects=self.subjects.work_stream_subjects,
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            max_age=DAY,
            duplicate_window=duplicate_window,
            max_consumers=MAX_CONSUMERS,  # one durable consumer per host
        )
        await self._when_ready(f"the stream {config.name}", lambda: self._ensure_stream(config))

    async def key_value(self, suffix: str) -> Any:
        """The key-value bucket `{STREAM}_{suffix}` (created if missing), file-backed, with
        writes that ride out a NATS node's failover (failover.py)."""
        bucket = f"{self.subjects.stream_name}_{suffix}"
        return await self._when_ready(
            f"the key-value bucket {bucket}", lambda: self._key_value(bucket)
        )

    async def _key_value(self, bucket: str) -> Any:
        self._note(f"$KV.{bucket}.")  # its keys' subjects, should one be refused
        try:
            kv = await self.js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            replicas = self.replicas(None)
            config = KeyValueConfig(
                bucket=bucket, history=1, storage=StorageType.FILE, replicas=replicas
            )
            try:
                return FailoverKeyValue(
                    await self._unless_denied(
                        f"$JS.API.STREAM.CREATE.KV_{bucket}",
                        self._replicated(
                            self.js.create_key_value(config), f"KV_{bucket}", replicas
                        ),
                    ),
                    bucket,
                    self._unless_denied,
                    self.js,
                )
            except PermissionDenied:
                raise BusError(
                    f"the key-value bucket {bucket} does not exist and NATS user {self.user} "
                    "may not create it"
                ) from None
        await self._rescale_bucket(f"KV_{bucket}")
        return FailoverKeyValue(kv, bucket, self._unless_denied, self.js)

    async def _rescale_bucket(self, stream: str) -> None:
        """An existing bucket (the stream under it) brought to the replicas wanted, as
        streams are; a user that may not change it uses it as it is, with a warning."""
        current = await self._stream_config(stream)
        if current is None:
            return
        replicas = self.replicas(current.num_replicas or 1)
        if (current.num_replicas or 1) == replicas:
            return
        log.info(
            "changing the bucket's replicas",
            stream=stream,
            replicas=f"{current.num_replicas or 1} -> {replicas}",
        )
        config = dataclasses.replace(current, num_replicas=replicas)
        try:
            await self._unless_denied(
                f"$JS.API.STREAM.UPDATE.{stream}",
                self._replicated(self.js.update_stream(config), stream, replicas),
            )
        except PermissionDenied:
            log.warning(
                "the bucket has other replicas than this service's setting, and its NATS user "
                "may not change them: using it as it is",
                stream=stream,
                replicas=current.num_replicas or 1,
                user=self.user,
            )

    # ---- core publish / subscribe ---------------------------------------------------------

    async def publish(self, subject: str, message: msgspec.Struct) -> None:
        self._note(subject)
        await self.nc.publish(subject, encode(message), headers=inject_headers())

    async def publish_event(
        self, subject: str, message: msgspec.Struct, *, msg_id: str | None = None
    ) -> bool:
        """Publish into the JetStream stream and wait for it to be stored. False when JetStream
        already had a message of this `msg_id` (within the duplicate window) and kept that."""
        headers = inject_headers()
        # Always an id: a publish sent again through a failover (failover.py) is stored once.
        headers["Nats-Msg-Id"] = msg_id or uuid.uuid4().hex
        ttl = quiet_ttl(message, self.config.audit_quiet_retention)
        if ttl is not None and await self._takes_msg_ttl():
            headers["Nats-TTL"] = str(ttl)
        data = encode(message)
        try:
            # A publish the server refuses is said at once, not after the 10 s wait for an ack.
            ack = await through_failover(
                lambda: self._unless_denied(
                    subject, self.js.publish(subject, data, headers=headers, timeout=10)
                ),
                subject,
            )
        except (nats.errors.TimeoutError, nats.js.errors.NoStreamResponseError):
            raise BusError(f"JetStream did not store the message on {subject} in time") from None
        return not ack.duplicate

    async def _takes_msg_ttl(self) -> bool:
        if self._msg_ttl is None:
            try:
                current = await self._stream_config(self.subjects.stream_name)
            except nats.errors.Error:
                return False  # asked again at the next quiet publish
            self._msg_ttl = bool(current is not None and current.allow_msg_ttl)
        return self._msg_ttl

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

        self._note(subject)
        self._subs.append(await self.nc.subscribe(subject, queue=queue, cb=on_message))

    # ---- request / reply --------------------------------------------------------------

    async def request(
        self, subject: str, message: msgspec.Struct, reply: type[M], *, timeout: float | None = None
    ) -> M:
        timeout = timeout or self.config.request_timeout
        self._note(subject)
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

        self._note(subject)
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
        stream: str | None = None,
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
        stream_name = stream or self.subjects.stream_name
        self._note(f"$JS.API.CONSUMER.CREATE.{stream_name}.{durable}.{subject}")

        async def subscribe() -> Any:
            await self._check_existing_consumer(stream_name, durable, subject)
            return await self.js.pull_subscribe(
                subject, durable=durable, stream=stream_name, config=config
            )

        sub = await self._when_ready(f"the consumer {durable} of {stream_name}", subscribe)
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
                _stop_if_cancelled()
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

    async def _check_existing_consumer(self, stream: str, durable: str, subject: str) -> None:
        """nats-py binds to a consumer of that name if there is one, whatever it delivers. One
        that is not durable or has another filter was not made by Vigil (a client that may
        create ephemeral consumers can name one): refuse it rather than consume from it."""
        try:
            info = await self.js.consumer_info(stream, durable)
        except nats.js.errors.NotFoundError:
            return
        found = info.config
        if found.durable_name != durable or (found.filter_subject or "") != subject:
            raise BusError(
                f"the consumer {durable} of stream {stream} is not the one Vigil makes (durable "
                f"{found.durable_name or 'no'}, filter {found.filter_subject or 'none'}; wanted "
                f"durable, filter {subject}): delete it (nats consumer rm {stream} {durable})"
            )

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
