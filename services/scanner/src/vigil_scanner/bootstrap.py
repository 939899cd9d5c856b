"""The scanner's composition root: `start(process, config)` builds and starts a scanner per
engine, each on its own connection and heartbeat; with a scanner group they take their cycles
from the group's work queue instead of vigil.cmd.scan."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from vigil_scanner.scan_group import ScanGroup, ack_wait_for
from vigil_scanner.service import Scanner, ScannerConfig
from vigil_shared.heartbeat import scanner_details
from vigil_shared.process import Process

ROLE = "scanner"


class ScannersConfig(msgspec.Struct, frozen=True, kw_only=True):
    scanners: tuple[ScannerConfig, ...]  # one per engine (--engine), in order
    group: str = ""  # --scanner-group: replicas share the group's work queue
    interval: float = 86400.0  # --interval: the group's work items are acked well inside it


class Started(msgspec.Struct, frozen=True, kw_only=True):
    scanners: Sequence[Scanner]
    group: ScanGroup | None = None


async def start(process: Process, config: ScannersConfig) -> Started:
    scanners: list[Scanner] = []
    for scanner_config in config.scanners:
        host = scanner_config.host_id
        bus = await process.connect(f"vigil-scanner-{host}")
        scanner = Scanner(bus, process.engines[host], scanner_config, process.telemetry)
        await scanner.start(commands=not config.group)
        await process.heartbeat(bus, ROLE, host, scanner_details(scanner))
        scanners.append(scanner)
    if not config.group:
        return Started(scanners=scanners)
    group = ScanGroup(
        scanners[0].bus, config.group, scanners, ack_wait=ack_wait_for(config.interval)
    )
    await group.start()
    return Started(scanners=scanners, group=group)
