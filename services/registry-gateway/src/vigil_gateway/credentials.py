"""Registry credentials: `REPO_USER`/`REPO_PASS`, then Docker's `config.json`.

The file is found where watchtower users keep it: the directory in `DOCKER_CONFIG`, else
`/config.json` (the usual mount), else `~/.docker/config.json`. It is read again when it
changes (size, mtime or inode), so a rotated credential needs no restart.

Within the file Docker's order applies: the `credHelpers` entry of the registry, else the
`credsStore` helper, else the `auths` entry. A helper is `docker-credential-NAME` on PATH,
spoken to with the protocol of docker-credential-helpers (`get`, the server URL on stdin, JSON
on stdout); its answers are reused for a minute so that a scan does not spawn a process per
image.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from vigil_shared.imageref import DOCKER_HUB, DOCKER_HUB_ALIASES
from vigil_shared.logs import get_logger

log = get_logger("vigil.gateway")


class CredentialError(ValueError):
    """A config.json or credential helper that cannot be used; the message names the file or
    the helper, and the fault (never a secret)."""


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

HELPER_PREFIX = "docker-credential-"
HUB_SERVER_URL = "https://index.docker.io/v1/"  # what Docker asks helpers for, for Hub
HELPER_TIMEOUT = 10.0
HELPER_CACHE_TTL = 60.0
HELPER_NOT_FOUND = "credentials not found in native keychain"
TOKEN_USERNAME = "<token>"  # a helper's username for "the secret is an identity token"
_EXCERPT = 200
_HELPER_CACHE_MAX = 1024


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


def _load_config(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CredentialError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CredentialError(f"{source}: expected a JSON object")
    return data


def parse_config(text: str, source: str) -> dict[str, Credentials]:
    """The `auths` of a config.json, by registry key. Raises CredentialError naming `source`."""
    return _parse_auths(_load_config(text, source), source)


def _valid_helper_name(name: str) -> bool:
    # The name becomes part of a file name looked up on PATH: nothing that leaves PATH.
    return bool(name) and name == name.strip() and not any(c in name for c in "/\\\0")


class HelperConfig(msgspec.Struct, frozen=True, kw_only=True):
    """`credsStore` and `credHelpers` of a config.json (helper names, without the prefix)."""

    store: str = ""  # credsStore: the helper for every registry without a credHelpers entry
    per_registry: dict[str, str] = msgspec.field(default_factory=dict)  # by registry key

    def helper_for(self, registry: str) -> str:
        return self.per_registry.get(registry_key(registry), self.store)


def parse_helpers(text: str, source: str) -> HelperConfig:
    """`credsStore` and `credHelpers` of a config.json. Raises CredentialError naming `source`."""
    return _parse_helpers(_load_config(text, source), source)


def _parse_helpers(data: dict[str, Any], source: str) -> HelperConfig:
    store = data.get("credsStore") or ""
    if not isinstance(store, str):
        raise CredentialError(f"{source}: 'credsStore' must be a string")
    if store and not _valid_helper_name(store):
        raise CredentialError(f"{source}: 'credsStore' {store!r} is not a helper name")
    helpers = data.get("credHelpers") or {}
    if not isinstance(helpers, dict):
        raise CredentialError(f"{source}: 'credHelpers' must be an object")
    per_registry: dict[str, str] = {}
    for key, name in helpers.items():
        if not isinstance(name, str) or not _valid_helper_name(name):
            raise CredentialError(
                f"{source}: the credHelpers entry for {key!r} must be a helper name"
            )
        per_registry[registry_key(key)] = name
    return HelperConfig(store=store, per_registry=per_registry)


def _parse_auths(
    data: dict[str, Any], source: str, broken: dict[str, str] | None = None
) -> dict[str, Credentials]:
    """The `auths` entries by registry key. An entry that cannot be used raises
    CredentialError; with `broken`, it is put there instead (registry key -> the fault), so
    that it is an error of that registry alone and the other entries still work."""
    auths = data.get("auths", {})
    if auths is None:
        auths = {}
    if not isinstance(auths, dict):
        raise CredentialError(f"{source}: 'auths' must be an object")
    found: dict[str, Credentials] = {}
    for key, entry in auths.items():
        try:
            creds = _parse_entry(key, entry, source)
        except CredentialError as exc:
            if broken is None:
                raise
            broken[registry_key(key)] = str(exc)
            continue
        if creds is not None:
            found[registry_key(key)] = creds
    return found


def _parse_entry(key: str, entry: Any, source: str) -> Credentials | None:
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
        return Credentials(
            username=username, password=password, identity_token=token, source=source
        )
    return None


def helper_server_url(registry: str) -> str:
    """What Docker writes to a helper's stdin: Hub's v1 URL, else the registry's host[:port]."""
    if registry_key(registry) == DOCKER_HUB:
        return HUB_SERVER_URL
    host = registry.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    return host.split("/", 1)[0]


def _excerpt(output: str) -> str:
    """Helper output fit for an error message: JSON may hold a secret and is withheld; other
    text is cut to 200 characters on one line."""
    text = output.strip()
    if not text:
        return "no output"
    try:
        json.loads(text)
    except ValueError:
        pass
    else:
        return "output withheld: it is JSON and may hold a secret"
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= _EXCERPT else flat[:_EXCERPT] + "...")


def parse_helper_answer(stdout: str, source: str) -> Credentials:
    """A helper's `get` answer (`{"ServerURL", "Username", "Secret"}`) as credentials.

    Raises ValueError with the reason (never the output when it parsed as JSON)."""
    try:
        data = json.loads(stdout)
    except ValueError:
        raise ValueError(f"answered something that is not JSON: {_excerpt(stdout)}") from None
    if not isinstance(data, dict):
        raise ValueError("answered JSON that is not an object")
    username, secret = data.get("Username"), data.get("Secret")
    if not isinstance(username, str) or not isinstance(secret, str):
        raise ValueError("answered JSON without the string fields Username and Secret")
    if not isinstance(data.get("ServerURL", ""), str):
        raise ValueError("answered JSON whose ServerURL is not a string")
    if username == TOKEN_USERNAME:
        return Credentials(identity_token=secret, source=source) if secret else ANONYMOUS
    if not username and not secret:
        return ANONYMOUS
    return Credentials(username=username, password=secret, source=source)


class CredentialStore:
    """Credentials per registry; the file is re-read only when it has changed.

    `path` is the search path for credential helpers (default: PATH of the environment at
    the time of each lookup). Helper answers are reused for `helper_cache_ttl` seconds per
    helper and registry; failures are not kept. Safe to call from several threads at once:
    concurrent lookups for one registry run its helper once.
    """

    def __init__(
        self,
        *,
        repo_user: str | None = None,
        repo_pass: str | None = None,
        docker_config_env: str | None = None,
        home: str | None = None,
        on_secret: Callable[[str], None] = lambda secret: None,
        path: str | None = None,
        helper_timeout: float = HELPER_TIMEOUT,
        helper_cache_ttl: float = HELPER_CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
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
        self._broken: dict[str, str] = {}  # auths entries that cannot be used: their fault
        self._helpers = HelperConfig()
        self._error = ""
        self._path = path
        self._helper_timeout = helper_timeout
        self._helper_cache_ttl = helper_cache_ttl
        self._clock = clock
        self._lock = threading.Lock()  # guards the file state and the two dicts below
        self._helper_answers: dict[tuple[str, str], tuple[float, Credentials]] = {}
        self._helper_locks: dict[tuple[str, str], threading.Lock] = {}
        self._missing_stores: set[str] = set()  # credsStore helpers found missing, said once

    def _refresh(self) -> None:
        path = config_path(self._docker_config_env, self._home)
        try:
            st = path.stat()
        except OSError:
            self._stamp, self._entries, self._error = None, {}, ""
            self._helpers, self._broken = HelperConfig(), {}
            return
        stamp = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        self._entries, self._helpers, self._broken = {}, HelperConfig(), {}
        try:
            data = _load_config(path.read_text(), str(path))
            broken: dict[str, str] = {}
            entries = _parse_auths(data, str(path), broken)
            self._helpers = _parse_helpers(data, str(path))
            self._entries, self._broken, self._error = entries, broken, ""
            for key, fault in broken.items():
                log.warning("config.json entry unusable", registry=key, error=fault)
            for creds in self._entries.values():
                for secret in creds.secrets():
                    self._on_secret(secret)
        except OSError as exc:
            self._error = f"{path}: cannot be read: {exc.strerror}"
        except CredentialError as exc:
            self._entries, self._helpers, self._error = {}, HelperConfig(), str(exc)

    def for_registry(self, registry: str) -> Credentials:
        """What to log in to `registry` with; raises CredentialError when the file or the
        credential helper for the registry cannot be used."""
        if self._repo is not None:
            return self._repo
        with self._lock:
            self._refresh()
            if self._error:
                raise CredentialError(self._error)
            helper = self._helpers.helper_for(registry)
            entry = self._entries.get(registry_key(registry), ANONYMOUS)
            fault = self._broken.get(registry_key(registry))
            if not helper:
                if fault:  # this registry's entry is broken; the others still work
                    raise CredentialError(fault)
                return entry
            if (
                registry_key(registry) not in self._helpers.per_registry
                and shutil.which(HELPER_PREFIX + helper, path=self._path) is None
            ):
                # A credsStore copied from a desktop (`desktop`, `osxkeychain`) names a helper
                # that a server does not have: as watchtower does, carry on with the auths
                # entry or anonymously, and say so once. A credHelpers entry names the helper
                # for that registry on purpose: there, a missing helper is an error.
                if helper not in self._missing_stores:
                    self._missing_stores.add(helper)
                    log.warning(
                        "credsStore helper not installed; using config.json auths or anonymous",
                        helper=HELPER_PREFIX + helper,
                    )
                if fault:
                    raise CredentialError(fault)
                return entry
            key = (helper, registry_key(registry))
            lock = self._helper_locks.setdefault(key, threading.Lock())
        with lock:  # one run per helper and registry at a time; the others use its answer
            with self._lock:
                cached = self._helper_answers.get(key)
                if cached is not None and cached[0] > self._clock():
                    return cached[1]
            creds = self._run_helper(helper, registry)
            with self._lock:
                if self._helper_cache_ttl > 0:
                    self._helper_answers[key] = (self._clock() + self._helper_cache_ttl, creds)
                self._evict_helper_answers()
            return creds

    def _evict_helper_answers(self) -> None:
        if len(self._helper_answers) <= _HELPER_CACHE_MAX:
            return
        now = self._clock()
        for key in [k for k, (expires, _) in self._helper_answers.items() if expires <= now]:
            del self._helper_answers[key]
            self._helper_locks.pop(key, None)

    def _run_helper(self, helper: str, registry: str) -> Credentials:
        """`docker-credential-HELPER get` for `registry`; raises CredentialError with why."""
        program = HELPER_PREFIX + helper
        fault = f"credential helper {program} for {registry}"
        executable = shutil.which(program, path=self._path)
        if executable is None:
            raise CredentialError(f"{fault}: {program} not found in PATH")
        try:
            done = subprocess.run(
                [executable, "get"],
                input=helper_server_url(registry).encode(),
                capture_output=True,
                timeout=self._helper_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CredentialError(f"{fault}: no answer within {self._helper_timeout:g} s") from None
        except OSError as exc:
            raise CredentialError(f"{fault}: cannot be run: {exc.strerror or exc}") from None
        stdout = done.stdout.decode(errors="replace")
        if done.returncode != 0:
            if stdout.strip() == HELPER_NOT_FOUND:
                return ANONYMOUS
            said = stdout if stdout.strip() else done.stderr.decode(errors="replace")
            raise CredentialError(
                f"{fault}: exited with status {done.returncode}: {_excerpt(said)}"
            )
        try:
            creds = parse_helper_answer(stdout, program)
        except ValueError as exc:
            raise CredentialError(f"{fault}: {exc}") from None
        for secret in creds.secrets():
            self._on_secret(secret)
        return creds
