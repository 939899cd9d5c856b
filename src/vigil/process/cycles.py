"""When the scanner of `vigil` and `vigil scanner` runs cycles: every --interval, on a
--schedule, or when the HTTP API asks (--http-api-update); and /v1/metrics beside it.

Wiring only: the schedule, the trigger queue and the HTTP server live in vigil_scanner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from vigil import options
from vigil_scanner.container_api import http_container_commands
from vigil_scanner.cron import parse_cron
from vigil_scanner.http_api import HttpApi, MetricsText
from vigil_scanner.rollout_gate import http_approver
from vigil_scanner.scan_group import ScanGroup
from vigil_scanner.service import Scanner
from vigil_scanner.ticks import LocalCycles, Ticker, run_on_interval, run_on_schedule
from vigil_scanner.trigger import UpdateTrigger
from vigil_scanner.zones import zone_from_env
from vigil_shared.logs import Redactor, get_logger

log = get_logger("vigil")

REPORT_TIMEOUT_S = 600.0  # how long /v1/update waits for the executor's report


class ApiStartupError(RuntimeError):
    pass


def _metrics_text(registry: CollectorRegistry) -> MetricsText:
    return lambda: (generate_latest(registry), CONTENT_TYPE_LATEST)


async def run_cycles(
    values: Mapping[str, Any],
    env: Mapping[str, str],
    scanners: Sequence[Scanner],
    registry: CollectorRegistry,
    stop: asyncio.Event,
    redactor: Redactor,
    *,
    group: ScanGroup | None = None,
) -> None:
    """Serve the HTTP API if asked (one host only), and run periodic cycles of `scanners`
    (through `group` when they are replicas of a scanner group) until `stop` is set."""
    update = bool(values.get("http_api_update"))
    trigger: UpdateTrigger | None = None
    api: HttpApi | None = None
    local = LocalCycles(scanners)
    ticker: Ticker = group if group is not None else local
    try:
        if update or values.get("http_api_metrics"):
            if update:
                trigger = UpdateTrigger(scanners[0], report_timeout=REPORT_TIMEOUT_S)
                await trigger.start()
            # Already the file's content when it named one (options.secret_from_file).
            token = str(values.get("http_api_token") or "")
            redactor.add(token)  # never in a log line, whatever carries it there
            api = HttpApi(
                token=token,
                trigger=trigger.request if trigger is not None else None,
                metrics=_metrics_text(registry) if values.get("http_api_metrics") else None,
                port=int(values.get("http_api_port") or 8080),
                address=str(values.get("http_api_address") or "0.0.0.0"),
                report_timeout=REPORT_TIMEOUT_S,
                # POST /v1/rollouts/{id}/approve, beside /v1/update, under rollout control.
                approve=http_approver(scanners[0].bus)
                if update and (values.get("rollout") or values.get("approve"))
                else None,
                # POST /v1/containers/{name}/update|check|skip|unskip, beside /v1/update.
                container=http_container_commands(
                    scanners[0].bus, scanners[0].config.host_id, _duration
                )
                if update
                else None,
            )
            try:
                await api.start()
            except OSError as exc:
                where = f"--http-api-port {api.port}: cannot listen on {api.address}"
                raise ApiStartupError(f"{where}: {exc.strerror or exc}") from None
            paths = [p for p, on in (("/v1/update", update), ("/v1/metrics", api.metrics)) if on]
            log.info("HTTP API served", address=api.address, port=api.port, paths=",".join(paths))
        host = ticker.label
        if update and not values.get("http_api_periodic_polls"):
            log.info("vigil is running; cycles run when /v1/update is called", host=host)
            await stop.wait()
        elif values.get("schedule"):
            log.info("vigil is running", host=host, schedule=values["schedule"])
            schedule = parse_cron(str(values["schedule"]))
            await run_on_schedule(ticker, schedule, stop, zone=zone_from_env(env))
        else:
            interval = float(values.get("interval") or 86400)
            log.info("vigil is running", host=host, interval_s=interval)
            await run_on_interval(ticker, interval, stop, aligned=group is not None)
    finally:
        local.cancel()
        if api is not None:
            await api.close()
        if trigger is not None:
            await trigger.close()


def _duration(text: str) -> float:
    """?for= of /v1/containers/{name}/skip: a duration as the flags take it (a UsageError is
    a ValueError)."""
    return options.parse_duration(text, "for")
