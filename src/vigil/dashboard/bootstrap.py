"""The dashboard's composition root inside the all-in-one (--dashboard-port):
`start(process, config)` builds and serves it (`vigil dashboard` serves the same Dashboard
over a tool's bus: vigil.dashboard.command)."""

from __future__ import annotations

from vigil.dashboard.command import serve_problem
from vigil.dashboard.service import Dashboard, DashboardConfig
from vigil_shared.process import Process


class DashboardStartupError(RuntimeError):
    pass


async def start(process: Process, config: DashboardConfig) -> Dashboard:
    dashboard = Dashboard(await process.connect("vigil-dashboard"), config)
    try:
        await dashboard.start()
    except OSError as exc:  # the port is taken, the address is not this machine's
        raise DashboardStartupError(serve_problem(exc, config)) from None
    process.closers.append(dashboard.close)
    return dashboard
