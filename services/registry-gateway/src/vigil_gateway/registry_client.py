"""The registry HTTP client: manifest digests by HEAD, behind the registry's own auth.

Auth follows the distribution spec: an unauthenticated request earns a 401 whose
`WWW-Authenticate` names a Bearer realm (get a token there, scoped to pulling this
repository) or Basic (send the credentials). `RegistryAuth` is an httpx auth flow, so the
retry after a challenge is one place, and tokens come from the shared cache.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import socket
import ssl
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any, Literal

import httpx
import msgspec

from vigil_gateway.challenge import Challenge, parse_www_authenticate
from vigil_gateway.credentials import Credentials
from vigil_gateway.tls import is_insecure, schemes_for, verifying_context
from vigil_gateway.tokens import Token, TokenCache, TokenKey
from vigil_shared.contracts.registry import PullAuthKind
from vigil_shared.imageref import ImageRef

# What a manifest HEAD accepts: an index or list (multi-arch) first, then single manifests;
# the digest the registry answers is then the one `docker pull` records in RepoDigests.
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
USER_AGENT = "vigil-registry-gateway"


ErrorKind = Literal["error", "trust", "rate_limited", "unverified"]


class RegistryError(RuntimeError):
    """A check that failed; the message names the registry and what went wrong.

    `kind` says what may follow: `unverified` (no HEAD support, 5xx, a timeout) lets the
    executor pull and compare image ids as watchtower does; `rate_limited` waits; `trust` (a
    certificate that does not verify) and `error` stop there.
    """

    def __init__(self, message: str, kind: ErrorKind = "error") -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind


class RateLimit(msgspec.Struct, frozen=True, kw_only=True):
    """What a registry said of its pull quota (`ratelimit-*` headers), and any back-off."""

    limit: int | None = None
    remaining: int | None = None
    backoff_until: float = 0.0  # time.monotonic(); no request to this registry before


def _quota(value: str | None) -> int | None:
    """`100;w=21600` -> 100."""
    if not value:
        return None
    head = value.split(";", 1)[0].strip()
    return int(head) if head.isdigit() else None


def _retry_after(value: str | None, default: float = 60.0) -> float:
    if value and value.strip().isdigit():
        return min(float(value.strip()), 3600.0)
    return default


def _is_certificate_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            seen
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def pick_challenge(header: str) -> Challenge | None:
    """Bearer when offered, else Basic; None when the header holds neither."""
    challenges = parse_www_authenticate(header)
    return next((c for c in challenges if c.scheme == "bearer"), None) or next(
        (c for c in challenges if c.scheme == "basic"), None
    )


class RegistryAuth(httpx.Auth):
    """One request's auth: reuse what the registry asked for last time, answer a challenge
    once, and drop a cached token the registry refuses."""

    def __init__(
        self,
        client: RegistryClient,
        registry: str,
        scope: str,
        credentials: Credentials,
    ) -> None:
        self.client = client
        self.registry = registry
        self.scope = scope
        self.credentials = credentials

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        used: tuple[TokenKey, Token] | None = None
        known = self.client.challenges.get(self.registry)
        if known is not None:
            used = await self._authorize(request, known)
        response = yield request
        if response.status_code != 401:
            return
        challenge = pick_challenge(response.headers.get("www-authenticate", ""))
        if challenge is None:
            return
        self.client.challenges[self.registry] = challenge
        if used is not None:
            self.client.tokens.drop(*used)
        elif challenge.scheme == "basic" and self.credentials.basic is None:
            return  # nothing to answer a Basic challenge with
        await response.aread()
        await self._authorize(request, challenge)
        yield request

    async def _authorize(
        self, request: httpx.Request, challenge: Challenge
    ) -> tuple[TokenKey, Token] | None:
        if challenge.scheme == "basic":
            if self.credentials.basic:
                user, password = self.credentials.basic
                raw = base64.b64encode(f"{user}:{password}".encode()).decode()
                request.headers["Authorization"] = f"Basic {raw}"
            return None
        key = (challenge.get("realm"), challenge.get("service"), self.scope)
        token = await self.client.tokens.get(key, lambda: self.client.fetch_token(key, self))
        request.headers["Authorization"] = f"Bearer {token.value}"
        return key, token


class RegistryClient:
    def __init__(
        self,
        *,
        ca_pem: str | None = None,
        insecure: tuple[str, ...] = (),
        timeout: float = 15.0,
        tokens: TokenCache | None = None,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,  # tests of the auth flow
    ) -> None:
        self.insecure = tuple(r.lower() for r in insecure)
        self._clock = clock
        self.rate_limits: dict[str, RateLimit] = {}
        self.tokens = tokens or TokenCache()
        self.challenges: dict[str, Challenge] = {}
        self._schemes: dict[str, str] = {}  # registry -> the scheme that worked
        # The first contact with a registry (scheme, challenge), made once for all waiters.
        self._contacts: dict[str, asyncio.Future[None]] = {}
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        common: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout, connect=5.0),
            "limits": limits,
            "headers": {"User-Agent": USER_AGENT},
            "follow_redirects": True,
            **({"transport": transport} if transport else {}),
            # Every response counts, the 401s inside the auth flow included: the figures are
            # what the registry served.
            "event_hooks": {"response": [self._count]},
        }
        self._verified = httpx.AsyncClient(verify=verifying_context(ca_pem), **common)
        self._unverified = httpx.AsyncClient(verify=False, **common)
        self.manifest_requests = 0
        self.token_requests = 0
        self.signature_requests = 0  # signature lookups (`fetch`): manifests, blobs, referrers

    async def _count(self, response: httpx.Response) -> None:
        path = response.request.url.path
        # Signature lookups (`sha256-<hex>.sig`, the referrers tag `sha256-<hex>`) are counted
        # apart, in `signature_requests`: these are the digest checks.
        if "/manifests/" in path and not path.rsplit("/", 1)[-1].startswith("sha256-"):
            self.manifest_requests += 1

    async def aclose(self) -> None:
        await self._verified.aclose()
        await self._unverified.aclose()

    def _http(self, registry: str) -> httpx.AsyncClient:
        return self._unverified if is_insecure(registry, self.insecure) else self._verified

    async def fetch_token(self, key: TokenKey, auth: RegistryAuth) -> tuple[str, float | None]:
        realm, service, scope = key
        if not realm.startswith(("https://", "http://")):
            raise RegistryError(f"registry {auth.registry}: token realm {realm!r} is not a URL")
        self.token_requests += 1
        http = self._http(auth.registry)
        creds = auth.credentials
        try:
            if creds.identity_token:
                response = await http.post(
                    realm,
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": creds.identity_token,
                        "service": service,
                        "scope": scope,
                        "client_id": USER_AGENT,
                    },
                )
            else:
                params = {"scope": scope, **({"service": service} if service else {})}
                response = await http.get(
                    realm,
                    params=params,
                    auth=httpx.BasicAuth(*creds.basic) if creds.basic else None,
                )
        except httpx.HTTPError as exc:
            raise RegistryError(
                f"registry {auth.registry}: token server {realm} unreachable: {_reason(exc)}"
            ) from None
        if response.status_code in (401, 403):
            who = "the credentials from " + creds.source if creds.basic else "anonymous access"
            raise RegistryError(
                f"registry {auth.registry}: token server refused {who} "
                f"for {scope} (HTTP {response.status_code})"
            )
        if response.status_code != 200:
            raise RegistryError(
                f"registry {auth.registry}: token server answered HTTP {response.status_code}"
            )
        try:
            body = response.json()
        except ValueError:
            raise RegistryError(
                f"registry {auth.registry}: token server answered non-JSON"
            ) from None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"registry {auth.registry}: token server gave no token")
        expires_in = body.get("expires_in")
        return token, float(expires_in) if isinstance(expires_in, int | float) else None

    async def manifest_digest(self, ref: ImageRef, credentials: Credentials) -> str:
        """The digest the registry serves for `ref` now."""
        registry = ref.api_host
        auth = RegistryAuth(self, registry, f"repository:{ref.repository}:pull", credentials)
        path = f"/v2/{ref.repository}/manifests/{ref.reference}"
        response = await self._send("HEAD", registry, path, auth)
        return await self._digest_from(response, ref, registry, path, auth)

    async def list_tags(
        self, ref: ImageRef, credentials: Credentials, page_size: int = 100
    ) -> list[str]:
        """Every tag of `ref`'s repository (`GET /v2/<name>/tags/list`), page by page: `n`
        tags a page, the next page named by the `Link` header (`rel="next"`, whose URL
        carries `last`), through the same auth and TLS as the digest checks."""
        registry = ref.api_host
        auth = RegistryAuth(self, registry, f"repository:{ref.repository}:pull", credentials)
        path = f"/v2/{ref.repository}/tags/list?n={page_size}"
        tags: list[str] = []
        seen: set[str] = set()
        while path not in seen:  # a registry that links a page to itself ends here
            seen.add(path)
            response = await self._send("GET", registry, path, auth)
            if response.status_code != 200:
                raise RegistryError(
                    f"registry {registry}: HTTP {response.status_code} listing the tags of "
                    f"{ref.repository}",
                    "rate_limited" if response.status_code == 429 else "error",
                )
            try:
                body = response.json()
            except ValueError:
                raise RegistryError(
                    f"registry {registry}: the tag list of {ref.repository} is not JSON"
                ) from None
            page = body.get("tags") if isinstance(body, dict) else None
            if page is not None and not (
                isinstance(page, list) and all(isinstance(t, str) for t in page)
            ):
                raise RegistryError(
                    f"registry {registry}: the tag list of {ref.repository} is malformed"
                )
            tags.extend(page or ())
            link = next_link(response.headers.get("link", ""))
            if not link:
                return tags
            path = link
        return tags

    async def get_json(
        self, ref: ImageRef, credentials: Credentials, kind: str, digest: str
    ) -> dict[str, Any]:
        """A manifest (`kind` "manifests") or blob ("blobs") of `ref`'s repository, by digest."""
        registry = ref.api_host
        auth = RegistryAuth(self, registry, f"repository:{ref.repository}:pull", credentials)
        response = await self._send("GET", registry, f"/v2/{ref.repository}/{kind}/{digest}", auth)
        if response.status_code != 200:
            raise RegistryError(
                f"registry {registry}: HTTP {response.status_code} for {ref.repository} {digest}"
            )
        try:
            data = json.loads(response.content)
        except ValueError:
            raise RegistryError(f"registry {registry}: {digest} is not JSON") from None
        if not isinstance(data, dict):
            raise RegistryError(f"registry {registry}: {digest} is not a JSON object")
        return data

    async def fetch(self, ref: ImageRef, credentials: Credentials, path: str) -> httpx.Response:
        """`GET /v2/<repository>/<path>` of `ref`'s repository through the same auth, token
        cache and TLS trust as the digest checks, whatever it answers (signature lookups:
        docs/trust.md). Unreachable, timeouts and certificates raise RegistryError."""
        registry = ref.api_host
        auth = RegistryAuth(self, registry, f"repository:{ref.repository}:pull", credentials)
        self.signature_requests += 1
        response = await self._send("GET", registry, f"/v2/{ref.repository}/{path}", auth)
        await response.aread()
        return response

    async def _send(
        self, method: str, registry: str, path: str, auth: RegistryAuth | None
    ) -> httpx.Response:
        if registry not in self._schemes:
            await self._contact(registry)
        limit = self.rate_limits.get(registry)
        if limit is not None and limit.backoff_until > self._clock():
            wait = limit.backoff_until - self._clock()
            raise RegistryError(
                f"registry {registry}: rate limited (HTTP 429); next try in {wait:.0f}s",
                "rate_limited",
            )
        scheme = self._schemes[registry]
        response = await self._request(scheme, method, registry, path, auth)
        self._note_rate_limit(registry, response)
        return response

    async def _contact(self, registry: str) -> None:
        """Learn once how to talk to `registry`: the scheme that answers and the challenge
        of `GET /v2/`. Concurrent first checks wait for it instead of each probing HTTPS and
        earning a 401 of its own."""
        pending = self._contacts.get(registry)
        if pending is None:
            pending = asyncio.ensure_future(self._ping(registry))
            self._contacts[registry] = pending

            def settled(task: asyncio.Future[None]) -> None:
                self._contacts.pop(registry, None)
                if not task.cancelled():
                    task.exception()  # retrieved: the waiters re-raise it

            pending.add_done_callback(settled)
        await asyncio.shield(pending)

    async def _ping(self, registry: str) -> None:
        last_error: Exception | None = None
        for scheme in schemes_for(registry, self.insecure):
            try:
                response = await self._request(scheme, "GET", registry, "/v2/", None)
            except _NextScheme as exc:
                last_error = exc.cause
                continue
            self._schemes[registry] = scheme
            self._note_rate_limit(registry, response)
            if response.status_code == 401:
                challenge = pick_challenge(response.headers.get("www-authenticate", ""))
                if challenge is not None:
                    self.challenges.setdefault(registry, challenge)
            return
        assert last_error is not None
        raise RegistryError(f"registry {registry} unreachable: {_reason(last_error)}")

    async def _request(
        self, scheme: str, method: str, registry: str, path: str, auth: RegistryAuth | None
    ) -> httpx.Response:
        try:
            return await self._http(registry).request(
                method,
                f"{scheme}://{registry}{path}",
                headers={"Accept": MANIFEST_ACCEPT},
                auth=auth,
            )
        except httpx.TimeoutException as exc:
            raise RegistryError(
                f"registry {registry}: timed out ({type(exc).__name__})", "unverified"
            ) from None
        except httpx.HTTPError as exc:
            if _is_certificate_error(exc):
                raise RegistryError(
                    f"registry {registry}: TLS certificate not trusted: {_reason(exc)} "
                    "(add its CA with --registry-ca, or list it in --insecure-registry)",
                    "trust",
                ) from None
            if registry in self._schemes:
                raise RegistryError(f"registry {registry} unreachable: {_reason(exc)}") from None
            raise _NextScheme(exc) from None

    async def pull_auth(
        self, ref: ImageRef, credentials: Credentials
    ) -> tuple[PullAuthKind, dict[str, str]]:
        """What the engine needs to pull `ref`: a registry token scoped to pulling this one
        repository where the registry uses tokens, the credentials where it takes only Basic,
        nothing where it needs nothing (or none are known)."""
        if credentials.basic is None and not credentials.identity_token:
            return "none", {}
        registry = ref.api_host
        if registry not in self._schemes:
            await self._contact(registry)
        challenge = self.challenges.get(registry)
        if challenge is None:
            return "none", {}
        if challenge.scheme == "basic":
            if credentials.basic is None:
                return "none", {}
            user, password = credentials.basic
            return "basic", {"username": user, "password": password, "serveraddress": registry}
        auth = RegistryAuth(self, registry, f"repository:{ref.repository}:pull", credentials)
        key = (challenge.get("realm"), challenge.get("service"), auth.scope)
        token = await self.tokens.get(key, lambda: self.fetch_token(key, auth))
        return "token", {"registrytoken": token.value, "serveraddress": registry}

    def token_state(self, ref: ImageRef) -> str:
        """For `vigil check`: what the token cache holds for pulling this repository."""
        registry = ref.api_host
        challenge = self.challenges.get(registry)
        if challenge is None:
            if registry not in self._schemes:
                return "no answer from the registry yet"
            return "the registry asked for no authentication"
        if challenge.scheme == "basic":
            return "the registry takes Basic credentials (no tokens)"
        key = (
            challenge.get("realm"),
            challenge.get("service"),
            f"repository:{ref.repository}:pull",
        )
        token = self.tokens.peek(key)
        if token is None:
            return f"no token cached for {key[2]} (realm {key[0]})"
        left = token.expires_at - self._clock()
        return f"token cached for {key[2]} (realm {key[0]}), expires in {left:.0f}s"

    def _note_rate_limit(self, registry: str, response: httpx.Response) -> None:
        limit = _quota(response.headers.get("ratelimit-limit"))
        remaining = _quota(response.headers.get("ratelimit-remaining"))
        backoff = 0.0
        if response.status_code == 429:
            backoff = self._clock() + _retry_after(response.headers.get("retry-after"))
        if limit is not None or remaining is not None or backoff:
            old = self.rate_limits.get(registry, RateLimit())
            self.rate_limits[registry] = RateLimit(
                limit=limit if limit is not None else old.limit,
                remaining=remaining if remaining is not None else old.remaining,
                backoff_until=backoff,
            )

    async def _digest_from(
        self,
        response: httpx.Response,
        ref: ImageRef,
        registry: str,
        path: str,
        auth: RegistryAuth,
    ) -> str:
        status = response.status_code
        if status == 401:
            header = response.headers.get("www-authenticate", "")
            if pick_challenge(header) is None:
                raise RegistryError(
                    f"registry {registry}: answered 401 for {ref} without a usable challenge "
                    f"(WWW-Authenticate: {header[:100]!r})"
                )
            who = auth.credentials.source
            raise RegistryError(f"registry {registry}: unauthorized for {ref} ({who})")
        if status == 403:
            raise RegistryError(f"registry {registry}: access to {ref.repository} denied")
        if status == 404:
            raise RegistryError(f"registry {registry}: {ref.repository}:{ref.reference} not found")
        if status == 429:
            raise RegistryError(f"registry {registry}: rate limited (HTTP 429)", "rate_limited")
        if 500 <= status <= 599 or status == 405:
            raise RegistryError(f"registry {registry}: HTTP {status} for {ref}", "unverified")
        if status != 200:
            raise RegistryError(f"registry {registry}: HTTP {status} for {ref}")
        _require_manifest_type(response, ref, registry)
        digest = str(response.headers.get("docker-content-digest", ""))
        if digest:
            if not _DIGEST.fullmatch(digest):
                raise RegistryError(
                    f"registry {registry}: malformed Docker-Content-Digest {digest[:80]!r}"
                )
            return digest
        # Some registries answer HEAD without the digest: fetch the manifest and hash it.
        body = await self._send("GET", registry, path, auth)
        if body.status_code != 200:
            raise RegistryError(
                f"registry {registry}: HTTP {body.status_code} for {ref}",
                "unverified" if 500 <= body.status_code <= 599 else "error",
            )
        _require_manifest_type(body, ref, registry)
        problem = manifest_problem(body.content)
        if problem:
            raise RegistryError(
                f"registry {registry}: the answer for {ref} is not a manifest ({problem})"
            )
        return "sha256:" + hashlib.sha256(body.content).hexdigest()


_LINK_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


def next_link(header: str) -> str:
    """Pure: the path and query of a `Link` header's `rel="next"` page, or "" for none
    (`</v2/app/tags/list?last=b&n=2>; rel="next"`); an absolute URL gives its path."""
    m = _LINK_NEXT.search(header)
    if m is None:
        return ""
    url = httpx.URL(m.group(1))
    path = url.raw_path.decode()
    return path if path.startswith("/") else ""


# A digest as the distribution spec writes it; Docker records sha256 ones.
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")

# What a manifest answer may say it holds: a manifest media type, or plain JSON (registries
# that do not name the type). Anything else (an HTML page of a portal or a web server in front
# of the registry) is not a manifest, whatever its other headers say.
_MANIFEST_TYPES = re.compile(
    r"application/(json|vnd\.oci\.image\.(index|manifest)\.v1\+json"
    r"|vnd\.docker\.distribution\.manifest\.(list\.v2|v2|v1)\+(json|prettyjws))"
)


def _require_manifest_type(response: httpx.Response, ref: ImageRef, registry: str) -> None:
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and not _MANIFEST_TYPES.fullmatch(media_type):
        raise RegistryError(
            f"registry {registry}: the answer for {ref} is not a manifest "
            f"(Content-Type {content_type[:80]!r})"
        )


def manifest_problem(body: bytes) -> str:
    """Pure: why `body` is not an image manifest or index, or "" when it is one."""
    try:
        data = json.loads(body)
    except ValueError:
        return "not JSON"
    if not isinstance(data, dict):
        return "not a JSON object"
    if not isinstance(data.get("schemaVersion"), int) or isinstance(data["schemaVersion"], bool):
        return "no schemaVersion"
    if not any(key in data for key in ("manifests", "layers", "fsLayers", "config")):
        return "neither manifests nor layers"
    return ""


class _NextScheme(Exception):
    """This scheme got no answer: try the next one (HTTPS refused by a plain-HTTP registry)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _reason(exc: Exception) -> str:
    """The root cause in a few words: httpx says "All connection attempts failed" for a
    refused connection, which hides the one fact a user needs."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return f"cannot resolve the host name ({seen.strerror})"
        seen = seen.__cause__ or seen.__context__
    text = str(exc) or type(exc).__name__
    return "connection refused" if "refused" in text.lower() else text
