"""Lifecycle hooks (`--enable-lifecycle-hooks`): watchtower's labels, run inside the container.

`com.centurylinklabs.watchtower.lifecycle.<phase>` holds a command run with `sh -c` in the
container; `<phase>-timeout` its timeout in minutes (default 1; 0 means none). A pre-update
hook that exits 75 (EX_TEMPFAIL) asks to skip that container's update this time. A hook that
outlives its timeout is killed (by its host process id: the executor must see the host's
processes, as it does on the host or with `pid: host`) and reported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import msgspec

from vigil_shared import labels
from vigil_shared.engine_port import Engine, EngineApi, ExecRef

SKIP_EXIT_CODE = 75
DEFAULT_TIMEOUT_MINUTES = 1.0
OUTPUT_LIMIT = 4000  # characters of hook output kept for progress events and reports


class Hook(msgspec.Struct, frozen=True, kw_only=True):
    phase: str
    command: str
    timeout_s: float | None  # None: no timeout


class HookResult(msgspec.Struct, frozen=True, kw_only=True):
    phase: str
    exit_code: int | None  # None when it could not run or was killed
    output: str = ""
    timed_out: bool = False
    error: str = ""  # why it could not run

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def asks_to_skip(self) -> bool:
        return self.phase == "pre-update" and self.exit_code == SKIP_EXIT_CODE

    def describe(self) -> str:
        if self.error:
            return f"{self.phase} hook could not run: {self.error}"
        if self.timed_out:
            return f"{self.phase} hook timed out and was killed"
        return f"{self.phase} hook exited {self.exit_code}"


def hook_for(container_labels: Mapping[str, str], phase: str) -> Hook | None:
    """Pure: the hook a container's labels set for `phase`, if any."""
    command = (container_labels.get(labels.hook_label(phase)) or "").strip()
    if not command:
        return None
    raw = (container_labels.get(labels.hook_timeout_label(phase)) or "").strip()
    try:
        minutes = float(raw) if raw else DEFAULT_TIMEOUT_MINUTES
    except ValueError:
        minutes = DEFAULT_TIMEOUT_MINUTES
    return Hook(phase=phase, command=command, timeout_s=minutes * 60 if minutes > 0 else None)


class RunningHooks:
    """The hooks an executor has running, so that a Vigil asked to stop (SIGTERM) kills them
    instead of leaving them behind in their containers. Once stopped it starts no more."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exec_ids: set[str] = set()
        self.stopped = False

    def add(self, exec_id: str) -> bool:
        with self._lock:
            if self.stopped:
                return False
            self._exec_ids.add(exec_id)
            return True

    def discard(self, exec_id: str) -> None:
        with self._lock:
            self._exec_ids.discard(exec_id)

    def stop(self, api: EngineApi) -> int:
        """Start no more hooks and kill those running (blocking); how many were killed."""
        with self._lock:
            self.stopped = True
            running = list(self._exec_ids)
        for exec_id in running:
            _kill(api, exec_id)
        return len(running)


STOPPING = "vigil is stopping"


def run_hook(
    client: Engine, container_id: str, hook: Hook, running: RunningHooks | None = None
) -> HookResult:
    """Run `hook` in the container and wait for it (blocking: call in a thread). With
    `running`, the hook is known there while it runs (and refused once it is stopped)."""
    api = client.api
    if running is not None and running.stopped:
        return HookResult(phase=hook.phase, exit_code=None, error=STOPPING)
    try:
        exec_id = api.exec_create(
            container_id, ["sh", "-c", hook.command], stdout=True, stderr=True
        )
    except Exception as exc:
        return HookResult(phase=hook.phase, exit_code=None, error=_reason(exc))
    key = str(exec_id.get("Id") if isinstance(exec_id, dict) else exec_id)
    if running is not None and not running.add(key):
        return HookResult(phase=hook.phase, exit_code=None, error=STOPPING)
    try:
        return _wait(api, exec_id, hook, running)
    finally:
        if running is not None:
            running.discard(key)


def _wait(api: EngineApi, exec_id: ExecRef, hook: Hook, running: RunningHooks | None) -> HookResult:
    output: list[bytes] = []
    failure: list[str] = []

    def attach() -> None:
        try:
            output.append(api.exec_start(exec_id, stream=False, demux=False) or b"")
        except Exception as exc:
            failure.append(_reason(exc))

    worker = threading.Thread(target=attach, daemon=True)
    worker.start()
    deadline = None if hook.timeout_s is None else time.monotonic() + hook.timeout_s
    stopped = False
    # In slices: a stop that came before the hook's process existed is seen at the next one.
    while worker.is_alive() and (deadline is None or time.monotonic() < deadline):
        worker.join(0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic())))
        if running is not None and running.stopped and worker.is_alive():
            stopped = True
            break
    if worker.is_alive():
        _kill(api, exec_id)
        worker.join(10)
        text = b"".join(output).decode(errors="replace")[-OUTPUT_LIMIT:]
        if stopped:
            return HookResult(phase=hook.phase, exit_code=None, output=text, error=STOPPING)
        return HookResult(phase=hook.phase, exit_code=None, output=text, timed_out=True)
    if failure:
        return HookResult(phase=hook.phase, exit_code=None, error=failure[0])
    try:
        code = api.exec_inspect(exec_id).get("ExitCode")
    except Exception as exc:
        return HookResult(phase=hook.phase, exit_code=None, error=_reason(exc))
    text = b"".join(output).decode(errors="replace")[-OUTPUT_LIMIT:]
    return HookResult(phase=hook.phase, exit_code=code, output=text)


def _kill(api: EngineApi, exec_id: ExecRef) -> None:
    """Kill the hook's process and everything it started (the engine has no exec kill)."""
    try:
        pid = int(api.exec_inspect(exec_id).get("Pid") or 0)
    except Exception:
        return
    if pid <= 0:  # not started, or over: never os.kill(0), which is our own process group
        return
    for victim in [pid, *_descendants(pid)]:  # listed first: killed children get reparented
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in children:
                found.append(int(child))
                frontier.append(int(child))
    return found


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "explanation", None) or exc)
