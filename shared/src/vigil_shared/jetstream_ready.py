"""Waiting for JetStream at start-up: a NATS cluster that has just formed answers core NATS at
once but JetStream only when its meta group has a leader and knows its peers. A service started
beside it (compose up, a rebooted fleet) must wait for that, bounded, rather than die with
nats-py's traceback at its first stream lookup.

Which errors mean "not ready yet" and how long to wait between tries are pure (tables in
tests/unit); `until_ready` is the loop around one idempotent set-up call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import nats.errors
import nats.js.errors

from vigil_shared.logs import get_logger

T = TypeVar("T")
log = get_logger("vigil.bus")

READY_TIMEOUT = 60.0  # seconds, --nats-ready-timeout's default
FIRST_DELAY = 0.5
MAX_DELAY = 5.0
# What a server answers while its JetStream meta group is still forming: "cluster not assigned
# to this server" (10007), "system temporarily unavailable" (10008), "cluster can not handle
# request" (10009, no leader), "stream is offline" (10118).
_NOT_READY_CODES = frozenset({10007, 10008, 10009, 10118})


class ReplicasShort(Exception):
    """The servers cannot place `replicas` copies of a stream yet (or ever): raised by the
    bus with the message it would give; `until_ready` decides whether to wait."""

    def __init__(self, message: str, replicas: int) -> None:
        super().__init__(message)
        self.replicas = replicas


def not_ready_yet(exc: BaseException, cluster_size: int) -> bool:
    """Pure: whether `exc`, from a JetStream API call, means JetStream is not ready yet
    (try again) rather than a fault that waiting does not mend. No answer in time, no
    responder, a 503; and too few peers for the replicas while the server says its cluster
    has enough members (they have not all joined JetStream yet)."""
    if isinstance(exc, ReplicasShort):
        return cluster_size >= exc.replicas
    if isinstance(exc, nats.js.errors.ServiceUnavailableError):
        return True
    if isinstance(exc, nats.js.errors.APIError):
        return exc.err_code in _NOT_READY_CODES
    return isinstance(
        exc,
        (
            nats.errors.TimeoutError,
            nats.errors.NoRespondersError,
            nats.errors.ConnectionReconnectingError,
            TimeoutError,
        ),
    )


def delays(first: float = FIRST_DELAY, most: float = MAX_DELAY) -> Iterator[float]:
    """Pure: the pauses between tries, doubling from `first` up to `most`."""
    delay = first
    while True:
        yield delay
        delay = min(most, delay * 2)


class NotReady(Exception):
    """JetStream did not get ready within the bound; the message says what waited and why."""


async def until_ready(
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    timeout: float,
    cluster_size: Callable[[], int],
) -> T:
    """`call()` (an idempotent set-up: find or create a stream, bucket or consumer) until it
    succeeds, while its errors say JetStream is not ready, for at most `timeout` seconds in
    all; a log line says what is waited for. Raises NotReady when the time is up, and any
    other error of `call` at once."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    pauses = delays()
    tries = 0
    while True:
        tries += 1
        remaining = deadline - loop.time()
        try:
            # One try never outlasts the bound (nats-py's own API timeout is 5 s).
            result = await asyncio.wait_for(call(), max(0.5, remaining))
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            if not not_ready_yet(exc, cluster_size()):
                raise
            waited = loop.time() - started
            pause = next(pauses)
            if loop.time() + pause >= deadline:
                raise NotReady(
                    f"NATS JetStream did not get ready within {timeout:g}s for {what} "
                    f"({tries} tries; last: {reason}): is a majority of the cluster's servers "
                    "up and routed to each other? --nats-ready-timeout "
                    "(VIGIL_NATS_READY_TIMEOUT) sets how long to wait"
                ) from None
            log_at = log.warning if tries == 1 else log.info
            log_at(
                "waiting for NATS JetStream (a cluster still forming?)",
                waiting_for=what,
                error=reason,
                waited=f"{waited:.1f}s",
                gives_up_in=f"{deadline - loop.time():.0f}s",
            )
            await asyncio.sleep(pause)
            continue
        if tries > 1:
            log.info(
                "NATS JetStream is ready",
                waiting_for=what,
                waited=f"{loop.time() - started:.1f}s",
            )
        return result
