"""The bearer-token cache: by (realm, service, scope), bounded, one fetch in flight per key."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import msgspec

DEFAULT_EXPIRES_IN = 60.0  # the distribution spec's default when a token server gives none
# A token is dropped this long before it expires, so that it never expires in flight; a
# short-lived token keeps nine tenths of its life.
EXPIRY_MARGIN = 10.0


def margin_for(lifetime: float) -> float:
    return min(EXPIRY_MARGIN, lifetime / 10)


class Token(msgspec.Struct, frozen=True):
    value: str
    expires_at: float  # time.monotonic()
    margin: float = EXPIRY_MARGIN


TokenKey = tuple[str, str, str]  # realm, service, scope


class TokenCache:
    def __init__(self, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic):
        self._tokens: OrderedDict[TokenKey, Token] = OrderedDict()
        self._inflight: dict[TokenKey, asyncio.Future[Token]] = {}
        self._max = max_entries
        self._clock = clock
        self.fetches = 0

    def __len__(self) -> int:
        return len(self._tokens)

    def peek(self, key: TokenKey) -> Token | None:
        token = self._tokens.get(key)
        if token is None:
            return None
        if token.expires_at - token.margin <= self._clock():
            del self._tokens[key]
            return None
        self._tokens.move_to_end(key)
        return token

    def drop(self, key: TokenKey, token: Token | None = None) -> None:
        """Forget a token the registry refused (only that one, if a newer one is cached)."""
        if token is None or self._tokens.get(key) == token:
            self._tokens.pop(key, None)

    async def get(
        self, key: TokenKey, fetch: Callable[[], Awaitable[tuple[str, float | None]]]
    ) -> Token:
        """The cached token, else one fetch shared by every caller waiting for this key.

        The fetch runs as its own task: a caller that gives up (a timeout) does not cancel
        it for the others.
        """
        cached = self.peek(key)
        if cached is not None:
            return cached
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(key, fetch))
            self._inflight[key] = pending
            pending.add_done_callback(lambda task: self._settled(key, task))
        return await asyncio.shield(pending)

    def _settled(self, key: TokenKey, task: asyncio.Future[Token]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here: the waiters re-raise it, if any are left

    async def _fetch(
        self, key: TokenKey, fetch: Callable[[], Awaitable[tuple[str, float | None]]]
    ) -> Token:
        self.fetches += 1
        value, expires_in = await fetch()
        lifetime = expires_in if expires_in and expires_in > 0 else DEFAULT_EXPIRES_IN
        token = Token(value, self._clock() + lifetime, margin_for(lifetime))
        self._store(key, token)
        return token

    def _store(self, key: TokenKey, token: Token) -> None:
        self._tokens[key] = token
        self._tokens.move_to_end(key)
        while len(self._tokens) > self._max:
            self._tokens.popitem(last=False)
