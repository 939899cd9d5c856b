"""A subscriber to every subject (`>`) of a real NATS: what a curious client on the bus sees,
payloads and headers, recorded from a thread of its own while a test runs `vigil`."""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Any

import nats


class BusRecorder:
    """Every message on every subject (`>`). `options` are nats-py connect options: a user,
    password and TLS context where the server wants them."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.options = options
        self.messages: list[tuple[str, bytes, dict[str, str]]] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        nc = await nats.connect(self.url, **self.options)

        async def record(msg: Any) -> None:
            self.messages.append((msg.subject, msg.data, dict(msg.headers or {})))

        await nc.subscribe(">", cb=record)
        await nc.flush()
        self._ready.set()
        await self._stop.wait()
        await nc.drain()

    def __enter__(self) -> BusRecorder:
        self._thread.start()
        assert self._ready.wait(10), "the recorder could not subscribe"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def leaks(self, secret: str) -> list[str]:
        """The start of every message (payload or headers) that holds `secret`."""
        found = []
        for subject, data, headers in self.messages:
            text = data.decode(errors="replace") + repr(headers)
            if secret in text:
                found.append(f"{subject}: {text[:200]}")
        return found


def secret_forms(user: str, password: str) -> list[str]:
    """A password as it could leak: itself, base64 of it and of `user:password` (HTTP Basic)."""
    return [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"{user}:{password}".encode()).decode(),
        base64.urlsafe_b64encode(password.encode()).decode().rstrip("="),
    ]
