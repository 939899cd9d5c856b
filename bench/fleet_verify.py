"""fleet-cycle and fleet-large with signature verification on, side by side with it off in
one run (`python -m bench --only fleet-cycle --verify`; docs/performance.md, docs/trust.md).

The fleet of bench/fleet_cycle.py, but every image has a newer build in the registry, signed
by the fleet key (cosign's tag layout, written into the real registry), and every container
is monitor-only (the simulated engines cannot pull): each cycle finds every build newer, and
the verification side checks each build's signature before answering `stale`. Two sides over
the same NATS and registry, each its own gateway, alternating in each round: verification
off, and `--verify-key`. Printed per round and as medians: the wall time of the fleet cycle,
the manifest requests (the digest checks), and the signature requests (the `.sig` manifest
and its payload blob, and the referrers lookups). The verdicts are kept by digest for the
whole fleet: the first round pays one lookup per new build, later rounds none.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.fleet_cycle import _fleet, _round, _start_fleet
from tests.support import cosign_signing
from tests.support.oci import push_tiny_image
from tests.support.registry_fixtures import RegistryServer
from vigil.process.embedded_nats import EmbeddedNats
from vigil_gateway.service import GatewayConfig
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.engine_kind import EngineIdentity, remember_identity
from vigil_shared.labels import MONITOR_ONLY


class _Refusals(logging.Handler):
    """The gateway's refusals and the scanners' failed checks by reason, instead of one
    warning line per host and image."""

    def __init__(self) -> None:
        super().__init__()
        self.reasons: collections.Counter[str] = collections.Counter()
        self.answers: list[float] = []  # the gateway's seconds per check request
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", {})
        if record.getMessage().startswith("new build refused"):
            self.reasons[str(fields.get("error", ""))[:90]] += 1
        elif record.getMessage() == "digest check failed":  # the scanner's: not comparable
            self.reasons[f"(hosts) check failed: {str(fields.get('error', ''))[:70]}"] += 1
        elif record.getMessage() == "scan failed":  # a host's cycle ended before any check
            self.reasons[f"(hosts) scan failed: {str(fields.get('error', ''))[:70]}"] += 1
        elif record.getMessage().startswith("no answer from the registry gateway"):
            self.retries += 1  # the scanner's request timed out: it asks again
        elif record.getMessage() == "checked images":  # the gateway's, once per request
            self.answers.append(float(fields.get("seconds", 0.0)))

    def clear(self) -> None:
        self.reasons.clear()
        self.answers.clear()
        self.retries = 0


class _LoopLag:
    """How late the bench process's event loop wakes a 0.1 s sleep: every service of the
    fleet (the gateway, a scanner and an executor per host) shares this one loop, so a lag
    of seconds is seconds added to every answer the gateway gives."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _probe(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(0.1)
            self.lags.append(time.monotonic() - started - 0.1)

    def start(self) -> None:
        self._task = asyncio.create_task(self._probe())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _is_signature(path: str) -> bool:
    return "/sha256-" in path or "/referrers/" in path or "/blobs/" in path


async def _run(rounds: int, hosts_n: int, per_host: int, images_n: int) -> None:
    registry = RegistryServer()
    registry.start()
    buses: list[Bus] = []
    key = cosign_signing.new_key()
    refusals = _Refusals()
    logs = [logging.getLogger(name) for name in ("vigil.gateway", "vigil.scanner")]
    levels = [log.level for log in logs]
    for log in logs:
        log.addHandler(refusals)
        log.propagate = False
    logs[0].setLevel(logging.INFO)  # the gateway's "checked images", one a request
    with tempfile.TemporaryDirectory(prefix="vigil-bench-verify-") as tmp:
        nats = EmbeddedNats(Path(tmp) / "nats")
        nats.start()
        try:
            with httpx.Client() as http:
                for i in range(images_n):
                    repo = f"fleet/app{i}"
                    digest = push_tiny_image(http, registry.url, repo, "latest", f"v{i}")["digest"]
                    ref = f"{registry.host}/{repo}"
                    cosign_signing.sign(http, registry.url, repo, digest, key, reference=ref)
            public = cosign_signing.write_public_key(key, Path(tmp) / "fleet.pub")

            async def connect(name: str, prefix: str) -> Bus:
                bus = await Bus.connect(BusConfig(url=nats.url, prefix=prefix), name=name)
                buses.append(bus)
                return bus

            # What the hosts run: an older build of each image, so every build is newer.
            older = [f"sha256:{i + 1:064x}" for i in range(images_n)]
            engines = _fleet(registry.host, older, hosts_n, per_host)
            for engine in engines:
                # The scanner asks an engine's kind (`/version`) once per client; the
                # simulated engines have no `version()`: what that answer would tell.
                remember_identity(engine.api, EngineIdentity(kind="docker", api_version="1.41"))
                for container in engine._containers.values():
                    container["Config"]["Labels"][MONITOR_ONLY] = "true"
            hosts = [e.host for e in engines]
            sides = {
                "verification off": await _start_fleet(connect, "voff", engines, tmp, replicas=0),
                "--verify-key": await _start_fleet(
                    connect,
                    "von",
                    engines,
                    tmp,
                    replicas=0,
                    gateway_config=GatewayConfig(home=tmp, verify_keys=(str(public),)),
                ),
            }
            print(
                f"fleet cycle with signatures: {hosts_n} hosts x {per_host} containers on "
                f"{images_n} images, every image a newer signed build (monitor-only), one "
                "gateway per side, one NATS (the engines simulated); the sides alternate"
            )
            rows: dict[str, list[tuple[float, int, int]]] = {side: [] for side in sides}
            lag = _LoopLag()
            lag.start()
            for n in range(rounds):
                for side, control in sides.items():
                    before = len(registry.requests())
                    lag.lags.clear()
                    refusals.clear()
                    cpu = time.process_time()
                    wall = await _round(
                        control, hosts, timeout=max(120.0, hosts_n * per_host / 100)
                    )
                    cpu = time.process_time() - cpu
                    asked = registry.requests()[before:]
                    signatures = sum(1 for _, path, _ in asked if _is_signature(path))
                    manifests = sum(
                        1
                        for _, path, _ in asked
                        if "/manifests/" in path and not _is_signature(path)
                    )
                    rows[side].append((wall, manifests, signatures))
                    print(
                        f"  round {n + 1}, {side}: {wall:5.2f} s, {manifests} manifest "
                        f"requests, {signatures} signature requests"
                    )
                    answers = refusals.answers or [0.0]
                    print(
                        f"    the bench process: {cpu:.1f} s CPU in {wall:.1f} s; its event "
                        f"loop woke a 0.1 s sleep {statistics.median(lag.lags or [0.0]):.2f} s "
                        f"late (median), {max(lag.lags or [0.0]):.2f} s (max); the gateway "
                        f"answered {len(refusals.answers)} check requests in "
                        f"{statistics.median(answers):.2f} s (median), {max(answers):.2f} s "
                        f"(max); {refusals.retries} unanswered in the scanners' "
                        "check timeout (asked again)"
                    )
                    for reason, count in refusals.reasons.most_common(3):
                        print(f"    refused {count} host-images: {reason}")
                if n + 1 < rounds:  # past the gateways' answer cache: each round asks anew
                    await asyncio.sleep(31)
            await lag.stop()
            for side, figures in rows.items():
                print(
                    f"median over {rounds} rounds, {side}: a full fleet cycle in "
                    f"{statistics.median(w for w, _, _ in figures):.2f} s, "
                    f"{statistics.median(m for _, m, _ in figures):g} manifest requests, "
                    "signature requests by round "
                    f"{', '.join(str(s) for _, _, s in figures)} for {images_n} new builds "
                    f"({hosts_n * per_host} containers)"
                )
        finally:
            for log, level in zip(logs, levels, strict=True):
                log.removeHandler(refusals)
                log.propagate = True
                log.setLevel(level)
            for bus in reversed(buses):
                await bus.close()
            nats.stop()
            registry.stop()


def run_fleet_verify(*, rounds: int, hosts: int, per_host: int, images: int) -> None:
    asyncio.run(_run(rounds, hosts, per_host, images))
