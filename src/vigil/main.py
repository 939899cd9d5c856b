"""One run of `vigil`: logging and its redactions, the signals, the command, and the exit
status of a fault at start-up.

A tool (vigil.commands, `vigil dashboard`) runs on its own; `vigil` and `vigil <service>` run
the services (vigil.process.runner).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from vigil import options
from vigil.dashboard.bootstrap import DashboardStartupError
from vigil.process.cycles import ApiStartupError
from vigil.process.embedded_nats import EmbeddedNatsError
from vigil.process.host import StartupError
from vigil.process.runner import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run_services
from vigil.process.service_configs import ConfigError, gateway_config
from vigil.process.shutdown import Shutdown
from vigil.process.state_lock import StateDirBusy
from vigil_gateway.service import GatewayStartupError
from vigil_shared.bus import BusError
from vigil_shared.docker_engine import EngineUnavailable
from vigil_shared.logs import Redactor, get_logger, setup_logging

log = get_logger("vigil")


def _log_level(values: Mapping[str, Any]) -> str:
    if values.get("debug") or values.get("trace"):
        return "debug"
    level = str(values.get("log_level") or "info")
    return {"panic": "critical", "fatal": "critical", "warn": "warning", "trace": "debug"}.get(
        level, level
    )


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
    redactor.add(values.get("dashboard_oidc_client_secret"))
    for warning in warnings:
        log.warning(warning)
    shutdown = Shutdown()
    shutdown.install()  # first: a signal at any moment stops what this process started
    try:
        if command == options.CHECK:
            from vigil.commands.check import run_check

            return await run_check(values, redactor, lambda: gateway_config(values, env))
        if command in (options.EVENTS, options.HISTORY):
            from vigil.commands.audit import run_audit

            return await run_audit(command, values)
        if command in (options.STATUS, options.TRIGGER):
            from vigil.commands.fleet import run_fleet

            return await run_fleet(command, values)
        if command == options.DASHBOARD:
            from vigil.dashboard.command import run_dashboard

            return await run_dashboard(values, shutdown)
        if command in (options.ROLLOUT, options.APPROVE):
            from vigil.commands.rollout import run_rollout

            return await run_rollout(command, values)
        if command == options.SKIP:
            from vigil.commands.skip import run_skip

            return await run_skip(values)
        return await run_services(command, values, env, redactor, shutdown)
    except (
        StartupError,
        BusError,
        EngineUnavailable,
        GatewayStartupError,
        EmbeddedNatsError,
        ApiStartupError,
        StateDirBusy,
        ConfigError,
        DashboardStartupError,
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
