"""A TCP proxy in front of a real nats-server that delivers JetStream messages late.

A consumer's deliveries and the answers of the JetStream API leave the server from
different queues, so a client may get an API answer ("nothing pending") before messages
the consumer already sent. On a busy machine it happens now and then; through this proxy it
happens every time: a client's question about a consumer (`$JS.API.CONSUMER.INFO.*`)
reaches the server `ask_s` late, when the consumer has sent what it had, and every message
with headers (HMSG: what a consumer delivers, flow control, heartbeats) reaches the client
`hold_s` late, in order. Plain messages (MSG: the API's answers, requests' replies) and
everything else pass at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable


class LateDeliveriesProxy:
    def __init__(self, upstream_port: int, hold_s: float = 1.0, ask_s: float = 0.3) -> None:
        self.upstream_port = upstream_port
        self.hold_s = hold_s
        self.ask_s = ask_s
        self.port = 0
        self.held = 0  # how many messages were held back so far
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the NATS proxy did not start")

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        tasks = [
            asyncio.create_task(self._relay(client_r, server_w, self._late_question)),
            asyncio.create_task(self._relay(server_r, client_w, self._late_delivery)),
        ]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for writer in (client_w, server_w):
            writer.close()

    def _late_question(self, frame: bytes) -> float:
        return self.ask_s if frame.startswith(b"PUB $JS.API.CONSUMER.INFO.") else 0.0

    def _late_delivery(self, frame: bytes) -> float:
        if frame.startswith(b"HMSG "):
            self.held += 1
            return self.hold_s
        return 0.0

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        delay: Callable[[bytes], float],
    ) -> None:
        """Frames from `reader` to `writer`: at once, or `delay(frame)` seconds late (the late
        ones in order among themselves)."""
        late: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._send_late(late, writer))
        try:
            while frame := await _read_frame(reader):
                held = delay(frame)
                if held:
                    late.put_nowait((self._loop.time() + held, frame))
                else:
                    writer.write(frame)
        finally:
            sender.cancel()

    @staticmethod
    async def _send_late(
        late: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, frame = await late.get()
            await asyncio.sleep(max(0.0, due - loop.time()))  # the fault itself: late
            writer.write(frame)


WITH_PAYLOAD = (b"MSG", b"HMSG", b"PUB", b"HPUB")


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    """The next protocol frame, either way: a line, or a line with its payload (MSG, HMSG,
    PUB, HPUB: the last number on the line is the payload's size). b"" at the end."""
    try:
        line = await reader.readuntil(b"\r\n")
        if line.split(b" ", 1)[0].strip().upper() not in WITH_PAYLOAD:
            return line
        return line + await reader.readexactly(int(line.split()[-1]) + 2)
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""
