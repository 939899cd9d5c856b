"""The registry client's auth flow and error kinds, over httpx's MockTransport.

The registry's side is a small function here: these tests pin down what the client sends
and how it reads answers; the real registry tests are in tests/integration.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from vigil_gateway.credentials import ANONYMOUS, Credentials
from vigil_gateway.registry_client import RegistryClient, RegistryError, _quota, _retry_after
from vigil_shared.imageref import parse_image_ref

DIGEST = "sha256:" + "d" * 64
REF = parse_image_ref("reg.example.com/team/app:1")
BEARER = 'Bearer realm="https://auth.example.com/token",service="reg.example.com"'


class FakeRegistry:
    """Token auth; `valid` is the one token the registry accepts right now."""

    def __init__(self) -> None:
        self.valid = "t1"
        self.issued = 0
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.host == "auth.example.com":
            self.issued += 1
            return httpx.Response(200, json={"token": self.valid, "expires_in": 300})
        if request.headers.get("authorization") != f"Bearer {self.valid}":
            return httpx.Response(401, headers={"WWW-Authenticate": BEARER})
        return httpx.Response(200, headers={"Docker-Content-Digest": DIGEST})


def client(handler: Callable[[httpx.Request], httpx.Response]) -> RegistryClient:
    return RegistryClient(transport=httpx.MockTransport(handler))


async def test_challenge_then_token_then_cached_token() -> None:
    registry = FakeRegistry()
    c = client(registry)
    assert await c.manifest_digest(REF, ANONYMOUS) == DIGEST
    assert registry.issued == 1
    token_request = next(r for r in registry.seen if r.url.host == "auth.example.com")
    assert token_request.url.params["scope"] == "repository:team/app:pull"
    assert token_request.url.params["service"] == "reg.example.com"
    registry.seen.clear()
    assert await c.manifest_digest(REF, ANONYMOUS) == DIGEST
    assert len(registry.seen) == 1  # the remembered challenge: straight in with the token


async def test_a_refused_cached_token_is_dropped_and_the_request_retried_once() -> None:
    registry = FakeRegistry()
    c = client(registry)
    await c.manifest_digest(REF, ANONYMOUS)
    registry.valid = "t2"  # the registry revoked t1
    assert await c.manifest_digest(REF, ANONYMOUS) == DIGEST
    assert registry.issued == 2


async def test_token_request_carries_basic_credentials() -> None:
    registry = FakeRegistry()
    await client(registry).manifest_digest(
        REF, Credentials(username="bot", password="pw", source="test")
    )
    token_request = next(r for r in registry.seen if r.url.host == "auth.example.com")
    assert token_request.headers["authorization"] == "Basic Ym90OnB3"


async def test_basic_challenge_is_answered_with_the_credentials() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != "Basic Ym90OnB3":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        return httpx.Response(200, headers={"Docker-Content-Digest": DIGEST})

    creds = Credentials(username="bot", password="pw", source="cfg")
    assert await client(handler).manifest_digest(REF, creds) == DIGEST
    with pytest.raises(RegistryError, match=r"unauthorized for .* \(anonymous\)"):
        await client(handler).manifest_digest(REF, ANONYMOUS)


@pytest.mark.parametrize(
    ("response", "kind", "message"),
    [
        (httpx.Response(404), "error", "team/app:1 not found"),
        (httpx.Response(403), "error", "access to team/app denied"),
        (httpx.Response(500), "unverified", "HTTP 500"),
        (httpx.Response(503), "unverified", "HTTP 503"),
        (httpx.Response(405), "unverified", "HTTP 405"),
        (httpx.Response(429, headers={"Retry-After": "30"}), "rate_limited", "rate limited"),
        (
            httpx.Response(200, headers={"Docker-Content-Digest": "md5:abc"}),
            "error",
            "malformed Docker-Content-Digest 'md5:abc'",
        ),
        (
            httpx.Response(401, headers={"WWW-Authenticate": "%%% garbage ,,,"}),
            "error",
            "without a usable challenge",
        ),
        (
            httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="not-a-url"'}),
            "error",
            "token realm 'not-a-url' is not a URL",
        ),
    ],
)
async def test_answers_that_give_no_digest(
    response: httpx.Response, kind: str, message: str
) -> None:
    c = client(lambda request: response)
    with pytest.raises(RegistryError, match=message) as caught:
        await c.manifest_digest(REF, ANONYMOUS)
    assert caught.value.kind == kind
    assert "reg.example.com" in str(caught.value)


async def test_429_backs_off_without_asking_again() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            429,
            headers={
                "Retry-After": "30",
                "RateLimit-Limit": "100;w=21600",
                "RateLimit-Remaining": "0",
            },
        )

    c = client(handler)
    for _ in range(3):
        with pytest.raises(RegistryError) as caught:
            await c.manifest_digest(REF, ANONYMOUS)
        assert caught.value.kind == "rate_limited"
    assert len(calls) == 1
    limit = c.rate_limits["reg.example.com"]
    assert (limit.limit, limit.remaining) == (100, 0)


async def test_head_without_digest_falls_back_to_get_and_hashes_the_body() -> None:
    body = b'{"schemaVersion": 2, "config": {}, "layers": []}'

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200)
        return httpx.Response(200, content=body)

    import hashlib

    digest = await client(handler).manifest_digest(REF, ANONYMOUS)
    assert digest == "sha256:" + hashlib.sha256(body).hexdigest()


async def test_token_endpoint_answering_html_is_named() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example.com":
            return httpx.Response(200, text="<html>login</html>")
        return httpx.Response(401, headers={"WWW-Authenticate": BEARER})

    with pytest.raises(RegistryError, match="token server answered non-JSON"):
        await client(handler).manifest_digest(REF, ANONYMOUS)


async def test_pull_auth_gives_a_scoped_token_or_basic_or_nothing() -> None:
    registry = FakeRegistry()
    creds = Credentials(username="bot", password="pw", source="cfg")
    kind, config = await client(registry).pull_auth(REF, creds)
    assert (kind, config["registrytoken"]) == ("token", "t1")
    assert "password" not in config
    assert await client(registry).pull_auth(REF, ANONYMOUS) == ("none", {})

    def basic(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    kind, config = await client(basic).pull_auth(REF, creds)
    assert kind == "basic" and config["username"] == "bot" and config["password"] == "pw"

    def open_registry(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    assert await client(open_registry).pull_auth(REF, creds) == ("none", {})


@pytest.mark.parametrize(
    ("text", "value"), [("100;w=21600", 100), ("76", 76), ("", None), (None, None), ("x", None)]
)
def test_quota_header(text: str | None, value: int | None) -> None:
    assert _quota(text) == value


@pytest.mark.parametrize(
    ("text", "seconds"), [("30", 30.0), (None, 60.0), ("soon", 60.0), ("99999", 3600.0)]
)
def test_retry_after(text: str | None, seconds: float) -> None:
    assert _retry_after(text) == seconds


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"schemaVersion": 2, "config": {}, "layers": []}', ""),
        (b'{"schemaVersion": 2, "manifests": []}', ""),
        (b'{"schemaVersion": 1, "fsLayers": []}', ""),
        (b"<html>portal</html>", "not JSON"),
        (b"", "not JSON"),
        (b'"a string"', "not a JSON object"),
        (b'{"layers": []}', "no schemaVersion"),
        (b'{"schemaVersion": true, "layers": []}', "no schemaVersion"),
        (b'{"schemaVersion": "2", "layers": []}', "no schemaVersion"),
        (b'{"schemaVersion": 2}', "neither manifests nor layers"),
        (b'{"errors": [{"code": "UNKNOWN"}]}', "no schemaVersion"),
    ],
)
def test_what_is_not_a_manifest(body: bytes, problem: str) -> None:
    from vigil_gateway.registry_client import manifest_problem

    assert manifest_problem(body) == problem
