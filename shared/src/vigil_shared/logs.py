"""Structured logging that never prints a secret.

`Logger.info("container updated", container="web")` writes one line, as text or JSON. Every
line passes a `Redactor`, which masks secrets the process registered (passwords, tokens) and
anything shaped like a credential (Authorization values, passwords in URLs).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import time
from typing import Any, TextIO

_PATTERNS = [
    # user:password@ in URLs
    (re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?P<post>@)"), "***"),
    # Authorization header values and bare schemes
    (re.compile(r"(?P<pre>\b(?:Basic|Bearer)\s+)[A-Za-z0-9._~+/=-]{8,}(?P<post>)"), "***"),
    # key=value or "key": "value" for secret-looking keys
    (
        re.compile(
            r"(?P<pre>(?:password|passwd|secret|token|auth|identitytoken)[\"']?\s*[=:]\s*[\"']?)"
            r"[^\s\"',}]+(?P<post>)",
            re.IGNORECASE,
        ),
        "***",
    ),
]


class Redactor:
    """Masks secrets in text. Thread-safe: the gateway registers secrets as it learns them."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        for s in secrets or []:
            self.add(s)

    def add(self, secret: str | None) -> None:
        # Very short values would mask ordinary words; they are not worth a password anyway.
        if secret and len(secret) >= 4:
            with self._lock:
                self._secrets.add(secret)
                self._secrets.add(base64.b64encode(secret.encode()).decode())

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for s in secrets:
            if s in text:
                text = text.replace(s, "***")
        for pattern, mask in _PATTERNS:
            text = pattern.sub(rf"\g<pre>{mask}\g<post>", text)
        return text


class _Formatter(logging.Formatter):
    def __init__(self, fmt: str, redactor: Redactor) -> None:
        super().__init__()
        self.json = fmt == "json"
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ts += f".{int(record.msecs):03d}Z"
        message = record.getMessage()
        if record.exc_info:
            fields = {**fields, "error": self.formatException(record.exc_info).splitlines()[-1]}
        if self.json:
            line = json.dumps(
                {
                    "time": ts,
                    "level": record.levelname.lower(),
                    "logger": record.name,
                    "msg": message,
                    **fields,
                },
                default=str,
            )
        else:
            kv = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
            line = f"{ts} {record.levelname:<5} {record.name}: {message}" + (f" {kv}" if kv else "")
        return self.redactor(line)


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (not text or any(c in text for c in ' "=')) else text


class Logger:
    """A thin structured front on a stdlib logger."""

    def __init__(self, name: str) -> None:
        self._log = logging.getLogger(name)

    def _emit(self, level: int, msg: str, fields: dict[str, Any], exc: bool = False) -> None:
        if self._log.isEnabledFor(level):
            self._log.log(level, msg, extra={"fields": fields}, exc_info=exc)

    def debug(self, msg: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, msg, fields)

    def info(self, msg: str, **fields: Any) -> None:
        self._emit(logging.INFO, msg, fields)

    def warning(self, msg: str, **fields: Any) -> None:
        self._emit(logging.WARNING, msg, fields)

    def error(self, msg: str, **fields: Any) -> None:
        self._emit(logging.ERROR, msg, fields)

    def exception(self, msg: str, **fields: Any) -> None:
        self._emit(logging.ERROR, msg, fields, exc=True)


def get_logger(name: str) -> Logger:
    return Logger(name)


def setup_logging(
    level: str = "info",
    fmt: str = "text",
    redactor: Redactor | None = None,
    stream: TextIO | None = None,
) -> Redactor:
    """Configure the process's logging once, from the composition root."""
    redactor = redactor or Redactor()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Formatter(fmt, redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries chatter at INFO (nats reconnect noise, docker-py, httpx requests).
    for noisy in ("nats", "httpx", "httpcore", "docker", "urllib3", "asyncio", "apprise"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor
