"""SIGTERM and SIGINT for a whole `vigil` process, from its first line on.

Without this, a signal that came before the daemon's own handler was installed (during
start-up, during `--run-once`, in `vigil events --follow`) killed the Python process at once
and left its children behind: the embedded nats-server (in a session of its own) and any
lifecycle hook in its container. Here the first signal sets the daemon's stop event when it
has one (a graceful stop), else cancels the main task, so that every `finally` runs and
stops what it started; callbacks registered with `on_signal` run at once (kill the hooks).
A second signal cancels a graceful stop that takes too long; signals after that are
ignored, so that the cleanup itself is never cut short.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from vigil_shared.logs import get_logger

SIGNALS = (signal.SIGTERM, signal.SIGINT)

log = get_logger("vigil")


class Shutdown:
    def __init__(self) -> None:
        self.signum: int | None = None
        self._task: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._graceful: asyncio.Event | None = None
        self._callbacks: list[Callable[[], object]] = []
        self._cancelled = False

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        for sig in SIGNALS:
            self._loop.add_signal_handler(sig, self._on_signal, sig)

    def uninstall(self) -> None:
        if self._loop is not None:
            for sig in SIGNALS:
                self._loop.remove_signal_handler(sig)

    def graceful(self, stop: asyncio.Event) -> None:
        """From now on, the first signal sets `stop` instead of cancelling."""
        self._graceful = stop

    def on_signal(self, callback: Callable[[], object]) -> None:
        self._callbacks.append(callback)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def _on_signal(self, signum: int) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        if first:
            log.info("stopping", signal=signal.Signals(signum).name)
            for callback in self._callbacks:
                callback()
            if self._graceful is not None:
                self._graceful.set()
                return
        if self._cancelled or self._task is None:
            return  # already cancelled: let the cleanup finish
        self._cancelled = True
        self._task.cancel()
