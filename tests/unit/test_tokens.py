"""The bearer-token cache: shared fetches, expiry, failures, drop and the bound."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from vigil_gateway.tokens import DEFAULT_EXPIRES_IN, EXPIRY_MARGIN, Token, TokenCache, TokenKey

KEY: TokenKey = ("https://auth.example/token", "registry.example", "repository:a:pull")
OTHER: TokenKey = ("https://auth.example/token", "registry.example", "repository:b:pull")

Fetch = Callable[[], Awaitable[tuple[str, float | None]]]


class Fetcher:
    """A fetch that counts its calls and hands out token-1, token-2, ..."""

    def __init__(self, expires_in: float | None = 300.0) -> None:
        self.calls = 0
        self.expires_in = expires_in

    async def __call__(self) -> tuple[str, float | None]:
        self.calls += 1
        return f"token-{self.calls}", self.expires_in


def key(n: int) -> TokenKey:
    return ("realm", "service", f"repository:r{n}:pull")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize("waiters", [2, 100])
async def test_concurrent_gets_of_one_key_share_one_fetch(waiters: int) -> None:
    cache = TokenCache()
    release = asyncio.Event()
    calls = 0

    async def fetch() -> tuple[str, float | None]:
        nonlocal calls
        calls += 1
        await release.wait()
        return f"token-{calls}", 300.0

    tasks = [asyncio.create_task(cache.get(KEY, fetch)) for _ in range(waiters)]
    await settle()
    assert calls == 1
    assert not any(t.done() for t in tasks), "every waiter waits while the fetch is open"
    release.set()
    tokens = await asyncio.gather(*tasks)
    assert calls == 1
    assert cache.fetches == 1
    assert {t.value for t in tokens} == {"token-1"}
    assert len(set(tokens)) == 1
    assert cache.peek(KEY) == tokens[0]


async def test_different_keys_fetch_separately() -> None:
    cache = TokenCache()
    release = asyncio.Event()
    fetched: list[str] = []

    def fetch_for(name: str) -> Fetch:
        async def fetch() -> tuple[str, float | None]:
            fetched.append(name)
            await release.wait()
            return f"token-{name}", 300.0

        return fetch

    tasks = [
        asyncio.create_task(cache.get(KEY, fetch_for("a"))),
        asyncio.create_task(cache.get(OTHER, fetch_for("b"))),
        asyncio.create_task(cache.get(KEY, fetch_for("a2"))),
        asyncio.create_task(cache.get(OTHER, fetch_for("b2"))),
    ]
    await settle()
    assert sorted(fetched) == ["a", "b"]
    release.set()
    a, b, a2, b2 = await asyncio.gather(*tasks)
    assert (a.value, b.value, a2.value, b2.value) == ("token-a", "token-b", "token-a", "token-b")
    assert cache.fetches == 2


async def test_a_cached_token_is_returned_without_fetching() -> None:
    cache = TokenCache()
    fetch = Fetcher()
    first = await cache.get(KEY, fetch)
    second = await cache.get(KEY, fetch)
    assert first == second
    assert fetch.calls == 1


@pytest.mark.parametrize(
    ("elapsed", "refetched"),
    [
        pytest.param(0.0, False, id="at-once"),
        pytest.param(50.0, False, id="midway"),
        pytest.param(100.0 - EXPIRY_MARGIN - 0.001, False, id="just-before-margin"),
        pytest.param(100.0 - EXPIRY_MARGIN, True, id="at-margin"),
        pytest.param(100.0 - EXPIRY_MARGIN / 2, True, id="inside-margin"),
        pytest.param(100.0, True, id="at-expiry"),
        pytest.param(1000.0, True, id="long-after"),
    ],
)
async def test_token_reused_until_margin_before_expiry(elapsed: float, refetched: bool) -> None:
    now = [5000.0]
    cache = TokenCache(clock=lambda: now[0])
    fetch = Fetcher(expires_in=100.0)
    first = await cache.get(KEY, fetch)
    assert first == Token("token-1", 5100.0)
    now[0] += elapsed
    second = await cache.get(KEY, fetch)
    assert fetch.calls == (2 if refetched else 1)
    if refetched:
        assert second == Token("token-2", now[0] + 100.0)
        assert cache.peek(KEY) == second
    else:
        assert second == first


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        pytest.param(None, DEFAULT_EXPIRES_IN, id="none-means-default"),
        pytest.param(300.0, 300.0, id="given"),
        pytest.param(3600, 3600.0, id="int"),
    ],
)
async def test_expires_at(expires_in: float | None, lifetime: float) -> None:
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    fetch = Fetcher(expires_in=expires_in)
    token = await cache.get(KEY, fetch)
    assert token.expires_at == 1000.0 + lifetime
    assert token.margin == min(EXPIRY_MARGIN, lifetime / 10)
    now[0] = 1000.0 + lifetime - token.margin - 0.5
    assert await cache.get(KEY, fetch) == token
    now[0] = 1000.0 + lifetime - token.margin
    assert (await cache.get(KEY, fetch)).value == "token-2"


@pytest.mark.parametrize(
    ("expires_in", "margin"),
    [(2.0, 0.2), (60.0, 6.0), (100.0, 10.0), (3600.0, 10.0), (0.0, 6.0), (-5.0, 6.0)],
)
async def test_short_tokens_keep_nine_tenths_of_their_life(
    expires_in: float, margin: float
) -> None:
    cache = TokenCache(clock=lambda: 0.0)
    token = await cache.get(KEY, Fetcher(expires_in=expires_in))
    assert token.margin == pytest.approx(margin)


def test_default_expiry_leaves_time_after_the_margin() -> None:
    assert DEFAULT_EXPIRES_IN == 60.0
    assert 0 < EXPIRY_MARGIN < DEFAULT_EXPIRES_IN


class FetchFailed(Exception):
    pass


@pytest.mark.parametrize("waiters", [1, 100])
async def test_a_failing_fetch_raises_in_every_waiter_then_is_retried(waiters: int) -> None:
    cache = TokenCache()
    release = asyncio.Event()
    calls = 0

    async def failing() -> tuple[str, float | None]:
        nonlocal calls
        calls += 1
        await release.wait()
        raise FetchFailed("token server said no")

    tasks = [asyncio.create_task(cache.get(KEY, failing)) for _ in range(waiters)]
    await settle()
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert calls == 1
    assert len(results) == waiters
    assert all(isinstance(r, FetchFailed) for r in results)
    assert cache.peek(KEY) is None

    fetch = Fetcher()
    token = await cache.get(KEY, fetch)
    assert token.value == "token-1"
    assert fetch.calls == 1
    assert cache.fetches == 2


async def test_a_failure_of_one_key_does_not_touch_another() -> None:
    cache = TokenCache()
    good = await cache.get(OTHER, Fetcher())

    async def failing() -> tuple[str, float | None]:
        raise FetchFailed("no")

    with pytest.raises(FetchFailed):
        await cache.get(KEY, failing)
    assert cache.peek(OTHER) == good


@pytest.mark.parametrize(
    ("which", "dropped"),
    [
        pytest.param("none", True, id="no-token-drops-the-key"),
        pytest.param("same", True, id="the-cached-token"),
        pytest.param("equal", True, id="an-equal-token"),
        pytest.param("older", False, id="an-older-token-keeps-the-newer"),
    ],
)
async def test_drop_removes_only_the_given_token(which: str, dropped: bool) -> None:
    cache = TokenCache(clock=lambda: 0.0)
    fetch = Fetcher()
    cached = await cache.get(KEY, fetch)
    other = await cache.get(OTHER, fetch)
    given = {
        "none": None,
        "same": cached,
        "equal": Token(cached.value, cached.expires_at),
        "older": Token("token-0", cached.expires_at - 1),
    }[which]
    cache.drop(KEY, given)
    assert cache.peek(KEY) == (None if dropped else cached)
    assert cache.peek(OTHER) == other, "another key is never dropped"
    after = await cache.get(KEY, fetch)
    assert fetch.calls == (3 if dropped else 2)
    assert after.value == ("token-3" if dropped else cached.value)


def test_drop_of_an_unknown_key_is_harmless() -> None:
    cache = TokenCache()
    cache.drop(KEY)
    cache.drop(KEY, Token("x", 1.0))
    assert cache.peek(KEY) is None


@pytest.mark.parametrize(
    ("max_entries", "inserted", "kept"),
    [
        pytest.param(1, 3, [2], id="one"),
        pytest.param(2, 3, [1, 2], id="two-of-three"),
        pytest.param(3, 3, [0, 1, 2], id="exact-fit"),
        pytest.param(3, 10, [7, 8, 9], id="three-of-ten"),
    ],
)
async def test_max_entries_evicts_the_oldest(
    max_entries: int, inserted: int, kept: list[int]
) -> None:
    cache = TokenCache(max_entries=max_entries)
    fetch = Fetcher()
    for n in range(inserted):
        await cache.get(key(n), fetch)
    present = [n for n in range(inserted) if cache.peek(key(n)) is not None]
    assert present == kept


async def test_a_recently_used_token_is_evicted_last() -> None:
    cache = TokenCache(max_entries=2)
    fetch = Fetcher()
    await cache.get(key(0), fetch)
    await cache.get(key(1), fetch)
    await cache.get(key(0), fetch)  # a hit: key 0 is now the newest
    await cache.get(key(2), fetch)
    assert cache.peek(key(1)) is None
    assert cache.peek(key(0)) is not None
    assert cache.peek(key(2)) is not None
    assert fetch.calls == 3


async def test_cancelling_the_fetching_caller_does_not_cancel_the_other_waiters() -> None:
    cache = TokenCache()
    release = asyncio.Event()

    async def fetch() -> tuple[str, float | None]:
        await release.wait()
        return "token", 300.0

    first = asyncio.create_task(cache.get(KEY, fetch))
    await settle()
    second = asyncio.create_task(cache.get(KEY, fetch))
    await settle()
    first.cancel()
    await settle()
    release.set()
    result = (await asyncio.gather(second, return_exceptions=True))[0]
    assert not isinstance(result, asyncio.CancelledError)
