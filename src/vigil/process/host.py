"""The host process: what every service of a run takes from it (vigil_shared.process.Process),
opened before the services start and closed after they stop.

It owns the state lock and the embedded NATS (without --nats-url), the engines, the bus
connections, the heartbeats, the closers the services leave, the telemetry and the Prometheus
endpoint (--metrics-port).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from vigil import options
from vigil.process import bus_options, state_lock
from vigil.process.embedded_nats import EmbeddedNats, default_state_dir, start_embedded
from vigil.process.metrics_server import MetricsServer
from vigil.process.shutdown import Shutdown
from vigil_scanner.engines import EngineSpecError, EngineTarget, engine_targets
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.contracts.subjects import check_token
from vigil_shared.docker_engine import connect_engine, default_cert_path, engine_tls
from vigil_shared.health_record import health_path
from vigil_shared.heartbeat import Details, HeartbeatTask
from vigil_shared.logs import Redactor, get_logger
from vigil_shared.process import Process
from vigil_shared.telemetry import Telemetry

log = get_logger("vigil")


class StartupError(RuntimeError):
    pass


@dataclass
class Host:
    process: Process
    # Always built: --metrics-port serves it, and so does the HTTP API's /v1/metrics.
    metrics: MetricsServer
    bus_config: BusConfig  # the embedded NATS's URL in it, when there is one


@contextlib.asynccontextmanager
async def open_host(
    command: str,
    values: Mapping[str, Any],
    env: Mapping[str, str],
    redactor: Redactor,
    shutdown: Shutdown,
    targets: tuple[EngineTarget, ...],
) -> AsyncIterator[Host]:
    embedded: EmbeddedNats | None = None
    # The embedded NATS's store, and every service's health file (vigil --health-check).
    state_dir = Path(values.get("state_dir") or default_state_dir())
    url = values.get("nats_url")
    if not url and command != options.ALL_IN_ONE:
        raise StartupError(f"vigil {command} needs --nats-url (or VIGIL_NATS_URL)")
    bus_config = bus_options.bus_config(values, embedded=not url)  # bad files: named first
    # One Vigil per state dir: a second one would open the same JetStream store.
    lock = await asyncio.to_thread(state_lock.acquire, state_dir, "vigil") if not url else None
    telemetry = Telemetry.from_env("vigil" if command == options.ALL_IN_ONE else command, env)
    buses: list[Bus] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    heartbeats: list[HeartbeatTask] = []
    # Always built: --metrics-port serves it, and so does the HTTP API's /v1/metrics.
    metrics = MetricsServer(
        int(values.get("metrics_port") or 0), str(values.get("metrics_address"))
    )
    engines: dict[str, Any] = {}
    try:

        async def connect_engines() -> None:
            for target in targets:
                engines[target.host_id] = await asyncio.to_thread(
                    _connect_engine, target, values, env
                )

        if not url:
            embedded = EmbeddedNats(state_dir / "nats")
            # Together: the server's start and the engines' first round trips both wait.
            outcomes = await asyncio.gather(
                start_embedded(embedded), connect_engines(), return_exceptions=True
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            bus_config = msgspec.structs.replace(bus_config, url=embedded.url)
            log.info("embedded NATS started", url=embedded.url, state_dir=str(state_dir))
        else:
            await connect_engines()
        if values.get("metrics_port"):
            await _start_metrics(metrics)

        async def connect(name: str) -> Bus:
            bus = await Bus.connect(bus_config, name=name)
            buses.append(bus)
            return bus

        async def heartbeat(
            bus: Bus, role: str, host: str = "", details: Details | None = None
        ) -> None:
            task = HeartbeatTask(
                bus,
                role,
                host,
                details,
                health_file=health_path(state_dir, role, host),
                run_once=bool(values.get("run_once")),
            )
            heartbeats.append(task)
            await task.start()

        process = Process(
            connect, heartbeat, telemetry, redactor, engines, closers, shutdown.on_signal
        )
        yield Host(process, metrics, bus_config)
    finally:
        # Together: each writes a last heartbeat, bounded, and a NATS that is gone must not
        # make the stop wait once per service.
        await asyncio.gather(*(task.stop() for task in heartbeats))
        await metrics.stop()
        for close in closers:
            await close()
        for bus in reversed(buses):
            await bus.close()
        telemetry.shutdown()
        if embedded:
            await asyncio.to_thread(embedded.stop)
        if lock is not None:
            lock.release()
        for client in engines.values():
            with contextlib.suppress(Exception):
                client.close()


def _host_id(values: Mapping[str, Any]) -> str:
    host = str(values.get("host_id") or socket.gethostname().split(".")[0])
    try:
        return check_token("--host-id", host)
    except ValueError as exc:
        raise StartupError(str(exc)) from None


def engine_targets_of(values: Mapping[str, Any]) -> tuple[EngineTarget, ...]:
    """The engines this process serves: the --engine list (a scanner), else one engine under
    --host-id at --docker-host."""
    explicit = [
        f for f, d in (("--host-id", "host_id"), ("--docker-host", "docker_host")) if values.get(d)
    ]
    try:
        targets = engine_targets(
            tuple(values.get("engine") or ()),
            host_id=_host_id(values),
            docker_host=values.get("docker_host") or None,
            explicit=explicit,
        )
    except EngineSpecError as exc:
        raise StartupError(str(exc)) from None
    if len(targets) > 1 and values.get("http_api_update"):
        raise StartupError(
            "--http-api-update updates one host: with several --engine, trigger cycles with "
            "vigil trigger (or run one scanner per engine)"
        )
    return targets


def _connect_engine(target: EngineTarget, values: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    """The engine of `target`, with TLS verified when --tlsverify (DOCKER_TLS_VERIFY) is given
    and the engine is reached over TCP (a unix socket needs none)."""
    url = target.url or env.get("DOCKER_HOST") or None
    tls = None
    if values.get("tlsverify") and url and not url.startswith("unix://"):
        tls = engine_tls(default_cert_path(env))
    return connect_engine(url, tls=tls)


async def _start_metrics(metrics: MetricsServer) -> None:
    try:
        await metrics.start()
    except OSError as exc:
        # The system's words (asyncio's own say "error while attempting to bind ...").
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise StartupError(f"--metrics-port {metrics.port}: cannot listen: {reason}") from None
    log.info("metrics served", url=f"http://{metrics.addr}:{metrics.port}/metrics")
