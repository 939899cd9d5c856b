"""The registry HTTP client: manifest digests by HEAD, behind the registry's own auth.

Auth follows the distribution spec: an unauthenticated request earns a 401 whose
`WWW-Authenticate` names a Bearer realm (get a token there, scoped to pulling this
repository) or Basic (send the credentials). `RegistryAuth` is an httpx auth flow, so the
retry after a challenge is one place, and tokens come from the shared cache.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from vigil_gateway.challenge import Challenge, parse_www_authenticate
from vigil_gateway.credentials import Credentials
from vigil_gateway.tls import is_insecure, schemes_for, verifying_context
from vigil_gateway.tokens import Token, TokenCache, TokenKey
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


class RegistryError(RuntimeError):
    """A check that failed; the message names the registry and what went wrong."""


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
        challenges = parse_www_authenticate(response.headers.get("www-authenticate", ""))
        challenge = next((c for c in challenges if c.scheme == "bearer"), None) or next(
            (c for c in challenges if c.scheme == "basic"), None
        )
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
    ) -> None:
        self.insecure = tuple(r.lower() for r in insecure)
        self.tokens = tokens or TokenCache()
        self.challenges: dict[str, Challenge] = {}
        self._schemes: dict[str, str] = {}  # registry -> the scheme that worked
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        common: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout, connect=5.0),
            "limits": limits,
            "headers": {"User-Agent": USER_AGENT},
            "follow_redirects": True,
        }
        self._verified = httpx.AsyncClient(verify=verifying_context(ca_pem), **common)
        self._unverified = httpx.AsyncClient(verify=False, **common)
        self.manifest_requests = 0
        self.token_requests = 0

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
        scope = f"repository:{ref.repository}:pull"
        auth = RegistryAuth(self, registry, scope, credentials)
        path = f"/v2/{ref.repository}/manifests/{ref.reference}"
        known = self._schemes.get(registry)
        schemes = (known,) if known else schemes_for(registry, self.insecure)
        last_error: Exception | None = None
        for scheme in schemes:
            try:
                response = await self._head(scheme, registry, path, auth)
            except httpx.HTTPError as exc:
                last_error = exc
                continue
            self._schemes[registry] = scheme
            return await self._digest_from(response, ref, registry, path, scheme, auth)
        assert last_error is not None
        raise RegistryError(f"registry {registry} unreachable: {_reason(last_error)}")

    async def _head(
        self, scheme: str, registry: str, path: str, auth: RegistryAuth
    ) -> httpx.Response:
        response = await self._http(registry).head(
            f"{scheme}://{registry}{path}", headers={"Accept": MANIFEST_ACCEPT}, auth=auth
        )
        self.manifest_requests += 1  # answered ones only: a refused HTTPS probe is not one
        return response

    async def _digest_from(
        self,
        response: httpx.Response,
        ref: ImageRef,
        registry: str,
        path: str,
        scheme: str,
        auth: RegistryAuth,
    ) -> str:
        status = response.status_code
        if status == 401:
            who = auth.credentials.source
            raise RegistryError(f"registry {registry}: unauthorized for {ref} ({who})")
        if status == 403:
            raise RegistryError(f"registry {registry}: access to {ref.repository} denied")
        if status == 404:
            raise RegistryError(f"registry {registry}: {ref.repository}:{ref.reference} not found")
        if status == 429:
            raise RegistryError(f"registry {registry}: rate limited (HTTP 429)")
        if status != 200:
            raise RegistryError(f"registry {registry}: HTTP {status} for {ref}")
        digest = str(response.headers.get("docker-content-digest", ""))
        if digest:
            if not digest.startswith("sha256:") or len(digest) != 71:
                raise RegistryError(
                    f"registry {registry}: malformed Docker-Content-Digest {digest[:80]!r}"
                )
            return digest
        # Some registries answer HEAD without the digest: fetch the manifest and hash it.
        self.manifest_requests += 1
        try:
            body = await self._http(registry).get(
                f"{scheme}://{registry}{path}", headers={"Accept": MANIFEST_ACCEPT}, auth=auth
            )
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry {registry} unreachable: {_reason(exc)}") from None
        if body.status_code != 200:
            raise RegistryError(f"registry {registry}: HTTP {body.status_code} for {ref}")
        return "sha256:" + hashlib.sha256(body.content).hexdigest()


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and "refused" in text.lower():
        return "connection refused"
    return text
