"""The composition of `vigil` and `vigil <service>`: the services' configs from the options,
the host process (vigil.process.host), each service's composition root in turn (ROOTS), then
the cycles or the wait for a signal, and the drain.

The all-in-one and a fleet run the same services over the same subjects; the only difference
is whether the NATS server is embedded here or reached at --nats-url.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, NamedTuple

from vigil import options
from vigil.dashboard.bootstrap import start as start_dashboard
from vigil.process.cycles import run_cycles
from vigil.process.host import StartupError, engine_targets_of, open_host
from vigil.process.instances import InstanceError, stop_older_instances
from vigil.process.service_configs import Configs, configs
from vigil.process.service_metrics import ExecutorCollector, NotifierCollector, ScannerCollector
from vigil.process.shutdown import Shutdown
from vigil_coordinator.bootstrap import start as start_coordinator
from vigil_executor.bootstrap import start as start_executor
from vigil_executor.service import Executor
from vigil_gateway.bootstrap import start as start_gateway
from vigil_gateway.metrics import GatewayCollector
from vigil_gateway.service import Gateway
from vigil_notifier.bootstrap import start as start_notifier
from vigil_notifier.config import NotifierConfigError
from vigil_notifier.config import prepare as prepare_notifier
from vigil_notifier.service import Notifier
from vigil_scanner.bootstrap import Started as ScannersStarted
from vigil_scanner.bootstrap import start as start_scanners
from vigil_scanner.engines import EngineTarget
from vigil_scanner.service import Scanner
from vigil_scanner.zones import UnknownZone, zone_from_env
from vigil_shared.bus import Bus
from vigil_shared.contracts import Report
from vigil_shared.engine_port import Engine
from vigil_shared.logs import Redactor, get_logger
from vigil_shared.process import Process

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

log = get_logger("vigil")


class Root(NamedTuple):
    """How the runner starts a service: its composition root, its config among the run's,
    and the Prometheus collector of what the root started."""

    start: Callable[[Process, Any], Awaitable[Any]]
    config: Callable[[Configs], Any]
    collector: Callable[[Any], Any] | None = None


# In start order: the scanners last, once what answers them runs.
ROOTS: dict[str, Root] = {
    options.GATEWAY: Root(start_gateway, lambda c: c.gateway, GatewayCollector),
    options.EXECUTOR: Root(start_executor, lambda c: c.executor, ExecutorCollector),
    options.NOTIFIER: Root(start_notifier, lambda c: c.notifier, NotifierCollector),
    options.COORDINATOR: Root(start_coordinator, lambda c: c.coordinator),
    options.SCANNER: Root(
        start_scanners, lambda c: c.scanners, lambda s: ScannerCollector(*s.scanners)
    ),
}


async def run_services(
    command: str,
    values: dict[str, Any],
    env: Mapping[str, str],
    redactor: Redactor,
    shutdown: Shutdown,
) -> int:
    wanted, targets, config = _configs(command, values, env)
    async with open_host(command, values, env, redactor, shutdown, targets) as host:
        process, metrics, stop = host.process, host.metrics, asyncio.Event()
        host_id = targets[0].host_id if targets else ""
        if command == options.ALL_IN_ONE and not values.get("run_once"):
            await _stop_older_instances(process.engines[host_id], values)
        first = await process.connect(f"vigil-{wanted[0]}")
        await first.ensure_streams()
        started: dict[str, Any] = {}
        for name, root in ROOTS.items():
            if name in wanted:
                started[name] = await root.start(process, root.config(config))
                if name == options.EXECUTOR:
                    # A plan may be in flight from now on (delivered the moment the executor
                    # consumes, while the rest still starts; its root ends with that, so no
                    # await lies between): a first signal lets it finish (Executor.drain)
                    # instead of cancelling it mid-update; a second one cancels, as always.
                    shutdown.graceful(stop)
                if root.collector is not None:
                    metrics.add(root.collector(started[name]))
        executor: Executor | None = started.get(options.EXECUTOR)
        scanning: ScannersStarted | None = started.get(options.SCANNER)
        scanners = scanning.scanners if scanning is not None else ()

        if values.get("run_once") and scanners:
            shutdown.graceful(stop)  # a signal now lets the update in flight finish
            notifier: Notifier | None = started.get(options.NOTIFIER)
            return await _run_once(
                scanners[0], first, host_id, notifier, shutdown, stop, _drainer(executor, shutdown)
            )
        if config.dashboard is not None:
            await start_dashboard(process, config.dashboard)

        shutdown.graceful(stop)
        if scanning is not None and scanners:
            log.info("services started", services=",".join(wanted), nats=host.bus_config.url)
            await run_cycles(
                values, env, scanners, metrics.registry, stop, redactor, group=scanning.group
            )
        else:
            log.info("vigil is running", services=",".join(wanted))
            await stop.wait()
        # A cycle in flight publishes its plan before the services close (Scanner.drain).
        await asyncio.gather(*(s.drain() for s in scanners))
        await _drainer(executor, shutdown)()
        log.info("stopping: draining the bus")
        return EXIT_OK


def _configs(
    command: str, values: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[EngineTarget, ...], Configs]:
    """The services this command starts, the engines they serve and their configs; a bad
    option among them is a usage error, before NATS or an engine is reached."""
    wanted: tuple[str, ...] = options.SERVICES if command == options.ALL_IN_ONE else (command,)
    targets = engine_targets_of(values) if {options.SCANNER, options.EXECUTOR} & set(wanted) else ()
    config = configs(command, wanted, values, env, targets, lambda: _window_zone(env))
    if config.coordinator is None:  # the all-in-one without --rollout/--approve
        wanted = tuple(s for s in wanted if s != options.COORDINATOR)
    if options.NOTIFIER in wanted:
        try:
            prepare_notifier(config.notifier)  # a bad URL or template: a usage error, first
        except NotifierConfigError as exc:
            raise StartupError(str(exc)) from None
    if options.GATEWAY in wanted:
        if values.get("registry_ca_validate"):
            # A bad --registry-ca is the fault to name first, before NATS or the engine.
            Gateway.ca_bundle(config.gateway)
        Gateway.trust_policy(config.gateway)  # a bad --verify-*: first too
    return wanted, targets, config


async def _stop_older_instances(engine: Engine, values: Mapping[str, Any]) -> None:
    """The newest Vigil of a scope on an engine stops the older ones (watchtower's start-up
    check; docs/options.md, --scope)."""
    try:
        await asyncio.to_thread(
            stop_older_instances,
            engine,
            str(values.get("scope") or ""),
            cleanup=bool(values.get("cleanup")),
            remove_volumes=bool(values.get("remove_volumes")),
            include_stopped=bool(values.get("include_stopped")),
            include_restarting=bool(values.get("include_restarting")),
        )
    except InstanceError as exc:
        raise StartupError(str(exc)) from None


def _drainer(executor: Executor | None, shutdown: Shutdown) -> Callable[[], Awaitable[None]]:
    """What a graceful stop waits for before the services close: the executor's update in
    flight finished (or put back) and its report published (Executor.drain)."""

    async def drain() -> None:
        if executor is not None:
            await executor.drain(f"vigil stopped by {shutdown.name or 'a signal'}")

    return drain


async def _run_once(
    scanner: Scanner,
    bus: Bus,
    host: str,
    notifier: Notifier | None,
    shutdown: Shutdown,
    stop: asyncio.Event,
    drain: Callable[[], Awaitable[None]],
) -> int:
    """One cycle: wait for this host's report for our scan, then exit by its outcome. A
    signal (`stop`) meanwhile: a scan is cancelled (it changed nothing); an update lets the
    container in flight finish, and the report says what was left for the next cycle."""
    scan_id = uuid.uuid4().hex
    done: asyncio.Future[Report] = asyncio.get_running_loop().create_future()

    async def on_report(report: Report, headers: dict[str, str]) -> None:
        if report.scan_id == scan_id and not done.done():
            done.set_result(report)

    await bus.subscribe(bus.subjects.report(host), Report, on_report)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        # explicit cycle key: see a fresh push
        scan = asyncio.ensure_future(scanner.scan(scan_id=scan_id, cycle_key=scan_id))
        await asyncio.wait((scan, stopped), return_when=asyncio.FIRST_COMPLETED)
        if not scan.done():
            scan.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scan
            await drain()  # the plan, if it was published, leaves every container
            return _stopped_before_the_end(shutdown)
        if scan.result() is None:
            return EXIT_FAILED
        await asyncio.wait((done, stopped), return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            await drain()
            # Published before the drain ended, when our plan was the one in flight.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(done), 2)
    finally:
        stopped.cancel()
    if not done.done():
        return _stopped_before_the_end(shutdown)
    report = done.result()
    if notifier is not None and not await notifier.delivered(
        scan_id, timeout=notifier.delivery_timeout_s
    ):
        log.warning("the notifier did not deliver the report in time", scan_id=scan_id)
    log.info("cycle finished", host=host, scan_id=scan_id, failed=report.failed, rss_mb=_rss_mb())
    if stop.is_set() and report.failed:  # the report says what the stop left
        return _stopped_before_the_end(shutdown)
    return EXIT_FAILED if report.failed else EXIT_OK


def _stopped_before_the_end(shutdown: Shutdown) -> int:
    """A --run-once stopped by a signal before its cycle finished: exit status 1."""
    print(f"vigil: stopped by {shutdown.name} before the cycle finished", file=sys.stderr)
    return EXIT_FAILED


def _rss_mb() -> float:
    """Resident memory of this process now (Linux), for the memory target of bench/."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _window_zone(env: Mapping[str, str]) -> tzinfo:
    """Where maintenance windows are read: TZ. An unknown TZ with --window stopped the start
    already (exit 2); for windows given only by labels it means UTC, and the log says so."""
    try:
        return zone_from_env(env)
    except UnknownZone as exc:
        log.warning("maintenance windows are read in UTC", error=str(exc))
        return UTC
