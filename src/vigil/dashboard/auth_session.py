"""The dashboard's sign-in cookies: what they hold, sealed so the browser can neither read nor
forge them, and how they are set.

Two cookies, both HttpOnly and SameSite=Lax (Lax, not Strict: the provider's redirect back
to /auth/callback is a top-level navigation from another site, which a Strict cookie would
miss), Secure when the public URL is https (and then with the `__Host-` prefix, which the
browser keeps to this host and path /):

- the login cookie, for the few minutes between /auth/login and /auth/callback: the state,
  the nonce and PKCE's code verifier;
- the session cookie: who signed in, their role, the CSRF token the page sends back, when it
  ends.

Sealing is AES-GCM with a key derived from the client secret (every dashboard replica with the
same secret reads the others' cookies, and a restart signs nobody out) or, for a public client,
from random bytes of this process. The cookie's name is bound into the seal, so a login cookie
never passes for a session.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from typing import TypeVar

import msgspec

from vigil.dashboard.auth_roles import Role

SESSION_S = 8 * 3600.0  # a working day; then the provider is asked again
LOGIN_S = 600.0  # time to get through the provider's login page


class Session(msgspec.Struct, frozen=True, kw_only=True):
    sub: str
    name: str
    role: Role
    csrf: str
    expires: float


class Login(msgspec.Struct, frozen=True, kw_only=True):
    state: str
    nonce: str
    verifier: str
    expires: float


class CookieNames(msgspec.Struct, frozen=True, kw_only=True):
    session: str
    login: str


def cookie_names(secure: bool) -> CookieNames:
    if secure:
        return CookieNames(session="__Host-vigil_session", login="__Host-vigil_login")
    return CookieNames(session="vigil_session", login="vigil_login")


def set_cookie(name: str, value: str, *, secure: bool, max_age: int) -> str:
    """A Set-Cookie value: HttpOnly (no script reads it), SameSite=Lax, Path=/, Secure over
    https; max_age 0 deletes it."""
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def read_cookies(header: str | None) -> dict[str, str]:
    """The request's cookies by name (the first of a repeated name)."""
    found: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in found:
            found[name] = value.strip()
    return found


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


T = TypeVar("T", Session, Login)


class Sealer:
    """Seals a Struct into a cookie value and opens it again (None when it was tampered with,
    sealed by another key, for another cookie, or has expired)."""

    def __init__(self, secret: str) -> None:
        # cryptography loads when sign-in is configured, not at every start.
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        material = secret.encode() if secret else os.urandom(32)
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"vigil dashboard cookies"
        ).derive(material)
        self._aead = AESGCM(key)

    def seal(self, cookie: str, value: Session | Login) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, msgspec.json.encode(value), cookie.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, cookie: str, value: str, kind: type[T], now: float | None = None) -> T | None:
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(raw[:12], raw[12:], cookie.encode())
            found = msgspec.json.decode(plain, type=kind)
        except (binascii.Error, ValueError, InvalidTag, msgspec.DecodeError):
            return None
        return found if found.expires > (time.time() if now is None else now) else None
