"""The composition root: build adapters, wire services, run, drain on SIGTERM.

The all-in-one and a fleet run the same services over the same subjects; the only difference
is whether the NATS server is embedded here or reached at --nats-url.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from vigil import bus_options, options, state_lock
from vigil.cycles import ApiStartupError, run_cycles
from vigil.embedded_nats import (
    EmbeddedNats,
    EmbeddedNatsError,
    default_state_dir,
    start_embedded,
)
from vigil.instances import InstanceError, stop_older_instances
from vigil.metrics_server import MetricsServer
from vigil.service_metrics import ExecutorCollector, NotifierCollector, ScannerCollector
from vigil.shutdown import Shutdown
from vigil.state_lock import StateDirBusy
from vigil_coordinator.service import Coordinator
from vigil_coordinator.spec import RolloutPolicy, RolloutSpecError, parse_rollout
from vigil_executor.service import Executor, ExecutorConfig
from vigil_gateway.bootstrap import start as start_gateway
from vigil_gateway.metrics import GatewayCollector
from vigil_gateway.service import Gateway, GatewayConfig, GatewayStartupError
from vigil_notifier.bootstrap import start as start_notifier
from vigil_notifier.config import NotifierConfig, NotifierConfigError
from vigil_notifier.config import prepare as prepare_notifier
from vigil_notifier.legacy import LegacyNotifications
from vigil_notifier.service import Notifier
from vigil_scanner.engines import EngineSpecError, EngineTarget, engine_targets
from vigil_scanner.scan_group import ScanGroup, ack_wait_for
from vigil_scanner.selection import Selection
from vigil_scanner.service import Scanner, ScannerConfig
from vigil_scanner.zones import UnknownZone, zone_from_env
from vigil_shared.bus import Bus, BusError
from vigil_shared.contracts import Report
from vigil_shared.contracts.subjects import check_token
from vigil_shared.docker_engine import (
    EngineUnavailable,
    connect_engine,
    default_cert_path,
    describe,
    engine_tls,
)
from vigil_shared.health_record import health_path
from vigil_shared.heartbeat import Details, HeartbeatTask, executor_details, scanner_details
from vigil_shared.logs import Redactor, get_logger, setup_logging
from vigil_shared.process import Process
from vigil_shared.telemetry import Telemetry

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

log = get_logger("vigil")


class StartupError(RuntimeError):
    pass


def _log_level(values: Mapping[str, Any]) -> str:
    if values.get("debug") or values.get("trace"):
        return "debug"
    level = str(values.get("log_level") or "info")
    return {"panic": "critical", "fatal": "critical", "warn": "warning", "trace": "debug"}.get(
        level, level
    )


def _host_id(values: Mapping[str, Any]) -> str:
    host = str(values.get("host_id") or socket.gethostname().split(".")[0])
    try:
        return check_token("--host-id", host)
    except ValueError as exc:
        raise StartupError(str(exc)) from None


def _engine_targets(values: Mapping[str, Any]) -> tuple[EngineTarget, ...]:
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


async def run(
    command: str, values: dict[str, Any], warnings: list[str], env: Mapping[str, str]
) -> int:
    redactor = Redactor()
    fmt = "json" if values.get("log_format") == "json" else "text"
    setup_logging(_log_level(values), fmt, redactor)
    # The NATS password, given by option or inside the URL, is masked in every log line.
    redactor.add(values.get("nats_password"))
    for url in str(values.get("nats_url") or "").split(","):  # each server of a cluster
        redactor.add(urlsplit(url.strip()).password)
    redactor.add(values.get("dashboard_token"))
    for warning in warnings:
        log.warning(warning)
    shutdown = Shutdown()
    shutdown.install()  # first: a signal at any moment stops what this process started
    try:
        if command == options.CHECK:
            from vigil.check import run_check

            return await run_check(values, redactor, lambda: _gateway_config(values, env))
        if command in (options.EVENTS, options.HISTORY):
            from vigil.audit_commands import run_audit

            return await run_audit(command, values)
        if command in (options.STATUS, options.TRIGGER):
            from vigil.fleet_commands import run_fleet

            return await run_fleet(command, values)
        if command == options.DASHBOARD:
            from vigil.dashboard.command import run_dashboard

            return await run_dashboard(values, shutdown)
        if command in (options.ROLLOUT, options.APPROVE):
            from vigil.rollout_commands import run_rollout

            return await run_rollout(command, values)
        if command == options.SKIP:
            from vigil.skip_command import run_skip

            return await run_skip(values)
        return await _run(command, values, env, redactor, shutdown)
    except (
        StartupError,
        BusError,
        EngineUnavailable,
        GatewayStartupError,
        EmbeddedNatsError,
        ApiStartupError,
        StateDirBusy,
    ) as exc:
        log.error("cannot start", error=str(exc))
        print(f"vigil: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except asyncio.CancelledError:
        if shutdown.signum is None:
            raise
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        if command == options.ALL_IN_ONE and values.get("run_once"):
            print(f"vigil: stopped by {shutdown.name} before the cycle finished", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK
    finally:
        shutdown.uninstall()


async def _run(
    command: str,
    values: dict[str, Any],
    env: Mapping[str, str],
    redactor: Redactor,
    shutdown: Shutdown,
) -> int:
    notifier_config = _notifier_config(values)
    policy = _rollout_policy(values, command)  # a bad --rollout: a usage error, first
    if command in (options.ALL_IN_ONE, options.NOTIFIER):
        try:
            prepare_notifier(notifier_config)  # a bad URL or template: a usage error, first
        except NotifierConfigError as exc:
            raise StartupError(str(exc)) from None
    if command in (options.ALL_IN_ONE, options.GATEWAY) and values.get("registry_ca_validate"):
        # A bad --registry-ca is the fault to name first, before NATS or the engine.
        Gateway.ca_bundle(_gateway_config(values, env))
    if command in (options.ALL_IN_ONE, options.GATEWAY):
        Gateway.trust_policy(_gateway_config(values, env))  # a bad --verify-*: first too
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
    stop = asyncio.Event()
    engines: dict[str, Any] = {}
    executor: Executor | None = None
    try:
        wanted: tuple[str, ...] = options.SERVICES if command == options.ALL_IN_ONE else (command,)
        if command == options.ALL_IN_ONE and policy is None:
            wanted = tuple(s for s in wanted if s != options.COORDINATOR)
        targets = (
            _engine_targets(values) if {options.SCANNER, options.EXECUTOR} & set(wanted) else ()
        )
        host = targets[0].host_id if targets else ""

        async def connect_engines() -> None:
            for target in targets:
                engines[target.host_id] = await asyncio.to_thread(
                    _connect_engine, target, values, env
                )

        if not url:
            embedded = EmbeddedNats(state_dir / "nats")
            # Together: the server's start and the engines' first round trips both wait.
            started = await asyncio.gather(
                start_embedded(embedded), connect_engines(), return_exceptions=True
            )
            for outcome in started:
                if isinstance(outcome, BaseException):
                    raise outcome
            bus_config = msgspec.structs.replace(bus_config, url=embedded.url)
            log.info("embedded NATS started", url=embedded.url, state_dir=str(state_dir))
        else:
            await connect_engines()
        if values.get("metrics_port"):
            _start_metrics(metrics)

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

        process = Process(connect, heartbeat, telemetry, redactor, engines, closers)
        engine = engines.get(host)
        if command == options.ALL_IN_ONE and not values.get("run_once"):
            await _stop_older_instances(engine, values)
        first = await connect(f"vigil-{wanted[0]}")
        await first.ensure_streams()

        scanners: list[Scanner] = []
        group: ScanGroup | None = None
        notifier: Notifier | None = None
        if options.GATEWAY in wanted:
            gateway = await start_gateway(process, _gateway_config(values, env))
            metrics.add(GatewayCollector(gateway))
        if options.EXECUTOR in wanted:
            executor_bus = await connect(f"vigil-executor-{host}")
            executor = Executor(
                executor_bus,
                engines[host],
                ExecutorConfig(
                    host_id=host,
                    cleanup=bool(values.get("cleanup")),
                    stop_timeout=int(values.get("stop_timeout") or 10),
                    health_timeout=float(values.get("health_timeout") or 60),
                    lifecycle_hooks=bool(values.get("enable_lifecycle_hooks")),
                    rolling_restart=bool(values.get("rolling_restart")),
                    monitor_only=bool(values.get("monitor_only")),
                    no_restart=bool(values.get("no_restart")),
                    no_pull=bool(values.get("no_pull")),
                    revive_stopped=bool(values.get("revive_stopped")),
                    remove_volumes=bool(values.get("remove_volumes")),
                    label_take_precedence=bool(values.get("label_take_precedence")),
                    plan_ack_wait=float(values.get("plan_ack_wait") or 30),
                    engine_url=describe(targets[0].url),
                ),
                telemetry,
            )
            loop = asyncio.get_running_loop()
            # A hook must not outlive a Vigil asked to stop: killed at the signal, at once.
            shutdown.on_signal(
                lambda: loop.run_in_executor(None, executor.hooks.stop, executor.engine.api)
            )
            closers.append(lambda: asyncio.to_thread(_stop_hooks, executor))
            await executor.start()
            await heartbeat(executor_bus, options.EXECUTOR, host, executor_details(executor))
            metrics.add(ExecutorCollector(executor))
        if options.NOTIFIER in wanted:
            notifier = await start_notifier(process, notifier_config)
            metrics.add(NotifierCollector(notifier))
        if options.COORDINATOR in wanted:
            coordinator_bus = await connect("vigil-rollout-coordinator")
            coordinator = Coordinator(coordinator_bus, policy or RolloutPolicy())
            closers.append(coordinator.close)
            await coordinator.start()
            await heartbeat(coordinator_bus, options.COORDINATOR)
        if options.SCANNER in wanted:
            scanners, group = await _start_scanners(
                values, targets, engines, connect, heartbeat, telemetry, _window_zone(env)
            )
            metrics.add(ScannerCollector(*scanners))

        if values.get("run_once") and scanners:
            shutdown.graceful(stop)  # a signal now lets the update in flight finish
            return await _run_once(
                scanners[0], first, host, notifier, shutdown, stop, _drainer(executor, shutdown)
            )
        if values.get("dashboard_port") is not None:
            from vigil.dashboard.command import dashboard_config, serve_problem, start_dashboard

            try:
                dashboard = await start_dashboard(await connect("vigil-dashboard"), values)
            except OSError as exc:  # the port is taken, the address is not this machine's
                raise StartupError(serve_problem(exc, dashboard_config(values))) from None
            closers.append(dashboard.close)

        shutdown.graceful(stop)
        if scanners:
            log.info("services started", services=",".join(wanted), nats=bus_config.url)
            await run_cycles(values, env, scanners, metrics.registry, stop, redactor, group=group)
        else:
            log.info("vigil is running", services=",".join(wanted))
            await stop.wait()
        # A cycle in flight publishes its plan before the services close (Scanner.drain).
        await asyncio.gather(*(s.drain() for s in scanners))
        await _drainer(executor, shutdown)()
        log.info("stopping: draining the bus")
        return EXIT_OK
    finally:
        # Together: each writes a last heartbeat, bounded, and a NATS that is gone must not
        # make the stop wait once per service.
        await asyncio.gather(*(task.stop() for task in heartbeats))
        metrics.stop()
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


async def _stop_older_instances(engine: Any, values: Mapping[str, Any]) -> None:
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


def _rollout_policy(values: Mapping[str, Any], command: str) -> RolloutPolicy | None:
    """The rollout-coordinator's policy; None when no rollout control is asked for (the
    all-in-one then runs no coordinator, and every host updates at once, as without it)."""
    spec, approve = values.get("rollout"), bool(values.get("approve"))
    if not spec and not approve and command != options.COORDINATOR:
        return None
    try:
        return parse_rollout(
            str(spec or "on"),
            canary_hosts=tuple(values.get("canary_host") or ()),
            approve=approve,
        )
    except RolloutSpecError as exc:
        raise StartupError(f"--rollout: {exc}") from None


def _drainer(executor: Executor | None, shutdown: Shutdown) -> Callable[[], Awaitable[None]]:
    """What a graceful stop waits for before the services close: the executor's update in
    flight finished (or put back) and its report published (Executor.drain)."""

    async def drain() -> None:
        if executor is not None:
            await executor.drain(f"vigil stopped by {shutdown.name or 'a signal'}")

    return drain


def _stop_hooks(executor: Executor) -> None:
    killed = executor.hooks.stop(executor.engine.api)
    if killed:
        log.warning("lifecycle hooks killed: vigil is stopping", count=killed)


async def _start_scanners(
    values: Mapping[str, Any],
    targets: tuple[EngineTarget, ...],
    engines: Mapping[str, Any],
    connect: Callable[[str], Awaitable[Bus]],
    heartbeat: Callable[..., Awaitable[None]],
    telemetry: Telemetry,
    zone: tzinfo,
) -> tuple[list[Scanner], ScanGroup | None]:
    """A scanner per engine, each on its own connection and heartbeat; with --scanner-group
    they take their cycles from the group's work queue instead of vigil.cmd.scan."""
    group_name = str(values.get("scanner_group") or "")
    scanners: list[Scanner] = []
    for target in targets:
        bus = await connect(f"vigil-scanner-{target.host_id}")
        scanner = Scanner(
            bus,
            engines[target.host_id],
            ScannerConfig(
                host_id=target.host_id,
                selection=_selection(values),
                no_pull=bool(values.get("no_pull")),
                label_take_precedence=bool(values.get("label_take_precedence")),
                engine_url=describe(target.url),
                check_timeout=float(values.get("gateway_timeout") or 30),
                policy=options.policy_defaults(values),
                zone=zone,
                rollout_gate=bool(values.get("rollout") or values.get("approve")),
            ),
            telemetry,
        )
        await scanner.start(commands=not group_name)
        await heartbeat(bus, options.SCANNER, target.host_id, scanner_details(scanner))
        scanners.append(scanner)
    if not group_name:
        return scanners, None
    interval = float(values.get("interval") or 86400)
    group = ScanGroup(scanners[0].bus, group_name, scanners, ack_wait=ack_wait_for(interval))
    await group.start()
    return scanners, group


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


def _notifier_config(values: Mapping[str, Any]) -> NotifierConfig:
    return NotifierConfig(
        urls=tuple(values.get("notification_url") or ()),
        level=str(values.get("notifications_level") or "info"),
        report=bool(values.get("notification_report")),
        per_container=bool(values.get("notification_per_container")),
        template=str(values.get("notification_template") or ""),
        title_tag=str(values.get("notification_title_tag") or ""),
        skip_title=bool(values.get("notification_skip_title")),
        hostname=str(values.get("notifications_hostname") or ""),
        delay_s=float(values.get("notifications_delay") or 0),
        startup_message=not values.get("no_startup_message"),
        log_stdout=bool(values.get("notification_log_stdout")),
        fleet_summary=bool(values.get("notification_fleet_summary")),
        fleet_hosts=tuple(values.get("notification_fleet_hosts") or ()),
        report_format=str(values.get("notification_report_format") or "watchtower"),
        porcelain=str(values.get("porcelain") or ""),
        legacy=_legacy_notifications(values),
        rollouts=bool(values.get("rollout") or values.get("approve")),
    )


def _legacy_notifications(values: Mapping[str, Any]) -> LegacyNotifications:
    """--notifications TYPE and its --notification-TYPE-* options, as given."""

    def text(name: str, default: str = "") -> str:
        return str(values.get(name) or default)

    return LegacyNotifications(
        types=tuple(values.get("notifications") or ()),
        email_from=text("notification_email_from"),
        email_to=text("notification_email_to"),
        email_server=text("notification_email_server"),
        email_server_port=int(_given(values.get("notification_email_server_port"), 25)),
        email_server_user=text("notification_email_server_user"),
        email_server_password=text("notification_email_server_password"),
        email_server_tls_skip_verify=bool(values.get("notification_email_server_tls_skip_verify")),
        email_delay=int(values.get("notification_email_delay") or 0),
        email_subjecttag=text("notification_email_subjecttag"),
        slack_hook_url=text("notification_slack_hook_url"),
        slack_identifier=text("notification_slack_identifier", "watchtower"),
        slack_channel=text("notification_slack_channel"),
        slack_icon_emoji=text("notification_slack_icon_emoji"),
        slack_icon_url=text("notification_slack_icon_url"),
        msteams_hook=text("notification_msteams_hook"),
        msteams_data=bool(values.get("notification_msteams_data")),
        gotify_url=text("notification_gotify_url"),
        gotify_token=text("notification_gotify_token"),
        gotify_tls_skip_verify=bool(values.get("notification_gotify_tls_skip_verify")),
    )


def _start_metrics(metrics: MetricsServer) -> None:
    try:
        metrics.start()
    except OSError as exc:
        raise StartupError(
            f"--metrics-port {metrics.port}: cannot listen: {exc.strerror}"
        ) from None
    log.info("metrics served", url=f"http://{metrics.addr}:{metrics.port}/metrics")


def _selection(values: Mapping[str, Any]) -> Selection:
    return Selection(
        names=tuple(values.get("names") or ()),
        label_enable=bool(values.get("label_enable")),
        disabled=tuple(values.get("disable_containers") or ()),
        scope=str(values.get("scope") or ""),
        include_stopped=bool(values.get("include_stopped")),
        include_restarting=bool(values.get("include_restarting")),
    )


def _window_zone(env: Mapping[str, str]) -> tzinfo:
    """Where maintenance windows are read: TZ. An unknown TZ with --window stopped the start
    already (exit 2); for windows given only by labels it means UTC, and the log says so."""
    try:
        return zone_from_env(env)
    except UnknownZone as exc:
        log.warning("maintenance windows are read in UTC", error=str(exc))
        return UTC


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


def _gateway_config(values: Mapping[str, Any], env: Mapping[str, str]) -> GatewayConfig:
    return GatewayConfig(
        registry_ca=values.get("registry_ca") or None,
        insecure_registries=tuple(values.get("insecure_registry") or ()),
        # 0 is a real choice (no reuse), not a missing value.
        digest_cache_ttl=float(_given(values.get("digest_cache_ttl"), 600.0)),
        repo_user=env.get("REPO_USER") or None,
        repo_pass=env.get("REPO_PASS") or None,
        docker_config_env=env.get("DOCKER_CONFIG") or None,
        home=env.get("HOME") or None,
        registry_ca_validate=bool(values.get("registry_ca_validate")),
        warn_on_head_failure=str(values.get("warn_on_head_failure") or "auto"),
        verify=bool(values.get("verify")),
        verify_keys=tuple(values.get("verify_key") or ()),
        verify_policy=values.get("verify_policy") or None,
        verify_trust_root=values.get("verify_trust_root") or None,
    )
