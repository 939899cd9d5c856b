"""`vigil dashboard`, and the dashboard inside the all-in-one (--dashboard-port)."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from collections.abc import Mapping
from typing import Any

from vigil.commands.tool_bus import NoNats, tool_bus
from vigil.dashboard.auth_oidc import oidc_config
from vigil.dashboard.service import Dashboard, DashboardConfig
from vigil.process.shutdown import Shutdown
from vigil_shared.bus import Bus

EXIT_OK, EXIT_USAGE = 0, 2
DEFAULT_PORT = 8090  # `vigil dashboard` without --dashboard-port


def dashboard_config(
    values: Mapping[str, Any], default_port: int = DEFAULT_PORT
) -> DashboardConfig:
    port = values.get("dashboard_port")
    return DashboardConfig(
        port=default_port if port is None else int(port),
        address=str(values.get("dashboard_address") or "127.0.0.1"),
        token=str(values.get("dashboard_token") or ""),
        check_interval=float(
            300.0
            if values.get("dashboard_check_interval") is None
            else values["dashboard_check_interval"]
        ),
        oidc=oidc_config(values),
    )


def serve_problem(exc: OSError, config: DashboardConfig) -> str:
    """Pure: why the dashboard cannot be served, blaming the option that is wrong: an address
    that is not this machine's, or no address at all, is --dashboard-address; a port taken or
    privileged is --dashboard-port."""
    where = f"{config.address} port {config.port}"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        reason = "no such host" if isinstance(exc, socket.gaierror) else "not this machine's"
        return f"--dashboard-address: cannot serve the dashboard on {config.address!r}: {reason}"
    if exc.errno == errno.EADDRINUSE:
        return f"--dashboard-port: cannot serve the dashboard: {where} is taken"
    if exc.errno == errno.EACCES:
        return f"--dashboard-port: cannot serve the dashboard: {where} needs privileges"
    return f"--dashboard-address/--dashboard-port: cannot serve the dashboard on {where}: {exc}"


async def start_dashboard(bus: Bus, values: Mapping[str, Any]) -> Dashboard:
    dashboard = Dashboard(bus, dashboard_config(values))
    await dashboard.start()
    return dashboard


async def run_dashboard(values: Mapping[str, Any], shutdown: Shutdown) -> int:
    """Serve until SIGTERM or SIGINT. It needs a running NATS: the fleet's (--nats-url) or
    that of the all-in-one running from the state directory (it never opens a store)."""
    try:
        async with tool_bus(values, "vigil-dashboard", open_store="never") as bus:
            dashboard = await start_dashboard(bus, values)
            print(f"vigil dashboard: serving {dashboard.url}", file=sys.stderr)
            stop = asyncio.Event()
            shutdown.graceful(stop)
            try:
                await stop.wait()
            finally:
                await dashboard.close()
    except NoNats as exc:
        print(f"vigil dashboard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # the port is taken, the address is not this machine's
        print(f"vigil dashboard: {serve_problem(exc, dashboard_config(values))}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
