"""What the notifier's start-up message says of this process, in watchtower's words
(vigil_notifier.startup): the version, which containers it checks and when its first cycle
runs, read from the options as the scanner reads them (src/vigil/process/cycles.py)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from vigil import options
from vigil_notifier.startup import StartupFacts, filter_description
from vigil_scanner.cron import CronError, next_fire, parse_cron
from vigil_scanner.zones import zone_from_env
from vigil_shared.heartbeat import vigil_version


def startup_facts(
    values: Mapping[str, Any], env: Mapping[str, str], command: str, now: float
) -> StartupFacts:
    """Pure but for the zone's file: the all-in-one knows its schedule; a fleet's notifier
    (`vigil notifier`) knows neither the scanners' selection nor their schedule and names
    neither."""
    if command != options.ALL_IN_ONE:
        return StartupFacts(version=vigil_version())
    filtering = filter_description(
        tuple(values.get("names") or ()),
        tuple(values.get("disable_containers") or ()),
        bool(values.get("label_enable")),
        str(values.get("scope") or ""),
    )
    update_api = bool(values.get("http_api_update"))
    port = str(values.get("http_api_port") or 8080) if update_api else ""
    schedule, first = "", 0.0
    if values.get("run_once"):
        schedule = "run_once"
    elif update_api and not values.get("http_api_periodic_polls"):
        schedule = "none"
    elif values.get("schedule"):
        zone = zone_from_env(env)
        try:
            due = next_fire(
                parse_cron(str(values["schedule"])),
                datetime.datetime.fromtimestamp(now, zone),
                zone,
            )
        except CronError:  # the scanner says what is wrong with it
            due = None
        schedule, first = ("first_run", due.timestamp()) if due is not None else ("", 0.0)
    else:
        schedule, first = "first_run", now + float(values.get("interval") or 86400)
    return StartupFacts(
        version=vigil_version(),
        filtering=filtering,
        schedule=schedule,
        first_run_at=first,
        http_api_port=port,
    )
