"""Registry credentials: `REPO_USER`/`REPO_PASS`, then Docker's `config.json`.

The file is found where watchtower users keep it: the directory in `DOCKER_CONFIG`, else
`/config.json` (the usual mount), else `~/.docker/config.json`. It is read again when it
changes (size, mtime or inode), so a rotated credential needs no restart.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable
from pathlib import Path

import msgspec

from vigil_shared.imageref import DOCKER_HUB, DOCKER_HUB_ALIASES


class CredentialError(ValueError):
    """A config.json that cannot be used; the message names the file and the fault."""


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth refresh token from `docker login` to some registries
    source: str = "anonymous"  # where they came from, for reports: never the secret

    @property
    def basic(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.username and self.password else None

    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.identity_token) if s]


ANONYMOUS = Credentials()


def registry_key(raw: str) -> str:
    """`https://index.docker.io/v1/` -> `docker.io`; `HOST:5000/` -> `host:5000`."""
    key = raw.strip()
    if "://" in key:
        key = key.split("://", 1)[1]
    key = key.split("/", 1)[0].lower()
    return DOCKER_HUB if key in DOCKER_HUB_ALIASES else key


def config_path(docker_config_env: str | None, home: str | None) -> Path:
    if docker_config_env:
        return Path(docker_config_env) / "config.json"
    if Path("/config.json").is_file():
        return Path("/config.json")
    return Path(home or os.path.expanduser("~")) / ".docker" / "config.json"


def parse_config(text: str, source: str) -> dict[str, Credentials]:
    """The `auths` of a config.json, by registry key. Raises CredentialError naming `source`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CredentialError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CredentialError(f"{source}: expected a JSON object")
    auths = data.get("auths", {})
    if auths is None:
        auths = {}
    if not isinstance(auths, dict):
        raise CredentialError(f"{source}: 'auths' must be an object")
    found: dict[str, Credentials] = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            raise CredentialError(f"{source}: the entry for {key!r} must be an object")
        username = str(entry.get("username") or "")
        password = str(entry.get("password") or "")
        if entry.get("auth"):
            try:
                decoded = base64.b64decode(str(entry["auth"]), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise CredentialError(
                    f"{source}: the 'auth' of {key!r} is not base64 of user:password"
                ) from None
            username, sep, password = decoded.partition(":")
            if not sep:
                raise CredentialError(f"{source}: the 'auth' of {key!r} has no ':'")
        token = str(entry.get("identitytoken") or "")
        if username or password or token:
            found[registry_key(key)] = Credentials(
                username=username, password=password, identity_token=token, source=source
            )
    return found


class CredentialStore:
    """Credentials per registry; the file is re-read only when it has changed."""

    def __init__(
        self,
        *,
        repo_user: str | None = None,
        repo_pass: str | None = None,
        docker_config_env: str | None = None,
        home: str | None = None,
        on_secret: Callable[[str], None] = lambda secret: None,
    ) -> None:
        self._on_secret = on_secret  # every secret read is handed to the log redactor
        self._repo = (
            Credentials(username=repo_user, password=repo_pass, source="REPO_USER/REPO_PASS")
            if repo_user and repo_pass
            else None
        )
        self._docker_config_env = docker_config_env
        self._home = home
        self._stamp: tuple[str, int, int, int] | None = None
        self._entries: dict[str, Credentials] = {}
        self._error = ""

    def _refresh(self) -> None:
        path = config_path(self._docker_config_env, self._home)
        try:
            st = path.stat()
        except OSError:
            self._stamp, self._entries, self._error = None, {}, ""
            return
        stamp = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._entries, self._error = parse_config(path.read_text(), str(path)), ""
            for creds in self._entries.values():
                for secret in creds.secrets():
                    self._on_secret(secret)
        except OSError as exc:
            self._entries, self._error = {}, f"{path}: cannot be read: {exc.strerror}"
        except CredentialError as exc:
            self._entries, self._error = {}, str(exc)

    def for_registry(self, registry: str) -> Credentials:
        """What to log in to `registry` with; raises CredentialError when the file is bad."""
        if self._repo is not None:
            return self._repo
        self._refresh()
        if self._error:
            raise CredentialError(self._error)
        return self._entries.get(registry_key(registry), ANONYMOUS)
