"""The notifier's composition root: `start(process, config)` builds and starts it."""

from __future__ import annotations

from vigil_notifier.config import NotifierConfig
from vigil_notifier.service import Notifier
from vigil_shared.process import Process

ROLE = "notifier"


async def start(process: Process, config: NotifierConfig) -> Notifier:
    bus = await process.connect("vigil-notifier")
    notifier = Notifier(bus, config=config, redactor=process.redactor, telemetry=process.telemetry)
    process.closers.append(notifier.close)
    await notifier.start()
    await process.heartbeat(bus, ROLE)
    return notifier
