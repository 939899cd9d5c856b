"""The OpenID Connect relying party (IO adapter): discovery, the authorization request with
PKCE (S256) and a nonce, the code's exchange, the ID token's check and the userinfo.

authlib builds the authorization request and PKCE's challenge, joserfc checks the ID token
(signature against the provider's JWKS, iss, aud, exp, nonce), httpx talks to the provider.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

TIMEOUT_S = 10.0
CALLBACK_PATH = "/auth/callback"


class OidcConfig(msgspec.Struct, frozen=True, kw_only=True):
    issuer: str
    client_id: str
    client_secret: str = ""
    public_url: str  # as browsers reach the dashboard, ending in /
    role_claim: str = "groups"
    operators: tuple[str, ...] = ("vigil-operators",)
    scopes: str = "openid profile email groups"
    ca_file: str = ""

    @property
    def redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + CALLBACK_PATH

    @property
    def secure(self) -> bool:
        return self.public_url.lower().startswith("https://")

    def __repr__(self) -> str:  # the secret never reaches a log through a repr
        return f"OidcConfig(issuer={self.issuer!r}, client_id={self.client_id!r})"


def oidc_config(values: Mapping[str, Any]) -> OidcConfig | None:
    """The sign-in's configuration from the options (checked together at start-up by
    vigil.options.checks); None without --dashboard-oidc-issuer."""
    issuer = str(values.get("dashboard_oidc_issuer") or "")
    if not issuer:
        return None
    public = str(values.get("dashboard_public_url") or "")
    return OidcConfig(
        issuer=issuer.rstrip("/"),
        client_id=str(values.get("dashboard_oidc_client_id") or ""),
        client_secret=str(values.get("dashboard_oidc_client_secret") or ""),
        public_url=public if public.endswith("/") else public + "/",
        role_claim=str(values.get("dashboard_oidc_role_claim") or "groups"),
        operators=tuple(values.get("dashboard_oidc_operators") or ("vigil-operators",)),
        scopes=str(values.get("dashboard_oidc_scopes") or "openid profile email groups"),
        ca_file=str(values.get("dashboard_oidc_ca_file") or ""),
    )


class ProviderError(Exception):
    """The provider could not be reached, or answered what does not check out."""


class Provider(msgspec.Struct, frozen=True, kw_only=True):
    """What discovery tells (the fields the code flow uses)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    end_session_endpoint: str = ""


class Started(msgspec.Struct, frozen=True, kw_only=True):
    url: str  # where to send the browser
    state: str
    nonce: str
    verifier: str


class OidcClient:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._provider: Provider | None = None
        self._verify: ssl.SSLContext | bool = True
        if config.ca_file:
            self._verify = ssl.create_default_context(cafile=config.ca_file)

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=TIMEOUT_S, verify=self._verify, follow_redirects=False)

    async def _get_json(self, http: httpx.AsyncClient, url: str, **kw: Any) -> dict[str, Any]:
        try:
            answer = await http.get(url, **kw)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{url}: {exc or type(exc).__name__}") from None
        if answer.status_code != 200:
            raise ProviderError(f"{url} answered {answer.status_code}: {answer.text[:200]}")
        try:
            doc = answer.json()
        except ValueError:
            raise ProviderError(f"{url} answered what is not JSON") from None
        if not isinstance(doc, dict):
            raise ProviderError(f"{url} answered what is not a JSON object")
        return doc

    async def provider(self) -> Provider:
        """Discovery, once it has worked (until then every sign-in asks again)."""
        if self._provider is not None:
            return self._provider
        url = self.config.issuer + "/.well-known/openid-configuration"
        async with self._http() as http:
            doc = await self._get_json(http, url)
        try:
            found = msgspec.convert(doc, Provider)
        except msgspec.ValidationError as exc:
            raise ProviderError(f"{url}: {exc}") from None
        if found.issuer.rstrip("/") != self.config.issuer:
            raise ProviderError(
                f"{url} names the issuer {found.issuer!r}, not {self.config.issuer!r} "
                "(--dashboard-oidc-issuer must be the provider's issuer exactly)"
            )
        self._provider = found
        return found

    async def start(self) -> Started:
        """The authorization request: response_type=code, PKCE S256, a state and a nonce."""
        # authlib and joserfc (and cryptography under them) load at the first sign-in, not
        # at every start: tests/unit/test_startup_imports.py.
        from authlib.common.security import generate_token
        from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        provider = await self.provider()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        url = prepare_grant_uri(
            provider.authorization_endpoint,
            self.config.client_id,
            "code",
            redirect_uri=self.config.redirect_uri,
            scope=self.config.scopes,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return Started(url=url, state=state, nonce=nonce, verifier=verifier)

    async def finish(self, code: str, *, nonce: str, verifier: str) -> dict[str, Any]:
        """The code for tokens; the ID token checked; its claims with the userinfo's."""
        provider = await self.provider()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "code_verifier": verifier,
            "client_id": self.config.client_id,
        }
        headers = {"accept": "application/json"}
        auth: httpx.BasicAuth | None = None
        if self.config.client_secret:  # client_secret_basic, its parts form-encoded (RFC 6749)
            auth = httpx.BasicAuth(
                urllib.parse.quote(self.config.client_id, safe=""),
                urllib.parse.quote(self.config.client_secret, safe=""),
            )
        async with self._http() as http:
            try:
                answer = await http.post(
                    provider.token_endpoint,
                    data=form,
                    headers=headers,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.HTTPError as exc:
                raise ProviderError(f"{provider.token_endpoint}: {exc}") from None
            if answer.status_code != 200:
                raise ProviderError(
                    f"the provider refused the code ({answer.status_code}): {answer.text[:200]}"
                )
            tokens = answer.json()
            id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
            if not isinstance(id_token, str):
                raise ProviderError("the provider's token answer has no id_token")
            jwks = await self._get_json(http, provider.jwks_uri)
            from joserfc.errors import JoseError
            from joserfc.jwk import KeySet

            try:
                keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError) as exc:
                raise ProviderError(f"{provider.jwks_uri}: not a key set: {exc}") from None
            claims = self._checked(id_token, keys, nonce, provider.issuer)
            access = tokens.get("access_token")
            if provider.userinfo_endpoint and isinstance(access, str):
                info = await self._get_json(
                    http, provider.userinfo_endpoint, headers={"authorization": f"Bearer {access}"}
                )
                if info.get("sub") != claims.get("sub"):
                    raise ProviderError("the userinfo is for another subject than the ID token")
                claims = {**info, **claims}
        return claims

    def _checked(self, id_token: str, keys: KeySet, nonce: str, issuer: str) -> dict[str, Any]:
        """`issuer` as discovery spells it (Authentik's ends in /, and so does its `iss`)."""
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            token = jwt.decode(id_token, keys)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": issuer},
                aud={"essential": True, "value": self.config.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
                leeway=60,
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise ProviderError(f"the ID token does not check out: {exc}") from None
        return dict(token.claims)
