"""One Vigil per state directory: the process that runs the embedded NATS on a state dir holds
`<state dir>/vigil.lock` (an flock) for its whole life.

A second `vigil` on the same state dir would start a second nats-server on the same JetStream
store; it refuses at once instead, naming the running one (its pid and NATS URL). The kernel
drops an flock when its holder dies, even by SIGKILL, so a crashed Vigil never blocks the next.
The file is never removed: removing a held lock file lets a third process lock a new file of
the same name while the second still holds the old one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

import msgspec

LOCK_FILE = "vigil.lock"


class StateDirBusy(RuntimeError):
    """Another process holds the state directory."""


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    pid: int
    command: str
    started_at: float


def describe_holder(holder: Holder | None, nats_url: str | None) -> str:
    """Pure: how the running Vigil is named in messages."""
    if holder is None:
        return "another vigil"
    where = f", NATS {nats_url}" if nats_url else ""
    return f"another vigil ({holder.command}, pid {holder.pid}{where})"


def read_holder(state_dir: Path) -> Holder | None:
    try:
        return msgspec.json.decode((state_dir / LOCK_FILE).read_bytes(), type=Holder)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


class StateLock:
    def __init__(self, state_dir: Path, command: str) -> None:
        self.state_dir = state_dir
        self.command = command
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Lock the state dir; False when another process holds it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        holder = Holder(pid=os.getpid(), command=self.command, started_at=time.time())
        os.ftruncate(fd, 0)
        os.pwrite(fd, msgspec.json.encode(holder) + b"\n", 0)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing drops the flock
        self._fd = None


def acquire(state_dir: Path, command: str) -> StateLock:
    """The state dir's lock, or StateDirBusy naming the process that holds it."""
    lock = StateLock(state_dir, command)
    if lock.try_acquire():
        return lock
    raise StateDirBusy(busy_message(state_dir))


def busy_message(state_dir: Path) -> str:
    from vigil.process.embedded_nats import running_url  # the URL file is the embedded NATS's

    holder = describe_holder(read_holder(state_dir), running_url(state_dir / "nats"))
    return (
        f"{holder} is running from the state directory {state_dir}: stop it first, or give "
        "this one its own --state-dir (vigil status, trigger, events and history reach the "
        "running one)"
    )
